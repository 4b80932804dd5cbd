//! The bot end to end over real sockets: the simulator's callback sender → the bot's
//! axum router → the simulator's fake WeCom API. Exact replies for each scenario.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use support::*;
use wecom_sdk_bot::{
    Bot, CallbackRequest, Context, Flow, Handler, HandlerError, JsonLinesSink, ManualClock,
    MultiApp,
};
use wecom_sdk_crypto::CallbackCrypto;
use wecom_sdk_matcher::{Engine, RuleSet};
use wecom_sdk_sim::{Answer, AttemptOutcome, Inbound};

/// A handler for `订单 …` that takes `delay`, fails its first `fail` calls, and counts.
#[derive(Debug)]
struct Orders {
    delay: Duration,
    fail: usize,
    calls: AtomicUsize,
}

impl Orders {
    fn new(delay: Duration, fail: usize) -> Arc<Self> {
        Arc::new(Self {
            delay,
            fail,
            calls: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl Handler for Orders {
    async fn handle(&self, cx: &Context<'_>) -> Result<Flow, HandlerError> {
        if !cx.incoming.text().starts_with("订单") {
            return Ok(Flow::Continue);
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        if n < self.fail {
            return Err("the order service is down".into());
        }
        Ok(Flow::text("订单已发货"))
    }
}

fn texts_to(fake: &wecom_sdk_sim::FakeWeCom, to: &str) -> Vec<String> {
    fake.sent_messages()
        .iter()
        .filter(|m| m.to == to)
        .filter_map(wecom_sdk_sim::SentMessage::text)
        .collect()
}

#[tokio::test]
async fn text_is_answered_passively_with_the_members_nickname() {
    let fake = fake().await;
    let s = serve(builder(&fake).build().unwrap()).await;
    let d = sender(&s.url)
        .send(&Inbound::text("zhangsan", "你们几点开门"))
        .await;
    assert_eq!(
        d.reply_text().as_deref(),
        Some("您好 张三，我们 9:00–21:00 营业。")
    );
    assert_eq!(d.redeliveries(), 0);
    assert_eq!(s.bot.metrics().callbacks("passive"), 1);
    assert!(fake.sent_messages().is_empty(), "nothing sent actively");
}

#[tokio::test]
async fn events_are_routed_as_events_and_unnamed_events_get_nothing() {
    let fake = fake().await;
    let s = serve(builder(&fake).build().unwrap()).await;
    let send = sender(&s.url);
    let menu = send
        .send(&Inbound::menu_click("zhangsan", "MENU_HOURS"))
        .await;
    assert_eq!(menu.reply_text().as_deref(), Some("菜单：9:00–21:00"));
    let enter = send.send(&Inbound::enter_agent("zhangsan")).await;
    assert_eq!(enter.answer, Some(Answer::Empty));
    let other_key = send
        .send(&Inbound::menu_click("zhangsan", "MENU_OTHER"))
        .await;
    assert_eq!(other_key.answer, Some(Answer::Empty));
    assert_eq!(
        s.bot.metrics().rule_hits("fallback"),
        0,
        "an event never reaches the fallback"
    );
    assert!(fake.sent_messages().is_empty());
}

#[tokio::test]
async fn a_new_customer_gets_the_welcome_and_a_vip_qr_tags_them() {
    let fake = fake().await;
    let s = serve(builder(&fake).build().unwrap()).await;
    fake.add_customer("zhangsan", "wmNew", "新客");
    fake.add_customer("zhangsan", "wmVip", "大客户");
    let send = sender(&s.url);
    let d = send
        .send(&Inbound::add_external_contact(
            "zhangsan", "wmNew", "WC-1", "shop-qr",
        ))
        .await;
    assert_eq!(
        d.answer,
        Some(Answer::Empty),
        "a customer event takes no passive reply"
    );
    assert!(eventually(|| !texts_to(&fake, "welcome:WC-1").is_empty()).await);
    let welcome = fake
        .sent_messages()
        .into_iter()
        .find(|m| m.to == "welcome:WC-1")
        .unwrap();
    assert_eq!(welcome.body["text"]["content"], "欢迎 新客！");
    assert_eq!(welcome.body["attachments"][0]["link"]["title"], "新人指南");

    send.send(&Inbound::add_external_contact(
        "zhangsan", "wmVip", "WC-2", "vip-qr",
    ))
    .await;
    assert!(eventually(|| !texts_to(&fake, "welcome:WC-2").is_empty()).await);
    assert_eq!(texts_to(&fake, "welcome:WC-2"), ["欢迎 VIP 大客户！"]);
    // The rule's tag, by name, resolved to its id and set through mark_tag.
    assert!(
        eventually(|| fake
            .customers()
            .iter()
            .any(|c| c.external_userid == "wmVip" && c.tags == ["etVip"]))
        .await
    );
}

#[tokio::test]
async fn a_long_answer_goes_first_part_passively_the_rest_actively_in_order() {
    let fake = fake().await;
    let s = serve(builder(&fake).build().unwrap()).await;
    let d = sender(&s.url)
        .send(&Inbound::text("lisi", "退货政策"))
        .await;
    let first = d.reply_text().unwrap();
    assert!(first.len() <= 2048 && first.len() > 1500);
    let full = "这是一条很长的政策说明。".repeat(200);
    assert!(eventually(|| first.clone() + &texts_to(&fake, "lisi").concat() == full).await);
    assert!(texts_to(&fake, "lisi").iter().all(|t| t.len() <= 2048));
}

#[tokio::test]
async fn several_parts_go_out_in_order_video_before_news() {
    let fake = fake().await;
    let s = serve(builder(&fake).build().unwrap()).await;
    let d = sender(&s.url).send(&Inbound::text("lisi", "全部")).await;
    assert_eq!(d.reply_text().as_deref(), Some("先看文字"));
    assert!(eventually(|| fake.sent_messages().len() == 2).await);
    let kinds: Vec<String> = fake
        .sent_messages()
        .into_iter()
        .map(|m| m.msgtype)
        .collect();
    assert_eq!(kinds, ["video", "news"]);
}

#[tokio::test]
async fn a_slow_handler_is_answered_actively_and_never_redelivered() {
    let fake = fake().await;
    let orders = Orders::new(Duration::from_millis(400), 0);
    let bot = builder(&fake)
        .before(orders.clone())
        .budget(Duration::from_millis(100))
        .build()
        .unwrap();
    let s = serve(bot).await;
    let d = sender(&s.url)
        .send(&Inbound::text("zhangsan", "订单 123"))
        .await;
    // Answered before the handler was done: an empty 200, counted as deferred.
    assert_eq!(d.answer, Some(Answer::Empty));
    assert_eq!(d.redeliveries(), 0);
    assert!(eventually(|| texts_to(&fake, "zhangsan") == ["订单已发货"]).await);
    assert_eq!(s.bot.metrics().callbacks("deferred"), 1);
    assert_eq!(orders.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_redelivery_gets_the_same_bytes_computed_once() {
    let fake = fake().await;
    let s = serve(builder(&fake).build().unwrap()).await;
    let inbound = Inbound::text("zhangsan", "几点开门").stamped();
    let (query, body) = sender(&s.url).encrypt(&inbound).unwrap();
    let (s1, first) = post(&s.url, &query, &body).await;
    let (s2, again) = post(&s.url, &query, &body).await;
    assert_eq!((s1, s2), (200, 200));
    assert!(!first.is_empty());
    assert_eq!(first, again, "byte for byte the same encrypted reply");
    // WeCom re-signs a re-delivery with a new nonce: the same message, the same reply.
    let (query3, body3) = sender(&s.url).encrypt(&inbound).unwrap();
    assert_ne!(query3, query);
    assert_eq!(post(&s.url, &query3, &body3).await.1, first);
    assert_eq!(s.bot.metrics().rule_hits("hours"), 1);
    assert_eq!(s.bot.metrics().dedup_hits(), 2);
}

#[tokio::test]
async fn a_redelivery_in_flight_waits_for_the_first_answer() {
    let fake = fake().await;
    let orders = Orders::new(Duration::from_millis(300), 0);
    let s = serve(builder(&fake).before(orders.clone()).build().unwrap()).await;
    let (query, body) = sender(&s.url)
        .encrypt(&Inbound::text("zhangsan", "订单 9").stamped())
        .unwrap();
    let (a, b) = tokio::join!(post(&s.url, &query, &body), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        post(&s.url, &query, &body).await
    });
    assert_eq!(a.0, 200);
    assert!(!a.1.is_empty());
    assert_eq!(
        a, b,
        "the waiting re-delivery gets the first answer's bytes"
    );
    assert_eq!(orders.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_actively_answered_message_redelivered_gets_an_empty_200() {
    let fake = fake().await;
    let orders = Orders::new(Duration::from_millis(200), 0);
    let s = serve(
        builder(&fake)
            .before(orders.clone())
            .budget(Duration::from_millis(50))
            .build()
            .unwrap(),
    )
    .await;
    let (query, body) = sender(&s.url)
        .encrypt(&Inbound::text("zhangsan", "订单 7").stamped())
        .unwrap();
    assert_eq!(post(&s.url, &query, &body).await, (200, Vec::new()));
    assert!(eventually(|| texts_to(&fake, "zhangsan").len() == 1).await);
    assert_eq!(post(&s.url, &query, &body).await, (200, Vec::new()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(texts_to(&fake, "zhangsan").len(), 1, "never a second reply");
    assert_eq!(orders.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failed_handler_releases_the_claim_so_the_redelivery_is_processed() {
    let fake = fake().await;
    let orders = Orders::new(Duration::ZERO, 1);
    let s = serve(builder(&fake).before(orders.clone()).build().unwrap()).await;
    let d = sender(&s.url)
        .send(&Inbound::text("zhangsan", "订单 5"))
        .await;
    // The first attempt got a 500, WeCom re-delivered, the second was answered.
    assert_eq!(d.attempts[0].outcome, AttemptOutcome::Status(500));
    assert_eq!(d.reply_text().as_deref(), Some("订单已发货"));
    assert_eq!(orders.calls.load(Ordering::SeqCst), 2);
    assert_eq!(s.bot.metrics().callbacks("handler_error"), 1);
}

#[tokio::test]
async fn bad_input_gets_a_4xx_and_never_a_5xx() {
    let fake = fake().await;
    let clock = Arc::new(ManualClock::at_unix(1_700_000_000));
    let s = serve(
        builder(&fake)
            .max_body(4096)
            .replay_window(Duration::from_secs(300))
            .clock(clock.clone())
            .build()
            .unwrap(),
    )
    .await;
    let crypto = CallbackCrypto::new(TOKEN, AES_KEY, CORP_ID).unwrap();
    let signed = |plain: &str, ts: &str| {
        let enc = crypto.encrypt(plain.as_bytes()).unwrap();
        let sig = crypto.signature(ts, "nonce1", &enc);
        (
            format!("msg_signature={sig}&timestamp={ts}&nonce=nonce1"),
            format!(
                "<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
            ),
        )
    };
    let ok_xml = format!(
        "<xml><ToUserName>{CORP_ID}</ToUserName><FromUserName>u</FromUserName><CreateTime>1700000000</CreateTime><MsgType>text</MsgType><Content>几点</Content><MsgId>1</MsgId></xml>"
    );
    // A correct one passes (so the refusals below are about what they change).
    let (q, b) = signed(&ok_xml, "1700000000");
    assert_eq!(post(&s.url, &q, &b).await.0, 200);

    let forged = q.replace("msg_signature=", "msg_signature=0");
    assert_eq!(post(&s.url, &forged, &b).await.0, 403);
    let (q_stale, b_stale) = signed(&ok_xml.replace("<MsgId>1<", "<MsgId>2<"), "1699990000");
    assert_eq!(
        post(&s.url, &q_stale, &b_stale).await.0,
        403,
        "outside the replay window"
    );
    assert_eq!(post(&s.url, "timestamp=1&nonce=2", &b).await.0, 400);
    assert_eq!(post(&s.url, &q, &"x".repeat(10_000)).await.0, 413);
    assert_eq!(post(&s.url, &q, "not xml at all").await.0, 400);
    let doctype = format!("<!DOCTYPE x [<!ENTITY e \"a\">]>{b}");
    assert_eq!(post(&s.url, &q, &doctype).await.0, 400);
    // A correctly encrypted message whose XML holds a DTD, and one that is not XML.
    let (q_dtd, b_dtd) = signed(
        &format!("<!DOCTYPE x [<!ENTITY e \"a\">]>{ok_xml}"),
        "1700000000",
    );
    assert_eq!(post(&s.url, &q_dtd, &b_dtd).await.0, 400);
    let (q_junk, b_junk) = signed("\u{0}\u{1}junk", "1700000000");
    assert_eq!(post(&s.url, &q_junk, &b_junk).await.0, 400);
    let put = http().put(&s.url).send().await.unwrap();
    assert_eq!(put.status().as_u16(), 405);
    let get = http().get(format!("{}?{q}", s.url)).send().await.unwrap();
    assert_eq!(get.status().as_u16(), 400, "a GET without echostr");
    let m = s.bot.metrics();
    assert_eq!(m.callbacks("rejected_signature"), 2);
    assert_eq!(m.callbacks("rejected_too_large"), 1);
    assert_eq!(m.callbacks("passive"), 1);
}

#[tokio::test]
async fn url_verification_keeps_a_literal_plus() {
    let crypto = CallbackCrypto::new(TOKEN, AES_KEY, CORP_ID).unwrap();
    // An echostr whose base64 holds a '+', sent raw as WeCom does.
    let (echostr, plain) = (0..500)
        .map(|i| {
            let plain = format!("echo-{i}");
            (crypto.encrypt(plain.as_bytes()).unwrap(), plain)
        })
        .find(|(e, _)| e.contains('+'))
        .unwrap();
    let sig = crypto.signature("1700000000", "n1", &echostr);
    let query = format!("msg_signature={sig}&timestamp=1700000000&nonce=n1&echostr={echostr}");
    // What form decoding (axum's `Query`) would make of it: a space, a wrong signature.
    let form: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    assert!(form.iter().any(|(k, v)| k == "echostr" && v.contains(' ')));

    let fake = fake().await;
    let s = serve(builder(&fake).build().unwrap()).await;
    let answer = s.bot.handle(CallbackRequest::get(query.clone())).await;
    assert_eq!(
        (answer.status, answer.body.as_ref()),
        (200, plain.as_bytes())
    );
    let r = http()
        .get(format!("{}?{query}", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), plain);
}

#[tokio::test]
async fn several_apps_behind_one_router() {
    let fake = fake().await;
    let sales = builder(&fake).app("sales").build().unwrap();
    let support = Bot::builder()
        .app("support")
        .callback(
            "supportToken",
            "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
            "wwsupport",
        )
        .engine(Engine::new(
            RuleSet::from_toml_str(
                "[[rules]]\nid = \"any\"\nfallback = true\nreply = \"售后组收到\"\n",
            )
            .unwrap(),
        ))
        .build()
        .unwrap();
    let router = MultiApp::new().app(sales.clone()).app(support).router();
    let s = serve_router(sales, router, "/wecom/callback").await;
    let to_sales = sender(&format!("{}/sales", s.url));
    assert_eq!(
        to_sales
            .send(&Inbound::text("zhangsan", "几点"))
            .await
            .reply_text()
            .as_deref(),
        Some("您好 张三，我们 9:00–21:00 营业。")
    );
    let to_support = wecom_sdk_sim::CallbackSender::new(
        &format!("{}/support", s.url),
        "supportToken",
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
        "wwsupport",
    )
    .unwrap();
    to_support.verify_url().await.unwrap();
    assert_eq!(
        to_support
            .send(&Inbound::text("u", "几点"))
            .await
            .reply_text()
            .as_deref(),
        Some("售后组收到")
    );
    // The sales app's signature is not the support app's.
    let wrong = sender(&format!("{}/support", s.url)).redeliveries(0);
    let d = wrong.send(&Inbound::text("u", "几点")).await;
    assert_eq!(d.attempts[0].outcome, AttemptOutcome::Status(403));
    let unknown = sender(&format!("{}/nobody", s.url)).redeliveries(0);
    assert_eq!(
        unknown.send(&Inbound::text("u", "x")).await.attempts[0].outcome,
        AttemptOutcome::Status(404)
    );
}

#[tokio::test]
async fn the_bots_own_messages_never_trigger_rules() {
    let fake = fake().await;
    let s = serve(builder(&fake).own_user_ids(["shopbot"]).build().unwrap()).await;
    let d = sender(&s.url)
        .send(&Inbound::text("shopbot", "几点开门"))
        .await;
    assert_eq!(d.answer, Some(Answer::Empty));
    assert_eq!(s.bot.metrics().rule_hits("hours"), 0);
    assert_eq!(s.bot.metrics().rule_hits("fallback"), 0);
}

#[tokio::test]
async fn rules_reload_when_the_file_changes_and_a_bad_file_keeps_the_old() {
    let dir = std::env::temp_dir().join(format!("wecom-bot-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rules.toml");
    let rules = |reply: &str| {
        format!("[[rules]]\nid = \"hours\"\nkeywords = [\"几点\"]\nreply = \"{reply}\"\n")
    };
    std::fs::write(&file, rules("旧的回答")).unwrap();
    let fake = fake().await;
    let bot = Bot::builder()
        .callback(TOKEN, AES_KEY, CORP_ID)
        .engine(Engine::from_path(&file).unwrap())
        .watch_rules(&file)
        .build()
        .unwrap();
    let s = serve(bot).await;
    let send = sender(&s.url);
    let ask = || Inbound::text("u", "几点");
    assert_eq!(
        send.send(&ask()).await.reply_text().as_deref(),
        Some("旧的回答")
    );
    std::fs::write(&file, rules("新的回答")).unwrap();
    assert!(
        eventually(|| s.bot.metrics().reloads().0 >= 1).await,
        "reloaded"
    );
    assert_eq!(
        send.send(&ask()).await.reply_text().as_deref(),
        Some("新的回答")
    );
    std::fs::write(&file, "[[rules]]\nid = \"hours\"\nkeywords = [\"几点\"]\n").unwrap();
    assert!(
        eventually(|| s.bot.metrics().reloads().1 >= 1).await,
        "the bad file was refused"
    );
    assert_eq!(
        send.send(&ask()).await.reply_text().as_deref(),
        Some("新的回答")
    );
    drop(fake);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_event_log_metrics_and_escalation() {
    let dir = std::env::temp_dir().join(format!("wecom-bot-events-{}", std::process::id()));
    let fake = fake().await;
    let sink = Arc::new(JsonLinesSink::daily(&dir).unwrap());
    let bot = builder(&fake)
        .event_sink(sink.clone())
        .metrics_route("/metrics")
        .build()
        .unwrap();
    let s = serve(bot).await;
    let send = sender(&s.url);
    send.send(&Inbound::text("zhangsan", "几点开门")).await;
    let complaint = send.send(&Inbound::text("lisi", "我要投诉")).await;
    assert_eq!(complaint.reply_text().as_deref(), Some("已转人工。"));
    assert!(
        eventually(|| fake
            .sent_messages()
            .iter()
            .any(|m| m.to.starts_with("robot:")
                && m.text()
                    .is_some_and(|t| t.contains("我要投诉") && t.contains("complaints"))))
        .await,
        "the staff robot was told"
    );
    s.bot.shutdown().await;
    let file = sink.file_for(jiff::Timestamp::now(), &jiff::tz::TimeZone::UTC);
    let text = std::fs::read_to_string(&file).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["rule"], "hours");
    assert_eq!(records[0]["delivery"], "passive");
    assert_eq!(records[1]["rule"], "complaint");
    let actions = records[1]["actions"].as_array().unwrap();
    assert!(
        actions[0]
            .as_str()
            .unwrap()
            .starts_with("escalate complaints: notified")
    );
    assert!(
        actions[1]
            .as_str()
            .unwrap()
            .contains("member, not a customer")
    );

    let metrics = http()
        .get(s.url.replace("/wecom/callback", "/metrics"))
        .send()
        .await
        .unwrap();
    let body = metrics.text().await.unwrap();
    assert!(
        body.contains("wecom_bot_callbacks_total{outcome=\"passive\"} 2"),
        "{body}"
    );
    assert!(body.contains("wecom_bot_rule_hits_total{rule=\"complaint\"} 1"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn shutdown_waits_for_slow_work_and_its_active_send() {
    let fake = fake().await;
    let bot = builder(&fake)
        .before(Orders::new(Duration::from_millis(300), 0))
        .budget(Duration::from_millis(20))
        .build()
        .unwrap();
    let s = serve(bot).await;
    let d = sender(&s.url)
        .send(&Inbound::text("zhangsan", "订单 1"))
        .await;
    assert_eq!(d.answer, Some(Answer::Empty));
    assert_eq!(s.bot.metrics().callbacks("deferred"), 1);
    s.bot.shutdown().await;
    assert_eq!(texts_to(&fake, "zhangsan"), ["订单已发货"]);
}

#[tokio::test]
async fn a_wecom_api_failure_is_counted_and_the_callback_still_answered() {
    let fake = fake().await;
    fake.inject(&wecom_sdk_sim::Fault::errcode_on(
        "/cgi-bin/message/send",
        -1,
        10,
    ));
    let s = serve(builder(&fake).build().unwrap()).await;
    let d = sender(&s.url).send(&Inbound::text("lisi", "全部")).await;
    assert_eq!(d.reply_text().as_deref(), Some("先看文字"));
    assert!(eventually(|| s.bot.metrics().active_failures() == 2).await);
    assert_eq!(s.bot.metrics().active_sent(), 0);
}

#[tokio::test]
async fn schedules_are_judged_at_the_messages_create_time() {
    let rules = r#"
timezone = "Asia/Shanghai"
[schedules.open]
windows = [{ days = "mon-sun", start = "09:00", end = "21:00" }]

[[rules]]
id = "open"
fallback = true
schedule = "open"
reply = "客服马上回复您。"

[[rules]]
id = "closed"
fallback = true
schedule = "open"
off_hours = true
reply = "现在是休息时间（{time}）。"
"#;
    let bot = Bot::builder()
        .callback(TOKEN, AES_KEY, CORP_ID)
        .engine(Engine::new(RuleSet::from_toml_str(rules).unwrap()))
        .build()
        .unwrap();
    let s = serve(bot).await;
    let send = sender(&s.url);
    // 2025-03-05 10:00 and 23:30 in Shanghai, whatever the clock says now.
    let morning = send
        .send(&Inbound::text("u", "在吗").at_unix(1_741_140_000))
        .await;
    assert_eq!(morning.reply_text().as_deref(), Some("客服马上回复您。"));
    let night = send
        .send(&Inbound::text("u", "在吗").at_unix(1_741_188_600))
        .await;
    assert_eq!(
        night.reply_text().as_deref(),
        Some("现在是休息时间（23:30）。")
    );
}

/// The test bot with `rules` (TOML) instead of the usual ones, served.
async fn serve_rules(fake: &wecom_sdk_sim::FakeWeCom, rules: &str) -> Served {
    serve(
        builder(fake)
            .engine(Engine::new(RuleSet::from_toml_str(rules).unwrap()))
            .build()
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_rule_asks_and_the_next_app_message_is_read_in_its_step() {
    let fake = fake().await;
    let rules = r#"
[[rules]]
id = "return"
keywords = ["退换货"]
reply = "请选择订单类型：1 实物 2 虚拟"
ask = { step = "return-type", answers = { "1" = "return-physical" }, otherwise = "return-again" }

[[rules]]
id = "return-physical"
step = "return-type"
reply = "请把商品寄回。"

[[rules]]
id = "return-again"
step = "return-type"
reply = "请回复 1 或 2。"

[[rules]]
id = "fallback"
fallback = true
reply = "收到！"
"#;
    let s = serve_rules(&fake, rules).await;
    let send = sender(&s.url);
    let mut said = Vec::new();
    for (user, text) in [
        ("zhangsan", "我要退换货"),
        ("lisi", "1"),
        ("zhangsan", "嗯？"),
        ("zhangsan", "1"),
        ("zhangsan", "1"),
    ] {
        said.push(send.send(&Inbound::text(user, text)).await.reply_text());
    }
    assert_eq!(
        said,
        [
            Some("请选择订单类型：1 实物 2 虚拟".to_owned()),
            Some("收到！".to_owned()), // another customer: not in the step
            Some("请回复 1 或 2。".to_owned()),
            Some("请把商品寄回。".to_owned()),
            Some("收到！".to_owned()), // the step ended with the answer
        ]
    );
}

#[tokio::test]
async fn an_unanswered_question_gets_its_time_out_reply_actively() {
    let fake = fake().await;
    let rules = r#"
[[rules]]
id = "return"
keywords = ["退换货"]
reply = "请选择订单类型：1 实物 2 虚拟"
ask = { step = "return-type", answers = { "1" = "return-physical" }, on_timeout = "return-timeout", timeout = "1s" }

[[rules]]
id = "return-physical"
step = "return-type"
reply = "请把商品寄回。"

[[rules]]
id = "return-timeout"
step = "return-type"
reply = "退换货申请已超时，需要时请重新发送「退换货」。"
"#;
    let s = serve_rules(&fake, rules).await;
    let send = sender(&s.url);
    let asked = send.send(&Inbound::text("zhangsan", "退换货")).await;
    assert_eq!(
        asked.reply_text().as_deref(),
        Some("请选择订单类型：1 实物 2 虚拟")
    );
    // lisi answers in time: no time-out reply for lisi.
    send.send(&Inbound::text("lisi", "退换货")).await;
    let answered = send.send(&Inbound::text("lisi", "1")).await;
    assert_eq!(answered.reply_text().as_deref(), Some("请把商品寄回。"));
    assert!(eventually(|| !texts_to(&fake, "zhangsan").is_empty()).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        texts_to(&fake, "zhangsan"),
        ["退换货申请已超时，需要时请重新发送「退换货」。"]
    );
    assert!(texts_to(&fake, "lisi").is_empty());
}
