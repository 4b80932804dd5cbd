//! [`Client`]: one app's handle, and the one call loop every request goes through
//! (token, attempt, one refresh on a token error, backoff within the retry policy, all
//! inside the call's deadline).

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument as _;

use crate::builder::ClientBuilder;
use crate::clock::Clock;
use crate::error::{ClientError, Kind, decode_answer};
use crate::retry::RetryPolicy;
use crate::token::AccessToken;
use crate::tokens::{Tokens, jitter_seed};

/// WeCom's API host.
pub const DEFAULT_BASE_URL: &str = "https://qyapi.weixin.qq.com";

/// The client's shared state.
pub(crate) struct Inner {
    pub(crate) corp_id: String,
    pub(crate) secret: String,
    pub(crate) agent_id: Option<u64>,
    pub(crate) base_url: String,
    pub(crate) http: reqwest::Client,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) retry: RetryPolicy,
    pub(crate) tokens: Tokens,
}

/// An async WeCom API client for one app (corp id + secret). Cheap to clone.
///
/// Access tokens are cached per app, fetched by one request however many callers wait
/// (single flight), renewed in the background ahead of expiry while callers keep the
/// valid one, and on 40014 / 42001 / 40001 dropped only if still the one that failed,
/// refreshed once, and the call repeated once — never a loop. Repeated fetch failures
/// open a circuit breaker.
#[derive(Clone)]
pub struct Client(pub(crate) Arc<Inner>);

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("corp_id", &self.0.corp_id)
            .field("secret", &"<redacted>")
            .field("agent_id", &self.0.agent_id)
            .field("base_url", &self.0.base_url)
            .field("store", &self.0.tokens.store)
            .finish_non_exhaustive()
    }
}

/// Whether a failed attempt may be repeated beyond the one token refresh (a token
/// error means WeCom did not act on the request, so that repeat is always safe).
#[derive(Debug)]
pub(crate) enum Repeat<'a, Req: ?Sized> {
    /// Not idempotent: never repeated on busy (-1) or transport errors.
    No,
    /// Idempotent: repeated on busy (-1) and transport errors, per the retry policy.
    Same,
    /// Repeats send this body instead (`message/send` flagged
    /// `enable_duplicate_check`, so WeCom drops a copy that did arrive).
    With(&'a Req),
}

impl<Req: ?Sized> Clone for Repeat<'_, Req> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Req: ?Sized> Copy for Repeat<'_, Req> {}

impl Client {
    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The app's AgentId, if set.
    pub fn agent_id(&self) -> Option<u64> {
        self.0.agent_id
    }

    pub(crate) fn now_ms(&self) -> i64 {
        crate::clock::unix_ms(self.0.clock.now())
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
    ) -> Result<Resp, ClientError> {
        self.call::<(), Resp>(reqwest::Method::GET, path, query, None, Repeat::Same)
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
    ) -> Result<Resp, ClientError> {
        self.call(reqwest::Method::POST, path, &[], Some(body), Repeat::No)
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
    ) -> Result<Resp, ClientError> {
        self.call(reqwest::Method::POST, path, &[], Some(body), Repeat::Same)
            .await
    }

