//! The token machinery of a [`Client`]: a lock-free local copy for the warm path,
//! single flight within the process, a lease across instances, renewal ahead of expiry
//! in the background, a circuit breaker on repeated failures, and a token store that
//! may fail without failing calls while the local copy is valid.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;

use crate::client::{Client, exchange};
use crate::error::{ClientError, Kind};
use crate::token::{AccessToken, CachedToken, TokenProvider, TokenStore};

pub(crate) const GETTOKEN: &str = "/cgi-bin/gettoken";

/// Consecutive failed token fetches that open the circuit.
const BREAKER_THRESHOLD: u32 = 3;

/// How often an instance waiting for another's fetch looks for the new token.
const LEASE_POLL: Duration = Duration::from_millis(25);

/// Renewal starts up to this share of the lifetime earlier than `refresh_ahead` says,
/// at random, so instances (and apps) do not all renew at the same instant.
const RENEW_JITTER_SHARE: f64 = 0.01;

/// Makes lease holders unique within the process.
static HOLDER: AtomicU64 = AtomicU64::new(1);

/// What the builder decided about tokens.
pub(crate) struct TokenSettings {
    pub(crate) key: String,
    pub(crate) store: Arc<dyn TokenStore>,
    pub(crate) refresh_share: f64,
    pub(crate) breaker_cooldown: Duration,
    pub(crate) lease_ttl: Duration,
    pub(crate) provider: Option<Arc<dyn TokenProvider>>,
}

/// The token state of one client.
pub(crate) struct Tokens {
    pub(crate) key: String,
    pub(crate) store: Arc<dyn TokenStore>,
    refresh_share: f64,
    breaker_cooldown_ms: i64,
    lease_ttl: Duration,
    provider: Option<Arc<dyn TokenProvider>>,
    /// The token this process holds: read without a lock on every call.
    local: ArcSwapOption<CachedToken>,
    /// Held by the one task fetching a token; the others wait for its result.
    fetch: tokio::sync::Mutex<()>,
    flight: Mutex<Flight>,
    /// A background renewal is under way.
    renewing: AtomicBool,
    /// The store failed on its last use (logged once per outage).
    store_down: AtomicBool,
    fetches: AtomicU64,
    store_failures: AtomicU64,
}

/// What the last token fetch did, for the tasks that waited on it.
#[derive(Default)]
struct Flight {
    generation: u64,
    last_error: Option<ClientError>,
    failures: u32,
    open_until_ms: i64,
}

/// Counters of a client's token handling, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenStats {
    /// Tokens fetched (`gettoken` or the token provider).
    pub fetches: u64,
    /// Token-store operations that failed; calls went on with this process's copy.
    pub store_failures: u64,
}

/// `gettoken`'s answer (a non-zero errcode is an error before it is read).
#[derive(serde::Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    expires_in: i64,
}

impl Tokens {
    pub(crate) fn new(settings: TokenSettings) -> Self {
        Self {
            key: settings.key,
            store: settings.store,
            refresh_share: settings.refresh_share,
            breaker_cooldown_ms: i64::try_from(settings.breaker_cooldown.as_millis())
                .unwrap_or(i64::MAX),
            lease_ttl: settings.lease_ttl,
            provider: settings.provider,
            local: ArcSwapOption::empty(),
            fetch: tokio::sync::Mutex::new(()),
            flight: Mutex::new(Flight::default()),
            renewing: AtomicBool::new(false),
            store_down: AtomicBool::new(false),
            fetches: AtomicU64::new(0),
            store_failures: AtomicU64::new(0),
        }
    }

    fn flight(&self) -> std::sync::MutexGuard<'_, Flight> {
        self.flight.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The local copy, if still accepted at `now`.
    fn local_valid(&self, now: i64) -> Option<Arc<CachedToken>> {
        self.local.load_full().filter(|t| now < t.expires_at_ms)
    }

    /// The outcome of a store operation: a failure is counted, logged once per outage,
    /// and turned into `None` so the caller goes on with what it has.
    fn tolerate<T>(&self, result: Result<T, ClientError>) -> Option<T> {
        match result {
            Ok(value) => {
                if self.store_down.swap(false, Ordering::AcqRel) {
                    tracing::info!(key = %self.key, "token store answers again");
                }
                Some(value)
            }
            Err(err) => {
                self.store_failures.fetch_add(1, Ordering::Relaxed);
                if !self.store_down.swap(true, Ordering::AcqRel) {
                    tracing::warn!(
                        key = %self.key,
                        error = %err,
                        "token store failed; serving tokens from this process until it answers"
                    );
                }
                None
            }
        }
    }

