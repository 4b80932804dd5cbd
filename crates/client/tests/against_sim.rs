//! The client against the simulator's `FakeWeCom` — a fake that shares no code with the
//! client: bodies as WeCom receives them, `-1` repeated only where a repeat is safe and
//! with the duplicate check, 45009 never spun on, a deadline that holds, 42001 refreshed
//! once, 微信客服 session states, robot rate limits.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use wecom_sdk_client::{Client, Kind, ManualClock, RetryPolicy, WebhookClient};
use wecom_sdk_message::send::{
    AppMessage, Content, KfContent, KfMessage, Recipients, SyncMsgRequest, WebhookMessage,
};
use wecom_sdk_sim::{FakeConfig, FakeWeCom, Fault};

async fn fake() -> FakeWeCom {
    FakeWeCom::start(
        FakeConfig::new("ww1")
            .secret("s")
            .agent(1_000_002)
            .staff("zhangsan", "张三")
            .staff("lisi", "李四")
            .kf_account("wk1")
            .webhook_key("ROBOT-KEY-123"),
    )
    .await
    .unwrap()
}

fn client(fake: &FakeWeCom) -> Client {
    Client::builder()
        .corp_id("ww1")
        .secret("s")
        .agent_id(1_000_002)
        .base_url(fake.base_url())
        .retry_policy(support::fast_retries())
        .build()
        .unwrap()
}

fn sync_wk1() -> SyncMsgRequest {
    SyncMsgRequest {
        open_kfid: Some("wk1".to_owned()),
        ..SyncMsgRequest::default()
    }
}

#[tokio::test]
async fn message_send_posts_the_body_and_returns_the_result() {
    let fake = fake().await;
    let c = client(&fake);
    let msg = AppMessage::new(
        1_000_002,
        Recipients::users(["zhangsan", "nobody"]),
        Content::text("会议改到 3 点"),
    )
    .build()
    .unwrap();
    let result = c.message().send(&msg).await.unwrap();
    assert_eq!(result.invaliduser, "nobody");
    assert!(result.msgid.starts_with("simmsg"));
    let calls = fake.calls_to("/cgi-bin/message/send");
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].query,
        [("access_token".to_owned(), "<redacted>".to_owned())]
    );
    assert_eq!(
        calls[0].body,
        json!({"touser": "zhangsan|nobody", "msgtype": "text", "agentid": 1_000_002, "text": {"content": "会议改到 3 点"}})
    );
    // The message can be recalled with the id WeCom gave.
    c.message().recall(&result.msgid).await.unwrap();

    // A message over the limits never leaves.
    let long = AppMessage::new(1, Recipients::all(), Content::text("长".repeat(700)));
    let err = c.message().send(&long).await.unwrap_err();
    assert_eq!(err.kind(), &Kind::Invalid);
    assert!(err.errmsg().starts_with("text.content: 2100 bytes"));
    assert_eq!(fake.calls_to("/cgi-bin/message/send").len(), 1);
}

#[tokio::test]
async fn a_busy_send_is_repeated_with_the_duplicate_check() {
    let fake = fake().await;
    fake.inject(&Fault::errcode_on("/cgi-bin/message/send", -1, 1));
    let c = client(&fake);
    let msg = AppMessage::new(
        1_000_002,
        Recipients::users(["zhangsan"]),
        Content::text("x"),
    );
    c.message().send(&msg).await.unwrap();
    let calls = fake.calls_to("/cgi-bin/message/send");
    assert_eq!(calls.iter().map(|c| c.errcode).collect::<Vec<_>>(), [-1, 0]);
    assert_eq!(calls[0].body.get("enable_duplicate_check"), None);
    assert_eq!(calls[1].body["enable_duplicate_check"], 1);
    assert_eq!(calls[1].body["duplicate_check_interval"], 1800);
    assert_eq!(fake.sent_messages().len(), 1, "delivered once");
}

