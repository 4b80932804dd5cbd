//! The trigger-rate watch of a running bot: each day it checks, in the archive, which
//! keyword rules customers stopped triggering, sets the `/metrics` gauges
//! (`wecom_bot_trigger_rate_ratio{rule}`, `wecom_bot_trigger_alerts`), logs every alert
//! and, when asked, posts them to a group robot.

use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use wecom_sdk_client::WebhookClient;

use super::{Archive, TriggerRate};
use crate::Bot;
use crate::error::StoreError;

/// Settings of the trigger-rate check ([`Bot::check_trigger_rates`],
/// [`Bot::watch_trigger_rates`]). The time zone and the fallback rules default to the
/// bot's rule set (its `timezone`, its `fallback = true` rules) at each check, so a
/// reload is followed.
#[derive(Debug, Clone)]
#[must_use]
pub struct TriggerWatch {
    share: f64,
    min_mean_hits: f64,
    timezone: Option<String>,
    fallbacks: Option<Vec<String>>,
    robot: Option<WebhookClient>,
    after_midnight: Duration,
}

impl Default for TriggerWatch {
    fn default() -> Self {
        Self {
            share: 0.5,
            min_mean_hits: 5.0,
            timezone: None,
            fallbacks: None,
            robot: None,
            after_midnight: Duration::from_secs(10 * 60),
        }
    }
}

impl TriggerWatch {
    /// The defaults: an alert under half the 7-day mean share, rules with at least 5
    /// hits a day on average judged, checked 10 minutes after midnight.
    pub fn new() -> Self {
        Self::default()
    }

    /// A rule alerts when its day's share of messages is under `share` of its mean
    /// share over the 7 days before (default 0.5).
    pub fn share(mut self, share: f64) -> Self {
        self.share = share;
        self
    }

    /// Rules with fewer hits a day on average are too rare to judge (default 5).
    pub fn min_mean_hits(mut self, hits: f64) -> Self {
        self.min_mean_hits = hits;
        self
    }

    /// The zone days are counted in (default: the rule set's).
    pub fn timezone(mut self, tz: impl Into<String>) -> Self {
        self.timezone = Some(tz.into());
        self
    }

    /// The rules that are not keyword rules (default: the rule set's fallbacks).
    pub fn fallbacks(mut self, rules: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.fallbacks = Some(rules.into_iter().map(Into::into).collect());
        self
    }

    /// Post the alerts to this group robot too. With several instances, give one of
    /// them the robot (or post from the nightly job, `wecom-bot-archive alerts`).
    pub fn robot(mut self, robot: WebhookClient) -> Self {
        self.robot = Some(robot);
        self
    }

    /// How long after midnight the watch checks the day that ended (default 10
    /// minutes: the archive's writer has caught up by then).
    pub fn after_midnight(mut self, wait: Duration) -> Self {
        self.after_midnight = wait;
        self
    }
}

impl Bot {
    /// Checks day `day`'s trigger rates in `archive`: sets the `/metrics` gauges (every
    /// judged keyword rule's rate over its 7-day mean, the number under the alert
    /// share), logs each alert and posts them to the watch's robot. Returns the alerts.
    ///
    /// # Errors
    /// The archive could not be read (the gauges keep the last check). A robot that
    /// fails is logged, not an error: the alerts were found.
    pub async fn check_trigger_rates(
        &self,
        archive: &Archive,
        watch: &TriggerWatch,
        day: Date,
    ) -> Result<Vec<TriggerRate>, StoreError> {
        let rules = self.inner.engine.rules();
        let tz = watch.timezone.as_deref().unwrap_or(rules.timezone());
        let fallbacks: Vec<&str> = match &watch.fallbacks {
            Some(f) => f.iter().map(String::as_str).collect(),
            None => rules.fallback_ids().collect(),
        };
        let rates = archive
            .trigger_rates(day, tz, watch.min_mean_hits, &fallbacks)
            .await?;
        self.inner.metrics.set_trigger_rates(
            rates
                .iter()
                .map(|r| (r.rule.clone(), r.ratio(), r.is_alert(watch.share))),
        );
        let rates = super::export::alerts(rates, watch.share, day);
        if let (Some(robot), false) = (&watch.robot, rates.is_empty())
            && let Err(e) = robot.send(&TriggerRate::message(&rates)).await
        {
            tracing::warn!(error = %e, "the trigger-rate alerts were not posted to the group robot");
        }
        Ok(rates)
    }

    /// Checks the trigger rates of the day that ended, now and every day shortly after
    /// midnight (in the watch's zone), on a task: the `/metrics` gauges always show the
    /// last full day. Failed checks are logged and counted as store errors; the task runs
    /// until aborted.
    pub fn watch_trigger_rates(
        &self,
        archive: Archive,
        watch: TriggerWatch,
    ) -> tokio::task::JoinHandle<()> {
        let bot = self.clone();
        tokio::spawn(async move {
            loop {
                let rules = bot.inner.engine.rules();
                let tz_name = watch.timezone.as_deref().unwrap_or(rules.timezone());
                let tz = TimeZone::get(tz_name).unwrap_or(TimeZone::UTC);
                let now = jiff::Timestamp::now().to_zoned_datetime(tz);
                if let Ok(yesterday) = now.date().yesterday()
                    && let Err(e) = bot.check_trigger_rates(&archive, &watch, yesterday).await
                {
                    crate::metrics::Metrics::incr(&bot.inner.metrics.store_errors);
                    tracing::warn!(error = %e, "the trigger-rate check failed: the gauges keep the last one");
                }
                tokio::time::sleep(until_next_check(&now, watch.after_midnight)).await;
            }
        })
    }
}

/// The time from `now` to `after` past the coming midnight of its zone (a day when the
/// calendar cannot say).
fn until_next_check(now: &jiff::ZonedDateTime, after: Duration) -> Duration {
    let day = Duration::from_secs(24 * 3600);
    match now.tomorrow().and_then(|t| t.start_of_day()) {
        Ok(midnight) => Duration::try_from(midnight.duration_since(now)).map_or(day, |d| d + after),
        Err(_) => day,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_check_is_just_after_the_coming_midnight() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let now = jiff::civil::date(2026, 12, 2)
            .at(23, 0, 0, 0)
            .to_zoned_datetime(tz)
            .unwrap();
        assert_eq!(
            until_next_check(&now, Duration::from_secs(600)),
            Duration::from_secs(3600 + 600)
        );
    }
}