    pub(crate) fn stats(&self) -> TokenStats {
        TokenStats {
            fetches: self.fetches.load(Ordering::Relaxed),
            store_failures: self.store_failures.load(Ordering::Relaxed),
        }
    }
}

impl Client {
    /// A valid access token: this process's copy (no lock, no store access), renewed
    /// in the background once `refresh_ahead` of its lifetime has passed, or fetched
    /// once for all waiting callers.
    ///
    /// # Errors
    /// The fetch failed (every caller that waited on it gets the same error), or the
    /// circuit breaker is open.
    pub async fn access_token(&self) -> Result<AccessToken, ClientError> {
        let tokens = &self.0.tokens;
        let now = self.now_ms();
        if let Some(local) = tokens.local_valid(now) {
            if now >= local.refresh_at_ms {
                self.renew_in_background();
            }
            return Ok(local.token.clone());
        }
        let generation = tokens.flight().generation;
        let _guard = tokens.fetch.lock().await;
        {
            let flight = tokens.flight();
            if flight.generation != generation
                && let Some(err) = &flight.last_error
            {
                // A fetch finished while we waited: share its outcome.
                return Err(err.clone());
            }
        }
        let now = self.now_ms();
        if let Some(local) = tokens.local_valid(now) {
            return Ok(local.token.clone());
        }
        match tokens.tolerate(tokens.store.get(&tokens.key).await) {
            Some(Some(stored)) if now < stored.expires_at_ms => {
                let token = stored.token.clone();
                tokens.local.store(Some(Arc::new(stored)));
                Ok(token)
            }
            Some(_) => match self.fetch_locked(true).await? {
                Some(t) => Ok(t.token),
                None => Err(ClientError::new(
                    Kind::Transport,
                    None,
                    "no token after waiting for the lease",
                    GETTOKEN,
                )),
            },
            // The store is down: fetch for this process alone.
            None => self.fetch_leased().await.map(|t| t.token),
        }
    }

    /// The store's token, when `usable` says so, made this process's copy. `None` when
    /// the store failed; `Some(None)` when it holds no usable token.
    async fn adopt_stored(
        &self,
        usable: impl Fn(&CachedToken) -> bool,
    ) -> Option<Option<CachedToken>> {
        let tokens = &self.0.tokens;
        let stored = tokens.tolerate(tokens.store.get(&tokens.key).await)?;
        Some(stored.filter(|t| usable(t)).inspect(|t| {
            tokens.local.store(Some(Arc::new(t.clone())));
        }))
    }

    /// Counters of this client's token handling.
    pub fn token_stats(&self) -> TokenStats {
        self.0.tokens.stats()
    }

    /// Drops `failed` (a token WeCom refused) here and in the store, unless a fresh
    /// token replaced it meanwhile.
    pub(crate) async fn invalidate(&self, failed: &AccessToken) {
        let tokens = &self.0.tokens;
        let current = tokens.local.load_full();
        if current.as_ref().is_some_and(|t| &t.token == failed) {
            tokens
                .local
                .compare_and_swap(&current, None::<Arc<CachedToken>>);
        }
        tokens.tolerate(tokens.store.invalidate_if(&tokens.key, failed).await);
    }

