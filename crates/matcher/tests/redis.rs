//! `RedisCounterStore` against a real Redis (`REDIS_URL`, default
//! `redis://127.0.0.1:6379`): limits and cooldowns hold across two engines.
//! Without a reachable Redis the test says how to run it and passes without checking.

#![cfg(feature = "redis")]
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wecom_sdk_matcher::{CounterStore, Engine, Incoming, RedisCounterStore, Rule, RuleSet};

fn url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix of its own for one test; its keys are deleted when it drops (even when
/// the test fails).
struct Keys(String);

impl Keys {
    fn new(test: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Self(format!(
            "wecom-sdk-test:{test}:{}:{nanos}:",
            std::process::id()
        ))
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        let Ok(mut conn) = redis::Client::open(url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(500)))
        else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.0))
            .query(&mut conn)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<i64, _> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}

/// A store under `keys`' prefix, or `None` (and one line on stderr, even when the
/// harness captures output) when no Redis answers within half a second.
async fn store(keys: &Keys) -> Option<RedisCounterStore> {
    let url = url();
    let connected = tokio::time::timeout(Duration::from_millis(500), async {
        // A plain connection fails at once when nothing listens (the manager retries).
        redis::Client::open(url.as_str())?
            .get_multiplexed_async_connection()
            .await?;
        let store = RedisCounterStore::connect(&url, keys.0.clone())
            .await
            .map_err(|e| redis::RedisError::from((redis::ErrorKind::Io, "connect", e.0)))?;
        Ok::<_, redis::RedisError>(store)
    })
    .await;
    if let Ok(Ok(store)) = connected {
        return Some(store);
    }
    let _ = writeln!(
        std::io::stderr(),
        "skipped: no Redis at {url}; start redis-server or set REDIS_URL to run this test"
    );
    None
}

fn rules() -> RuleSet {
    RuleSet::new([
        Rule::new("menu", "menu")
            .contains("菜单")
            .limit(3, 3600)
            .reply("菜单如下"),
        Rule::new("hi", "hi")
            .contains("你好")
            .cooldown(3600)
            .reply("你好！"),
    ])
    .expect("valid")
}

#[tokio::test]
async fn limits_hold_across_two_engines() {
    let keys = Keys::new("limits");
    let Some(store) = store(&keys).await else {
        return;
    };
    let store: Arc<dyn CounterStore> = Arc::new(store);
    let a = Engine::new(rules()).counter_store(store.clone());
    let b = Engine::new(rules()).counter_store(store.clone());
    let msg = Incoming::new("zhangsan", "菜单");
    let mut fired = 0;
    for engine in [&a, &b, &a, &b, &a] {
        if engine
            .find_shared(&msg)
            .await
            .expect("redis answers")
            .is_some()
        {
            fired += 1;
        }
    }
    assert_eq!(
        fired, 3,
        "three triggers per user per hour, whichever instance answers"
    );
    assert!(
        b.find_shared(&Incoming::new("lisi", "菜单"))
            .await
            .unwrap()
            .is_some(),
        "per user"
    );
    assert_eq!(store.get("stats:menu").await.unwrap(), 4);

    let in_group = |u: &str| Incoming::new(u, "你好").chat_id("group-1");
    assert!(a.find_shared(&in_group("u1")).await.unwrap().is_some());
    assert!(
        b.find_shared(&in_group("u2")).await.unwrap().is_none(),
        "the cooldown is shared"
    );
}

#[tokio::test]
async fn concurrent_acquisitions_never_exceed_the_limit() {
    let keys = Keys::new("concurrent");
    let Some(store) = store(&keys).await else {
        return;
    };
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .try_acquire("k", 10, Duration::from_secs(60))
                .await
                .unwrap()
        }));
    }
    let mut granted = 0;
    for t in tasks {
        if t.await.unwrap() {
            granted += 1;
        }
    }
    assert_eq!(granted, 10);
    assert_eq!(store.get("k").await.unwrap(), 10);
}

