//! Dedup shared through the real Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`):
//! the store's claim semantics, two bot instances answering concurrent re-deliveries
//! once, and a Redis that dies mid-run (its own server on its own port). Each test uses
//! its own key prefix and deletes its keys; without a Redis the tests skip with one line.

#![cfg(feature = "redis")]
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use support::*;
use wecom_sdk_bot::{
    Answered, Claim, Context, DedupStore, Flow, Handler, HandlerError, RedisDedupStore,
};
use wecom_sdk_sim::Inbound;

use support::{redis_skipped, redis_url};

fn prefix(test: &str) -> String {
    format!("wecom-bot-test:{test}:{}:", std::process::id())
}

/// The shared store, or `None` (and one line on stderr) when no Redis answers.
async fn store(test: &str) -> Option<RedisDedupStore> {
    match RedisDedupStore::connect(&redis_url(), prefix(test)).await {
        Ok(s) => Some(s),
        Err(e) => {
            redis_skipped(&e);
            None
        }
    }
}

async fn clean(test: &str) {
    support::redis_clean(&prefix(test)).await;
}

#[tokio::test]
async fn the_store_claims_completes_and_releases_like_memory() {
    let Some(s) = store("claims").await else {
        return;
    };
    let lease = Duration::from_secs(5);
    assert_eq!(s.claim("app:msg:1", lease).await.unwrap(), Claim::Fresh);
    assert_eq!(s.claim("app:msg:1", lease).await.unwrap(), Claim::InFlight);
    s.release("app:msg:1").await.unwrap();
    assert_eq!(s.claim("app:msg:1", lease).await.unwrap(), Claim::Fresh);
    let reply = Answered::Passive(Bytes::from_static(b"<xml><Encrypt>...</Encrypt></xml>"));
    s.complete("app:msg:1", &reply, Duration::from_secs(60))
        .await
        .unwrap();
    s.release("app:msg:1").await.unwrap(); // a late failure never undoes a done record
    assert_eq!(
        s.claim("app:msg:1", lease).await.unwrap(),
        Claim::Done(reply.clone())
    );
    assert_eq!(s.peek("app:msg:1").await.unwrap(), Some(Claim::Done(reply)));
    assert_eq!(s.peek("app:msg:2").await.unwrap(), None);
    // A lease runs out by itself.
    assert_eq!(
        s.claim("app:msg:3", Duration::from_millis(50))
            .await
            .unwrap(),
        Claim::Fresh
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(s.claim("app:msg:3", lease).await.unwrap(), Claim::Fresh);
    // One hash tag per message: every key of a message maps to one cluster slot.
    assert!(s.key("app:msg:1").ends_with("dedup:{app:msg:1}"));
    assert!(
        !s.key("a{b}c").contains("{b}"),
        "braces in a key cannot move the tag"
    );
    clean("claims").await;
}

/// Counts how often messages are computed, slowly enough for re-deliveries to overlap.
#[derive(Debug, Default)]
struct Counting(AtomicUsize);

#[async_trait]
impl Handler for Counting {
    async fn handle(&self, _cx: &Context<'_>) -> Result<Flow, HandlerError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(30)).await;
        Ok(Flow::Continue)
    }
}

#[tokio::test]
async fn two_instances_answer_concurrent_redeliveries_once() {
    let Some(first_store) = store("two").await else {
        return;
    };
    let second_store = store("two").await.unwrap();
    let fake = fake().await;
    let counting = Arc::new(Counting::default());
    let a = serve(
        builder(&fake)
            .dedup_store(Arc::new(first_store))
            .before(counting.clone())
            .build()
            .unwrap(),
    )
    .await;
    let b = serve(
        builder(&fake)
            .dedup_store(Arc::new(second_store))
            .before(counting.clone())
            .build()
            .unwrap(),
    )
    .await;
    let send = sender(&a.url);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (query, body) = send
            .encrypt(&Inbound::text("zhangsan", &format!("几点 {i}")).stamped())
            .unwrap();
        // Each message reaches both instances twice, at the same moment.
        for url in [a.url.clone(), b.url.clone(), a.url.clone(), b.url.clone()] {
            let (q, bd) = (query.clone(), body.clone());
            tasks.push(tokio::spawn(async move { (i, post(&url, &q, &bd).await) }));
        }
    }
    let mut answers: std::collections::BTreeMap<usize, Vec<(u16, Vec<u8>)>> =
        std::collections::BTreeMap::new();
    for t in tasks {
        let (i, answer) = t.await.unwrap();
        answers.entry(i).or_default().push(answer);
    }
    for (i, a4) in &answers {
        assert!(
            a4.iter()
                .all(|(status, body)| *status == 200 && !body.is_empty()),
            "message {i}: {a4:?}"
        );
        assert!(
            a4.iter().all(|x| x.1 == a4[0].1),
            "message {i}: the same reply bytes from both instances"
        );
    }
    assert_eq!(
        counting.0.load(Ordering::SeqCst),
        40,
        "each message computed once"
    );
    let hits = a.bot.metrics().rule_hits("hours") + b.bot.metrics().rule_hits("hours");
    assert_eq!(hits, 40);
    assert_eq!(
        a.bot.metrics().store_errors() + b.bot.metrics().store_errors(),
        0
    );
    clean("two").await;
}