    /// Renews the token off the caller's path: one task at a time, while every caller
    /// keeps the still-valid token.
    fn renew_in_background(&self) {
        let tokens = &self.0.tokens;
        if tokens.renewing.swap(true, Ordering::AcqRel) {
            return;
        }
        let client = self.clone();
        let renew = async move {
            let tokens = &client.0.tokens;
            if let Ok(_guard) = tokens.fetch.try_lock() {
                // Another instance may hold the lease: then its token arrives in the
                // store, and the next renewal picks it up.
                let now = client.now_ms();
                let fresher = client.adopt_stored(|t| now < t.refresh_at_ms).await;
                if fresher.flatten().is_none()
                    && let Err(err) = client.fetch_locked(false).await
                {
                    tracing::warn!(error = %err, "renewing the access token ahead of expiry failed; the current one stays in use");
                }
            }
            tokens.renewing.store(false, Ordering::Release);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(renew);
            }
            Err(_) => tokens.renewing.store(false, Ordering::Release),
        }
    }

    /// Fetches and stores a token; the caller holds the in-process fetch lock. Across
    /// instances, only the holder of the store's lease fetches; with `wait`, the others
    /// wait for its token (or for the lease to expire, should it die), without `wait`
    /// they return `None` at once (renewal ahead of expiry: the old token still works).
    /// A store that fails grants no lease and is not waited for: this process fetches.
    async fn fetch_locked(&self, wait: bool) -> Result<Option<CachedToken>, ClientError> {
        let tokens = &self.0.tokens;
        let holder = format!(
            "{}-{}",
            std::process::id(),
            HOLDER.fetch_add(1, Ordering::Relaxed)
        );
        loop {
            let leased = tokens.tolerate(
                tokens
                    .store
                    .try_lease(&tokens.key, &holder, tokens.lease_ttl)
                    .await,
            );
            match leased {
                Some(true) => break,
                None => return self.fetch_leased().await.map(Some),
                Some(false) if !wait => return Ok(None),
                Some(false) => {}
            }
            tokio::time::sleep(LEASE_POLL).await;
            let now = self.now_ms();
            if let Some(Some(stored)) = self.adopt_stored(|t| now < t.expires_at_ms).await {
                return Ok(Some(stored));
            }
        }
        let fetched = self.fetch_leased().await;
        tokens.tolerate(tokens.store.release_lease(&tokens.key, &holder).await);
        fetched.map(Some)
    }

    /// The fetch itself: `gettoken` (or the provider), the breaker, the local copy and
    /// the store.
    async fn fetch_leased(&self) -> Result<CachedToken, ClientError> {
        let tokens = &self.0.tokens;
        let now = self.now_ms();
        {
            let flight = tokens.flight();
            if flight.open_until_ms > now {
                return Err(ClientError::new(
                    Kind::CircuitOpen,
                    flight.last_error.as_ref().and_then(ClientError::errcode),
                    "token fetching is paused after repeated failures",
                    GETTOKEN,
                ));
            }
        }
        let started = Instant::now();
        let result = match &tokens.provider {
            Some(provider) => provider
                .fetch()
                .await
                .map(|(token, expires_in)| TokenAnswer {
                    access_token: token.expose().to_owned(),
                    expires_in: i64::try_from(expires_in).unwrap_or(i64::MAX),
                }),
            None => self.gettoken().await,
        };
        tokens.fetches.fetch_add(1, Ordering::Relaxed);
        let latency_ms = started.elapsed().as_millis();
        // Record the outcome for waiting callers; the lock is released before any await.
        {
            let mut flight = tokens.flight();
            flight.generation += 1;
            match &result {
                Ok(answer) => {
                    if flight.failures >= BREAKER_THRESHOLD {
                        tracing::info!("token fetching works again; circuit breaker closed");
                    }
                    flight.failures = 0;
                    flight.last_error = None;
                    tracing::info!(
                        expires_in = answer.expires_in,
                        latency_ms,
                        "access token fetched"
                    );
                }
                Err(err) => {
                    flight.failures += 1;
                    tracing::warn!(
                        errcode = err.errcode(),
                        attempt = flight.failures,
                        latency_ms,
                        error = %err,
                        "access token fetch failed"
                    );
                    if flight.failures >= BREAKER_THRESHOLD {
                        flight.open_until_ms = now + tokens.breaker_cooldown_ms;
                        tracing::warn!(
                            failures = flight.failures,
                            pause_ms = tokens.breaker_cooldown_ms,
                            "circuit breaker open: token fetching paused"
                        );
                    }
                    flight.last_error = Some(err.clone());
                }
            }
        }
        let answer = result?;
        let lifetime_ms = answer.expires_in.max(1).saturating_mul(1000);
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_precision_loss,
            clippy::cast_sign_loss,
            reason = "milliseconds of a lifetime"
        )]
        let (ahead, jitter) = {
            let ahead = (lifetime_ms as f64 * tokens.refresh_share) as i64;
            let span = (lifetime_ms as f64 * RENEW_JITTER_SHARE) as u64;
            let seed = jitter_seed();
            (ahead, i64::try_from(seed % span.max(1)).unwrap_or(0))
        };
        let cached = CachedToken {
            token: AccessToken::new(answer.access_token),
            expires_at_ms: now + lifetime_ms,
            refresh_at_ms: now + (ahead - jitter).max(0),
        };
        tokens.local.store(Some(Arc::new(cached.clone())));
        tokens.tolerate(tokens.store.put(&tokens.key, cached.clone()).await);
        Ok(cached)
    }

    async fn gettoken(&self) -> Result<TokenAnswer, ClientError> {
        let inner = &self.0;
        let request = inner
            .http
            .get(format!("{}{GETTOKEN}", inner.base_url))
            .query(&[
                ("corpid", inner.corp_id.as_str()),
                ("corpsecret", inner.secret.as_str()),
            ]);
        let answer: TokenAnswer = exchange(request, GETTOKEN).await?;
        if answer.access_token.is_empty() {
            return Err(ClientError::new(
                Kind::Decode,
                None,
                "gettoken returned no access_token",
                GETTOKEN,
            ));
        }
        Ok(answer)
    }
}

/// A cheap random number for jitter (the hasher's per-process random keys and a
/// counter; not for anything secret).
pub(crate) fn jitter_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}
