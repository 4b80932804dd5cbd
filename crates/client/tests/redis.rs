//! `RedisTokenStore` against a real Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`)
//! and the simulator: two clients sharing one Redis make one gettoken between them under
//! concurrent load; a refresher that dies holding the lease blocks the others no longer
//! than the lease; and a Redis that dies under traffic costs no call while the process
//! holds a valid token (tested on a `redis-server` the test starts and kills). Without a
//! Redis the tests say how to run them, on one line, and pass without checking.

#![cfg(feature = "redis")]
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use support::{CORP, Keys, OwnRedis, SECRET, fake, gettokens, redis_store};
use wecom_sdk_client::{Client, RedisTokenStore, TokenStore, cache_key};

fn client(base: &str, store: Arc<dyn TokenStore>) -> Client {
    Client::builder()
        .corp_id(CORP)
        .secret(SECRET)
        .base_url(base)
        .token_store(store)
        .lease_ttl(Duration::from_millis(400))
        .build()
        .unwrap()
}

async fn user_get(c: &Client) -> Result<Value, wecom_sdk_client::ClientError> {
    c.get("/cgi-bin/user/get", &[("userid", "zhangsan")]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_make_one_gettoken_between_them() {
    let keys = Keys::new("shared");
    let Some(store) = redis_store(&keys).await else {
        return;
    };
    let fake = fake().await;
    let store: Arc<dyn TokenStore> = Arc::new(store);
    // Two clients = two instances: separate in-process locks, one Redis.
    let base = fake.base_url();
    let (a, b) = (client(&base, store.clone()), client(&base, store));
    let calls: Vec<_> = (0..200)
        .map(|n| {
            let c = if n % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { user_get(&c).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().expect("succeeds");
    }
    assert_eq!(gettokens(&fake), 1);
    assert_eq!(
        a.access_token().await.unwrap(),
        b.access_token().await.unwrap()
    );
}

#[tokio::test]
async fn a_dead_lease_holder_blocks_no_longer_than_its_lease() {
    let keys = Keys::new("dead-holder");
    let Some(store) = redis_store(&keys).await else {
        return;
    };
    let fake = fake().await;
    // Another instance took the lease and died: its lease expires in 300 ms.
    let key = cache_key(CORP, SECRET);
    assert!(
        store
            .try_lease(&key, "dead-instance", Duration::from_millis(300))
            .await
            .unwrap()
    );
    let c = client(&fake.base_url(), Arc::new(store.clone()));
    tokio::time::timeout(Duration::from_secs(3), c.access_token())
        .await
        .expect("not blocked")
        .unwrap();
    assert_eq!(gettokens(&fake), 1);
    // The lease is fenced: the dead holder's name no longer releases anything.
    store.release_lease(&key, "dead-instance").await.unwrap();
}

#[tokio::test]
async fn invalidate_only_the_failed_token() {
    let keys = Keys::new("invalidate");
    let Some(store) = redis_store(&keys).await else {
        return;
    };
    let fake = fake().await;
    let c = client(&fake.base_url(), Arc::new(store.clone()));
    let first = c.access_token().await.unwrap();
    let key = cache_key(CORP, SECRET);
    let other = wecom_sdk_client::AccessToken::new("a-token-someone-else-already-replaced");
    assert!(
        !store.invalidate_if(&key, &other).await.unwrap(),
        "a newer token stays"
    );
    assert!(store.invalidate_if(&key, &first).await.unwrap());
    assert!(store.get(&key).await.unwrap().is_none());
}

/// Redis killed under steady traffic and started again: every call succeeds on the
/// token the process holds, each store failure is bounded and counted, and the store
/// is used again once it answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_costs_no_call() {
    let Some(mut redis) = OwnRedis::start().await else {
        return;
    };
    let keys = Keys::at(&redis.url(), "outage");
    let store = RedisTokenStore::connect(&redis.url(), keys.prefix.clone())
        .await
        .unwrap();
    let fake = fake().await;
    let c = client(&fake.base_url(), Arc::new(store.clone()));
    for _ in 0..20 {
        user_get(&c).await.unwrap();
    }
    assert_eq!(c.token_stats().store_failures, 0);

    redis.kill();
    // A token error makes the client go to the store: it is down, so the client
    // fetches for itself and carries on.
    fake.inject(&wecom_sdk_sim::Fault::ExpireTokens);
    for _ in 0..50 {
        user_get(&c).await.expect("served while Redis is down");
    }
    let failures = c.token_stats().store_failures;
    assert!(failures >= 1, "the outage was counted");
    assert_eq!(gettokens(&fake), 2, "one fetch for the expired token");

    assert!(redis.restart().await, "redis-server starts again");
    // Back: the next fetch goes through the store (and its lease) again.
    fake.inject(&wecom_sdk_sim::Fault::ExpireTokens);
    let mut stored = None;
    for _ in 0..100 {
        user_get(&c).await.unwrap();
        stored = store.get(&cache_key(CORP, SECRET)).await.ok().flatten();
        if stored.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        fake.inject(&wecom_sdk_sim::Fault::ExpireTokens);
    }
    let stored = stored.expect("the token is shared through Redis again");
    assert_eq!(stored.token, c.access_token().await.unwrap());
}
