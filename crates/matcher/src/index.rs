//! The keyword index: exact keywords in a hash map; contains and prefix keywords in one
//! Aho-Corasick automaton over the case-folded text; and regexes behind a literal
//! prefilter: the literals every match of a regex must start (or end) with, case-folded,
//! go into the same automaton, and only the regexes whose literal was seen run — each
//! compiled once, on first use, over the case-kept text. Regexes without a usable
//! literal (rare; the rule set warns) run on every message. A message is scanned once,
//! whatever the number of rules; from about 1 000 rules only the spans a
//! [`StartFilter`] picks.

use std::collections::HashMap;
use std::sync::Arc;

use crate::regex_keyword::LazyRegex;
use crate::rule::MatchMode;
use crate::start_filter::StartFilter;
use daachorse::errors::DaachorseError;
use daachorse::{CharwiseDoubleArrayAhoCorasick, CharwiseDoubleArrayAhoCorasickBuilder};

/// A keyword of a rule: `(rule index, keyword index)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct KwRef {
    pub(crate) rule: u32,
    pub(crate) keyword: u16,
}

/// What a pattern of the automaton stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// A contains keyword; a prefix keyword when `prefix` (it counts at the start only).
    Keyword { at: KwRef, prefix: bool },
    /// A literal that regex `regexes[i]` needs.
    Regex(u32),
}

/// The index over every keyword of a rule set.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeywordIndex {
    exact: HashMap<Box<str>, Vec<KwRef>>,
    /// The longest exact keyword, in bytes: longer texts skip the hash lookup.
    exact_max_len: usize,
    automaton: TextAutomaton,
    /// The parts of a message the automaton scans (all of it without a filter).
    filter: Option<StartFilter>,
    /// By pattern id: what the (deduplicated) pattern stands for.
    targets: Vec<Vec<Target>>,
    /// Every regex keyword, compiled once on first use (shared with its rule, which
    /// captures with it).
    regexes: Vec<(Arc<LazyRegex>, KwRef)>,
    /// Regexes with no usable literal: tried on every message.
    always: Vec<u32>,
}

/// Collects keywords, then builds the index.
#[derive(Debug, Default)]
pub(crate) struct IndexBuilder {
    exact: HashMap<Box<str>, Vec<KwRef>>,
    patterns: HashMap<String, usize>,
    targets: Vec<Vec<Target>>,
    regexes: Vec<(Arc<LazyRegex>, KwRef)>,
    always: Vec<u32>,
}

/// An Aho-Corasick automaton over patterns, pattern `i` reporting `i`, searched
/// character by character.
///
/// daachorse's double array: its build is linear in the patterns' size (aho-corasick
/// 1.1's took 40 s for 100 000 short keywords with shared prefixes, and minutes for one
/// long keyword as a DFA), and it searches CJK text 2-3 times faster. Its 2-gram
/// prefilter is off: on CJK text it skips little and costs a third of the search.
#[derive(Clone, Default)]
struct TextAutomaton(Option<CharwiseDoubleArrayAhoCorasick<u32>>);

impl TextAutomaton {
    /// The automaton over `patterns`, pattern `i` reporting `i` (empty patterns match
    /// nothing; duplicates each report).
    ///
    /// # Errors
    /// The automaton would exceed daachorse's scale (2^24 patterns or states).
    fn build<'p>(patterns: impl IntoIterator<Item = &'p str>) -> Result<Self, DaachorseError> {
        let patvals: Vec<(&str, u32)> = patterns
            .into_iter()
            .zip(0u32..)
            .filter(|(p, _)| !p.is_empty())
            .collect();
        if patvals.is_empty() {
            return Ok(Self(None));
        }
        CharwiseDoubleArrayAhoCorasickBuilder::new()
            .use_prefilter(false)
            .build_with_values(patvals)
            .map(|a| Self(Some(a)))
    }

    /// Its number of states.
    fn states(&self) -> usize {
        self.0
            .as_ref()
            .map_or(0, CharwiseDoubleArrayAhoCorasick::num_states)
    }

    /// Every (overlapping) match in `haystack`: `(pattern, start byte)`.
    fn matches<'a>(&'a self, haystack: &'a str) -> impl Iterator<Item = (usize, usize)> + 'a {
        self.0
            .iter()
            .flat_map(move |a| a.find_overlapping_iter(haystack))
            .map(|m| (m.value() as usize, m.start()))
    }
}

/// From this many states (48 KB of them, a first-level data cache) the start filter
/// pays for its pass; about 1 000 rules.
const FILTER_MIN_STATES: usize = 4_096;

impl std::fmt::Debug for TextAutomaton {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextAutomaton")
            .field("states", &self.states())
            .finish()
    }
}

impl IndexBuilder {
    /// Adds an exact, contains or prefix keyword; `text` is already normalized.
    pub(crate) fn add(&mut self, at: KwRef, text: &str, mode: MatchMode) {
        match mode {
            MatchMode::Exact => self.exact.entry(text.into()).or_default().push(at),
            // Regexes come through `add_regex` (one that did not compile is an error).
            MatchMode::Regex => {}
            MatchMode::Contains | MatchMode::Prefix => {
                let prefix = mode == MatchMode::Prefix;
                self.target(text.to_owned(), Target::Keyword { at, prefix });
            }
        }
    }

