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

/// `n` rules: 60% contains, 30% exact, 10% prefix keywords (two each), plus one regex
/// rule per thousand (at most 20), as operators write them.
pub(crate) fn rules(n: usize) -> Vec<Rule> {
    let mut rng = Lcg(42);
    (0..n)
        .map(|i| {
            let mode = match i % 10 {
                0..=5 => MatchMode::Contains,
                6..=8 => MatchMode::Exact,
                _ => MatchMode::Prefix,
            };
            let mut rule = Rule::new(format!("r{i}"), format!("rule {i}"))
                .priority(i32::try_from(i % 7).unwrap_or(0));
            for _ in 0..2 {
                let len = 2 + (rng.next() % 4) as usize;
                rule = rule.keyword(Keyword::new(rng.cjk(len), mode));
            }
            if i % 1000 == 999 && i < 20_000 {
                rule = rule.regex(format!(r"单号(?P<no>[A-Z]{{2}}{i}\d{{6}})"));
            }
            rule.reply(format!("答复 {i}：{{nickname}} 您好"))
        })
        .collect()
}