/// A Redis server of the test's own, on its own port, that the test can kill.
struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    async fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .ok()?
            .port();
        let mut redis = Self { port, child: None };
        if redis.restart().await {
            Some(redis)
        } else {
            eprintln!("skipped: no redis-server on PATH; install Redis to run this test");
            None
        }
    }

    async fn restart(&mut self) -> bool {
        let Ok(child) = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        else {
            return false;
        };
        self.child = Some(child);
        for _ in 0..300 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `n` messages, each delivered and re-delivered: every one answered, the re-delivery
/// with the same bytes.
async fn round(send: &wecom_sdk_sim::CallbackSender, url: &str, phase: &str, n: usize) {
    for i in 0..n {
        let (q, b) = send
            .encrypt(&Inbound::text("lisi", &format!("几点 {phase} {i}")).stamped())
            .unwrap();
        let first = post(url, &q, &b).await;
        let again = post(url, &q, &b).await;
        assert_eq!(first.0, 200, "{phase} {i}: answered");
        assert!(!first.1.is_empty(), "{phase} {i}: a reply");
        assert_eq!(
            first, again,
            "{phase} {i}: the re-delivery is still deduped"
        );
    }
}

#[tokio::test]
async fn a_redis_that_dies_mid_run_costs_no_callback() {
    let Some(mut redis) = OwnRedis::start().await else {
        return;
    };
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let shared = RedisDedupStore::connect(&url, "outage:").await.unwrap();
    let fake = fake().await;
    let s = serve(
        builder(&fake)
            .dedup_store(Arc::new(shared))
            .build()
            .unwrap(),
    )
    .await;
    let send = sender(&s.url);
    round(&send, &s.url, "before", 10).await;
    assert_eq!(s.bot.metrics().store_errors(), 0);
    redis.kill();
    round(&send, &s.url, "during", 10).await;
    let during = s.bot.metrics().store_errors();
    assert!(during > 0, "the outage was counted");
    assert!(redis.restart().await);
    // The connection manager reconnects by itself; then operations succeed again.
    let mut recovered = false;
    for attempt in 0..100 {
        let before = s.bot.metrics().store_errors();
        round(&send, &s.url, &format!("after {attempt}"), 1).await;
        if s.bot.metrics().store_errors() == before {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recovered, "the shared store is used again after the outage");
    assert_eq!(s.bot.metrics().callbacks("rejected_malformed"), 0);
}

/// A bot with the 微信客服 account `KF_ACCOUNT` whose cursors live in Redis.
const KF_ACCOUNT: &str = "wkKFredis01";

async fn kf_fake() -> wecom_sdk_sim::FakeWeCom {
    wecom_sdk_sim::FakeWeCom::start(
        wecom_sdk_sim::FakeConfig::new(CORP_ID)
            .secret(SECRET)
            .agent(AGENT_ID)
            .kf_account(KF_ACCOUNT),
    )
    .await
    .unwrap()
}

/// The test's cursor store in Redis, or `None` (and one line) when no Redis answers.
async fn cursors(test: &str) -> Option<Arc<dyn wecom_sdk_client::api::kf::CursorStore>> {
    match wecom_sdk_client::RedisCursorStore::connect(&redis_url(), prefix(test)).await {
        Ok(c) => Some(Arc::new(c)),
        Err(e) => {
            redis_skipped(&e);
            None
        }
    }
}

/// Two bots on one 微信客服 account sharing the Redis dedup store and cursors, or
/// `None` (and one line) when no Redis answers.
async fn two_kf_instances(test: &str, fake: &wecom_sdk_sim::FakeWeCom) -> Option<(Served, Served)> {
    let first_store = store(test).await?;
    let second_store = store(test).await?;
    let cursors = cursors(test).await?;
    let instance = |dedup: RedisDedupStore| {
        builder(fake)
            .dedup_store(Arc::new(dedup))
            .kf_cursors(Arc::clone(&cursors))
            .build()
            .unwrap()
    };
    Some((
        serve(instance(first_store)).await,
        serve(instance(second_store)).await,
    ))
}

fn kf_replies(fake: &wecom_sdk_sim::FakeWeCom, to: &str) -> Vec<String> {
    fake.sent_messages()
        .into_iter()
        .filter(|m| m.path == "/cgi-bin/kf/send_msg" && m.to == to)
        .filter_map(|m| m.text())
        .collect()
}

#[tokio::test]
async fn a_restarted_bot_reads_on_from_the_cursor_in_redis() {
    let test = "kf-cursor";
    let Some(cursors) = cursors(test).await else {
        return;
    };
    let fake = kf_fake().await;
    let kf_bot = || {
        builder(&fake)
            .kf_cursors(Arc::clone(&cursors))
            .build()
            .unwrap()
    };
    let first = serve(kf_bot()).await;
    let notice = fake.kf_customer_says(KF_ACCOUNT, "wmRestart", "营业时间");
    sender(&first.url)
        .send(&Inbound::kf_msg_or_event(&notice))
        .await;
    assert!(eventually(|| kf_replies(&fake, "wmRestart").len() == 1).await);
    first.bot.shutdown().await;
    drop(first);

    // A new process: its dedup memory is empty, only the cursor in Redis remembers.
    let second = serve(kf_bot()).await;
    let notice = fake.kf_customer_says(KF_ACCOUNT, "wmRestart", "你好");
    sender(&second.url)
        .send(&Inbound::kf_msg_or_event(&notice))
        .await;
    assert!(eventually(|| kf_replies(&fake, "wmRestart").len() == 2).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        kf_replies(&fake, "wmRestart").len(),
        2,
        "the first message is not answered again"
    );
    assert_eq!(second.bot.metrics().kf("read"), 1);
    clean(test).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_kf_account_answer_each_message_once() {
    let test = "kf-two";
    let fake = kf_fake().await;
    let Some((a, b)) = two_kf_instances(test, &fake).await else {
        return;
    };
    let (to_a, to_b) = (Arc::new(sender(&a.url)), Arc::new(sender(&b.url)));
    // Twenty customers write at once; WeCom calls either instance, some callbacks twice.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let notice = fake.kf_customer_says(KF_ACCOUNT, &format!("wmTwo{i}"), "营业时间");
        let inbound = Inbound::kf_msg_or_event(&notice);
        let (to_a, to_b) = (Arc::clone(&to_a), Arc::clone(&to_b));
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                to_a.send(&inbound).await;
            } else {
                to_b.send(&inbound).await;
            }
            if i % 5 == 0 {
                to_b.send(&inbound).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let answered = || {
        (0..20)
            .map(|i| kf_replies(&fake, &format!("wmTwo{i}")).len())
            .collect::<Vec<_>>()
    };
    assert!(
        eventually(|| answered().iter().all(|&n| n >= 1)).await,
        "{:?}",
        answered()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        answered(),
        vec![1; 20],
        "each message answered exactly once"
    );
    let reads = a.bot.metrics().kf("read") + b.bot.metrics().kf("read");
    let duplicates = a.bot.metrics().kf("duplicate") + b.bot.metrics().kf("duplicate");
    assert_eq!(reads - duplicates, 20);
    clean(test).await;
}

#[tokio::test]
async fn a_question_asked_before_a_restart_is_answered_after_it() {
    let test = "kf-conversation";
    let Some(cursors) = cursors(test).await else {
        return;
    };
    let steps = Arc::new(
        wecom_sdk_bot::RedisConversationStore::connect(&redis_url(), prefix(test))
            .await
            .unwrap(),
    );
    let rules = r#"
[[rules]]
id = "return"
keywords = ["退换货"]
reply = "请选择订单类型：1 实物 2 虚拟"
ask = { step = "return-type", answers = { "1" = "return-physical" }, timeout = "10m" }

[[rules]]
id = "return-physical"
step = "return-type"
reply = "请把商品寄回。"

[[rules]]
id = "fallback"
fallback = true
reply = "收到"
"#;
    let fake = kf_fake().await;
    let kf_bot = || {
        builder(&fake)
            .engine(wecom_sdk_matcher::Engine::new(
                wecom_sdk_matcher::RuleSet::from_toml_str(rules).unwrap(),
            ))
            .kf_cursors(Arc::clone(&cursors))
            .conversations(Arc::clone(&steps) as Arc<dyn wecom_sdk_bot::ConversationStore>)
            .build()
            .unwrap()
    };
    let first = serve(kf_bot()).await;
    let notice = fake.kf_customer_says(KF_ACCOUNT, "wmAsked", "我要退换货");
    sender(&first.url)
        .send(&Inbound::kf_msg_or_event(&notice))
        .await;
    assert!(eventually(|| kf_replies(&fake, "wmAsked").len() == 1).await);
    first.bot.shutdown().await;
    drop(first);

    let second = serve(kf_bot()).await;
    let notice = fake.kf_customer_says(KF_ACCOUNT, "wmAsked", "1");
    sender(&second.url)
        .send(&Inbound::kf_msg_or_event(&notice))
        .await;
    assert!(eventually(|| kf_replies(&fake, "wmAsked").len() == 2).await);
    assert_eq!(kf_replies(&fake, "wmAsked")[1], "请把商品寄回。");
    // The answer ended the step (compare-and-delete in Redis), with no store error.
    let key = "kf:wkKFredis01:wmAsked";
    assert_eq!(
        wecom_sdk_bot::ConversationStore::get(steps.as_ref(), key)
            .await
            .unwrap(),
        None
    );
    assert_eq!(second.bot.metrics().store_errors(), 0);
    clean(test).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_syncs_an_account_at_a_time() {
    let test = "kf-lease";
    let fake = kf_fake().await;
    let Some((a, b)) = two_kf_instances(test, &fake).await else {
        return;
    };
    // Every API answer takes 150 ms: one runner's sync_msg calls are at least that far
    // apart; two runners in parallel would call within milliseconds of each other.
    fake.inject(&wecom_sdk_sim::Fault::latency(Duration::from_millis(150)));
    let first = fake.kf_customer_says(KF_ACCOUNT, "wmLease1", "营业时间");
    let second = fake.kf_customer_says(KF_ACCOUNT, "wmLease2", "营业时间");
    let (to_a, to_b) = (sender(&a.url), sender(&b.url));
    let (first, second) = (
        Inbound::kf_msg_or_event(&first),
        Inbound::kf_msg_or_event(&second),
    );
    tokio::join!(to_a.send(&first), to_b.send(&second));
    assert!(
        eventually(|| {
            kf_replies(&fake, "wmLease1").len() == 1 && kf_replies(&fake, "wmLease2").len() == 1
        })
        .await
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut at: Vec<_> = fake
        .calls_to("/cgi-bin/kf/sync_msg")
        .into_iter()
        .map(|c| c.at)
        .collect();
    at.sort();
    assert!(at.len() >= 2, "{at:?}");
    for pair in at.windows(2) {
        let gap = pair[1].duration_since(pair[0]).unwrap_or_default();
        assert!(
            gap >= Duration::from_millis(100),
            "two syncs at once: {at:?}"
        );
    }
    assert_eq!(
        a.bot.metrics().kf("rerun_requested") + b.bot.metrics().kf("rerun_requested"),
        1
    );
    fake.inject(&wecom_sdk_sim::Fault::Clear);
    clean(test).await;
}
