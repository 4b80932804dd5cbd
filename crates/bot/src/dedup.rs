//! Dedup as a two-phase claim: a callback is *in flight* under a short lease while it is
//! answered, then *done* with what was answered, kept longer than WeCom re-delivers.
//! [`DedupStore`] is the trait; [`MemoryDedupStore`] the bounded in-memory default.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::StoreError;
use crate::{Clock, SystemClock};

/// How a callback was answered, kept with its dedup record so a re-delivery gets the
/// same answer without a second computation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answered {
    /// Passively: these exact encrypted reply bytes.
    Passive(Bytes),
    /// Through the active API (the HTTP answer was an empty 200).
    Active,
    /// Nothing to answer (an empty 200).
    Nothing,
}

impl Answered {
    /// The stored form: a tag byte, then the reply bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Passive(bytes) => {
                let mut out = Vec::with_capacity(bytes.len() + 1);
                out.push(b'P');
                out.extend_from_slice(bytes);
                out
            }
            Self::Active => vec![b'A'],
            Self::Nothing => vec![b'N'],
        }
    }

    /// Reads [`encode`](Self::encode)'s form; `None` for anything else.
    pub fn decode(stored: &[u8]) -> Option<Self> {
        match stored.split_first()? {
            (b'P', rest) => Some(Self::Passive(Bytes::copy_from_slice(rest))),
            (b'A', []) => Some(Self::Active),
            (b'N', []) => Some(Self::Nothing),
            _ => None,
        }
    }
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// Nobody had it: this caller now holds it in flight and must complete or release it.
    Fresh,
    /// Another attempt (this or another instance) is answering it right now.
    InFlight,
    /// It was answered.
    Done(Answered),
}

/// Where dedup records live. Keys are the bot's (app and
/// [`Message::dedup_key`](wecom_sdk_message::callback::Message::dedup_key)), at most a
/// few hundred bytes.
#[async_trait]
pub trait DedupStore: Send + Sync + std::fmt::Debug {
    /// Atomically: if `key` has no record, mark it in flight for `lease` and return
    /// [`Claim::Fresh`]; else say what the record holds.
    ///
    /// # Errors
    /// The store failed.
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim, StoreError>;

    /// Marks `key` done with `answered`, kept for `ttl`.
    ///
    /// # Errors
    /// The store failed.
    async fn complete(
        &self,
        key: &str,
        answered: &Answered,
        ttl: Duration,
    ) -> Result<(), StoreError>;

    /// Drops an in-flight claim (a handler failed: the re-delivery is processed
    /// again). A done record stays.
    ///
    /// # Errors
    /// The store failed.
    async fn release(&self, key: &str) -> Result<(), StoreError>;

    /// What the record of `key` holds now, without claiming: `None` when there is none.
    ///
    /// # Errors
    /// The store failed.
    async fn peek(&self, key: &str) -> Result<Option<Claim>, StoreError>;
}

/// The default store: this process's memory, bounded (the oldest records go first when
/// it is full), times read from the bot's clock.
#[derive(Debug)]
pub struct MemoryDedupStore {
    inner: Mutex<Records>,
    capacity: usize,
    clock: Arc<dyn Clock>,
}

#[derive(Debug, Default)]
struct Records {
    map: HashMap<Arc<str>, (State, SystemTime)>,
    /// Insertion order, for eviction (may hold keys already gone); shares the map's keys.
    order: VecDeque<Arc<str>>,
}

#[derive(Debug, Clone)]
enum State {
    InFlight,
    Done(Answered),
}

/// Records the in-memory store keeps by default: at about 1.8 KB of RSS each (key,
/// reply bytes, map and allocator overhead) ≈ 55 MB, which keeps the example bot under
/// 100 MB; 60 s of re-delivery horizon at 500 messages a second.
pub const DEFAULT_DEDUP_CAPACITY: usize = 30_000;

impl Default for MemoryDedupStore {
    fn default() -> Self {
        Self::new(DEFAULT_DEDUP_CAPACITY)
    }
}

