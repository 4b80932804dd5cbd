//! The event log: one [`EventRecord`] per message (who, where, which rule and variant,
//! how fast, how it was delivered, what the actions did), written by an [`EventSink`].
//! [`JsonLinesSink`] writes daily JSON-lines files off the hot path.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};
use wecom_sdk_matcher::Channel;

/// One message, as the bot handled it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventRecord {
    /// When it was handled (Unix milliseconds).
    pub at_ms: i64,
    /// The app (its name in a multi-app router).
    pub app: String,
    /// Where it came from.
    pub channel: Channel,
    /// The sender.
    pub user: String,
    /// The group chat, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat: Option<String>,
    /// `MsgType` (`text`, `event`, …).
    pub msg_type: String,
    /// The event's name and key (events only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The customer's text (text messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The rule that answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Its A/B variant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// What was answered, in words (texts, news titles as markdown links; media has
    /// none): the bot's answer, or — with outcome `human_reply` — a human servicer's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// Milliseconds from the request to the decision.
    pub latency_ms: u64,
    /// How it was delivered: `passive`, `passive+active`, `active`, `welcome`, `none`,
    /// or `failed`.
    pub delivery: String,
    /// How the pipeline ended: `answered`, `no_rule`, `own_message`, `handler_stop`,
    /// `handler_error`, `no_route`, …
    pub outcome: String,
    /// What each action did: `add_tags: ok`, `escalate complaints: notified`, ….
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    /// Active sends that failed, with WeCom's code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// The dedup key (a `MsgId`, or the event's identity).
    pub key: String,
}

/// Where event records go. `record` must not block: the bot calls it on its way out of
/// every message.
#[async_trait]
pub trait EventSink: Send + Sync + std::fmt::Debug {
    /// Takes one record (queue it; never wait on I/O here).
    fn record(&self, record: &EventRecord);

    /// Takes one record by value: what the bot calls. A sink that keeps records (a
    /// queue) overrides it to spare a copy of every record; by default it is
    /// [`record`](Self::record).
    fn record_owned(&self, record: EventRecord) {
        self.record(&record);
    }

    /// Writes out everything queued (graceful shutdown).
    async fn flush(&self);
}

enum Command {
    Record(Box<EventRecord>),
    Flush(oneshot::Sender<()>),
}

/// JSON lines, one file a day (`<dir>/events-YYYY-MM-DD.jsonl`, the date in the sink's
/// time zone, UTC by default), written by a background task from a bounded queue: when
/// the disk cannot keep up, records are dropped and counted, never waited for.
#[derive(Debug)]
pub struct JsonLinesSink {
    queue: mpsc::Sender<Command>,
    dropped: AtomicU64,
    dir: PathBuf,
}

/// Records the queue of a [`JsonLinesSink`] holds.
pub const EVENT_QUEUE: usize = 10_000;

impl JsonLinesSink {
    /// Daily files in `dir` (created when missing), dates in UTC. Needs a tokio runtime.
    ///
    /// # Errors
    /// The directory cannot be created.
    pub fn daily(dir: impl AsRef<Path>) -> std::io::Result<Self> {
        Self::daily_in(dir, TimeZone::UTC)
    }

    /// Daily files whose dates are in `tz` (the rule set's zone, so a day is the shop's).
    ///
    /// # Errors
    /// The directory cannot be created.
    pub fn daily_in(dir: impl AsRef<Path>, tz: TimeZone) -> std::io::Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)?;
        let (queue, rx) = mpsc::channel(EVENT_QUEUE);
        tokio::spawn(write_loop(dir.clone(), tz, rx));
        Ok(Self {
            queue,
            dropped: AtomicU64::new(0),
            dir,
        })
    }

    /// The file of the day `at` falls on.
    pub fn file_for(&self, at: Timestamp, tz: &TimeZone) -> PathBuf {
        day_file(&self.dir, at, tz)
    }

    /// Records dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn day_file(dir: &Path, at: Timestamp, tz: &TimeZone) -> PathBuf {
    let date = at.to_zoned_datetime(tz.clone()).date();
    dir.join(format!("events-{date}.jsonl"))
}

async fn write_loop(dir: PathBuf, tz: TimeZone, mut rx: mpsc::Receiver<Command>) {
    let mut open: Option<(PathBuf, tokio::io::BufWriter<tokio::fs::File>)> = None;
    while let Some(command) = rx.recv().await {
        match command {
            Command::Record(record) => {
                let at = Timestamp::from_millisecond(record.at_ms).unwrap_or(Timestamp::UNIX_EPOCH);
                let path = day_file(&dir, at, &tz);
                if open.as_ref().is_none_or(|(p, _)| *p != path) {
                    if let Some((_, mut w)) = open.take() {
                        let _ = w.flush().await;
                    }
                    match tokio::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .await
                    {
                        Ok(f) => open = Some((path, tokio::io::BufWriter::new(f))),
                        Err(e) => {
                            tracing::warn!(path = %path.display(), error = %e, "event log: cannot open the day's file");
                            continue;
                        }
                    }
                }
                if let (Some((_, w)), Ok(mut line)) = (open.as_mut(), serde_json::to_vec(&record)) {
                    line.push(b'\n');
                    if let Err(e) = w.write_all(&line).await {
                        tracing::warn!(error = %e, "event log: write failed");
                    }
                }
            }
            Command::Flush(done) => {
                if let Some((_, w)) = open.as_mut() {
                    let _ = w.flush().await;
                }
                let _ = done.send(());
            }
        }
    }
    if let Some((_, mut w)) = open {
        let _ = w.flush().await;
    }
}

#[async_trait]
impl EventSink for JsonLinesSink {
    fn record(&self, record: &EventRecord) {
        self.record_owned(record.clone());
    }

    fn record_owned(&self, record: EventRecord) {
        if self
            .queue
            .try_send(Command::Record(Box::new(record)))
            .is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.queue.send(Command::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}
