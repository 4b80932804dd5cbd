//! What an operator can say in a rule: the definitions, built in Rust or read from a
//! rules file, before they are compiled into a [`RuleSet`](crate::RuleSet).

use crate::error::ScheduleError;
use crate::incoming::{Channel, CustomerKind};

/// How a keyword matches the normalized text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum MatchMode {
    /// The whole text equals the keyword.
    Exact,
    /// The text contains the keyword (fuzzy; the default).
    #[default]
    Contains,
    /// The text starts with the keyword.
    Prefix,
    /// A regular expression; named captures become reply variables (`{order_no}`).
    Regex,
}

/// A keyword and its match mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyword {
    /// The keyword (normalized at compile time) or the regex pattern.
    pub text: String,
    /// How it matches.
    pub mode: MatchMode,
}

impl Keyword {
    /// A keyword with a mode.
    pub fn new(text: impl Into<String>, mode: MatchMode) -> Self {
        Self {
            text: text.into(),
            mode,
        }
    }
}

/// A weekly time window, local to the schedule's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Days it opens on: bit 0 = Monday … bit 6 = Sunday.
    pub days: u8,
    /// Opening, minutes after midnight (0–1439).
    pub start: u16,
    /// Closing, minutes after midnight (1–1440); at or before `start` means it closes
    /// the next day (an overnight window).
    pub end: u16,
}

/// An inclusive range of local dates, `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateRange {
    /// First day.
    pub from: String,
    /// Last day (inclusive).
    pub to: String,
}

/// When a rule is in force: weekly windows and date ranges in an IANA time zone.
///
/// Empty `windows` means all day; empty `dates` means every date; `except` removes dates
/// (holidays).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schedule {
    /// IANA time zone; the rule set's (default `Asia/Shanghai`) when `None`.
    pub timezone: Option<String>,
    /// Weekly windows.
    pub windows: Vec<Window>,
    /// Date ranges it is limited to.
    pub dates: Vec<DateRange>,
    /// Dates it is closed on.
    pub except: Vec<DateRange>,
}

impl Schedule {
    /// A schedule from windows written as `("mon-fri", "09:00", "18:00")`.
    ///
    /// # Errors
    /// The first malformed day list or time.
    pub fn weekly(windows: &[(&str, &str, &str)]) -> Result<Self, ScheduleError> {
        let windows = windows
            .iter()
            .map(|(days, start, end)| {
                Ok(Window {
                    days: parse_days(days)?,
                    start: parse_time(start)?,
                    end: parse_time(end)?,
                })
            })
            .collect::<Result<_, ScheduleError>>()?;
        Ok(Self {
            windows,
            ..Self::default()
        })
    }

    /// Sets the time zone.
    #[must_use]
    pub fn in_timezone(mut self, tz: impl Into<String>) -> Self {
        self.timezone = Some(tz.into());
        self
    }
}

/// Parses `mon-fri`, `sat,sun`, `daily` (or `*`) into a day mask.
///
/// # Errors
/// Unknown day names.
pub fn parse_days(text: &str) -> Result<u8, ScheduleError> {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let day = |s: &str| {
        NAMES
            .iter()
            .position(|n| s.trim().eq_ignore_ascii_case(n))
            .ok_or_else(|| {
                ScheduleError(format!(
                    "unknown day {:?} (use mon, tue, wed, thu, fri, sat, sun)",
                    s.trim()
                ))
            })
    };
    let text = text.trim();
    if text.eq_ignore_ascii_case("daily") || text == "*" {
        return Ok(0x7f);
    }
    let mut mask = 0u8;
    for part in text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                let mut d = a;
                loop {
                    mask |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => mask |= 1 << day(part)?,
        }
    }
    Ok(mask)
}

