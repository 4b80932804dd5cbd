//! [`RedisConversationStore`]: conversation steps shared by every bot instance
//! (feature `redis`), so a question asked by one instance is answered on another.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

use crate::conversation::{ConversationStore, OpenStep};
use crate::error::StoreError;
use crate::redis_base::{RedisBase, millis};

/// Deletes the step only if it is still the expected one.
const CLEAR_IF: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// Steps in Redis under `{prefix}conv:{key}`, each kept with its own expiry (`PX`).
///
/// ```no_run
/// # async fn demo() -> Result<(), wecom_sdk_bot::StoreError> {
/// use std::sync::Arc;
/// use wecom_sdk_bot::RedisConversationStore;
/// let steps = RedisConversationStore::connect("redis://127.0.0.1:6379", "shop:").await?;
/// // Bot::builder().conversations(Arc::new(steps))
/// # let _ = Arc::new(steps);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisConversationStore {
    base: RedisBase,
    clear_if: Script,
}

impl std::fmt::Debug for RedisConversationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.base.debug("RedisConversationStore", f)
    }
}

impl RedisConversationStore {
    /// How long one Redis operation may take before it fails (the message is then
    /// answered outside any step).
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
        Self {
            base,
            clear_if: Script::new(CLEAR_IF),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}conv:{key}", self.base.prefix)
    }
}

/// The stored form: `until_ms`, a tab, the step's name.
fn encode(step: &OpenStep) -> String {
    format!("{}\t{}", step.until_ms, step.step)
}

fn decode(value: &str) -> Option<OpenStep> {
    let (until, step) = value.split_once('\t')?;
    Some(OpenStep::new(step, until.parse().ok()?))
}

#[async_trait]
impl ConversationStore for RedisConversationStore {
    async fn get(&self, key: &str) -> Result<Option<OpenStep>, StoreError> {
        let mut conn = self.base.conn.clone();
        let value: Option<String> = self.base.bounded(conn.get(self.key(key))).await?;
        Ok(value.as_deref().and_then(decode))
    }

    async fn set(&self, key: &str, step: &OpenStep, keep: Duration) -> Result<(), StoreError> {
        let mut conn = self.base.conn.clone();
        let ms = millis(keep);
        self.base
            .bounded(conn.pset_ex(self.key(key), encode(step), ms))
            .await
    }

    async fn clear(&self, key: &str, expected: Option<&OpenStep>) -> Result<bool, StoreError> {
        let mut conn = self.base.conn.clone();
        let removed: i64 = match expected {
            Some(step) => {
                let mut call = self.clear_if.key(self.key(key));
                call.arg(encode(step));
                self.base.bounded(call.invoke_async(&mut conn)).await?
            }
            None => self.base.bounded(conn.del(self.key(key))).await?,
        };
        Ok(removed > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::{OpenStep, decode, encode};

    #[test]
    fn steps_round_trip_and_junk_is_no_step() {
        let step = OpenStep::new("return-type", 1_700_000_000_123);
        assert_eq!(decode(&encode(&step)), Some(step));
        assert_eq!(decode("junk"), None);
        assert_eq!(decode("x\tstep"), None);
    }
}
