//! [`Client`]: the token manager and the generic call path.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Kind, decode_answer, redact};
use crate::retry::RetryPolicy;
use crate::token::{
    AccessToken, CachedToken, MemoryTokenStore, TokenProvider, TokenStore, cache_key,
};

/// WeCom's API host.
pub const DEFAULT_BASE_URL: &str = "https://qyapi.weixin.qq.com";

const GETTOKEN: &str = "/cgi-bin/gettoken";

/// Consecutive failed token fetches that open the circuit.
const BREAKER_THRESHOLD: u32 = 3;

/// How often an instance waiting for another's fetch looks for the new token.
const LEASE_POLL: Duration = Duration::from_millis(25);

/// Makes lease holders unique within the process.
static HOLDER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The client's shared state.
struct Inner {
    corp_id: String,
    secret: String,
    agent_id: Option<u64>,
    base_url: String,
    http: reqwest::Client,
    store: Arc<dyn TokenStore>,
    key: String,
    refresh_share: f64,
    breaker_cooldown_ms: i64,
    lease_ttl: Duration,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    provider: Option<Arc<dyn TokenProvider>>,
    /// Held by the one task fetching a token; the others wait for its result.
    fetch: tokio::sync::Mutex<()>,
    flight: Mutex<Flight>,
}

/// What the last token fetch did, for the tasks that waited on it.
#[derive(Default)]
struct Flight {
    generation: u64,
    last_error: Option<Error>,
    failures: u32,
    open_until_ms: i64,
}

/// An async WeCom API client for one app (corp id + secret). Cheap to clone.
///
/// Access tokens are cached per app, fetched by one request however many callers wait
/// (single flight), renewed ahead of expiry while callers keep the valid one, and on
/// 40014 / 42001 / 40001 dropped only if still the one that failed, refreshed once, and
/// the call repeated once — never a loop. Repeated fetch failures open a circuit breaker.
#[derive(Clone)]
pub struct Client(Arc<Inner>);

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("corp_id", &self.0.corp_id)
            .field("secret", &"<redacted>")
            .field("agent_id", &self.0.agent_id)
            .field("base_url", &self.0.base_url)
            .field("store", &self.0.store)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]; the first bad value is reported by [`build`](Self::build).
#[must_use]
#[derive(Default)]
pub struct ClientBuilder {
    corp_id: Option<String>,
    secret: Option<String>,
    agent_id: Option<u64>,
    base_url: Option<String>,
    http: Option<reqwest::Client>,
    store: Option<Arc<dyn TokenStore>>,
    refresh_share: Option<f64>,
    breaker_cooldown: Option<Duration>,
    lease_ttl: Option<Duration>,
    clock: Option<Arc<dyn Clock>>,
    retry: Option<RetryPolicy>,
    provider: Option<Arc<dyn TokenProvider>>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("corp_id", &self.corp_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("agent_id", &self.agent_id)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The CorpID (`ww…`).
    pub fn corp_id(mut self, corp_id: impl Into<String>) -> Self {
        self.corp_id = Some(corp_id.into());
        self
    }

    /// The app's secret.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// The app's AgentId (for message endpoints).
    pub fn agent_id(mut self, agent_id: u64) -> Self {
        self.agent_id = Some(agent_id);
        self
    }

    /// Another API host (tests, the simulator, a proxy). Default: WeCom's.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// A configured HTTP client (timeouts, proxy).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Where tokens are cached (default: this process's memory).
    pub fn token_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Renew the token when this share of its lifetime has passed (default 0.85).
    pub fn refresh_ahead(mut self, share: f64) -> Self {
        self.refresh_share = Some(share);
        self
    }

    /// How long token fetching pauses after three failures in a row (default 30 s).
    pub fn breaker_cooldown(mut self, cooldown: Duration) -> Self {
        self.breaker_cooldown = Some(cooldown);
        self
    }

    /// How long an instance may hold the right to fetch the shared token (default 5 s);
    /// if it dies, the others fetch after this.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = Some(ttl);
        self
    }

