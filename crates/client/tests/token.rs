//! The token manager over real HTTP on 127.0.0.1 against the scripted stand-in (a new
//! token per fetch, an echo that shows which token it got): single
//! flight on a cold cache, one refresh on expiry and on a 42001 storm, bounded fetches
//! with a wrong secret, redaction.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

#[path = "support/scripted.rs"]
mod scripted;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use wecom_sdk_client::{Client, ClientError, Kind};

const SECRET: &str = "the-right-secret";

async fn serve() -> (String, Arc<scripted::Scripted>) {
    scripted::serve(SECRET).await
}

fn client(base: &str, secret: &str) -> Client {
    Client::builder()
        .corp_id("ww1436e0e65a779aee")
        .secret(secret)
        .base_url(base)
        .build()
        .unwrap()
}

async fn echo_call(client: &Client, n: usize) -> Result<Value, ClientError> {
    client.post("/cgi-bin/echo", &json!({ "n": n })).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_on_a_cold_cache_make_one_gettoken() {
    let (base, fake) = serve().await;
    let client = client(&base, SECRET);
    let calls: Vec<_> = (0..1000)
        .map(|n| {
            let client = client.clone();
            tokio::spawn(async move { echo_call(&client, n).await })
        })
        .collect();
    for (n, call) in calls.into_iter().enumerate() {
        let answer = call.await.unwrap().expect("every call succeeds");
        assert_eq!(answer["echo"]["n"], n);
    }
    assert_eq!(fake.gettoken_calls.load(Ordering::SeqCst), 1);
    assert_eq!(fake.api_calls.load(Ordering::SeqCst), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_mid_traffic_is_refreshed_once() {
    let (base, fake) = serve().await;
    let client = client(&base, SECRET);
    echo_call(&client, 0).await.unwrap();
    // WeCom expires the token early: every call now gets 42001 for it.
    fake.valid.lock().unwrap().clear();
    let calls: Vec<_> = (0..100)
        .map(|n| {
            let client = client.clone();
            tokio::spawn(async move { echo_call(&client, n).await })
        })
        .collect();
    for call in calls {
        let answer = call.await.unwrap().expect("retried once and succeeded");
        assert_eq!(answer["token"], "tok-2");
    }
    assert_eq!(
        fake.gettoken_calls.load(Ordering::SeqCst),
        2,
        "one refresh for the whole storm"
    );
    // Each call was tried at most twice (calls that started after the refresh once).
    let api_calls = fake.api_calls.load(Ordering::SeqCst);
    assert!((101..=201).contains(&api_calls), "{api_calls}");
}

#[tokio::test]
async fn a_second_token_error_surfaces_instead_of_looping() {
    let (base, fake) = serve().await;
    let client = client(&base, SECRET);
    fake.always_expired.store(true, Ordering::SeqCst);
    let err = echo_call(&client, 0).await.unwrap_err();
    assert_eq!(err.errcode(), Some(42001));
    assert!(err.is_token_error());
    assert_eq!(
        fake.api_calls.load(Ordering::SeqCst),
        2,
        "one call, one repeat"
    );
    assert_eq!(fake.gettoken_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_wrong_secret_makes_bounded_gettoken_calls() {
    let (base, fake) = serve().await;
    let client = client(&base, "a-wrong-secret");
    for n in 0..20 {
        let err = echo_call(&client, n).await.unwrap_err();
        assert!(
            err.errcode() == Some(40001) || *err.kind() == Kind::CircuitOpen,
            "{err}"
        );
    }
    assert_eq!(
        fake.gettoken_calls.load(Ordering::SeqCst),
        3,
        "the breaker opens after three failures"
    );
    assert_eq!(fake.api_calls.load(Ordering::SeqCst), 0);
    let err = echo_call(&client, 99).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.errcode()),
        (&Kind::CircuitOpen, Some(40001))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_share_the_error_of_the_fetch_they_waited_for() {
    let (base, fake) = serve().await;
    let client = client(&base, "a-wrong-secret");
    let calls: Vec<_> = (0..50)
        .map(|n| {
            let client = client.clone();
            tokio::spawn(async move { echo_call(&client, n).await })
        })
        .collect();
    for call in calls {
        assert!(call.await.unwrap().is_err());
    }
    assert!(
        fake.gettoken_calls.load(Ordering::SeqCst) <= 3,
        "{}",
        fake.gettoken_calls.load(Ordering::SeqCst)
    );
}

#[tokio::test]
async fn secrets_and_tokens_never_print() {
    let (base, _fake) = serve().await;
    let client = client(&base, SECRET);
    let token = client.access_token().await.unwrap();
    let shown = format!(
        "{client:?} {token:?} {:?}",
        Client::builder().secret(SECRET)
    );
    assert!(
        !shown.contains(SECRET) && !shown.contains("tok-1"),
        "{shown}"
    );
    // A transport error names the path, never the query with the secret.
    let dead = Client::builder()
        .corp_id("ww1")
        .secret(SECRET)
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    let err = dead.access_token().await.unwrap_err();
    assert_eq!(err.kind(), &Kind::Transport);
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert_eq!(err.path(), "/cgi-bin/gettoken");
}

#[tokio::test]
async fn configuration_errors_are_typed() {
    let err = Client::builder().secret("s").build().unwrap_err();
    assert_eq!(err.kind(), &Kind::Config);
    let err = Client::builder()
        .corp_id("ww1")
        .secret("s")
        .refresh_ahead(1.5)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), &Kind::Config);
}

#[tokio::test]
async fn a_token_provider_replaces_gettoken() {
    #[derive(Debug, Default)]
    struct Central(AtomicUsize);
    #[async_trait::async_trait]
    impl wecom_sdk_client::TokenProvider for Central {
        async fn fetch(&self) -> Result<(wecom_sdk_client::AccessToken, u64), ClientError> {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            Ok((wecom_sdk_client::AccessToken::new(format!("tok-{n}")), 7200))
        }
    }
    let (base, fake) = serve().await;
    // The fake accepts tokens it issued: register the provider's first token there.
    fake.valid.lock().unwrap().insert("tok-1".to_owned());
    let central = Arc::new(Central::default());
    let client = Client::builder()
        .corp_id("ww1")
        .base_url(&base)
        .token_provider(central.clone())
        .build()
        .unwrap();
    echo_call(&client, 1).await.unwrap();
    echo_call(&client, 2).await.unwrap();
    assert_eq!(central.0.load(Ordering::SeqCst), 1);
    assert_eq!(fake.gettoken_calls.load(Ordering::SeqCst), 0);
}
