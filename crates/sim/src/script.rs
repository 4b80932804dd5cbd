//! Scripted days: timed customer messages with expected replies, played through a bot to
//! try a rule set "at different times of day" before it goes live.
//!
//! ```toml
//! # day.toml
//! date = "2026-12-01"        # optional, default today (in `zone`)
//! zone = "Asia/Shanghai"     # optional, default Asia/Shanghai
//!
//! [[step]]
//! at = "09:30"               # time of day: the message's CreateTime
//! user = "zhangsan"
//! text = "几点下班？"
//! expect = "18:00"           # the reply must contain this
//!
//! [[step]]
//! at = "22:30"
//! user = "lisi"
//! event = "click"            # an event instead of a text
//! key = "MENU_HOURS"         # its EventKey
//! expect_empty = true        # no passive reply expected
//!
//! [[step]]
//! at = "10:00"
//! user = "wmCustomer1"
//! tags = ["etVip"]           # set on the customer in the fake WeCom first
//! text = "会员价多少"
//! ```
//!
//! Play it with [`Script::play`] or `wecom-sim send --script day.toml`.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::{Answer, CallbackSender, Delivery, FakeWeCom, Inbound, SimError};

/// How long to wait for an active reply (through the fake API) after an empty 200.
const ACTIVE_WAIT: Duration = Duration::from_secs(3);

/// A scripted day, read from TOML.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// The day (`YYYY-MM-DD`); today when absent.
    #[serde(default)]
    pub date: Option<String>,
    /// The IANA time zone the times of day are in.
    #[serde(default = "default_zone")]
    pub zone: String,
    /// The steps, in order.
    #[serde(default, rename = "step")]
    pub steps: Vec<Step>,
}

fn default_zone() -> String {
    "Asia/Shanghai".to_owned()
}

/// One timed customer message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Time of day, `HH:MM` or `HH:MM:SS`; the previous step's time when absent
    /// (midnight for the first).
    #[serde(default)]
    pub at: Option<String>,
    /// Who writes (member UserID or customer id).
    pub user: String,
    /// What they write.
    #[serde(default)]
    pub text: Option<String>,
    /// An event instead of a text (`click`, `enter_agent`, …).
    #[serde(default)]
    pub event: Option<String>,
    /// The event's `EventKey`.
    #[serde(default)]
    pub key: Option<String>,
    /// A group chat (AI-bot callbacks).
    #[serde(default)]
    pub chat: Option<String>,
    /// An @mention put in front of the text.
    #[serde(default)]
    pub mention: Option<String>,
    /// Tags set on the customer in the fake WeCom before the message.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// The reply must contain this text.
    #[serde(default)]
    pub expect: Option<String>,
    /// No reply is expected.
    #[serde(default)]
    pub expect_empty: bool,
}

/// Whether a step got what it expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No expectation.
    Unchecked,
    /// As expected.
    Pass,
    /// Not as expected: why.
    Fail(String),
}

/// One line of a transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The step number, from 1.
    pub step: usize,
    /// `HH:MM` of the message.
    pub time: String,
    /// Who wrote.
    pub user: String,
    /// What they wrote (or `[click MENU_HOURS]`).
    pub said: String,
    /// What the customer saw: a passive reply, an active one (`(active)`), or nothing.
    pub reply: Option<String>,
    /// How the callback was delivered.
    pub delivery: Delivery,
    /// The check.
    pub verdict: Verdict,
}

/// A played script.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Transcript {
    /// Every step, in order.
    pub entries: Vec<Entry>,
}

