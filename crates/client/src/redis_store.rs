//! [`RedisTokenStore`]: one access token shared by every bot instance (feature `redis`).

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

use crate::error::{ClientError, Kind};
use crate::token::{AccessToken, CachedToken, TokenStore};

/// Deletes the token only if it is still the failed one.
const INVALIDATE_IF: &str = r"
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, t = pcall(cjson.decode, v)
if ok and t['token'] == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
";

/// Deletes the lease only if `holder` still holds it (value-fenced release).
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// Tokens in Redis under a prefix; the lease is `SET NX PX`, released only by its holder.
#[derive(Clone)]
pub struct RedisTokenStore {
    conn: ConnectionManager,
    prefix: String,
    invalidate: Script,
    release: Script,
    timeout: Duration,
}

impl std::fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTokenStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn store_error(e: &redis::RedisError) -> ClientError {
    redis_error(e, "token store")
}

/// A Redis failure as a transport error of `store`.
pub(crate) fn redis_error(e: &redis::RedisError, store: &'static str) -> ClientError {
    ClientError::new(Kind::Transport, None, format!("redis: {e}"), store)
}

/// Runs one Redis operation of `store` within `timeout`: an outage costs a call this
/// much, not the reconnection backoff.
pub(crate) async fn bounded<T>(
    timeout: Duration,
    store: &'static str,
    op: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, ClientError> {
    match tokio::time::timeout(timeout, op).await {
        Ok(result) => result.map_err(|e| redis_error(&e, store)),
        Err(_) => Err(ClientError::new(
            Kind::Transport,
            None,
            format!("redis: no answer within {} ms", timeout.as_millis()),
            store,
        )),
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    token: String,
    expires_at_ms: i64,
    refresh_at_ms: i64,
}

impl RedisTokenStore {
    /// How long one Redis operation may take before it fails (the client then goes on
    /// with its own copy of the token), so an outage costs a call this much, not the
    /// reconnection backoff.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);

    /// Connects (with automatic reconnection); keys start with `prefix`.
    ///
    /// # Errors
    /// The URL is invalid or Redis cannot be reached.
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, ClientError> {
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
            invalidate: Script::new(INVALIDATE_IF),
            release: Script::new(RELEASE),
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
    ) -> Result<T, ClientError> {
        bounded(self.timeout, "token store", op).await
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn lease_key(&self, key: &str) -> String {
        format!("{}{key}:lease", self.prefix)
    }
}

#[async_trait]
impl TokenStore for RedisTokenStore {
    async fn get(&self, key: &str) -> Result<Option<CachedToken>, ClientError> {
        let mut conn = self.conn.clone();
        let value: Option<String> = self.bounded(conn.get(self.key(key))).await?;
        Ok(value
            .and_then(|v| serde_json::from_str::<Stored>(&v).ok())
            .map(|s| CachedToken {
                token: AccessToken::new(s.token),
                expires_at_ms: s.expires_at_ms,
                refresh_at_ms: s.refresh_at_ms,
            }))
    }

    async fn put(&self, key: &str, token: CachedToken) -> Result<(), ClientError> {
        let ttl_ms = u64::try_from(
            token.expires_at_ms - crate::clock::unix_ms(std::time::SystemTime::now()),
        )
        .unwrap_or(0)
        .max(1);
        let stored = Stored {
            token: token.token.expose().to_owned(),
            expires_at_ms: token.expires_at_ms,
            refresh_at_ms: token.refresh_at_ms,
        };
        let value = serde_json::to_string(&stored)
            .map_err(|e| ClientError::new(Kind::Decode, None, e.to_string(), "token store"))?;
        let mut conn = self.conn.clone();
        let _: () = self
            .bounded(
                redis::cmd("SET")
                    .arg(self.key(key))
                    .arg(value)
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async(&mut conn),
            )
            .await?;
        Ok(())
    }

    async fn invalidate_if(&self, key: &str, failed: &AccessToken) -> Result<bool, ClientError> {
        let mut conn = self.conn.clone();
        let dropped: i64 = self
            .bounded(
                self.invalidate
                    .key(self.key(key))
                    .arg(failed.expose())
                    .invoke_async(&mut conn),
            )
            .await?;
        Ok(dropped == 1)
    }

    async fn try_lease(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, ClientError> {
        let mut conn = self.conn.clone();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let set: Option<String> = self
            .bounded(
                redis::cmd("SET")
                    .arg(self.lease_key(key))
                    .arg(holder)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async(&mut conn),
            )
            .await?;
        Ok(set.is_some())
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), ClientError> {
        let mut conn = self.conn.clone();
        let _: i64 = self
            .bounded(
                self.release
                    .key(self.lease_key(key))
                    .arg(holder)
                    .invoke_async(&mut conn),
            )
            .await?;
        Ok(())
    }
}
