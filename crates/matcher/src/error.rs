//! Errors and warnings of rule compilation, and errors of counter stores.

use std::fmt;

/// A rule set could not be built. Every problem names the rule and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleSetError {
    /// The rules file is not valid TOML or JSON.
    #[error("rules file: {0}")]
    Syntax(String),
    /// The rules file could not be read.
    #[error("rules file {path}: {reason}")]
    Io {
        /// The path.
        path: String,
        /// What failed.
        reason: String,
    },
    /// A rule (or a setting) is invalid.
    #[error("{0}")]
    Invalid(RuleError),
    /// Several problems; all of them, in file order.
    #[error("{} problems in the rules:\n{}", .0.len(), first_problems(.0))]
    Many(Vec<RuleError>),
}

impl RuleSetError {
    /// Every rule problem in this error.
    pub fn problems(&self) -> Vec<&RuleError> {
        match self {
            Self::Invalid(e) => vec![e],
            Self::Many(all) => all.iter().collect(),
            _ => Vec::new(),
        }
    }
}

/// One problem, with the rule (id, or position when it has none) and the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// `rule 'refund-2024'`, `rule #3`, `schedule 'work'`, or `rule set`.
    pub rule: String,
    /// The field: `keyword 3`, `schedule.windows[1].start`, …
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.rule, self.field, self.message)
    }
}

impl std::error::Error for RuleError {}

impl RuleError {
    pub(crate) fn new(
        rule: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            rule: quote_short(rule.into(), 120),
            field: quote_short(field.into(), 120),
            message: quote_short(message.into(), 600),
        }
    }
}

/// `text`, cut at `max` bytes (on a character boundary) with `…`: errors quote names and
/// values from the rules file, and a 10 MB key must not make a 10 MB error.
fn quote_short(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// Advice that is not an error: the rules compile, but an operator should look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The rule (empty for advice about the whole set).
    pub rule: String,
    /// What to look at.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rule.is_empty() {
            write!(f, "rule set: {}", self.message)
        } else {
            write!(f, "rule '{}': {}", self.rule, self.message)
        }
    }
}

/// A counter store failed (the Redis connection, a script error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("counter store: {0}")]
pub struct StoreError(pub String);

/// A day list or a time of day could not be read (`"mon-fri"`, `"09:00"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(pub(crate) String);

/// The first 20 problems, a line each, and how many more (an error stays readable
/// whatever the file held).
fn first_problems(all: &[RuleError]) -> String {
    const SHOWN: usize = 20;
    let mut out: Vec<String> = all.iter().take(SHOWN).map(ToString::to_string).collect();
    if all.len() > SHOWN {
        out.push(format!("… and {} more", all.len() - SHOWN));
    }
    out.join("\n")
}
