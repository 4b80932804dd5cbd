//! The auto-reply bot, end to end.
//!
//! With no `WECOM_*` variables it plays a scripted shop day against the embedded
//! simulator — no WeCom account, no network: the simulator's fake WeCom API and callback
//! sender on 127.0.0.1, the bot on its own port, `examples/rules/shop.toml` as rules —
//! and prints the transcript and the statistics.
//!
//! With `WECOM_CORP_ID`, `WECOM_SECRET`, `WECOM_AGENT_ID`, `WECOM_TOKEN` and
//! `WECOM_AES_KEY` set it serves your app's real callback URL at `/wecom/callback`
//! (`WECOM_LISTEN`, default `0.0.0.0:8080`; `WECOM_API_BASE` for another API host, e.g.
//! `wecom-sim serve`; `WECOM_RULES`, default `examples/rules/shop.toml`, reloaded when it
//! changes; `REDIS_URL` to share dedup between instances, with `--features redis`).
//!
//! Run with: `cargo run --example autoreply_bot`

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use wecom_sdk::bot::{
    Bot, BotBuilder, Context, Flow, Handler, HandlerError, JsonLinesSink, WeComProfiles,
};
use wecom_sdk::client::{Client, WebhookClient};
use wecom_sdk::matcher::Engine;
use wecom_sdk_sim::{Answer, AttemptOutcome, CallbackSender, FakeConfig, FakeWeCom, Inbound};

const RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/rules/shop.toml");

// The simulated shop's app: its callback settings and API secret.
const CORP_ID: &str = "wwsimshop0000001";
const TOKEN: &str = "shopToken2025";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const SECRET: &str = "sim-shop-secret";
const AGENT_ID: u64 = 1_000_002;
const ROBOT_KEY: &str = "staff-robot-key-0001";

/// A slow order system: `订单 <number>` is looked up for 3.5 s — past the 3-second
/// passive budget, so the bot answers WeCom at once and replies through the API.
#[derive(Debug)]
struct OrderLookup {
    pattern: regex::Regex,
}

