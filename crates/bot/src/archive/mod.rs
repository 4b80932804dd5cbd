//! The conversation archive in PostgreSQL (feature `postgres`): [`PostgresSink`] writes
//! the event log as rows — one per inbound message, one per answer — in batches off the
//! hot path; [`Archive`] answers the questions (a customer's trace, rule reports,
//! response times of the bot and of humans, unanswered questions).

mod export;
mod migrate;
mod query;
mod queue;
mod rows;
mod watch;
mod writer;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;

pub use export::{Export, TriggerRate};
pub use query::{Archive, Percentiles, ResponseTimes, RuleHits, TraceRow, Unanswered};
pub use rows::Redaction;
pub use watch::TriggerWatch;

use crate::error::StoreError;
use crate::event_log::{EventRecord, EventSink};

/// The default schema of the archive.
pub const DEFAULT_SCHEMA: &str = "wecom";

/// What the sink did (all counters since it started).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) written: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) spilled: AtomicU64,
    pub(crate) replayed: AtomicU64,
    pub(crate) failed_batches: AtomicU64,
}

/// A snapshot of [`PostgresSink::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SinkStats {
    /// Records written to PostgreSQL (replayed ones included).
    pub written: u64,
    /// Records dropped because the queue was full (the database and the disk were both
    /// behind).
    pub dropped: u64,
    /// Records written to the spill file while the database was unreachable or the
    /// writer behind.
    pub spilled: u64,
    /// Spilled records written to PostgreSQL once it was back.
    pub replayed: u64,
    /// Batches that failed (each then went to the spill file).
    pub failed_batches: u64,
}

/// Settings of a [`PostgresSink`]. `Debug` shows the URL without its password.
#[derive(Clone)]
#[must_use]
pub struct PostgresConfig {
    pub(crate) url: String,
    pub(crate) schema: String,
    pub(crate) batch: usize,
    pub(crate) every: Duration,
    pub(crate) queue: usize,
    pub(crate) spill: Option<PathBuf>,
    pub(crate) redaction: Redaction,
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("url", &without_password(&self.url))
            .field("schema", &self.schema)
            .field("batch", &self.batch)
            .field("every", &self.every)
            .field("queue", &self.queue)
            .field("spill", &self.spill)
            .field("redaction", &self.redaction)
            .finish()
    }
}

/// `url` with the password of its `user:password@` part replaced by `***` (for logs).
pub fn without_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let host_start = rest.find('/').unwrap_or(rest.len());
    match rest[..host_start].rfind('@') {
        Some(at) => match rest[..at].find(':') {
            Some(colon) => format!(
                "{}{}:***{}",
                &url[..scheme_end],
                &rest[..colon],
                &rest[at..]
            ),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

impl PostgresConfig {
    /// The database at `url` (`postgres://user@host:port/db`), schema `wecom`, batches
    /// of up to 500 rows at least every 200 ms, a queue of 10 000 records, no spill file,
    /// texts kept as they are.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: DEFAULT_SCHEMA.to_owned(),
            batch: 500,
            every: Duration::from_millis(200),
            queue: 10_000,
            spill: None,
            redaction: Redaction::Keep,
        }
    }

    /// The schema (created when missing; letters, digits and `_`, not starting with a
    /// digit).
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// Records per `INSERT` at most.
    pub fn batch(mut self, rows: usize) -> Self {
        self.batch = rows.max(1);
        self
    }

    /// How long a record waits at most for its batch.
    pub fn flush_every(mut self, every: Duration) -> Self {
        self.every = every;
        self
    }

    /// Records queued at most; beyond that they are dropped and counted (the bot never
    /// waits for the archive).
    pub fn queue(mut self, records: usize) -> Self {
        self.queue = records.max(1);
        self
    }

    /// Where records go while the database is unreachable — or too slow: while the queue
    /// is more than three quarters full (JSON lines, the event log's format); they are written to
    /// the database when it is back and keeping up, and the file emptied. Without one
    /// they are dropped and counted.
    pub fn spill_to(mut self, path: impl Into<PathBuf>) -> Self {
        self.spill = Some(path.into());
        self
    }

    /// How customers' and servicers' texts are stored (default: as they are).
    pub fn redaction(mut self, redaction: Redaction) -> Self {
        self.redaction = redaction;
        self
    }
}