    /// A JSON call through [`attempts`](Self::attempts).
    pub(crate) async fn call<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Req>,
        repeat: Repeat<'_, Req>,
    ) -> Result<Resp, ClientError> {
        let repeatable = !matches!(repeat, Repeat::No);
        self.attempts(path, repeatable, |token, is_repeat| {
            let body = match (repeat, is_repeat) {
                (Repeat::With(again), true) => Some(again),
                _ => body,
            };
            let mut request = self
                .0
                .http
                .request(method.clone(), format!("{}{path}", self.0.base_url))
                .query(&[("access_token", token.expose())])
                .query(query);
            if let Some(body) = body {
                request = request.json(body);
            }
            exchange(request, path)
        })
        .await
    }

    /// The one call loop: get a token, run `attempt` (told whether it is a repeat);
    /// on a token error drop that token and repeat once; on busy (-1) or transport
    /// errors of a `repeatable` call back off and repeat up to the policy's
    /// `max_retries`; never spin on rate limits; all within the policy's deadline.
    pub(crate) async fn attempts<T, F, Fut>(
        &self,
        path: &str,
        repeatable: bool,
        mut attempt: F,
    ) -> Result<T, ClientError>
    where
        F: FnMut(AccessToken, bool) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let policy = self.0.retry;
        let run = async {
            let mut refreshed = false;
            let mut retries = 0u32;
            for n in 1u32.. {
                let token = self.access_token().await?;
                let started = Instant::now();
                let span = tracing::debug_span!("wecom_call", path, attempt = n);
                let result = attempt(token.clone(), n > 1).instrument(span).await;
                let latency_ms = started.elapsed().as_millis();
                let err = match result {
                    Ok(answer) => {
                        tracing::debug!(path, attempt = n, latency_ms, "wecom call ok");
                        return Ok(answer);
                    }
                    Err(err) => err,
                };
                tracing::debug!(
                    path,
                    attempt = n,
                    latency_ms,
                    errcode = err.errcode(),
                    kind = ?err.kind(),
                    "wecom call failed"
                );
                if err.is_token_error() && !refreshed {
                    refreshed = true;
                    tracing::info!(
                        path,
                        errcode = err.errcode(),
                        "token refused; refreshing once"
                    );
                    self.invalidate(&token).await;
                    continue;
                }
                if repeatable
                    && err.is_retryable()
                    && !err.is_rate_limited()
                    && retries < policy.max_retries
                {
                    retries += 1;
                    let delay = policy.delay(retries, jitter_seed());
                    tracing::debug!(
                        path,
                        retry = retries,
                        delay_ms = delay.as_millis(),
                        "backing off"
                    );
                    tokio::time::sleep(delay).await;
                    continue;
                }
                return Err(err);
            }
            Err(ClientError::new(
                Kind::Transport,
                None,
                "attempts exhausted",
                path,
            ))
        };
        if let Ok(result) = tokio::time::timeout(policy.deadline, run).await {
            result
        } else {
            tracing::warn!(
                path,
                deadline_ms = policy.deadline.as_millis(),
                "wecom call deadline passed"
            );
            Err(ClientError::new(
                Kind::Timeout,
                None,
                "the call's deadline passed",
                path,
            ))
        }
    }

    /// A multipart upload (part `media`) with the token; token errors refresh once.
    /// Not repeated otherwise (a second upload would make a second media id).
    pub(crate) async fn upload<Resp: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        filename: &str,
        bytes: Vec<u8>,
    ) -> Result<Resp, ClientError> {
        // Shared, so a repeat after a token refresh does not copy the file again.
        let bytes = bytes::Bytes::from(bytes);
        let len = bytes.len() as u64;
        self.attempts(path, false, |token, _| {
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
            exchange(request, path)
        })
        .await
    }

    /// A download: the body's bytes, unless WeCom answers with a JSON error.
    /// Idempotent, so retried like [`get`](Self::get).
    pub(crate) async fn download(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<u8>, ClientError> {
        self.attempts(path, true, |token, _| async move {
            let response = self
                .0
                .http
                .get(format!("{}{path}", self.0.base_url))
                .query(&[("access_token", token.expose())])
                .query(query)
                .send()
                .await
                .map_err(|e| ClientError::transport(e, path))?;
            let json = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("json") || v.contains("text/plain"));
            let bytes = response
                .bytes()
                .await
                .map_err(|e| ClientError::transport(e, path))?;
            if json {
                decode_answer(&bytes, path)?;
            }
            Ok(bytes.to_vec())
        })
        .await
    }
}

/// Sends a request and decodes WeCom's JSON answer.
pub(crate) async fn exchange<Resp: DeserializeOwned>(
    request: reqwest::RequestBuilder,
    path: &str,
) -> Result<Resp, ClientError> {
    let bytes = request
        .send()
        .await
        .map_err(|e| ClientError::transport(e, path))?
        .bytes()
        .await
        .map_err(|e| ClientError::transport(e, path))?;
    let value = decode_answer(&bytes, path)?;
    serde_json::from_value(value).map_err(|e| ClientError::decode(e, path))
}