/// Parses `HH:MM` (00:00–24:00) into minutes after midnight.
///
/// # Errors
/// A malformed or out-of-range time.
pub fn parse_time(text: &str) -> Result<u16, ScheduleError> {
    let bad = || ScheduleError(format!("invalid time {text:?} (use HH:MM, 00:00 to 24:00)"));
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Who and where a rule applies to; an empty list means "any".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope {
    /// Group chat ids.
    pub chats: Vec<String>,
    /// Sender UserIDs / external ids.
    pub users: Vec<String>,
    /// Sender departments.
    pub departments: Vec<u64>,
    /// Sender tags (any of them).
    pub tags: Vec<String>,
    /// Channels.
    pub channels: Vec<Channel>,
    /// Group chats only, or single chats only (`None`: both). A message is in a group
    /// when it has a chat id.
    pub chat: Option<ChatKind>,
}

/// Where a message was sent: a group chat (it has a chat id) or a single chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChatKind {
    /// A one-to-one chat.
    Single,
    /// A group chat.
    Group,
}

/// Conditions on the sender, evaluated on what the caller supplies with the message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audience {
    /// Only new (or only returning) customers.
    pub customer: Option<CustomerKind>,
    /// The sender must have all of these tags.
    pub has_tags: Vec<String>,
    /// The sender must have none of these tags.
    pub lacks_tags: Vec<String>,
}

/// One part of a reply. Text fields are templates: `{nickname}`, `{user_id}`, `{time}`,
/// `{date}`, regex captures and custom attributes are filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Part {
    /// Text.
    Text(String),
    /// An image (uploaded media).
    Image {
        /// `media_id`.
        media_id: String,
    },
    /// A video.
    Video {
        /// `media_id`.
        media_id: String,
        /// Title.
        title: Option<String>,
        /// Description.
        description: Option<String>,
    },
    /// A news card.
    News {
        /// Title (keep it within 15 characters for phones).
        title: String,
        /// Description.
        description: Option<String>,
        /// Link.
        url: String,
        /// Picture.
        pic_url: Option<String>,
    },
    /// A file (a PDF price list, a manual).
    File {
        /// `media_id`.
        media_id: String,
        /// Display name.
        name: Option<String>,
    },
    /// A local file the bot uploads once and sends by the `media_id` WeCom gives it
    /// (reused until it expires after 3 days). A relative path is read from the bot's
    /// media directory (by default, the rules file's directory).
    LocalFile {
        /// The file's path.
        path: String,
        /// Display name (default: the file name).
        name: Option<String>,
    },
    /// A mini-program card.
    MiniProgram {
        /// `appid`.
        appid: String,
        /// Page path.
        pagepath: String,
        /// Title.
        title: String,
        /// Thumbnail `media_id`.
        thumb_media_id: Option<String>,
    },
}

/// An A/B variant of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// Variant id (statistics key).
    pub id: String,
    /// Relative weight.
    pub weight: u32,
    /// The reply parts.
    pub parts: Vec<Part>,
}

/// What a rule replies.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub enum ReplySpec {
    /// No reply (actions only).
    #[default]
    None,
    /// These parts.
    Parts(Vec<Part>),
    /// A named template of the rule set.
    Named(String),
    /// Weighted A/B variants.
    Variants {
        /// The variants.
        variants: Vec<Variant>,
        /// Makes the choice deterministic per user.
        seed: Option<String>,
        /// Bandit mode: the share of traffic (0–1) still spread by weight; the rest goes
        /// to the variant with the best conversion rate.
        explore: Option<f64>,
    },
}

/// Something done alongside the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Add customer tags.
    AddTags(Vec<String>),
    /// Remove customer tags.
    RemoveTags(Vec<String>),
    /// Hand the conversation to a human queue.
    Escalate {
        /// Queue name.
        queue: String,
        /// Priority in the queue (higher first).
        priority: u8,
    },
    /// 微信客服: hand the session to this servicer (their UserID; `service_state` 3).
    /// Other channels report it as not supported.
    HandOver {
        /// The servicer's UserID.
        servicer: String,
    },
}

