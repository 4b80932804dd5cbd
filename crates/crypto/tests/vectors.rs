//! Every official and documented crypto vector, byte for byte where the vector fixes the
//! bytes. The corpus lives in `tests/data/` of this crate (copied from the
//! team's shared test vectors; nothing is read outside the repository at run time).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test set-up failures should stop the test"
)]

use serde_json::Value;
use wecom_sdk_crypto::{CallbackCrypto, ReceiveIdPolicy};

const OFFICIAL: &str = include_str!("data/official.json");
const PROTOCOL: &str = include_str!("data/protocol.json");

fn vectors(corpus: &str) -> Vec<Value> {
    let parsed: Value = serde_json::from_str(corpus).expect("corpus is JSON");
    parsed["vectors"].as_array().expect("vectors array").clone()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{}: missing {key}", v["id"]))
}

fn crypto_for(v: &Value) -> CallbackCrypto {
    let crypto = CallbackCrypto::new(
        s(v, "token"),
        s(v, "encoding_aes_key"),
        v["corp_id"].as_str().unwrap_or(""),
    )
    .expect("vector keys are valid");
    if v["corp_id"].is_null() {
        crypto.receive_id_policy(ReceiveIdPolicy::Skip)
    } else {
        crypto
    }
}

/// Decodes the few escapes WeCom puts in a query value (`%2B`, `%2F`, `%3D`).
fn url_decode(s: &str) -> String {
    s.replace("%2B", "+")
        .replace("%2F", "/")
        .replace("%3D", "=")
}

fn run(v: &Value) {
    let id = &v["id"];
    let crypto = crypto_for(v);
    match s(v, "op") {
        "verify_url" => {
            let echostr = v["echostr"]
                .as_str()
                .map_or_else(|| url_decode(s(v, "echostr_url_encoded")), str::to_owned);
            let got = crypto.verify_url(
                s(v, "msg_signature"),
                s(v, "timestamp"),
                s(v, "nonce"),
                &echostr,
            );
            match (&v["expected"]["plaintext"], &v["expected"]["error"]) {
                (Value::String(plain), _) => assert_eq!(got.as_deref(), Ok(plain.as_str()), "{id}"),
                (_, Value::String(err)) => {
                    assert_eq!(err, "invalid_signature");
                    assert_eq!(got.map_err(|e| e.code()), Err(-40001), "{id}");
                }
                // Plaintext not published: the echo WeCom sends is a decimal number.
                _ => {
                    let echo = got.unwrap_or_else(|e| panic!("{id}: {e}"));
                    assert!(
                        !echo.is_empty() && echo.bytes().all(|b| b.is_ascii_digit()),
                        "{id}: {echo}"
                    );
                }
            }
        }
        "decrypt" => {
            let got = crypto
                .decrypt_message(
                    s(v, "msg_signature"),
                    s(v, "timestamp"),
                    s(v, "nonce"),
                    s(v, "post_xml"),
                )
                .unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(got, s(&v["expected"], "plaintext"), "{id}");
            if let Some(fields) = v["expected"]["fields_asserted_by_source"].as_object() {
                for (name, value) in fields {
                    let value = value.as_str().unwrap_or_default();
                    let cdata = format!("<{name}><![CDATA[{value}]]></{name}>");
                    let plain = format!("<{name}>{value}</{name}>");
                    assert!(got.contains(&cdata) || got.contains(&plain), "{id}: {name}");
                }
            }
        }
        "decrypt_json" => {
            let got = crypto
                .decrypt_json_message(
                    s(v, "msg_signature"),
                    s(v, "timestamp"),
                    s(v, "nonce"),
                    s(v, "post_json"),
                )
                .unwrap_or_else(|e| panic!("{id}: {e}"));
            // The bytes are pinned; they need not be valid JSON (the official V2 sample's are not).
            assert_eq!(got, s(&v["expected"], "plaintext"), "{id}");
        }
        "encrypt" => {
            let random: [u8; 16] = s(v, "random")
                .as_bytes()
                .try_into()
                .expect("16-byte random");
            let xml = crypto
                .encrypt_reply_with_random(
                    s(v, "plaintext"),
                    s(v, "timestamp"),
                    s(v, "nonce"),
                    random,
                )
                .unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(xml, s(&v["expected"], "xml"), "{id}");
            let raw = crypto.encrypt_with_random(s(v, "plaintext").as_bytes(), random);
            assert_eq!(raw.as_deref(), Ok(s(&v["expected"], "encrypt")), "{id}");
            let sig = crypto.signature(
                s(v, "timestamp"),
                s(v, "nonce"),
                s(&v["expected"], "encrypt"),
            );
            assert_eq!(sig, s(&v["expected"], "msg_signature"), "{id}");
            // And the reply decrypts back, as WeCom would read it.
            let back = crypto.decrypt_message(&sig, s(v, "timestamp"), s(v, "nonce"), &xml);
            assert_eq!(back.as_deref(), Ok(s(v, "plaintext")), "{id}");
        }
        "encrypt_raw" => {
            let random: [u8; 16] = s(v, "random")
                .as_bytes()
                .try_into()
                .expect("16-byte random");
            let raw = crypto.encrypt_with_random(s(v, "plaintext").as_bytes(), random);
            assert_eq!(raw.as_deref(), Ok(s(&v["expected"], "encrypt")), "{id}");
            let back = crypto
                .decrypt(s(&v["expected"], "encrypt"))
                .expect("decrypts");
            assert_eq!(back, s(v, "plaintext").as_bytes(), "{id}");
        }
        other => panic!("{id}: unknown op {other}"),
    }
}