#[tokio::test]
async fn windows_start_at_the_first_acquisition_and_expire() {
    let keys = Keys::new("expire");
    let prefix = keys.0.clone();
    let Some(store) = store(&keys).await else {
        return;
    };
    let mut conn = redis::Client::open(url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let key = format!("{prefix}w");
    assert!(
        store
            .try_acquire("w", 2, Duration::from_secs(600))
            .await
            .unwrap()
    );
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        (599_000..=600_000).contains(&ttl),
        "the window starts now: {ttl}"
    );
    assert!(
        store
            .try_acquire("w", 2, Duration::from_secs(600))
            .await
            .unwrap()
    );
    assert!(
        !store
            .try_acquire("w", 2, Duration::from_secs(600))
            .await
            .unwrap()
    );
    // Expiry is Redis's: simulate the window's end by expiring the key now.
    let _: i64 = redis::cmd("PEXPIRE")
        .arg(&key)
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: i64 = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        store
            .try_acquire("w", 2, Duration::from_secs(600))
            .await
            .unwrap(),
        "a new window"
    );
}

/// A rule with both a per-user limit and a cooldown: while it cools down it does not
/// fire, and the message it ignored must not burn a slot of the customer's limit (the
/// shared path once took the slot first and checked the cooldown after).
#[tokio::test]
async fn a_cooling_down_rule_does_not_burn_the_limit() {
    let keys = Keys::new("cooldown-limit");
    let Some(store) = store(&keys).await else {
        return;
    };
    let store: Arc<dyn CounterStore> = Arc::new(store);
    let rules = RuleSet::new([Rule::new("menu", "menu")
        .contains("菜单")
        .limit(2, 3600)
        .cooldown(600)
        .reply("菜单如下")])
    .expect("valid");
    let engine = Engine::new(rules).counter_store(store.clone());
    let msg = Incoming::new("zhangsan", "菜单");
    assert!(
        engine.find_shared(&msg).await.unwrap().is_some(),
        "first use"
    );
    for _ in 0..3 {
        assert!(
            engine.find_shared(&msg).await.unwrap().is_none(),
            "cooling down"
        );
    }
    assert_eq!(
        store.get("limit:menu:zhangsan").await.unwrap(),
        1,
        "only the message that fired took a slot"
    );
    // The cooldown ends (Redis expires the key; delete it to play that now).
    let mut conn = redis::Client::open(url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: i64 = redis::cmd("DEL")
        .arg(format!("{}cooldown:menu:zhangsan", keys.0))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        engine.find_shared(&msg).await.unwrap().is_some(),
        "the second of two uses per hour"
    );
    assert_eq!(store.get("limit:menu:zhangsan").await.unwrap(), 2);
    assert_eq!(store.get("stats:menu").await.unwrap(), 2);
}

/// A Redis that dies costs each shared match at most the operation timeout: the error
/// comes back (the bot can answer from memory) instead of a stall in the reconnection
/// backoff, and matching works again once Redis is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_redis_fails_fast_and_recovers() {
    let Some(port) = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .ok()
    else {
        return;
    };
    let start = || {
        std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok()
    };
    let Some(mut server) = start() else {
        let _ = writeln!(std::io::stderr(), "skipped: no redis-server on PATH");
        return;
    };
    let url = format!("redis://127.0.0.1:{port}");
    let mut store = None;
    for _ in 0..200 {
        if let Ok(s) = RedisCounterStore::connect(&url, "outage:").await {
            store = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let store: Arc<dyn CounterStore> = Arc::new(store.expect("the test's redis-server answers"));
    let engine = Engine::new(rules()).counter_store(store);
    let msg = Incoming::new("zhangsan", "菜单");
    assert!(engine.find_shared(&msg).await.unwrap().is_some());

    server.kill().unwrap();
    server.wait().unwrap();
    let failed = tokio::time::timeout(Duration::from_secs(5), engine.find_shared(&msg))
        .await
        .expect("an error, not a stall");
    assert!(failed.is_err(), "{failed:?}");

    let mut server = start().expect("restarts");
    let mut back = false;
    for _ in 0..300 {
        if engine.find_shared(&msg).await.is_ok() {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(back, "shared matching works again once Redis is back");
}
