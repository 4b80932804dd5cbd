//! The sink's writer task: batches from the queue, one `COPY … BINARY` per batch;
//! while the database is unreachable, batches go to the spill file, written to the
//! database when it answers again.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::SinkExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
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
    let mut commands = Vec::with_capacity(w.config.batch);
    while open {
        let mut batch = Vec::with_capacity(w.config.batch);
        let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
        if rx.recv_many(&mut commands, w.config.batch).await == 0 {
            break;
        }
        sort(&mut commands, &mut batch, &mut flushes);
        let deadline = Instant::now() + w.config.every;
        // The rest of the batch is looked for a few times in the flush interval, not
        // waited for record by record: a wake per record (a cross-thread notification
        // and a timer) cost the request handlers more than writing the rows, and at
        // low rates every wake of an idle runtime costs tens of microseconds.
        let step = (w.config.every / 4).max(Duration::from_millis(1));
        while flushes.is_empty() && batch.len() < w.config.batch {
            // A step's sleep, then what has come (without waiting).
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            tokio::time::sleep_until(deadline.min(now + step)).await;
            if !rx.is_empty() {
                let room = w.config.batch - batch.len();
                rx.recv_many(&mut commands, room).await;
                sort(&mut commands, &mut batch, &mut flushes);
            } else if rx.is_closed() {
                open = false;
                break;
            }
        }
        // Behind: the queue is more than three quarters full (a batch or two waiting is
        // the normal rhythm). Batches go to the spill file (an append) until it drains,
        // rather than records being dropped at the queue; the file is written to the
        // database afterwards.
        let behind = w.config.spill.is_some() && rx.len() > w.config.queue / 4 * 3;
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

/// Moves `commands` into the batch's records (JSON lines) and the flushes waiting for it.
fn sort(
    commands: &mut Vec<Command>,
    batch: &mut Vec<Vec<u8>>,
    flushes: &mut Vec<oneshot::Sender<()>>,
) {
    for command in commands.drain(..) {
        match command {
            Command::Record(line) => batch.push(line),
            Command::Flush(tx) => flushes.push(tx),
        }
    }
}

impl Writer {
    /// Writes `batch` (after the spilled records, if the database is back), or spills it.
    async fn write(&mut self, batch: Vec<Vec<u8>>) {
        if self.client().await.is_some() {
            self.replay().await;
        }
        if batch.is_empty() {
            return;
        }
        let written = match self.db.as_ref() {
            Some(db) => {
                // Records made on this thread are freed on it.
                let records: Vec<EventRecord> = batch
                    .iter()
                    .filter_map(|line| serde_json::from_slice(line).ok())
                    .collect();
                let rows = Columns::of(&records, &self.config.redaction);
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
    async fn spill(&self, batch: &[Vec<u8>], failed: bool) {
        if failed {
            self.counters.failed_batches.fetch_add(1, Ordering::Relaxed);
        }
        let n = batch.len() as u64;
        let Some(path) = &self.config.spill else {
            self.counters.dropped.fetch_add(n, Ordering::Relaxed);
            return;
        };
        let mut lines = Vec::with_capacity(batch.iter().map(|l| l.len() + 1).sum());
        for line in batch {
            lines.extend_from_slice(line);
            lines.push(b'\n');
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
async fn insert(db: &Client, sql: &str, c: &Columns<'_>) -> Result<(), StoreError> {
    if c.len() == 0 {
        return Ok(());
    }
    let json = |v: &[&[String]]| -> Vec<String> {
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

/// Bytes of COPY data sent to the connection at once. `BinaryCopyInWriter` sends every
/// 4 KB through a one-slot channel to the connection's task: on a busy runtime each of
/// those waits its turn among the request handlers, and a batch of 10 000 rows took
/// hundreds of such turns. Rows are encoded here into chunks of this size instead.
const COPY_CHUNK: usize = 256 * 1024;

/// The binary COPY header: signature, flags, header extension length.
const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// Why a COPY failed.
enum CopyError {
    Pg(tokio_postgres::Error),
    Encode(String),
}

impl From<tokio_postgres::Error> for CopyError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Pg(e)
    }
}

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// The type oid of `text`, the element of the `text[]` columns.
const TEXT_OID: u32 = 25;

/// The length prefix of a field of `len` bytes.
fn field_len(len: usize) -> Result<i32, CopyError> {
    i32::try_from(len).map_err(|_| CopyError::Encode("a field over 2 GB".to_owned()))
}

fn text(buf: &mut BytesMut, s: &str) -> Result<(), CopyError> {
    buf.put_i32(field_len(s.len())?);
    buf.put_slice(s.as_bytes());
    Ok(())
}

fn opt_text(buf: &mut BytesMut, s: Option<&str>) -> Result<(), CopyError> {
    if let Some(s) = s {
        return text(buf, s);
    }
    buf.put_i32(-1);
    Ok(())
}

fn int8(buf: &mut BytesMut, v: i64) {
    buf.put_i32(8);
    buf.put_i64(v);
}

/// A `text[]` of one dimension (as PostgreSQL's `array_send` writes it: an empty one
/// is a dimension of length 0).
fn text_array(buf: &mut BytesMut, items: &[String]) -> Result<(), CopyError> {
    let body = 20 + items.iter().map(|s| 4 + s.len()).sum::<usize>();
    buf.put_i32(field_len(body)?);
    buf.put_i32(1);
    buf.put_i32(0);
    buf.put_u32(TEXT_OID);
    buf.put_i32(field_len(items.len())?);
    buf.put_i32(1);
    for item in items {
        text(buf, item)?;
    }
    Ok(())
}

/// Appends row `i` of `c` in the binary COPY format, the columns of [`COPY`] in order:
/// the field count, then each field's length (-1: NULL) and bytes in PostgreSQL's
/// binary form (text as UTF-8, `bigint` and `timestamptz` as big-endian 8 bytes,
/// `text[]` as `array_send` does). Written directly rather than through `dyn ToSql`,
/// which took five times the instructions (`benches/load/archive_instructions.sh`).
fn encode_row(buf: &mut BytesMut, c: &Columns<'_>, i: usize) -> Result<(), CopyError> {
    buf.put_i16(18);
    // Before 1970 is stored as 1970, as `SystemTime` would have it.
    int8(
        buf,
        c.at_ms[i].max(0).saturating_mul(1000) - PG_EPOCH_MICROS,
    );
    text(buf, c.app[i])?;
    text(buf, c.direction[i])?;
    text(buf, &c.channel[i])?;
    opt_text(buf, c.chat[i])?;
    text(buf, c.customer[i])?;
    text(buf, c.msg_type[i])?;
    opt_text(buf, c.event[i])?;
    opt_text(buf, c.text[i].as_deref())?;
    opt_text(buf, c.rule[i])?;
    opt_text(buf, c.variant[i])?;
    opt_text(buf, c.responder[i])?;
    match c.latency_ms[i] {
        Some(ms) => int8(buf, ms),
        None => buf.put_i32(-1),
    }
    text(buf, c.delivery[i])?;
    text(buf, c.outcome[i])?;
    text(buf, c.msgid[i])?;
    text_array(buf, c.actions[i])?;
    text_array(buf, c.errors[i])
}

/// One batch with `COPY … BINARY` (several times cheaper for the database than an
/// `INSERT`), sent in chunks of [`COPY_CHUNK`]; a batch that meets a row already written
/// (a unique violation) is written with the `INSERT … ON CONFLICT DO NOTHING` of
/// `insert_sql` instead.
async fn copy(
    db: &Client,
    copy_sql: &str,
    insert_sql: &str,
    c: &Columns<'_>,
) -> Result<(), StoreError> {
    if c.len() == 0 {
        return Ok(());
    }
    let run = async {
        let sink = db.copy_in::<_, Bytes>(copy_sql).await?;
        let mut sink = std::pin::pin!(sink);
        let mut buf = BytesMut::with_capacity(COPY_CHUNK + 4096);
        buf.put_slice(COPY_HEADER);
        for i in 0..c.len() {
            encode_row(&mut buf, c, i)?;
            if buf.len() >= COPY_CHUNK {
                let chunk = buf.split().freeze();
                // A whole chunk's room at once (growing from the few bytes left after
                // the split took a dozen reallocations and copies).
                buf.reserve(COPY_CHUNK + 4096);
                sink.send(chunk).await?;
            }
        }
        buf.put_i16(-1);
        sink.send(buf.split().freeze()).await?;
        Ok::<u64, CopyError>(sink.as_mut().finish().await?)
    };
    match tokio::time::timeout(DB_TIMEOUT, run).await {
        Err(_) => Err(StoreError::new("postgres: a batch timed out")),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(CopyError::Pg(e))) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            insert(db, insert_sql, c).await
        }
        Ok(Err(CopyError::Pg(e))) => Err(pg_error("copy a batch", &e)),
        Ok(Err(CopyError::Encode(e))) => Err(StoreError::new(format!(
            "postgres: a row could not be encoded: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use tokio_postgres::types::{IsNull, Type};

    use super::*;
    use crate::archive::rows::Redaction;

    /// The column types of [`COPY`], in order: what `tokio-postgres` encodes them as.
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

    /// Row `i` as `tokio-postgres`'s `ToSql` encodes it (what `BinaryCopyInWriter` sends).
    fn reference_row(buf: &mut BytesMut, c: &Columns<'_>, i: usize) {
        let at =
            std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(c.at_ms[i]).unwrap_or(0));
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
        buf.put_i16(18);
        for (value, ty) in row.iter().zip(&COPY_TYPES) {
            let at = buf.len();
            buf.put_i32(0);
            let len = match value.to_sql_checked(ty, buf).unwrap() {
                IsNull::Yes => -1,
                IsNull::No => i32::try_from(buf.len() - at - 4).unwrap(),
            };
            buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
    }

    fn record() -> impl Strategy<Value = EventRecord> {
        let text = "\\PC{0,12}";
        (
            (
                -5_000i64..4_000_000_000_000,
                text,
                proptest::option::of(text),
                proptest::option::of(text),
                proptest::option::of(text),
                proptest::option::of(text),
            ),
            (
                0u64..u64::MAX,
                proptest::collection::vec(text, 0..3),
                proptest::collection::vec(text, 0..3),
                text,
                any::<bool>(),
            ),
        )
            .prop_map(
                |(
                    (at_ms, user, chat, body, rule, reply),
                    (latency, actions, errors, key, human),
                )| {
                    let mut r: EventRecord = serde_json::from_value(serde_json::json!({
                        "at_ms": at_ms, "app": "shop", "channel": "kf", "user": user,
                        "msg_type": "text", "latency_ms": latency, "delivery": "passive",
                        "outcome": if human { "human_reply" } else { "answered" }, "key": key,
                    }))
                    .unwrap();
                    (r.chat, r.text, r.rule, r.reply) = (chat, body, rule, reply);
                    (r.actions, r.errors) = (actions, errors);
                    r
                },
            )
    }

    proptest! {
        #[test]
        fn rows_are_encoded_as_tokio_postgres_encodes_them(
            records in proptest::collection::vec(record(), 1..6)
        ) {
            let c = Columns::of(&records, &Redaction::Keep);
            for i in 0..c.len() {
                let (mut ours, mut theirs) = (BytesMut::new(), BytesMut::new());
                encode_row(&mut ours, &c, i).map_err(|_| TestCaseError::fail("encode"))?;
                reference_row(&mut theirs, &c, i);
                prop_assert_eq!(ours, theirs);
            }
        }
    }

    #[test]
    fn the_header_is_the_binary_copy_signature_and_two_zero_words() {
        assert_eq!(COPY_HEADER.len(), 19);
        assert!(COPY_HEADER.starts_with(b"PGCOPY\n\xff\r\n\0"));
    }
}