#[tokio::test]
async fn busy_is_retried_only_where_a_repeat_is_safe_and_45009_never() {
    let fake = fake().await;
    let c = client(&fake);
    fake.kf_customer_says("wk1", "wm1", "在吗");
    // Idempotent: -1 twice, then success.
    fake.inject(&Fault::errcode_on("/cgi-bin/kf/sync_msg", -1, 2));
    let page = c.kf().sync_msg(&sync_wk1()).await.unwrap();
    assert_eq!(page.msg_list.len(), 1);
    assert_eq!(fake.calls_to("/cgi-bin/kf/sync_msg").len(), 3);
    // Not idempotent: a plain POST is not repeated on -1.
    fake.inject(&Fault::errcode_on("/cgi-bin/kf/send_msg", -1, 1));
    let err = c
        .kf()
        .send_msg(&KfMessage::new("wm1", "wk1", KfContent::text("hi")))
        .await
        .unwrap_err();
    assert_eq!(err.errcode(), Some(-1));
    assert_eq!(fake.calls_to("/cgi-bin/kf/send_msg").len(), 1);
    // Rate limited: returned at once, even for idempotent calls.
    fake.inject(&Fault::errcode_on("/cgi-bin/kf/sync_msg", 45009, 1));
    let err = c.kf().sync_msg(&sync_wk1()).await.unwrap_err();
    assert!(err.is_rate_limited());
    assert_eq!(fake.calls_to("/cgi-bin/kf/sync_msg").len(), 4);
    // WeCom's own validation comes back typed: outside the 48-hour window.
    let err = c
        .kf()
        .send_msg(&KfMessage::new("wmStranger", "wk1", KfContent::text("hi")))
        .await
        .unwrap_err();
    assert_eq!(err.errcode(), Some(95002));
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_call_repeated() {
    let fake = fake().await;
    let c = client(&fake);
    let msg = AppMessage::new(
        1_000_002,
        Recipients::users(["zhangsan"]),
        Content::text("a"),
    );
    c.message().send(&msg).await.unwrap();
    fake.inject(&Fault::ExpireTokens);
    c.message().send(&msg).await.unwrap();
    let codes: Vec<(String, i64)> = fake
        .calls()
        .iter()
        .map(|c| (c.path.clone(), c.errcode))
        .collect();
    let gettoken = "/cgi-bin/gettoken".to_owned();
    let send = "/cgi-bin/message/send".to_owned();
    assert_eq!(
        codes,
        [
            (gettoken.clone(), 0),
            (send.clone(), 0),
            (send.clone(), 42001),
            (gettoken, 0),
            (send, 0)
        ]
    );
}

#[tokio::test]
async fn a_call_past_its_deadline_is_a_timeout() {
    let fake = fake().await;
    fake.inject(&Fault::errcode_on("/cgi-bin/kf/sync_msg", -1, 10));
    let slow = RetryPolicy {
        max_retries: 10,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(50),
        deadline: Duration::from_millis(120),
    };
    let c = Client::builder()
        .corp_id("ww1")
        .secret("s")
        .base_url(fake.base_url())
        .retry_policy(slow)
        .build()
        .unwrap();
    let err = c.kf().sync_msg(&sync_wk1()).await.unwrap_err();
    assert_eq!(err.kind(), &Kind::Timeout);
}

#[tokio::test]
async fn service_state_and_transfer() {
    let fake = fake().await;
    let c = client(&fake);
    let code = c
        .kf()
        .transfer("wk1", "wm1", 3, Some("lisi"))
        .await
        .unwrap();
    assert!(code.starts_with("SIMMSGCODE"));
    let state = c.kf().service_state("wk1", "wm1").await.unwrap();
    assert_eq!(
        (state.service_state, state.servicer_userid.as_str()),
        (3, "lisi")
    );
    assert_eq!(
        fake.calls_to("/cgi-bin/kf/service_state/trans")[0].body,
        json!({"open_kfid": "wk1", "external_userid": "wm1", "service_state": 3, "servicer_userid": "lisi"})
    );
    assert_eq!(fake.kf_service_state("wk1", "wm1"), (3, "lisi".to_owned()));
}

#[tokio::test]
async fn robots_keep_under_twenty_a_minute_and_hide_their_key() {
    let fake = fake().await;
    let clock = Arc::new(ManualClock::at_unix(1_700_000_000));
    let robot = WebhookClient::new("ROBOT-KEY-123")
        .base_url(fake.base_url())
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
    assert_eq!(
        fake.calls_to("/cgi-bin/webhook/send").len(),
        20,
        "refused before sending"
    );
    clock.advance(Duration::from_secs(60));
    fake.advance(Duration::from_secs(60));
    robot
        .send(&WebhookMessage::markdown("**恢复**"))
        .await
        .unwrap();
    let calls = fake.calls_to("/cgi-bin/webhook/send");
    assert_eq!(calls[0].query, [("key".to_owned(), "ROBO…".to_owned())]);
    assert_eq!(
        calls[20].body,
        json!({"msgtype": "markdown", "markdown": {"content": "**恢复**"}})
    );
    assert!(calls.iter().all(|c| c.errcode == 0));
    assert!(!format!("{robot:?}").contains("ROBOT-KEY"));
    // WeCom's own errors come back typed.
    let unknown = WebhookClient::new("OTHER-KEY").base_url(fake.base_url());
    assert_eq!(
        unknown
            .send(&WebhookMessage::text("x"))
            .await
            .unwrap_err()
            .errcode(),
        Some(93000)
    );
}

fn text_to_zhangsan(agent: u64) -> AppMessage {
    AppMessage::new(
        agent,
        Recipients::users(["zhangsan"]),
        Content::text("您好"),
    )
    .build()
    .unwrap()
}

/// One retry loop inside the policy: a send answered -1 every time is tried
/// 1 + `max_retries` times, the repeats backed off (≥ half the base delay) and flagged
/// with the duplicate check, the first not.
#[tokio::test]
async fn a_busy_send_stays_inside_the_retry_policy() {
    let fake = fake().await;
    let c = Client::builder()
        .corp_id("ww1")
        .secret("s")
        .agent_id(1_000_002)
        .base_url(fake.base_url())
        .retry_policy(RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(200),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    fake.inject(&Fault::errcode_on("/cgi-bin/message/send", -1, 10));
    let err = c
        .message()
        .send(&text_to_zhangsan(1_000_002))
        .await
        .unwrap_err();
    assert_eq!(err.errcode(), Some(-1));
    let calls = fake.calls_to("/cgi-bin/message/send");
    assert_eq!(calls.len(), 3, "the first attempt and two retries");
    assert_eq!(calls[0].body.get("enable_duplicate_check"), None);
    assert!(
        calls[1..]
            .iter()
            .all(|c| c.body["enable_duplicate_check"] == 1)
    );
    for pair in calls.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at).unwrap();
        assert!(gap >= Duration::from_millis(100), "backed off: {gap:?}");
    }

    // No retries means one attempt.
    fake.inject(&Fault::Clear);
    fake.inject(&Fault::errcode_on("/cgi-bin/message/send", -1, 10));
    let none = Client::builder()
        .corp_id("ww1")
        .secret("s")
        .base_url(fake.base_url())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    none.message()
        .send(&text_to_zhangsan(1_000_002))
        .await
        .unwrap_err();
    assert_eq!(fake.calls_to("/cgi-bin/message/send").len(), 4);
}

