//! The 16-byte random prefix of every encrypted message.
//!
//! A per-thread ChaCha12 generator (`rand`'s `StdRng`) seeded from the operating system
//! and reseeded every 4096 prefixes (64 KiB of output). A system call per message would
//! cost more than the whole AES-256-CBC of a typical reply; a failing system source is a
//! typed error, never a panic.

use std::cell::RefCell;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use crate::CryptoError;
use crate::envelope::RANDOM_LEN;

/// Prefixes drawn before the generator is reseeded from the operating system.
const RESEED_EVERY: u32 = 4096;

struct Reseeding {
    rng: StdRng,
    left: u32,
}

thread_local! {
    static RNG: RefCell<Option<Reseeding>> = const { RefCell::new(None) };
}

/// Draws a fresh random prefix.
///
/// # Errors
/// [`CryptoError::EncryptAes`] when the operating system's random source fails.
pub(crate) fn prefix() -> Result<[u8; RANDOM_LEN], CryptoError> {
    RNG.with(|cell| {
        let mut slot = cell.borrow_mut();
        let state = match slot.as_mut() {
            Some(state) if state.left > 0 => state,
            _ => slot.insert(Reseeding {
                rng: StdRng::from_seed(os_seed()?),
                left: RESEED_EVERY,
            }),
        };
        state.left -= 1;
        let mut random = [0u8; RANDOM_LEN];
        state.rng.fill_bytes(&mut random);
        Ok(random)
    })
}

fn os_seed() -> Result<[u8; 32], CryptoError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|_| CryptoError::EncryptAes {
        reason: "the system random source failed",
    })?;
    Ok(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_differ_across_reseeds() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..(2 * RESEED_EVERY + 10) {
            assert!(seen.insert(prefix().unwrap_or_default()));
        }
    }
}
