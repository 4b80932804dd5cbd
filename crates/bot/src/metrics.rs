//! Counters and a latency histogram, rendered as Prometheus text.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Upper bounds (seconds) of the callback latency histogram.
const BUCKETS: [f64; 12] = [
    0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0,
];

/// Every outcome a callback can end with (`wecom_bot_callbacks_total{outcome}`).
const OUTCOMES: [&str; 16] = [
    "passive",
    "active",
    "deferred",
    "empty",
    "redelivered_passive",
    "redelivered_empty",
    "in_flight_elsewhere",
    "handler_error",
    "verified",
    "rejected_signature",
    "rejected_malformed",
    "rejected_query",
    "rejected_too_large",
    "rejected_method",
    "own_message",
    "other",
];

/// What the 微信客服 channel counts (`wecom_bot_kf_total{what}`).
const KF: [&str; 22] = [
    "read",
    "answered",
    "welcomed",
    "unanswered",
    "duplicate",
    "ignored",
    "with_human",
    "session_change",
    "msg_send_fail",
    "human_reply",
    "transferred",
    "transfer_failed",
    "step_opened",
    "step_timed_out",
    "handler_failed",
    "rerun_requested",
    "sync_failed",
    "token_expired",
    "send_failed",
    "limit_five_replies",
    "limit_48h",
    "other",
];

/// What the AI-bot channel counts (`wecom_bot_aibot_total{what}`).
const AIBOT: [&str; 31] = [
    "verified",
    "rejected",
    "answered",
    "streamed",
    "welcomed",
    "card_updated",
    "unanswered",
    "feedback",
    "own_message",
    "redelivered",
    "duplicate",
    "deferred",
    "late_event",
    "handler_failed",
    "reply_invalid",
    "stream_polled",
    "stream_unknown",
    "stream_finished",
    "stream_truncated",
    "image_dropped",
    "response_url_sent",
    "response_url_failed",
    "response_url_missing",
    "ws_connected",
    "ws_reconnect",
    "ws_resumed",
    "ws_refused",
    "media_fetched",
    "media_expired",
    "media_failed",
    "other",
];

/// What tracked links count (`wecom_bot_links_total{what}`).
const LINKS: [&str; 4] = ["converted", "clicked_again", "unknown", "other"];

/// The bot's metrics. Read them with [`Bot::metrics`](crate::Bot::metrics); the router
/// serves them at `/metrics` when asked to.
#[derive(Debug, Default)]
pub struct Metrics {
    outcomes: [AtomicU64; OUTCOMES.len()],
    kf: [AtomicU64; KF.len()],
    aibot: [AtomicU64; AIBOT.len()],
    links: [AtomicU64; LINKS.len()],
    rule_hits: Mutex<BTreeMap<String, u64>>,
    trigger: Mutex<TriggerGauges>,
    buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
    pub(crate) active_sent: AtomicU64,
    pub(crate) active_failures: AtomicU64,
    pub(crate) dedup_hits: AtomicU64,
    pub(crate) store_errors: AtomicU64,
    pub(crate) profile_errors: AtomicU64,
    pub(crate) action_failures: AtomicU64,
    pub(crate) reloads: AtomicU64,
    pub(crate) reload_failures: AtomicU64,
}

/// The last trigger-rate check: each judged keyword rule's day rate over its 7-day
/// mean, and how many were under the alert share.
#[derive(Debug, Default)]
struct TriggerGauges {
    ratios: BTreeMap<String, f64>,
    alerts: usize,
}