    /// Reads time from `clock` for token expiry (tests use a `ManualClock`).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// How calls are retried (default: [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Takes tokens from a central token service instead of `gettoken`; the secret is
    /// then optional.
    pub fn token_provider(mut self, provider: Arc<dyn TokenProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// A missing corp id or secret, a refresh share outside (0, 1], or an HTTP client
    /// that cannot be built.
    pub fn build(self) -> Result<Client, Error> {
        let config = |msg: &str| Error::new(Kind::Config, None, msg, "");
        let corp_id = self
            .corp_id
            .filter(|c| !c.is_empty())
            .ok_or_else(|| config("corp_id is required"))?;
        let secret = match (self.secret.filter(|s| !s.is_empty()), &self.provider) {
            (Some(secret), _) => secret,
            (None, Some(_)) => String::new(),
            (None, None) => return Err(config("secret is required (or a token provider)")),
        };
        let refresh_share = self.refresh_share.unwrap_or(0.85);
        if !(refresh_share > 0.0 && refresh_share <= 1.0) {
            return Err(config("refresh_ahead must be in (0, 1]"));
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| config(&redact(&e.to_string())))?,
        };
        let base_url = self.base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        Ok(Client(Arc::new(Inner {
            key: if secret.is_empty() {
                format!("wecom:token:{corp_id}:provider")
            } else {
                cache_key(&corp_id, &secret)
            },
            corp_id,
            secret,
            agent_id: self.agent_id,
            base_url: base_url.trim_end_matches('/').to_owned(),
            http,
            store: self
                .store
                .unwrap_or_else(|| Arc::new(MemoryTokenStore::default())),
            refresh_share,
            breaker_cooldown_ms: i64::try_from(
                self.breaker_cooldown
                    .unwrap_or(Duration::from_secs(30))
                    .as_millis(),
            )
            .unwrap_or(i64::MAX),
            lease_ttl: self.lease_ttl.unwrap_or(Duration::from_secs(5)),
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            retry: self.retry.unwrap_or_default(),
            provider: self.provider,
            fetch: tokio::sync::Mutex::new(()),
            flight: Mutex::new(Flight::default()),
        })))
    }
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    expires_in: i64,
}

impl Client {
    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The app's AgentId, if set.
    pub fn agent_id(&self) -> Option<u64> {
        self.0.agent_id
    }

    /// A valid access token: cached, renewed ahead of expiry, or fetched once for all
    /// waiting callers.
    ///
    /// # Errors
    /// The fetch failed (every caller that waited on it gets the same error), or the
    /// circuit breaker is open.
    pub async fn access_token(&self) -> Result<AccessToken, Error> {
        let inner = &self.0;
        if let Some(cached) = inner.store.get(&inner.key).await? {
            let now = self.now_ms();
            if now < cached.refresh_at_ms {
                return Ok(cached.token);
            }
            if now < cached.expires_at_ms {
                // Renew ahead: one caller fetches; everyone else keeps the valid token.
                if let Ok(guard) = inner.fetch.try_lock() {
                    let fresh = self.fetch_locked(false).await;
                    drop(guard);
                    return Ok(match fresh {
                        Ok(Some(t)) => t.token,
                        _ => cached.token,
                    });
                }
                return Ok(cached.token);
            }
        }
        let generation = self.flight().generation;
        let _guard = inner.fetch.lock().await;
        {
            let flight = self.flight();
            if flight.generation != generation {
                // A fetch finished while we waited: share its outcome.
                if let Some(err) = &flight.last_error {
                    return Err(err.clone());
                }
            }
        }
        if let Some(cached) = inner.store.get(&inner.key).await?
            && self.now_ms() < cached.expires_at_ms
        {
            return Ok(cached.token);
        }
        match self.fetch_locked(true).await? {
            Some(t) => Ok(t.token),
            None => Err(Error::new(
                Kind::Transport,
                None,
                "no token after waiting for the lease",
                GETTOKEN,
            )),
        }
    }

    fn now_ms(&self) -> i64 {
        crate::clock::unix_ms(self.0.clock.now())
    }

