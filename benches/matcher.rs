//! Rule matching cost: `Engine::find` on 200-character messages against 100, 1 000,
//! 10 000 and 100 000 rules, next to a naive baseline that tests each rule in turn (as
//! peer SDKs do), and compiling 10 000 and 100 000 rules.
//!
//! Each iteration takes the next of 64 different messages (each with a keyword of a
//! different rule), as a bot receives them: one message repeated keeps the automaton
//! states it walks in the CPU cache, which at 10 000 rules hid 40 % of the cost
//! (`engine_one_message` shows that best case).
//!
//! Run with: `cargo bench -p wecom-sdk-benches --bench matcher`

#![allow(
    clippy::expect_used,
    reason = "a benchmark with broken setup must stop"
)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use regex::Regex;
use wecom_sdk::matcher::{Engine, Incoming, MatchMode, Normalizer, Rule, RuleSet};

#[path = "support/rules.rs"]
mod support;
use support::{Lcg, rules};

/// A 200-character message that contains the first keyword of rule `at`.
fn message(rules: &[Rule], at: usize, seed: u64) -> String {
    let mut rng = Lcg(seed);
    let keyword = &rules[at].keywords[0].text;
    let mut text = rng.cjk(120);
    text.push_str(keyword);
    text.push_str(&rng.cjk(200 - 120 - keyword.chars().count()));
    text
}

/// 64 messages, each with a keyword of a different `contains` rule spread over the set.
fn messages(rules: &[Rule]) -> Vec<(String, usize)> {
    let step = rules.len() / 64;
    (0..64)
        .map(|j| {
            // Rules whose index is 0..=13 mod 20 are `contains` rules.
            let at = (j * step) / 20 * 20 + j % 14;
            (message(rules, at, 7 + j as u64), at)
        })
        .collect()
}

/// A keyword as the baseline holds it.
type NaiveKeyword = (String, MatchMode, Option<Regex>);

/// The baseline: normalize, then test every keyword of every rule in order.
struct Naive {
    rules: Vec<(Vec<NaiveKeyword>, i32)>,
    normalizer: Normalizer,
}

impl Naive {
    fn new(rules: &[Rule]) -> Self {
        let normalizer = Normalizer::new();
        let rules = rules
            .iter()
            .map(|r| {
                let kws = r
                    .keywords
                    .iter()
                    .map(|k| match k.mode {
                        MatchMode::Regex => (k.text.clone(), k.mode, Regex::new(&k.text).ok()),
                        _ => (normalizer.normalize(&k.text), k.mode, None),
                    })
                    .collect();
                (kws, r.priority)
            })
            .collect();
        Self { rules, normalizer }
    }

    fn find(&self, text: &str) -> Option<usize> {
        let text = self.normalizer.normalize(text);
        let mut best: Option<(usize, i32)> = None;
        for (i, (kws, priority)) in self.rules.iter().enumerate() {
            let hit = kws.iter().any(|(k, mode, re)| match mode {
                MatchMode::Exact => text == *k,
                MatchMode::Prefix => text.starts_with(k.as_str()),
                MatchMode::Regex => re.as_ref().is_some_and(|re| re.is_match(&text)),
                _ => text.contains(k.as_str()),
            });
            if hit && best.is_none_or(|(_, p)| *priority > p) {
                best = Some((i, *priority));
            }
        }
        best.map(|(i, _)| i)
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("matcher/find_200_chars");
    for n in [100usize, 1_000, 10_000, 100_000] {
        let defs = rules(n);
        let texts = messages(&defs);
        let engine = Engine::new(RuleSet::new(defs.clone()).expect("valid rules"));
        let incomings: Vec<Incoming> = texts
            .iter()
            .map(|(text, _)| Incoming::new("zhangsan", text.clone()).nickname("张三"))
            .collect();
        for (incoming, (_, at)) in incomings.iter().zip(&texts) {
            let hit = engine.find(incoming).expect("the planted keyword fires");
            // The planted rule, or a higher-priority one that a random text also hit.
            assert!(hit.priority >= defs[*at].priority);
        }
        let mut next = 0;
        group.bench_with_input(BenchmarkId::new("engine", n), &incomings, |b, incs| {
            b.iter(|| {
                next = (next + 1) % incs.len();
                engine.find(black_box(&incs[next]))
            });
        });
        group.bench_with_input(
            BenchmarkId::new("engine_one_message", n),
            &incomings[0],
            |b, inc| b.iter(|| engine.find(black_box(inc))),
        );
        if n <= 10_000 {
            let naive = Naive::new(&defs);
            for (text, at) in &texts {
                let found = naive.find(text).expect("the planted keyword fires");
                assert!(defs[found].priority >= defs[*at].priority);
            }
            group.bench_with_input(
                BenchmarkId::new("naive_per_rule_scan", n),
                &texts,
                |b, texts| {
                    b.iter(|| {
                        next = (next + 1) % texts.len();
                        naive.find(black_box(&texts[next].0))
                    });
                },
            );
        }
    }
    group.finish();

    let mut group = c.benchmark_group("matcher/compile");
    group.sample_size(10);
    for n in [10_000usize, 100_000] {
        let defs = rules(n);
        group.bench_function(format!("{n}_rules"), |b| {
            b.iter(|| RuleSet::new(black_box(defs.clone())).expect("valid"));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
