//! The WeCom (企业微信) server API client, starting with the part every peer SDK gets
//! wrong: the access token.
//!
//! # Overview
//! - [`Client`] / [`ClientBuilder`]: one app (corp id + secret); `get` / `post` any API
//!   path with the token injected and `errcode` decoded.
//! - Token handling: cached per app (corp id + a fingerprint of the secret), read
//!   lock-free on the warm path, fetched once however many callers wait, renewed in the
//!   background ahead of expiry, and on 40014 / 42001 / 40001 dropped only if still the
//!   one that failed, refreshed once, the call repeated once. Three failed fetches in a
//!   row pause fetching (circuit breaker). A failing token store costs no call while the
//!   process holds a valid token ([`Client::token_stats`]).
//! - [`TokenStore`] (async): [`MemoryTokenStore`] by default; `RedisTokenStore` (feature
//!   `redis`) shares one token among instances, refreshed by the lease holder.
//! - Endpoint groups (every one the SDK wraps):
//!   - [`Client::message`]: `send` (defaults to the client's agent), `recall`,
//!     `update_template_card`;
//!   - [`Client::appchat`]: `send` to an app group chat;
//!   - [`Client::kf`]: 微信客服 `sync_msg` / `sync_all` (pages with a
//!     [`api::kf::CursorStore`]), `send_msg`, `send_msg_on_event`, `service_state` and
//!     `transfer` (`service_state/trans`);
//!   - [`Client::external_contact`]: contact ways (add, get, update, delete),
//!     `mark_tag`, `get_corp_tag_list`, `get_follow_user_list`, customer groups
//!     (`groupchat_list`, `groupchat_get`), `add_msg_template` (group sends);
//!   - [`Client::media`]: `upload` (checked type and size), `uploadimg`, `get`;
//!   - [`WebhookClient`]: group robots (20 messages a minute), `upload_media`;
//!   - anything else: [`Client::get`] / [`Client::post`] with the token injected.
//! - Logs: `tracing` spans and events (path, attempt, errcode, latency, token fetches,
//!   breaker) — never a secret, token or query value.
//! - [`RetryPolicy`]: `-1` and transport errors retried with backoff for idempotent calls
//!   only; rate limits never spin; a deadline per call. [`Clock`] for tests.
//! - [`ClientError`]: one pointer wide, with `errcode()`, `errmsg()`, `path()`, `hint()` and
//!   `is_token_error()`, `is_retryable()`, `is_rate_limited()`; [`errcode::CATALOGUE`].
//!
//! Secrets and tokens never appear in `Debug`, errors or logs (query strings are
//! redacted from transport errors).
//!
//! # Example
//! ```no_run
//! # async fn demo() -> Result<(), wecom_sdk_client::ClientError> {
//! use wecom_sdk_client::Client;
//! let client = Client::builder().corp_id("ww1436e0e65a779aee").secret("APP_SECRET").agent_id(1000002).build()?;
//! let sent: serde_json::Value = client
//!     .post("/cgi-bin/message/send", &serde_json::json!({
//!         "touser": "zhangsan", "msgtype": "text", "agentid": 1000002, "text": {"content": "hi"}
//!     }))
//!     .await?;
//! # Ok(()) }
//! ```

pub mod api;
mod builder;
mod client;
mod clock;
pub mod errcode;
mod error;
#[cfg(feature = "redis")]
mod redis_cursor;
#[cfg(feature = "redis")]
mod redis_store;
mod retry;
mod token;
mod tokens;
mod webhook;

pub use builder::{ClientBuilder, http_client, tls_client_config};
pub use client::{Client, DEFAULT_BASE_URL};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{ClientError, Kind};
#[cfg(feature = "redis")]
pub use redis_cursor::RedisCursorStore;
#[cfg(feature = "redis")]
pub use redis_store::RedisTokenStore;
pub use retry::RetryPolicy;
pub use token::{AccessToken, CachedToken, MemoryTokenStore, TokenProvider, TokenStore, cache_key};
pub use tokens::TokenStats;
pub use webhook::{ROBOT_MESSAGES_PER_MINUTE, WebhookClient};

/// The guide: access tokens, several instances, retries, logs (`docs/access-token.md` of this crate).
#[doc = include_str!("../docs/access-token.md")]
pub mod guide {}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
