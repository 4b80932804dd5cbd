//! `wecom-sdk-sim`: WeCom on loopback, so a bot can be built and tested without a corp
//! account, a public URL or real customers.
//!
//! # Overview
//! - [`FakeWeCom`]: the WeCom API on 127.0.0.1 — every endpoint `wecom-sdk-client`
//!   calls, validated with WeCom's errcodes (41001, 42001, 40014, 47001, 45002, 45009,
//!   95001 …), every call recorded ([`calls`](FakeWeCom::calls),
//!   [`sent_messages`](FakeWeCom::sent_messages)), faults injected at run time
//!   ([`Fault`]), and a customer model (staff, customers, tags, group chats, 微信客服).
//! - [`CallbackSender`]: encrypts and signs a callback ([`Inbound`]) like WeCom, POSTs it
//!   to a bot, re-delivers on a timeout or a non-200 like WeCom, and returns the decrypted
//!   passive reply typed, with every delivery attempt ([`Delivery`]).
//! - [`script`]: scripted days — timed customer messages with expected replies.
//! - [`load`]: the load generator (N concurrent customers, HDR latency percentiles).
//! - [`chat`]: the interactive chat mode's engine, usable under a pipe.
//! - [`FakeAiBot`]: WeCom's AI-bot (智能机器人) side — callbacks and stream polls
//!   ([`AiBotCaller`]), `response_url`, encrypted media with its 5-minute expiry, and the
//!   long connection with a drop command for reconnect tests.
//!
//! The simulator depends on `wecom-sdk-crypto` and `wecom-sdk-message` only — never on
//! the client or the bot it tests.
//!
//! # Example
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use wecom_sdk_sim::{FakeConfig, FakeWeCom};
//! let fake = FakeWeCom::start(FakeConfig::new("ww1436e0e65a779aee").secret("s3cret")).await?;
//! println!("point the client at {}", fake.base_url());
//! assert!(fake.sent_messages().is_empty());
//! # Ok(()) }
//! ```

mod aibot;
pub mod chat;
mod error;
mod fake;
mod http;
mod inbound;
pub mod load;
pub mod script;
mod sender;

pub use aibot::{
    AiBotCaller, AiBotConversation, AiBotInbound, AiBotSimConfig, FakeAiBot, MixedPart,
    ResponsePost, WsAnswer,
};
pub use error::SimError;
pub use fake::{
    Call, Customer, FakeConfig, FakeWeCom, Fault, GroupChat, KfNotice, SentMessage, Staff, TagGroup,
};
pub use inbound::Inbound;
pub use sender::{Answer, Attempt, AttemptOutcome, CallbackSender, Delivery, Format};

/// The guide: the simulator (`docs/simulator.md` of this crate).
#[doc = include_str!("../docs/simulator.md")]
pub mod guide {}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