    fn flight(&self) -> std::sync::MutexGuard<'_, Flight> {
        self.0.flight.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fetches and stores a token; the caller holds the in-process fetch lock. Across
    /// instances, only the holder of the store's lease fetches; with `wait`, the others
    /// wait for its token (or for the lease to expire, should it die), without `wait`
    /// they return `None` at once (renewal ahead of expiry: the old token still works).
    async fn fetch_locked(&self, wait: bool) -> Result<Option<CachedToken>, Error> {
        let inner = &self.0;
        let holder = format!(
            "{}-{}",
            std::process::id(),
            HOLDER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        loop {
            if inner
                .store
                .try_lease(&inner.key, &holder, inner.lease_ttl)
                .await?
            {
                break;
            }
            if !wait {
                return Ok(None);
            }
            tokio::time::sleep(LEASE_POLL).await;
            if let Some(cached) = inner.store.get(&inner.key).await?
                && self.now_ms() < cached.expires_at_ms
            {
                return Ok(Some(cached));
            }
        }
        let fetched = self.fetch_leased().await;
        inner.store.release_lease(&inner.key, &holder).await?;
        fetched.map(Some)
    }

    /// The fetch itself, by the lease holder.
    async fn fetch_leased(&self) -> Result<CachedToken, Error> {
        let inner = &self.0;
        let now = self.now_ms();
        {
            let flight = self.flight();
            if flight.open_until_ms > now {
                return Err(Error::new(
                    Kind::CircuitOpen,
                    flight.last_error.as_ref().and_then(Error::errcode),
                    "token fetching is paused after repeated failures",
                    GETTOKEN,
                ));
            }
        }
        let result = match &inner.provider {
            Some(provider) => provider
                .fetch()
                .await
                .map(|(token, expires_in)| TokenAnswer {
                    errcode: 0,
                    errmsg: String::new(),
                    access_token: token.expose().to_owned(),
                    expires_in: i64::try_from(expires_in).unwrap_or(i64::MAX),
                }),
            None => self.gettoken().await,
        };
        // Record the outcome for waiting callers; the lock is released before any await.
        {
            let mut flight = self.flight();
            flight.generation += 1;
            match &result {
                Ok(_) => {
                    flight.failures = 0;
                    flight.last_error = None;
                }
                Err(err) => {
                    flight.failures += 1;
                    if flight.failures >= BREAKER_THRESHOLD {
                        flight.open_until_ms = now + inner.breaker_cooldown_ms;
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
            reason = "milliseconds of a lifetime"
        )]
        let ahead = (lifetime_ms as f64 * inner.refresh_share) as i64;
        let cached = CachedToken {
            token: AccessToken::new(answer.access_token),
            expires_at_ms: now + lifetime_ms,
            refresh_at_ms: now + ahead,
        };
        inner.store.put(&inner.key, cached.clone()).await?;
        Ok(cached)
    }

    async fn gettoken(&self) -> Result<TokenAnswer, Error> {
        let inner = &self.0;
        let response = inner
            .http
            .get(format!("{}{GETTOKEN}", inner.base_url))
            .query(&[
                ("corpid", inner.corp_id.as_str()),
                ("corpsecret", inner.secret.as_str()),
            ])
            .send()
            .await
            .map_err(|e| Error::new(Kind::Transport, None, redact(&e.to_string()), GETTOKEN))?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Error::new(Kind::Transport, None, redact(&e.to_string()), GETTOKEN))?;
        let answer: TokenAnswer = serde_json::from_slice(&bytes)
            .map_err(|e| Error::new(Kind::Decode, None, e.to_string(), GETTOKEN))?;
        if answer.errcode != 0 {
            return Err(Error::api(answer.errcode, answer.errmsg, GETTOKEN));
        }
        if answer.access_token.is_empty() {
            return Err(Error::new(
                Kind::Decode,
                None,
                "gettoken returned no access_token",
                GETTOKEN,
            ));
        }
        Ok(answer)
    }

    /// `GET path` with the access token; `query` adds parameters. Idempotent: `-1` and
    /// transport errors are retried per the retry policy.
    ///
    /// # Errors
    /// Transport, decode and API errors; a token error after one refresh and repeat;
    /// [`Kind::Timeout`] past the policy's deadline.
    pub async fn get<Resp: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Resp, Error> {
        self.call::<(), Resp>(reqwest::Method::GET, path, query, None, true)
            .await
    }

    /// `POST path` with a JSON body and the access token. Not idempotent: only token
    /// errors are repeated (once).
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn post<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
    ) -> Result<Resp, Error> {
        self.call(reqwest::Method::POST, path, &[], Some(body), false)
            .await
    }

    /// `POST` for calls that are safe to repeat (queries by POST, `message/send` with
    /// `enable_duplicate_check`): retried like [`get`](Self::get).
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn post_idempotent<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
    ) -> Result<Resp, Error> {
        self.call(reqwest::Method::POST, path, &[], Some(body), true)
            .await
    }

