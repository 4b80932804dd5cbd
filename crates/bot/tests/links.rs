//! Tracked links end to end: a rule's reply carries `/l/{code}` URLs; a click through
//! the bot's router is counted once per link as a conversion of the rule's variant (the
//! engine's statistics and the event log agree) and redirected; unknown codes are 404.
//! The Redis variant shares links between two instances (`REDIS_URL`; skips without).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use wecom_sdk_bot::{AiBot, Bot, EventRecord, EventSink, LinkStore};
use wecom_sdk_matcher::{Channel, Engine, RuleSet};
use wecom_sdk_sim::{AiBotInbound, AiBotSimConfig, FakeAiBot, FakeConfig, FakeWeCom, Inbound};

const RULES: &str = r#"
timezone = "Asia/Shanghai"

[[rules]]
id = "promo"
keywords = ["优惠"]
variants = [
  { id = "a", weight = 1, reply = "本周优惠：https://shop.example.com/sale?from=bot 点击查看" },
  { id = "b", weight = 1, reply = [{ news = { title = "本周优惠", url = "https://shop.example.com/sale" } }] },
]
"#;

#[derive(Debug, Default)]
struct Records(Mutex<Vec<EventRecord>>);

#[async_trait]
impl EventSink for Records {
    fn record(&self, record: &EventRecord) {
        self.0.lock().unwrap().push(record.clone());
    }

    async fn flush(&self) {}
}

fn bot(
    fake: &wecom_sdk_sim::FakeWeCom,
    store: Option<Arc<dyn LinkStore>>,
    records: &Arc<Records>,
) -> Bot {
    let mut b = support::builder(fake)
        .engine(Engine::new(RuleSet::from_toml_str(RULES).unwrap()))
        .tracked_links("http://bot.test")
        .event_sink(records.clone());
    if let Some(store) = store {
        b = b.link_store(store, wecom_sdk_bot::DEFAULT_LINK_TTL);
    }
    b.build().unwrap()
}