impl Transcript {
    /// Steps whose expectation held.
    pub fn passed(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.verdict == Verdict::Pass)
            .count()
    }

    /// Steps whose expectation failed.
    pub fn failed(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e.verdict, Verdict::Fail(_)))
            .count()
    }
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.entries {
            writeln!(f, "{:>3}. {} {}: {}", e.step, e.time, e.user, e.said)?;
            let reply = e.reply.as_deref().unwrap_or("(no reply)");
            let mut lines = reply.lines();
            writeln!(f, "          bot: {}", lines.next().unwrap_or_default())?;
            for line in lines {
                writeln!(f, "               {line}")?;
            }
            if e.delivery.redeliveries() > 0 {
                writeln!(f, "          ({} re-deliveries)", e.delivery.redeliveries())?;
            }
            match &e.verdict {
                Verdict::Unchecked => {}
                Verdict::Pass => writeln!(f, "          PASS")?,
                Verdict::Fail(why) => writeln!(f, "          FAIL: {why}")?,
            }
        }
        write!(
            f,
            "{} steps: {} passed, {} failed",
            self.entries.len(),
            self.passed(),
            self.failed()
        )
    }
}

impl Script {
    /// Reads a script file.
    ///
    /// # Errors
    /// [`SimError::Script`] naming the file, and the step (from 1) and field where one is
    /// wrong.
    pub fn from_file(path: &Path) -> Result<Self, SimError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SimError::Script {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        Self::from_toml(&text, &file)
    }

    /// Reads a script; `file` names it in errors.
    ///
    /// # Errors
    /// As [`from_file`](Self::from_file).
    pub fn from_toml(text: &str, file: &str) -> Result<Self, SimError> {
        let error = |reason: String| SimError::Script {
            file: file.to_owned(),
            reason,
        };
        let script: Self = toml::from_str(text).map_err(|e| error(e.to_string()))?;
        jiff::tz::TimeZone::get(&script.zone)
            .map_err(|e| error(format!("zone {:?}: {e}", script.zone)))?;
        if let Some(date) = &script.date {
            date.parse::<jiff::civil::Date>()
                .map_err(|e| error(format!("date {date:?}: {e}")))?;
        }
        for (i, step) in script.steps.iter().enumerate() {
            let n = i + 1;
            if step.text.is_some() == step.event.is_some() {
                return Err(error(format!(
                    "step {n}: give exactly one of `text` and `event`"
                )));
            }
            if let Some(at) = &step.at {
                time_of_day(at).map_err(|e| error(format!("step {n}: at: {e}")))?;
            }
            if step.expect.is_some() && step.expect_empty {
                return Err(error(format!(
                    "step {n}: `expect` and `expect_empty` contradict each other"
                )));
            }
        }
        Ok(script)
    }

    /// The Unix time of each step.
    fn times(&self) -> Result<Vec<(i64, String)>, SimError> {
        let error = |reason: String| SimError::Script {
            file: "script".to_owned(),
            reason,
        };
        let tz = jiff::tz::TimeZone::get(&self.zone).map_err(|e| error(e.to_string()))?;
        let date = match &self.date {
            Some(d) => d
                .parse::<jiff::civil::Date>()
                .map_err(|e| error(e.to_string()))?,
            None => jiff::Timestamp::now().to_zoned_datetime(tz.clone()).date(),
        };
        let mut last = (0, 0, 0);
        self.steps
            .iter()
            .map(|step| {
                if let Some(at) = &step.at {
                    last = time_of_day(at).map_err(error)?;
                }
                let (h, m, s) = last;
                let zoned = date
                    .at(h, m, s, 0)
                    .to_zoned_datetime(tz.clone())
                    .map_err(|e| error(e.to_string()))?;
                Ok((zoned.timestamp().as_second(), format!("{h:02}:{m:02}")))
            })
            .collect()
    }

    /// Plays every step through `sender` in order and checks the expectations. With a
    /// `fake`, tags are set on customers first, and an empty 200 is followed by a look at
    /// the fake's sent messages for an active reply to the user.
    ///
    /// # Errors
    /// [`SimError::Script`] when a step's time does not exist in the zone.
    pub async fn play(
        &self,
        sender: &CallbackSender,
        fake: Option<&FakeWeCom>,
    ) -> Result<Transcript, SimError> {
        self.play_with(sender, fake.map_or(Backend::None, Backend::Fake))
            .await
    }

