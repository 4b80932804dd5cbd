//! The retry policy: what is repeated, how often, how long it waits.

use std::time::Duration;

/// How calls are retried beyond the one token refresh.
///
/// `-1` (system busy) and transport errors are retried with exponential backoff and
/// jitter — only for idempotent calls (GET, and `message/send` once the repeat carries
/// `enable_duplicate_check`). Rate limits (45009, 45033) are never retried in a loop: the
/// error is returned so the caller backs off for the limit's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Repeats after the first attempt (default 2).
    pub max_retries: u32,
    /// First backoff (default 200 ms); doubles each time, with up to 50 % jitter.
    pub base_delay: Duration,
    /// Longest single backoff (default 2 s).
    pub max_delay: Duration,
    /// The whole call, retries included, ends after this (default 15 s).
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            deadline: Duration::from_secs(15),
        }
    }
}

impl RetryPolicy {
    /// No retries (the token refresh still happens).
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The wait before repeat number `attempt` (1-based), with jitter from `seed`.
    pub(crate) fn delay(&self, attempt: u32, seed: u64) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(
                1u32.checked_shl(attempt.saturating_sub(1))
                    .unwrap_or(u32::MAX),
            )
            .min(self.max_delay);
        // Jitter: 50 % to 100 % of the exponential delay.
        let permille = 500 + seed % 501;
        exp.mul_f64(f64::from(u32::try_from(permille).unwrap_or(1000)) / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        let p = RetryPolicy::default();
        for seed in [0, 250, 500, 12345] {
            let d1 = p.delay(1, seed);
            assert!(
                d1 >= Duration::from_millis(100) && d1 <= Duration::from_millis(200),
                "{d1:?}"
            );
            let d2 = p.delay(2, seed);
            assert!(
                d2 >= Duration::from_millis(200) && d2 <= Duration::from_millis(400),
                "{d2:?}"
            );
            assert!(p.delay(30, seed) <= p.max_delay);
        }
    }
}
