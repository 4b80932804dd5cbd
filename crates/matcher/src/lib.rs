//! The WeCom auto-reply rule engine: for each incoming message, which reply fires.
//!
//! Operators configure rules all day — keywords (exact, contains, prefix, regex),
//! priorities, working hours and off-hours fallbacks in an IANA time zone, per-chat and
//! per-tag scope, new vs returning customers, per-user trigger limits and cooldowns,
//! replies with variables, A/B variants, file and media parts, tags and escalation. This
//! crate compiles them once into an index so a message is matched in O(text), explains
//! every decision, and reloads rules atomically. It depends on no other crate of the SDK.
//!
//! # Overview
//! - [`Rule`] (builders) and rules files ([`RuleSet::from_toml_str`],
//!   [`RuleSet::from_json_str`], [`RuleSet::from_path`]; format in [`guide`]).
//! - [`RuleSet`]: compiled and validated; errors name the rule and the field; advice as
//!   [`Warning`]s.
//! - [`Engine`]: the rules in force (hot [`reload`](Engine::reload),
//!   [`rollback`](Engine::rollback)); [`find`](Engine::find) (sync hot path),
//!   [`explain`](Engine::explain) (test mode), [`stats`](Engine::stats).
//! - [`Incoming`] describes a message; [`Hit`] is the winning rule and its rendered reply.
//! - [`Matcher`], [`IntentMatcher`], [`Chain`]: plug-ins (keyword rules → intents →
//!   fallback); [`KeywordWeights`] is a simple intent plug-in.
//! - [`CounterStore`] for limits and statistics: [`MemoryCounterStore`], and
//!   `RedisCounterStore` with feature `redis`.
//! - [`Normalizer`], [`SensitiveFilter`], [`Clock`].
//!
//! # Example
//! ```
//! use wecom_sdk_matcher::{Engine, Incoming, RuleSet};
//!
//! let rules = RuleSet::from_toml_str(r#"
//!     [[rules]]
//!     id = "parcel"
//!     keywords = [{ regex = '(?P<no>SF\d{10})' }]
//!     reply = "单号 {no} 已在派送中"
//!
//!     [[rules]]
//!     id = "hours"
//!     keywords = ["营业时间", { exact = "几点开门" }]
//!     reply = "您好 {nickname}，我们每天 9:00–21:00 营业。"
//! "#)?;
//! let engine = Engine::new(rules);
//! let hit = engine.find(&Incoming::new("zhangsan", "帮我查下 SF1234567890")).expect("fires");
//! assert_eq!(hit.text().as_deref(), Some("单号 SF1234567890 已在派送中"));
//! let hit = engine.find(&Incoming::new("lisi", "几点开门").nickname("李四")).expect("fires");
//! assert_eq!(hit.rule_id(), "hours");
//! # Ok::<(), wecom_sdk_matcher::RuleSetError>(())
//! ```

mod chain;
mod clock;
mod compile;
mod compiled;
mod counter;
mod engine;
mod error;
mod evaluate;
mod filter;
mod hit;
mod incoming;
mod index;
mod intent;
mod normalize;
#[cfg(feature = "redis")]
mod redis_store;
mod regex_keyword;
mod render;
mod rule;
mod rules_file;
mod schedule;
mod shadow;
mod start_filter;
mod template;

pub use chain::{Chain, Matcher};
pub use clock::{Clock, ManualClock, SystemClock};
pub use compile::{DEFAULT_MAX_RULES_PER_CHAT, DEFAULT_TIMEZONE, Limits, RuleSetBuilder};
pub use compiled::RuleSet;
pub use counter::{CounterStore, MemoryCounterStore};
pub use engine::{Engine, RuleStats};
pub use error::{RuleError, RuleSetError, ScheduleError, StoreError, Warning};
pub use filter::SensitiveFilter;
pub use hit::{AskedStep, Candidate, Explanation, Hit, Intent, Verdict};
pub use incoming::{Channel, CustomerKind, Incoming};
pub use intent::{IntentMatcher, KeywordWeights};
pub use normalize::Normalizer;
#[cfg(feature = "redis")]
pub use redis_store::RedisCounterStore;
pub use rule::{
    Action, Ask, Audience, ChatKind, DateRange, EventTrigger, Keyword, MatchMode, Part, ReplySpec,
    Rule, Schedule, Scope, TriggerLimit, Variant, Window, parse_days, parse_time,
};

/// The guide: the rules-file reference (`docs/rules.md` of this crate).
#[doc = include_str!("../docs/rules.md")]
pub mod guide {}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