/// The deadline bounds the whole send, repeats included.
#[tokio::test]
async fn a_send_never_outlives_its_deadline() {
    let fake = fake().await;
    let c = Client::builder()
        .corp_id("ww1")
        .secret("s")
        .base_url(fake.base_url())
        .retry_policy(RetryPolicy {
            max_retries: 10,
            base_delay: Duration::from_millis(100),
            deadline: Duration::from_millis(250),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    c.access_token().await.unwrap();
    fake.inject(&Fault::errcode_on("/cgi-bin/message/send", -1, 100));
    let err = c
        .message()
        .send(&text_to_zhangsan(1_000_002))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &Kind::Timeout);
    let calls = fake.calls_to("/cgi-bin/message/send").len();
    assert!((2..=4).contains(&calls), "{calls} attempts fit in 250 ms");
}

/// `agent_id` is the default agent of app messages; another agent is refused.
#[tokio::test]
async fn the_client_agent_is_the_default_and_a_guard() {
    let fake = fake().await;
    let c = client(&fake);
    c.message().send(&text_to_zhangsan(0)).await.unwrap();
    assert_eq!(
        fake.calls_to("/cgi-bin/message/send")[0].body["agentid"],
        1_000_002
    );
    let err = c
        .message()
        .send(&text_to_zhangsan(1_000_099))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &Kind::Invalid);
    assert_eq!(
        fake.calls_to("/cgi-bin/message/send").len(),
        1,
        "nothing sent"
    );
}

