//! The 微信客服 channel end to end over real sockets: the simulator queues what customers
//! write and sends the bot `kf_msg_or_event` callbacks; the bot reads with `kf/sync_msg`
//! and answers with `kf/send_msg` on the simulator's fake WeCom API.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

mod support;

use std::time::Duration;

use support::*;
use wecom_sdk_bot::Bot;
use wecom_sdk_matcher::{Engine, RuleSet};
use wecom_sdk_sim::{Answer, FakeConfig, FakeWeCom, Fault, Inbound};

const KF: &str = "wkKFshop0001";

const KF_RULES: &str = r#"
[[rules]]
id = "hours"
keywords = ["营业时间"]
reply = "每天 9:00–21:00 营业。"

[[rules]]
id = "policy"
keywords = ["退换货政策"]
reply = "LONG"

[[rules]]
id = "complaint"
priority = 50
keywords = ["投诉"]
reply = "已为您转接人工客服，请稍候。"
actions = [{ escalate = "complaints", priority = 9 }]

[[rules]]
id = "vip"
keywords = ["大客户"]
reply = "已为您联系专属客服。"
actions = [{ hand_over = "zhangsan" }]

[[rules]]
id = "return"
keywords = ["退换货"]
reply = "请选择订单类型：1 实物 2 虚拟"
ask = { step = "return-type", answers = { "1" = "return-physical", "2" = "return-virtual" }, otherwise = "return-again", on_timeout = "return-timeout", timeout = "1s" }

[[rules]]
id = "return-physical"
step = "return-type"
reply = "请把商品寄回，并发送快递单号。"

[[rules]]
id = "return-virtual"
step = "return-type"
reply = "虚拟商品 24 小时内原路退款。"

[[rules]]
id = "return-again"
step = "return-type"
reply = "请回复 1 或 2。"

[[rules]]
id = "return-timeout"
step = "return-type"
reply = "退换货操作已超时，需要时请重新发送「退换货」。"

[[rules]]
id = "kf-welcome"
event = "enter_session"
reply = "您好，这里是小店客服，请问有什么可以帮您？"

[[rules]]
id = "fallback"
fallback = true
reply = "收到，稍后回复您。"
"#;

async fn kf_fake() -> FakeWeCom {
    FakeWeCom::start(
        FakeConfig::new(CORP_ID)
            .secret(SECRET)
            .agent(AGENT_ID)
            .kf_account(KF),
    )
    .await
    .unwrap()
}

fn kf_bot(fake: &FakeWeCom) -> Bot {
    // 6 pieces of 2 048 bytes: one more than 微信客服 takes per customer message.
    let rules = KF_RULES.replace("LONG", &"七天无理由退换，运费由商家承担。".repeat(260));
    kf_builder(fake, &rules).build().unwrap()
}

/// A bot on the fake with `rules` (TOML).
fn kf_builder(fake: &FakeWeCom, rules: &str) -> wecom_sdk_bot::BotBuilder {
    Bot::builder()
        .callback(TOKEN, AES_KEY, CORP_ID)
        .engine(Engine::new(RuleSet::from_toml_str(rules).unwrap()))
        .client(client(fake))
}

/// The texts the fake accepted for `to` through `path`, in order.
fn kf_texts(fake: &FakeWeCom, path: &str, to: &str) -> Vec<String> {
    fake.sent_messages()
        .into_iter()
        .filter(|m| m.path == path && m.to == to)
        .filter_map(|m| m.text())
        .collect()
}

#[tokio::test]
async fn a_customer_message_is_read_with_sync_msg_and_answered_with_send_msg() {
    let fake = kf_fake().await;
    let served = serve(kf_bot(&fake)).await;
    let wecom = sender(&served.url);

    let notice = fake.kf_customer_says(KF, "wmCustomer1", "请问营业时间？");
    let delivery = wecom.send(&Inbound::kf_msg_or_event(&notice)).await;
    // The callback is acknowledged at once, with nothing in it.
    assert!(matches!(delivery.answer, Some(Answer::Empty)));
    assert!(
        eventually(|| !kf_texts(&fake, "/cgi-bin/kf/send_msg", "wmCustomer1").is_empty()).await
    );
    assert_eq!(
        kf_texts(&fake, "/cgi-bin/kf/send_msg", "wmCustomer1"),
        ["每天 9:00–21:00 营业。"]
    );
    let metrics = served.bot.metrics();
    assert_eq!((metrics.kf("read"), metrics.kf("answered")), (1, 1));
    assert_eq!(served.bot.engine().stats()["hours"].triggers, 1);
}

