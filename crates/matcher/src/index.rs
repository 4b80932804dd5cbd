//! The keyword index: exact keywords in a hash map, contains and prefix keywords in one
//! Aho-Corasick automaton, regexes in one `RegexSet`. A message is scanned once,
//! whatever the number of rules.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::RegexSet;

use crate::rule::MatchMode;

/// A keyword of a rule: `(rule index, keyword index)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct KwRef {
    pub(crate) rule: u32,
    pub(crate) keyword: u16,
}

/// The index over every keyword of a rule set.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeywordIndex {
    exact: HashMap<Box<str>, Vec<KwRef>>,
    automaton: Option<AhoCorasick>,
    /// By pattern id: the keywords with that (deduplicated) text and whether each is a prefix.
    pattern_refs: Vec<Vec<(KwRef, bool)>>,
    regex_set: Option<RegexSet>,
    regex_refs: Vec<KwRef>,
}

/// Collects keywords, then builds the index.
#[derive(Debug, Default)]
pub(crate) struct IndexBuilder {
    exact: HashMap<Box<str>, Vec<KwRef>>,
    patterns: HashMap<String, usize>,
    pattern_refs: Vec<Vec<(KwRef, bool)>>,
    regexes: Vec<String>,
    regex_refs: Vec<KwRef>,
}

impl IndexBuilder {
    /// Adds a keyword; `text` is already normalized (patterns as written for regexes).
    pub(crate) fn add(&mut self, at: KwRef, text: &str, mode: MatchMode) {
        match mode {
            MatchMode::Exact => self.exact.entry(text.into()).or_default().push(at),
            MatchMode::Contains | MatchMode::Prefix => {
                let next = self.pattern_refs.len();
                let id = *self.patterns.entry(text.to_owned()).or_insert(next);
                if id == next {
                    self.pattern_refs.push(Vec::new());
                }
                self.pattern_refs[id].push((at, mode == MatchMode::Prefix));
            }
            MatchMode::Regex => {
                self.regexes.push(text.to_owned());
                self.regex_refs.push(at);
            }
        }
    }

    /// Builds the automaton and the regex set.
    ///
    /// # Errors
    /// The automaton or regex set could not be built (size limits), as text.
    pub(crate) fn build(self) -> Result<KeywordIndex, String> {
        let automaton = if self.pattern_refs.is_empty() {
            None
        } else {
            let mut by_id: Vec<(&str, usize)> = self
                .patterns
                .iter()
                .map(|(p, &id)| (p.as_str(), id))
                .collect();
            by_id.sort_unstable_by_key(|&(_, id)| id);
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(by_id.iter().map(|&(p, _)| p))
                    .map_err(|e| format!("keyword automaton: {e}"))?,
            )
        };
        let regex_set = if self.regexes.is_empty() {
            None
        } else {
            Some(RegexSet::new(&self.regexes).map_err(|e| format!("regex set: {e}"))?)
        };
        Ok(KeywordIndex {
            exact: self.exact,
            automaton,
            pattern_refs: self.pattern_refs,
            regex_set,
            regex_refs: self.regex_refs,
        })
    }
}

impl KeywordIndex {
    /// Every keyword matching: `folded` is the normalized text, `clean` the same without
    /// case folding (what regexes see).
    pub(crate) fn search(&self, folded: &str, clean: &str, out: &mut Vec<KwRef>) {
        if let Some(refs) = self.exact.get(folded) {
            out.extend_from_slice(refs);
        }
        if let Some(ac) = &self.automaton {
            for m in ac.find_overlapping_iter(folded) {
                for &(at, prefix) in &self.pattern_refs[m.pattern().as_usize()] {
                    if !prefix || m.start() == 0 {
                        out.push(at);
                    }
                }
            }
        }
        if let Some(set) = &self.regex_set {
            out.extend(set.matches(clean).iter().map(|i| self.regex_refs[i]));
        }
    }

    /// Whether there are regex keywords (so callers know to compute `clean`).
    pub(crate) fn has_regex(&self) -> bool {
        self.regex_set.is_some()
    }
}
