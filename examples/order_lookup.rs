//! An async handler that looks up the order number a regex rule captured, in a small
//! order service on loopback, and answers with its status — passively when the lookup is
//! quick, through the active API (`message/send`) when it takes longer than the bot's
//! passive-reply budget. Runs against the embedded simulator, no account needed.
//!
//! Run with: `cargo run --example order_lookup`

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::Path;
use axum::routing::get;
use wecom_sdk::bot::{Bot, Context, Flow, Handler, HandlerError};
use wecom_sdk::client::Client;
use wecom_sdk::matcher::{Engine, RuleSet};
use wecom_sdk_sim::{Answer, CallbackSender, FakeConfig, FakeWeCom, Inbound};

const TOKEN: &str = "orderToken1";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const CORP_ID: &str = "wworders00000001";
const SECRET: &str = "orders-secret";
const AGENT_ID: u64 = 1_000_002;

const RULES: &str = r#"
[[rules]]
id = "order"
keywords = [{ regex = '(?P<no>SF\d{10})' }]
reply = "正在查询订单 {no}…"

[[rules]]
id = "fallback"
fallback = true
reply = "请发送顺丰单号（SF 加 10 位数字）查询物流。"
"#;

/// The order service: `GET /orders/{no}` answers its status; numbers ending in 9 are in
/// a slow warehouse system (4 s).
async fn order_service() -> std::io::Result<String> {
    let app = axum::Router::new().route(
        "/orders/{no}",
        get(|Path(no): Path<String>| async move {
            if no.ends_with('9') {
                tokio::time::sleep(Duration::from_secs(4)).await;
                return format!("订单 {no}：仓库已出库，明天送达。");
            }
            format!("订单 {no}：运输中，今天 18:00 前送达。")
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// After the matcher: when the `order` rule fired, its capture `no` is looked up and the
/// service's answer replaces the rule's placeholder reply.
#[derive(Debug)]
struct OrderLookup {
    http: reqwest::Client,
    service: String,
}

#[async_trait]
impl Handler for OrderLookup {
    async fn handle(&self, cx: &Context<'_>) -> Result<Flow, HandlerError> {
        let Some(no) = cx
            .hit
            .filter(|h| h.rule_id() == "order")
            .and_then(|h| h.captures.get("no"))
        else {
            return Ok(Flow::Continue);
        };
        let status = self
            .http
            .get(format!("{}/orders/{no}", self.service))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("order service: {e}"))?
            .text()
            .await
            .map_err(|e| format!("order service: {e}"))?;
        Ok(Flow::text(status))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let service = order_service().await?;
    let fake = FakeWeCom::start(FakeConfig::new(CORP_ID).secret(SECRET).agent(AGENT_ID)).await?;
    let client = Client::builder()
        .corp_id(CORP_ID)
        .secret(SECRET)
        .agent_id(AGENT_ID)
        .base_url(fake.base_url())
        .build()?;
    let lookup = OrderLookup {
        http: reqwest::Client::new(),
        service: service.clone(),
    };
    let bot = Bot::builder()
        .callback(TOKEN, AES_KEY, CORP_ID)
        .engine(Engine::new(RuleSet::from_toml_str(RULES)?))
        .client(client)
        .after(Arc::new(lookup))
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}{}", listener.local_addr()?, bot.path());
    let router = bot.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let wecom = CallbackSender::new(&url, TOKEN, AES_KEY, CORP_ID)?.agent(AGENT_ID);
    println!("bot on {url}, order service on {service}\n");

    for text in [
        "我的快递 SF1234567890 到哪了？",
        "查一下 SF1234567899",
        "你好",
    ] {
        println!("customer │ {text}");
        let started = Instant::now();
        let delivery = wecom.send(&Inbound::text("zhangsan", text)).await;
        let answered_in = started.elapsed();
        match &delivery.answer {
            Some(Answer::Passive(_)) => println!(
                "     bot │ {}   [passive reply, {} ms]",
                delivery.reply_text().unwrap_or_default(),
                answered_in.as_millis()
            ),
            Some(Answer::Empty) => {
                println!(
                    "     bot │ (HTTP 200 after {} ms; the lookup goes on)",
                    answered_in.as_millis()
                );
                let sent = wait_for_active(&fake, started).await;
                println!(
                    "     bot │ {sent}   [message/send, {} ms]",
                    started.elapsed().as_millis()
                );
            }
            other => println!("     bot │ unexpected answer: {other:?}"),
        }
        println!("         │");
    }
    println!(
        "callbacks: {} passive, {} deferred to the active API",
        bot.metrics().callbacks("passive"),
        bot.metrics().callbacks("deferred")
    );
    bot.shutdown().await;
    Ok(())
}

/// The text of the next active send (10 s at most).
async fn wait_for_active(fake: &FakeWeCom, since: Instant) -> String {
    let before = fake.sent_messages().len();
    while since.elapsed() < Duration::from_secs(10) {
        if let Some(m) = fake.sent_messages().get(before) {
            return m.text().unwrap_or_default();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    "(nothing was sent)".to_owned()
}