#[async_trait]
impl Handler for OrderLookup {
    async fn handle(&self, cx: &Context<'_>) -> Result<Flow, HandlerError> {
        let Some(no) = self
            .pattern
            .captures(cx.incoming.text())
            .map(|c| c[1].to_owned())
        else {
            return Ok(Flow::Continue);
        };
        tokio::time::sleep(Duration::from_millis(3500)).await;
        Ok(Flow::text(format!(
            "订单 {no}：已于今天 14:02 发货（顺丰 SF1234567890），预计明天送达。"
        )))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .init();
    let real = [
        "WECOM_CORP_ID",
        "WECOM_SECRET",
        "WECOM_AGENT_ID",
        "WECOM_TOKEN",
        "WECOM_AES_KEY",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some());
    let result = if real {
        serve_real().await
    } else {
        play_a_day().await
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("autoreply_bot: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The bot every mode runs: rules (watched), the slow order lookup, profiles from WeCom.
fn bot(client: &Client, rules: &str) -> Result<BotBuilder, String> {
    let engine = Engine::from_path(rules).map_err(|e| format!("{rules}: {e}"))?;
    let lookup = OrderLookup {
        pattern: regex::Regex::new(r"订单\s*(\d{8,})").map_err(|e| e.to_string())?,
    };
    Ok(Bot::builder()
        .engine(engine)
        .watch_rules(rules)
        .client(client.clone())
        .profiles(Arc::new(WeComProfiles::new(client.clone())))
        .before(Arc::new(lookup))
        .metrics_route("/metrics"))
}

// ── the simulated day ────────────────────────────────────────────────────────────────

/// One step of the day: when (Shanghai time), what WeCom delivers, what it shows, and
/// how many active messages (API sends, robot notices) it should cause.
struct Step {
    at: (i8, i8),
    who: &'static str,
    inbound: Inbound,
    about: &'static str,
    active: usize,
}

fn step(
    at: (i8, i8),
    who: &'static str,
    inbound: Inbound,
    about: &'static str,
    active: usize,
) -> Step {
    Step {
        at,
        who,
        inbound,
        about,
        active,
    }
}

fn unix(at: (i8, i8)) -> Result<i64, String> {
    let zoned = jiff::civil::date(2025, 3, 5)
        .at(at.0, at.1, 0, 0)
        .in_tz("Asia/Shanghai")
        .map_err(|e| e.to_string())?;
    Ok(zoned.timestamp().as_second())
}

#[allow(clippy::too_many_lines, reason = "one scripted day, step after step")]
async fn play_a_day() -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let fake = FakeWeCom::start(
        FakeConfig::new(CORP_ID)
            .secret(SECRET)
            .agent(AGENT_ID)
            .staff("zhangsan", "张三")
            .staff("lisi", "李四")
            .staff("wangwu", "王五")
            .tag_group("etStatus", "客户状态", &[("etComplaint", "投诉客户")])
            .webhook_key(ROBOT_KEY),
    )
    .await
    .map_err(|x| e(&x))?;
    let client = Client::builder()
        .corp_id(CORP_ID)
        .secret(SECRET)
        .agent_id(AGENT_ID)
        .base_url(fake.base_url())
        .build()
        .map_err(|x| e(&x))?;
    let log_dir = std::env::temp_dir().join(format!("wecom-autoreply-bot-{}", std::process::id()));
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").map_err(|x| e(&x))?;
    let sink = Arc::new(JsonLinesSink::daily_in(&log_dir, tz).map_err(|x| e(&x))?);
    let bot = bot(&client, RULES)?
        .callback(TOKEN, AES_KEY, CORP_ID)
        .escalation_robot(WebhookClient::new(ROBOT_KEY).base_url(fake.base_url()))
        .event_sink(sink.clone())
        .build()
        .map_err(|x| e(&x))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|x| e(&x))?;
    let addr = listener.local_addr().map_err(|x| e(&x))?;
    let router = bot.router();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let url = format!("http://{addr}/wecom/callback");
    let sender = CallbackSender::new(&url, TOKEN, AES_KEY, CORP_ID)
        .map_err(|x| e(&x))?
        .agent(AGENT_ID);

    println!("wecom-sdk autoreply_bot — a simulated shop day (no WeCom account needed)");
    println!("  fake WeCom API   {}", fake.base_url());
    println!("  bot callback     {url}  (metrics at http://{addr}/metrics)");
    println!(
        "  rules            examples/rules/shop.toml: {} rules, watched for changes",
        bot.engine().rules().len()
    );
    sender.verify_url().await.map_err(|x| e(&x))?;
    println!("  URL verification echostr decrypted and echoed: ok\n");

    // A customer scans the shop's QR code: WeCom knows them before the event arrives.
    fake.add_customer("zhangsan", "wmHanMeimei", "韩梅梅");
    let returns_msg = Inbound::text("lisi", "门店地址在哪？").msg_id(7_300_000_000_000_000_999);
    let day = [
        step(
            (8, 40),
            "李四 writes “你好，请问今天营业吗？”",
            Inbound::text("lisi", "你好，请问今天营业吗？"),
            "before opening: the off-hours fallback",
            0,
        ),
        step(
            (9, 30),
            "张三 clicks the menu button MENU_HOURS",
            Inbound::menu_click("zhangsan", "MENU_HOURS"),
            "a menu click, matched by its EventKey",
            0,
        ),
        step(
            (10, 15),
            "李四 writes “@小店助手 你们几点关门？”",
            Inbound::text("lisi", "你们几点关门？").mention("小店助手"),
            "@mention stripped, the nickname from user/get",
            0,
        ),
        step(
            (10, 20),
            "韩梅梅 scans the shop QR code (add_external_contact)",
            Inbound::add_external_contact("zhangsan", "wmHanMeimei", "WELCOME-0001", "shop-qr"),
            "a new customer: the newcomer guide through send_welcome_msg",
            1,
        ),
        step(
            (11, 2),
            "王五 writes “帮我查一下 SF1234567890 到哪了”",
            Inbound::text("wangwu", "帮我查一下 SF1234567890 到哪了"),
            "a parcel number: the regex rule fills {carrier}{no}",
            0,
        ),
        step(
            (11, 30),
            "张三 writes “价格多少？”",
            Inbound::text("zhangsan", "价格多少？"),
            "text passively, then the price-list PDF uploaded once and sent actively",
            1,
        ),
        step(
            (13, 45),
            "李四 writes “退换货怎么办理”",
            Inbound::text("lisi", "退换货怎么办理"),
            "a long answer cut at 2048 bytes: first part passive, the rest active",
            1,
        ),
        step(
            (14, 10),
            "王五 writes “我要投诉！快递员态度太差”",
            Inbound::text("wangwu", "我要投诉！快递员态度太差"),
            "a complaint: escalated to the staff robot",
            1,
        ),
        step(
            (15, 0),
            "张三 writes “帮我查订单 20250305001”",
            Inbound::text("zhangsan", "帮我查订单 20250305001"),
            "a slow order lookup (3.5 s): empty 200 at once, the answer actively",
            1,
        ),
        step(
            (16, 20),
            "李四 writes “门店地址在哪？”",
            returns_msg.clone(),
            "the address …",
            0,
        ),
        step(
            (16, 20),
            "李四 (the same message again)",
            returns_msg,
            "… re-delivered by WeCom (its answer was lost): the same reply bytes, computed once",
            0,
        ),
        step(
            (22, 30),
            "张三 writes “有没有停车位”",
            Inbound::text("zhangsan", "有没有停车位"),
            "after closing: the off-hours fallback with the time",
            0,
        ),
    ];

    let mut checks: Vec<(String, bool)> = Vec::new();
    let mut seen_sent = 0;
    let mut replies: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in day {
        let at = unix(s.at)?;
        let inbound = s.inbound.at_unix(at);
        println!("━━ {:02}:{:02} {} — {}", s.at.0, s.at.1, s.who, s.about);
        let started = Instant::now();
        let delivery = sender.send(&inbound).await;
        let took = started.elapsed();
        match &delivery.answer {
            Some(Answer::Passive(doc)) => {
                let text = doc.text().unwrap_or_else(|| format!("({})", doc.msg_type));
                println!("   ⇠ passive  {}", one_line(&text));
                replies
                    .entry(inbound.from().to_owned())
                    .or_default()
                    .push(text);
            }
            Some(Answer::Empty) => println!("   ⇠ HTTP 200, empty body ({} ms)", took.as_millis()),
            Some(other) => println!("   ⇠ {other:?}"),
            None => println!("   ⇠ not delivered: {:?}", delivery.attempts),
        }
        // Active messages this step caused (they may come after the HTTP answer).
        let deadline = Instant::now() + Duration::from_secs(6);
        while fake.sent_messages().len() < seen_sent + s.active && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let sent = fake.sent_messages();
        for m in &sent[seen_sent..] {
            let what = m.text().map_or_else(
                || {
                    let media = m
                        .body
                        .pointer(&format!("/{}/media_id", m.msgtype))
                        .and_then(|v| v.as_str())
                        .unwrap_or_default();
                    format!("{} (media_id {media})", m.msgtype)
                },
                |t| one_line(&t),
            );
            println!(
                "   ⇢ active   {} → {}: {what}",
                m.path.trim_start_matches("/cgi-bin/"),
                m.to
            );
        }
        seen_sent = sent.len();
    }

    println!("━━ and a forged callback (signed with another Token)");
    let impostor = CallbackSender::new(&url, "notTheShopsToken", AES_KEY, CORP_ID)
        .map_err(|x| e(&x))?
        .redeliveries(0);
    let forged = impostor
        .send(&Inbound::text("mallory", "你好").at_unix(unix((17, 0))?))
        .await;
    match forged.attempts.first().map(|a| &a.outcome) {
        Some(AttemptOutcome::Status(code)) => {
            println!("   ⇠ HTTP {code}: refused, nothing processed");
        }
        other => println!("   ⇠ {other:?}"),
    }
    checks.push((
        "the forged callback was refused with a 4xx".to_owned(),
        matches!(forged.attempts.first().map(|a| &a.outcome), Some(AttemptOutcome::Status(s)) if (400..500).contains(s)),
    ));

    // Let the last active work finish, then read the books.
    bot.shutdown().await;
    let m = bot.metrics();
    let address = replies
        .get("lisi")
        .map(|r| r.iter().filter(|t| t.starts_with("门店地址")).count());
    checks.push((
        "the re-delivered message got the same reply, computed once".to_owned(),
        address == Some(2) && m.rule_hits("address") == 1 && m.dedup_hits() == 1,
    ));
    checks.push((
        "the price list was uploaded once".to_owned(),
        fake.calls_to("/cgi-bin/media/upload").len() == 1,
    ));
    checks.push((
        "the welcome went through send_welcome_msg".to_owned(),
        fake.calls_to("/cgi-bin/externalcontact/send_welcome_msg")
            .len()
            == 1,
    ));
    checks.push(("no active send failed".to_owned(), m.active_failures() == 0));

    println!("\n━━ statistics");
    for outcome in [
        "passive",
        "active",
        "deferred",
        "empty",
        "redelivered_passive",
        "rejected_signature",
    ] {
        println!("   callbacks {outcome:<20} {}", m.callbacks(outcome));
    }
    let mut stats: Vec<_> = bot.engine().stats().into_iter().collect();
    stats.sort_by(|a, b| b.1.triggers.cmp(&a.1.triggers).then(a.0.cmp(&b.0)));
    for (rule, s) in stats.iter().filter(|(_, s)| s.triggers > 0) {
        println!("   rule {rule:<20} fired {}", s.triggers);
    }
    println!(
        "   active sends {} (failed {}), dedup hits {}, API calls {}",
        m.active_sent(),
        m.active_failures(),
        m.dedup_hits(),
        fake.calls().len()
    );
    let log: PathBuf = sink.file_for(
        jiff::Timestamp::now(),
        &jiff::tz::TimeZone::get("Asia/Shanghai").map_err(|x| e(&x))?,
    );
    let lines = std::fs::read_to_string(&log).map_or(0, |t| t.lines().count());
    println!("   event log    {} ({lines} records)", log.display());

    println!();
    let mut ok = true;
    for (what, passed) in &checks {
        println!("   {} {what}", if *passed { "✓" } else { "✗" });
        ok &= passed;
    }
    server.abort();
    if ok {
        Ok(())
    } else {
        Err("a check failed (see above)".to_owned())
    }
}

fn one_line(text: &str) -> String {
    let flat = text.replace('\n', " ⏎ ");
    let mut chars = flat.chars();
    let cut: String = chars.by_ref().take(72).collect();
    if chars.next().is_some() {
        format!("{cut}… ({} bytes)", text.len())
    } else {
        cut
    }
}

// ── the real callback URL ────────────────────────────────────────────────────────────

fn setting(name: &str) -> Result<String, String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        Ok(_) => Err(format!("{name} is empty")),
        Err(std::env::VarError::NotPresent) => Err(format!(
            "{name} is not set (real mode needs WECOM_CORP_ID, WECOM_SECRET, WECOM_AGENT_ID, WECOM_TOKEN, WECOM_AES_KEY; unset them all for the simulated day)"
        )),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8")),
    }
}

