//! [`Archive`]: the questions the conversation archive answers.

use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;
use tokio_postgres::Client;

use super::migrate::{check_schema, pg_error};
use crate::error::StoreError;

/// One message in or out, as [`Archive::trace`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TraceRow {
    /// When (Unix milliseconds).
    pub at_ms: i64,
    /// `in` (the customer) or `out` (an answer).
    pub direction: String,
    /// The channel (`app`, `kf`, `ai_bot`, …).
    pub channel: String,
    /// The group chat, if any.
    pub chat: Option<String>,
    /// `text`, `event`, `image`, ….
    pub msg_type: String,
    /// The event's name and key.
    pub event: Option<String>,
    /// The text (as the redaction policy stored it).
    pub text: Option<String>,
    /// The rule that answered.
    pub rule: Option<String>,
    /// Its variant.
    pub variant: Option<String>,
    /// Who answered (`bot`, `human`; answers only).
    pub responder: Option<String>,
    /// How it was delivered.
    pub delivery: String,
    /// How the pipeline ended.
    pub outcome: String,
    /// The message id (dedup key).
    pub msgid: String,
}

/// Hits per rule on one day, and how the day's messages were answered.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RuleHits {
    /// The day (in the time zone asked for).
    pub day: Date,
    /// Messages that came in.
    pub messages: u64,
    /// Hits per rule, most first.
    pub by_rule: Vec<(String, u64)>,
    /// Share of messages a keyword rule (not a fallback) answered.
    pub keyword_share: f64,
    /// Share answered by a fallback rule.
    pub fallback_share: f64,
    /// Share no rule answered.
    pub unanswered_share: f64,
}

/// Response-time percentiles (milliseconds) of one kind of responder.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub struct Percentiles {
    /// Answers counted.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// Response times of the bot and of human servicers, separately.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub struct ResponseTimes {
    /// The bot's answers (its decision time).
    pub bot: Percentiles,
    /// Humans' answers (time since the customer's last message).
    pub human: Percentiles,
}

/// A question no keyword rule answered, with how often it was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unanswered {
    /// The text, normalized (trimmed, lowercased).
    pub text: String,
    /// Times asked.
    pub count: u64,
}

/// Reads the archive: over the [`PostgresSink`](crate::PostgresSink)'s connection
/// ([`PostgresSink::archive`](crate::PostgresSink::archive)) or a connection of its own
/// ([`Archive::connect`], for reports).
#[derive(Clone)]
pub struct Archive {
    pub(super) client: Arc<Client>,
    pub(super) schema: String,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

fn ms(at: Timestamp) -> i64 {
    at.as_millisecond()
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Archive {
    pub(crate) fn new(client: Arc<Client>, schema: &str) -> Self {
        Self {
            client,
            schema: schema.to_owned(),
        }
    }

    /// Connects to an archive a sink writes (the schema must exist).
    ///
    /// # Errors
    /// An invalid schema name, or the database cannot be reached.
    pub async fn connect(url: &str, schema: &str) -> Result<Self, StoreError> {
        check_schema(schema)?;
        let client = super::writer::connect(url).await?;
        Ok(Self::new(Arc::new(client), schema))
    }

    /// Every message in and out for customer `user` since `since`, in order (a
    /// message before its answer).
    ///
    /// # Errors
    /// The query failed.
    pub async fn trace(&self, user: &str, since: Timestamp) -> Result<Vec<TraceRow>, StoreError> {
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT (EXTRACT(EPOCH FROM at) * 1000)::bigint, direction, channel, chat,
                            msg_type, event, text, rule, variant, responder, delivery, outcome, msgid
                     FROM {}.messages
                     WHERE customer = $1 AND at >= to_timestamp($2::bigint / 1000.0)
                     ORDER BY at, direction = 'out', id",
                    self.schema
                ),
                &[&user, &ms(since)],
            )
            .await
            .map_err(|e| pg_error("trace", &e))?;
        Ok(rows
            .iter()
            .map(|r| TraceRow {
                at_ms: r.get(0),
                direction: r.get(1),
                channel: r.get(2),
                chat: r.get(3),
                msg_type: r.get(4),
                event: r.get(5),
                text: r.get(6),
                rule: r.get(7),
                variant: r.get(8),
                responder: r.get(9),
                delivery: r.get(10),
                outcome: r.get(11),
                msgid: r.get(12),
            })
            .collect())
    }

