//! [`RedisCounterStore`]: limits, cooldowns and statistics shared by every engine that
//! uses the same Redis (feature `redis`).

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

use crate::counter::CounterStore;
use crate::error::StoreError;

/// Atomically: below `max` in the current window → count and return 1; the window starts
/// (PEXPIRE) at the first count.
const ACQUIRE: &str = r"
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
if c >= tonumber(ARGV[1]) then return 0 end
c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
";

/// Counters in Redis under a key prefix (so several bots, or tests, can share a server).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use wecom_sdk_matcher::{Engine, RedisCounterStore, RuleSet};
/// let store = RedisCounterStore::connect("redis://127.0.0.1:6379", "shopbot:").await?;
/// let engine = Engine::new(RuleSet::new([])?).counter_store(Arc::new(store));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisCounterStore {
    conn: ConnectionManager,
    prefix: String,
    acquire: Script,
    timeout: Duration,
}

impl std::fmt::Debug for RedisCounterStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCounterStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn store_error(e: &redis::RedisError) -> StoreError {
    StoreError(e.to_string())
}

impl RedisCounterStore {
    /// How long one Redis operation may take before it fails with a [`StoreError`] (so a
    /// Redis outage costs a message this much, not the reconnection backoff).
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);

    /// Connects (with automatic reconnection) and uses keys starting with `prefix`.
    ///
    /// # Errors
    /// The URL is invalid or the server cannot be reached.
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| store_error(&e))?;
        let conn = ConnectionManager::new(client)
            .await
            .map_err(|e| store_error(&e))?;
        Ok(Self::new(conn, prefix))
    }

    /// Uses an existing connection manager.
    pub fn new(conn: ConnectionManager, prefix: impl Into<String>) -> Self {
        Self {
            conn,
            prefix: prefix.into(),
            acquire: Script::new(ACQUIRE),
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// How long one operation may take (default [`DEFAULT_TIMEOUT`](Self::DEFAULT_TIMEOUT)).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs one operation within the timeout.
    async fn bounded<T>(
        &self,
        op: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, op).await {
            Ok(result) => result.map_err(|e| store_error(&e)),
            Err(_) => Err(StoreError(format!(
                "redis: no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[async_trait]
impl CounterStore for RedisCounterStore {
    async fn try_acquire(&self, key: &str, max: u32, window: Duration) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let acquired: i64 = self
            .bounded(
                self.acquire
                    .key(self.key(key))
                    .arg(max)
                    .arg(window_ms)
                    .invoke_async(&mut conn),
            )
            .await?;
        Ok(acquired == 1)
    }

    async fn incr(&self, key: &str) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        self.bounded(conn.incr(self.key(key), 1u64)).await
    }

    async fn get(&self, key: &str) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let value: Option<u64> = self.bounded(conn.get(self.key(key))).await?;
        Ok(value.unwrap_or(0))
    }
}
