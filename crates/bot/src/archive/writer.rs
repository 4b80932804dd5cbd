//! The sink's writer task: batches from the queue, one `INSERT … unnest` per batch;
//! while the database is unreachable, batches go to the spill file, written to the
//! database when it answers again.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls};

use super::migrate::pg_error;
use super::rows::Columns;
use super::{Command, Counters, PostgresConfig};
use crate::error::StoreError;
use crate::event_log::EventRecord;

/// How long connecting, or one batch, may take.
const DB_TIMEOUT: Duration = Duration::from_secs(5);
/// After a failure, how long batches go to the spill file before the database is tried
/// again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

const COPY: &str = "COPY {schema}.messages
    (at, app, direction, channel, chat, customer, msg_type, event, text, rule, variant,
     responder, latency_ms, delivery, outcome, msgid, actions, errors)
FROM STDIN BINARY";

/// The column types of [`COPY`], in order.
const COPY_TYPES: [Type; 18] = [
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
];

/// The replay path (and a batch that meets rows already written): rows already there
/// are skipped.
const INSERT: &str = "INSERT INTO {schema}.messages
    (at, app, direction, channel, chat, customer, msg_type, event, text, rule, variant,
     responder, latency_ms, delivery, outcome, msgid, actions, errors)
SELECT to_timestamp(a / 1000.0), b, c, d, e, f, g, h, i, j, k, l, m, n, o, p,
       ARRAY(SELECT jsonb_array_elements_text(q::jsonb)),
       ARRAY(SELECT jsonb_array_elements_text(r::jsonb))
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
            $13::bigint[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[])
     AS t(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r)
ON CONFLICT (app, msgid, direction) DO NOTHING";

/// A client of `url`, its connection driven on a task.
pub(crate) async fn connect(url: &str) -> Result<Client, StoreError> {
    let (client, connection) =
        tokio::time::timeout(DB_TIMEOUT, tokio_postgres::connect(url, NoTls))
            .await
            .map_err(|_| StoreError::new("postgres: connect timed out"))?
            .map_err(|e| pg_error("connect", &e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "archive connection ended");
        }
    });
    Ok(client)
}

struct Writer {
    config: PostgresConfig,
    counters: Arc<Counters>,
    insert: String,
    copy: String,
    db: Option<Client>,
    retry_at: Instant,
    down_logged: bool,
}

/// Runs until the sink is dropped.
pub(crate) async fn run(
    config: PostgresConfig,
    mut rx: mpsc::Receiver<Command>,
    counters: Arc<Counters>,
) {
    let mut w = Writer {
        insert: INSERT.replace("{schema}", &config.schema),
        copy: COPY.replace("{schema}", &config.schema),
        config,
        counters,
        db: None,
        retry_at: Instant::now(),
        down_logged: false,
    };
    let mut open = true;
    while open {
        let mut batch = Vec::new();
        let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
        match rx.recv().await {
            None => break,
            Some(Command::Record(r)) => batch.push(*r),
            Some(Command::Flush(tx)) => flushes.push(tx),
        }
        let deadline = Instant::now() + w.config.every;
        while flushes.is_empty() && batch.len() < w.config.batch {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(Command::Record(r))) => batch.push(*r),
                Ok(Some(Command::Flush(tx))) => flushes.push(tx),
                Ok(None) => {
                    open = false;
                    break;
                }
                Err(_) => break,
            }
        }
        // Behind: the queue is more than half full. Batches go to the spill file (an
        // append, far cheaper than the database) until it drains, rather than records
        // being dropped at the queue; the file is written to the database afterwards.
        let behind = w.config.spill.is_some() && rx.len() > w.config.queue / 2;
        if behind {
            w.spill(&batch, false).await;
        } else {
            w.write(batch).await;
        }
        for tx in flushes {
            let _ = tx.send(());
        }
    }
}

