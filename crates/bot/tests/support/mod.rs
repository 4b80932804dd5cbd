//! The bot on a loopback socket against the simulator's fake WeCom: what every
//! end-to-end test starts from.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test support"
)]

use std::sync::Arc;
use std::time::Duration;

use wecom_sdk_bot::{Bot, BotBuilder, WeComProfiles};
use wecom_sdk_client::{Client, RetryPolicy, WebhookClient};
use wecom_sdk_matcher::{Engine, RuleSet};
use wecom_sdk_sim::{CallbackSender, FakeConfig, FakeWeCom};

pub const CORP_ID: &str = "wwbottest0000001";
pub const TOKEN: &str = "botTestToken1";
pub const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
pub const SECRET: &str = "bot-test-secret";
pub const AGENT_ID: u64 = 1_000_002;
pub const ROBOT_KEY: &str = "robot-key-for-tests";

/// Rules most tests use.
pub const RULES: &str = r#"
timezone = "Asia/Shanghai"
bot_name = "小助手"

[[rules]]
id = "hours"
keywords = ["几点", "营业时间"]
reply = "您好 {nickname}，我们 9:00–21:00 营业。"

[[rules]]
id = "menu"
event = { name = "click", key = "MENU_HOURS" }
reply = "菜单：9:00–21:00"

[[rules]]
id = "vip-qr"
priority = 10
event = { name = "add_external_contact", key = "vip-qr" }
reply = "欢迎 VIP {nickname}！"
actions = [{ add_tags = ["VIP"] }]

[[rules]]
id = "welcome"
event = "add_external_contact"
reply = ["欢迎 {nickname}！", { news = { title = "新人指南", url = "https://example.com/guide" } }]

[[rules]]
id = "long"
keywords = ["政策"]
reply = """LONG"""

[[rules]]
id = "multi"
keywords = ["全部"]
reply = ["先看文字", { news = { title = "卡片", url = "https://example.com/a" } }, { video = { media_id = "MEDIA_VIDEO" } }]

[[rules]]
id = "complaint"
priority = 50
keywords = ["投诉"]
reply = "已转人工。"
actions = [{ escalate = "complaints", priority = 9 }, { add_tags = ["投诉客户"] }]

[[rules]]
id = "fallback"
fallback = true
reply = "收到！"
"#;

/// The rules with a long (3 × 2048-byte-ish) text in the `long` rule.
pub fn rules() -> String {
    RULES.replace("LONG", &"这是一条很长的政策说明。".repeat(200))
}

/// The fake WeCom the tests talk to.
pub async fn fake() -> FakeWeCom {
    FakeWeCom::start(
        FakeConfig::new(CORP_ID)
            .secret(SECRET)
            .agent(AGENT_ID)
            .staff("zhangsan", "张三")
            .staff("lisi", "李四")
            .customer("zhangsan", "wmOld", "老客户")
            .tag_group(
                "etGroup",
                "客户状态",
                &[("etComplaint", "投诉客户"), ("etVip", "VIP")],
            )
            .webhook_key(ROBOT_KEY),
    )
    .await
    .unwrap()
}

/// A client of the fake with quick retries.
pub fn client(fake: &FakeWeCom) -> Client {
    Client::builder()
        .corp_id(CORP_ID)
        .secret(SECRET)
        .agent_id(AGENT_ID)
        .base_url(fake.base_url())
        .retry_policy(RetryPolicy {
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap()
}

/// A builder with the test rules, the client, profiles and the escalation robot.
pub fn builder(fake: &FakeWeCom) -> BotBuilder {
    let client = client(fake);
    Bot::builder()
        .callback(TOKEN, AES_KEY, CORP_ID)
        .engine(Engine::new(RuleSet::from_toml_str(&rules()).unwrap()))
        .client(client.clone())
        .profiles(Arc::new(WeComProfiles::new(client)))
        .escalation_robot(WebhookClient::new(ROBOT_KEY).base_url(fake.base_url()))
}

/// A bot served on 127.0.0.1; dropped, the server stops.
pub struct Served {
    pub bot: Bot,
    pub url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub async fn serve(bot: Bot) -> Served {
    serve_router(bot.clone(), bot.router(), "/wecom/callback").await
}

pub async fn serve_router(bot: Bot, router: axum::Router, path: &str) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Served {
        bot,
        url: format!("http://{addr}{path}"),
        server,
    }
}

/// WeCom's side for `url`, with the test settings.
pub fn sender(url: &str) -> CallbackSender {
    CallbackSender::new(url, TOKEN, AES_KEY, CORP_ID)
        .unwrap()
        .agent(AGENT_ID)
        .redelivery_delay(Duration::from_millis(10))
}

/// A plain HTTP client (rustls' ring provider installed for reqwest).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Waits until `cond` holds (at most 8 s).
pub async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(8);
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

/// The status and raw bytes the bot answers to one (pre-encrypted) POST.
pub async fn post(url: &str, query: &str, body: &str) -> (u16, Vec<u8>) {
    let r = http()
        .post(format!("{url}?{query}"))
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

/// The Redis the tests use (`REDIS_URL`, default `redis://127.0.0.1:6379`).
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The one line a Redis test prints when it skips.
pub fn redis_skipped(e: &dyn std::fmt::Display) {
    eprintln!(
        "skipped: no Redis at {} ({e}); start one or set REDIS_URL to run this test",
        redis_url()
    );
}

/// Deletes every key under `prefix`.
pub async fn redis_clean(prefix: &str) {
    let Ok(client) = redis::Client::open(redis_url()) else {
        return;
    };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
    }
}