/// The event a rule answers: rules fire on events only through this, and an event never
/// reaches keyword or fallback rules.
///
/// Names are WeCom's: the `Event` value (`click`, `enter_agent`, `subscribe`,
/// `scancode_push`, `template_card_event`, …) or, for the customer-contact events, the
/// `ChangeType` (`add_external_contact`, `del_follow_user`, …) and for a customer group's
/// members the `UpdateDetail` (`add_member`, `del_member`). The key is the event's
/// `EventKey` (a menu button), the contact way's `State` (a customer added), or the
/// `ChatId` (a group); a trigger without a key takes every key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTrigger {
    /// The event name.
    pub name: String,
    /// The key it must carry, if any.
    pub key: Option<String>,
}

/// A per-user trigger limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TriggerLimit {
    /// Triggers allowed per user in the window.
    pub max: u32,
    /// Window length in seconds (from the first trigger).
    pub window_secs: u64,
}

/// A rule: when it fires and what it answers.
///
/// ```
/// use wecom_sdk_matcher::{MatchMode, Rule, Schedule};
/// let rule = Rule::new("hours", "营业时间")
///     .priority(10)
///     .contains("营业时间")
///     .exact("几点开门")
///     .schedule(Schedule::weekly(&[("mon-fri", "09:00", "18:00")])?)
///     .reply("您好 {nickname}，我们 9:00–21:00 营业。");
/// assert_eq!(rule.id(), "hours");
/// # Ok::<(), wecom_sdk_matcher::ScheduleError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent switches of a rules-file entry"
)]
pub struct Rule {
    /// Unique id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Off rules never fire.
    pub enabled: bool,
    /// Higher wins; equal priorities go by order.
    pub priority: i32,
    /// Keywords (any of them triggers).
    pub keywords: Vec<Keyword>,
    /// Fires on this intent of an intent plug-in instead of keywords.
    pub intent: Option<String>,
    /// Fires only when nothing else did (a default answer).
    pub fallback: bool,
    /// When it is in force.
    pub schedule: Option<Schedule>,
    /// A named schedule of the rule set (instead of `schedule`).
    pub schedule_ref: Option<String>,
    /// In force *outside* its schedule (an off-hours rule).
    pub off_hours: bool,
    /// Who and where.
    pub scope: Scope,
    /// Conditions on the sender.
    pub audience: Audience,
    /// Per-user trigger limit.
    pub limit: Option<TriggerLimit>,
    /// Per-chat (or per-user outside chats) cooldown in seconds.
    pub cooldown_secs: Option<u64>,
    /// The event it answers instead of text (see [`EventTrigger`]).
    pub event: Option<EventTrigger>,
    /// The reply.
    pub reply: ReplySpec,
    /// Actions.
    pub actions: Vec<Action>,
    /// Stop matching after this rule fires (default); `false` lets lower rules fire too
    /// (see `Engine::find_all`).
    pub stop: bool,
    /// A question this rule asks: after it fires, the customer's next message is read in
    /// the ask's step (see [`Ask`]).
    pub ask: Option<Ask>,
    /// The conversation step this rule belongs to: it fires only while the customer is
    /// in that step (by keyword, or as an answer of the step's [`Ask`]).
    pub step: Option<String>,
}

/// A question a rule asks, read in the customer's next message: a conversation step.
///
/// While the customer is in the step (for `timeout_secs`), a message equal to one of the
/// `answers` (normalized) fires that answer's rule; otherwise the step's own rules
/// (`step = "…"`) and the other keyword rules match as usual, then the `otherwise` rule
/// (ask again), then the fallbacks. When the step times out unanswered, the bot sends
/// the `on_timeout` rule's reply.
///
/// ```
/// use wecom_sdk_matcher::{Ask, Engine, Incoming, Rule, RuleSet};
/// let rules = RuleSet::new([
///     Rule::new("return", "退换货").contains("退换货").reply("请选择订单类型：1 实物 2 虚拟")
///         .ask(Ask::new("return-type").answer("1", "return-physical").answer("2", "return-virtual")),
///     Rule::new("return-physical", "实物退货").in_step("return-type").reply("请寄回商品，单号发给我们。"),
///     Rule::new("return-virtual", "虚拟退款").in_step("return-type").reply("虚拟商品 24 小时内退款。"),
/// ])?;
/// let engine = Engine::new(rules);
/// let hit = engine.find(&Incoming::new("u", "我要退换货")).expect("the question");
/// let step = hit.ask.as_ref().expect("it asks").step.clone();
/// let answer = engine.find(&Incoming::new("u", "1").in_step(step)).expect("the answer");
/// assert_eq!(answer.rule_id(), "return-physical");
/// // Outside the step, "1" is no answer.
/// assert!(engine.find(&Incoming::new("u", "1")).is_none());
/// # Ok::<(), wecom_sdk_matcher::RuleSetError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ask {
    /// The step's name (unique in the rule set).
    pub step: String,
    /// Answers (as the customer types them; normalized like keywords) and the rule each
    /// fires.
    pub answers: std::collections::BTreeMap<String, String>,
    /// The rule that answers anything else in the step (e.g. asks again).
    pub otherwise: Option<String>,
    /// The rule whose reply the bot sends when the step times out unanswered.
    pub on_timeout: Option<String>,
    /// How long the step stays open (default 10 minutes).
    pub timeout_secs: u64,
}

