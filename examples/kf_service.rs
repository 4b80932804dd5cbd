//! A 微信客服 (WeChat Customer Service) bot against the embedded simulator, no account
//! needed: customers on personal WeChat write to the shop's customer-service account, the
//! simulator sends the bot `kf_msg_or_event` callbacks, the bot reads the messages with
//! `kf/sync_msg` and answers with `kf/send_msg`. A welcome on `enter_session`; a
//! customer walked through a 2-step return request; a complaint is handed to the human
//! queue and the bot goes quiet for that customer until the servicer ends the session.
//! Printed as a transcript.
//!
//! Run with: `cargo run --example kf_service`

use std::time::Duration;

use wecom_sdk::bot::Bot;
use wecom_sdk::client::Client;
use wecom_sdk::matcher::{Engine, RuleSet};
use wecom_sdk_sim::{CallbackSender, FakeConfig, FakeWeCom, Inbound, KfNotice};

const TOKEN: &str = "kfShopToken1";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const CORP_ID: &str = "wwkfshop00000001";
const SECRET: &str = "kf-shop-secret";
const KF: &str = "wkShopService01";

const RULES: &str = r#"
timezone = "Asia/Shanghai"

[[rules]]
id = "welcome"
event = "enter_session"
reply = "您好，欢迎光临小店客服！可以问我营业时间、运费，或直接说明问题。"

[[rules]]
id = "hours"
keywords = ["营业时间", "几点"]
reply = "每天 9:00–21:00 营业，节假日照常。"

[[rules]]
id = "shipping"
keywords = ["运费", "包邮"]
reply = "满 99 元包邮，不满收 8 元运费。"

[[rules]]
id = "return"
keywords = ["退换货", "退货"]
reply = "请选择订单类型：1 实物商品 2 虚拟商品（回复数字）"
ask = { step = "return-type", answers = { "1" = "return-physical", "2" = "return-virtual" }, otherwise = "return-again", on_timeout = "return-timeout", timeout = "10m" }

[[rules]]
id = "return-physical"
step = "return-type"
reply = "好的，请在 7 天内把商品寄回（地址：上海市徐汇区示例路 1 号），并把快递单号发给我们。"

[[rules]]
id = "return-virtual"
step = "return-type"
reply = "虚拟商品未使用的，24 小时内原路退款。"

[[rules]]
id = "return-again"
step = "return-type"
reply = "请回复 1（实物商品）或 2（虚拟商品）。"

[[rules]]
id = "return-timeout"
step = "return-type"
reply = "退换货申请已超时，需要时请重新发送「退换货」。"

[[rules]]
id = "complaint"
priority = 50
keywords = ["投诉", "差评"]
reply = "非常抱歉给您带来不便，已为您转接人工客服，请稍候。"
actions = [{ escalate = "complaints", priority = 9 }]

[[rules]]
id = "fallback"
fallback = true
reply = "收到，客服稍后回复您。"
"#;

/// The simulated customers' side, printing what they say and what the bot sends.
struct Transcript {
    fake: FakeWeCom,
    wecom: CallbackSender,
}

impl Transcript {
    /// `who` says something (queued as the notice): the callback, then the bot's answers.
    async fn step(&self, who: &str, (said, notice): (&str, KfNotice)) {
        println!("{} │ {said}", pad(who));
        let before = self.fake.sent_messages().len();
        if !self
            .wecom
            .send(&Inbound::kf_msg_or_event(&notice))
            .await
            .delivered()
        {
            println!("         │ (the callback was not acknowledged)");
        }
        // The bot reads and answers on its own task: wait for what it sends.
        let mut answers = Vec::new();
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            answers = self.fake.sent_messages().split_off(before);
            if !answers.is_empty() {
                break;
            }
        }
        for m in &answers {
            let via = m.path.trim_start_matches("/cgi-bin/kf/");
            println!(
                "{} │ {}   [{via}]",
                pad("bot"),
                m.text().unwrap_or_default()
            );
        }
        if answers.is_empty() {
            println!("{} │ (silent)", pad("bot"));
        }
        println!("         │");
    }

    /// Waits (a second at most) for `customer`'s session state to become `state`.
    async fn state_becomes(&self, customer: &str, state: u8) -> u8 {
        for _ in 0..50 {
            if self.fake.kf_service_state(KF, customer).0 == state {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.fake.kf_service_state(KF, customer).0
    }
}

/// `who` right-aligned in 8 columns (a Chinese character takes two).
fn pad(who: &str) -> String {
    let width: usize = who.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
    format!("{}{who}", " ".repeat(8usize.saturating_sub(width)))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fake = FakeWeCom::start(FakeConfig::new(CORP_ID).secret(SECRET).kf_account(KF)).await?;
    let client = Client::builder()
        .corp_id(CORP_ID)
        .secret(SECRET)
        .base_url(fake.base_url())
        .build()?;
    let bot = Bot::builder()
        .callback(TOKEN, AES_KEY, CORP_ID)
        .engine(Engine::new(RuleSet::from_toml_str(RULES)?))
        .client(client)
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}{}", listener.local_addr()?, bot.path());
    let router = bot.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let wecom = CallbackSender::new(&url, TOKEN, AES_KEY, CORP_ID)?;
    println!("微信客服 bot on {url}, account {KF}\n");

    let shop = Transcript { fake, wecom };
    let fake = &shop.fake;
    let wang = |text: &'static str| (text, fake.kf_customer_says(KF, "wmWang", text));
    let li = |text: &'static str| (text, fake.kf_customer_says(KF, "wmLi", text));
    shop.step(
        "王女士",
        (
            "(opens the chat)",
            fake.kf_enter_session(KF, "wmWang", "shop_qr"),
        ),
    )
    .await;
    shop.step("王女士", wang("你们几点营业？")).await;
    shop.step("王女士", wang("满多少包邮？")).await;
    shop.step("王女士", wang("我想退货")).await;
    shop.step("王女士", wang("是衣服")).await;
    shop.step("王女士", wang("1")).await;
    shop.step("李先生", li("我要投诉，快递三天还没到！")).await;
    let state = shop.state_becomes("wmLi", 2).await;
    println!(
        "         │ (李先生's session state is now {state}: the queue; a human answers)\n         │"
    );
    shop.step("李先生", li("人呢？")).await;
    shop.step(
        "servicer",
        ("(ends 李先生's session)", fake.kf_end_session(KF, "wmLi")),
    )
    .await;
    shop.step("李先生", li("运费怎么算？")).await;

    let m = bot.metrics();
    println!(
        "read {} entries: {} answered, {} welcomed, {} while a human had the session, {} transferred, {} questions asked",
        m.kf("read"),
        m.kf("answered"),
        m.kf("welcomed"),
        m.kf("with_human"),
        m.kf("transferred"),
        m.kf("step_opened"),
    );
    bot.shutdown().await;
    Ok(())
}
