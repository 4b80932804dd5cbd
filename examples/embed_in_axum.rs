//! The bot mounted inside an existing axum service: your routes, your middleware, and
//! WeCom's callback URL side by side. Runs against the embedded simulator (no account):
//! it starts the service, sends one callback through the simulator, prints the reply
//! and calls one of the service's own routes.
//!
//! Run with: `cargo run --example embed_in_axum`

use axum::Router;
use axum::routing::get;
use wecom_sdk::bot::Bot;
use wecom_sdk::matcher::{Engine, Rule, RuleSet};
use wecom_sdk_sim::{CallbackSender, Inbound};

const TOKEN: &str = "embedToken1";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const CORP_ID: &str = "wwembed000000001";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. The bot: rules in code here (a file works the same).
    let rules = RuleSet::new([
        Rule::new("hours", "营业时间")
            .contains("几点")
            .reply("我们 9:00–21:00 营业。"),
        Rule::new("fallback", "兜底")
            .fallback()
            .reply("收到，稍后回复您。"),
    ])?;
    let bot = Bot::builder()
        .callback(TOKEN, AES_KEY, CORP_ID)
        .engine(Engine::new(rules))
        .metrics_route("/metrics")
        .build()?;

    // 2. Your service: its own routes and middleware, the bot merged in.
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/api/orders/{id}",
            get(
                |axum::extract::Path(id): axum::extract::Path<String>| async move {
                    format!("order {id}: shipped")
                },
            ),
        )
        .merge(bot.router())
        // Your middleware wraps the bot's route too (here: a header on every answer).
        .layer(axum::middleware::map_response(
            |mut response: axum::response::Response| async {
                response.headers_mut().insert(
                    "x-served-by",
                    axum::http::HeaderValue::from_static("shop-service"),
                );
                response
            },
        ));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    println!(
        "service on http://{addr}: /healthz, /api/orders/{{id}}, /metrics and /wecom/callback"
    );

    // 3. WeCom (the simulator) calls the callback URL.
    let sender = CallbackSender::new(
        &format!("http://{addr}/wecom/callback"),
        TOKEN,
        AES_KEY,
        CORP_ID,
    )?;
    sender.verify_url().await?;
    let delivery = sender
        .send(&Inbound::text("zhangsan", "你们几点开门？"))
        .await;
    println!(
        "callback  zhangsan: 你们几点开门？ → {:?}",
        delivery.reply_text()
    );

    println!(
        "bot metrics: {} passive replies",
        bot.metrics().callbacks("passive")
    );
    server.abort();
    Ok(())
}
