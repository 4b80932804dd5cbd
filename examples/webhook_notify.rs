//! The daily report and the trigger-rate alerts posted to a staff group robot (群机器人),
//! from the conversation archive in PostgreSQL, against the embedded simulator's
//! webhook. A week of a shop's messages is archived (the bot's `PostgresSink`); on the
//! last day customers stopped saying 「发票」 — they ask for 「开票」 now — so the
//! `invoice` rule's trigger rate falls: the alert says so.
//!
//! Needs PostgreSQL (`DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
//! The week stays in schema `wecom_example` for you to query (`SELECT * FROM
//! wecom_example.rule_hits_daily`); a second run writes no row twice. Run with:
//! `cargo run --example webhook_notify --features postgres`

use std::fmt::Write as _;

use serde_json::json;
use wecom_sdk::bot::{EventRecord, EventSink, PostgresConfig, PostgresSink};
use wecom_sdk::client::WebhookClient;
use wecom_sdk::message::send::WebhookMessage;
use wecom_sdk_sim::{FakeConfig, FakeWeCom};

const ROBOT_KEY: &str = "staff-group-robot-key";
const TZ: &str = "Asia/Shanghai";

/// Message `n` of day `day` (0 = 2025-11-24, from 09:00 in Shanghai).
fn message(
    day: u32,
    n: u32,
    text: &str,
    rule: Option<&str>,
) -> Result<EventRecord, serde_json::Error> {
    serde_json::from_value(json!({
        "at_ms": 1_763_946_000_000_i64 + i64::from(day) * 86_400_000 + i64::from(n) * 60_000,
        "app": "shop", "channel": "app", "user": format!("wm{day}-{n}"),
        "msg_type": "text", "text": text, "rule": rule,
        "reply": rule.map(|_| "…"), "latency_ms": 2,
        "delivery": if rule.is_some() { "passive" } else { "none" },
        "outcome": if rule.is_some() { "answered" } else { "no_rule" },
        "key": format!("m{day}-{n}"),
    }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let schema = "wecom_example";
    let sink = match PostgresSink::connect(PostgresConfig::new(&url).schema(schema)).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "this example needs PostgreSQL at {url} ({e}); start one or set DATABASE_URL"
            );
            std::process::exit(1);
        }
    };
    // A week of questions: hours, invoices, the fallback; on day 7 「开票」 instead.
    for day in 0..8 {
        for n in 0..40 {
            let (text, rule) = match n % 4 {
                0 | 1 => ("几点开门", Some("hours")),
                2 if day < 7 => ("能开发票吗", Some("invoice")),
                2 => ("可以开票吗", Some("fallback")),
                _ => ("在吗", Some("fallback")),
            };
            sink.record(&message(day, n, text, rule)?);
        }
    }
    sink.flush().await;
    println!(
        "archived a week of {} messages in schema {schema} (rows are written once per message)",
        sink.stats().written
    );

    let day = jiff::civil::date(2025, 12, 1);
    let archive = sink.archive();
    let report = archive.rule_report(day, TZ, &["fallback"]).await?;
    let open = archive
        .unanswered(day.in_tz(TZ)?.timestamp(), &["fallback"], 3)
        .await?;
    let alerts = archive
        .trigger_alerts(day, TZ, 0.5, 3.0, &["fallback"])
        .await?;

    let mut text = format!(
        "**{day} 客服日报**\n> 消息 {}，关键词规则回答 {:.0}%，兜底 {:.0}%，未回答 {:.0}%\n",
        report.messages,
        report.keyword_share * 100.0,
        report.fallback_share * 100.0,
        report.unanswered_share * 100.0
    );
    for (rule, hits) in &report.by_rule {
        let _ = writeln!(text, "> {rule}: {hits}");
    }
    text.push_str("\n**没有关键词回答的问题**\n");
    for q in &open {
        let _ = writeln!(text, "> {}（{} 次）", q.text, q.count);
    }
    for alert in &alerts {
        let _ = write!(text, "\n⚠️ {}", alert.notice());
    }

    let wecom =
        FakeWeCom::start(FakeConfig::new("wwnotify00000001").webhook_key(ROBOT_KEY)).await?;
    let robot = WebhookClient::new(ROBOT_KEY).base_url(wecom.base_url());
    robot.send(&WebhookMessage::markdown(text)).await?;
    for sent in wecom.sent_messages() {
        println!(
            "\nthe staff group received ({}):\n{}",
            sent.msgtype,
            sent.text().unwrap_or_default()
        );
    }

    Ok(())
}