impl Ask {
    /// The default time a step stays open: 10 minutes.
    pub const DEFAULT_TIMEOUT_SECS: u64 = 600;

    /// A step named `step`, open for 10 minutes, no answers yet.
    pub fn new(step: impl Into<String>) -> Self {
        Self {
            step: step.into(),
            answers: std::collections::BTreeMap::new(),
            otherwise: None,
            on_timeout: None,
            timeout_secs: Self::DEFAULT_TIMEOUT_SECS,
        }
    }

    /// The answer `text` fires rule `rule`.
    #[must_use]
    pub fn answer(mut self, text: impl Into<String>, rule: impl Into<String>) -> Self {
        self.answers.insert(text.into(), rule.into());
        self
    }

    /// Rule `rule` answers anything else.
    #[must_use]
    pub fn otherwise(mut self, rule: impl Into<String>) -> Self {
        self.otherwise = Some(rule.into());
        self
    }

    /// Rule `rule`'s reply is sent when the step times out.
    #[must_use]
    pub fn on_timeout(mut self, rule: impl Into<String>) -> Self {
        self.on_timeout = Some(rule.into());
        self
    }

    /// The step stays open `secs` seconds.
    #[must_use]
    pub fn timeout_secs(mut self, secs: u64) -> Self {
        self.timeout_secs = secs;
        self
    }
}

