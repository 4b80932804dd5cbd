//! Callback crypto cost: `decrypt_message` and `encrypt_reply` for a 200-byte and a 4 KiB
//! message, each next to its raw floor (SHA1 + base64 + AES-256-CBC over the same bytes,
//! no framing, no XML, reused buffers).
//!
//! Run with: `cargo bench -p wecom-sdk-benches --bench crypto`

#![allow(
    clippy::expect_used,
    reason = "a benchmark with broken setup must stop"
)]

use std::hint::black_box;

use aes::Aes256;
use aes::cipher::{Array, BlockModeDecrypt, BlockModeEncrypt, InnerIvInit, KeyInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sha1::{Digest, Sha1};
use wecom_sdk::crypto::CallbackCrypto;

const TOKEN: &str = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";
const KEY: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";
const CORP: &str = "ww1436e0e65a779aee";
const TS: &str = "1700000000";
const NONCE: &str = "1597212914";

/// A text-message callback of exactly `len` bytes.
fn message(len: usize) -> String {
    let head = "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[";
    let tail = "]]></Content><MsgId>7300000000000000001</MsgId><AgentID>1000002</AgentID></xml>";
    let fill = len.saturating_sub(head.len() + tail.len());
    format!("{head}{}{tail}", "x".repeat(fill))
}

fn raw_key() -> [u8; 32] {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let mut out = [0u8; 33];
    let n = engine.decode_slice(KEY, &mut out).expect("key");
    assert_eq!(n, 32);
    out[..32].try_into().expect("32 bytes")
}

fn sha1_sorted(parts: [&[u8]; 4]) -> [u8; 20] {
    let mut parts = parts;
    parts.sort_unstable();
    let mut sha = Sha1::new();
    for p in parts {
        sha.update(p);
    }
    sha.finalize().into()
}

fn bench(c: &mut Criterion) {
    let crypto = CallbackCrypto::new(TOKEN, KEY, CORP).expect("key");
    let key = raw_key();
    let cipher = Aes256::new_from_slice(&key).expect("key");
    let iv = Array::from(<[u8; 16]>::try_from(&key[..16]).expect("iv"));

    for (name, len) in [("200B", 200usize), ("4KiB", 4096)] {
        let plain = message(len);
        let encrypted = crypto.encrypt(plain.as_bytes()).expect("encrypts");
        let signature = crypto.signature(TS, NONCE, &encrypted);
        let body = format!(
            "<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>"
        );
        let frame_len = STANDARD.decode(&encrypted).expect("b64").len();

        let mut group = c.benchmark_group(format!("crypto/{name}"));
        group.throughput(Throughput::Bytes(len as u64));

        group.bench_function("decrypt_message", |b| {
            b.iter(|| {
                crypto
                    .decrypt_message(black_box(&signature), TS, NONCE, black_box(&body))
                    .expect("ok")
            });
        });
        let mut buf = vec![0u8; frame_len + 3];
        group.bench_function("decrypt_floor", |b| {
            b.iter(|| {
                let digest = sha1_sorted([
                    TOKEN.as_bytes(),
                    TS.as_bytes(),
                    NONCE.as_bytes(),
                    black_box(encrypted.as_bytes()),
                ]);
                let n = STANDARD
                    .decode_slice(black_box(&encrypted), &mut buf)
                    .expect("b64");
                let mut dec = cbc::Decryptor::<Aes256>::inner_iv_init(cipher.clone(), &iv);
                let (blocks, _) = Array::slice_as_chunks_mut(&mut buf[..n]);
                dec.decrypt_blocks(blocks);
                black_box((digest, &buf));
            });
        });

        group.bench_function("encrypt_reply", |b| {
            b.iter(|| {
                crypto
                    .encrypt_reply(black_box(&plain), TS, NONCE)
                    .expect("ok")
            });
        });
        let mut frame = vec![7u8; frame_len];
        let mut out = String::with_capacity(frame_len * 2);
        group.bench_function("encrypt_floor", |b| {
            b.iter(|| {
                let mut enc = cbc::Encryptor::<Aes256>::inner_iv_init(cipher.clone(), &iv);
                let (blocks, _) = Array::slice_as_chunks_mut(&mut frame);
                enc.encrypt_blocks(blocks);
                out.clear();
                STANDARD.encode_string(black_box(&frame), &mut out);
                let digest = sha1_sorted([
                    TOKEN.as_bytes(),
                    TS.as_bytes(),
                    NONCE.as_bytes(),
                    out.as_bytes(),
                ]);
                black_box((digest, &out));
            });
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
