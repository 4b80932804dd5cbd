//! The keyword index: exact keywords in a hash map, contains and prefix keywords in one
//! Aho-Corasick automaton, and regexes behind a literal prefilter: the literals each
//! regex's matches must start (or end) with go into a second automaton over the
//! case-kept text, and only the regexes whose literal was seen run — each compiled
//! once. Regexes without a usable literal (rare; the rule set warns) run on every
//! message. A message is scanned once per automaton, whatever the number of rules.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::Regex;
use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};

use crate::rule::MatchMode;

/// A regex keyword, compiled on first use. Loading checks that it compiles within its
/// size limit and drops the compiled form: a compiled keyword regex with Unicode classes
/// takes hundreds of KB, so a process holds compiled only the regexes its messages
/// needed (a rule set of 100 000 rules with 5 % regexes took 1.9 GB compiled up front).
#[derive(Debug)]
pub(crate) struct LazyRegex {
    pattern: Box<str>,
    size_limit: usize,
    compiled: OnceLock<Option<Regex>>,
}

impl LazyRegex {
    /// A regex that [`build_regex`] accepted.
    pub(crate) fn new(pattern: &str, size_limit: usize) -> Self {
        Self {
            pattern: pattern.into(),
            size_limit,
            compiled: OnceLock::new(),
        }
    }

    /// The compiled regex (compiled now if it is the first use).
    pub(crate) fn get(&self) -> Option<&Regex> {
        self.compiled
            .get_or_init(|| build_regex(&self.pattern, self.size_limit).ok())
            .as_ref()
    }
}

/// The lazy DFA cache each regex may grow to while matching (the regex crate's default,
/// 2 MiB, times thousands of keyword regexes would be gigabytes).
const REGEX_DFA_CACHE_BYTES: usize = 256 * 1024;

/// Compiles a keyword regex within `size_limit` bytes.
pub(crate) fn build_regex(pattern: &str, size_limit: usize) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(size_limit)
        .dfa_size_limit(REGEX_DFA_CACHE_BYTES)
        .build()
}

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
    automaton: Automata,
    /// By pattern id: the keywords with that (deduplicated) text and whether each is a prefix.
    pattern_refs: Vec<Vec<(KwRef, bool)>>,
    /// Every regex keyword, compiled once on first use (shared with its rule, which
    /// captures with it).
    regexes: Vec<(Arc<LazyRegex>, KwRef)>,
    /// The prefilter: literals that regexes need, over the case-kept text.
    literals: Automata,
    /// By literal id: the regexes (indices into `regexes`) that need it.
    literal_regexes: Vec<Vec<u32>>,
    /// Regexes with no usable literal: tried on every message.
    always: Vec<u32>,
}

/// Collects keywords, then builds the index.
#[derive(Debug, Default)]
pub(crate) struct IndexBuilder {
    exact: HashMap<Box<str>, Vec<KwRef>>,
    patterns: HashMap<String, usize>,
    pattern_refs: Vec<Vec<(KwRef, bool)>>,
    regexes: Vec<(Arc<LazyRegex>, KwRef)>,
    literals: HashMap<Vec<u8>, usize>,
    literal_regexes: Vec<Vec<u32>>,
    always: Vec<u32>,
}

/// The automaton over the patterns (none when there are none).
#[derive(Debug, Clone, Default)]
struct Automata(Option<AhoCorasick>);

impl Automata {
    /// Every (overlapping) match in `haystack`: `(pattern id, start)`.
    fn matches<'a>(&'a self, haystack: &'a str) -> impl Iterator<Item = (usize, usize)> + 'a {
        self.0
            .iter()
            .flat_map(move |ac| ac.find_overlapping_iter(haystack))
            .map(|m| (m.pattern().as_usize(), m.start()))
    }
}

/// Up to this many patterns and [`DFA_MAX_BYTES`], the automaton is a DFA (fastest to
/// search); beyond, a contiguous NFA, whose build stays linear in the patterns' size
/// where a DFA's takes minutes and gigabytes.
const DFA_MAX_PATTERNS: usize = 2_000;
/// See [`DFA_MAX_PATTERNS`].
const DFA_MAX_BYTES: usize = 64 * 1024;

impl IndexBuilder {
    /// Adds an exact, contains or prefix keyword; `text` is already normalized.
    pub(crate) fn add(&mut self, at: KwRef, text: &str, mode: MatchMode) {
        match mode {
            MatchMode::Exact => self.exact.entry(text.into()).or_default().push(at),
            // Regexes come through `add_regex` (one that did not compile is an error).
            MatchMode::Regex => {}
            MatchMode::Contains | MatchMode::Prefix => {
                let next = self.pattern_refs.len();
                let id = *self.patterns.entry(text.to_owned()).or_insert(next);
                if id == next {
                    self.pattern_refs.push(Vec::new());
                }
                self.pattern_refs[id].push((at, mode == MatchMode::Prefix));
            }
        }
    }

    /// Adds a regex keyword (compiled from `pattern`). Returns `false` when the regex
    /// has no literal every match must start or end with: it will run on every message.
    pub(crate) fn add_regex(&mut self, at: KwRef, regex: Arc<LazyRegex>, pattern: &str) -> bool {
        let index = u32::try_from(self.regexes.len()).unwrap_or(u32::MAX);
        self.regexes.push((regex, at));
        let Some(literals) = required_literals(pattern) else {
            self.always.push(index);
            return false;
        };
        for literal in literals {
            let next = self.literal_regexes.len();
            let id = *self.literals.entry(literal).or_insert(next);
            if id == next {
                self.literal_regexes.push(Vec::new());
            }
            if self.literal_regexes[id].last() != Some(&index) {
                self.literal_regexes[id].push(index);
            }
        }
        true
    }

