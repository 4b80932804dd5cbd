//! Arbitrary POST bodies through `decrypt_message`: no input may panic.
//!
//! Half of the runs sign the `<Encrypt>` value the fuzzer wrote, so the input reaches the
//! base64, AES, padding and framing checks behind the signature, not only the XML reader.
//!
//! Run with: `cargo fuzz run -s none decrypt_message` (from `crates/crypto`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wecom_sdk_crypto::CallbackCrypto;

fuzz_target!(|data: &[u8]| {
    let Ok(crypto) = CallbackCrypto::new(
        "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo",
        "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
        "ww1436e0e65a779aee",
    ) else {
        return;
    };
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let body = String::from_utf8_lossy(rest);
    if mode & 1 == 0 {
        let _ = crypto.decrypt_message("0123456789abcdef0123456789abcdef01234567", "1", "2", &body);
    } else {
        // Wrap the fuzzer's bytes as the ciphertext and sign them.
        let encrypted: String = body.chars().filter(|c| !matches!(c, '<' | '&' | ']')).collect();
        let signature = crypto.signature("1", "2", &encrypted);
        let envelope = format!("<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>");
        let _ = crypto.decrypt_message(&signature, "1", "2", &envelope);
        let _ = crypto.decrypt_message(&signature, "1", "2", &body);
    }
});
