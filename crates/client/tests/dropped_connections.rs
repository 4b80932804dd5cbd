//! Transport failures over real sockets: a server that drops the first connections, then
//! answers. Idempotent calls are repeated with backoff; plain POSTs are not.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wecom_sdk_client::{Client, Kind, RetryPolicy};

/// Drops the first `drop_first` API connections (gettoken is always answered), then
/// answers `{"errcode":0}` to everything.
async fn flaky(drop_first: usize) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let api_connections = Arc::new(AtomicUsize::new(0));
    let counter = api_connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]);
                let body = if request.contains("/cgi-bin/gettoken") {
                    r#"{"errcode":0,"access_token":"tok","expires_in":7200}"#
                } else {
                    if counter.fetch_add(1, Ordering::SeqCst) < drop_first {
                        return; // dropped: the client sees the connection close
                    }
                    r#"{"errcode":0,"errmsg":"ok"}"#
                };
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}"), api_connections)
}

fn client(base: &str) -> Client {
    let policy = RetryPolicy {
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
        ..RetryPolicy::default()
    };
    Client::builder()
        .corp_id("ww1")
        .secret("s")
        .base_url(base)
        .retry_policy(policy)
        .build()
        .unwrap()
}

#[tokio::test]
async fn idempotent_calls_survive_dropped_connections() {
    let (base, connections) = flaky(2).await;
    let answer: Value = client(&base)
        .get("/cgi-bin/user/get", &[("userid", "zhangsan")])
        .await
        .unwrap();
    assert_eq!(answer["errcode"], 0);
    assert_eq!(
        connections.load(Ordering::SeqCst),
        3,
        "two drops, then the answer"
    );
}

#[tokio::test]
async fn plain_posts_are_not_repeated_after_a_drop() {
    let (base, connections) = flaky(1).await;
    let err = client(&base)
        .post::<_, Value>("/cgi-bin/message/send", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &Kind::Transport);
    assert!(err.is_retryable());
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn retries_are_bounded() {
    let (base, connections) = flaky(100).await;
    let err = client(&base)
        .get::<Value>("/cgi-bin/user/get", &[])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &Kind::Transport);
    assert_eq!(
        connections.load(Ordering::SeqCst),
        3,
        "one attempt and two repeats"
    );
}
