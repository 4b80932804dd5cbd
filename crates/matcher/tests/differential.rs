//! The engine picks the same winner as a naive per-rule evaluation, on generated rule
//! sets of every mode mix — regexes with and without literals, alternations,
//! case-insensitive flags and Unicode classes included (the prefilter must never drop a
//! regex that matches).

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

use proptest::prelude::*;
use wecom_sdk_matcher::{Engine, Incoming, MatchMode, Rule, RuleSet};

const WORDS: [&str; 12] = [
    "快递",
    "退款",
    "营业时间",
    "sf",
    "价格",
    "地址",
    "你好",
    "投诉",
    "manager",
    "订单",
    "几点",
    "a",
];
const REGEXES: [&str; 15] = [
    r"快递\d{3}",
    r"(?P<c>SF|YT)\d{4}",
    r"(?i)\bmanager\b",
    r"\d+元",
    r"\d{5}",
    r"订单(?P<no>\d+)",
    r"[a-z]+@x",
    r"\w{3}号",
    r"(?i)sf\d",
    r"(退款|退货).*理由",
    r"^你好",
    r"几点$",
    // Case outside ASCII: the literal is prefiltered folded, the regex runs case-kept.
    r"ΩMEGA\d",
    r"(?i)ωmega\d",
    // A literal longer than the extractor keeps: cut to whole characters.
    r"营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间",
];
const FRAGMENTS: [&str; 19] = [
    "快递",
    "123",
    "SF1234",
    "MANAGER",
    "manager",
    "12元",
    "订单88",
    "退款",
    "理由",
    "你好",
    "几点",
    "营业时间",
    "ab@x",
    "三号楼号",
    " ",
    "Ａ",
    "ΩMEGA7",
    "ωmega7",
    "营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间营业时间",
];

#[derive(Debug, Clone)]
struct Kw {
    mode: u8,
    text: usize,
}

fn rule_strategy() -> impl Strategy<Value = (i32, Vec<Kw>)> {
    (
        -2i32..3,
        proptest::collection::vec(
            (0u8..4, 0usize..REGEXES.len()).prop_map(|(mode, text)| Kw { mode, text }),
            1..4,
        ),
    )
}

fn build(rules: &[(i32, Vec<Kw>)]) -> Vec<Rule> {
    rules
        .iter()
        .enumerate()
        .map(|(i, (priority, kws))| {
            let mut r = Rule::new(format!("r{i}"), format!("rule {i}")).priority(*priority);
            for kw in kws {
                r = match kw.mode {
                    0 => r.exact(WORDS[kw.text % WORDS.len()]),
                    1 => r.contains(WORDS[kw.text % WORDS.len()]),
                    2 => r.prefix(WORDS[kw.text % WORDS.len()]),
                    _ => r.regex(REGEXES[kw.text]),
                };
            }
            r.reply("x")
        })
        .collect()
}

/// The naive reference: rules by priority (then order), the first with a matching keyword.
fn naive(set: &RuleSet, text: &str) -> Option<String> {
    let n = set.normalizer();
    let folded = n.normalize(text);
    let clean = n.normalize_keep_case(text);
    let mut rules: Vec<(usize, &Rule)> = set.rules().enumerate().collect();
    rules.sort_by_key(|(i, r)| (std::cmp::Reverse(r.priority), *i));
    rules
        .into_iter()
        .find(|(_, r)| {
            r.keywords.iter().any(|k| match k.mode {
                MatchMode::Exact => folded == n.normalize(&k.text),
                MatchMode::Contains => folded.contains(&n.normalize(&k.text)),
                MatchMode::Prefix => folded.starts_with(&n.normalize(&k.text)),
                _ => regex::Regex::new(&k.text).unwrap().is_match(&clean),
            })
        })
        .map(|(_, r)| r.id.clone())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_engine_agrees_with_the_naive_scan(
        rules in proptest::collection::vec(rule_strategy(), 1..25),
        messages in proptest::collection::vec(proptest::collection::vec(0usize..FRAGMENTS.len(), 0..6), 1..8),
    ) {
        let set = RuleSet::new(build(&rules)).unwrap();
        let engine = Engine::new(set.clone());
        for parts in messages {
            let text: String = parts.iter().map(|&i| FRAGMENTS[i]).collect();
            let got = engine.find(&Incoming::new("u", text.clone())).map(|h| h.rule_id().to_owned());
            prop_assert_eq!(got, naive(&set, &text), "message {:?}", text);
        }
    }
}
