//! Message model cost: parsing a typical text callback and a large `change_contact`
//! event, and writing a passive reply, next to a naive baseline (a full quick-xml serde
//! deserialization into a flat struct, as peer SDKs do).
//!
//! Run with: `cargo bench -p wecom-sdk-benches --bench message`

#![allow(
    clippy::expect_used,
    reason = "a benchmark with broken setup must stop"
)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wecom_sdk::message::callback::Message;
use wecom_sdk::message::reply::{Article, Reply};

/// A typical text callback, about 300 bytes (CDATA as WeCom sends it).
const TEXT: &str = "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好，明天几点开会？请告诉我地址。]]></Content><MsgId>7300000000000000001</MsgId><AgentID>1000002</AgentID></xml>";

const CHANGE_CONTACT: &str =
    include_str!("../crates/message/tests/data/callback/event_change_contact_create_user.xml");

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("message");
    group.throughput(Throughput::Bytes(TEXT.len() as u64));
    group.bench_function("parse_text_300B", |b| {
        b.iter(|| Message::from_xml(black_box(TEXT)).expect("parses"));
    });
    group.throughput(Throughput::Bytes(CHANGE_CONTACT.len() as u64));
    group.bench_function("parse_change_contact", |b| {
        b.iter(|| Message::from_xml(black_box(CHANGE_CONTACT)).expect("parses"));
    });
    group.throughput(Throughput::Elements(1));
    let msg = Message::from_xml(TEXT).expect("parses");
    group.bench_function("dedup_key_text", |b| b.iter(|| black_box(&msg).dedup_key()));

    let text = Reply::text(
        "您好！我们的营业时间是周一至周五 9:00–18:00，周末 10:00–16:00。门店地址：上海市黄浦区人民广场 1 号。",
    );
    group.bench_function("to_xml_text", |b| {
        b.iter(|| black_box(&text).to_xml("zhangsan", "ww1436e0e65a779aee", 1_700_000_000));
    });
    let news = Reply::news(
        (0..3)
            .map(|i| Article {
                title: format!("第 {i} 篇：本周新品"),
                description: "限时优惠，先到先得".into(),
                pic_url: "https://example.com/p.png".into(),
                url: format!("https://example.com/a/{i}"),
            })
            .collect(),
    );
    group.bench_function("to_xml_news_3", |b| {
        b.iter(|| black_box(&news).to_xml("zhangsan", "ww1436e0e65a779aee", 1_700_000_000));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
