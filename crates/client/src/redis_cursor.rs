//! [`RedisCursorStore`]: 微信客服 `sync_msg` cursors shared by every bot instance and kept
//! across restarts (feature `redis`).

use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use crate::api::kf::CursorStore;
use crate::error::ClientError;
use crate::redis_store::{bounded, redis_error};

/// Each account's cursor in Redis under `{prefix}kf:cursor:{open_kfid}`: a restarted bot,
/// or another instance, reads on where the last sync stopped.
///
/// ```no_run
/// # async fn demo() -> Result<(), wecom_sdk_client::ClientError> {
/// use wecom_sdk_client::RedisCursorStore;
/// let cursors = RedisCursorStore::connect("redis://127.0.0.1:6379", "shop:").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisCursorStore {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for RedisCursorStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCursorStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// What errors name.
const STORE: &str = "kf cursor store";

impl RedisCursorStore {
    /// How long one Redis operation may take before it fails.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);

    /// Connects (with automatic reconnection); keys start with `prefix`.
    ///
    /// # Errors
    /// The URL is invalid or Redis cannot be reached.
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, ClientError> {
        let client = redis::Client::open(url).map_err(|e| redis_error(&e, STORE))?;
        let conn = ConnectionManager::new(client)
            .await
            .map_err(|e| redis_error(&e, STORE))?;
        Ok(Self::new(conn, prefix))
    }

    /// Uses an existing connection manager.
    pub fn new(conn: ConnectionManager, prefix: impl Into<String>) -> Self {
        Self {
            conn,
            prefix: prefix.into(),
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// How long one operation may take (default [`DEFAULT_TIMEOUT`](Self::DEFAULT_TIMEOUT)).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn key(&self, open_kfid: &str) -> String {
        format!("{}kf:cursor:{open_kfid}", self.prefix)
    }
}

#[async_trait]
impl CursorStore for RedisCursorStore {
    async fn load(&self, open_kfid: &str) -> Result<Option<String>, ClientError> {
        let mut conn = self.conn.clone();
        bounded(self.timeout, STORE, conn.get(self.key(open_kfid))).await
    }

    async fn save(&self, open_kfid: &str, cursor: &str) -> Result<(), ClientError> {
        let mut conn = self.conn.clone();
        bounded(self.timeout, STORE, conn.set(self.key(open_kfid), cursor)).await
    }
}
