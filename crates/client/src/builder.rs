//! [`ClientBuilder`]: every setting of a [`Client`], checked once by `build`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::client::{Client, DEFAULT_BASE_URL, Inner};
use crate::clock::{Clock, SystemClock};
use crate::error::{ClientError, Kind, redact};
use crate::retry::RetryPolicy;
use crate::token::{MemoryTokenStore, TokenProvider, TokenStore, cache_key};
use crate::tokens::{TokenSettings, Tokens};

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

    /// The app's AgentId: the agent of app messages that name none, and a guard
    /// against sending for another app's agent with this app's token.
    pub fn agent_id(mut self, agent_id: u64) -> Self {
        self.agent_id = Some(agent_id);
        self
    }

    /// Another API host (tests, the simulator, a proxy). Default: WeCom's.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// A configured HTTP client (timeouts, proxy). Build it with a TLS backend: this
    /// crate enables reqwest's rustls without a default crypto provider (see the
    /// README's feature table); the default client uses rustls with `ring`.
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
    /// [`Kind::Config`]: a missing corp id or secret, a refresh share outside (0, 1], a
    /// base URL that is not an http(s) URL, or an HTTP client that cannot be built.
    pub fn build(self) -> Result<Client, ClientError> {
        let config = |msg: &str| ClientError::new(Kind::Config, None, msg, "");
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
            None => default_http().map_err(|e| config(&e))?,
        };
        let base_url = self.base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let base_url = base_url.trim_end_matches('/').to_owned();
        match reqwest::Url::parse(&base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {}
            Ok(_) => return Err(config("base_url must be an http:// or https:// URL")),
            Err(e) => return Err(config(&format!("base_url {base_url:?} is not a URL: {e}"))),
        }
        let key = if secret.is_empty() {
            format!("wecom:token:{corp_id}:provider")
        } else {
            cache_key(&corp_id, &secret)
        };
        let tokens = Tokens::new(TokenSettings {
            key,
            store: self
                .store
                .unwrap_or_else(|| Arc::new(MemoryTokenStore::default())),
            refresh_share,
            breaker_cooldown: self.breaker_cooldown.unwrap_or(Duration::from_secs(30)),
            lease_ttl: self.lease_ttl.unwrap_or(Duration::from_secs(5)),
            provider: self.provider,
        });
        Ok(Client(Arc::new(Inner {
            corp_id,
            secret,
            agent_id: self.agent_id,
            base_url,
            http,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            retry: self.retry.unwrap_or_default(),
            tokens,
        })))
    }
}

/// The HTTP client a [`Client`] or a [`WebhookClient`](crate::WebhookClient) uses when
/// given none: rustls with the `ring` provider and the platform's certificate
/// verifier, HTTP/1.1 keep-alive, a 10 s timeout per request.
///
/// # Errors
/// The platform's verifier could not be set up (no system certificates).
pub(crate) fn default_http() -> Result<reqwest::Client, String> {
    http_with(tls_client_config()?)
}

/// [`default_http`], or — when the platform has no usable certificates — a client whose
/// HTTPS requests fail with a transport error (never a panic) while plain-HTTP hosts
/// (the simulator) work.
pub(crate) fn fallback_http() -> reqwest::Client {
    default_http().unwrap_or_else(|_| {
        // `ring` supports the safe default versions: the config always builds.
        tls_config()
            .map_err(|e| e.to_string())
            .and_then(|b| {
                http_with(
                    b.with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth(),
                )
            })
            .unwrap_or_default()
    })
}

/// The HTTP client this crate uses when given none (rustls with `ring` and the
/// platform's verifier, HTTP/1.1 keep-alive, 10 s per request), for other HTTP a bot
/// does (the AI bot's media downloads and `response_url` posts). Where the platform has
/// no certificates, HTTPS requests fail with a transport error and plain HTTP works.
pub fn http_client() -> reqwest::Client {
    fallback_http()
}

/// The TLS settings of [`http_client`] (rustls with `ring`, the platform's verifier),
/// for other TLS connections a bot makes (the AI bot's WebSocket).
///
/// # Errors
/// The platform's verifier could not be set up (no system certificates).
pub fn tls_client_config() -> Result<rustls::ClientConfig, String> {
    use rustls_platform_verifier::BuilderVerifierExt as _;
    Ok(tls_config()
        .and_then(rustls::ConfigBuilder::with_platform_verifier)
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth())
}

/// rustls with the `ring` provider and its safe protocol versions, before the verifier.
fn tls_config()
-> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier>, rustls::Error> {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
}

/// The reqwest client over `tls`: HTTP/1.1 keep-alive, 10 s per request.
fn http_with(mut tls: rustls::ClientConfig) -> Result<reqwest::Client, String> {
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| redact(&e.to_string()))
}
