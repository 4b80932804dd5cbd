//! `RedisTokenStore` against a real Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`):
//! two clients sharing one Redis make one gettoken between them under concurrent load, and
//! a refresher that dies holding the lease blocks the others no longer than the lease.
//! Without a reachable Redis the tests say how to run them and pass without checking.

#![cfg(feature = "redis")]
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use serde_json::{Value, json};
use wecom_sdk_client::{Client, RedisTokenStore, TokenStore, cache_key};

#[derive(Default)]
struct Fake {
    gettoken_calls: AtomicUsize,
}

async fn serve() -> (String, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    let app = Router::new()
        .route(
            "/cgi-bin/gettoken",
            get(|State(f): State<Arc<Fake>>| async move {
                let n = f.gettoken_calls.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                Json(json!({"errcode": 0, "errmsg": "ok", "access_token": format!("shared-{n}"), "expires_in": 7200}))
            }),
        )
        .route("/cgi-bin/echo", post(|| async { Json(json!({"errcode": 0, "errmsg": "ok"})) }))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), fake)
}

async fn store(test: &str) -> Option<(RedisTokenStore, String)> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let prefix = format!("wecom-sdk-test:{test}:{}:{nanos}:", std::process::id());
    match tokio::time::timeout(
        Duration::from_secs(3),
        RedisTokenStore::connect(&url, prefix.clone()),
    )
    .await
    {
        Ok(Ok(store)) if store.get("probe").await.is_ok() => Some((store, prefix)),
        _ => {
            eprintln!(
                "skipped: no Redis at {url}; start redis-server or set REDIS_URL to run this test"
            );
            None
        }
    }
}

fn client(base: &str, store: Arc<dyn TokenStore>) -> Client {
    Client::builder()
        .corp_id("ww1436e0e65a779aee")
        .secret("shared-secret")
        .base_url(base)
        .token_store(store)
        .lease_ttl(Duration::from_millis(400))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_make_one_gettoken_between_them() {
    let Some((store, _)) = store("shared").await else {
        return;
    };
    let (base, fake) = serve().await;
    let store: Arc<dyn TokenStore> = Arc::new(store);
    // Two clients = two instances: separate in-process locks, one Redis.
    let (a, b) = (client(&base, store.clone()), client(&base, store));
    let calls: Vec<_> = (0..200)
        .map(|n| {
            let c = if n % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { c.post::<_, Value>("/cgi-bin/echo", &json!({})).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().expect("succeeds");
    }
    assert_eq!(fake.gettoken_calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        a.access_token().await.unwrap(),
        b.access_token().await.unwrap()
    );
}

#[tokio::test]
async fn a_dead_lease_holder_blocks_no_longer_than_its_lease() {
    let Some((store, _)) = store("dead-holder").await else {
        return;
    };
    let (base, fake) = serve().await;
    // Another instance took the lease and died: its lease expires in 300 ms.
    let key = cache_key("ww1436e0e65a779aee", "shared-secret");
    assert!(
        store
            .try_lease(&key, "dead-instance", Duration::from_millis(300))
            .await
            .unwrap()
    );
    let c = client(&base, Arc::new(store.clone()));
    let started = std::time::Instant::now();
    let token = tokio::time::timeout(Duration::from_secs(3), c.access_token())
        .await
        .expect("not blocked")
        .unwrap();
    assert_eq!(token.expose(), "shared-1");
    assert_eq!(fake.gettoken_calls.load(Ordering::SeqCst), 1);
    // The lease is fenced: the dead holder's name no longer releases anything.
    store.release_lease(&key, "dead-instance").await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn invalidate_only_the_failed_token() {
    let Some((store, _)) = store("invalidate").await else {
        return;
    };
    let (base, _fake) = serve().await;
    let c = client(&base, Arc::new(store.clone()));
    let first = c.access_token().await.unwrap();
    let key = cache_key("ww1436e0e65a779aee", "shared-secret");
    let other = wecom_sdk_client::AccessToken::new("a-token-someone-else-already-replaced");
    assert!(
        !store.invalidate_if(&key, &other).await.unwrap(),
        "a newer token stays"
    );
    assert!(store.invalidate_if(&key, &first).await.unwrap());
    assert!(store.get(&key).await.unwrap().is_none());
}
