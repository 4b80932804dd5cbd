//! From event records to archive rows: one `in` row per message, one `out` row per
//! answer, the texts redacted by policy, as the column arrays one `INSERT … unnest`
//! takes.

use std::borrow::Cow;
use std::sync::Arc;

use wecom_sdk_matcher::Channel;

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
        self.apply_borrowed(text).map(Cow::into_owned)
    }

    /// `text` as stored, borrowed where the policy keeps it.
    fn apply_borrowed<'a>(&self, text: &'a str) -> Option<Cow<'a, str>> {
        match self {
            Self::Keep => Some(Cow::Borrowed(text)),
            Self::Omit => None,
            Self::Custom(f) => Some(Cow::Owned(f(text))),
            Self::MaskDigits => Some(Cow::Owned(mask_digits(text))),
        }
    }
}

/// `text` with runs of 5 or more digits as `*`s.
fn mask_digits(text: &str) -> String {
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
    out
}

/// Rows as column arrays, borrowed from the batch's records (only redacted texts and
/// unlisted channel names are allocated).
#[derive(Debug, Default)]
pub(crate) struct Columns<'a> {
    pub(crate) at_ms: Vec<i64>,
    pub(crate) app: Vec<&'a str>,
    pub(crate) direction: Vec<&'static str>,
    pub(crate) channel: Vec<Cow<'static, str>>,
    pub(crate) chat: Vec<Option<&'a str>>,
    pub(crate) customer: Vec<&'a str>,
    pub(crate) msg_type: Vec<&'a str>,
    pub(crate) event: Vec<Option<&'a str>>,
    pub(crate) text: Vec<Option<Cow<'a, str>>>,
    pub(crate) rule: Vec<Option<&'a str>>,
    pub(crate) variant: Vec<Option<&'a str>>,
    pub(crate) responder: Vec<Option<&'static str>>,
    pub(crate) latency_ms: Vec<Option<i64>>,
    pub(crate) delivery: Vec<&'a str>,
    pub(crate) outcome: Vec<&'a str>,
    pub(crate) msgid: Vec<&'a str>,
    pub(crate) actions: Vec<&'a [String]>,
    pub(crate) errors: Vec<&'a [String]>,
}

/// The outcome of a 微信客服 servicer's message (an answer by a human).
const HUMAN_REPLY: &str = "human_reply";

impl<'a> Columns<'a> {
    /// Rows of `records`.
    pub(crate) fn of(records: &'a [EventRecord], redaction: &Redaction) -> Self {
        let mut c = Self::default();
        for r in records {
            let human = r.outcome == HUMAN_REPLY;
            if !human {
                c.push(
                    r,
                    "in",
                    r.text.as_deref().and_then(|t| redaction.apply_borrowed(t)),
                    None,
                );
            }
            if let Some(reply) = &r.reply {
                let who = if human { "human" } else { "bot" };
                c.push(r, "out", redaction.apply_borrowed(reply), Some(who));
            }
        }
        c
    }

    fn push(
        &mut self,
        r: &'a EventRecord,
        direction: &'static str,
        text: Option<Cow<'a, str>>,
        responder: Option<&'static str>,
    ) {
        self.at_ms.push(r.at_ms);
        self.app.push(&r.app);
        self.direction.push(direction);
        self.channel.push(channel_name(r.channel));
        self.chat.push(r.chat.as_deref());
        self.customer.push(&r.user);
        self.msg_type.push(&r.msg_type);
        self.event.push(r.event.as_deref());
        self.text.push(text);
        self.rule.push(r.rule.as_deref());
        self.variant.push(r.variant.as_deref());
        self.responder.push(responder);
        self.latency_ms
            .push(Some(i64::try_from(r.latency_ms).unwrap_or(i64::MAX)));
        self.delivery.push(&r.delivery);
        self.outcome.push(&r.outcome);
        self.msgid.push(&r.key);
        self.actions.push(&r.actions);
        self.errors.push(&r.errors);
    }

    pub(crate) fn len(&self) -> usize {
        self.at_ms.len()
    }
}

/// The channel as the event log names it (`app`, `kf`, `ai_bot`, …).
fn channel_name(channel: Channel) -> Cow<'static, str> {
    Cow::Borrowed(match channel {
        Channel::App => "app",
        Channel::AppChat => "app_chat",
        Channel::CustomerGroup => "customer_group",
        Channel::Kf => "kf",
        Channel::AiBot => "ai_bot",
        // A channel added later: as serde names it.
        other => {
            return serde_json::to_value(other)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .map_or(Cow::Borrowed("other"), Cow::Owned);
        }
    })
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
