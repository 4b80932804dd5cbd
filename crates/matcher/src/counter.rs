//! Counters for per-user limits, cooldowns and statistics: the [`CounterStore`] trait
//! and the in-memory store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::{Clock, SystemClock};
use crate::error::StoreError;

/// Where limit and statistics counters live. One primitive does limits and cooldowns:
/// a counter that starts its window at its first increment.
///
/// The in-memory store serves one process; the Redis store (feature `redis`) makes
/// limits hold across every bot instance sharing it.
#[async_trait]
pub trait CounterStore: Send + Sync + std::fmt::Debug {
    /// Atomically: if `key` has been acquired fewer than `max` times in its current
    /// window, count one more and return `true`; the window (`window`) starts at the first
    /// acquisition. A cooldown is `max = 1`.
    ///
    /// # Errors
    /// The store failed.
    async fn try_acquire(&self, key: &str, max: u32, window: Duration) -> Result<bool, StoreError>;

    /// Adds one to a plain (never expiring) counter and returns the new value.
    ///
    /// # Errors
    /// The store failed.
    async fn incr(&self, key: &str) -> Result<u64, StoreError>;

    /// Reads a counter (0 when absent or expired).
    ///
    /// # Errors
    /// The store failed.
    async fn get(&self, key: &str) -> Result<u64, StoreError>;
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    count: u64,
    /// Unix milliseconds; `i64::MAX` for plain counters.
    expires_at: i64,
}

/// Counters in this process's memory, with an injectable clock.
#[derive(Debug)]
pub struct MemoryCounterStore {
    map: Mutex<HashMap<String, Entry>>,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryCounterStore {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

/// Entries are swept of expired windows when the map grows past this.
const SWEEP_AT: usize = 100_000;

impl MemoryCounterStore {
    /// A store reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            clock,
        }
    }

    fn now_ms(&self) -> i64 {
        crate::clock::timestamp(self.clock.now()).as_millisecond()
    }

    /// The synchronous form of [`CounterStore::try_acquire`].
    pub fn try_acquire_now(&self, key: &str, max: u32, window: Duration) -> bool {
        let now = self.now_ms();
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= SWEEP_AT {
            map.retain(|_, e| e.expires_at > now);
        }
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let entry = map.entry(key.to_owned()).or_insert(Entry {
            count: 0,
            expires_at: now.saturating_add(window_ms),
        });
        if entry.expires_at <= now {
            *entry = Entry {
                count: 0,
                expires_at: now.saturating_add(window_ms),
            };
        }
        if entry.count >= u64::from(max) {
            return false;
        }
        entry.count += 1;
        true
    }

    /// Whether an acquisition would succeed now, without counting it (for explanations).
    pub fn would_acquire(&self, key: &str, max: u32) -> bool {
        let now = self.now_ms();
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(key)
            .is_none_or(|e| e.expires_at <= now || e.count < u64::from(max))
    }

    /// The synchronous form of [`CounterStore::incr`].
    pub fn incr_now(&self, key: &str) -> u64 {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = map.entry(key.to_owned()).or_insert(Entry {
            count: 0,
            expires_at: i64::MAX,
        });
        entry.count += 1;
        entry.count
    }

    /// The synchronous form of [`CounterStore::get`].
    pub fn get_now(&self, key: &str) -> u64 {
        let now = self.now_ms();
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(key)
            .filter(|e| e.expires_at > now)
            .map_or(0, |e| e.count)
    }
}

#[async_trait]
impl CounterStore for MemoryCounterStore {
    async fn try_acquire(&self, key: &str, max: u32, window: Duration) -> Result<bool, StoreError> {
        Ok(self.try_acquire_now(key, max, window))
    }

    async fn incr(&self, key: &str) -> Result<u64, StoreError> {
        Ok(self.incr_now(key))
    }

    async fn get(&self, key: &str) -> Result<u64, StoreError> {
        Ok(self.get_now(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn windows_start_at_first_use_and_expire() {
        let clock = Arc::new(ManualClock::at_unix(1_000));
        let store = MemoryCounterStore::new(clock.clone());
        let hour = Duration::from_secs(3600);
        assert!(store.try_acquire_now("k", 2, hour));
        clock.advance(Duration::from_secs(3000));
        assert!(store.try_acquire_now("k", 2, hour));
        assert!(!store.try_acquire_now("k", 2, hour));
        assert!(!store.would_acquire("k", 2));
        clock.advance(Duration::from_secs(600)); // 3600 s after the first use
        assert!(store.would_acquire("k", 2));
        assert!(store.try_acquire_now("k", 2, hour));
        assert_eq!(store.get_now("k"), 1);
        assert_eq!(
            (store.incr_now("s"), store.incr_now("s"), store.get_now("s")),
            (1, 2, 2)
        );
    }
}