    /// [`play`](Self::play) against a `wecom-sim serve` at `api`
    /// (`http://127.0.0.1:PORT`) instead of an in-process fake: tags are set and active
    /// replies read through its `/__sim` routes.
    ///
    /// # Errors
    /// As [`play`](Self::play).
    pub async fn play_against(
        &self,
        sender: &CallbackSender,
        api: &str,
    ) -> Result<Transcript, SimError> {
        self.play_with(sender, Backend::Api(api)).await
    }

    async fn play_with(
        &self,
        sender: &CallbackSender,
        backend: Backend<'_>,
    ) -> Result<Transcript, SimError> {
        let times = self.times()?;
        let mut transcript = Transcript::default();
        for (i, (step, (unix, time))) in self.steps.iter().zip(times).enumerate() {
            if let Some(tags) = &step.tags {
                backend.set_tags(&step.user, tags).await;
            }
            let (inbound, said) = step.inbound();
            let inbound = inbound.at_unix(unix);
            let sent_before = backend.sent().await.len();
            let delivery = sender.send(&inbound).await;
            let reply = match &delivery.answer {
                Some(Answer::Empty) => backend.active_reply(sent_before, &step.user).await,
                Some(Answer::Invalid { reason, .. }) => Some(format!("(invalid reply: {reason})")),
                Some(answer) => Some(
                    answer
                        .text()
                        .unwrap_or_else(|| "(a non-text reply)".to_owned()),
                ),
                None => None,
            };
            let verdict = step.verdict(&delivery, reply.as_deref());
            transcript.entries.push(Entry {
                step: i + 1,
                time,
                user: step.user.clone(),
                said,
                reply,
                delivery,
                verdict,
            });
        }
        Ok(transcript)
    }
}

impl Step {
    fn inbound(&self) -> (Inbound, String) {
        let (mut inbound, said) = match (&self.text, &self.event) {
            (Some(text), _) => (Inbound::text(&self.user, text), text.clone()),
            (None, Some(event)) => {
                let key = self.key.clone().unwrap_or_default();
                let said = if key.is_empty() {
                    format!("[{event}]")
                } else {
                    format!("[{event} {key}]")
                };
                (
                    Inbound::event(&self.user, event).field("EventKey", &key),
                    said,
                )
            }
            (None, None) => (Inbound::text(&self.user, ""), String::new()),
        };
        if let Some(name) = &self.mention {
            inbound = inbound.mention(name);
        }
        if let Some(chat) = &self.chat {
            inbound = inbound.in_chat(chat);
        }
        let said = match (&self.mention, &self.chat) {
            (Some(m), Some(c)) => format!("(in {c}) @{m} {said}"),
            (Some(m), None) => format!("@{m} {said}"),
            (None, Some(c)) => format!("(in {c}) {said}"),
            (None, None) => said,
        };
        (inbound, said)
    }

    fn verdict(&self, delivery: &Delivery, reply: Option<&str>) -> Verdict {
        if !delivery.delivered() {
            return Verdict::Fail(format!(
                "not delivered after {} attempts",
                delivery.attempts.len()
            ));
        }
        match (&self.expect, self.expect_empty, reply) {
            (Some(want), _, Some(got)) if got.contains(want.as_str()) => Verdict::Pass,
            (Some(want), _, Some(got)) => {
                Verdict::Fail(format!("expected a reply containing {want:?}, got {got:?}"))
            }
            (Some(want), _, None) => {
                Verdict::Fail(format!("expected a reply containing {want:?}, got none"))
            }
            (None, true, None) => Verdict::Pass,
            (None, true, Some(got)) => Verdict::Fail(format!("expected no reply, got {got:?}")),
            (None, false, _) => Verdict::Unchecked,
        }
    }
}