#[tokio::test]
async fn every_entry_is_answered_once_however_often_wecom_calls() {
    let fake = kf_fake().await;
    let served = serve(kf_bot(&fake)).await;
    let wecom = sender(&served.url);

    let first = fake.kf_customer_says(KF, "wmCustomer2", "营业时间");
    let second = fake.kf_customer_says(KF, "wmCustomer2", "你好");
    // Two callbacks, the first delivered twice: the sync runs, once more at most, and
    // reads each entry once.
    let (first, second) = (
        Inbound::kf_msg_or_event(&first),
        Inbound::kf_msg_or_event(&second),
    );
    let (a, b, c) = tokio::join!(wecom.send(&first), wecom.send(&first), wecom.send(&second));
    assert!(
        [a, b, c]
            .iter()
            .all(|d| matches!(d.answer, Some(Answer::Empty)))
    );
    assert!(eventually(|| kf_texts(&fake, "/cgi-bin/kf/send_msg", "wmCustomer2").len() >= 2).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        kf_texts(&fake, "/cgi-bin/kf/send_msg", "wmCustomer2"),
        ["每天 9:00–21:00 营业。", "收到，稍后回复您。"]
    );
    // A callback later reads on from the saved cursor: nothing old is answered again.
    let third = fake.kf_customer_says(KF, "wmCustomer2", "营业时间？");
    wecom.send(&Inbound::kf_msg_or_event(&third)).await;
    assert!(eventually(|| kf_texts(&fake, "/cgi-bin/kf/send_msg", "wmCustomer2").len() == 3).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        kf_texts(&fake, "/cgi-bin/kf/send_msg", "wmCustomer2").len(),
        3
    );
    assert_eq!(served.bot.metrics().kf("read"), 3);
}

#[tokio::test]
async fn enter_session_gets_the_welcome_rule_through_send_msg_on_event() {
    let fake = kf_fake().await;
    let served = serve(kf_bot(&fake)).await;
    let notice = fake.kf_enter_session(KF, "wmCustomer3", "shop_qr");
    let code = notice.welcome_code.clone().expect("a welcome code");
    sender(&served.url)
        .send(&Inbound::kf_msg_or_event(&notice))
        .await;
    let to = format!("code:{code}");
    assert!(eventually(|| !kf_texts(&fake, "/cgi-bin/kf/send_msg_on_event", &to).is_empty()).await);
    assert_eq!(
        kf_texts(&fake, "/cgi-bin/kf/send_msg_on_event", &to),
        ["您好，这里是小店客服，请问有什么可以帮您？"]
    );
    assert_eq!(served.bot.metrics().kf("welcomed"), 1);
}

