//! The conversation archive against the real PostgreSQL (`DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`): each test in its own schema, dropped at
//! the end; without a database the tests skip with one line. The database "going away"
//! is a TCP proxy on 127.0.0.1 the test cuts and restores.

#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use wecom_sdk_bot::{
    Archive, EventRecord, EventSink, PostgresConfig, PostgresSink, Redaction, SinkStats,
    TriggerRate, TriggerWatch,
};
use wecom_sdk_client::WebhookClient;
use wecom_sdk_sim::Inbound;

fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema of this test's own (dropped first), or `None` — with one line on stderr —
/// when no database answers.
async fn schema(test: &str) -> Option<String> {
    let schema = format!("wecom_test_{test}_{}", std::process::id());
    match tokio_postgres::connect(&database_url(), tokio_postgres::NoTls).await {
        Ok((client, conn)) => {
            tokio::spawn(conn);
            client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await
                .unwrap();
            Some(schema)
        }
        Err(e) => {
            eprintln!(
                "skipped: no PostgreSQL at {} ({e}); start one or set DATABASE_URL to run this test",
                database_url()
            );
            None
        }
    }
}

async fn drop_schema(schema: &str) {
    let (client, conn) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .unwrap();
}

async fn count(schema: &str, filter: &str) -> i64 {
    let (client, conn) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .query_one(
            &format!("SELECT count(*) FROM {schema}.messages WHERE {filter}"),
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

/// An event record as the bot writes them.
fn record(n: u32, user: &str, text: &str, rule: Option<&str>, reply: Option<&str>) -> EventRecord {
    serde_json::from_value(json!({
        "at_ms": 1_764_640_800_000_i64 + i64::from(n) * 1000,
        "app": "shop",
        "channel": "app",
        "user": user,
        "msg_type": "text",
        "text": text,
        "rule": rule,
        "reply": reply,
        "latency_ms": 3,
        "delivery": if reply.is_some() { "passive" } else { "none" },
        "outcome": if rule.is_some() { "answered" } else { "no_rule" },
        "key": format!("msg-{n}"),
    }))
    .unwrap()
}

fn config(schema: &str, url: &str) -> PostgresConfig {
    PostgresConfig::new(url)
        .schema(schema)
        .flush_every(Duration::from_millis(20))
}

#[tokio::test]
async fn messages_and_answers_become_rows_a_trace_reads_in_order() {
    let Some(schema) = schema("trace").await else {
        return;
    };
    let sink = PostgresSink::connect(config(&schema, &database_url()))
        .await
        .unwrap();
    // Applying the migrations again changes nothing.
    let again = PostgresSink::connect(config(&schema, &database_url())).await;
    assert!(again.is_ok());
    sink.record(&record(
        1,
        "wmA",
        "营业时间？",
        Some("hours"),
        Some("9:00–21:00"),
    ));
    sink.record(&record(
        2,
        "wmA",
        "能开发票吗",
        Some("fallback"),
        Some("收到！"),
    ));
    sink.record(&record(3, "wmB", "退货", None, None));
    let human: EventRecord = serde_json::from_value(json!({
        "at_ms": 1_764_640_810_000_i64, "app": "shop", "channel": "kf", "user": "wmA",
        "msg_type": "text", "reply": "可以开，请留邮箱", "latency_ms": 0, "delivery": "none",
        "outcome": "human_reply", "key": "kf:servicer-1",
    }))
    .unwrap();
    sink.record(&human);
    sink.flush().await;
    assert_eq!(sink.stats().written, 4);
    // The same records again (a replayed spill file): nothing is written twice.
    sink.record(&record(
        1,
        "wmA",
        "营业时间？",
        Some("hours"),
        Some("9:00–21:00"),
    ));
    sink.flush().await;
    assert_eq!(
        count(&schema, "true").await,
        6,
        "3 in + 2 bot answers + 1 human answer"
    );

    let trace = sink
        .archive()
        .trace("wmA", Timestamp::from_second(1_764_640_000).unwrap())
        .await
        .unwrap();
    let lines: Vec<(String, Option<String>, Option<String>)> = trace
        .iter()
        .map(|r| (r.direction.clone(), r.text.clone(), r.responder.clone()))
        .collect();
    assert_eq!(
        lines,
        vec![
            ("in".into(), Some("营业时间？".into()), None),
            ("out".into(), Some("9:00–21:00".into()), Some("bot".into())),
            ("in".into(), Some("能开发票吗".into()), None),
            ("out".into(), Some("收到！".into()), Some("bot".into())),
            (
                "out".into(),
                Some("可以开，请留邮箱".into()),
                Some("human".into())
            ),
        ]
    );
    assert_eq!(trace[0].rule.as_deref(), Some("hours"));

    // The day's report, in the shop's zone; the questions no keyword rule answered.
    let archive = Archive::connect(&database_url(), &schema).await.unwrap();
    let day = jiff::civil::date(2025, 12, 2);
    let report = archive
        .rule_report(day, "Asia/Shanghai", &["fallback"])
        .await
        .unwrap();
    assert_eq!(report.messages, 3);
    assert_eq!(report.by_rule.len(), 2);
    assert!(
        (report.keyword_share - 1.0 / 3.0).abs() < 1e-9,
        "{report:?}"
    );
    assert!((report.fallback_share - 1.0 / 3.0).abs() < 1e-9);
    assert!((report.unanswered_share - 1.0 / 3.0).abs() < 1e-9);
    let open = archive
        .unanswered(Timestamp::from_second(0).unwrap(), &["fallback"], 10)
        .await
        .unwrap();
    let texts: Vec<&str> = open.iter().map(|u| u.text.as_str()).collect();
    assert_eq!(texts, ["能开发票吗", "退货"]);
    // Bot answers by decision time; the human's by the time since the customer wrote.
    let times = archive
        .response_times(Timestamp::from_second(0).unwrap())
        .await
        .unwrap();
    assert_eq!(times.bot.count, 2);
    assert!((times.bot.p50 - 3.0).abs() < 1e-9);
    assert_eq!(times.human.count, 1);
    assert!((times.human.p50 - 8000.0).abs() < 1e-6, "{times:?}");
    drop_schema(&schema).await;
}

#[tokio::test]
async fn a_large_batch_goes_over_in_several_chunks_and_arrives_whole() {
    let Some(schema) = schema("chunks").await else {
        return;
    };
    let sink = PostgresSink::connect(config(&schema, &database_url()).batch(3000))
        .await
        .unwrap();
    // 3 000 records of two rows each, about 2 MB of COPY data: eight chunks or so.
    let long = "请问这个商品什么时候发货，我已经等了好几天了。".repeat(8);
    for n in 0..3000 {
        sink.record(&record(n, "wmBig", &long, Some("shipping"), Some(&long)));
    }
    sink.flush().await;
    assert_eq!(sink.stats().written, 3000, "{:?}", sink.stats());
    assert_eq!(count(&schema, "true").await, 6000);
    assert_eq!(
        count(&schema, &format!("text = '{long}' AND msgid = 'msg-2999'")).await,
        2
    );
    drop_schema(&schema).await;
}

#[tokio::test]
async fn texts_are_stored_as_the_redaction_policy_says() {
    let Some(schema) = schema("redact").await else {
        return;
    };
    let sink =
        PostgresSink::connect(config(&schema, &database_url()).redaction(Redaction::MaskDigits))
            .await
            .unwrap();
    sink.record(&record(
        1,
        "wmA",
        "我的手机 13812345678",
        None,
        Some("已记下 13812345678"),
    ));
    sink.flush().await;
    assert_eq!(count(&schema, "text LIKE '%13812345678%'").await, 0);
    assert_eq!(count(&schema, "text = '我的手机 ***********'").await, 1);
    drop_schema(&schema).await;
}

/// A TCP proxy to the database that the test can cut (every connection closed, new
/// ones refused) and restore.
struct Proxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (c, o) = (Arc::clone(&cut), Arc::clone(&open));
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if c.load(Ordering::SeqCst) {
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                o.lock().unwrap().push(task);
            }
        });
        Self {
            addr,
            cut,
            open,
            accept,
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for task in self.open.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

async fn settle(sink: &PostgresSink, until: impl Fn(SinkStats) -> bool) -> SinkStats {
    for _ in 0..200 {
        sink.flush().await;
        if until(sink.stats()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    sink.stats()
}

#[tokio::test]
async fn a_database_that_goes_away_loses_nothing_and_is_caught_up() {
    let Some(schema) = schema("outage").await else {
        return;
    };
    let target: SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let proxy = Proxy::start(target).await;
    let dir = std::env::temp_dir().join(format!("wecom-archive-spill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spill = dir.join("spill.jsonl");
    let _ = std::fs::remove_file(&spill);
    let url = database_url().replace("127.0.0.1:5432", &proxy.addr.to_string());
    let sink = PostgresSink::connect(config(&schema, &url).spill_to(&spill))
        .await
        .unwrap();
    for n in 0..5 {
        sink.record(&record(n, "wmA", "营业时间？", Some("hours"), Some("9 点")));
    }
    let stats = settle(&sink, |s| s.written == 5).await;
    assert_eq!(stats.written, 5);

    // The database goes away: the batch that failed goes to the spill file (its records,
    // queued before the trouble without their JSON lines, decoded from their rows), and
    // so do records queued after it (with theirs).
    proxy.cut();
    for n in 5..10 {
        sink.record(&record(n, "wmA", "营业时间？", Some("hours"), Some("9 点")));
    }
    let stats = settle(&sink, |s| s.spilled >= 5).await;
    assert_eq!(stats.spilled, 5, "{stats:?}");
    for n in 15..18 {
        sink.record(&record(n, "wmA", "营业时间？", Some("hours"), Some("9 点")));
    }
    let stats = settle(&sink, |s| s.spilled >= 8).await;
    assert_eq!(stats.spilled, 8, "{stats:?}");
    assert_eq!(stats.dropped, 0);
    let lines = std::fs::read_to_string(&spill).unwrap();
    assert_eq!(lines.lines().count(), 8, "{lines}");
    for key in ["msg-5", "msg-9", "msg-17"] {
        assert!(lines.contains(&format!("\"key\":\"{key}\"")), "{lines}");
    }

    // It comes back: the spilled records are written, then the new ones.
    proxy.restore();
    for n in 10..15 {
        sink.record(&record(n, "wmA", "营业时间？", Some("hours"), Some("9 点")));
    }
    let stats = settle(&sink, |s| s.written == 18).await;
    // Records that came in the second before the database was tried again were spilled
    // too: all of them were replayed.
    assert_eq!(stats.written, 18, "{stats:?}");
    assert_eq!(stats.replayed, stats.spilled, "{stats:?}");
    assert_eq!(stats.dropped, 0);
    assert_eq!(
        std::fs::metadata(&spill).unwrap().len(),
        0,
        "the spill file is emptied"
    );
    assert_eq!(count(&schema, "direction = 'in'").await, 18);
    assert_eq!(count(&schema, "direction = 'out'").await, 18);
    drop(proxy);
    let _ = std::fs::remove_dir_all(&dir);
    drop_schema(&schema).await;
}

#[tokio::test]
async fn a_bot_archives_what_it_answers() {
    let Some(schema) = schema("bot").await else {
        return;
    };
    let sink = Arc::new(
        PostgresSink::connect(config(&schema, &database_url()))
            .await
            .unwrap(),
    );
    let fake = support::fake().await;
    let bot = support::builder(&fake)
        .event_sink(sink.clone())
        .build()
        .unwrap();
    let served = support::serve(bot).await;
    let delivery = support::sender(&served.url)
        .send(&Inbound::text("zhangsan", "几点开门"))
        .await;
    assert!(delivery.reply_text().unwrap().contains("9:00–21:00"));
    served.bot.shutdown().await;
    let trace = sink
        .archive()
        .trace("zhangsan", Timestamp::from_second(0).unwrap())
        .await
        .unwrap();
    assert_eq!(trace.len(), 2, "{trace:?}");
    assert_eq!(
        (trace[0].direction.as_str(), trace[0].text.as_deref()),
        ("in", Some("几点开门"))
    );
    assert_eq!(trace[1].responder.as_deref(), Some("bot"));
    assert_eq!(trace[1].rule.as_deref(), Some("hours"));
    assert!(trace[1].text.as_deref().unwrap().contains("9:00–21:00"));
    drop_schema(&schema).await;
}

/// A record of rule `rule` (or none) on day `day` (0 = 2025-11-24, noon in Shanghai).
fn on_day(day: u32, n: u32, rule: Option<&str>) -> EventRecord {
    let mut r = record(day * 1000 + n, "wmA", "问题", rule, None);
    r.at_ms = 1_763_956_800_000 + i64::from(day) * 86_400_000 + i64::from(n) * 1000;
    r
}

/// A sink on `schema` holding seven days of 10 messages — "hours" 5, "invoice" 5 — and
/// an eighth (2025-12-01) with "invoice" only once; that day and its trigger alerts.
async fn seeded_week(schema: &str) -> (PostgresSink, jiff::civil::Date, Vec<TriggerRate>) {
    let sink = PostgresSink::connect(config(schema, &database_url()))
        .await
        .unwrap();
    for day in 0..8 {
        for n in 0..10 {
            let rule = match n {
                0..5 => Some("hours"),
                5 if day == 7 => Some("invoice"),
                5..10 if day < 7 => Some("invoice"),
                _ => None,
            };
            sink.record(&on_day(day, n, rule));
        }
    }
    sink.flush().await;
    assert_eq!(sink.stats().written, 80);
    let day = jiff::civil::date(2025, 12, 1);
    let alerts = sink
        .archive()
        .trigger_alerts(day, "Asia/Shanghai", 0.5, 3.0, &["fallback"])
        .await
        .unwrap();
    (sink, day, alerts)
}

// The job runs as a child process while the simulator serves on this runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nightly_job_exports_once_and_flags_a_rule_customers_stopped_using() {
    let Some(schema) = schema("nightly").await else {
        return;
    };
    let (_sink, _day, alerts) = seeded_week(&schema).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].rule, "invoice");
    assert_eq!(alerts[0].hits, 1);
    assert!((alerts[0].mean_rate - 0.5).abs() < 1e-9);
    assert!(alerts[0].notice().contains("invoice"));

    // The export, run as the job runs: the day once, then skipped.
    let dir = std::env::temp_dir().join(format!("wecom-archive-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let job = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_wecom-bot-archive"))
            .args(args)
            .args([
                "--schema",
                &schema,
                "--database-url",
                &database_url(),
                "--tz",
                "Asia/Shanghai",
            ])
            .output()
            .unwrap()
    };
    let dir_arg = dir.to_string_lossy().into_owned();
    let out = job(&["export", "--day", "2025-12-01", "--dir", &dir_arg]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("10 rows"), "{stdout}");
    let file = dir.join("conversations-2025-12-01.jsonl.gz");
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&file).unwrap()),
        &mut text,
    )
    .unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10);
    assert_eq!(lines[0]["direction"], "in");
    let again = job(&["export", "--day", "2025-12-01", "--dir", &dir_arg]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("skipped"));

    // Alerts to a group robot (the simulator's webhook); zone and fallbacks from the
    // bot's rules file.
    let rules_file = dir.join("rules.toml");
    std::fs::write(&rules_file, support::rules()).unwrap();
    let fake = support::fake().await;
    let out = job(&[
        "alerts",
        "--day",
        "2025-12-01",
        "--rules",
        &rules_file.to_string_lossy(),
        "--min-hits",
        "3",
        "--robot-key",
        support::ROBOT_KEY,
        "--robot-url",
        &fake.base_url(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("posted 1 alerts"), "{stdout}");
    let posted = fake.sent_messages();
    assert_eq!(posted.len(), 1);
    assert!(posted[0].text().unwrap().contains("invoice"));
    let report = job(&["report", "--day", "2025-12-01"]);
    assert!(String::from_utf8_lossy(&report.stdout).contains("10 messages"));
    let bad = job(&["export", "--day", "yesterday"]);
    assert!(!bad.status.success());
    let _ = std::fs::remove_dir_all(&dir);
    drop_schema(&schema).await;
}

#[tokio::test]
async fn a_running_bot_shows_the_trigger_rates_on_its_metrics_and_posts_the_alerts() {
    let Some(schema) = schema("watch").await else {
        return;
    };
    let (sink, day, alerts) = seeded_week(&schema).await;
    // A running bot checks the same day: the gauges on its /metrics, one robot post.
    let fake = support::fake().await;
    let bot = support::builder(&fake)
        .metrics_route("/metrics")
        .build()
        .unwrap();
    let watch = TriggerWatch::new()
        .min_mean_hits(3.0)
        .robot(WebhookClient::new(support::ROBOT_KEY).base_url(fake.base_url()));
    let found = bot
        .check_trigger_rates(sink.archive(), &watch, day)
        .await
        .unwrap();
    assert_eq!(found, alerts, "the bot and the archive agree");
    let served = support::serve(bot).await;
    let metrics_url = served.url.replace("/wecom/callback", "/metrics");
    let text = support::http()
        .get(&metrics_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("wecom_bot_trigger_alerts 1"), "{text}");
    assert!(
        text.contains("wecom_bot_trigger_rate_ratio{rule=\"invoice\"} 0.2"),
        "a fifth of its usual share: {text}"
    );
    assert!(text.contains("wecom_bot_trigger_rate_ratio{rule=\"hours\"} 1"));
    assert_eq!(served.bot.metrics().trigger_ratio("fallback"), None);
    let posted = fake.sent_messages();
    assert_eq!(posted.len(), 1);
    assert!(posted[0].text().unwrap().contains("invoice"));

    drop_schema(&schema).await;
}

#[tokio::test]
async fn a_writer_behind_spills_instead_of_dropping_and_catches_up() {
    let Some(schema) = schema("behind").await else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("wecom-archive-behind-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spill = dir.join("spill.jsonl");
    let _ = std::fs::remove_file(&spill);
    let sink = PostgresSink::connect(
        config(&schema, &database_url())
            .queue(16)
            .batch(1)
            .spill_to(&spill),
    )
    .await
    .unwrap();
    // Sixteen records before the writer runs: the queue is full, the writer behind
    // until no more than three quarters of it wait (15, 14, 13 waiting: 3 spilled).
    for n in 0..16 {
        sink.record(&record(n, "wmA", "营业时间？", Some("hours"), None));
    }
    let stats = settle(&sink, |s| s.written == 16).await;
    assert_eq!(stats.dropped, 0, "{stats:?}");
    assert!(
        stats.spilled >= 3,
        "spilled while more than three quarters of the queue waited: {stats:?}"
    );
    assert_eq!(stats.written, 16, "{stats:?}");
    assert_eq!(stats.replayed, stats.spilled, "{stats:?}");
    assert_eq!(stats.failed_batches, 0);
    assert_eq!(count(&schema, "true").await, 16);
    let _ = std::fs::remove_dir_all(&dir);
    drop_schema(&schema).await;
}
