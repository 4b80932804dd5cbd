//! The client's error: one pointer wide, cheap to clone (waiters of one token fetch all
//! receive its error), with the WeCom errcode and predicates.

use std::fmt;
use std::sync::Arc;

use crate::errcode::{self, RetryClass};

/// What kind of failure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// WeCom answered with a non-zero `errcode`.
    Api,
    /// The request did not complete (connection, timeout, TLS).
    Transport,
    /// The answer was not the JSON expected.
    Decode,
    /// The request breaks one of WeCom's limits; nothing was sent.
    Invalid,
    /// The client is misconfigured (missing corp id or secret, bad base URL).
    Config,
    /// A client-side rate limit (group robots: 20 messages a minute) stopped the call.
    RateLimited,
    /// The call, retries included, did not finish before its deadline.
    Timeout,
    /// Token fetching is paused after repeated failures (a wrong secret must not burn
    /// the gettoken quota or get the IP banned).
    CircuitOpen,
}

#[derive(Debug)]
struct Inner {
    kind: Kind,
    errcode: Option<i64>,
    errmsg: String,
    path: String,
    /// The underlying error, with no URL (and so no query secret) in it.
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// An error of the WeCom API client.
#[derive(Clone)]
pub struct ClientError(Arc<Inner>);

impl ClientError {
    pub(crate) fn new(
        kind: Kind,
        errcode: Option<i64>,
        errmsg: impl Into<String>,
        path: &str,
    ) -> Self {
        Self(Arc::new(Inner {
            kind,
            errcode,
            errmsg: errmsg.into(),
            path: path.to_owned(),
            source: None,
        }))
    }

    /// A request that did not complete; the reqwest error (its URL, and so the
    /// `access_token` or `corpsecret` in the query, removed) is the source.
    pub(crate) fn transport(err: reqwest::Error, path: &str) -> Self {
        let err = err.without_url();
        Self(Arc::new(Inner {
            kind: Kind::Transport,
            errcode: None,
            errmsg: redact(&err.to_string()),
            path: path.to_owned(),
            source: Some(Box::new(err)),
        }))
    }

    /// An answer that was not the JSON expected; the serde error is the source.
    pub(crate) fn decode(err: serde_json::Error, path: &str) -> Self {
        Self(Arc::new(Inner {
            kind: Kind::Decode,
            errcode: None,
            errmsg: err.to_string(),
            path: path.to_owned(),
            source: Some(Box::new(err)),
        }))
    }

    pub(crate) fn api(errcode: i64, errmsg: impl Into<String>, path: &str) -> Self {
        Self::new(Kind::Api, Some(errcode), errmsg, path)
    }

    /// The kind of failure.
    pub fn kind(&self) -> &Kind {
        &self.0.kind
    }

    /// WeCom's `errcode`, for API errors.
    pub fn errcode(&self) -> Option<i64> {
        self.0.errcode
    }

    /// WeCom's `errmsg` (or the transport's message).
    pub fn errmsg(&self) -> &str {
        &self.0.errmsg
    }

    /// The API path called (`/cgi-bin/message/send`), never with its query.
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// A hint from the error catalogue.
    pub fn hint(&self) -> Option<&'static str> {
        self.errcode().and_then(errcode::lookup).map(|e| e.hint)
    }

    fn retry_class(&self) -> Option<RetryClass> {
        self.errcode().and_then(errcode::lookup).map(|e| e.retry)
    }

    /// The access token was rejected (40014, 42001, 40001): refresh and repeat once.
    pub fn is_token_error(&self) -> bool {
        self.retry_class() == Some(RetryClass::RefreshToken)
    }

    /// A repeat may succeed later: system busy, rate limits, transport failures.
    pub fn is_retryable(&self) -> bool {
        matches!(self.0.kind, Kind::Transport | Kind::Timeout)
            || self.retry_class() == Some(RetryClass::BackOff)
    }

    /// WeCom's rate limits (45009, 45033).
    pub fn is_rate_limited(&self) -> bool {
        self.0.kind == Kind::RateLimited || matches!(self.errcode(), Some(45009 | 45033))
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0.kind, self.0.errcode) {
            (Kind::Api, Some(code)) => {
                write!(f, "{}: errcode {code}: {}", self.0.path, self.0.errmsg)?;
            }
            (kind, _) => {
                write!(f, "{}: {kind:?}: {}", self.0.path, self.0.errmsg)?;
            }
        }
        if let Some(hint) = self.hint() {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientError")
            .field("kind", &self.0.kind)
            .field("errcode", &self.0.errcode)
            .field("errmsg", &self.0.errmsg)
            .field("path", &self.0.path)
            .finish()
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Reads WeCom's JSON answer: the value, or the API error its `errcode` names.
pub(crate) fn decode_answer(bytes: &[u8], path: &str) -> Result<serde_json::Value, ClientError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ClientError::decode(e, path))?;
    match value
        .get("errcode")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0)
    {
        0 => Ok(value),
        code => {
            let errmsg = value
                .get("errmsg")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default();
            Err(ClientError::api(code, errmsg, path))
        }
    }
}

/// Removes secrets from a transport error's text: everything after `?` in URLs.
pub(crate) fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_query = false;
    for c in text.chars() {
        if c == '?' {
            in_query = true;
            out.push_str("?<redacted>");
            continue;
        }
        if in_query && (c.is_whitespace() || c == ')' || c == '"') {
            in_query = false;
        }
        if !in_query {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_and_display() {
        let e = ClientError::api(42001, "access_token expired", "/cgi-bin/message/send");
        assert!(e.is_token_error() && !e.is_retryable());
        assert!(
            e.to_string()
                .starts_with("/cgi-bin/message/send: errcode 42001: access_token expired (hint: ")
        );
        assert!(ClientError::api(45009, "freq", "/x").is_rate_limited());
        assert!(ClientError::api(-1, "busy", "/x").is_retryable());
        assert!(ClientError::new(Kind::Transport, None, "reset", "/x").is_retryable());
        assert_eq!(
            redact(
                "error sending request for url (https://q/cgi-bin/gettoken?corpid=ww1&corpsecret=S3CRET)"
            ),
            "error sending request for url (https://q/cgi-bin/gettoken?<redacted>)"
        );
    }

    #[test]
    fn is_send_sync_and_small() {
        fn bounds<T: Send + Sync + 'static + std::error::Error>() {}
        bounds::<ClientError>();
        assert_eq!(
            std::mem::size_of::<ClientError>(),
            std::mem::size_of::<usize>()
        );
    }
}
