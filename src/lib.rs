//! wecom-sdk: build WeCom (企业微信 / WeChat Work) auto-reply and customer-service bots
//! in Rust.
//!
//! This facade re-exports the workspace's crates behind features, so one dependency
//! gives `use wecom_sdk::{crypto, …};`.
//!
//! # Overview
//! - [`crypto`]: callback signature and AES envelope (WXBizMsgCrypt) — feature `crypto`
//!   (default).
//! - [`message`]: typed callbacks in, passive replies and API bodies out — feature
//!   `message` (default).
//! - [`matcher`]: the auto-reply rule engine — feature `matcher` (default); `redis`
//!   adds shared counters.
//! - [`client`]: the API client — feature `client` (default): single-flight tokens,
//!   42001 handling, retries, endpoint groups, group robots.
//! - [`bot`]: the bot runtime — feature `bot` (default): `Bot::handle`, dedup with
//!   re-delivery of the same reply, events routed as events, passive or active delivery,
//!   profiles, handlers, actions, metrics, the axum router.
//! - [`passive_reply`]: a rule's hit as the passive reply WeCom shows (feature `bot`).
//! - [`getting_started`]: the guide; each crate has its own (`crypto::guide`, …).
//!
//! # Features
//! | feature  | default | what it brings |
//! |----------|---------|----------------|
//! | `crypto` | yes     | [`crypto`]: `CallbackCrypto`, `CryptoError`, `sign` |
//! | `message` | yes    | [`message`]: `callback::Message`, `reply::Reply`, `send::*`, `aibot`, `split_text` |
//! | `matcher` | yes    | [`matcher`]: `RuleSet`, `Engine`, `Incoming`, `Hit`, intent plug-ins |
//! | `client`  | yes    | [`client`]: `Client`, endpoint groups, `WebhookClient` |
//! | `bot`     | yes    | [`bot`]: `Bot`, `MultiApp`, `DedupStore`, `Handler`, `ProfileProvider` (axum) |
//! | `redis`   | no     | `matcher::RedisCounterStore` (limits and statistics shared across instances) and, with `client`, `client::RedisTokenStore` (one token for every instance), and with `bot`, `bot::RedisDedupStore` |
//!
//! # Example
//! ```
//! # #[cfg(feature = "crypto")] {
//! use wecom_sdk::crypto::CallbackCrypto;
//!
//! let crypto = CallbackCrypto::new("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")?;
//! let reply = crypto.encrypt_reply("<xml><Content><![CDATA[hi]]></Content></xml>", "1409659813", "1372623149")?;
//! let signature = reply.split("<MsgSignature><![CDATA[").nth(1).map(|s| &s[..40]).unwrap_or_default();
//! assert_eq!(
//!     crypto.decrypt_message(signature, "1409659813", "1372623149", &reply)?,
//!     "<xml><Content><![CDATA[hi]]></Content></xml>"
//! );
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

/// Getting started: the whole cycle, adding the SDK, debugging a callback, the tests.
#[doc = include_str!("../docs/getting-started.md")]
pub mod getting_started {}

/// The AI bot (智能机器人): group-chat @-mentions, streamed answers, callbacks or the
/// WebSocket long connection, media, the simulator's AI-bot side.
#[cfg(feature = "bot")]
#[doc = include_str!("../docs/ai-bot.md")]
pub mod ai_bot {}

/// Service insight: the conversation archive in PostgreSQL (feature `postgres`).
#[doc = include_str!("../docs/insight.md")]
pub mod insight {}

#[cfg(feature = "crypto")]
#[doc(inline)]
pub use wecom_sdk_crypto as crypto;

#[cfg(feature = "message")]
#[doc(inline)]
pub use wecom_sdk_message as message;

#[cfg(feature = "matcher")]
#[doc(inline)]
pub use wecom_sdk_matcher as matcher;

#[cfg(feature = "client")]
#[doc(inline)]
pub use wecom_sdk_client as client;

#[cfg(feature = "bot")]
#[doc(inline)]
pub use wecom_sdk_bot as bot;

#[cfg(feature = "bot")]
#[doc(inline)]
pub use wecom_sdk_bot::passive_reply;

#[cfg(all(doctest, feature = "bot"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
