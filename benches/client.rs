//! The per-call cost of the token path on a warm cache: `Client::access_token` when the
//! token is cached and fresh, from one and from two threads at once (no lock is taken on
//! this path). Measured inside a current-thread runtime's `block_on`, whose own cost is
//! included (an upper bound).
//!
//! Run with: `cargo bench -p wecom-sdk-benches --bench client`

#![allow(
    clippy::expect_used,
    reason = "a benchmark with broken setup must stop"
)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use wecom_sdk::client::{AccessToken, CachedToken, Client, MemoryTokenStore, TokenStore};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = Arc::new(MemoryTokenStore::default());
    let client = Client::builder()
        .corp_id("ww1436e0e65a779aee")
        .secret("bench-secret")
        .base_url("http://127.0.0.1:9")
        .token_store(store.clone())
        .build()
        .expect("client");
    // Warm the cache the way a fetch would, without a server.
    let far = i64::MAX / 2;
    let seed = CachedToken {
        token: AccessToken::new("warm-token"),
        expires_at_ms: far,
        refresh_at_ms: far,
    };
    rt.block_on(store.put(
        &wecom_sdk::client::cache_key("ww1436e0e65a779aee", "bench-secret"),
        seed,
    ))
    .expect("seeded");
    assert_eq!(
        rt.block_on(client.access_token()).expect("warm").expose(),
        "warm-token"
    );

    let mut group = c.benchmark_group("client/token_warm");
    group.bench_function("one_thread", |b| {
        b.iter(|| {
            rt.block_on(black_box(&client).access_token())
                .expect("warm")
        });
    });
    group.bench_function("two_threads", |b| {
        b.iter_custom(|iters| {
            let start = std::time::Instant::now();
            std::thread::scope(|s| {
                for _ in 0..2 {
                    let client = client.clone();
                    s.spawn(move || {
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .build()
                            .expect("runtime");
                        for _ in 0..iters {
                            black_box(rt.block_on(client.access_token()).expect("warm"));
                        }
                    });
                }
            });
            // Per call: both threads did `iters` calls in this time.
            start.elapsed() / 2
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
