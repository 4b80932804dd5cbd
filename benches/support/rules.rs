//! Generated rule sets for benchmarks: realistic CJK keywords, deterministic.

use wecom_sdk::matcher::{Keyword, MatchMode, Rule};

/// A deterministic generator of CJK text.
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    /// The next pseudo-random number.
    pub(crate) fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        u32::try_from(self.0 >> 33).unwrap_or(0)
    }

    /// `len` CJK characters.
    pub(crate) fn cjk(&mut self, len: usize) -> String {
        (0..len)
            .filter_map(|_| char::from_u32(0x4E00 + self.next() % 0x51A5))
            .collect()
    }
}

/// `n` rules as large rule sets are written: 70% `contains`, 15% `exact`, 10% `prefix`
/// (two keywords each) and 5% regex rules of the shapes the docs teach
/// (`快递\d{6}(?P<code>[A-Z]{2}\d{4})`, `(?P<no>SF\d{10})`, each with its own literal) —
/// never capped, so every cost real rule sets have is in the figure.
pub(crate) fn rules(n: usize) -> Vec<Rule> {
    let mut rng = Lcg(42);
    (0..n)
        .map(|i| {
            let mut rule = Rule::new(format!("r{i}"), format!("rule {i}"))
                .priority(i32::try_from(i % 7).unwrap_or(0));
            let mode = match i % 20 {
                0..=13 => MatchMode::Contains,
                14..=16 => MatchMode::Exact,
                17..=18 => MatchMode::Prefix,
                _ => MatchMode::Regex,
            };
            if mode == MatchMode::Regex {
                let pattern = if i % 40 == 19 {
                    format!(r"{}\d{{6}}(?P<code>[A-Z]{{2}}\d{{4}})", rng.cjk(2))
                } else {
                    let a = char::from(b'A' + u8::try_from(rng.next() % 26).unwrap_or(0));
                    let b = char::from(b'A' + u8::try_from(rng.next() % 26).unwrap_or(0));
                    format!(r"(?P<no>{a}{b}\d{{10}})")
                };
                rule = rule.regex(pattern);
            } else {
                for _ in 0..2 {
                    let len = 2 + (rng.next() % 4) as usize;
                    rule = rule.keyword(Keyword::new(rng.cjk(len), mode));
                }
            }
            rule.reply(format!("答复 {i}：{{nickname}} 您好"))
        })
        .collect()
}
