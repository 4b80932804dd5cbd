//! What matching returns: the winning rule and its rendered reply, or the explanation.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::rule::{Action, Part};

/// A rule that fired, with its reply rendered.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Hit {
    pub(crate) rule_id: Arc<str>,
    /// The rule's name.
    pub rule_name: String,
    /// Its priority.
    pub priority: i32,
    /// The keyword that matched (`None` for fallback and intent rules).
    pub keyword: Option<String>,
    /// Named regex captures (also available to the reply as variables).
    pub captures: BTreeMap<String, String>,
    /// The reply parts, templates filled in; videos come before news cards, as WeCom
    /// shows them first.
    pub parts: Vec<Part>,
    /// The A/B variant chosen, if the rule has variants.
    pub variant: Option<String>,
    /// The actions to perform.
    pub actions: Vec<Action>,
    /// Whether matching stopped at this rule.
    pub stop: bool,
    /// The intent that triggered it (intent rules).
    pub intent: Option<String>,
    /// The question the rule asks: read the customer's next message in this step
    /// ([`Incoming::in_step`](crate::Incoming::in_step)).
    pub ask: Option<AskedStep>,
}

/// A conversation step a hit opens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AskedStep {
    /// The step's name.
    pub step: String,
    /// How long it stays open.
    pub timeout_secs: u64,
    /// Whether the step has a reply for its time-out (the bot sends it then).
    pub has_timeout_reply: bool,
}

impl AskedStep {
    /// Step `step`, open `timeout_secs` seconds, with no time-out reply (what a handler
    /// that asks opens; its next message carries the step in
    /// [`Incoming::step`](crate::Incoming::step)).
    pub fn new(step: impl Into<String>, timeout_secs: u64) -> Self {
        Self {
            step: step.into(),
            timeout_secs,
            has_timeout_reply: false,
        }
    }
}

impl Hit {
    /// The winning rule's id.
    pub fn rule_id(&self) -> &str {
        &self.rule_id
    }

    /// The text parts joined by blank lines (borrowed when there is one); `None` when
    /// the reply has no text — a news-only or file-only reply is sent by its
    /// [`parts`](Self::parts), never as an empty text.
    pub fn text(&self) -> Option<Cow<'_, str>> {
        let mut texts = self.parts.iter().filter_map(|p| match p {
            Part::Text(t) => Some(t.as_str()),
            _ => None,
        });
        let first = texts.next()?;
        match texts.next() {
            None => Some(Cow::Borrowed(first)),
            Some(second) => {
                let mut joined = format!("{first}\n\n{second}");
                for t in texts {
                    joined.push_str("\n\n");
                    joined.push_str(t);
                }
                Some(Cow::Owned(joined))
            }
        }
    }
}

/// What an intent plug-in recognized.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    /// The intent (rules fire on it with `intent = "…"`).
    pub name: String,
    /// 0 to 1.
    pub confidence: f32,
    /// Extracted entities, available to the reply as variables.
    pub entities: BTreeMap<String, String>,
}

/// Why a candidate rule did or did not fire.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// It fired.
    Fired,
    /// It would fire, but a rule ranked higher fired first.
    LowerPriority {
        /// The rule that fired.
        winner: String,
    },
    /// The rule is disabled.
    Disabled,
    /// Its schedule is closed now.
    ScheduleClosed,
    /// It is an off-hours rule and the schedule is open now.
    OffHoursOnly,
    /// The message is outside its scope (`chat`, `user`, `department`, `tag`, `channel`).
    OutOfScope(&'static str),
    /// The sender does not meet its audience conditions.
    AudienceMismatch(&'static str),
    /// The sender reached its per-user limit.
    LimitReached,
    /// Its cooldown in this chat is running.
    CooldownActive,
    /// A fallback rule, not needed because another rule fired.
    NotNeeded,
    /// The message contains a sensitive word and the rule set blocks such messages.
    Blocked,
}

/// One candidate rule in an explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The rule's id.
    pub rule_id: String,
    /// Its priority.
    pub priority: i32,
    /// The keyword that matched (`None` for fallback rules).
    pub keyword: Option<String>,
    /// What happened.
    pub verdict: Verdict,
}

/// The test mode's answer: every candidate rule and why it fired or not.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Explanation {
    /// The text after normalization (what keywords were matched against).
    pub normalized: String,
    /// Candidates in rank order: rules whose keywords matched, then fallback rules.
    pub candidates: Vec<Candidate>,
    /// The rule that would fire.
    pub winner: Option<String>,
}