impl Rule {
    /// A rule with an id and a name, enabled, priority 0, no keywords yet.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            enabled: true,
            priority: 0,
            keywords: Vec::new(),
            intent: None,
            fallback: false,
            schedule: None,
            schedule_ref: None,
            off_hours: false,
            scope: Scope::default(),
            audience: Audience::default(),
            limit: None,
            cooldown_secs: None,
            event: None,
            reply: ReplySpec::None,
            actions: Vec::new(),
            stop: true,
            ask: None,
            step: None,
        }
    }

    /// Asks a question: after this rule fires, the next message is read in `ask`'s step.
    #[must_use]
    pub fn ask(mut self, ask: Ask) -> Self {
        self.ask = Some(ask);
        self
    }

    /// Fires only while the customer is in conversation step `step`.
    #[must_use]
    pub fn in_step(mut self, step: impl Into<String>) -> Self {
        self.step = Some(step.into());
        self
    }

    /// Fires on the event `name` (any key) instead of text: `on_event("enter_agent")`.
    #[must_use]
    pub fn on_event(mut self, name: impl Into<String>) -> Self {
        self.event = Some(EventTrigger {
            name: name.into(),
            key: None,
        });
        self
    }

    /// Fires on the event `name` carrying `key`: a menu button is
    /// `on_event_key("click", "MENU_HOURS")`.
    #[must_use]
    pub fn on_event_key(mut self, name: impl Into<String>, key: impl Into<String>) -> Self {
        self.event = Some(EventTrigger {
            name: name.into(),
            key: Some(key.into()),
        });
        self
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sets the priority.
    #[must_use]
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Enables or disables the rule.
    #[must_use]
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Adds a keyword.
    #[must_use]
    pub fn keyword(mut self, keyword: Keyword) -> Self {
        self.keywords.push(keyword);
        self
    }

    /// Adds a `contains` keyword.
    #[must_use]
    pub fn contains(self, text: impl Into<String>) -> Self {
        self.keyword(Keyword::new(text, MatchMode::Contains))
    }

    /// Adds an `exact` keyword.
    #[must_use]
    pub fn exact(self, text: impl Into<String>) -> Self {
        self.keyword(Keyword::new(text, MatchMode::Exact))
    }

    /// Adds a `prefix` keyword.
    #[must_use]
    pub fn prefix(self, text: impl Into<String>) -> Self {
        self.keyword(Keyword::new(text, MatchMode::Prefix))
    }

    /// Adds a `regex` keyword.
    #[must_use]
    pub fn regex(self, pattern: impl Into<String>) -> Self {
        self.keyword(Keyword::new(pattern, MatchMode::Regex))
    }

    /// Fires on an intent of an intent plug-in.
    #[must_use]
    pub fn on_intent(mut self, intent: impl Into<String>) -> Self {
        self.intent = Some(intent.into());
        self
    }

    /// Makes it a fallback rule (fires when nothing else did).
    #[must_use]
    pub fn fallback(mut self) -> Self {
        self.fallback = true;
        self
    }

    /// Sets the schedule.
    #[must_use]
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = Some(schedule);
        self
    }

    /// Uses a named schedule of the rule set.
    #[must_use]
    pub fn schedule_named(mut self, name: impl Into<String>) -> Self {
        self.schedule_ref = Some(name.into());
        self
    }

    /// In force outside its schedule.
    #[must_use]
    pub fn off_hours(mut self) -> Self {
        self.off_hours = true;
        self
    }

    /// Sets the scope.
    #[must_use]
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Sets the audience.
    #[must_use]
    pub fn audience(mut self, audience: Audience) -> Self {
        self.audience = audience;
        self
    }

    /// At most `max` triggers per user per `window_secs`.
    #[must_use]
    pub fn limit(mut self, max: u32, window_secs: u64) -> Self {
        self.limit = Some(TriggerLimit { max, window_secs });
        self
    }

    /// A cooldown per chat (per user outside chats).
    #[must_use]
    pub fn cooldown(mut self, secs: u64) -> Self {
        self.cooldown_secs = Some(secs);
        self
    }

    /// Replies with one text template.
    #[must_use]
    pub fn reply(mut self, template: impl Into<String>) -> Self {
        self.reply = ReplySpec::Parts(vec![Part::Text(template.into())]);
        self
    }

    /// Replies with these parts.
    #[must_use]
    pub fn reply_parts(mut self, parts: Vec<Part>) -> Self {
        self.reply = ReplySpec::Parts(parts);
        self
    }

    /// Replies with a named template of the rule set.
    #[must_use]
    pub fn reply_template(mut self, name: impl Into<String>) -> Self {
        self.reply = ReplySpec::Named(name.into());
        self
    }

    /// Replies with weighted variants.
    #[must_use]
    pub fn variants(mut self, variants: Vec<Variant>, seed: Option<String>) -> Self {
        self.reply = ReplySpec::Variants {
            variants,
            seed,
            explore: None,
        };
        self
    }

    /// Adds an action.
    #[must_use]
    pub fn action(mut self, action: Action) -> Self {
        self.actions.push(action);
        self
    }

    /// Lets lower rules fire after this one.
    #[must_use]
    pub fn continue_matching(mut self) -> Self {
        self.stop = false;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_times() {
        assert_eq!(parse_days("mon-fri"), Ok(0b001_1111));
        assert_eq!(parse_days("sat,sun"), Ok(0b110_0000));
        assert_eq!(parse_days("fri-mon"), Ok(0b111_0001));
        assert_eq!(parse_days("daily"), Ok(0x7f));
        assert!(parse_days("funday").is_err());
        assert_eq!(parse_time("09:30"), Ok(570));
        assert_eq!(parse_time("24:00"), Ok(1440));
        for bad in ["9", "24:01", "12:60", "ab:cd", "-1:00"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
