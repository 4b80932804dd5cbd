//! A/B wording with tracked links and the bandit, over a simulated week against the
//! embedded simulator, no account needed. A promotion rule has two wordings; every URL
//! in the reply is a tracked link (`/l/{code}` on the bot's router) whose first click is
//! a conversion of the wording. Customers of variant B click more often; day by day the
//! bandit (`explore = 0.2`) sends more of the traffic to B. Printed as a table per day,
//! with the event log's count of conversions beside the engine's.
//!
//! Run with: `cargo run --example ab_report`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use wecom_sdk::bot::{Bot, EventRecord, EventSink};
use wecom_sdk::matcher::{Engine, RuleSet};
use wecom_sdk_sim::{CallbackSender, Inbound};

const TOKEN: &str = "abReportToken1";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const CORP_ID: &str = "wwabreport000001";
/// Customers asking a day.
const PER_DAY: u32 = 120;
/// How often a customer clicks, by wording (the experiment's unknown truth).
const CLICKS: [(&str, f64); 2] = [("a", 0.06), ("b", 0.24)];

const RULES: &str = r#"
timezone = "Asia/Shanghai"

[[rules]]
id = "promo"
keywords = ["优惠", "活动"]
explore = 0.2
variants = [
  { id = "b", weight = 1, reply = "今天下单立减 20 元，仅限 24 小时 👉 https://shop.example.com/sale" },
  { id = "a", weight = 1, reply = "本周会员日全场 9 折，详情：https://shop.example.com/sale" },
]
"#;

/// Conversions as the event log (and so the archive) sees them.
#[derive(Debug, Default)]
struct Conversions(Mutex<Vec<EventRecord>>);

#[async_trait]
impl EventSink for Conversions {
    fn record(&self, record: &EventRecord) {
        if record.outcome == "converted"
            && let Ok(mut all) = self.0.lock()
        {
            all.push(record.clone());
        }
    }

    async fn flush(&self) {}
}

/// A deterministic coin (the same week every run).
fn coin(seed: &AtomicU64) -> f64 {
    let x = seed
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_mul(0x2545_F491_4F6C_DD1D);
    #[allow(clippy::cast_precision_loss, reason = "a coin in [0, 1)")]
    let c = (x >> 11) as f64 / (1u64 << 53) as f64;
    c
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let log = Arc::new(Conversions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let bot = Bot::builder()
        .callback(TOKEN, AES_KEY, CORP_ID)
        .engine(Engine::new(RuleSet::from_toml_str(RULES)?))
        .tracked_links(&base)
        .event_sink(log.clone())
        .build()?;
    let router = bot.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let wecom = CallbackSender::new(&format!("{base}/wecom/callback"), TOKEN, AES_KEY, CORP_ID)?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let seed = AtomicU64::new(7);

    println!(
        "per day: shown and clicked per wording, click rates so far, the share of the day's traffic sent to B"
    );
    println!("day | shown a | shown b | clicks a | clicks b | rate a | rate b | share b");
    println!("----+---------+---------+----------+----------+--------+--------+--------");
    let mut before = (0, 0, 0, 0);
    for day in 1..=7 {
        for n in 0..PER_DAY {
            let user = format!("wmDay{day}Customer{n}");
            let delivery = wecom.send(&Inbound::text(&user, "有什么优惠活动？")).await;
            let Some(reply) = delivery.reply_text() else {
                continue;
            };
            let Some(at) = reply.find("/l/") else {
                continue;
            };
            let code: String = reply[at + 3..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            let variant = if reply.contains("9 折") { "a" } else { "b" };
            let p = CLICKS
                .iter()
                .find(|(v, _)| *v == variant)
                .map_or(0.0, |c| c.1);
            if coin(&seed) < p {
                browser.get(format!("{base}/l/{code}")).send().await?;
            }
        }
        let stats = bot.engine().stats();
        let promo = stats.get("promo").cloned().unwrap_or_default();
        let (ia, ca) = promo.variants.get("a").copied().unwrap_or_default();
        let (ib, cb) = promo.variants.get("b").copied().unwrap_or_default();
        let (pia, pca, pib, pcb) = before;
        let today_b = ib - pib;
        let today = (ia - pia) + today_b;
        #[allow(clippy::cast_precision_loss, reason = "shares for a table")]
        let share = |n: u64, of: u64| {
            if of == 0 {
                0.0
            } else {
                n as f64 / of as f64 * 100.0
            }
        };
        println!(
            "{day:>3} | {:>7} | {:>7} | {:>8} | {:>8} | {:>5.1}% | {:>5.1}% | {:>5.1}%",
            ia - pia,
            ib - pib,
            ca - pca,
            cb - pcb,
            share(ca, ia),
            share(cb, ib),
            share(today_b, today)
        );
        before = (ia, ca, ib, cb);
    }
    let logged = log.0.lock().map_or(0, |l| l.len());
    let stats = bot.engine().stats();
    let promo = stats.get("promo").cloned().unwrap_or_default();
    let engine_conversions: u64 = promo.variants.values().map(|(_, c)| c).sum();
    println!(
        "\nconversions: engine {engine_conversions}, event log {logged} (the archive counts the event log's); tracked-link clicks: {} converted, {} repeated",
        bot.metrics().links("converted"),
        bot.metrics().links("clicked_again")
    );
    println!(
        "the bandit keeps {:.0}% of traffic exploring by weight and sends the rest to the best rate: B by the end of the week",
        0.2 * 100.0
    );
    Ok(())
}