    async fn call<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Req>,
        idempotent: bool,
    ) -> Result<Resp, Error> {
        let policy = self.0.retry;
        let attempts = async {
            let mut refreshed = false;
            let mut retries = 0u32;
            loop {
                let token = self.access_token().await?;
                let err = match self.send_once(&method, path, query, body, &token).await {
                    Ok(answer) => return Ok(answer),
                    Err(err) => err,
                };
                if err.is_token_error() && !refreshed {
                    // Drop the token only if it is still the one that failed, then once more.
                    refreshed = true;
                    self.0.store.invalidate_if(&self.0.key, &token).await?;
                    continue;
                }
                if idempotent
                    && err.is_retryable()
                    && !err.is_rate_limited()
                    && retries < policy.max_retries
                {
                    retries += 1;
                    let seed = u64::try_from(self.now_ms())
                        .unwrap_or(0)
                        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
                    tokio::time::sleep(policy.delay(retries, seed >> 20)).await;
                    continue;
                }
                return Err(err);
            }
        };
        tokio::time::timeout(policy.deadline, attempts)
            .await
            .unwrap_or_else(|_| {
                Err(Error::new(
                    Kind::Timeout,
                    None,
                    "the call's deadline passed",
                    path,
                ))
            })
    }

    /// A multipart upload (part `media`) with the token; token errors refresh once.
    pub(crate) async fn upload<Resp: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        filename: &str,
        bytes: Vec<u8>,
    ) -> Result<Resp, Error> {
        // Shared, so a repeat after a token refresh does not copy the file again.
        let bytes = bytes::Bytes::from(bytes);
        let len = bytes.len() as u64;
        let mut refreshed = false;
        loop {
            let token = self.access_token().await?;
            let part = reqwest::multipart::Part::stream_with_length(bytes.clone(), len)
                .file_name(filename.to_owned());
            let form = reqwest::multipart::Form::new().part("media", part);
            let request = self
                .0
                .http
                .post(format!("{}{path}", self.0.base_url))
                .query(&[("access_token", token.expose())])
                .query(query)
                .multipart(form);
            match exchange(request, path).await {
                Err(err) if err.is_token_error() && !refreshed => {
                    refreshed = true;
                    self.0.store.invalidate_if(&self.0.key, &token).await?;
                }
                other => return other,
            }
        }
    }

    /// A download: the body's bytes, unless WeCom answers with a JSON error.
    pub(crate) async fn download(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<u8>, Error> {
        let mut refreshed = false;
        loop {
            let token = self.access_token().await?;
            let transport =
                |e: reqwest::Error| Error::new(Kind::Transport, None, redact(&e.to_string()), path);
            let response = self
                .0
                .http
                .get(format!("{}{path}", self.0.base_url))
                .query(&[("access_token", token.expose())])
                .query(query)
                .send()
                .await
                .map_err(transport)?;
            let json = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("json") || v.contains("text/plain"));
            let bytes = response.bytes().await.map_err(transport)?;
            if !json {
                return Ok(bytes.to_vec());
            }
            let Err(err) = decode_answer(&bytes, path) else {
                return Ok(bytes.to_vec());
            };
            if err.is_token_error() && !refreshed {
                refreshed = true;
                self.0.store.invalidate_if(&self.0.key, &token).await?;
                continue;
            }
            return Err(err);
        }
    }

    async fn send_once<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
        &self,
        method: &reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Req>,
        token: &AccessToken,
    ) -> Result<Resp, Error> {
        let inner = &self.0;
        let mut request = inner
            .http
            .request(method.clone(), format!("{}{path}", inner.base_url))
            .query(&[("access_token", token.expose())])
            .query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        exchange(request, path).await
    }
}

/// Sends a request and decodes WeCom's JSON answer.
pub(crate) async fn exchange<Resp: DeserializeOwned>(
    request: reqwest::RequestBuilder,
    path: &str,
) -> Result<Resp, Error> {
    let transport =
        |e: reqwest::Error| Error::new(Kind::Transport, None, redact(&e.to_string()), path);
    let bytes = request
        .send()
        .await
        .map_err(transport)?
        .bytes()
        .await
        .map_err(transport)?;
    let value = decode_answer(&bytes, path)?;
    serde_json::from_value(value).map_err(|e| Error::new(Kind::Decode, None, e.to_string(), path))
}