    /// Adds a regex keyword, prefiltered by its literals ([`CheckedRegex::literals`]);
    /// without literals it runs on every message.
    ///
    /// [`CheckedRegex::literals`]: crate::regex_keyword::CheckedRegex::literals
    pub(crate) fn add_regex(
        &mut self,
        at: KwRef,
        regex: Arc<LazyRegex>,
        literals: Option<&[String]>,
    ) {
        let index = u32::try_from(self.regexes.len()).unwrap_or(u32::MAX);
        self.regexes.push((regex, at));
        match literals {
            Some(literals) => {
                for literal in literals {
                    self.target(literal.clone(), Target::Regex(index));
                }
            }
            None => self.always.push(index),
        }
    }

    /// Records that pattern `text` stands for `target` (once).
    fn target(&mut self, text: String, target: Target) {
        let next = self.targets.len();
        let id = *self.patterns.entry(text).or_insert(next);
        if id == next {
            self.targets.push(Vec::new());
        }
        if self.targets[id].last() != Some(&target) {
            self.targets[id].push(target);
        }
    }

    /// Builds the automaton.
    ///
    /// # Errors
    /// The automaton could not be built (its scale), as text.
    pub(crate) fn build(self) -> Result<KeywordIndex, String> {
        let mut by_id: Vec<(&str, usize)> = self
            .patterns
            .iter()
            .map(|(p, &id)| (p.as_str(), id))
            .collect();
        by_id.sort_unstable_by_key(|&(_, id)| id);
        let patterns = by_id.iter().map(|&(p, _)| p);
        let automaton = TextAutomaton::build(patterns.clone())
            .map_err(|e| format!("keyword automaton: {e}"))?;
        // A small automaton stays in the CPU's first-level cache: the filter would only
        // add its own pass (at 100 rules, a third more time).
        let filter = if automaton.states() >= FILTER_MIN_STATES {
            StartFilter::new(patterns)
        } else {
            None
        };
        Ok(KeywordIndex {
            filter,
            exact_max_len: self.exact.keys().map(|k| k.len()).max().unwrap_or(0),
            exact: self.exact,
            automaton,
            targets: self.targets,
            regexes: self.regexes,
            always: self.always,
        })
    }
}

impl KeywordIndex {
    /// Every keyword matching: `folded` is the normalized text, `clean` the same without
    /// case folding (what regexes see).
    pub(crate) fn search(&self, folded: &str, clean: &str, out: &mut Vec<KwRef>) {
        if folded.len() <= self.exact_max_len
            && let Some(refs) = self.exact.get(folded)
        {
            out.extend_from_slice(refs);
        }
        let mut regexes: Vec<u32> = Vec::new();
        self.each_match(folded, |pattern, start| {
            for &target in &self.targets[pattern] {
                match target {
                    Target::Keyword { at, prefix } => {
                        if !prefix || start == 0 {
                            out.push(at);
                        }
                    }
                    Target::Regex(i) => regexes.push(i),
                }
            }
        });
        if regexes.is_empty() && self.always.is_empty() {
            return;
        }
        regexes.extend_from_slice(&self.always);
        regexes.sort_unstable();
        regexes.dedup();
        for i in regexes {
            let (regex, at) = &self.regexes[i as usize];
            if regex.get().is_some_and(|r| r.is_match(clean)) {
                out.push(*at);
            }
        }
    }

    /// Calls `found(pattern, start byte)` for every occurrence of a pattern in `text`:
    /// the automaton scans the filter's spans, or all of `text` without a filter.
    fn each_match(&self, text: &str, mut found: impl FnMut(usize, usize)) {
        match &self.filter {
            Some(filter) => filter.spans(text, |span| {
                for (pattern, start) in self.automaton.matches(&text[span.clone()]) {
                    found(pattern, span.start + start);
                }
            }),
            None => {
                for (pattern, start) in self.automaton.matches(text) {
                    found(pattern, start);
                }
            }
        }
    }

    /// The exact keywords whose text is `text`.
    pub(crate) fn exact_keywords(&self, text: &str) -> &[KwRef] {
        self.exact.get(text).map_or(&[], Vec::as_slice)
    }

    /// The contains and prefix keywords found in `text`: `(keyword, is a prefix keyword,
    /// start byte)`.
    pub(crate) fn keywords_in<'a>(
        &'a self,
        text: &'a str,
    ) -> impl Iterator<Item = (KwRef, bool, usize)> + 'a {
        self.automaton
            .matches(text)
            .flat_map(move |(pattern, start)| {
                self.targets[pattern].iter().filter_map(move |t| match *t {
                    Target::Keyword { at, prefix } => Some((at, prefix, start)),
                    Target::Regex(_) => None,
                })
            })
    }

    /// Whether there are regex keywords (so callers know to compute `clean`).
    pub(crate) fn has_regex(&self) -> bool {
        !self.regexes.is_empty()
    }
}
