//! [`Incoming`]: a message as the engine sees it.

use std::collections::BTreeMap;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jiff::Timestamp;

/// Where a message came from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Channel {
    /// A self-built app's chat with a member.
    #[default]
    App,
    /// A group chat created by an app (appchat).
    AppChat,
    /// A customer group (客户群).
    CustomerGroup,
    /// 微信客服 (WeChat customer service).
    Kf,
    /// An AI bot (智能机器人).
    AiBot,
}

/// Whether the sender is a new or a returning customer, as the caller knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CustomerKind {
    /// Unknown: rules that ask for new or returning customers do not fire.
    #[default]
    Unknown,
    /// First contact.
    New,
    /// Has talked before.
    Returning,
}

/// A message to match: the text and what the caller knows about its sender.
///
/// ```
/// use wecom_sdk_matcher::{Channel, Incoming};
/// let msg = Incoming::new("zhangsan", "营业时间？")
///     .chat_id("wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA")
///     .channel(Channel::CustomerGroup)
///     .tags(["vip"])
///     .nickname("张三")
///     .attr("city", "上海");
/// assert_eq!(msg.user_id(), "zhangsan");
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Incoming {
    pub(crate) user_id: String,
    pub(crate) text: String,
    pub(crate) chat_id: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) departments: Vec<u64>,
    pub(crate) channel: Channel,
    pub(crate) at: Option<Timestamp>,
    pub(crate) nickname: Option<String>,
    pub(crate) customer: CustomerKind,
    pub(crate) attrs: BTreeMap<String, String>,
    /// An event (name, key) instead of text.
    pub(crate) event: Option<(String, String)>,
    /// The conversation step the sender is in, and whether it timed out.
    pub(crate) step: Option<(String, bool)>,
}

impl Incoming {
    /// A message from `user_id`.
    pub fn new(user_id: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            text: text.into(),
            ..Self::default()
        }
    }

    /// An event from `user_id` instead of text: `name` and `key` as in
    /// [`EventTrigger`](crate::EventTrigger) (`("click", "MENU_HOURS")`,
    /// `("add_external_contact", state)`, `("enter_agent", "")`). Only rules with a
    /// matching `event` answer it — never keyword or fallback rules.
    ///
    /// ```
    /// use wecom_sdk_matcher::{Engine, Incoming, Rule, RuleSet};
    /// let rules = RuleSet::new([
    ///     Rule::new("menu-hours", "菜单：营业时间").on_event_key("click", "MENU_HOURS").reply("9:00–21:00"),
    ///     Rule::new("fallback", "兜底").fallback().reply("收到"),
    /// ])?;
    /// let engine = Engine::new(rules);
    /// let hit = engine.find(&Incoming::event("zhangsan", "click", "MENU_HOURS")).expect("the menu rule");
    /// assert_eq!(hit.rule_id(), "menu-hours");
    /// assert!(engine.find(&Incoming::event("zhangsan", "click", "MENU_OTHER")).is_none());
    /// # Ok::<(), wecom_sdk_matcher::RuleSetError>(())
    /// ```
    pub fn event(
        user_id: impl Into<String>,
        name: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        Self {
            user_id: user_id.into(),
            event: Some((name.into(), key.into())),
            ..Self::default()
        }
    }

    /// The event's name and key, when this is an event.
    pub fn event_name_key(&self) -> Option<(&str, &str)> {
        self.event.as_ref().map(|(n, k)| (n.as_str(), k.as_str()))
    }

    /// The group chat it was sent in.
    #[must_use]
    pub fn chat_id(mut self, chat_id: impl Into<String>) -> Self {
        self.chat_id = Some(chat_id.into());
        self
    }

    /// The sender's tags (customer tags or member tags).
    #[must_use]
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// The sender's departments.
    #[must_use]
    pub fn departments(mut self, departments: impl IntoIterator<Item = u64>) -> Self {
        self.departments = departments.into_iter().collect();
        self
    }

    /// The sender is in conversation step `step` (a rule's [`Ask`](crate::Ask) opened it):
    /// its answers and its rules are candidates.
    #[must_use]
    pub fn in_step(mut self, step: impl Into<String>) -> Self {
        self.step = Some((step.into(), false));
        self
    }

    /// The sender's conversation step `step` timed out: only the step's `on_timeout`
    /// rule answers (what the bot sends when nobody answered the question in time).
    #[must_use]
    pub fn step_timed_out(mut self, step: impl Into<String>) -> Self {
        self.step = Some((step.into(), true));
        self
    }

    /// The conversation step the sender is in.
    pub fn step(&self) -> Option<&str> {
        self.step.as_ref().map(|(s, _)| s.as_str())
    }

    /// The channel.
    #[must_use]
    pub fn channel(mut self, channel: Channel) -> Self {
        self.channel = channel;
        self
    }

    /// When it was sent (default: the engine's clock): schedules are judged at this
    /// instant. Takes a `SystemTime` (or a `jiff::Timestamp`).
    #[must_use]
    pub fn at(mut self, at: impl Into<SystemTime>) -> Self {
        self.at = Some(crate::clock::timestamp(at.into()));
        self
    }

    /// When it was sent, in Unix seconds (a callback's `CreateTime`).
    #[must_use]
    pub fn at_unix(self, secs: i64) -> Self {
        let magnitude = Duration::from_secs(secs.unsigned_abs());
        self.at(if secs >= 0 {
            UNIX_EPOCH + magnitude
        } else {
            UNIX_EPOCH - magnitude
        })
    }

    /// The sender's display name (the `{nickname}` variable).
    #[must_use]
    pub fn nickname(mut self, nickname: impl Into<String>) -> Self {
        self.nickname = Some(nickname.into());
        self
    }

    /// Whether the sender is a new or a returning customer.
    #[must_use]
    pub fn customer(mut self, kind: CustomerKind) -> Self {
        self.customer = kind;
        self
    }

    /// A custom attribute, usable as `{key}` in replies.
    #[must_use]
    pub fn attr(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attrs.insert(key.into(), value.into());
        self
    }

    /// The sender.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The text as received.
    pub fn text(&self) -> &str {
        &self.text
    }
}
