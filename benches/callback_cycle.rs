//! The whole auto-reply cycle — verify and decrypt, parse, match against 1 000 rules,
//! render, reply XML, encrypt and sign — on the 258-byte message of issue 5, next to the
//! plain cycle (the same without rules: a fixed text reply) and the crypto alone
//! (decrypt_message + encrypt_reply of the same bytes).
//!
//! Run with: `cargo bench -p wecom-sdk-benches --bench callback_cycle`

#![allow(
    clippy::expect_used,
    reason = "a benchmark with broken setup must stop"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wecom_sdk::crypto::CallbackCrypto;
use wecom_sdk::matcher::{Engine, RuleSet, RuleSetBuilder};
use wecom_sdk::message::callback::Message;
use wecom_sdk::message::reply::Reply;

#[path = "../examples/support/cycle.rs"]
#[allow(dead_code, reason = "shared with the example")]
mod cycle;
#[path = "support/rules.rs"]
#[allow(dead_code, reason = "shared with the matcher benchmark")]
mod support;

const TOKEN: &str = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";
const KEY: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";
const CORP: &str = "ww1436e0e65a779aee";
const TS: &str = "1700000000";
const NONCE: &str = "1597212914";
const MESSAGE: &str = "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>zhangsan</FromUserName><CreateTime>1700000000</CreateTime><MsgType>text</MsgType><Content>你好，明天几点开会？</Content><MsgId>7300000000000000001</MsgId><AgentID>1000002</AgentID></xml>";

fn bench(c: &mut Criterion) {
    assert_eq!(MESSAGE.len(), 258);
    // The shop's rules file plus generated rules: 1 000 in all.
    let shop = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/rules/shop.toml"
    ))
    .expect("shop rules");
    let shop_len = RuleSet::from_toml_str(&shop).expect("valid").len();
    let rules = RuleSetBuilder::from_toml_str(&shop)
        .expect("valid")
        .rules(support::rules(1_000 - shop_len))
        .build()
        .expect("1 000 valid rules");
    assert_eq!(rules.len(), 1_000);

    let bot = cycle::AutoReply {
        crypto: CallbackCrypto::new(TOKEN, KEY, CORP).expect("key"),
        engine: Engine::new(rules),
    };
    let encrypted = bot.crypto.encrypt(MESSAGE.as_bytes()).expect("encrypts");
    let signature = bot.crypto.signature(TS, NONCE, &encrypted);
    let body = format!(
        "<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>"
    );
    let outcome = bot.handle(&signature, TS, NONCE, &body).expect("handles");
    let reply = outcome.reply_xml.clone().expect("a rule answers");
    assert_eq!(
        outcome
            .hit
            .as_ref()
            .map(|h| h.rule_id().to_owned())
            .as_deref(),
        Some("fallback-closed")
    );

    let mut group = c.benchmark_group("callback_cycle");
    group.bench_function("full_cycle_1000_rules", |b| {
        b.iter(|| {
            bot.handle(black_box(&signature), TS, NONCE, black_box(&body))
                .expect("handles")
        });
    });
    // The plain cycle: no rules, a fixed text reply (what the issue-9 peers measure).
    let fixed = Reply::Text {
        content: "收到，我们会尽快回复您。".to_owned(),
    };
    group.bench_function("plain_cycle", |b| {
        b.iter(|| {
            let plain = bot
                .crypto
                .decrypt_message(black_box(&signature), TS, NONCE, black_box(&body))
                .expect("decrypts");
            let message = Message::from_xml(&plain).expect("parses");
            let xml = message.reply_xml(&fixed, message.header.create_time);
            bot.crypto.encrypt_reply(&xml, TS, NONCE).expect("encrypts")
        });
    });
    group.bench_function("crypto_only", |b| {
        b.iter(|| {
            let plain = bot
                .crypto
                .decrypt_message(black_box(&signature), TS, NONCE, black_box(&body))
                .expect("decrypts");
            let envelope = bot
                .crypto
                .encrypt_reply(black_box(&reply), TS, NONCE)
                .expect("encrypts");
            (plain, envelope)
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
