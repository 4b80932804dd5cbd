//! What the client's integration tests share: the simulator with one app, and Redis —
//! the machine's (`REDIS_URL`), with a key prefix of its own per test, deleted when the
//! test ends, or a `redis-server` a test starts on its own port and kills. The scripted
//! stand-in (`scripted.rs`) is its own module, included only by the tests that use it
//! (an axum server compiled into every test binary costs build time).

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    reason = "each test file uses a part"
)]

use std::io::Write as _;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(feature = "redis")]
use wecom_sdk_client::{RedisTokenStore, TokenStore as _};
use wecom_sdk_sim::{FakeConfig, FakeWeCom};

/// The corp and secret of the simulated app.
pub const CORP: &str = "ww1436e0e65a779aee";
pub const SECRET: &str = "shared-secret";

/// A simulator with one app and one member, `zhangsan`.
pub async fn fake() -> FakeWeCom {
    FakeWeCom::start(
        FakeConfig::new(CORP)
            .secret(SECRET)
            .agent(1_000_002)
            .staff("zhangsan", "张三"),
    )
    .await
    .expect("the simulator starts")
}

/// Retries at 1–2 ms instead of 200 ms (tests of what is retried, not of the waits).
pub fn fast_retries() -> wecom_sdk_client::RetryPolicy {
    wecom_sdk_client::RetryPolicy {
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
        ..wecom_sdk_client::RetryPolicy::default()
    }
}

/// `gettoken` requests the simulator answered.
pub fn gettokens(fake: &FakeWeCom) -> usize {
    fake.calls_to("/cgi-bin/gettoken").len()
}

/// The machine's Redis.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Says on stderr (even while the harness captures output) that a test did not run.
pub fn skip(why: &str) {
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
}

/// A key prefix of its own for one test; its keys are deleted when it drops (even
/// when the test fails).
pub struct Keys {
    pub prefix: String,
    url: String,
}

impl Keys {
    pub fn new(test: &str) -> Self {
        Self::at(&redis_url(), test)
    }

    pub fn at(url: &str, test: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Self {
            prefix: format!("wecom-sdk-test:{test}:{}:{nanos}:", std::process::id()),
            url: url.to_owned(),
        }
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        let Ok(mut conn) = redis::Client::open(self.url.as_str())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(500)))
        else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query(&mut conn)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<i64, _> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}

#[cfg(feature = "redis")]
/// A token store on the machine's Redis under `keys`' prefix, or `None` (and one line
/// on stderr) when no Redis answers within half a second.
pub async fn redis_store(keys: &Keys) -> Option<RedisTokenStore> {
    let url = keys.url.clone();
    let connected = tokio::time::timeout(Duration::from_millis(500), async {
        // A plain connection fails at once when nothing listens (the manager retries).
        redis::Client::open(url.as_str())
            .ok()?
            .get_multiplexed_async_connection()
            .await
            .ok()?;
        let store = RedisTokenStore::connect(&url, keys.prefix.clone())
            .await
            .ok()?;
        store.get("probe").await.ok()?;
        Some(store)
    })
    .await;
    if let Ok(Some(store)) = connected {
        return Some(store);
    }
    skip(&format!(
        "no Redis at {url}; start redis-server or set REDIS_URL to run this test"
    ));
    None
}

/// A `redis-server` of the test's own, on a free port, that the test can kill and
/// start again on the same port.
pub struct OwnRedis {
    pub port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    /// Starts one, or `None` (and one line on stderr) without a `redis-server` binary.
    pub async fn start() -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .ok()?;
        let mut redis = Self { port, child: None };
        if redis.restart().await {
            Some(redis)
        } else {
            skip("no redis-server on PATH; install Redis to run this test");
            None
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) and waits until it answers; `false` if it did not.
    pub async fn restart(&mut self) -> bool {
        let spawned = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = spawned else {
            return false;
        };
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// Kills the server (as a crash would).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