async fn serve_real() -> Result<(), String> {
    let corp_id = setting("WECOM_CORP_ID")?;
    let secret = setting("WECOM_SECRET")?;
    let agent_id: u64 = setting("WECOM_AGENT_ID")?
        .parse()
        .map_err(|_| "WECOM_AGENT_ID must be the app's AgentId, a number".to_owned())?;
    let token = setting("WECOM_TOKEN")?;
    let aes_key = setting("WECOM_AES_KEY")?;
    let listen = std::env::var("WECOM_LISTEN").unwrap_or_else(|_| "0.0.0.0:8080".to_owned());
    let rules = std::env::var("WECOM_RULES").unwrap_or_else(|_| RULES.to_owned());
    let mut client = Client::builder()
        .corp_id(&corp_id)
        .secret(secret)
        .agent_id(agent_id);
    if let Ok(base) = std::env::var("WECOM_API_BASE") {
        client = client.base_url(base);
    }
    let client = client.build().map_err(|e| format!("WECOM_API_BASE: {e}"))?;
    let builder = bot(&client, &rules)?.callback(token, aes_key, corp_id);
    let builder = shared_dedup(builder).await?;
    let (builder, extras) = archive(builder).await?;
    let bot = builder.build().map_err(|e| match e {
        wecom_sdk::bot::BuildError::Callback(c) => {
            use wecom_sdk::crypto::CryptoError;
            let variable = match &c {
                CryptoError::IllegalAesKey { .. } => "WECOM_AES_KEY",
                CryptoError::IllegalSetting { setting, .. } if *setting == "Token" => "WECOM_TOKEN",
                _ => "WECOM_CORP_ID",
            };
            format!("{variable}: {c}")
        }
        other => other.to_string(),
    })?;
    if let Some(start) = extras.start {
        start(&bot);
    }
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("WECOM_LISTEN {listen}: {e}"))?;
    println!(
        "autoreply_bot: serving http://{listen}/wecom/callback (metrics at /metrics); Ctrl-C stops"
    );
    axum::serve(listener, bot.router())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())?;
    println!("autoreply_bot: finishing in-flight work …");
    bot.shutdown().await;
    if let Some(report) = extras.report {
        println!("autoreply_bot: {}", report());
    }
    Ok(())
}

