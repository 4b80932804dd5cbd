//! The sink's writer task: batches of encoded rows from the queue, one `COPY … BINARY`
//! per batch;
//! while the database is unreachable, batches go to the spill file, written to the
//! database when it answers again.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures_util::SinkExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::time::Instant;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use super::migrate::pg_error;
use super::queue::Queue;
use super::rows::{Batch, Encoded, Redaction};
use super::{Counters, PostgresConfig};
use crate::error::StoreError;
use crate::event_log::EventRecord;

/// How long connecting, or one batch, may take.
const DB_TIMEOUT: Duration = Duration::from_secs(5);
/// After a failure, how long batches go to the spill file before the database is tried
/// again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

const COPY: &str = "COPY {schema}.messages ({columns}) FROM STDIN BINARY";

/// The columns every COPY names, in the order the rows are encoded.
const COLUMNS: &str = "at, app, direction, channel, chat, customer, msg_type, event, text, \
    rule, variant, responder, latency_ms, delivery, outcome, msgid, actions, errors";

/// A batch that meets rows already written (a unique violation), and every replay that
/// does: the rows are copied into a session's temporary table, then inserted from it
/// skipping those already there.
const CONFLICT_BEGIN: &str = "BEGIN;
CREATE TEMP TABLE IF NOT EXISTS wecom_archive_in AS
    SELECT {columns} FROM {schema}.messages WITH NO DATA;
TRUNCATE wecom_archive_in";
const CONFLICT_COPY: &str = "COPY wecom_archive_in ({columns}) FROM STDIN BINARY";
const CONFLICT_INSERT: &str = "INSERT INTO {schema}.messages ({columns})
    SELECT {columns} FROM wecom_archive_in
    ON CONFLICT (app, msgid, direction) DO NOTHING;
COMMIT";

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
    sql: Sql,
    db: Option<Client>,
    retry_at: Instant,
    down_logged: bool,
}

/// Runs until the sink is dropped (and what it queued is written).
pub(crate) async fn run(config: PostgresConfig, queue: Arc<Queue>, counters: Arc<Counters>) {
    let mut w = Writer {
        sql: Sql::new(&config.schema),
        config,
        counters,
        db: None,
        retry_at: Instant::now(),
        down_logged: false,
    };
    while queue.ready().await {
        // The rest of the batch is looked for a few times in the flush interval, not
        // waited for record by record: a wake per record (a cross-thread notification
        // and a timer) cost the request handlers more than writing the rows, and at
        // low rates every wake of an idle runtime costs tens of microseconds.
        let deadline = Instant::now() + w.config.every;
        let step = (w.config.every / 4).max(Duration::from_millis(1));
        while !queue.flush_waiting() && !queue.is_closed() && queue.len() < w.config.batch {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            tokio::time::sleep_until(deadline.min(now + step)).await;
        }
        let taken = queue.take(w.config.batch);
        // Behind: the queue is more than three quarters full (a batch or two waiting is
        // the normal rhythm). Batches go to the spill file (an append) until it drains,
        // rather than records being dropped at the queue; the file is written to the
        // database afterwards. A flush (a shutdown) always tries the database.
        let behind = taken.flushes.is_empty()
            && w.config.spill.is_some()
            && taken.left > w.config.queue / 4 * 3;
        if behind {
            w.spill(&taken.batch, false).await;
        } else {
            w.write(&taken.batch).await;
        }
        for tx in taken.flushes {
            let _ = tx.send(());
        }
    }
}

/// The writer's statements for its schema.
struct Sql {
    copy: String,
    conflict_begin: String,
    conflict_copy: String,
    conflict_insert: String,
}

impl Sql {
    fn new(schema: &str) -> Self {
        let fill = |s: &str| s.replace("{columns}", COLUMNS).replace("{schema}", schema);
        Self {
            copy: fill(COPY),
            conflict_begin: fill(CONFLICT_BEGIN),
            conflict_copy: fill(CONFLICT_COPY),
            conflict_insert: fill(CONFLICT_INSERT),
        }
    }
}

