//! [`RedisLinkStore`]: tracked links shared by every bot instance (feature `redis`), so
//! a click reaching any instance is followed and counted once.

use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use crate::error::StoreError;
use crate::links::{LinkStore, TrackedLink};
use crate::redis_base::{RedisBase, millis};

/// Tracked links in Redis: `{prefix}link:{code}` (JSON, with the link's expiry) and
/// `{prefix}linkclick:{code}` (set by the first click).
///
/// ```no_run
/// # async fn demo() -> Result<(), wecom_sdk_bot::StoreError> {
/// use std::sync::Arc;
/// use wecom_sdk_bot::{DEFAULT_LINK_TTL, RedisLinkStore};
/// let links = RedisLinkStore::connect("redis://127.0.0.1:6379", "shop:").await?;
/// // Bot::builder().tracked_links("https://bot.example.com").link_store(Arc::new(links), DEFAULT_LINK_TTL)
/// # let _ = (Arc::new(links), DEFAULT_LINK_TTL);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisLinkStore {
    base: RedisBase,
}

impl std::fmt::Debug for RedisLinkStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.base.debug("RedisLinkStore", f)
    }
}

impl RedisLinkStore {
    /// Connects (with automatic reconnection); keys start with `prefix`.
    ///
    /// # Errors
    /// The URL is invalid or Redis cannot be reached.
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, StoreError> {
        Ok(Self {
            base: RedisBase::connect(url, prefix.into()).await?,
        })
    }

    /// Uses an existing connection manager.
    pub fn new(conn: ConnectionManager, prefix: impl Into<String>) -> Self {
        Self {
            base: RedisBase::new(conn, prefix.into()),
        }
    }
}

#[async_trait]
impl LinkStore for RedisLinkStore {
    async fn put(&self, code: &str, link: &TrackedLink, ttl: Duration) -> Result<(), StoreError> {
        let json =
            serde_json::to_string(link).map_err(|e| StoreError::new(format!("link: {e}")))?;
        let mut conn = self.base.conn.clone();
        let key = format!("{}link:{code}", self.base.prefix);
        self.base
            .bounded(conn.pset_ex(key, json, millis(ttl)))
            .await
    }

    async fn click(&self, code: &str) -> Result<Option<(TrackedLink, bool)>, StoreError> {
        let mut conn = self.base.conn.clone();
        let key = format!("{}link:{code}", self.base.prefix);
        let (json, ttl_ms): (Option<String>, i64) = self
            .base
            .bounded(redis::pipe().get(&key).pttl(&key).query_async(&mut conn))
            .await?;
        let Some(link) = json.and_then(|j| serde_json::from_str::<TrackedLink>(&j).ok()) else {
            return Ok(None);
        };
        let mut cmd = redis::cmd("SET");
        cmd.arg(format!("{}linkclick:{code}", self.base.prefix))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms.max(1));
        let first: Option<String> = self.base.bounded(cmd.query_async(&mut conn)).await?;
        Ok(Some((link, first.is_some())))
    }
}
