//! Arbitrary bytes through `Message::from_xml_bytes`, then everything a bot does with a
//! parsed message: no input may panic.
//!
//! Run with: `cargo fuzz run -s none message_from_xml` (from `crates/message`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wecom_sdk_message::callback::Message;
use wecom_sdk_message::reply::Reply;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = Message::from_xml_bytes(data) {
        let _ = msg.dedup_key();
        let _ = msg.text();
        let _ = format!("{msg:?}");
        let xml = Reply::text(msg.text().unwrap_or_default()).to_xml(&msg.header.from, &msg.header.to, msg.header.create_time);
        // What we write must read back.
        assert!(Message::from_xml(&xml).is_ok(), "{xml}");
    }
});
