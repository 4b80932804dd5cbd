//! The WeCom (企业微信) auto-reply bot runtime: the crates joined into a service.
//!
//! One [`Bot`] serves one app's callback URL. Each request goes: GET → URL
//! verification; POST → verify and decrypt → parse → dedup (a two-phase claim, so a
//! re-delivery gets the *same* reply bytes, never a second computation) → loop guard →
//! profile → handlers → rules (events routed as events) → handlers → render → deliver:
//! passively when the answer is ready within the budget (3 s), else an empty 200 at
//! once and the active API; a reply of several parts goes first part passively, the
//! rest actively, in order. Then actions (tags, escalation), metrics and the event log.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use wecom_sdk_bot::Bot;
//! use wecom_sdk_client::Client;
//! use wecom_sdk_matcher::Engine;
//!
//! let client = Client::builder().corp_id("ww1436e0e65a779aee").secret("…").agent_id(1_000_002).build()?;
//! let bot = Bot::builder()
//!     .callback("hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt", "ww1436e0e65a779aee")
//!     .engine(Engine::from_path("rules.toml")?)
//!     .watch_rules("rules.toml")
//!     .client(client)
//!     .build()?;
//! let app = axum::Router::new().merge(bot.router()); // + your routes
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! The AI bot (智能机器人: group-chat @-mentions, streamed answers, over callbacks or
//! the WebSocket long connection) is a channel of the same bot: [`AiBot`],
//! [`BotBuilder::ai_bot`], [`Bot::handle_ai_bot`], [`Bot::run_ai_bot`]; its guide is
//! `docs/ai-bot.md` of the `wecom-sdk` crate.
//!
//! The guide is [`guide`]; deployment notes (several instances, Redis, metrics) are in
//! this crate's `docs/deployment.md`.

mod actions;
mod aibot;
#[cfg(feature = "postgres")]
mod archive;
mod bot;
mod conversation;
mod dedup;
mod deliver;
mod error;
mod event_log;
mod handler;
mod inbound;
mod kf;
mod links;
mod metrics;
mod pipeline;
mod profile;
#[cfg(feature = "redis")]
mod redis_base;
#[cfg(feature = "redis")]
mod redis_conversation;
#[cfg(feature = "redis")]
mod redis_dedup;
#[cfg(feature = "redis")]
mod redis_links;
#[cfg(feature = "redis")]
mod redis_stream;
#[cfg(feature = "redis")]
mod redis_variants;
mod reload;
mod render;
mod request;
#[cfg(feature = "axum")]
mod router;

pub use actions::{Escalation, EscalationHook};
pub use aibot::{
    AiBot, AiBotError, DEFAULT_AI_BOT_PATH, DEFAULT_MAX_MEDIA, DEFAULT_STREAM_WINDOW,
    DEFAULT_WS_URL, MEDIA_URL_LIFETIME, MediaError, MediaFetcher, MemoryStreamStore, StreamPiece,
    StreamState, StreamStore, StreamWriter, TextStream,
};
#[cfg(feature = "postgres")]
pub use archive::{
    Archive, DEFAULT_SCHEMA, Export, Percentiles, PostgresConfig, PostgresSink, Redaction,
    ResponseTimes, RuleHits, SinkStats, TraceRow, TriggerRate, TriggerWatch, Unanswered,
    without_password,
};
pub use bot::{
    Bot, BotBuilder, DEFAULT_BUDGET, DEFAULT_DONE_TTL, DEFAULT_LEASE, DEFAULT_MAX_BODY,
    DEFAULT_PATH, OUTAGE_PROBE,
};
pub use conversation::{ConversationStore, MemoryConversationStore, OpenStep};
pub use dedup::{Answered, Claim, DEFAULT_DEDUP_CAPACITY, DedupStore, MemoryDedupStore};
pub use error::{BuildError, HandlerError, Rejection, StoreError};
pub use event_log::{EVENT_QUEUE, EventRecord, EventSink, JsonLinesSink};
pub use handler::{Context, Flow, Handler};
pub use links::{DEFAULT_LINK_TTL, LinkStore, MemoryLinkStore, TrackedLink};
pub use metrics::Metrics;
pub use profile::{Profile, ProfileProvider, Sender, WeComProfiles};
#[cfg(feature = "redis")]
pub use redis_conversation::RedisConversationStore;
#[cfg(feature = "redis")]
pub use redis_dedup::RedisDedupStore;
#[cfg(feature = "redis")]
pub use redis_links::RedisLinkStore;
#[cfg(feature = "redis")]
pub use redis_stream::RedisStreamStore;
#[cfg(feature = "redis")]
pub use redis_variants::RedisVariantStore;
pub use render::{MAX_ARTICLES, NewsItem, Piece, passive_reply, plan};
pub use request::{CallbackRequest, CallbackResponse, Method};
#[cfg(feature = "axum")]
pub use router::MultiApp;
/// The clock every part of the bot reads (the matcher's; the crypto and client crates
/// have the same shape).
pub use wecom_sdk_matcher::{Clock, ManualClock, SystemClock};

/// The guide: running a bot (`docs/bot.md` of this crate).
#[doc = include_str!("../docs/bot.md")]
pub mod guide {}

/// The 微信客服 channel (`docs/kf.md` of this crate).
#[doc = include_str!("../docs/kf.md")]
pub mod kf_guide {}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
