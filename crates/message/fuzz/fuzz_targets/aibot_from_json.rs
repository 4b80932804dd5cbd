//! Arbitrary bytes through `AiBotMessage::from_json`: no input may panic.
//!
//! Run with: `cargo fuzz run -s none aibot_from_json` (from `crates/message`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wecom_sdk_message::aibot::AiBotMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(msg) = AiBotMessage::from_json(text) {
            let _ = msg.text();
        }
    }
});
