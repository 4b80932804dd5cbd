//! The callback sender over real sockets against a small echo bot written here with axum
//! and `wecom-sdk-crypto`: URL verification, passive replies decrypted and typed,
//! re-delivery after a timeout, a 500 counted as a failure, AI-bot JSON, every `Inbound`
//! parsed by `wecom-sdk-message`, a scripted day with one failing expectation, chat mode
//! and the load generator.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use wecom_sdk_crypto::CallbackCrypto;
use wecom_sdk_message::aibot::AiBotMessage;
use wecom_sdk_message::callback::{Body, Message};
use wecom_sdk_message::reply::{Article, Reply};
use wecom_sdk_sim::load::{self, LoadConfig, Stop};
use wecom_sdk_sim::script::{Script, Verdict};
use wecom_sdk_sim::{Answer, AttemptOutcome, CallbackSender, FakeConfig, FakeWeCom, Inbound, chat};

const TOKEN: &str = "QDG6eK";
const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const CORP: &str = "wx5823bf96d3bd56c7";

/// The echo bot: answers "echo: <text>", and misbehaves on request.
struct Bot {
    crypto: CallbackCrypto,
    json: bool,
    /// Deliveries seen per message id.
    seen: Mutex<HashMap<String, u32>>,
}

async fn verify(State(bot): State<Arc<Bot>>, Query(q): Query<HashMap<String, String>>) -> Response {
    // (axum's Query turns `+` into a space; the sender percent-encodes, so it survives.)
    match bot.crypto.verify_url(
        &q["msg_signature"],
        &q["timestamp"],
        &q["nonce"],
        &q["echostr"],
    ) {
        Ok(echo) => echo.into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

async fn callback(
    State(bot): State<Arc<Bot>>,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    let (sig, ts, nonce) = (&q["msg_signature"], &q["timestamp"], &q["nonce"]);
    if bot.json {
        let plain = match bot.crypto.decrypt_json_message(sig, ts, nonce, &body) {
            Ok(p) => p,
            Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        };
        let msg = AiBotMessage::from_json(&plain).unwrap();
        let reply = serde_json::json!({"msgtype": "text", "text": {"content": format!("echo: {} in {:?}", msg.text().unwrap_or_default(), msg.chatid)}});
        return bot
            .crypto
            .encrypt_json_reply(&reply.to_string(), ts, nonce)
            .unwrap()
            .into_response();
    }
    let plain = match bot.crypto.decrypt_message(sig, ts, nonce, &body) {
        Ok(p) => p,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let msg = Message::from_xml(&plain).unwrap();
    let id = msg.dedup_key();
    let attempt = {
        let mut seen = bot.seen.lock().unwrap();
        let n = seen.entry(id).or_default();
        *n += 1;
        *n
    };
    let text = match &msg.body {
        Body::Text { content } => content.clone(),
        other => format!("{other:?}"),
    };
    if text == "slow twice" && attempt <= 2 {
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    if text == "fail once" && attempt == 1 {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    if text == "always 500" {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    if text == "silence" {
        return StatusCode::OK.into_response();
    }
    if text == "forge" {
        return bot
            .crypto
            .encrypt_reply(
                &Reply::text("x").to_xml(&msg.header.from, &msg.header.to, 1),
                ts,
                nonce,
            )
            .unwrap()
            .replace("<MsgSignature><![CDATA[", "<MsgSignature><![CDATA[0")
            .into_response();
    }
    let reply = if text == "news" {
        Reply::news(vec![Article {
            title: "营业时间".into(),
            description: "9:00–18:00".into(),
            pic_url: String::new(),
            url: "https://example.com/hours".into(),
        }])
    } else {
        Reply::text(format!("echo: {text}"))
    };
    let xml = reply.to_xml(&msg.header.from, &msg.header.to, msg.header.create_time);
    bot.crypto
        .encrypt_reply(&xml, ts, nonce)
        .unwrap()
        .into_response()
}

async fn start_bot(json: bool) -> (String, Arc<Bot>) {
    let receive_id = if json { "" } else { CORP };
    let bot = Arc::new(Bot {
        crypto: CallbackCrypto::new(TOKEN, KEY, receive_id).unwrap(),
        json,
        seen: Mutex::new(HashMap::new()),
    });
    let app = Router::new()
        .route("/cb", get(verify).post(callback))
        .with_state(Arc::clone(&bot));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cb", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, bot)
}

fn sender(url: &str) -> CallbackSender {
    CallbackSender::new(url, TOKEN, KEY, CORP)
        .unwrap()
        .timeout(Duration::from_millis(200))
}

#[tokio::test]
async fn verification_and_passive_replies() {
    let (url, _bot) = start_bot(false).await;
    let sender = sender(&url).agent(1_000_002);
    sender.verify_url().await.expect("the bot echoes");
    let d = sender.send(&Inbound::text("zhangsan", "几点下班？")).await;
    assert_eq!(d.attempts.len(), 1);
    assert_eq!(d.attempts[0].outcome, AttemptOutcome::Ok);
    let Some(Answer::Passive(doc)) = &d.answer else {
        panic!("{:?}", d.answer)
    };
    assert_eq!(
        (doc.to_user.as_str(), doc.from_corp.as_str()),
        ("zhangsan", CORP)
    );
    assert_eq!(doc.reply, Some(Reply::text("echo: 几点下班？")));
    assert_eq!(d.reply_text().as_deref(), Some("echo: 几点下班？"));

    let news = sender.send(&Inbound::text("zhangsan", "news")).await;
    assert_eq!(news.reply_text().as_deref(), Some("营业时间"));
    assert_eq!(
        chat::render(&news),
        "bot: [news] 营业时间 — https://example.com/hours"
    );
    let silent = sender.send(&Inbound::text("zhangsan", "silence")).await;
    assert_eq!(silent.answer, Some(Answer::Empty));
    let forged = sender.send(&Inbound::text("zhangsan", "forge")).await;
    assert!(
        matches!(&forged.answer, Some(Answer::Invalid { reason, .. }) if reason.contains("-40001")),
        "{:?}",
        forged.answer
    );

    // A bot with another Token fails verification with a readable reason.
    let wrong = CallbackSender::new(&url, "OtherToken1", KEY, CORP).unwrap();
    let e = wrong.verify_url().await.unwrap_err();
    assert!(e.to_string().contains("HTTP 400"), "{e}");
}

#[tokio::test]
async fn redelivers_like_wecom() {
    let (url, bot) = start_bot(false).await;
    let sender = sender(&url);
    let slow = sender.send(&Inbound::text("lisi", "slow twice")).await;
    let outcomes: Vec<_> = slow.attempts.iter().map(|a| a.outcome.clone()).collect();
    assert_eq!(
        outcomes,
        vec![
            AttemptOutcome::Timeout,
            AttemptOutcome::Timeout,
            AttemptOutcome::Ok
        ]
    );
    assert_eq!(slow.redeliveries(), 2, "answered once, re-delivered twice");
    assert_eq!(slow.reply_text().as_deref(), Some("echo: slow twice"));
    let id = Message::from_xml(&slow.inbound.to_xml(CORP, None))
        .unwrap()
        .dedup_key();
    assert_eq!(
        bot.seen.lock().unwrap()[&id],
        3,
        "the identical request, three times"
    );

    let once = sender.send(&Inbound::text("lisi", "fail once")).await;
    assert_eq!(once.attempts[0].outcome, AttemptOutcome::Status(500));
    assert_eq!(once.attempts.len(), 2);
    let always = sender.send(&Inbound::text("lisi", "always 500")).await;
    assert_eq!(
        always.attempts.len(),
        4,
        "the first delivery and 3 re-deliveries"
    );
    assert!(!always.delivered());
    let none = sender
        .redeliveries(0)
        .send(&Inbound::text("lisi", "always 500"))
        .await;
    assert_eq!(none.attempts.len(), 1);

    let nowhere = CallbackSender::new("http://127.0.0.1:9/cb", TOKEN, KEY, CORP)
        .unwrap()
        .redeliveries(1)
        .send(&Inbound::text("lisi", "hi"))
        .await;
    assert!(matches!(
        nowhere.attempts[0].outcome,
        AttemptOutcome::Connection(_)
    ));
    assert_eq!(nowhere.attempts.len(), 2);
}

#[tokio::test]
async fn aibot_json_callbacks_in_groups() {
    let (url, _bot) = start_bot(true).await;
    let sender = CallbackSender::new(&url, TOKEN, KEY, "")
        .unwrap()
        .aibot("aib-1");
    sender.verify_url().await.unwrap();
    let d = sender
        .send(
            &Inbound::text("zhangsan", "SF1234567890 到哪了")
                .mention("客服")
                .in_chat("wrGroup1"),
        )
        .await;
    assert_eq!(
        d.reply_text().as_deref(),
        Some("echo: @客服 SF1234567890 到哪了 in Some(\"wrGroup1\")")
    );
}

#[test]
fn every_inbound_parses_with_the_message_crate() {
    let notice = wecom_sdk_sim::KfNotice {
        token: "T1".into(),
        open_kfid: "wk1".into(),
        msgid: "m".into(),
        welcome_code: None,
    };
    let all = [
        Inbound::text("u", "a]]>b"),
        Inbound::image("u", "http://p", "m1"),
        Inbound::voice("u", "m2", "amr"),
        Inbound::video("u", "m3", "t3"),
        Inbound::location("u", 23.1, 113.3, "广州塔"),
        Inbound::link("u", "t", "d", "http://l"),
        Inbound::menu_click("u", "MENU_HOURS"),
        Inbound::menu_view("u", "http://v"),
        Inbound::enter_agent("u"),
        Inbound::template_card_event("u", "btn_ok", "task1"),
        Inbound::kf_msg_or_event(&notice),
        Inbound::add_external_contact("zhangsan", "wmNew", "WELCOME1", "shop-door"),
        Inbound::external_chat_add_member("wrChat1", &["wmA", "wmB"], 3),
    ];
    let mut names = Vec::new();
    for inbound in all {
        let xml = inbound.stamped().to_xml(CORP, Some(1_000_002));
        let msg = Message::from_xml(&xml).unwrap_or_else(|e| panic!("{xml}: {e}"));
        assert!(!matches!(msg.body, Body::Unknown { .. }), "{xml}");
        if let Body::Event(e) = &msg.body {
            assert!(!format!("{e:?}").starts_with("Unknown"), "{xml}");
        }
        names.push(msg.body.type_name().to_owned());
    }
    assert_eq!(names.len(), 13);
    let text =
        Message::from_xml(&Inbound::text("u", "a]]>b").stamped().to_xml(CORP, None)).unwrap();
    assert_eq!(text.text().as_deref(), Some("a]]>b"));
    assert!(text.header.msg_id.is_some());
    let json = Inbound::text("u", "hi")
        .in_chat("wr1")
        .stamped()
        .to_aibot_json("aib");
    let m = AiBotMessage::from_json(&json).unwrap();
    assert_eq!(
        (
            m.chatid.as_deref(),
            m.chattype.as_str(),
            m.text().as_deref()
        ),
        (Some("wr1"), "group", Some("hi"))
    );
}

#[tokio::test]
async fn scripted_day_reports_each_expectation() {
    let (url, _bot) = start_bot(false).await;
    let fake = FakeWeCom::start(FakeConfig::new(CORP).customer("zhangsan", "wmVip", "王女士"))
        .await
        .unwrap();
    let script = Script::from_toml(
        r#"
date = "2026-12-01"
[[step]]
at = "09:30"
user = "zhangsan"
text = "几点下班？"
expect = "几点下班"

[[step]]
at = "22:30"
user = "lisi"
text = "silence"
expect_empty = true

[[step]]
user = "wmVip"
tags = ["etVip"]
text = "会员价"
expect = "不会出现的回复"
"#,
        "day.toml",
    )
    .unwrap();
    let transcript = script.play(&sender(&url), Some(&fake)).await.unwrap();
    assert_eq!((transcript.passed(), transcript.failed()), (2, 1));
    assert!(
        matches!(&transcript.entries[2].verdict, Verdict::Fail(why) if why.contains("不会出现的回复"))
    );
    assert_eq!(
        fake.customers()[0].tags,
        vec!["etVip".to_owned()],
        "tags set first"
    );
    // The scripted time is the message's CreateTime (09:30 Shanghai = 01:30 UTC).
    assert_eq!(
        transcript.entries[0].delivery.inbound.create_time(),
        Some(1_796_088_600)
    );
    let text = transcript.to_string();
    assert!(text.contains("  1. 09:30 zhangsan: 几点下班？"), "{text}");
    assert!(
        text.contains("FAIL: expected a reply containing \"不会出现的回复\""),
        "{text}"
    );
    assert!(text.ends_with("3 steps: 2 passed, 1 failed"), "{text}");
}

#[tokio::test]
async fn chat_mode_under_a_pipe() {
    let (url, _bot) = start_bot(false).await;
    let input: &[u8] = "你好\n/user lisi\n/time 22:30\n营业时间\n/click MENU_HOURS\n/bogus\n/tags vip\n/quit\nnever sent\n".as_bytes();
    let mut out = Vec::new();
    chat::run(&sender(&url), chat::ChatState::default(), input, &mut out)
        .await
        .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("zhangsan (now): 你好\nbot: echo: 你好\n"),
        "{out}"
    );
    assert!(
        out.contains("lisi (22:30): 营业时间\nbot: echo: 营业时间\n"),
        "{out}"
    );
    assert!(
        out.contains("lisi (22:30): [click MENU_HOURS]\nbot: echo: Event(Click"),
        "{out}"
    );
    assert!(out.contains("unknown command \"/bogus\""), "{out}");
    assert!(out.contains("tags need the simulator's API"), "{out}");
    assert!(!out.contains("never sent"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_counts_requests_latency_and_missing_replies() {
    let (url, _bot) = start_bot(false).await;
    let config = LoadConfig::new(&url, TOKEN, KEY, CORP)
        .customers(8)
        .stop(Stop::Count(200))
        .messages(vec!["你好".into(), "silence".into()])
        .progress(false);
    let report = load::run(&config, None).await.unwrap();
    assert_eq!(report.requests, 200);
    assert_eq!(report.errors, 0, "{report}");
    assert!(report.passive_replies > 50, "{report}");
    assert_eq!(
        report.missing,
        200 - report.passive_replies,
        "every `silence` got an empty 200"
    );
    assert_eq!(report.duplicates, 0);
    assert!(report.latency_ms.p50 > 0.0 && report.latency_ms.max >= report.latency_ms.p99);
    let json = serde_json::to_value(&report).unwrap();
    for field in [
        "requests",
        "errors",
        "requests_per_second",
        "duplicates",
        "missing",
    ] {
        assert!(json.get(field).is_some(), "{field}");
    }
    for p in ["p50", "p90", "p99", "max"] {
        assert!(json["latency_ms"][p].is_f64(), "{p}");
    }
    assert_eq!(json["target_rate"], serde_json::Value::Null);

    // Paced: 100 requests at 400/s are spread over a quarter of a second at least (the
    // last is due at 99/400 s), every one answered.
    let paced = LoadConfig::new(&url, TOKEN, KEY, CORP)
        .customers(8)
        .stop(Stop::Count(100))
        .messages(vec!["你好".into()])
        .rate(400.0)
        .progress(false);
    let report = load::run(&paced, None).await.unwrap();
    assert_eq!((report.requests, report.errors), (100, 0), "{report}");
    assert!(report.seconds >= 99.0 / 400.0, "{report}");
    assert_eq!(report.target_rate, Some(400.0));
    assert!(report.to_string().contains("paced at 400"), "{report}");

    let failing = LoadConfig::new("http://127.0.0.1:9/cb", TOKEN, KEY, CORP)
        .customers(2)
        .stop(Stop::Count(4))
        .progress(false);
    let report = load::run(&failing, None).await.unwrap();
    assert_eq!((report.requests, report.errors), (4, 4));
    assert_eq!(report.errors_by_kind.get("connect"), Some(&4));
}
