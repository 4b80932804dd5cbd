//! An AI bot (智能机器人) in a group chat, against the embedded simulator, no account
//! needed: customers @-mention the bot with a parcel number and the answer streams in
//! pieces (as an LLM's tokens would) — over both transports:
//!
//! 1. **Callback**: WeCom POSTs encrypted JSON to `/wecom/aibot`; the first reply
//!    carries a stream id and WeCom's refresh polls get the growing text until `finish`.
//! 2. **Long connection**: the bot dials WeCom's WebSocket, answers with
//!    `aibot_respond_msg` frames; the simulator drops the connection mid-stream and the
//!    answer still arrives whole, once.
//!
//! Printed as a transcript. Run with: `cargo run --example aibot_stream`

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use wecom_sdk::bot::{AiBot, Bot, Context, Flow, Handler, HandlerError, TextStream};
use wecom_sdk::matcher::{Engine, RuleSet};
use wecom_sdk::message::send::{Button, CardAction, TemplateCard};
use wecom_sdk_sim::{AiBotInbound, AiBotSimConfig, FakeAiBot};

const TOKEN: &str = "aibotShopToken1";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const BOT_ID: &str = "aibShopHelper01";
const BOT_SECRET: &str = "aibot-shop-secret";
const GROUP: &str = "wrShopCustomers01";

const RULES: &str = r#"
timezone = "Asia/Shanghai"

[[rules]]
id = "welcome"
event = "enter_chat"
reply = "您好，我是小店助手：发快递单号查物流，发「菜单」看服务。"

[[rules]]
id = "hours"
keywords = ["营业时间", "几点"]
reply = "每天 **9:00–21:00** 营业，节假日照常。"

[[rules]]
id = "fallback"
fallback = true
reply = "收到！客服稍后回复您。"
"#;

/// Looks a parcel up and reports each step as it "arrives"; the menu is a card.
#[derive(Debug)]
struct ParcelDesk;

#[async_trait]
impl Handler for ParcelDesk {
    async fn handle(&self, cx: &Context<'_>) -> Result<Flow, HandlerError> {
        let text = cx.incoming.text();
        if let Some(no) = text.strip_prefix("查快递").map(str::trim) {
            let no = no.to_owned();
            let (writer, stream) = TextStream::channel(8);
            tokio::spawn(async move {
                writer.text(format!("**{no}** 物流：")).await;
                for step in [
                    "\n- 已揽收（杭州）",
                    "\n- 运输中（上海转运中心）",
                    "\n- 派送中",
                    "\n- 已签收 ✅",
                ] {
                    tokio::time::sleep(Duration::from_millis(120)).await;
                    writer.text(step).await;
                }
            });
            return Ok(Flow::Stream(stream));
        }
        if text == "菜单" {
            let card = TemplateCard::button_interaction(
                "小店服务",
                "shop_menu",
                vec![
                    Button::new("查订单", "orders"),
                    Button::new("找人工", "human"),
                ],
            );
            return Ok(Flow::Card(Box::new(card)));
        }
        if let Some(("template_card_event", key)) = cx.incoming.event_name_key() {
            let title = if key == "human" {
                "已为您转人工"
            } else {
                "订单列表已发送"
            };
            let card =
                TemplateCard::text_notice(title, CardAction::url("https://example.com/orders"));
            return Ok(Flow::Card(Box::new(card)));
        }
        Ok(Flow::Continue)
    }
}

/// Prints each new state of a growing answer.
fn print_growth<'a>(states: impl IntoIterator<Item = &'a str>) {
    let mut shown = "";
    for content in states {
        if content != shown {
            println!("  bot ▸ {}", content.replace('\n', "\n        "));
            shown = content;
        }
    }
}

