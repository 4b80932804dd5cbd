//! Property tests: encrypt/decrypt round trips around the 32-byte block edges, and no
//! corruption of a ciphertext or envelope ever panics.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test set-up failures should stop the test"
)]

use proptest::prelude::*;
use wecom_sdk_crypto::CallbackCrypto;

fn crypto() -> CallbackCrypto {
    CallbackCrypto::new(
        "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo",
        "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
        "ww1436e0e65a779aee",
    )
    .expect("valid key")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decrypt_inverts_encrypt(plain in proptest::collection::vec(any::<u8>(), 0..=200), random in any::<[u8; 16]>()) {
        let c = crypto();
        let enc = c.encrypt_with_random(&plain, random).expect("encrypts");
        prop_assert_eq!(c.decrypt(&enc).expect("decrypts"), plain);
    }

    #[test]
    fn every_single_byte_corruption_is_rejected_or_typed(
        plain in proptest::collection::vec(any::<u8>(), 0..=100),
        pos in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let c = crypto();
        let enc = c.encrypt(&plain).expect("encrypts");
        let sig = c.signature("1", "2", &enc);
        let mut raw = enc.into_bytes();
        let at = pos.index(raw.len());
        raw[at] ^= flip;
        let corrupted = String::from_utf8_lossy(&raw);
        // Without the signature: never a panic, and an error has an official code.
        if let Err(e) = c.decrypt(&corrupted) {
            prop_assert!((-40011..=-40001).contains(&e.code()));
        }
        // With the signature in front, every change is rejected.
        let body = format!("<xml><Encrypt><![CDATA[{corrupted}]]></Encrypt></xml>");
        prop_assert!(c.decrypt_message(&sig, "1", "2", &body).is_err());
    }

    #[test]
    fn reply_round_trips_through_decrypt_message(text in "\\PC{0,120}", ts in "[0-9]{1,12}", nonce in "[a-zA-Z0-9]{1,32}") {
        let c = crypto();
        let reply = c.encrypt_reply(&text, &ts, &nonce).expect("encrypts");
        let sig = reply.split("<MsgSignature><![CDATA[").nth(1).and_then(|r| r.get(..40)).expect("signature").to_owned();
        prop_assert_eq!(c.decrypt_message(&sig, &ts, &nonce, &reply).expect("decrypts"), text);
    }

    #[test]
    fn json_reply_round_trips(text in "\\PC{0,120}") {
        let c = crypto();
        let reply = c.encrypt_json_reply(&text, "1700000000", "abc").expect("encrypts");
        let v: serde_json::Value = serde_json::from_str(&reply).expect("json");
        let sig = v["msgsignature"].as_str().expect("sig");
        prop_assert_eq!(c.decrypt_json_message(sig, "1700000000", "abc", &reply).expect("decrypts"), text);
    }

    #[test]
    fn arbitrary_ciphertexts_and_bodies_never_panic(s in "\\PC{0,300}", b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let c = crypto();
        let _ = c.decrypt(&s);
        let _ = c.decrypt_message("0123456789012345678901234567890123456789", "1", "2", &s);
        let _ = c.decrypt_json_message("x", "1", "2", &s);
        let _ = c.verify_url("x", "1", "2", &s);
        let lossy = String::from_utf8_lossy(&b);
        let _ = c.decrypt_message("x", "1", "2", &lossy);
    }
}

/// Bypasses the signature (it is computed over the forged ciphertext) to reach the
/// decryption checks with forged plaintext frames: each gets its own code.
#[test]
fn forged_frames_get_their_typed_errors() {
    use aes::cipher::{BlockModeEncrypt, KeyIvInit};
    use base64::Engine as _;
    let c = crypto();
    let key = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    )
    .decode("6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt")
    .expect("key");
    let forge = |frame: &[u8]| -> String {
        let mut buf = frame.to_vec();
        let mut enc =
            cbc::Encryptor::<aes::Aes256>::new_from_slices(&key, &key[..16]).expect("sizes");
        let (blocks, tail) = aes::cipher::Array::slice_as_chunks_mut(&mut buf);
        assert!(tail.is_empty());
        enc.encrypt_blocks(blocks);
        base64::engine::general_purpose::STANDARD.encode(buf)
    };
    let decrypt = |frame: &[u8]| {
        let enc = forge(frame);
        let sig = c.signature("1", "2", &enc);
        c.verify_url(&sig, "1", "2", &enc).map_err(|e| e.code())
    };
    // Padding byte 0, 33, and inconsistent padding: -40007.
    assert_eq!(decrypt(&[0u8; 32]), Err(-40007));
    assert_eq!(decrypt(&[33u8; 64]), Err(-40007));
    let mut inconsistent = [4u8; 32];
    inconsistent[29] = 3;
    assert_eq!(decrypt(&inconsistent), Err(-40007));
    // Valid padding, frame shorter than the 20-byte header: -40008.
    assert_eq!(decrypt(&[16u8; 32]), Err(-40008));
    // Length prefix past the end: -40008.
    let mut long = vec![b'r'; 16];
    long.extend_from_slice(&1000u32.to_be_bytes());
    long.extend_from_slice(b"hi");
    long.resize(32, 10);
    assert_eq!(decrypt(&long), Err(-40008));
    // Non-UTF-8 message with the right receive id: -40008.
    let mut bad_utf8 = vec![b'r'; 16];
    bad_utf8.extend_from_slice(&2u32.to_be_bytes());
    bad_utf8.extend_from_slice(&[0xff, 0xfe]);
    bad_utf8.extend_from_slice(b"ww1436e0e65a779aee");
    let n = 64 - bad_utf8.len();
    bad_utf8.resize(64, u8::try_from(n).expect("small"));
    assert_eq!(decrypt(&bad_utf8), Err(-40008));
    // Ciphertext that is not whole AES blocks: -40007; not base64: -40010.
    let sig = c.signature("1", "2", "AAAA");
    assert_eq!(
        c.verify_url(&sig, "1", "2", "AAAA").map_err(|e| e.code()),
        Err(-40007)
    );
    let sig = c.signature("1", "2", "!!!");
    assert_eq!(
        c.verify_url(&sig, "1", "2", "!!!").map_err(|e| e.code()),
        Err(-40010)
    );
}
