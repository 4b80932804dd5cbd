//! Endpoints, retries and time over loopback against a fake WeCom that records what the
//! client sent: request bodies asserted, `-1` retried only where a repeat is safe, 45009
//! never spun on, `sync_all` paging through empty pages, refresh ahead with a manual
//! clock, robot rate limits.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::type_complexity,
    clippy::default_trait_access,
    reason = "tests"
)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use serde_json::{Value, json};
use wecom_sdk_client::api::kf::MemoryCursorStore;
use wecom_sdk_client::{Client, Kind, ManualClock, RetryPolicy, WebhookClient};
use wecom_sdk_message::send::{
    AppMessage, Content, KfContent, KfMessage, Recipients, WebhookMessage,
};

/// A fake WeCom: scripted answers per path, every request recorded.
#[derive(Default)]
struct Fake {
    gettoken_calls: AtomicUsize,
    /// (path, query, body) of every API request.
    seen: Mutex<Vec<(String, Vec<(String, String)>, Value)>>,
    /// Per path: answers to give, in order; then `{"errcode":0}`.
    script: Mutex<Vec<(String, VecDeque<Value>)>>,
}

impl Fake {
    fn answer(&self, path: &str, answers: Vec<Value>) {
        let mut script = self.script.lock().unwrap();
        match script.iter_mut().find(|(p, _)| p == path) {
            Some((_, queued)) => queued.extend(answers),
            None => script.push((path.to_owned(), answers.into())),
        }
    }

    fn requests(&self, path: &str) -> Vec<(Vec<(String, String)>, Value)> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _, _)| p == path)
            .map(|(_, q, b)| (q.clone(), b.clone()))
            .collect()
    }
}

async fn api(
    State(fake): State<Arc<Fake>>,
    Path(rest): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
    body: Option<Json<Value>>,
) -> Json<Value> {
    let path = format!("/cgi-bin/{rest}");
    fake.seen
        .lock()
        .unwrap()
        .push((path.clone(), q, body.map_or(Value::Null, |b| b.0)));
    let mut script = fake.script.lock().unwrap();
    let next = script
        .iter_mut()
        .find(|(p, _)| *p == path)
        .and_then(|(_, answers)| answers.pop_front());
    Json(next.unwrap_or_else(|| json!({"errcode": 0, "errmsg": "ok"})))
}

async fn serve() -> (String, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    let app = Router::new()
        .route(
            "/cgi-bin/gettoken",
            get(|State(f): State<Arc<Fake>>| async move {
                let n = f.gettoken_calls.fetch_add(1, Ordering::SeqCst) + 1;
                Json(json!({"errcode": 0, "errmsg": "ok", "access_token": format!("tok-{n}"), "expires_in": 7200}))
            }),
        )
        .route("/cgi-bin/{*rest}", post(api).get(api))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), fake)
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
        ..RetryPolicy::default()
    }
}

fn client(base: &str) -> Client {
    Client::builder()
        .corp_id("ww1")
        .secret("s")
        .agent_id(1_000_002)
        .base_url(base)
        .retry_policy(fast_retries())
        .build()
        .unwrap()
}

#[tokio::test]
async fn message_send_posts_the_body_and_returns_the_result() {
    let (base, fake) = serve().await;
    fake.answer(
        "/cgi-bin/message/send",
        vec![json!({"errcode": 0, "errmsg": "ok", "invaliduser": "nobody", "msgid": "MSGID"})],
    );
    let c = client(&base);
    let msg = AppMessage::new(
        1_000_002,
        Recipients::users(["zhangsan", "nobody"]),
        Content::text("会议改到 3 点"),
    )
    .build()
    .unwrap();
    let result = c.message().send(&msg).await.unwrap();
    assert_eq!(
        (result.invaliduser.as_str(), result.msgid.as_str()),
        ("nobody", "MSGID")
    );
    let sent = fake.requests("/cgi-bin/message/send");
    assert_eq!(sent.len(), 1);
    let (query, body) = &sent[0];
    assert_eq!(query, &[("access_token".to_owned(), "tok-1".to_owned())]);
    assert_eq!(
        body,
        &json!({"touser": "zhangsan|nobody", "msgtype": "text", "agentid": 1_000_002, "text": {"content": "会议改到 3 点"}})
    );

    // A message over the limits never leaves.
    let long = AppMessage::new(1, Recipients::all(), Content::text("长".repeat(700)));
    let err = c.message().send(&long).await.unwrap_err();
    assert_eq!(err.kind(), &Kind::Invalid);
    assert!(err.errmsg().starts_with("text.content: 2100 bytes"));
    assert_eq!(fake.requests("/cgi-bin/message/send").len(), 1);
}