/// The event log in PostgreSQL: give it to
/// [`BotBuilder::event_sink`](crate::BotBuilder::event_sink). `record` only queues; a
/// task writes batches with one `COPY … FROM STDIN BINARY` each (rows are encoded by
/// `record`, on the caller's thread, into one shared buffer). When the database
/// is slow or gone the bot keeps answering: batches that fail go to the spill file and
/// are written when the database answers again (rows are unique by app, message id and
/// direction, so nothing is written twice).
///
/// ```no_run
/// # async fn demo() -> Result<(), wecom_sdk_bot::StoreError> {
/// use std::sync::Arc;
/// use wecom_sdk_bot::{PostgresConfig, PostgresSink, Redaction};
/// let sink = PostgresSink::connect(
///     PostgresConfig::new("postgres://postgres@127.0.0.1:5432/test")
///         .spill_to("/var/lib/shopbot/archive-spill.jsonl")
///         .redaction(Redaction::MaskDigits),
/// )
/// .await?;
/// // Bot::builder().event_sink(Arc::new(sink))
/// # let _ = Arc::new(sink);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PostgresSink {
    queue: Arc<queue::Queue>,
    counters: Arc<Counters>,
    archive: Archive,
}

impl PostgresSink {
    /// Connects, applies the migrations (`migrations/` of this crate, each once, under
    /// an advisory lock so several instances can start together) and starts the writer.
    ///
    /// # Errors
    /// The schema name is invalid, the database cannot be reached, or a migration fails.
    pub async fn connect(config: PostgresConfig) -> Result<Self, StoreError> {
        migrate::check_schema(&config.schema)?;
        let client = writer::connect(&config.url).await?;
        migrate::apply(&client, &config.schema).await?;
        let queue = Arc::new(queue::Queue::new(config.queue, config.redaction.clone()));
        let counters = Arc::new(Counters::default());
        let archive = Archive::new(Arc::new(client), &config.schema);
        tokio::spawn(writer::run(
            config,
            Arc::clone(&queue),
            Arc::clone(&counters),
        ));
        Ok(Self {
            queue,
            counters,
            archive,
        })
    }

    /// What it did so far.
    pub fn stats(&self) -> SinkStats {
        let c = &self.counters;
        let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
        SinkStats {
            written: get(&c.written),
            dropped: get(&c.dropped),
            spilled: get(&c.spilled),
            replayed: get(&c.replayed),
            failed_batches: get(&c.failed_batches),
        }
    }

    /// The questions the archive answers, over the sink's connection.
    pub fn archive(&self) -> &Archive {
        &self.archive
    }
}

#[async_trait]
impl EventSink for PostgresSink {
    fn record(&self, record: &EventRecord) {
        if !self.queue.push(record) {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn flush(&self) {
        let _ = self.queue.flush().await;
    }
}

impl Drop for PostgresSink {
    /// The writer writes what is queued, then ends.
    fn drop(&mut self) {
        self.queue.close();
    }
}

#[cfg(test)]
mod tests {
    use super::{PostgresConfig, without_password};

    #[test]
    fn the_password_never_shows() {
        assert_eq!(
            without_password("postgres://bot:s3cret@db:5432/shop"),
            "postgres://bot:***@db:5432/shop"
        );
        assert_eq!(
            without_password("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(without_password("host=db"), "host=db");
        let shown = format!("{:?}", PostgresConfig::new("postgres://bot:s3cret@db/shop"));
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