/// What the archive adds: a task to start once the bot is built (the trigger-rate
/// watch) and a line to print at the end (what the sink wrote).
#[derive(Default)]
struct Extras {
    start: Option<Start>,
    report: Option<Box<dyn Fn() -> String>>,
}

/// A task to start with the bot.
type Start = Box<dyn FnOnce(&Bot)>;

/// With `WECOM_ARCHIVE_URL` (and feature `postgres`): the conversation archive in
/// PostgreSQL (schema `autoreply`, spill file in the temp directory), and the daily
/// trigger-rate check on `/metrics` (`wecom_bot_trigger_rate_ratio`).
#[cfg(feature = "postgres")]
async fn archive(builder: BotBuilder) -> Result<(BotBuilder, Extras), String> {
    let Ok(url) = std::env::var("WECOM_ARCHIVE_URL") else {
        return Ok((builder, Extras::default()));
    };
    let spill = std::env::temp_dir().join("autoreply-archive-spill.jsonl");
    let sink = wecom_sdk::bot::PostgresSink::connect(
        wecom_sdk::bot::PostgresConfig::new(&url)
            .schema("autoreply")
            .batch(5000)
            .queue(50_000)
            .spill_to(spill),
    )
    .await
    .map_err(|e| format!("WECOM_ARCHIVE_URL: {e}"))?;
    println!(
        "autoreply_bot: archiving conversations in {} (schema autoreply)",
        wecom_sdk::bot::without_password(&url)
    );
    let archive = sink.archive().clone();
    let sink = Arc::new(sink);
    let stats = Arc::clone(&sink);
    let extras = Extras {
        start: Some(Box::new(move |bot: &Bot| {
            bot.watch_trigger_rates(archive, wecom_sdk::bot::TriggerWatch::new());
        })),
        report: Some(Box::new(move || {
            let s = stats.stats();
            format!(
                "archive sink: {} written, {} spilled, {} replayed, {} dropped",
                s.written, s.spilled, s.replayed, s.dropped
            )
        })),
    };
    Ok((builder.event_sink(sink), extras))
}