    /// Builds the automata.
    ///
    /// # Errors
    /// An automaton could not be built (size limits), as text.
    pub(crate) fn build(self) -> Result<KeywordIndex, String> {
        let automaton = build_automaton(
            self.patterns
                .into_iter()
                .map(|(p, id)| (p.into_bytes(), id)),
        )
        .map_err(|e| format!("keyword automaton: {e}"))?;
        let literals =
            build_automaton(self.literals).map_err(|e| format!("regex literal automaton: {e}"))?;
        Ok(KeywordIndex {
            exact: self.exact,
            automaton,
            pattern_refs: self.pattern_refs,
            regexes: self.regexes,
            literals,
            literal_regexes: self.literal_regexes,
            always: self.always,
        })
    }
}

/// The automaton over `patterns` (bytes, id), pattern `i` at id `i`; its kind chosen by
/// size so that building stays linear in the patterns' size. (aho-corasick 1.1.5 still
/// spends time growing with the square of the states on sets of very many short
/// patterns with shared prefixes — `Remapper::remap`; splitting the automaton trades
/// that for a scan per part, which costs real rule sets far more.)
fn build_automaton(
    patterns: impl IntoIterator<Item = (Vec<u8>, usize)>,
) -> Result<Automata, aho_corasick::BuildError> {
    let mut by_id: Vec<(Vec<u8>, usize)> = patterns.into_iter().collect();
    if by_id.is_empty() {
        return Ok(Automata(None));
    }
    by_id.sort_unstable_by_key(|(_, id)| *id);
    let bytes: usize = by_id.iter().map(|(p, _)| p.len()).sum();
    let kind = if by_id.len() <= DFA_MAX_PATTERNS && bytes <= DFA_MAX_BYTES {
        AhoCorasickKind::DFA
    } else {
        AhoCorasickKind::ContiguousNFA
    };
    AhoCorasick::builder()
        .match_kind(MatchKind::Standard)
        .kind(Some(kind))
        .build(by_id.iter().map(|(p, _)| p))
        .map(|ac| Automata(Some(ac)))
}

/// Literals one of which every match of `pattern` starts with (or, failing that, ends
/// with); `None` when there is no such finite set without the empty string.
fn required_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    let usable = |seq: Seq| -> Option<Vec<Vec<u8>>> {
        let literals = seq.literals()?;
        if literals.is_empty()
            || literals
                .iter()
                .any(regex_syntax::hir::literal::Literal::is_empty)
        {
            return None;
        }
        Some(literals.iter().map(|l| l.as_bytes().to_vec()).collect())
    };
    let mut extractor = Extractor::new();
    usable(extractor.kind(ExtractKind::Prefix).extract(&hir))
        .or_else(|| usable(extractor.kind(ExtractKind::Suffix).extract(&hir)))
}

impl KeywordIndex {
    /// Every keyword matching: `folded` is the normalized text, `clean` the same without
    /// case folding (what regexes see).
    pub(crate) fn search(&self, folded: &str, clean: &str, out: &mut Vec<KwRef>) {
        if let Some(refs) = self.exact.get(folded) {
            out.extend_from_slice(refs);
        }
        for (pattern, start) in self.automaton.matches(folded) {
            for &(at, prefix) in &self.pattern_refs[pattern] {
                if !prefix || start == 0 {
                    out.push(at);
                }
            }
        }
        if self.regexes.is_empty() {
            return;
        }
        let mut candidates: Vec<u32> = self.always.clone();
        for (literal, _) in self.literals.matches(clean) {
            candidates.extend_from_slice(&self.literal_regexes[literal]);
        }
        candidates.sort_unstable();
        candidates.dedup();
        for i in candidates {
            let (regex, at) = &self.regexes[i as usize];
            if regex.get().is_some_and(|r| r.is_match(clean)) {
                out.push(*at);
            }
        }
    }

    /// Whether there are regex keywords (so callers know to compute `clean`).
    pub(crate) fn has_regex(&self) -> bool {
        !self.regexes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::required_literals;

    fn lits(p: &str) -> Option<Vec<String>> {
        required_literals(p).map(|l| {
            l.into_iter()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .collect()
        })
    }

    #[test]
    fn keyword_regexes_have_literals() {
        assert_eq!(
            lits(r"快递\d{6}(?P<code>[A-Z]{2}\d{4})"),
            Some(vec!["快递".into()])
        );
        let carriers = lits(r"(?P<carrier>SF|YT|ZTO)(?P<no>\d{10,12})").unwrap();
        assert_eq!(carriers.len(), 3);
        assert!(
            carriers
                .iter()
                .all(|c| ["SF", "YT", "ZTO"].iter().any(|w| c.starts_with(w)))
        );
        // No prefix, but a suffix.
        assert!(lits(r"\d+元").is_some_and(|l| l.iter().all(|s| s.ends_with('元'))));
        // Nothing every match needs.
        assert_eq!(lits(r"\d+"), None);
        assert_eq!(lits(r"a*"), None);
        assert_eq!(lits(r"(a|)"), None);
    }
}
