//! WeCom (企业微信) callback crypto: the `msg_signature` check and the AES-256-CBC
//! envelope of the official WXBizMsgCrypt libraries, for XML and JSON callbacks.
//!
//! Every WeCom callback — URL verification, incoming messages and events, AI-bot
//! webhooks — is signed with the app's Token and encrypted with its EncodingAESKey, and
//! every passive reply must be encrypted and signed the same way. This crate does exactly
//! that, byte-compatible with the official samples and tested against their vectors.
//!
//! # Overview
//! - [`CallbackCrypto`]: one app's Token, key and receive id; `verify_url`,
//!   `decrypt_message`, `encrypt_reply` and their JSON and low-level twins.
//! - [`CryptoError`]: what went wrong, with the official code (-40001 … -40011) and a hint.
//! - [`ReceiveIdPolicy`]: exact receive-id check (default) or none.
//! - [`sign`]: the signature alone, for tools that hold only the Token.
//! - [`Clock`], [`SystemClock`], [`ManualClock`]: time for the optional replay window.
//!
//! # Example
//! A full passive-reply cycle: WeCom's POST is decrypted, the reply encrypted; here the
//! "WeCom" side is played by the same crypto.
//! ```
//! use wecom_sdk_crypto::CallbackCrypto;
//!
//! let crypto = CallbackCrypto::new(
//!     "QDG6eK",
//!     "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
//!     "wx5823bf96d3bd56c7",
//! )?;
//! // What WeCom would POST for a customer's message.
//! let encrypted = crypto.encrypt("<xml><Content><![CDATA[hello]]></Content></xml>".as_bytes())?;
//! let signature = crypto.signature("1409659813", "1372623149", &encrypted);
//! let body = format!("<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>");
//!
//! let message = crypto.decrypt_message(&signature, "1409659813", "1372623149", &body)?;
//! assert!(message.contains("hello"));
//!
//! let reply = crypto.encrypt_reply("<xml><Content><![CDATA[hi!]]></Content></xml>", "1409659813", "1372623149")?;
//! assert!(reply.starts_with("<xml>\n<Encrypt><![CDATA["));
//! # Ok::<(), wecom_sdk_crypto::CryptoError>(())
//! ```
//!
//! # Security notes
//! - Signatures are compared in constant time; the key schedule, IV and token are wiped
//!   on drop; `Debug` and errors never show the token or key.
//! - No input panics: malformed base64, short buffers, bad padding, bad length prefixes,
//!   bad UTF-8 and bad XML or JSON each return their typed error (the parsers are fuzzed).
//! - The XML reader refuses DOCTYPEs and expands no entities.

mod callback;
mod clock;
mod envelope;
mod error;
mod json;
mod key;
mod media;
mod padding;
mod random;
mod signature;
mod xml;

pub use callback::{CallbackCrypto, ReceiveIdPolicy};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{CryptoError, DisplayWithCode};
pub use media::MediaKey;
pub use signature::sign;

/// Length of the random prefix of every encrypted message.
pub const RANDOM_PREFIX_LEN: usize = envelope::RANDOM_LEN;

/// The guide: configuration, the exchange, error codes, debugging (`docs/callback-crypto.md` of this crate).
#[doc = include_str!("../docs/callback-crypto.md")]
pub mod guide {}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