fn add(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    /// Counts a callback by how it ended (`passive`, `active`, `empty`, `redelivered`,
    /// `duplicate`, `rejected_signature`, …).
    pub(crate) fn outcome(&self, outcome: &'static str) {
        let i = OUTCOMES
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(OUTCOMES.len() - 1);
        add(&self.outcomes[i]);
    }

    /// Counts a 微信客服 event (one of [`KF`]; anything else as `other`).
    pub(crate) fn count_kf(&self, what: &'static str) {
        add(&self.kf[slot(&KF, what)]);
    }

    pub(crate) fn count_link(&self, what: &'static str) {
        add(&self.links[slot(&LINKS, what)]);
    }

    pub(crate) fn count_ai(&self, what: &'static str) {
        add(&self.aibot[slot(&AIBOT, what)]);
    }

    pub(crate) fn rule_hit(&self, rule: &str) {
        let mut hits = self
            .rule_hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match hits.get_mut(rule) {
            Some(n) => *n += 1,
            None => {
                hits.insert(rule.to_owned(), 1);
            }
        }
    }

    /// The outcome of a trigger-rate check: `(rule, day rate / 7-day mean, alert)` for
    /// every rule judged (the previous check's gauges are replaced).
    #[cfg_attr(
        not(feature = "postgres"),
        allow(dead_code, reason = "set by the archive's trigger-rate check")
    )]
    pub(crate) fn set_trigger_rates(&self, rates: impl IntoIterator<Item = (String, f64, bool)>) {
        let mut gauges = TriggerGauges::default();
        for (rule, ratio, alert) in rates {
            gauges.alerts += usize::from(alert);
            gauges.ratios.insert(rule, ratio);
        }
        *self.trigger.lock().unwrap_or_else(PoisonError::into_inner) = gauges;
    }

    pub(crate) fn latency(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            add(&self.buckets[i]);
        }
        add(&self.latency_count);
        self.latency_sum_us.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn incr(counter: &AtomicU64) {
        add(counter);
    }

    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Callbacks that ended with `outcome`.
    pub fn callbacks(&self, outcome: &str) -> u64 {
        OUTCOMES
            .iter()
            .position(|o| *o == outcome)
            .map_or(0, |i| self.outcomes[i].load(Ordering::Relaxed))
    }

    /// 微信客服 entries and sends by what came of them: `read`, `answered`, `welcomed`,
    /// `unanswered`, `duplicate` (claimed before, answered once), `ignored`, `with_human`
    /// (a human has the session: the bot stayed silent), `session_change`, `msg_send_fail`, `transferred`
    /// (to the queue), `transfer_failed`, `step_opened` (a reply asked a question),
    /// `step_timed_out` (unanswered: the time-out reply was sent), `handler_failed`,
    /// `rerun_requested`, `sync_failed`, `token_expired` (read on without it),
    /// `send_failed`, `limit_five_replies` (95001),
    /// `limit_48h` (95002).
    pub fn kf(&self, what: &str) -> u64 {
        read(&KF, &self.kf, what)
    }

    /// Tracked-link clicks by `what`: `converted` (a link's first click), `clicked_again`,
    /// `unknown` (a code the bot never sent, or expired).
    pub fn links(&self, what: &str) -> u64 {
        read(&LINKS, &self.links, what)
    }

    /// What the AI-bot channel counted as `what` (`streamed`, `welcomed`,
    /// `card_updated`, `stream_polled`, `response_url_sent`, `ws_reconnect`,
    /// `ws_resumed`, `redelivered`, …; see the metrics guide).
    pub fn ai_bot(&self, what: &str) -> u64 {
        read(&AIBOT, &self.aibot, what)
    }

    /// Times rule `rule` answered.
    pub fn rule_hits(&self, rule: &str) -> u64 {
        self.rule_hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(rule)
            .copied()
            .unwrap_or(0)
    }

    /// Keyword rules under the alert share of their trigger rate at the last check
    /// (`Bot::check_trigger_rates`, feature `postgres`).
    pub fn trigger_alerts(&self) -> usize {
        self.trigger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .alerts
    }

    /// Rule `rule`'s trigger rate over its 7-day mean at the last check (`None`: not
    /// judged — no check yet, a fallback, or too rare).
    pub fn trigger_ratio(&self, rule: &str) -> Option<f64> {
        self.trigger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .ratios
            .get(rule)
            .copied()
    }

    /// Messages sent through the active API.
    pub fn active_sent(&self) -> u64 {
        self.active_sent.load(Ordering::Relaxed)
    }

    /// Active sends that failed.
    pub fn active_failures(&self) -> u64 {
        self.active_failures.load(Ordering::Relaxed)
    }

    /// Re-deliveries and duplicates answered from the dedup record.
    pub fn dedup_hits(&self) -> u64 {
        self.dedup_hits.load(Ordering::Relaxed)
    }

    /// Shared-store operations that failed (answered from local state instead).
    pub fn store_errors(&self) -> u64 {
        self.store_errors.load(Ordering::Relaxed)
    }

    /// Profile lookups that failed (answered without a profile).
    pub fn profile_errors(&self) -> u64 {
        self.profile_errors.load(Ordering::Relaxed)
    }

    /// Actions (tags, escalation notices) that failed.
    pub fn action_failures(&self) -> u64 {
        self.action_failures.load(Ordering::Relaxed)
    }

    /// Rules reloads that succeeded and failed: `(ok, failed)`.
    pub fn reloads(&self) -> (u64, u64) {
        (
            self.reloads.load(Ordering::Relaxed),
            self.reload_failures.load(Ordering::Relaxed),
        )
    }

    /// The trigger-rate gauges of the last check.
    fn trigger_gauges(&self, out: &mut String) {
        let trigger = self.trigger.lock().unwrap_or_else(PoisonError::into_inner);
        out.push_str("# HELP wecom_bot_trigger_rate_ratio A keyword rule's share of the last day's messages over its mean share of the 7 days before.\n# TYPE wecom_bot_trigger_rate_ratio gauge\n");
        for (rule, ratio) in &trigger.ratios {
            let _ = writeln!(
                out,
                "wecom_bot_trigger_rate_ratio{{rule=\"{}\"}} {ratio}",
                escape(rule)
            );
        }
        let _ = writeln!(
            out,
            "# HELP wecom_bot_trigger_alerts Keyword rules whose trigger rate fell under the alert share.\n# TYPE wecom_bot_trigger_alerts gauge\nwecom_bot_trigger_alerts {}",
            trigger.alerts
        );
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn prometheus(&self) -> String {
        let mut out = String::with_capacity(2048);
        out.push_str("# HELP wecom_bot_callbacks_total Callbacks by outcome.\n# TYPE wecom_bot_callbacks_total counter\n");
        for (outcome, n) in OUTCOMES.iter().zip(&self.outcomes) {
            let n = n.load(Ordering::Relaxed);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "wecom_bot_callbacks_total{{outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP wecom_bot_kf_total 微信客服 entries and sends by what came of them.\n# TYPE wecom_bot_kf_total counter\n");
        family(&mut out, "wecom_bot_kf_total", &KF, &self.kf);
        out.push_str("# HELP wecom_bot_aibot_total AI-bot messages, streams and connections by what came of them.\n# TYPE wecom_bot_aibot_total counter\n");
        family(&mut out, "wecom_bot_aibot_total", &AIBOT, &self.aibot);
        out.push_str("# HELP wecom_bot_links_total Tracked-link clicks by what came of them.\n# TYPE wecom_bot_links_total counter\n");
        family(&mut out, "wecom_bot_links_total", &LINKS, &self.links);
        out.push_str("# HELP wecom_bot_rule_hits_total Answers by rule.\n# TYPE wecom_bot_rule_hits_total counter\n");
        for (rule, n) in self
            .rule_hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "wecom_bot_rule_hits_total{{rule=\"{}\"}} {n}",
                escape(rule)
            );
        }
        self.trigger_gauges(&mut out);
        out.push_str("# HELP wecom_bot_callback_seconds Time to answer a callback.\n# TYPE wecom_bot_callback_seconds histogram\n");
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "wecom_bot_callback_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        #[allow(clippy::cast_precision_loss, reason = "a sum in seconds")]
        let sum = self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "wecom_bot_callback_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(out, "wecom_bot_callback_seconds_sum {sum}");
        let _ = writeln!(out, "wecom_bot_callback_seconds_count {count}");
        for (name, help, value) in [
            (
                "active_sent_total",
                "Messages sent through the active API.",
                self.active_sent(),
            ),
            (
                "active_send_failures_total",
                "Active sends that failed.",
                self.active_failures(),
            ),
            (
                "dedup_hits_total",
                "Re-deliveries answered from the dedup record.",
                self.dedup_hits(),
            ),
            (
                "store_errors_total",
                "Shared-store operations that failed (local state used).",
                self.store_errors(),
            ),
            (
                "profile_errors_total",
                "Profile lookups that failed.",
                self.profile_errors(),
            ),
            (
                "action_failures_total",
                "Actions that failed.",
                self.action_failures(),
            ),
            (
                "reloads_total",
                "Rules reloads that succeeded.",
                self.reloads().0,
            ),
            (
                "reload_failures_total",
                "Rules reloads refused (the old rules stayed).",
                self.reloads().1,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP wecom_bot_{name} {help}\n# TYPE wecom_bot_{name} counter\nwecom_bot_{name} {value}"
            );
        }
        out
    }
}

