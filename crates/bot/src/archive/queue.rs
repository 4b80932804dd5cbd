//! The sink's queue: every record's rows appended to one shared buffer under a short
//! lock, taken by the writer a batch at a time.
//!
//! A queue of one allocation per record (a channel of boxed buffers) cost the request
//! handlers more than encoding the rows: glibc's allocator served each from its bins and
//! took them back on the writer's thread, and every batch's 256 KB chunks made it
//! consolidate its free lists (`perf`: 2.3 µs per request in `malloc`/`free`). Here a
//! record costs a copy into a buffer whose memory is reused batch after batch.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, oneshot};

use super::rows::{Batch, Encoded, Redaction, encode};
use crate::event_log::EventRecord;

/// Records waiting for the writer, and the flushes waiting for them.
#[derive(Debug)]
pub(crate) struct Queue {
    pending: Mutex<Pending>,
    /// Woken when the queue stops being empty, on a flush and when it closes.
    ready: Notify,
    closed: AtomicBool,
    capacity: usize,
    /// How texts are stored.
    redaction: Redaction,
}

#[derive(Debug, Default)]
struct Pending {
    records: Encoded,
    /// Records queued since the start (the last one's number).
    pushed: u64,
    /// Each flush with the number of the last record queued before it.
    flushes: Vec<(u64, oneshot::Sender<()>)>,
}

/// What the writer takes at once.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    /// The records.
    pub(crate) batch: Batch,
    /// Flushes to answer once the batch is written: every record queued before them is
    /// in this batch or an earlier one.
    pub(crate) flushes: Vec<oneshot::Sender<()>>,
    /// Records left in the queue.
    pub(crate) left: usize,
}

/// Rows larger than this are not kept in a handler thread's scratch buffer after use.
const SCRATCH_KEPT: usize = 64 * 1024;

thread_local! {
    /// Where a record is encoded before it is queued — outside the lock, since a custom
    /// redaction runs user code.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Queue {
    /// A queue of `capacity` records at most, their texts stored as `redaction` says.
    pub(crate) fn new(capacity: usize, redaction: Redaction) -> Self {
        Self {
            pending: Mutex::new(Pending::default()),
            ready: Notify::new(),
            closed: AtomicBool::new(false),
            capacity: capacity.max(1),
            redaction,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Encodes `record` and queues it (`false`: the queue is full or the record cannot
    /// be encoded — a field over 2 GB).
    pub(crate) fn push(&self, record: &EventRecord) -> bool {
        SCRATCH.with_borrow_mut(|rows| {
            rows.clear();
            let queued = encode(record, &self.redaction, rows).is_some() && self.push_rows(rows);
            if rows.capacity() > SCRATCH_KEPT {
                *rows = Vec::new();
            }
            queued
        })
    }

    fn push_rows(&self, rows: &[u8]) -> bool {
        let mut pending = self.lock();
        if pending.records.len() >= self.capacity {
            return false;
        }
        pending.records.push_rows(rows);
        pending.pushed += 1;
        let first = pending.records.len() == 1;
        drop(pending);
        if first {
            self.ready.notify_one();
        }
        true
    }

    /// Asks the writer to write everything queued so far; the receiver hears when it has
    /// (or fails, when the writer is gone).
    pub(crate) fn flush(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let mut pending = self.lock();
        let last = pending.pushed;
        pending.flushes.push((last, tx));
        drop(pending);
        self.ready.notify_one();
        rx
    }

    /// No more records will come: the writer writes what is queued, then ends.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.ready.notify_one();
    }

    /// Whether [`close`](Self::close) was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Records queued.
    pub(crate) fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether a flush is waiting.
    pub(crate) fn flush_waiting(&self) -> bool {
        !self.lock().flushes.is_empty()
    }

    /// Waits until a record or a flush is queued (`true`), or the queue is closed and
    /// empty (`false`).
    pub(crate) async fn ready(&self) -> bool {
        loop {
            {
                let pending = self.lock();
                if !pending.records.is_empty() || !pending.flushes.is_empty() {
                    return true;
                }
            }
            if self.is_closed() {
                return false;
            }
            // A notification between the check and here is kept as a permit.
            self.ready.notified().await;
        }
    }

    /// Up to `max` records, and the flushes they complete.
    pub(crate) fn take(&self, max: usize) -> Taken {
        let mut pending = self.lock();
        let batch = pending.records.split_to(max);
        let left = pending.records.len();
        let through = pending.pushed - left as u64;
        let (due, waiting) = std::mem::take(&mut pending.flushes)
            .into_iter()
            .partition(|(last, _)| *last <= through);
        pending.flushes = waiting;
        Taken {
            batch,
            flushes: due.into_iter().map(|(_, tx)| tx).collect(),
            left,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str) -> EventRecord {
        serde_json::from_value(serde_json::json!({
            "at_ms": 1, "app": "shop", "channel": "app", "user": "wmA", "msg_type": "text",
            "text": "营业时间？", "latency_ms": 1, "delivery": "passive",
            "outcome": "answered", "key": key,
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn a_flush_is_due_once_the_records_queued_before_it_are_taken() {
        let queue = Queue::new(3, Redaction::Keep);
        for key in ["m1", "m2", "m3"] {
            assert!(queue.push(&record(key)));
        }
        assert!(!queue.push(&record("m4")), "full");
        let mut flushed = queue.flush();
        assert!(queue.ready().await && queue.flush_waiting());
        let first = queue.take(2);
        assert_eq!(
            (first.batch.len(), first.flushes.len(), first.left),
            (2, 0, 1)
        );
        let second = queue.take(2);
        assert_eq!(
            (second.batch.len(), second.flushes.len(), second.left),
            (1, 1, 0)
        );
        assert!(
            flushed.try_recv().is_err(),
            "answered by the writer, not the queue"
        );
        for tx in second.flushes {
            tx.send(()).unwrap();
        }
        assert_eq!(flushed.try_recv(), Ok(()));
        // The records came out whole and in order.
        let (lines, _) = first.batch.json_lines();
        let keys: Vec<String> = String::from_utf8(lines)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<EventRecord>(l).unwrap().key)
            .collect();
        assert_eq!(keys, ["m1", "m2"]);
        // Room again; closed, the queue is ready while records remain, then done.
        assert!(queue.push(&record("m5")));
        queue.close();
        assert!(queue.ready().await);
        assert_eq!(queue.take(10).batch.len(), 1);
        assert!(!queue.ready().await);
    }
}