#[tokio::test]
async fn a_busy_send_is_repeated_with_the_duplicate_check() {
    let (base, fake) = serve().await;
    fake.answer(
        "/cgi-bin/message/send",
        vec![json!({"errcode": -1, "errmsg": "system busy"})],
    );
    let c = client(&base);
    let msg = AppMessage::new(1_000_002, Recipients::users(["u"]), Content::text("x"));
    c.message().send(&msg).await.unwrap();
    let sent = fake.requests("/cgi-bin/message/send");
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].1.get("enable_duplicate_check"), None);
    assert_eq!(sent[1].1["enable_duplicate_check"], 1);
    assert_eq!(sent[1].1["duplicate_check_interval"], 1800);
}

#[tokio::test]
async fn busy_is_retried_only_where_a_repeat_is_safe_and_45009_never() {
    let (base, fake) = serve().await;
    let c = client(&base);
    // Idempotent: -1 twice, then success.
    fake.answer(
        "/cgi-bin/kf/sync_msg",
        vec![
            json!({"errcode": -1, "errmsg": "busy"}),
            json!({"errcode": -1, "errmsg": "busy"}),
        ],
    );
    let page = c.kf().sync_msg(&Default::default()).await.unwrap();
    assert!(!page.more());
    assert_eq!(fake.requests("/cgi-bin/kf/sync_msg").len(), 3);
    // Not idempotent: a plain POST is not repeated on -1.
    fake.answer(
        "/cgi-bin/kf/send_msg",
        vec![json!({"errcode": -1, "errmsg": "busy"})],
    );
    let err = c
        .kf()
        .send_msg(&KfMessage::new("wm", "wk", KfContent::text("hi")))
        .await
        .unwrap_err();
    assert_eq!(err.errcode(), Some(-1));
    assert_eq!(fake.requests("/cgi-bin/kf/send_msg").len(), 1);
    // Rate limited: returned at once, even for idempotent calls.
    fake.answer(
        "/cgi-bin/kf/sync_msg",
        vec![json!({"errcode": 45009, "errmsg": "api freq out of limit"})],
    );
    let err = c.kf().sync_msg(&Default::default()).await.unwrap_err();
    assert!(err.is_rate_limited());
    assert_eq!(fake.requests("/cgi-bin/kf/sync_msg").len(), 4);
}

#[tokio::test]
async fn sync_all_pages_while_has_more_even_through_empty_pages() {
    let (base, fake) = serve().await;
    fake.answer("/cgi-bin/kf/sync_msg", vec![
        json!({"errcode": 0, "next_cursor": "c1", "has_more": 1, "msg_list": [{"msgid": "m1", "origin": 3, "msgtype": "text", "text": {"content": "你好"}}]}),
        json!({"errcode": 0, "next_cursor": "c2", "has_more": 1, "msg_list": []}),
        json!({"errcode": 0, "next_cursor": "c3", "has_more": 0, "msg_list": [{"msgid": "m2", "origin": 3, "msgtype": "text", "text": {"content": "在吗"}}]}),
    ]);
    let c = client(&base);
    let cursors = MemoryCursorStore::default();
    let all = c
        .kf()
        .sync_all("wk1", Some("CALLBACK_TOKEN"), &cursors)
        .await
        .unwrap();
    let ids: Vec<&str> = all.iter().map(|m| m.msgid.as_str()).collect();
    assert_eq!(ids, ["m1", "m2"]);
    let sent = fake.requests("/cgi-bin/kf/sync_msg");
    let cursors_sent: Vec<Value> = sent.iter().map(|(_, b)| b["cursor"].clone()).collect();
    assert_eq!(cursors_sent, [Value::Null, json!("c1"), json!("c2")]);
    assert_eq!(sent[0].1["token"], "CALLBACK_TOKEN");
    // The next run starts from the saved cursor.
    c.kf().sync_all("wk1", None, &cursors).await.unwrap();
    assert_eq!(fake.requests("/cgi-bin/kf/sync_msg")[3].1["cursor"], "c3");
}