    /// Hits per rule on `day` in time zone `tz` (an IANA name, e.g. `Asia/Shanghai`),
    /// and the shares answered by a keyword rule, by one of `fallbacks`, or by none.
    ///
    /// # Errors
    /// The query failed (an unknown time zone included).
    pub async fn rule_report(
        &self,
        day: Date,
        tz: &str,
        fallbacks: &[&str],
    ) -> Result<RuleHits, StoreError> {
        let day_text = day.to_string();
        let fallbacks: Vec<String> = fallbacks.iter().map(|s| (*s).to_owned()).collect();
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT rule, count(*) FROM {}.messages
                     WHERE direction = 'in' AND (at AT TIME ZONE $1)::date = $2::text::date
                     GROUP BY rule ORDER BY count(*) DESC, rule",
                    self.schema
                ),
                &[&tz, &day_text],
            )
            .await
            .map_err(|e| pg_error("rule report", &e))?;
        let mut report = RuleHits {
            day,
            messages: 0,
            by_rule: Vec::new(),
            keyword_share: 0.0,
            fallback_share: 0.0,
            unanswered_share: 0.0,
        };
        let (mut keyword, mut fallback, mut none) = (0u64, 0u64, 0u64);
        for r in &rows {
            let rule: Option<String> = r.get(0);
            let n = count(r.get(1));
            report.messages += n;
            match rule {
                Some(rule) => {
                    if fallbacks.contains(&rule) {
                        fallback += n;
                    } else {
                        keyword += n;
                    }
                    report.by_rule.push((rule, n));
                }
                None => none += n,
            }
        }
        if report.messages > 0 {
            #[allow(clippy::cast_precision_loss, reason = "shares of message counts")]
            let share = |n: u64| n as f64 / report.messages as f64;
            report.keyword_share = share(keyword);
            report.fallback_share = share(fallback);
            report.unanswered_share = share(none);
        }
        Ok(report)
    }

    /// Response-time percentiles since `since`, the bot's and humans' apart.
    ///
    /// # Errors
    /// The query failed.
    pub async fn response_times(&self, since: Timestamp) -> Result<ResponseTimes, StoreError> {
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT responder, count(*),
                            percentile_cont(0.5) WITHIN GROUP (ORDER BY response_ms),
                            percentile_cont(0.9) WITHIN GROUP (ORDER BY response_ms),
                            percentile_cont(0.99) WITHIN GROUP (ORDER BY response_ms)
                     FROM {}.response_times
                     WHERE at >= to_timestamp($1::bigint / 1000.0) AND response_ms IS NOT NULL
                     GROUP BY responder",
                    self.schema
                ),
                &[&ms(since)],
            )
            .await
            .map_err(|e| pg_error("response times", &e))?;
        let mut times = ResponseTimes::default();
        for r in &rows {
            let p = Percentiles {
                count: count(r.get(1)),
                p50: r.get(2),
                p90: r.get(3),
                p99: r.get(4),
            };
            match r.get::<_, Option<String>>(0).as_deref() {
                Some("human") => times.human = p,
                _ => times.bot = p,
            }
        }
        Ok(times)
    }

    /// The questions most asked since `since` that no keyword rule answered (no rule,
    /// or one of `fallbacks`), grouped by normalized text.
    ///
    /// # Errors
    /// The query failed.
    pub async fn unanswered(
        &self,
        since: Timestamp,
        fallbacks: &[&str],
        limit: u32,
    ) -> Result<Vec<Unanswered>, StoreError> {
        let fallbacks: Vec<String> = fallbacks.iter().map(|s| (*s).to_owned()).collect();
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT lower(btrim(text)) AS q, count(*) FROM {}.messages
                     WHERE direction = 'in' AND text IS NOT NULL AND btrim(text) <> ''
                       AND at >= to_timestamp($1::bigint / 1000.0)
                       AND (rule IS NULL OR rule = ANY($2))
                     GROUP BY q ORDER BY count(*) DESC, q LIMIT $3::bigint",
                    self.schema
                ),
                &[&ms(since), &fallbacks, &i64::from(limit)],
            )
            .await
            .map_err(|e| pg_error("unanswered", &e))?;
        Ok(rows
            .iter()
            .map(|r| Unanswered {
                text: r.get(0),
                count: count(r.get(1)),
            })
            .collect())
    }
}
