//! Arbitrary downloads and keys through `MediaKey`: no input may panic, and what
//! `encrypt` seals `decrypt` opens.
//!
//! Run with: `cargo fuzz run -s none media_decrypt` (from `crates/crypto`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wecom_sdk_crypto::MediaKey;

fuzz_target!(|data: &[u8]| {
    // The first 44 bytes (lossy) as a file's `aeskey`, the rest as the download.
    let (key, file) = data.split_at(data.len().min(44));
    let _ = MediaKey::from_base64(&String::from_utf8_lossy(key));
    let Ok(key) = MediaKey::from_base64("6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt") else {
        return;
    };
    let _ = key.decrypt(file);
    assert_eq!(key.decrypt(&key.encrypt(file)).ok().as_deref(), Some(file));
});
