//! Time, injectable: schedules, limits, cooldowns and stats read it.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::Timestamp;

/// A source of "now".
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stands still until told otherwise; for tests.
///
/// ```
/// use wecom_sdk_matcher::{Clock, FixedClock};
/// let clock = FixedClock::at_unix(1_700_000_000);
/// clock.advance_secs(90);
/// assert_eq!(clock.now().as_second(), 1_700_000_090);
/// ```
#[derive(Debug, Default)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock showing `unix` seconds.
    pub fn at_unix(unix: i64) -> Self {
        Self(AtomicI64::new(unix))
    }

    /// A clock showing `at`.
    pub fn at(at: Timestamp) -> Self {
        Self::at_unix(at.as_second())
    }

    /// Sets the time.
    pub fn set(&self, at: Timestamp) {
        self.0.store(at.as_second(), Ordering::Relaxed);
    }

    /// Moves the time by `secs`.
    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::Relaxed);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_second(self.0.load(Ordering::Relaxed)).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}
