//! Arbitrary bodies through `decrypt_json_message`: no input may panic.
//!
//! Run with: `cargo fuzz run -s none decrypt_json_message` (from `crates/crypto`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wecom_sdk_crypto::CallbackCrypto;

fuzz_target!(|data: &[u8]| {
    let Ok(crypto) = CallbackCrypto::new("t", "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt", "") else {
        return;
    };
    let body = String::from_utf8_lossy(data);
    let _ = crypto.decrypt_json_message("0123456789abcdef0123456789abcdef01234567", "1", "2", &body);
});
