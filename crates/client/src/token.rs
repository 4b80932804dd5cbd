//! Access tokens: the cached value, where it is kept ([`TokenStore`]), and the manager
//! that fetches it once however many callers wait.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use crate::error::ClientError;

/// An access token. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    /// Wraps a token value.
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Self(value.into())
    }

    /// The value, for the request's query string only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// A token with its lifetime, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedToken {
    /// The token.
    pub token: AccessToken,
    /// Unix milliseconds after which WeCom no longer accepts it.
    pub expires_at_ms: i64,
    /// Unix milliseconds from which it should be renewed ahead of expiry.
    pub refresh_at_ms: i64,
}

/// Where tokens are cached, keyed per app (corp id + a fingerprint of the secret).
///
/// The in-memory store serves one process; a shared store (Redis) lets several bot
/// instances use one token.
#[async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The cached token of `key`.
    ///
    /// # Errors
    /// The store failed.
    async fn get(&self, key: &str) -> Result<Option<CachedToken>, ClientError>;

    /// Stores a fresh token.
    ///
    /// # Errors
    /// The store failed.
    async fn put(&self, key: &str, token: CachedToken) -> Result<(), ClientError>;

    /// Drops the cached token only if it is still `failed` (a neighbour may have stored a
    /// fresh one meanwhile); returns whether it was dropped.
    ///
    /// # Errors
    /// The store failed.
    async fn invalidate_if(&self, key: &str, failed: &AccessToken) -> Result<bool, ClientError>;

    /// Tries to become the one instance that fetches the token of `key`, for `ttl`
    /// (a lease, so a holder that dies blocks nobody for longer). `holder` fences the
    /// release. A store used by one process needs no lease: the default grants it.
    ///
    /// # Errors
    /// The store failed.
    async fn try_lease(
        &self,
        key: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, ClientError> {
        let _ = (key, holder, ttl);
        Ok(true)
    }

    /// Releases the lease if `holder` still holds it.
    ///
    /// # Errors
    /// The store failed.
    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), ClientError> {
        let _ = (key, holder);
        Ok(())
    }
}

/// Tokens in this process's memory.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    map: Mutex<HashMap<String, CachedToken>>,
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn get(&self, key: &str) -> Result<Option<CachedToken>, ClientError> {
        Ok(self
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned())
    }

    async fn put(&self, key: &str, token: CachedToken) -> Result<(), ClientError> {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned(), token);
        Ok(())
    }

    async fn invalidate_if(&self, key: &str, failed: &AccessToken) -> Result<bool, ClientError> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.get(key).is_some_and(|t| &t.token == failed) {
            map.remove(key);
            return Ok(true);
        }
        Ok(false)
    }
}

/// The cache key of an app: corp id and the first 16 hex digits of SHA1(secret) — never
/// the secret itself. Two apps of one corp get two keys (tokens are per app). Shared
/// stores (and tools that seed them) use the same key.
pub fn cache_key(corp_id: &str, secret: &str) -> String {
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(secret.as_bytes());
    format!("wecom:token:{corp_id}:{}", &hex::encode(digest)[..16])
}

/// Where tokens come from when not from `gettoken`: a company's central token service.
///
/// With a provider the client never sees the secret; it still caches, shares and
/// refreshes the token as usual, and asks the provider again after a token error.
#[async_trait]
pub trait TokenProvider: Send + Sync + fmt::Debug {
    /// A fresh token and its lifetime in seconds.
    ///
    /// # Errors
    /// The service failed; the error reaches every caller waiting for the token.
    async fn fetch(&self) -> Result<(AccessToken, u64), ClientError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_per_app_and_hide_the_secret() {
        let a = cache_key("ww1", "secret-of-app-a");
        assert_ne!(a, cache_key("ww1", "secret-of-app-b"));
        assert!(!a.contains("secret"));
        assert_eq!(
            format!("{:?}", AccessToken::new("TOKEN-VALUE")),
            "AccessToken(<redacted>)"
        );
    }
}
