//! The daily export and the trigger-rate alerts: what a nightly job runs
//! (`wecom-bot-archive`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use jiff::civil::Date;

use super::Archive;
use super::migrate::pg_error;
use crate::error::StoreError;

/// What [`Archive::export_day`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Export {
    /// The day exported.
    pub day: Date,
    /// The file: `<dir>/conversations-<day>.jsonl.gz`.
    pub path: PathBuf,
    /// Rows written (0 when skipped).
    pub rows: u64,
    /// The day's file already existed: nothing was written.
    pub skipped: bool,
}

/// A keyword rule's trigger rate on a day against its trailing 7-day mean
/// ([`Archive::trigger_rates`]); an alert when it fell below a share of it
/// ([`Archive::trigger_alerts`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TriggerRate {
    /// The rule.
    pub rule: String,
    /// Its hits on the day.
    pub hits: u64,
    /// Its share of the day's messages.
    pub rate: f64,
    /// Its mean share over the 7 days before.
    pub mean_rate: f64,
}

impl TriggerRate {
    /// The day's rate over the mean (1.0: as usual; 0.2: a fifth of it).
    pub fn ratio(&self) -> f64 {
        if self.mean_rate > 0.0 {
            self.rate / self.mean_rate
        } else {
            1.0
        }
    }

    /// Whether the day's rate fell below `share` of the mean.
    pub fn is_alert(&self, share: f64) -> bool {
        self.rate < share * self.mean_rate
    }

    /// One group-robot message (markdown) of `alerts`' notices.
    pub fn message(alerts: &[TriggerRate]) -> wecom_sdk_message::send::WebhookMessage {
        let text: Vec<String> = alerts.iter().map(Self::notice).collect();
        wecom_sdk_message::send::WebhookMessage::markdown(text.join("\n\n"))
    }

    /// The notice for a staff group: the "customers renamed the product" signal.
    pub fn notice(&self) -> String {
        format!(
            "关键词规则 **{}** 触发率下降：当天 {:.1}%（{} 次），前 7 天平均 {:.1}%。客户可能换了说法，请检查关键词。",
            self.rule,
            self.rate * 100.0,
            self.hits,
            self.mean_rate * 100.0
        )
    }
}

/// The rates of `rates` under `share` of their mean on `day`: the alerts, each logged.
pub(super) fn alerts(mut rates: Vec<TriggerRate>, share: f64, day: Date) -> Vec<TriggerRate> {
    rates.retain(|r| r.is_alert(share));
    for alert in &rates {
        tracing::warn!(rule = %alert.rule, %day, rate = alert.rate, mean_rate = alert.mean_rate, "trigger rate dropped: {}", alert.notice());
    }
    rates
}

#[allow(clippy::cast_precision_loss, reason = "rates of message counts")]
fn rate(hits: i64, of: i64) -> f64 {
    if of <= 0 {
        0.0
    } else {
        hits as f64 / of as f64
    }
}

