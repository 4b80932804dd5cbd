//! Rule matching cost: `Engine::find` on a 200-character message against 100, 1 000,
//! 10 000 and 100 000 rules, next to a naive baseline that tests each rule in turn (as
//! peer SDKs do), and compiling 10 000 rules.
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

/// A 200-character message that contains one keyword of the middle rule.
fn message(rules: &[Rule]) -> String {
    let mut rng = Lcg(7);
    let keyword = &rules[rules.len() / 2].keywords[0].text;
    let mut text = rng.cjk(120);
    text.push_str(keyword);
    text.push_str(&rng.cjk(200 - 120 - keyword.chars().count()));
    text
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
        let text = message(&defs);
        let engine = Engine::new(RuleSet::new(defs.clone()).expect("valid rules"));
        let incoming = Incoming::new("zhangsan", text.clone()).nickname("张三");
        let expected = format!("r{}", n / 2);
        assert_eq!(
            engine.find(&incoming).map(|h| h.rule_id().to_owned()),
            Some(expected)
        );
        group.bench_with_input(BenchmarkId::new("engine", n), &incoming, |b, inc| {
            b.iter(|| engine.find(black_box(inc)));
        });
        if n <= 10_000 {
            let naive = Naive::new(&defs);
            assert_eq!(naive.find(&text), Some(n / 2));
            group.bench_with_input(BenchmarkId::new("naive_per_rule_scan", n), &text, |b, t| {
                b.iter(|| naive.find(black_box(t)));
            });
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
