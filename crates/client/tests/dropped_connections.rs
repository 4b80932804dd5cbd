//! Transport failures over real sockets: the simulator closes connections unanswered
//! (`Fault::DropConnections`). Idempotent calls are repeated with backoff, within the
//! policy; plain POSTs are not repeated.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

mod support;

use serde_json::Value;
use wecom_sdk_client::{Client, Kind};
use wecom_sdk_sim::{FakeWeCom, Fault};

/// A client with a warm token (so only API requests meet the dropped connections).
async fn client(fake: &FakeWeCom) -> Client {
    let policy = support::fast_retries();
    let c = Client::builder()
        .corp_id(support::CORP)
        .secret(support::SECRET)
        .base_url(fake.base_url())
        .retry_policy(policy)
        .build()
        .unwrap();
    c.access_token().await.unwrap();
    c
}

#[tokio::test]
async fn idempotent_calls_survive_dropped_connections() {
    let fake = support::fake().await;
    let c = client(&fake).await;
    fake.inject(&Fault::DropConnections { count: 2 });
    let answer: Value = c
        .get("/cgi-bin/user/get", &[("userid", "zhangsan")])
        .await
        .unwrap();
    assert_eq!(answer["errcode"], 0);
    assert_eq!(fake.dropped_connections(), 2, "two drops, then the answer");
    assert_eq!(fake.calls_to("/cgi-bin/user/get").len(), 1);
}

#[tokio::test]
async fn plain_posts_are_not_repeated_after_a_drop() {
    let fake = support::fake().await;
    let c = client(&fake).await;
    fake.inject(&Fault::DropConnections { count: 1 });
    let err = c
        .post::<_, Value>("/cgi-bin/message/send", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &Kind::Transport);
    assert!(err.is_retryable());
    assert_eq!(fake.dropped_connections(), 1);
    assert!(fake.calls_to("/cgi-bin/message/send").is_empty());
}

#[tokio::test]
async fn retries_are_bounded() {
    let fake = support::fake().await;
    let c = client(&fake).await;
    fake.inject(&Fault::DropConnections { count: 100 });
    let err = c
        .get::<Value>("/cgi-bin/user/get", &[("userid", "zhangsan")])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &Kind::Transport);
    assert_eq!(fake.dropped_connections(), 3, "one attempt and two repeats");
}
