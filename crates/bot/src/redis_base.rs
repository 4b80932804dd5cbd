//! What every Redis store of the bot shares (feature `redis`): a connection manager
//! that reconnects by itself and fails fast, a key prefix, and a time limit per
//! operation — so a Redis outage costs a callback that much, never a reconnect backoff.

use std::time::Duration;

use redis::aio::ConnectionManager;

use crate::error::StoreError;

/// A store's connection, prefix and per-operation time limit.
#[derive(Clone)]
pub(crate) struct RedisBase {
    pub(crate) conn: ConnectionManager,
    pub(crate) prefix: String,
    pub(crate) timeout: Duration,
}

impl RedisBase {
    /// How long one operation may take by default.
    pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);

    /// Connects to `url` (1 s to connect, [`DEFAULT_TIMEOUT`](Self::DEFAULT_TIMEOUT) a
    /// response).
    pub(crate) async fn connect(url: &str, prefix: String) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| store_error(&e))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Self::DEFAULT_TIMEOUT));
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| store_error(&e))?;
        Ok(Self::new(conn, prefix))
    }

    /// Over an existing connection manager.
    pub(crate) fn new(conn: ConnectionManager, prefix: String) -> Self {
        Self {
            conn,
            prefix,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// Runs one operation within the time limit.
    pub(crate) async fn bounded<T>(
        &self,
        op: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, op).await {
            Ok(result) => result.map_err(|e| store_error(&e)),
            Err(_) => Err(StoreError::new(format!(
                "redis: no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    /// `Debug` of the store `name`: its prefix and time limit, never the URL.
    pub(crate) fn debug(&self, name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(name)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn store_error(e: &redis::RedisError) -> StoreError {
    StoreError::new(format!("redis: {e}"))
}

/// Milliseconds of `d` for `PX` (at least 1).
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}