/// The tracked URL in a reply (its path, `/l/…`).
fn link_path(reply: &str) -> String {
    let at = reply.find("http://bot.test/l/").expect("a tracked link");
    let rest = &reply[at + "http://bot.test".len()..];
    let code: String = rest["/l/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    format!("/l/{code}")
}

async fn click(served: &support::Served, path: &str) -> (u16, Option<String>) {
    let base = &served.url[..served.url.find("/wecom/").unwrap_or(served.url.len())];
    let client = support::http();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or(client);
    let r = client.get(format!("{base}{path}")).send().await.unwrap();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    (r.status().as_u16(), location)
}

#[tokio::test]
async fn a_click_is_one_conversion_of_the_variant_and_a_redirect() {
    let fake = support::fake().await;
    let records = Arc::new(Records::default());
    let served = support::serve(bot(&fake, None, &records)).await;
    let wecom = support::sender(&served.url);
    let delivery = wecom.send(&Inbound::text("zhangsan", "有优惠吗")).await;
    let reply = delivery.answer.as_ref().map(|a| format!("{a:?}")).unwrap();
    assert!(
        !reply.contains("shop.example.com"),
        "the URL is tracked: {reply}"
    );
    let path = link_path(&reply);
    let variant = served.bot.engine().stats()["promo"]
        .variants
        .iter()
        .find(|(_, (imp, _))| *imp == 1)
        .map(|(v, _)| v.clone())
        .unwrap();
    let (status, location) = click(&served, &path).await;
    assert_eq!(status, 302, "{path} from {reply}");
    assert!(
        location
            .unwrap()
            .starts_with("https://shop.example.com/sale")
    );
    // A second click redirects but is not a second conversion.
    assert_eq!(click(&served, &path).await.0, 302);
    let promo = &served.bot.engine().stats()["promo"];
    assert_eq!(
        promo.variants[&variant],
        (1, 1),
        "one impression, one conversion"
    );
    assert_eq!(served.bot.metrics().links("converted"), 1);
    assert_eq!(served.bot.metrics().links("clicked_again"), 1);
    // No open redirect: only codes the bot sent.
    assert_eq!(click(&served, "/l/not-a-code").await.0, 404);
    assert_eq!(click(&served, "/l/https%3A%2F%2Fevil.example").await.0, 404);
    // The event log has the conversion, as the engine counts it.
    let records = records.0.lock().unwrap();
    let conversions: Vec<&EventRecord> = records
        .iter()
        .filter(|r| r.outcome == "converted")
        .collect();
    assert_eq!(conversions.len(), 1);
    assert_eq!(conversions[0].variant.as_deref(), Some(variant.as_str()));
    assert_eq!(conversions[0].user, "zhangsan");
}

/// Both variants text, so every channel sends the URL in words.
const TEXT_RULES: &str = r#"
[[rules]]
id = "promo"
keywords = ["优惠"]
variants = [
  { id = "a", weight = 1, reply = "本周优惠：https://shop.example.com/sale?v=a 点击查看" },
  { id = "b", weight = 1, reply = "限时特价 https://shop.example.com/sale?v=b" },
]
"#;

#[tokio::test]
async fn kf_and_ai_bot_answers_carry_tracked_links_counted_for_their_channel() {
    const KF: &str = "wkKFshop0001";
    let fake = FakeWeCom::start(
        FakeConfig::new(support::CORP_ID)
            .secret(support::SECRET)
            .agent(support::AGENT_ID)
            .kf_account(KF),
    )
    .await
    .unwrap();
    let ai = FakeAiBot::start(AiBotSimConfig::new("aib_links", "aib-secret"))
        .await
        .unwrap();
    let records = Arc::new(Records::default());
    // One bot serves the app callback, 微信客服 and the AI bot.
    let bot = Bot::builder()
        .callback(support::TOKEN, support::AES_KEY, support::CORP_ID)
        .ai_bot(AiBot::callback(support::TOKEN, support::AES_KEY))
        .engine(Engine::new(RuleSet::from_toml_str(TEXT_RULES).unwrap()))
        .client(support::client(&fake))
        .tracked_links("http://bot.test")
        .event_sink(records.clone())
        .build()
        .unwrap();
    let served = support::serve(bot).await;

    // 微信客服: the answer goes out through kf/send_msg with the URL tracked.
    let notice = fake.kf_customer_says(KF, "wmCustomer1", "有优惠吗");
    support::sender(&served.url)
        .send(&Inbound::kf_msg_or_event(&notice))
        .await;
    let kf_text = || {
        fake.sent_messages()
            .into_iter()
            .filter(|m| m.path == "/cgi-bin/kf/send_msg" && m.to == "wmCustomer1")
            .find_map(|m| m.text())
    };
    assert!(support::eventually(|| kf_text().is_some()).await);
    let kf_reply = kf_text().unwrap();
    assert!(!kf_reply.contains("shop.example.com"), "{kf_reply}");

    // The AI bot: the streamed answer's words carry a tracked URL too.
    let aibot_url = served.url.replace("/wecom/callback", "/wecom/aibot");
    let caller = ai
        .caller(&aibot_url, support::TOKEN, support::AES_KEY)
        .unwrap();
    let talk = caller
        .converse(&AiBotInbound::text("lisi", "优惠").group("wrGroup1"))
        .await;
    let ai_reply = talk.text();
    assert!(!ai_reply.contains("shop.example.com"), "{ai_reply}");

    for (reply, user, channel) in [
        (&kf_reply, "wmCustomer1", Channel::Kf),
        (&ai_reply, "lisi", Channel::AiBot),
    ] {
        let (status, location) = click(&served, &link_path(reply)).await;
        assert_eq!(status, 302, "{reply}");
        assert!(
            location
                .unwrap()
                .starts_with("https://shop.example.com/sale?v=")
        );
        let records = records.0.lock().unwrap();
        let conversion = records
            .iter()
            .find(|r| r.outcome == "converted" && r.user == user)
            .expect("the click is a conversion in the event log");
        assert_eq!(conversion.channel, channel);
        assert_eq!(conversion.rule.as_deref(), Some("promo"));
    }
    // The engine counts an impression and a conversion for each, as the log does.
    let promo = &served.bot.engine().stats()["promo"];
    let (impressions, conversions) = promo
        .variants
        .values()
        .fold((0, 0), |(i, c), &(imp, conv)| (i + imp, c + conv));
    assert_eq!((impressions, conversions), (2, 2));
    assert_eq!(served.bot.metrics().links("converted"), 2);
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_link_sent_by_one_instance_is_followed_by_another_through_redis() {
    let url = support::redis_url();
    let prefix = format!("wecom-links-test:{}:", std::process::id());
    let store: Arc<dyn LinkStore> =
        match wecom_sdk_bot::RedisLinkStore::connect(&url, prefix.clone()).await {
            Ok(s) => Arc::new(s),
            Err(e) => {
                support::redis_skipped(&e);
                return;
            }
        };
    let fake = support::fake().await;
    let records = Arc::new(Records::default());
    let a = support::serve(bot(&fake, Some(Arc::clone(&store)), &records)).await;
    let b = support::serve(bot(&fake, Some(store), &records)).await;
    let delivery = support::sender(&a.url)
        .send(&Inbound::text("lisi", "优惠"))
        .await;
    let path = link_path(&format!("{:?}", delivery.answer.unwrap()));
    assert_eq!(click(&b, &path).await.0, 302);
    assert_eq!(click(&a, &path).await.0, 302);
    assert_eq!(b.bot.metrics().links("converted"), 1);
    assert_eq!(a.bot.metrics().links("clicked_again"), 1);
    support::redis_clean(&prefix).await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn the_bandit_of_every_instance_chooses_by_the_shared_conversions() {
    let url = support::redis_url();
    let prefix = format!("wecom-bandit-test:{}:", std::process::id());
    let shared = match wecom_sdk_bot::RedisVariantStore::connect(&url, prefix.clone()).await {
        Ok(s) => s,
        Err(e) => {
            support::redis_skipped(&e);
            return;
        }
    };
    // Other instances found that variant "a" converts (50 of 100), "b" not (1 of 100).
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{prefix}ab:{{promo}}");
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg(&[
            "a:imp", "100", "a:conv", "50", "b:imp", "100", "b:conv", "1",
        ])
        .query_async(&mut conn)
        .await
        .unwrap();
    // Pure exploitation: every answer goes to the best conversion rate the engine knows.
    let rules = RULES.replace("variants = [", "explore = 0.0\nvariants = [");
    let fake = support::fake().await;
    let bot = support::builder(&fake)
        .engine(Engine::new(RuleSet::from_toml_str(&rules).unwrap()))
        .shared_variants(shared)
        .build()
        .unwrap();
    let served = support::serve(bot).await;
    let wecom = support::sender(&served.url);
    // Alone, this instance knows nothing: both 0.5, the last ("b") wins.
    wecom.send(&Inbound::text("u1", "优惠")).await;
    let engine = served.bot.engine();
    assert!(
        support::eventually(|| engine.stats()["promo"]
            .variants
            .get("a")
            .is_some_and(|&(imp, _)| imp >= 100))
        .await
    );
    // With the shared counts it sends the next customers to "a".
    for user in ["u2", "u3", "u4"] {
        let d = wecom.send(&Inbound::text(user, "优惠")).await;
        assert!(
            d.reply_text().unwrap().contains("点击查看"),
            "variant a's text: {:?}",
            d.reply_text()
        );
    }
    // Its own impressions went to the shared counts too (on a task: wait for them).
    let mut a_imp = 0;
    for _ in 0..100 {
        let totals: std::collections::HashMap<String, u64> = redis::cmd("HGETALL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        a_imp = totals["a:imp"];
        if a_imp >= 103 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(a_imp, 103);
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
}
