//! [`RedisDedupStore`]: dedup records shared by every bot instance (feature `redis`).

use std::time::Duration;

use async_trait::async_trait;
use redis::Script;
use redis::aio::ConnectionManager;

use crate::dedup::{Answered, Claim, DedupStore};
use crate::error::StoreError;
use crate::redis_base::{RedisBase, millis};

/// In flight (`F`, with the lease as its expiry) when absent; else what it holds.
const CLAIM: &str = r"
if redis.call('SET', KEYS[1], 'F', 'NX', 'PX', ARGV[1]) then return '' end
return redis.call('GET', KEYS[1]) or ''
";

/// Deletes an in-flight record only (a done record outlives a late failure).
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == 'F' then return redis.call('DEL', KEYS[1]) end
return 0
";

/// Dedup records in Redis: one key per callback, `<prefix>dedup:{<app>:<dedup key>}` —
/// the braces are a hash tag, so every key of one message lands in one slot and a
/// Redis Cluster works; each operation is one atomic command or script on one key.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use wecom_sdk_bot::RedisDedupStore;
/// let store = RedisDedupStore::connect("redis://127.0.0.1:6379", "shopbot:").await?;
/// # let _ = Arc::new(store);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisDedupStore {
    base: RedisBase,
    claim: Script,
    release: Script,
}

impl std::fmt::Debug for RedisDedupStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.base.debug("RedisDedupStore", f)
    }
}

impl RedisDedupStore {
    /// How long one operation may take before it fails (the bot then answers from local
    /// state): a Redis outage costs a callback this much, not a reconnection backoff.
    pub const DEFAULT_TIMEOUT: Duration = RedisBase::DEFAULT_TIMEOUT;

    /// Connects (reconnecting by itself after an outage); keys start with `prefix`
    /// (braces in it are replaced, so the hash tag stays the message's).
    ///
    /// # Errors
    /// The URL is invalid or the server cannot be reached.
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, StoreError> {
        Ok(Self::with(
            RedisBase::connect(url, sanitized(prefix)).await?,
        ))
    }

    /// Uses an existing connection manager.
    pub fn new(conn: ConnectionManager, prefix: impl Into<String>) -> Self {
        Self::with(RedisBase::new(conn, sanitized(prefix)))
    }

    fn with(base: RedisBase) -> Self {
        Self {
            base,
            claim: Script::new(CLAIM),
            release: Script::new(RELEASE),
        }
    }

    /// How long one operation may take (default [`DEFAULT_TIMEOUT`](Self::DEFAULT_TIMEOUT)).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.base.timeout = timeout;
        self
    }

    /// The Redis key of a dedup key.
    pub fn key(&self, key: &str) -> String {
        format!(
            "{}dedup:{{{}}}",
            self.base.prefix,
            key.replace(['{', '}'], "_")
        )
    }
}

/// Braces in the prefix are replaced, so the hash tag stays the message's.
fn sanitized(prefix: impl Into<String>) -> String {
    prefix.into().replace(['{', '}'], "_")
}

fn read(stored: &[u8]) -> Result<Claim, StoreError> {
    match stored {
        b"" => Ok(Claim::Fresh),
        b"F" => Ok(Claim::InFlight),
        other => Answered::decode(other)
            .map(Claim::Done)
            .ok_or_else(|| StoreError::new("redis: a dedup record in an unknown form")),
    }
}

#[async_trait]
impl DedupStore for RedisDedupStore {
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim, StoreError> {
        let mut conn = self.base.conn.clone();
        let stored: Vec<u8> = self
            .base
            .bounded(
                self.claim
                    .key(self.key(key))
                    .arg(millis(lease))
                    .invoke_async(&mut conn),
            )
            .await?;
        read(&stored)
    }

    async fn complete(
        &self,
        key: &str,
        answered: &Answered,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let mut conn = self.base.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key))
            .arg(answered.encode())
            .arg("PX")
            .arg(millis(ttl));
        self.base.bounded(cmd.query_async::<()>(&mut conn)).await
    }

    async fn release(&self, key: &str) -> Result<(), StoreError> {
        let mut conn = self.base.conn.clone();
        let _: i64 = self
            .base
            .bounded(self.release.key(self.key(key)).invoke_async(&mut conn))
            .await?;
        Ok(())
    }

    async fn peek(&self, key: &str) -> Result<Option<Claim>, StoreError> {
        let mut conn = self.base.conn.clone();
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.key(key));
        let stored: Option<Vec<u8>> = self.base.bounded(cmd.query_async(&mut conn)).await?;
        match stored {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => read(&s).map(Some),
        }
    }
}
