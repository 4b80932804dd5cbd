//! Time, injectable. Every crate of the SDK reads time through a `Clock` of this same
//! shape (`fn now(&self) -> SystemTime`) with the same test clock, [`ManualClock`], so
//! one clock type can drive them all (the bot hands its clock to each).

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of "now".
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told; for tests.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use wecom_sdk_crypto::{Clock, ManualClock};
/// let clock = ManualClock::at_unix(1_700_000_000);
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_secs(1_700_000_090));
/// ```
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: SystemTime) -> Self {
        Self(AtomicI64::new(unix_nanos(at)))
    }

    /// A clock showing `secs` seconds after the Unix epoch.
    pub fn at_unix(secs: i64) -> Self {
        Self(AtomicI64::new(secs.saturating_mul(1_000_000_000)))
    }

    /// Sets the time.
    pub fn set(&self, at: SystemTime) {
        self.0.store(unix_nanos(at), Ordering::SeqCst);
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let nanos = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
        self.0.fetch_add(nanos, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        let nanos = self.0.load(Ordering::SeqCst);
        let magnitude = Duration::from_nanos(nanos.unsigned_abs());
        if nanos >= 0 {
            UNIX_EPOCH + magnitude
        } else {
            UNIX_EPOCH - magnitude
        }
    }
}

/// Nanoseconds from the Unix epoch (negative before it; saturating ±292 years).
fn unix_nanos(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}