#[tokio::test]
async fn wecoms_limits_are_kept_and_surfaced_never_retried() {
    let fake = kf_fake().await;
    let served = serve(kf_bot(&fake)).await;
    let wecom = sender(&served.url);

    // Six pieces of text: five are sent (WeCom's limit per customer message).
    let notice = fake.kf_customer_says(KF, "wmCustomer4", "退换货政策");
    wecom.send(&Inbound::kf_msg_or_event(&notice)).await;
    assert!(eventually(|| kf_texts(&fake, "/cgi-bin/kf/send_msg", "wmCustomer4").len() == 5).await);

    // The customer wrote 49 hours ago: send_msg answers 95002, counted, not retried.
    let late = fake.kf_customer_says(KF, "wmCustomer5", "营业时间");
    fake.advance(Duration::from_secs(49 * 3600));
    wecom.send(&Inbound::kf_msg_or_event(&late)).await;
    let metrics = served.bot.metrics();
    assert!(eventually(|| metrics.kf("limit_48h") == 1).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(kf_texts(&fake, "/cgi-bin/kf/send_msg", "wmCustomer5").is_empty());
    assert_eq!(fake.calls_to("/cgi-bin/kf/send_msg").len(), 6);
    assert!(
        metrics
            .prometheus()
            .contains("wecom_bot_kf_total{what=\"limit_48h\"} 1")
    );
}

#[tokio::test]
async fn a_complaint_goes_to_the_queue_and_the_bot_stays_silent_until_the_session_ends() {
    let fake = kf_fake().await;
    let served = serve(kf_bot(&fake)).await;
    let wecom = sender(&served.url);
    let replies = || kf_texts(&fake, "/cgi-bin/kf/send_msg", "wmAngry");

    let notice = fake.kf_customer_says(KF, "wmAngry", "我要投诉！");
    wecom.send(&Inbound::kf_msg_or_event(&notice)).await;
    assert!(eventually(|| fake.kf_service_state(KF, "wmAngry").0 == 2).await);
    assert_eq!(replies(), ["已为您转接人工客服，请稍候。"]);

    // A human answers now: the bot reads the next message and says nothing.
    let notice = fake.kf_customer_says(KF, "wmAngry", "营业时间");
    wecom.send(&Inbound::kf_msg_or_event(&notice)).await;
    let metrics = served.bot.metrics();
    assert!(eventually(|| metrics.kf("with_human") == 1).await);
    assert_eq!(replies().len(), 1);

    // The servicer ends the session: the bot answers again.
    let ended = fake.kf_end_session(KF, "wmAngry");
    wecom.send(&Inbound::kf_msg_or_event(&ended)).await;
    assert!(eventually(|| metrics.kf("session_change") == 1).await);
    let notice = fake.kf_customer_says(KF, "wmAngry", "营业时间");
    wecom.send(&Inbound::kf_msg_or_event(&notice)).await;
    assert!(eventually(|| replies().len() == 2).await);
    assert_eq!(replies()[1], "每天 9:00–21:00 营业。");
    assert_eq!(metrics.kf("transferred"), 1);
}

#[tokio::test]
async fn a_two_step_return_request_and_a_question_that_times_out() {
    let fake = kf_fake().await;
    let served = serve(kf_bot(&fake)).await;
    let wecom = sender(&served.url);
    let says = |customer: &str, text: &str| {
        Inbound::kf_msg_or_event(&fake.kf_customer_says(KF, customer, text))
    };
    let replies = |customer: &str| kf_texts(&fake, "/cgi-bin/kf/send_msg", customer);

    // Asked, answered with something else (asked again), then answered.
    wecom.send(&says("wmReturn", "我要退换货")).await;
    assert!(eventually(|| replies("wmReturn").len() == 1).await);
    wecom.send(&says("wmReturn", "嗯？")).await;
    assert!(eventually(|| replies("wmReturn").len() == 2).await);
    wecom.send(&says("wmReturn", "1")).await;
    assert!(eventually(|| replies("wmReturn").len() == 3).await);
    assert_eq!(
        replies("wmReturn"),
        [
            "请选择订单类型：1 实物 2 虚拟",
            "请回复 1 或 2。",
            "请把商品寄回，并发送快递单号。"
        ]
    );
    // The step is over: "2" is no answer now, and no time-out reply comes.
    wecom.send(&says("wmReturn", "2")).await;
    assert!(eventually(|| replies("wmReturn").len() == 4).await);
    assert_eq!(replies("wmReturn")[3], "收到，稍后回复您。");

    // Asked and never answered: the time-out reply, once, after the step's second.
    wecom.send(&says("wmSilent", "退换货")).await;
    assert!(eventually(|| replies("wmSilent").len() == 1).await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        replies("wmSilent"),
        [
            "请选择订单类型：1 实物 2 虚拟",
            "退换货操作已超时，需要时请重新发送「退换货」。"
        ]
    );
    let metrics = served.bot.metrics();
    assert_eq!(
        (metrics.kf("step_opened"), metrics.kf("step_timed_out")),
        (3, 1)
    );
    // After the time-out, "1" is no answer either.
    wecom.send(&says("wmSilent", "1")).await;
    assert!(eventually(|| replies("wmSilent").len() == 3).await);
    assert_eq!(replies("wmSilent")[2], "收到，稍后回复您。");
}

#[tokio::test]
async fn empty_pages_that_say_has_more_are_read_past() {
    let fake = kf_fake().await;
    let served = serve(kf_bot(&fake)).await;
    fake.inject(&Fault::KfEmptyPages { count: 3 });
    let notice = fake.kf_customer_says(KF, "wmPatient", "营业时间");
    sender(&served.url)
        .send(&Inbound::kf_msg_or_event(&notice))
        .await;
    assert!(eventually(|| !kf_texts(&fake, "/cgi-bin/kf/send_msg", "wmPatient").is_empty()).await);
    // Three empty pages with has_more = 1, then the page with the message.
    assert_eq!(fake.calls_to("/cgi-bin/kf/sync_msg").len(), 4);
    assert_eq!(served.bot.metrics().kf("read"), 1);
}

/// Answers `订单…` itself, and keeps the bot silent on `别回复`; sees the kf entry.
#[derive(Debug)]
struct KfOrders;

#[async_trait::async_trait]
impl wecom_sdk_bot::Handler for KfOrders {
    async fn handle(
        &self,
        cx: &wecom_sdk_bot::Context<'_>,
    ) -> Result<wecom_sdk_bot::Flow, wecom_sdk_bot::HandlerError> {
        let Some(entry) = cx.kf else {
            return Err("not a 微信客服 entry".into());
        };
        let text = cx.incoming.text();
        if let Some(no) = text.strip_prefix("订单") {
            return Ok(wecom_sdk_bot::Flow::text(format!(
                "订单 {} 已发货（{}）",
                no.trim(),
                entry.open_kfid
            )));
        }
        if text == "别回复" {
            return Ok(wecom_sdk_bot::Flow::Stop);
        }
        Ok(wecom_sdk_bot::Flow::Continue)
    }
}

#[tokio::test]
async fn handlers_answer_微信客服_messages_too() {
    let fake = kf_fake().await;
    let rules = KF_RULES.replace("LONG", "x");
    let bot = kf_builder(&fake, &rules)
        .before(std::sync::Arc::new(KfOrders))
        .build()
        .unwrap();
    let served = serve(bot).await;
    let wecom = sender(&served.url);
    for text in ["别回复", "订单 A100", "营业时间"] {
        let notice = fake.kf_customer_says(KF, "wmHandled", text);
        wecom.send(&Inbound::kf_msg_or_event(&notice)).await;
    }
    let replies = || kf_texts(&fake, "/cgi-bin/kf/send_msg", "wmHandled");
    assert!(eventually(|| replies().len() == 2).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        replies(),
        [
            format!("订单 A100 已发货（{KF}）"),
            "每天 9:00–21:00 营业。".to_owned()
        ]
    );
}

#[tokio::test]
async fn a_rule_hands_the_session_to_a_named_servicer() {
    let fake = kf_fake().await;
    let served = serve(kf_bot(&fake)).await;
    let wecom = sender(&served.url);
    let notice = fake.kf_customer_says(KF, "wmVip", "我是大客户");
    wecom.send(&Inbound::kf_msg_or_event(&notice)).await;
    assert!(eventually(|| fake.kf_service_state(KF, "wmVip") == (3, "zhangsan".to_owned())).await);
    assert_eq!(
        kf_texts(&fake, "/cgi-bin/kf/send_msg", "wmVip"),
        ["已为您联系专属客服。"]
    );
    let notice = fake.kf_customer_says(KF, "wmVip", "在吗");
    wecom.send(&Inbound::kf_msg_or_event(&notice)).await;
    assert!(eventually(|| served.bot.metrics().kf("with_human") == 1).await);
    assert_eq!(kf_texts(&fake, "/cgi-bin/kf/send_msg", "wmVip").len(), 1);
}

/// Event records kept in memory.
#[derive(Debug, Default)]
struct Records(std::sync::Mutex<Vec<wecom_sdk_bot::EventRecord>>);

#[async_trait::async_trait]
impl wecom_sdk_bot::EventSink for Records {
    fn record(&self, record: &wecom_sdk_bot::EventRecord) {
        self.0.lock().unwrap().push(record.clone());
    }

    async fn flush(&self) {}
}

#[tokio::test]
async fn every_entry_is_in_the_event_log_with_its_rule_and_delivery() {
    let fake = kf_fake().await;
    let records = std::sync::Arc::new(Records::default());
    let rules = KF_RULES.replace("LONG", "x");
    let bot = kf_builder(&fake, &rules)
        .event_sink(records.clone())
        .build()
        .unwrap();
    let served = serve(bot).await;
    let wecom = sender(&served.url);
    let said = fake.kf_customer_says(KF, "wmLogged", "营业时间");
    wecom.send(&Inbound::kf_msg_or_event(&said)).await;
    let failed = fake.kf_push(
        KF,
        serde_json::json!({"origin": 4, "msgtype": "event", "event": {
            "event_type": "msg_send_fail", "open_kfid": KF, "external_userid": "wmLogged",
            "fail_msgid": "M1", "fail_type": 13 }}),
    );
    wecom.send(&Inbound::kf_msg_or_event(&failed)).await;
    let kf_records = || {
        records
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.key.starts_with("kf:"))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(eventually(|| kf_records().len() == 2).await);
    let logged = kf_records();
    let answered = &logged[0];
    assert_eq!(
        (
            answered.user.as_str(),
            answered.text.as_deref(),
            answered.rule.as_deref(),
            answered.delivery.as_str(),
            answered.outcome.as_str()
        ),
        (
            "wmLogged",
            Some("营业时间"),
            Some("hours"),
            "kf_send",
            "answered"
        )
    );
    assert_eq!(answered.channel, wecom_sdk_matcher::Channel::Kf);
    let fail = &logged[1];
    assert_eq!(
        (fail.event.as_deref(), fail.outcome.as_str()),
        (Some("msg_send_fail"), "msg_send_fail")
    );
    assert_eq!(fail.errors, ["msg_send_fail M1: fail_type 13"]);
}

/// Asks for an order number, and answers it in the next message.
#[derive(Debug)]
struct AsksForTheOrder;

#[async_trait::async_trait]
impl wecom_sdk_bot::Handler for AsksForTheOrder {
    async fn handle(
        &self,
        cx: &wecom_sdk_bot::Context<'_>,
    ) -> Result<wecom_sdk_bot::Flow, wecom_sdk_bot::HandlerError> {
        let text = cx.incoming.text();
        Ok(match cx.incoming.step() {
            Some("order-no") => wecom_sdk_bot::Flow::text(format!("订单 {text} 已发货。")),
            _ if text == "查订单" => wecom_sdk_bot::Flow::ask("请问订单号？", "order-no", 300),
            _ => wecom_sdk_bot::Flow::Continue,
        })
    }
}

#[tokio::test]
async fn a_handler_asks_and_reads_the_answer_in_the_next_message() {
    let fake = kf_fake().await;
    let rules = KF_RULES.replace("LONG", "x");
    let bot = kf_builder(&fake, &rules)
        .before(std::sync::Arc::new(AsksForTheOrder))
        .build()
        .unwrap();
    let served = serve(bot).await;
    let wecom = sender(&served.url);
    let replies = || kf_texts(&fake, "/cgi-bin/kf/send_msg", "wmAsker");
    for (n, text) in ["查订单", "A2024", "A2024"].into_iter().enumerate() {
        let notice = fake.kf_customer_says(KF, "wmAsker", text);
        wecom.send(&Inbound::kf_msg_or_event(&notice)).await;
        assert!(eventually(|| replies().len() == n + 1).await);
    }
    // The answer closed the step: the same text again goes to the rules.
    assert_eq!(
        replies(),
        ["请问订单号？", "订单 A2024 已发货。", "收到，稍后回复您。"]
    );
}

/// Knows 微信客服 customers by their external user id (a CRM, say).
#[derive(Debug)]
struct Crm;

#[async_trait::async_trait]
impl wecom_sdk_bot::ProfileProvider for Crm {
    async fn profile(
        &self,
        sender: wecom_sdk_bot::Sender<'_>,
    ) -> Result<wecom_sdk_bot::Profile, wecom_sdk_bot::HandlerError> {
        assert_eq!(sender.channel, wecom_sdk_matcher::Channel::Kf);
        let mut profile = wecom_sdk_bot::Profile::default();
        profile.nickname = Some("王女士".to_owned());
        profile.tags = vec!["VIP".to_owned()];
        Ok(profile)
    }
}

#[tokio::test]
async fn the_profile_provider_names_微信客服_customers() {
    let fake = kf_fake().await;
    let rules = r#"
[[rules]]
id = "vip-hello"
priority = 10
keywords = ["你好"]
audience = { has_tags = ["VIP"] }
reply = "{nickname}您好，VIP 专线为您服务。"

[[rules]]
id = "hello"
keywords = ["你好"]
reply = "您好！"
"#;
    let bot = kf_builder(&fake, rules)
        .profiles(std::sync::Arc::new(Crm))
        .build()
        .unwrap();
    let served = serve(bot).await;
    let notice = fake.kf_customer_says(KF, "wmKnown", "你好");
    sender(&served.url)
        .send(&Inbound::kf_msg_or_event(&notice))
        .await;
    assert!(eventually(|| !kf_texts(&fake, "/cgi-bin/kf/send_msg", "wmKnown").is_empty()).await);
    assert_eq!(
        kf_texts(&fake, "/cgi-bin/kf/send_msg", "wmKnown"),
        ["王女士您好，VIP 专线为您服务。"]
    );
}