#[test]
fn official_vectors() {
    let all = vectors(OFFICIAL);
    assert_eq!(all.len(), 8);
    all.iter().for_each(run);
}

#[test]
fn protocol_reference_vectors() {
    let all = vectors(PROTOCOL);
    assert_eq!(all.len(), 4);
    all.iter().for_each(run);
}

#[test]
fn official_post_parses_to_the_documented_fields() {
    // doc 91144: a text message "hello" from "mycreate", MsgId 4561255354251345929.
    let v = vectors(OFFICIAL)
        .into_iter()
        .find(|v| v["id"] == "wecom-sample-php/decrypt-post")
        .expect("vector");
    let plain = crypto_for(&v)
        .decrypt_message(
            s(&v, "msg_signature"),
            s(&v, "timestamp"),
            s(&v, "nonce"),
            s(&v, "post_xml"),
        )
        .expect("decrypts");
    for field in [
        "<FromUserName><![CDATA[mycreate]]></FromUserName>",
        "<CreateTime>1409659813</CreateTime>",
        "<Content><![CDATA[hello]]></Content>",
        "<MsgId>4561255354251345929</MsgId>",
        "<AgentID>218</AgentID>",
    ] {
        assert!(plain.contains(field), "{field}");
    }
}

#[test]
fn every_vector_fails_with_the_wrong_receive_id_and_passes_with_skip() {
    for v in vectors(OFFICIAL).iter().filter(|v| v["op"] == "decrypt") {
        let strict =
            CallbackCrypto::new(s(v, "token"), s(v, "encoding_aes_key"), "ww-somebody-else")
                .expect("key");
        let args = (
            s(v, "msg_signature"),
            s(v, "timestamp"),
            s(v, "nonce"),
            s(v, "post_xml"),
        );
        assert_eq!(
            strict
                .decrypt_message(args.0, args.1, args.2, args.3)
                .map_err(|e| e.code()),
            Err(-40005)
        );
        let skip = strict.receive_id_policy(ReceiveIdPolicy::Skip);
        assert!(skip.decrypt_message(args.0, args.1, args.2, args.3).is_ok());
    }
}

#[test]
fn wrong_key_wrong_token_and_tampering_have_their_codes() {
    let v = vectors(OFFICIAL)
        .into_iter()
        .find(|v| v["id"] == "wecom-sample-php/decrypt-post")
        .expect("vector");
    let (sig, ts, nonce, body) = (
        s(&v, "msg_signature"),
        s(&v, "timestamp"),
        s(&v, "nonce"),
        s(&v, "post_xml"),
    );
    let wrong_token =
        CallbackCrypto::new("other", s(&v, "encoding_aes_key"), s(&v, "corp_id")).expect("key");
    assert_eq!(
        wrong_token
            .decrypt_message(sig, ts, nonce, body)
            .map_err(|e| e.code()),
        Err(-40001)
    );
    // Right token, wrong key: the signature passes, decryption does not.
    let wrong_key = CallbackCrypto::new(
        s(&v, "token"),
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        s(&v, "corp_id"),
    )
    .expect("key");
    let code = wrong_key
        .decrypt_message(sig, ts, nonce, body)
        .map_err(|e| e.code());
    assert!(matches!(code, Err(-40007 | -40008 | -40005)), "{code:?}");
    let ok = crypto_for(&v);
    assert_eq!(
        ok.decrypt_message(sig, "1409659814", nonce, body)
            .map_err(|e| e.code()),
        Err(-40001)
    );
    assert_eq!(
        ok.decrypt_message(sig, ts, nonce, "<xml>")
            .map_err(|e| e.code()),
        Err(-40002)
    );
}
