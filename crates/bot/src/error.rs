//! The bot's errors: [`BuildError`] when a bot cannot be built, [`Rejection`] for a
//! request that is not WeCom's, [`StoreError`] for a store that failed, and
//! [`HandlerError`] for a handler that could not answer.

use std::borrow::Cow;

use wecom_sdk_crypto::CryptoError;

/// A bot could not be built: a setting is missing or malformed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A required setting was not given.
    #[error("missing setting: {0}")]
    Missing(&'static str),
    /// The callback settings are not WeCom's (Token, EncodingAESKey, CorpID).
    #[error("callback settings: {}", .0.with_code())]
    Callback(#[from] CryptoError),
    /// A setting is out of range.
    #[error("setting {name}: {reason}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// The rules file could not be watched.
    #[error("watching the rules file {path}: {reason}")]
    Watch {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Why a callback request was refused (answered with a 4xx and logged): it is not a
/// callback WeCom signed for this app, or it is malformed. Never a 5xx: WeCom would
/// re-deliver a request that can never succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// `msg_signature`, `timestamp` or `nonce` (or `echostr` on a GET) is missing.
    #[error("query parameter {0} is missing")]
    MissingQuery(&'static str),
    /// The body is larger than the limit.
    #[error("body of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// Bytes received.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The signature does not match (a forged or altered request), or the timestamp
    /// is outside the replay window.
    #[error("signature rejected ({code}): {reason}")]
    Signature {
        /// The library code (-40001).
        code: i32,
        /// The crypto error, without secrets.
        reason: String,
    },
    /// The envelope or the decrypted message is malformed (not UTF-8, a DTD, bad
    /// base64, a foreign receive id, XML that does not parse).
    #[error("malformed callback: {0}")]
    Malformed(String),
    /// Not GET or POST.
    #[error("method not allowed")]
    Method,
    /// This bot is not configured for this kind of callback (an app callback to a bot
    /// built for the AI bot only, or the other way round).
    #[error("this bot does not serve {0}")]
    NotServed(&'static str),
}

impl Rejection {
    /// The HTTP status: 403 for a bad signature, 413 for an oversized body, 405 for a
    /// wrong method, 404 for a callback this bot does not serve, 400 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Self::Signature { .. } => 403,
            Self::TooLarge { .. } => 413,
            Self::Method => 405,
            Self::NotServed(_) => 404,
            Self::MissingQuery(_) | Self::Malformed(_) => 400,
        }
    }

    /// A short name for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingQuery(_) => "missing_query",
            Self::TooLarge { .. } => "too_large",
            Self::Signature { .. } => "signature",
            Self::Malformed(_) => "malformed",
            Self::Method => "method",
            Self::NotServed(_) => "not_served",
        }
    }

    pub(crate) fn from_crypto(e: &CryptoError) -> Self {
        if e.code() == -40001 {
            Self::Signature {
                code: e.code(),
                reason: e.to_string(),
            }
        } else {
            Self::Malformed(e.with_code().to_string())
        }
    }
}

/// A store (dedup, Redis) failed; the bot degrades to local state and counts it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub Cow<'static, str>);

impl StoreError {
    /// A store error with this message.
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Self(message.into())
    }
}

/// What a [`Handler`](crate::Handler) or [`ProfileProvider`](crate::ProfileProvider)
/// returns when it cannot do its job (an order service down).
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;
