//! Behaviour of the public API beyond the vectors: replay window, redaction, bounds.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test set-up failures should stop the test"
)]

use std::sync::Arc;
use std::time::Duration;

use wecom_sdk_crypto::{CallbackCrypto, CryptoError, ManualClock, ReceiveIdPolicy};

const TOKEN: &str = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";
const KEY: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";

fn crypto() -> CallbackCrypto {
    CallbackCrypto::new(TOKEN, KEY, "ww1436e0e65a779aee").expect("valid key")
}

#[test]
fn replay_window_uses_the_injected_clock() {
    let clock = Arc::new(ManualClock::at_unix(1_700_000_000));
    let c = crypto()
        .clock(clock.clone())
        .replay_window(Duration::from_secs(300));
    let enc = c.encrypt(b"42").expect("encrypts");
    let sig = c.signature("1700000000", "n", &enc);
    assert_eq!(
        c.verify_url(&sig, "1700000000", "n", &enc).as_deref(),
        Ok("42")
    );
    clock.advance(Duration::from_secs(300));
    assert!(c.verify_url(&sig, "1700000000", "n", &enc).is_ok());
    clock.advance(Duration::from_secs(1));
    let err = c.verify_url(&sig, "1700000000", "n", &enc);
    assert!(matches!(
        err,
        Err(CryptoError::StaleTimestamp {
            max_skew_secs: 300,
            ..
        })
    ));
    assert_eq!(err.map_err(|e| e.code()), Err(-40001));
    // A timestamp that is not a number is never fresh.
    let sig = c.signature("soon", "n", &enc);
    assert_eq!(
        c.verify_url(&sig, "soon", "n", &enc).map_err(|e| e.code()),
        Err(-40001)
    );
    // Without a window the clock is not consulted.
    let open = crypto().clock(clock);
    let sig = open.signature("1", "n", &enc);
    assert!(open.verify_url(&sig, "1", "n", &enc).is_ok());
}

#[test]
fn debug_and_errors_never_show_secrets() {
    let c = crypto().replay_window(Duration::from_secs(60));
    let shown = format!("{c:?} {c:#?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(shown.contains("ww1436e0e65a779aee"));
    let enc = c.encrypt(b"x").expect("encrypts");
    let err = c
        .verify_url("0000000000000000000000000000000000000000", "1", "2", &enc)
        .expect_err("bad sig");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(TOKEN) && !shown.contains(KEY));
}

#[test]
fn ai_bot_empty_receive_id() {
    // AI-bot callbacks are encrypted with an empty receive id.
    let bot = CallbackCrypto::new(TOKEN, KEY, "").expect("key");
    let enc = bot.encrypt(br#"{"msgtype":"text"}"#).expect("encrypts");
    assert_eq!(
        bot.decrypt(&enc).as_deref(),
        Ok(&br#"{"msgtype":"text"}"#[..])
    );
    // An app configured with a corp id refuses it, unless told to skip the check.
    assert_eq!(crypto().decrypt(&enc).map_err(|e| e.code()), Err(-40005));
    let skip = crypto().receive_id_policy(ReceiveIdPolicy::Skip);
    assert!(skip.decrypt(&enc).is_ok());
}

#[test]
fn json_envelope_both_casings() {
    let c = crypto();
    let enc = c.encrypt(b"{}").expect("encrypts");
    let sig = c.signature("1", "2", &enc);
    for body in [
        format!(r#"{{"encrypt":"{enc}"}}"#),
        format!(r#"{{"Encrypt":"{enc}","AgentID":"1"}}"#),
    ] {
        assert_eq!(
            c.decrypt_json_message(&sig, "1", "2", &body).as_deref(),
            Ok("{}")
        );
    }
    let reply = c
        .encrypt_json_reply("{}", "1700000000", "abc")
        .expect("encrypts");
    let v: serde_json::Value = serde_json::from_str(&reply).expect("json");
    for key in ["encrypt", "msgsignature", "timestamp", "nonce"] {
        assert!(v[key].is_string(), "{key}: {reply}");
    }
    assert_eq!(
        c.encrypt_json_reply("{}", "x", "abc").map_err(|e| e.code()),
        Err(-40011)
    );
}

#[test]
fn reply_timestamp_and_nonce_are_validated() {
    let c = crypto();
    assert_eq!(
        c.encrypt_reply("x", "17000000a", "n").map_err(|e| e.code()),
        Err(-40011)
    );
    assert_eq!(
        c.encrypt_reply("x", "1", "a]]>").map_err(|e| e.code()),
        Err(-40011)
    );
    assert!(c.encrypt_reply("x", "1", "n").is_ok());
}

#[test]
fn encryption_is_randomized() {
    let c = crypto();
    assert_ne!(c.encrypt(b"same").ok(), c.encrypt(b"same").ok());
}

#[test]
fn public_types_are_send_sync() {
    fn assert_send_sync<T: Send + Sync + Clone + std::fmt::Debug>() {}
    assert_send_sync::<CallbackCrypto>();
    assert_send_sync::<CryptoError>();
}

#[test]
fn settings_are_checked_as_wecom_checks_them() {
    const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
    let setting = |token: &str, key: &str, receive_id: &str| {
        CallbackCrypto::new(token, key, receive_id)
            .map(|_| ())
            .map_err(|e| (e.code(), e.to_string()))
    };
    assert_eq!(setting("QDG6eK", KEY, "wx5823bf96d3bd56c7"), Ok(()));
    assert_eq!(
        setting("ab", KEY, "ww1"),
        Err((
            -40004,
            "illegal Token: it has 2 characters; WeCom's Token has 3 to 32".to_owned()
        ))
    );
    assert!(setting(&"a".repeat(33), KEY, "ww1").is_err());
    assert_eq!(
        setting("tok en", KEY, "ww1"),
        Err((
            -40004,
            "illegal Token: character 4 is not a letter or digit".to_owned()
        ))
    );
    assert_eq!(
        setting("QDG6eK", KEY, "ww1 "),
        Err((
            -40004,
            "illegal receive id: character 4 is whitespace".to_owned()
        ))
    );
    let (code, message) = setting("QDG6eK", &format!(" {KEY}\n"), "ww1").unwrap_err();
    assert_eq!(code, -40004);
    assert!(message.contains("whitespace around it"), "{message}");
    assert!(!message.contains(KEY), "never the key itself");
}
