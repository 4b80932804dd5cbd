//! From event records to archive rows: one `in` row per message, one `out` row per
//! answer, the texts redacted by policy, as the column arrays one `INSERT … unnest`
//! takes.

use std::sync::Arc;

use crate::event_log::EventRecord;

/// How customers' and servicers' texts are stored in the archive.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Redaction {
    /// As they are.
    #[default]
    Keep,
    /// Runs of 5 or more digits (phone, ID and card numbers) become `*`s.
    MaskDigits,
    /// No text at all (the rule, variant and delivery are still stored).
    Omit,
    /// Your own policy.
    Custom(Arc<dyn Fn(&str) -> String + Send + Sync>),
}

impl std::fmt::Debug for Redaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Keep => "Keep",
            Self::MaskDigits => "MaskDigits",
            Self::Omit => "Omit",
            Self::Custom(_) => "Custom(…)",
        })
    }
}

impl Redaction {
    /// A policy of your own (e.g. a DLP service's masking).
    pub fn custom(f: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        Self::Custom(Arc::new(f))
    }

    /// `text` as stored.
    pub fn apply(&self, text: &str) -> Option<String> {
        match self {
            Self::Keep => Some(text.to_owned()),
            Self::Omit => None,
            Self::Custom(f) => Some(f(text)),
            Self::MaskDigits => {
                let mut out = String::with_capacity(text.len());
                let mut run = String::new();
                let flush = |run: &mut String, out: &mut String| {
                    if run.chars().count() >= 5 {
                        out.extend(run.chars().map(|_| '*'));
                    } else {
                        out.push_str(run);
                    }
                    run.clear();
                };
                for c in text.chars() {
                    if c.is_ascii_digit() {
                        run.push(c);
                    } else {
                        flush(&mut run, &mut out);
                        out.push(c);
                    }
                }
                flush(&mut run, &mut out);
                Some(out)
            }
        }
    }
}

/// Rows as column arrays.
#[derive(Debug, Default)]
pub(crate) struct Columns {
    pub(crate) at_ms: Vec<i64>,
    pub(crate) app: Vec<String>,
    pub(crate) direction: Vec<String>,
    pub(crate) channel: Vec<String>,
    pub(crate) chat: Vec<Option<String>>,
    pub(crate) customer: Vec<String>,
    pub(crate) msg_type: Vec<String>,
    pub(crate) event: Vec<Option<String>>,
    pub(crate) text: Vec<Option<String>>,
    pub(crate) rule: Vec<Option<String>>,
    pub(crate) variant: Vec<Option<String>>,
    pub(crate) responder: Vec<Option<String>>,
    pub(crate) latency_ms: Vec<Option<i64>>,
    pub(crate) delivery: Vec<String>,
    pub(crate) outcome: Vec<String>,
    pub(crate) msgid: Vec<String>,
    pub(crate) actions: Vec<Vec<String>>,
    pub(crate) errors: Vec<Vec<String>>,
}

/// The outcome of a 微信客服 servicer's message (an answer by a human).
const HUMAN_REPLY: &str = "human_reply";

impl Columns {
    /// Rows of `records`.
    pub(crate) fn of(records: &[EventRecord], redaction: &Redaction) -> Self {
        let mut c = Self::default();
        for r in records {
            let human = r.outcome == HUMAN_REPLY;
            if !human {
                c.push(
                    r,
                    "in",
                    r.text.as_deref().and_then(|t| redaction.apply(t)),
                    None,
                );
            }
            if let Some(reply) = &r.reply {
                let who = if human { "human" } else { "bot" };
                c.push(r, "out", redaction.apply(reply), Some(who));
            }
        }
        c
    }

    fn push(
        &mut self,
        r: &EventRecord,
        direction: &str,
        text: Option<String>,
        responder: Option<&str>,
    ) {
        self.at_ms.push(r.at_ms);
        self.app.push(r.app.clone());
        self.direction.push(direction.to_owned());
        self.channel.push(channel_name(r));
        self.chat.push(r.chat.clone());
        self.customer.push(r.user.clone());
        self.msg_type.push(r.msg_type.clone());
        self.event.push(r.event.clone());
        self.text.push(text);
        self.rule.push(r.rule.clone());
        self.variant.push(r.variant.clone());
        self.responder.push(responder.map(str::to_owned));
        self.latency_ms
            .push(Some(i64::try_from(r.latency_ms).unwrap_or(i64::MAX)));
        self.delivery.push(r.delivery.clone());
        self.outcome.push(r.outcome.clone());
        self.msgid.push(r.key.clone());
        self.actions.push(r.actions.clone());
        self.errors.push(r.errors.clone());
    }

    pub(crate) fn len(&self) -> usize {
        self.at_ms.len()
    }
}

/// The channel as the event log names it (`app`, `kf`, `ai_bot`, …).
fn channel_name(r: &EventRecord) -> String {
    serde_json::to_value(r.channel)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "other".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_masked_from_five_on() {
        let r = Redaction::MaskDigits;
        assert_eq!(
            r.apply("手机 13812345678，订单 123").unwrap(),
            "手机 ***********，订单 123"
        );
        assert_eq!(r.apply("").unwrap(), "");
        assert_eq!(Redaction::Omit.apply("x"), None);
        assert_eq!(
            Redaction::custom(str::to_uppercase).apply("ab").unwrap(),
            "AB"
        );
        assert_eq!(
            format!("{:?}", Redaction::custom(str::to_owned)),
            "Custom(…)"
        );
    }
}
