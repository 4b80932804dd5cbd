//! [`RedisVariantStore`]: A/B impressions and conversions counted by every instance
//! (feature `redis`), so each instance's bandit chooses by all of them.

use std::collections::HashMap;

use redis::aio::ConnectionManager;

use crate::Bot;
use crate::error::StoreError;
use crate::links::Count;
use crate::metrics::Metrics;
use crate::redis_base::RedisBase;

/// Per rule one hash `{prefix}ab:{rule}` with fields `<variant>:imp` and
/// `<variant>:conv`. After each count the rule's totals are read back into the engine
/// ([`Engine::set_variant_stats`](wecom_sdk_matcher::Engine::set_variant_stats)).
///
/// ```no_run
/// # async fn demo() -> Result<(), wecom_sdk_bot::StoreError> {
/// use wecom_sdk_bot::RedisVariantStore;
/// let shared = RedisVariantStore::connect("redis://127.0.0.1:6379", "shop:").await?;
/// // Bot::builder().shared_variants(shared)
/// # let _ = shared;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisVariantStore {
    base: RedisBase,
}

impl std::fmt::Debug for RedisVariantStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.base.debug("RedisVariantStore", f)
    }
}

impl RedisVariantStore {
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

    /// Counts one `what` of `variant`, and returns the rule's totals: variant →
    /// (impressions, conversions).
    pub(crate) async fn count(
        &self,
        rule: &str,
        variant: &str,
        what: Count,
    ) -> Result<HashMap<String, (u64, u64)>, StoreError> {
        let key = format!("{}ab:{{{rule}}}", self.base.prefix);
        let field = match what {
            Count::Impression => format!("{variant}:imp"),
            Count::Conversion => format!("{variant}:conv"),
        };
        let mut conn = self.base.conn.clone();
        let (all,): (HashMap<String, u64>,) = self
            .base
            .bounded(
                redis::pipe()
                    .hincr(&key, field, 1)
                    .ignore()
                    .cmd("PEXPIRE")
                    .arg(&key)
                    .arg(90_u64 * 24 * 3600 * 1000)
                    .ignore()
                    .hgetall(&key)
                    .query_async::<(HashMap<String, u64>,)>(&mut conn),
            )
            .await?;
        let mut totals: HashMap<String, (u64, u64)> = HashMap::new();
        for (field, n) in all {
            if let Some(v) = field.strip_suffix(":imp") {
                totals.entry(v.to_owned()).or_default().0 = n;
            } else if let Some(v) = field.strip_suffix(":conv") {
                totals.entry(v.to_owned()).or_default().1 = n;
            }
        }
        Ok(totals)
    }
}

impl Bot {
    /// Counts `what` of `rule`'s `variant` in the shared store (on a task) and loads the
    /// rule's totals into the engine; without a shared store, nothing.
    pub(crate) fn share_variant(&self, rule: &str, variant: &str, what: Count) {
        let Some(shared) = self.inner.variants.clone() else {
            return;
        };
        let (bot, rule, variant) = (self.clone(), rule.to_owned(), variant.to_owned());
        self.inner.tracker.spawn(async move {
            match shared.count(&rule, &variant, what).await {
                Ok(totals) => {
                    for (v, (imp, conv)) in totals {
                        bot.inner.engine.set_variant_stats(&rule, &v, imp, conv);
                    }
                }
                Err(e) => {
                    Metrics::incr(&bot.inner.metrics.store_errors);
                    tracing::warn!(error = %e, "variant store failed: the bandit reads this instance's counts");
                }
            }
        });
    }
}