/// A transport error keeps its cause as `source()`, with no URL (so no token or secret).
#[tokio::test]
async fn a_transport_error_has_its_cause_without_secrets() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let c = Client::builder()
        .corp_id("ww1")
        .secret("TOP-SECRET-VALUE")
        .base_url(url)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = c.access_token().await.unwrap_err();
    assert_eq!(err.kind(), &Kind::Transport);
    let mut chain = Vec::new();
    let mut cause: Option<&dyn std::error::Error> = Some(&err);
    while let Some(e) = cause {
        chain.push(e.to_string());
        cause = e.source();
    }
    assert!(chain.len() >= 2, "the cause is kept: {chain:?}");
    let text = chain.join(" / ");
    assert!(
        !text.contains("TOP-SECRET") && !text.contains("corpsecret"),
        "{text}"
    );
}

/// A base URL that cannot work is a configuration error at `build()`.
#[test]
fn an_unusable_base_url_fails_at_build() {
    for url in ["not a url", "ftp://example.com", "qyapi.weixin.qq.com"] {
        let err = Client::builder()
            .corp_id("ww1")
            .secret("s")
            .base_url(url)
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), &Kind::Config, "{url}");
    }
}

#[tokio::test]
async fn profiles_and_the_welcome_message() {
    let fake = FakeWeCom::start(
        FakeConfig::new("ww1")
            .secret("s")
            .agent(1_000_002)
            .staff("zhangsan", "张三")
            .customer("zhangsan", "wmLiLei", "李雷"),
    )
    .await
    .unwrap();
    let c = client(&fake);
    let member = c.user().get("zhangsan").await.unwrap();
    assert_eq!(
        (member.userid.as_str(), member.name.as_str()),
        ("zhangsan", "张三")
    );
    let err = c.user().get("nobody").await.unwrap_err();
    assert_eq!(err.errcode(), Some(60111));

    let customer = c.external_contact().get("wmLiLei").await.unwrap();
    assert_eq!(customer.external_contact.name, "李雷");
    assert_eq!(customer.follow_user[0].userid, "zhangsan");

    let welcome = wecom_sdk_message::send::WelcomeMsg::new("WC1").text("欢迎！新人指南在这里");
    c.external_contact()
        .send_welcome_msg(&welcome)
        .await
        .unwrap();
    let sent = fake.sent_messages();
    assert_eq!(sent[0].to, "welcome:WC1");
    assert_eq!(sent[0].text().as_deref(), Some("欢迎！新人指南在这里"));
    // A welcome code works once, and a failed welcome is never repeated.
    let again = c
        .external_contact()
        .send_welcome_msg(&welcome)
        .await
        .unwrap_err();
    assert_eq!(again.errcode(), Some(40058));
    assert_eq!(
        fake.calls_to("/cgi-bin/externalcontact/send_welcome_msg")
            .len(),
        2
    );
    // Empty welcomes never leave.
    let empty = c
        .external_contact()
        .send_welcome_msg(&wecom_sdk_message::send::WelcomeMsg::new("WC2"))
        .await
        .unwrap_err();
    assert_eq!(*empty.kind(), Kind::Invalid);
}

#[tokio::test]
async fn a_members_customers_are_listed_and_none_is_an_empty_list() {
    let fake = fake().await;
    fake.add_customer("zhangsan", "wmA", "甲");
    fake.add_customer("zhangsan", "wmB", "乙");
    let c = client(&fake);
    let mut ids = c.external_contact().list("zhangsan").await.unwrap();
    ids.sort();
    assert_eq!(ids, ["wmA", "wmB"]);
    // WeCom answers 84061 for a member without customers: an empty list here.
    assert!(c.external_contact().list("lisi").await.unwrap().is_empty());
    let err = c.external_contact().list("nobody").await.unwrap_err();
    assert_eq!(err.errcode(), Some(40003));
}