impl Archive {
    /// Writes day `day` (in time zone `tz`) as gzip-compressed JSON lines, one row of
    /// `messages` per line in order, to `<dir>/conversations-<day>.jsonl.gz`: once — a
    /// day whose file exists is skipped (delete it to export again). The file appears
    /// whole or not at all (written aside, then renamed).
    ///
    /// # Errors
    /// The query failed, or the file could not be written.
    pub async fn export_day(&self, day: Date, tz: &str, dir: &Path) -> Result<Export, StoreError> {
        let path = dir.join(format!("conversations-{day}.jsonl.gz"));
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(Export {
                day,
                path,
                rows: 0,
                skipped: true,
            });
        }
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT row_to_json(m)::text FROM {}.messages m
                     WHERE (m.at AT TIME ZONE $1)::date = $2::text::date ORDER BY m.at, m.id",
                    self.schema
                ),
                &[&tz, &day.to_string()],
            )
            .await
            .map_err(|e| pg_error("export", &e))?;
        let io = |e: std::io::Error| StoreError::new(format!("export {}: {e}", path.display()));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        for row in &rows {
            let line: String = row.get(0);
            gz.write_all(line.as_bytes()).map_err(io)?;
            gz.write_all(b"\n").map_err(io)?;
        }
        let bytes = gz.finish().map_err(io)?;
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
        let aside = dir.join(format!(".conversations-{day}.jsonl.gz.part"));
        tokio::fs::write(&aside, bytes).await.map_err(io)?;
        tokio::fs::rename(&aside, &path).await.map_err(io)?;
        Ok(Export {
            day,
            path,
            rows: rows.len() as u64,
            skipped: false,
        })
    }

    /// Keyword rules (not `fallbacks`) whose share of day `day`'s messages fell below
    /// `share` (e.g. 0.5) of their mean share over the 7 days before; rules whose mean
    /// is under `min_mean_hits` hits a day are too rare to judge. Each is logged.
    ///
    /// # Errors
    /// The query failed.
    pub async fn trigger_alerts(
        &self,
        day: Date,
        tz: &str,
        share: f64,
        min_mean_hits: f64,
        fallbacks: &[&str],
    ) -> Result<Vec<TriggerRate>, StoreError> {
        let rates = self
            .trigger_rates(day, tz, min_mean_hits, fallbacks)
            .await?;
        Ok(alerts(rates, share, day))
    }

    /// The trigger rate of every keyword rule (not `fallbacks`) on day `day` (in time
    /// zone `tz`) against its mean over the 7 days before, by rule id; rules whose mean
    /// is under `min_mean_hits` hits a day are too rare to judge and left out.
    ///
    /// # Errors
    /// The query failed.
    pub async fn trigger_rates(
        &self,
        day: Date,
        tz: &str,
        min_mean_hits: f64,
        fallbacks: &[&str],
    ) -> Result<Vec<TriggerRate>, StoreError> {
        let first = day
            .checked_sub(jiff::Span::new().days(7))
            .map_err(|e| StoreError::new(format!("trigger rates: {e}")))?;
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT (at AT TIME ZONE $1)::date::text AS d, rule, count(*)
                     FROM {}.messages
                     WHERE direction = 'in'
                       AND (at AT TIME ZONE $1)::date BETWEEN $2::text::date AND $3::text::date
                     GROUP BY 1, 2",
                    self.schema
                ),
                &[&tz, &first.to_string(), &day.to_string()],
            )
            .await
            .map_err(|e| pg_error("trigger rates", &e))?;
        let today = day.to_string();
        let mut totals: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
        let mut hits: std::collections::BTreeMap<String, std::collections::HashMap<String, i64>> =
            std::collections::BTreeMap::new();
        for r in &rows {
            let (d, rule, n): (String, Option<String>, i64) = (r.get(0), r.get(1), r.get(2));
            *totals.entry(d.clone()).or_default() += n;
            if let Some(rule) = rule.filter(|r| !fallbacks.contains(&r.as_str())) {
                hits.entry(rule).or_default().insert(d, n);
            }
        }
        let before: Vec<String> = (1..=7)
            .filter_map(|k| day.checked_sub(jiff::Span::new().days(k)).ok())
            .map(|d| d.to_string())
            .collect();
        let mut rates = Vec::new();
        for (rule, by_day) in hits {
            let get = |d: &str| by_day.get(d).copied().unwrap_or(0);
            let total = |d: &str| totals.get(d).copied().unwrap_or(0);
            #[allow(clippy::cast_precision_loss, reason = "means of message counts")]
            let mean_hits = before.iter().map(|d| get(d)).sum::<i64>() as f64 / 7.0;
            if mean_hits < min_mean_hits {
                continue;
            }
            rates.push(TriggerRate {
                hits: u64::try_from(get(&today)).unwrap_or(0),
                rule,
                rate: rate(get(&today), total(&today)),
                mean_rate: before.iter().map(|d| rate(get(d), total(d))).sum::<f64>() / 7.0,
            });
        }
        Ok(rates)
    }
}
