//! The bot runtime per message, in process (no socket): an app callback and an AI-bot
//! callback through `Bot::handle` / `Bot::handle_ai_bot` — verify, decrypt, parse, dedup
//! (a fresh message each time), profile-less pipeline against 1 000 rules, reply,
//! encrypt — and WeCom's stream-refresh poll of an AI-bot stream (the request WeCom
//! repeats about once a second for every answer still growing).
//!
//! Run with: `cargo bench -p wecom-sdk-benches --bench bot`

#![allow(
    clippy::expect_used,
    reason = "a benchmark with broken setup must stop"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wecom_sdk::bot::{AiBot, Bot, CallbackRequest, StreamState, StreamStore};
use wecom_sdk::crypto::CallbackCrypto;
use wecom_sdk::matcher::{Engine, RuleSet, RuleSetBuilder};

#[path = "support/rules.rs"]
#[allow(dead_code, reason = "shared with the matcher benchmark")]
mod support;

const TOKEN: &str = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";
const KEY: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";
const CORP: &str = "ww1436e0e65a779aee";
/// Distinct messages cycled through; the dedup store keeps fewer, so each is fresh.
const POOL: usize = 2048;

fn rules() -> RuleSet {
    let shop = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/rules/shop.toml"
    ))
    .expect("shop rules");
    let shop_len = RuleSet::from_toml_str(&shop).expect("valid").len();
    RuleSetBuilder::from_toml_str(&shop)
        .expect("valid")
        .rules(support::rules(1_000 - shop_len))
        .build()
        .expect("1 000 valid rules")
}

/// A signed POST of `plain` encrypted with `crypto`, in the envelope `wrap` makes.
fn post(crypto: &CallbackCrypto, plain: &str, wrap: impl Fn(&str) -> String) -> CallbackRequest {
    let encrypted = crypto.encrypt(plain.as_bytes()).expect("encrypts");
    let signature = crypto.signature("1700000000", "1597212914", &encrypted);
    CallbackRequest::post(
        format!("msg_signature={signature}&timestamp=1700000000&nonce=1597212914"),
        wrap(&encrypted),
    )
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let engine = std::sync::Arc::new(Engine::new(rules()));
    let streams = std::sync::Arc::new(wecom_sdk::bot::MemoryStreamStore::default());
    let bot = Bot::builder()
        .callback(TOKEN, KEY, CORP)
        .shared_engine(engine)
        .ai_bot(AiBot::callback(TOKEN, KEY).streams(streams.clone()))
        .dedup_capacity(POOL / 2)
        .build()
        .expect("bot");
    let app = CallbackCrypto::new(TOKEN, KEY, CORP).expect("key");
    let ai = CallbackCrypto::new(TOKEN, KEY, "").expect("key");
    let app_posts: Vec<CallbackRequest> = (0..POOL)
        .map(|i| {
            let xml = format!("<xml><ToUserName>{CORP}</ToUserName><FromUserName>zhangsan</FromUserName><CreateTime>1700000000</CreateTime><MsgType>text</MsgType><Content>你好，明天几点开会？</Content><MsgId>{}</MsgId><AgentID>1000002</AgentID></xml>", 7_300_000_000_000_000_000_u64 + i as u64);
            post(&app, &xml, |e| format!("<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{e}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>"))
        })
        .collect();
    let ai_posts: Vec<CallbackRequest> = (0..POOL)
        .map(|i| {
            let json = format!(r#"{{"msgid":"ai-{i}","aibotid":"aib","chatid":"wrGroup","chattype":"group","from":{{"userid":"zhangsan"}},"create_time":1700000000,"response_url":"https://example.com/r","msgtype":"text","text":{{"content":"@小助手 你好，明天几点开会？"}}}}"#);
            post(&ai, &json, |e| format!(r#"{{"encrypt":"{e}"}}"#))
        })
        .collect();
    let first = rt.block_on(bot.handle_ai_bot(ai_posts[0].clone()));
    assert!(
        first.is_ok() && !first.body.is_empty(),
        "the AI bot answers"
    );
    let first = rt.block_on(bot.handle(app_posts[0].clone()));
    assert!(
        first.is_ok() && !first.body.is_empty(),
        "the app callback is answered"
    );

    // A growing stream WeCom polls.
    let mut state = StreamState::new(1_700_000_000_000);
    "**SF1234567890** 物流：\n- 已揽收（杭州）\n- 运输中（上海转运中心）"
        .clone_into(&mut state.content);
    rt.block_on(streams.put("default:s-1", &state, std::time::Duration::from_secs(600)))
        .expect("stored");
    let poll = post(
        &ai,
        r#"{"msgid":"poll-1","aibotid":"aib","chattype":"single","from":{"userid":"zhangsan"},"msgtype":"stream","stream":{"id":"s-1"}}"#,
        |e| format!(r#"{{"encrypt":"{e}"}}"#),
    );
    let polled = rt.block_on(bot.handle_ai_bot(poll.clone()));
    assert!(
        polled.is_ok() && !polled.body.is_empty(),
        "the poll is answered"
    );

    let mut group = c.benchmark_group("bot");
    let mut i = 0;
    group.bench_function("app_callback_1000_rules", |b| {
        b.iter(|| {
            i = (i + 1) % POOL;
            rt.block_on(bot.handle(black_box(app_posts[i].clone())))
        });
    });
    group.bench_function("aibot_callback_1000_rules", |b| {
        b.iter(|| {
            i = (i + 1) % POOL;
            rt.block_on(bot.handle_ai_bot(black_box(ai_posts[i].clone())))
        });
    });
    group.bench_function("aibot_stream_poll", |b| {
        b.iter(|| rt.block_on(bot.handle_ai_bot(black_box(poll.clone()))));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