#[cfg(not(feature = "postgres"))]
#[allow(
    clippy::unused_async,
    reason = "the same call as with feature postgres"
)]
async fn archive(builder: BotBuilder) -> Result<(BotBuilder, Extras), String> {
    if std::env::var_os("WECOM_ARCHIVE_URL").is_some() {
        return Err(
            "WECOM_ARCHIVE_URL is set but this build has no archive: run with --features postgres"
                .to_owned(),
        );
    }
    Ok((builder, Extras::default()))
}

#[cfg(feature = "redis")]
async fn shared_dedup(builder: BotBuilder) -> Result<BotBuilder, String> {
    match std::env::var("REDIS_URL") {
        Ok(url) => {
            let store = wecom_sdk::bot::RedisDedupStore::connect(&url, "autoreply:")
                .await
                .map_err(|e| format!("REDIS_URL {url}: {e}"))?;
            Ok(builder.dedup_store(Arc::new(store)))
        }
        Err(_) => Ok(builder),
    }
}

#[cfg(not(feature = "redis"))]
#[allow(clippy::unused_async, reason = "the same call as with feature redis")]
async fn shared_dedup(builder: BotBuilder) -> Result<BotBuilder, String> {
    if std::env::var_os("REDIS_URL").is_some() {
        return Err(
            "REDIS_URL is set but this build has no Redis: run with --features redis".to_owned(),
        );
    }
    Ok(builder)
}
