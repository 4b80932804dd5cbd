//! [`RedisStreamStore`]: AI-bot stream states shared by every bot instance (feature
//! `redis`): WeCom's refresh poll may reach another instance than the one producing.

use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use crate::aibot::{StreamState, StreamStore};
use crate::error::StoreError;
use crate::redis_base::{RedisBase, millis};

/// Stream states in Redis under `{prefix}stream:{app}:{id}`, as JSON with their expiry.
///
/// ```no_run
/// # async fn demo() -> Result<(), wecom_sdk_bot::StoreError> {
/// use std::sync::Arc;
/// use wecom_sdk_bot::{AiBot, RedisStreamStore};
/// let streams = RedisStreamStore::connect("redis://127.0.0.1:6379", "shop:").await?;
/// let ai = AiBot::callback("token", "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt").streams(Arc::new(streams));
/// # let _ = ai;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStreamStore {
    base: RedisBase,
}

impl std::fmt::Debug for RedisStreamStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.base.debug("RedisStreamStore", f)
    }
}

impl RedisStreamStore {
    /// How long one Redis operation may take before it fails (a poll then gets no
    /// answer and WeCom polls again).
    pub const DEFAULT_TIMEOUT: Duration = RedisBase::DEFAULT_TIMEOUT;

    /// Connects (with automatic reconnection); keys start with `prefix`.
    ///
    /// # Errors
    /// The URL is invalid or Redis cannot be reached.
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, StoreError> {
        Ok(Self::with(RedisBase::connect(url, prefix.into()).await?))
    }

    /// Uses an existing connection manager.
    pub fn new(conn: ConnectionManager, prefix: impl Into<String>) -> Self {
        Self::with(RedisBase::new(conn, prefix.into()))
    }

    fn with(base: RedisBase) -> Self {
        Self { base }
    }

    fn key(&self, id: &str) -> String {
        format!("{}stream:{id}", self.base.prefix)
    }
}

#[async_trait]
impl StreamStore for RedisStreamStore {
    async fn put(&self, id: &str, state: &StreamState, ttl: Duration) -> Result<(), StoreError> {
        let json = serde_json::to_string(state)
            .map_err(|e| StoreError::new(format!("stream state: {e}")))?;
        let ms = millis(ttl);
        let mut conn = self.base.conn.clone();
        self.base
            .bounded(conn.pset_ex(self.key(id), json, ms))
            .await
    }

    async fn get(&self, id: &str) -> Result<Option<StreamState>, StoreError> {
        let mut conn = self.base.conn.clone();
        let value: Option<String> = self.base.bounded(conn.get(self.key(id))).await?;
        // A value this version cannot read is an unknown stream, not an outage.
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }
}