impl Writer {
    /// Writes `batch` (after the spilled records, if the database is back), or spills it.
    async fn write(&mut self, batch: Vec<EventRecord>) {
        if self.client().await.is_some() {
            self.replay().await;
        }
        if batch.is_empty() {
            return;
        }
        let written = match self.db.as_ref() {
            Some(db) => {
                let rows = Columns::of(&batch, &self.config.redaction);
                copy(db, &self.copy, &self.insert, &rows).await
            }
            None => Err(StoreError::new("postgres: unreachable")),
        };
        match written {
            Ok(()) => {
                self.counters
                    .written
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            Err(e) => {
                self.failed(&e);
                self.spill(&batch, true).await;
            }
        }
    }

    /// The connection, (re)connecting when the last failure is [`RETRY_AFTER`] old.
    async fn client(&mut self) -> Option<&Client> {
        if self.db.as_ref().is_some_and(Client::is_closed) {
            self.db = None;
        }
        if self.db.is_none() && Instant::now() >= self.retry_at {
            match connect(&self.config.url).await {
                Ok(c) => {
                    if self.down_logged {
                        tracing::warn!("archive database reachable again: catching up");
                        self.down_logged = false;
                    }
                    self.db = Some(c);
                }
                Err(e) => self.failed(&e),
            }
        }
        self.db.as_ref()
    }

    fn failed(&mut self, e: &StoreError) {
        self.db = None;
        self.retry_at = Instant::now() + RETRY_AFTER;
        if !self.down_logged {
            tracing::error!(error = %e, "archive database unreachable: records go to the spill file");
            self.down_logged = true;
        }
    }

    /// Appends `batch` to the spill file (or drops it, counted, without one); `failed`:
    /// the database refused it (counted as a failed batch).
    async fn spill(&self, batch: &[EventRecord], failed: bool) {
        if failed {
            self.counters.failed_batches.fetch_add(1, Ordering::Relaxed);
        }
        let n = batch.len() as u64;
        let Some(path) = &self.config.spill else {
            self.counters.dropped.fetch_add(n, Ordering::Relaxed);
            return;
        };
        let mut lines = Vec::new();
        for r in batch {
            if let Ok(mut line) = serde_json::to_vec(r) {
                line.push(b'\n');
                lines.extend_from_slice(&line);
            }
        }
        let appended = async {
            let mut f = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .await?;
            f.write_all(&lines).await?;
            f.flush().await
        }
        .await;
        match appended {
            Ok(()) => self.counters.spilled.fetch_add(n, Ordering::Relaxed),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "archive spill file not writable: records dropped");
                self.counters.dropped.fetch_add(n, Ordering::Relaxed)
            }
        };
    }

    /// Writes the spill file's records to the database, then empties the file.
    async fn replay(&mut self) {
        let Some(path) = self.config.spill.clone() else {
            return;
        };
        let Ok(file) = tokio::fs::File::open(&path).await else {
            return;
        };
        if file.metadata().await.map_or(0, |m| m.len()) == 0 {
            return;
        }
        let mut lines = tokio::io::BufReader::new(file).lines();
        let mut chunk = Vec::new();
        let mut replayed = 0u64;
        loop {
            let line = lines.next_line().await.ok().flatten();
            if let Some(record) = line.as_deref().and_then(|l| serde_json::from_str(l).ok()) {
                chunk.push(record);
            }
            if chunk.len() >= self.config.batch || (line.is_none() && !chunk.is_empty()) {
                let Some(db) = self.db.as_ref() else { return };
                // COPY first: spilled rows are rarely in the table already (a batch whose
                // failure was ambiguous); when some are, `copy` inserts around them.
                let rows = Columns::of(&chunk, &self.config.redaction);
                if let Err(e) = copy(db, &self.copy, &self.insert, &rows).await {
                    // Kept for the next try; rows already written are not written twice.
                    self.failed(&e);
                    return;
                }
                replayed += chunk.len() as u64;
                chunk.clear();
            }
            if line.is_none() {
                break;
            }
        }
        if let Err(e) = tokio::fs::write(&path, b"").await {
            tracing::warn!(path = %path.display(), error = %e, "archive spill file not emptied: its records may be read again (written once)");
        }
        self.counters
            .replayed
            .fetch_add(replayed, Ordering::Relaxed);
        self.counters.written.fetch_add(replayed, Ordering::Relaxed);
        tracing::info!(replayed, "archive caught up from the spill file");
    }
}

/// One `INSERT … ON CONFLICT DO NOTHING` of rows `c`.
async fn insert(db: &Client, sql: &str, c: &Columns) -> Result<(), StoreError> {
    if c.len() == 0 {
        return Ok(());
    }
    let json = |v: &[Vec<String>]| -> Vec<String> {
        v.iter()
            .map(|a| serde_json::to_string(a).unwrap_or_else(|_| "[]".to_owned()))
            .collect()
    };
    let (actions, errors) = (json(&c.actions), json(&c.errors));
    let params: [&(dyn ToSql + Sync); 18] = [
        &c.at_ms,
        &c.app,
        &c.direction,
        &c.channel,
        &c.chat,
        &c.customer,
        &c.msg_type,
        &c.event,
        &c.text,
        &c.rule,
        &c.variant,
        &c.responder,
        &c.latency_ms,
        &c.delivery,
        &c.outcome,
        &c.msgid,
        &actions,
        &errors,
    ];
    let run = db.execute(sql, &params);
    tokio::time::timeout(DB_TIMEOUT, run)
        .await
        .map_err(|_| StoreError::new("postgres: a batch timed out"))?
        .map(|_| ())
        .map_err(|e| pg_error("insert a batch", &e))
}

/// One batch with `COPY … BINARY` (several times cheaper for the database than an
/// `INSERT`); a batch that meets a row already written (a unique violation) is written
/// with the `INSERT … ON CONFLICT DO NOTHING` of `insert_sql` instead.
async fn copy(
    db: &Client,
    copy_sql: &str,
    insert_sql: &str,
    c: &Columns,
) -> Result<(), StoreError> {
    if c.len() == 0 {
        return Ok(());
    }
    let run = async {
        let sink = db.copy_in(copy_sql).await?;
        let writer = BinaryCopyInWriter::new(sink, &COPY_TYPES);
        let mut writer = std::pin::pin!(writer);
        for i in 0..c.len() {
            let at = std::time::UNIX_EPOCH
                + Duration::from_millis(u64::try_from(c.at_ms[i]).unwrap_or(0));
            let row: [&(dyn ToSql + Sync); 18] = [
                &at,
                &c.app[i],
                &c.direction[i],
                &c.channel[i],
                &c.chat[i],
                &c.customer[i],
                &c.msg_type[i],
                &c.event[i],
                &c.text[i],
                &c.rule[i],
                &c.variant[i],
                &c.responder[i],
                &c.latency_ms[i],
                &c.delivery[i],
                &c.outcome[i],
                &c.msgid[i],
                &c.actions[i],
                &c.errors[i],
            ];
            writer.as_mut().write(&row).await?;
        }
        writer.as_mut().finish().await
    };
    match tokio::time::timeout(DB_TIMEOUT, run).await {
        Err(_) => Err(StoreError::new("postgres: a batch timed out")),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            insert(db, insert_sql, c).await
        }
        Ok(Err(e)) => Err(pg_error("copy a batch", &e)),
    }
}