impl MemoryDedupStore {
    /// A store of at most `capacity` records.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Records::default()),
            capacity: capacity.max(1),
            clock: Arc::new(SystemClock),
        }
    }

    /// Reads time from `clock` (leases and TTLs).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Records held (expired ones included until they are touched or evicted).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn current(records: &Records, key: &str, now: SystemTime) -> Option<Claim> {
        let (state, until) = records.map.get(key)?;
        (*until > now).then(|| match state {
            State::InFlight => Claim::InFlight,
            State::Done(a) => Claim::Done(a.clone()),
        })
    }

    fn insert(&self, records: &mut Records, key: &str, state: State, until: SystemTime) {
        if let Some(entry) = records.map.get_mut(key) {
            *entry = (state, until);
        } else {
            let key: Arc<str> = Arc::from(key);
            records.map.insert(Arc::clone(&key), (state, until));
            records.order.push_back(key);
        }
        while records.map.len() > self.capacity {
            let Some(oldest) = records.order.pop_front() else {
                break;
            };
            records.map.remove(&oldest);
        }
        // Keep the order list from growing without bound on replaced keys.
        if records.order.len() > self.capacity.saturating_mul(2) {
            let map = &records.map;
            records.order.retain(|k| map.contains_key(k));
        }
    }
}

#[async_trait]
impl DedupStore for MemoryDedupStore {
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim, StoreError> {
        let now = self.clock.now();
        let mut records = self.lock();
        if let Some(found) = Self::current(&records, key, now) {
            return Ok(found);
        }
        self.insert(&mut records, key, State::InFlight, now + lease);
        Ok(Claim::Fresh)
    }

    async fn complete(
        &self,
        key: &str,
        answered: &Answered,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut records = self.lock();
        self.insert(&mut records, key, State::Done(answered.clone()), now + ttl);
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), StoreError> {
        let mut records = self.lock();
        if matches!(records.map.get(key), Some((State::InFlight, _))) {
            records.map.remove(key);
        }
        Ok(())
    }

    async fn peek(&self, key: &str) -> Result<Option<Claim>, StoreError> {
        let now = self.clock.now();
        Ok(Self::current(&self.lock(), key, now))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::ManualClock;

    #[tokio::test]
    async fn claim_complete_release_and_expiry() {
        let clock = Arc::new(ManualClock::at_unix(1_700_000_000));
        let store = MemoryDedupStore::new(10).clock(clock.clone());
        let lease = Duration::from_secs(30);
        assert_eq!(store.claim("k", lease).await.unwrap(), Claim::Fresh);
        assert_eq!(store.claim("k", lease).await.unwrap(), Claim::InFlight);
        store.release("k").await.unwrap();
        assert_eq!(store.claim("k", lease).await.unwrap(), Claim::Fresh);
        let reply = Answered::Passive(Bytes::from_static(b"<xml/>"));
        store
            .complete("k", &reply, Duration::from_secs(60))
            .await
            .unwrap();
        // A done record is not released by a late failure.
        store.release("k").await.unwrap();
        assert_eq!(store.claim("k", lease).await.unwrap(), Claim::Done(reply));
        clock.advance(Duration::from_secs(61));
        assert_eq!(store.peek("k").await.unwrap(), None);
        assert_eq!(store.claim("k", lease).await.unwrap(), Claim::Fresh);
        // A lease runs out: a crashed attempt does not block the message forever.
        clock.advance(Duration::from_secs(31));
        assert_eq!(store.claim("k", lease).await.unwrap(), Claim::Fresh);
    }

    #[tokio::test]
    async fn the_store_is_bounded() {
        let store = MemoryDedupStore::new(3);
        for i in 0..10 {
            store
                .complete(&format!("k{i}"), &Answered::Active, Duration::from_secs(60))
                .await
                .unwrap();
        }
        assert_eq!(store.len(), 3);
        assert_eq!(
            store.peek("k9").await.unwrap(),
            Some(Claim::Done(Answered::Active))
        );
        assert_eq!(store.peek("k0").await.unwrap(), None);
    }

    #[test]
    fn answers_round_trip_through_their_stored_form() {
        for a in [
            Answered::Passive(Bytes::from_static(b"<xml>\n</xml>")),
            Answered::Active,
            Answered::Nothing,
        ] {
            assert_eq!(Answered::decode(&a.encode()), Some(a));
        }
        assert_eq!(Answered::decode(b""), None);
        assert_eq!(Answered::decode(b"Ax"), None);
        assert_eq!(Answered::decode(b"F"), None);
    }
}