/// Where customers' tags live and active replies arrive.
#[derive(Debug, Clone, Copy)]
enum Backend<'a> {
    None,
    Fake(&'a FakeWeCom),
    Api(&'a str),
}

impl Backend<'_> {
    async fn set_tags(&self, user: &str, tags: &[String]) {
        match self {
            Self::None => {}
            Self::Fake(fake) => {
                let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
                fake.set_customer_tags(user, &tags);
            }
            Self::Api(api) => {
                let body = serde_json::json!({ "tags": tags });
                let _ =
                    crate::http::post_json(api, &format!("/__sim/customers/{user}/tags"), &body)
                        .await;
            }
        }
    }

    /// `(recipient, text)` of every message sent through the fake so far.
    async fn sent(&self) -> Vec<(String, String)> {
        match self {
            Self::None => Vec::new(),
            Self::Fake(fake) => fake
                .sent_messages()
                .into_iter()
                .map(|m| {
                    let text = m.text().unwrap_or_else(|| format!("({})", m.msgtype));
                    (m.to, text)
                })
                .collect(),
            Self::Api(api) => {
                let Ok(body) =
                    crate::http::control(api, hyper::Method::GET, "/__sim/messages", None).await
                else {
                    return Vec::new();
                };
                let list: Vec<crate::SentMessage> =
                    serde_json::from_slice::<Vec<serde_json::Value>>(&body)
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|v| crate::fake::sent_from_json(&v))
                        .collect();
                list.into_iter()
                    .map(|m| {
                        let text = m.text().unwrap_or_else(|| format!("({})", m.msgtype));
                        (m.to, text)
                    })
                    .collect()
            }
        }
    }

    /// Waits for a message the bot sends `user` actively after an empty 200.
    async fn active_reply(&self, before: usize, user: &str) -> Option<String> {
        if matches!(self, Self::None) {
            return None;
        }
        let deadline = tokio::time::Instant::now() + ACTIVE_WAIT;
        loop {
            let texts: Vec<String> = self
                .sent()
                .await
                .into_iter()
                .skip(before)
                .filter(|(to, _)| to.split('|').any(|u| u == user))
                .map(|(_, text)| text)
                .collect();
            if !texts.is_empty() {
                return Some(format!("{} (active)", texts.join("\n")));
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `HH:MM` or `HH:MM:SS`.
fn time_of_day(at: &str) -> Result<(i8, i8, i8), String> {
    let parts: Vec<&str> = at.split(':').collect();
    let number = |s: &str, max: i8| {
        s.parse::<i8>()
            .ok()
            .filter(|v| (0..=max).contains(v))
            .ok_or_else(|| format!("{at:?} is not a time of day (HH:MM or HH:MM:SS)"))
    };
    match parts.as_slice() {
        [h, m] => Ok((number(h, 23)?, number(m, 59)?, 0)),
        [h, m, s] => Ok((number(h, 23)?, number(m, 59)?, number(s, 59)?)),
        _ => Err(format!("{at:?} is not a time of day (HH:MM or HH:MM:SS)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_read_and_errors_name_the_step() {
        let s = Script::from_toml(
            "date = \"2026-12-01\"\n[[step]]\nat = \"09:30\"\nuser = \"u\"\ntext = \"hi\"\nexpect = \"hello\"\n[[step]]\nuser = \"u\"\nevent = \"click\"\nkey = \"K\"\n",
            "day.toml",
        )
        .expect("valid");
        let times = s.times().expect("times");
        // 2026-12-01 09:30 in Shanghai (UTC+8) is 01:30 UTC.
        assert_eq!(times[0], (1_796_088_600, "09:30".to_owned()));
        assert_eq!(
            times[1].0, times[0].0,
            "a step without `at` keeps the last time"
        );
        let e = Script::from_toml("[[step]]\nuser = \"u\"\n", "day.toml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "script day.toml: step 1: give exactly one of `text` and `event`"
        );
        let e = Script::from_toml(
            "[[step]]\nat = \"25:00\"\nuser = \"u\"\ntext = \"x\"\n",
            "d",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("step 1: at: \"25:00\" is not a time of day"),
            "{e}"
        );
        let e = Script::from_toml("[[step]]\nusr = \"u\"\n", "d").unwrap_err();
        assert!(e.to_string().contains("usr"), "{e}");
        assert!(Script::from_toml("zone = \"Mars/Olympus\"\n", "d").is_err());
    }
}