#[tokio::test]
async fn service_state_and_transfer() {
    let (base, fake) = serve().await;
    fake.answer(
        "/cgi-bin/kf/service_state/get",
        vec![json!({"errcode": 0, "service_state": 3, "servicer_userid": "zhangsan"})],
    );
    fake.answer(
        "/cgi-bin/kf/service_state/trans",
        vec![json!({"errcode": 0, "msg_code": "MSG_CODE"})],
    );
    let c = client(&base);
    let state = c.kf().service_state("wk1", "wm1").await.unwrap();
    assert_eq!(
        (state.service_state, state.servicer_userid.as_str()),
        (3, "zhangsan")
    );
    assert_eq!(
        c.kf()
            .transfer("wk1", "wm1", 3, Some("lisi"))
            .await
            .unwrap(),
        "MSG_CODE"
    );
    assert_eq!(
        fake.requests("/cgi-bin/kf/service_state/trans")[0].1,
        json!({"open_kfid": "wk1", "external_userid": "wm1", "service_state": 3, "servicer_userid": "lisi"})
    );
}

#[tokio::test]
async fn tokens_are_renewed_ahead_of_expiry_by_the_clock() {
    let (base, fake) = serve().await;
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let c = Client::builder()
        .corp_id("ww1")
        .secret("s")
        .base_url(&base)
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(c.access_token().await.unwrap().expose(), "tok-1");
    clock.advance_ms(6_000_000); // 83 % of 7200 s: still fresh
    assert_eq!(c.access_token().await.unwrap().expose(), "tok-1");
    clock.advance_ms(200_000); // past 85 %: renewed ahead
    assert_eq!(c.access_token().await.unwrap().expose(), "tok-2");
    assert_eq!(fake.gettoken_calls.load(Ordering::SeqCst), 2);
    clock.advance_ms(7_200_000); // tok-2 expired outright
    assert_eq!(c.access_token().await.unwrap().expose(), "tok-3");
}

#[tokio::test]
async fn a_call_past_its_deadline_is_a_timeout() {
    let (base, fake) = serve().await;
    fake.answer("/cgi-bin/kf/sync_msg", vec![json!({"errcode": -1}); 10]);
    let slow = RetryPolicy {
        max_retries: 10,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(50),
        deadline: Duration::from_millis(120),
    };
    let c = Client::builder()
        .corp_id("ww1")
        .secret("s")
        .base_url(&base)
        .retry_policy(slow)
        .build()
        .unwrap();
    let err = c.kf().sync_msg(&Default::default()).await.unwrap_err();
    assert_eq!(err.kind(), &Kind::Timeout);
}

#[tokio::test]
async fn robots_keep_under_twenty_a_minute_and_hide_their_key() {
    let (base, fake) = serve().await;
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let robot = WebhookClient::new("ROBOT-KEY-123")
        .base_url(&base)
        .clock(clock.clone());
    for i in 0..20 {
        robot
            .send(&WebhookMessage::text(format!("第 {i} 条")))
            .await
            .unwrap();
    }
    let err = robot
        .send(&WebhookMessage::text("第 21 条"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &Kind::RateLimited);
    assert!(err.is_rate_limited());
    assert_eq!(fake.requests("/cgi-bin/webhook/send").len(), 20);
    clock.advance_ms(60_000);
    robot
        .send(&WebhookMessage::markdown("**恢复**"))
        .await
        .unwrap();
    let sent = fake.requests("/cgi-bin/webhook/send");
    assert_eq!(sent[0].0, [("key".to_owned(), "ROBOT-KEY-123".to_owned())]);
    assert_eq!(
        sent[20].1,
        json!({"msgtype": "markdown", "markdown": {"content": "**恢复**"}})
    );
    assert!(!format!("{robot:?}").contains("ROBOT-KEY"));
    // WeCom's own errors come back typed.
    fake.answer(
        "/cgi-bin/webhook/send",
        vec![json!({"errcode": 93000, "errmsg": "invalid webhook url"})],
    );
    assert_eq!(
        robot
            .send(&WebhookMessage::text("x"))
            .await
            .unwrap_err()
            .errcode(),
        Some(93000)
    );
}