fn shop_bot(ai: AiBot) -> Result<Bot, Box<dyn std::error::Error>> {
    Ok(Bot::builder()
        .engine(Engine::new(RuleSet::from_toml_str(RULES)?))
        .before(Arc::new(ParcelDesk))
        .ai_bot(ai)
        .build()?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let wecom = FakeAiBot::start(AiBotSimConfig::new(BOT_ID, BOT_SECRET)).await?;
    callback_mode(&wecom).await?;
    long_connection(&wecom).await
}

/// WeCom POSTs to the bot's URL and polls its streams.
async fn callback_mode(wecom: &FakeAiBot) -> Result<(), Box<dyn std::error::Error>> {
    println!("== 1. callback mode: WeCom POSTs, then polls the stream ==");
    let bot = shop_bot(AiBot::callback(TOKEN, AES_KEY))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/wecom/aibot", listener.local_addr()?);
    let router = bot.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let caller = wecom
        .caller(&url, TOKEN, AES_KEY)?
        .poll_every(Duration::from_millis(150));
    caller.verify_url().await?;
    println!("URL verified: {url}");

    let talk = caller.converse(&AiBotInbound::enter_chat("zhangsan")).await;
    println!("\n[张三 opens the chat]\n  bot: {}", talk.text());

    let asks = [
        ("zhangsan", "营业时间"),
        ("lisi", "查快递 SF1234567890"),
        ("wangwu", "能开发票吗"),
    ];
    for (user, text) in asks {
        println!("\n[{user} in the group] @小店助手 {text}");
        let talk = caller
            .converse(
                &AiBotInbound::text(user, text)
                    .group(GROUP)
                    .mention("小店助手"),
            )
            .await;
        print_growth(
            talk.replies
                .iter()
                .flatten()
                .map(|r| r["stream"]["content"].as_str().unwrap_or_default()),
        );
        println!(
            "  ({} refresh polls, finished: {})",
            talk.polls(),
            talk.finished
        );
    }

    println!("\n[zhangsan] @小店助手 菜单");
    let talk = caller
        .converse(
            &AiBotInbound::text("zhangsan", "菜单")
                .group(GROUP)
                .mention("小店助手"),
        )
        .await;
    let card = talk
        .first()
        .map(|r| r["template_card"].clone())
        .unwrap_or_default();
    println!(
        "  bot: a card 「{}」 with buttons {} (task {})",
        card["main_title"]["title"].as_str().unwrap_or_default(),
        card["button_list"],
        card["task_id"].as_str().unwrap_or_default()
    );
    let (_, _, update) = caller
        .send(&AiBotInbound::card_click("zhangsan", "orders", "shop_menu"))
        .await;
    if let Some(update) = update {
        println!(
            "[zhangsan clicks 查订单]\n  bot: card {} becomes 「{}」",
            update["template_card"]["task_id"]
                .as_str()
                .unwrap_or_default(),
            update["template_card"]["main_title"]["title"]
                .as_str()
                .unwrap_or_default()
        );
    }
    let m = bot.metrics();
    println!(
        "\ncallback mode: {} answered whole, {} streamed, {} polls served, {} welcomed, {} card updates",
        m.ai_bot("answered"),
        m.ai_bot("streamed"),
        m.ai_bot("stream_polled"),
        m.ai_bot("welcomed"),
        m.ai_bot("card_updated")
    );

    Ok(())
}

/// The bot dials WeCom; the connection drops in the middle of an answer.
async fn long_connection(wecom: &FakeAiBot) -> Result<(), Box<dyn std::error::Error>> {
    println!("\n== 2. long connection: the bot dials WeCom's WebSocket ==");
    let bot = shop_bot(
        AiBot::websocket(BOT_ID, BOT_SECRET)
            .url(wecom.ws_url())
            .reconnect(Duration::from_millis(100), Duration::from_secs(2)),
    )?;
    let running = tokio::spawn(bot.clone().run_ai_bot_owned());
    wecom.wait_subscriptions(1, Duration::from_secs(5)).await;
    println!("subscribed at {}", wecom.ws_url());

    println!("\n[zhangsan in the group] @小店助手 营业时间");
    let id = wecom
        .ws_send(
            &AiBotInbound::text("zhangsan", "营业时间")
                .group(GROUP)
                .mention("小店助手"),
        )
        .await?;
    if let Some(a) = wecom.ws_answer(&id, Duration::from_secs(5)).await {
        println!("  bot: {}", a.content);
    }

    println!(
        "\n[lisi in the group] @小店助手 查快递 YT9876543210   (the network drops mid-answer)"
    );
    let id = wecom
        .ws_send(
            &AiBotInbound::text("lisi", "查快递 YT9876543210")
                .group(GROUP)
                .mention("小店助手"),
        )
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    wecom.ws_drop();
    println!("  -- connection dropped; the bot dials again --");
    wecom.wait_subscriptions(2, Duration::from_secs(5)).await;
    if let Some(a) = wecom.ws_answer(&id, Duration::from_secs(5)).await {
        print_growth(
            a.frames
                .iter()
                .map(|f| f["stream"]["content"].as_str().unwrap_or_default()),
        );
        println!(
            "  (delivered {} times, answered {} time, {} frames)",
            a.deliveries,
            a.finished,
            a.frames.len()
        );
    }
    let m = bot.metrics();
    println!(
        "\nlong connection: {} reconnects, {} streams resumed, {} finished",
        m.ai_bot("ws_reconnect"),
        m.ai_bot("ws_resumed"),
        m.ai_bot("stream_finished")
    );
    bot.shutdown().await;
    running.await??;
    Ok(())
}