/// Escapes a label value.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The counter of `what` among `names` (the last, `other`, for a name not listed).
fn slot(names: &[&str], what: &str) -> usize {
    names
        .iter()
        .position(|k| *k == what)
        .unwrap_or(names.len() - 1)
}

/// The count of `what` (0 for a name not listed).
fn read(names: &[&str], counts: &[AtomicU64], what: &str) -> u64 {
    names
        .iter()
        .position(|k| *k == what)
        .map_or(0, |i| counts[i].load(Ordering::Relaxed))
}

/// The non-zero counters of a `{what}` family.
fn family(out: &mut String, metric: &str, names: &[&str], counts: &[AtomicU64]) {
    for (what, n) in names.iter().zip(counts) {
        let n = n.load(Ordering::Relaxed);
        if n > 0 {
            let _ = writeln!(out, "{metric}{{what=\"{what}\"}} {n}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_has_every_family_and_cumulative_buckets() {
        let m = Metrics::default();
        m.outcome("passive");
        m.outcome("passive");
        m.rule_hit("hours\"x");
        m.latency(Duration::from_micros(700));
        m.latency(Duration::from_secs(2));
        let text = m.prometheus();
        assert!(text.contains("wecom_bot_callbacks_total{outcome=\"passive\"} 2"));
        assert!(text.contains("wecom_bot_rule_hits_total{rule=\"hours\\\"x\"} 1"));
        assert!(text.contains("wecom_bot_callback_seconds_bucket{le=\"0.001\"} 1"));
        assert!(text.contains("wecom_bot_callback_seconds_bucket{le=\"3\"} 2"));
        assert!(text.contains("wecom_bot_callback_seconds_count 2"));
        assert!(text.contains("wecom_bot_store_errors_total 0"));
        assert!(text.contains("wecom_bot_trigger_alerts 0"));
        m.set_trigger_rates([
            ("invoice".to_owned(), 0.2, true),
            ("hours".to_owned(), 1.0, false),
        ]);
        let text = m.prometheus();
        assert!(text.contains("wecom_bot_trigger_rate_ratio{rule=\"invoice\"} 0.2"));
        assert!(text.contains("wecom_bot_trigger_alerts 1"));
        assert_eq!(
            (m.trigger_alerts(), m.trigger_ratio("hours")),
            (1, Some(1.0))
        );
    }
}