impl Writer {
    /// Writes `batch` (after the spilled records, if the database is back), or spills it.
    async fn write(&mut self, batch: &Batch) {
        if self.client().await.is_some() {
            self.replay().await;
        }
        if batch.is_empty() {
            return;
        }
        let written = match self.db.as_ref() {
            Some(db) => copy(db, &self.sql, batch).await,
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
                self.spill(batch, true).await;
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

    /// Appends `batch` to the spill file as JSON lines (or drops it, counted, without
    /// one); `failed`: the database refused it (counted as a failed batch).
    async fn spill(&self, batch: &Batch, failed: bool) {
        if failed {
            self.counters.failed_batches.fetch_add(1, Ordering::Relaxed);
        }
        let n = batch.len() as u64;
        let Some(path) = &self.config.spill else {
            self.counters.dropped.fetch_add(n, Ordering::Relaxed);
            return;
        };
        // Records without rows (a servicer's message without words): nothing to
        // archive, done as a COPY would have them.
        let (lines, without_rows) = batch.json_lines();
        let without_rows = without_rows as u64;
        self.counters
            .written
            .fetch_add(without_rows, Ordering::Relaxed);
        let n = n - without_rows;
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
        let mut chunk = Encoded::default();
        let mut replayed = 0u64;
        loop {
            let line = lines.next_line().await.ok().flatten();
            if let Some(record) = line
                .as_deref()
                .and_then(|l| serde_json::from_str::<EventRecord>(l).ok())
            {
                // Spilled lines were redacted when they were written.
                chunk.push(&record, &Redaction::Keep);
            }
            if chunk.len() >= self.config.batch || (line.is_none() && !chunk.is_empty()) {
                let Some(db) = self.db.as_ref() else { return };
                let batch = chunk.split_to(usize::MAX);
                // COPY first: spilled rows are rarely in the table already (a batch whose
                // failure was ambiguous); when some are, `copy` inserts around them.
                if let Err(e) = copy(db, &self.sql, &batch).await {
                    // Kept for the next try; rows already written are not written twice.
                    self.failed(&e);
                    return;
                }
                replayed += batch.len() as u64;
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

/// Bytes of COPY data sent to the connection at once. `BinaryCopyInWriter` sends every
/// 4 KB through a one-slot channel to the connection's task: on a busy runtime each of
/// those waits its turn among the request handlers, and a batch of 10 000 rows took
/// hundreds of such turns. The rows are sent in slices of this size instead (the
/// connection copies each into its write buffer, which stays this small).
const COPY_CHUNK: usize = 256 * 1024;

/// The binary COPY header: signature, flags, header extension length.
const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The binary COPY trailer: a field count of -1.
const COPY_TRAILER: &[u8] = &[0xff, 0xff];

/// One COPY of `batch`'s rows into the table `sql` copies to: header, tuples (slices of
/// [`COPY_CHUNK`], not copied), trailer.
async fn copy_in(db: &Client, sql: &str, batch: &Batch) -> Result<(), tokio_postgres::Error> {
    let sink = db.copy_in::<_, Bytes>(sql).await?;
    let mut sink = std::pin::pin!(sink);
    sink.feed(Bytes::from_static(COPY_HEADER)).await?;
    let rows = batch.rows();
    let mut at = 0;
    while at < rows.len() {
        let end = (at + COPY_CHUNK).min(rows.len());
        sink.send(rows.slice(at..end)).await?;
        at = end;
    }
    sink.feed(Bytes::from_static(COPY_TRAILER)).await?;
    sink.as_mut().finish().await.map(|_| ())
}

/// One batch with `COPY … BINARY` (several times cheaper for the database than an
/// `INSERT`); a batch that meets a row already written (a unique violation) goes through
/// the session's temporary table and `INSERT … ON CONFLICT DO NOTHING` instead.
async fn copy(db: &Client, sql: &Sql, batch: &Batch) -> Result<(), StoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    match tokio::time::timeout(DB_TIMEOUT, copy_in(db, &sql.copy, batch)).await {
        Err(_) => Err(StoreError::new("postgres: a batch timed out")),
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            let around = async {
                db.batch_execute(&sql.conflict_begin).await?;
                copy_in(db, &sql.conflict_copy, batch).await?;
                db.batch_execute(&sql.conflict_insert).await
            };
            match tokio::time::timeout(DB_TIMEOUT, around).await {
                Ok(Ok(())) => Ok(()),
                failed => {
                    let _ = db.batch_execute("ROLLBACK").await;
                    Err(match failed {
                        Ok(Err(e)) => pg_error("insert a batch around rows already written", &e),
                        _ => StoreError::new("postgres: a batch timed out"),
                    })
                }
            }
        }
        Ok(Err(e)) => Err(pg_error("copy a batch", &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_the_binary_copy_signature_and_two_zero_words() {
        assert_eq!(COPY_HEADER.len(), 19);
        assert!(COPY_HEADER.starts_with(b"PGCOPY\n\xff\r\n\0"));
    }
}
