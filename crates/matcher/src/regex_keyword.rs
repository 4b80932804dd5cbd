//! Regex keywords: checked once at load (syntax, compiled size, capture names, the
//! literals that prefilter them) and compiled on first use.

use std::sync::OnceLock;

use regex::Regex;
use regex_automata::nfa::thompson;
use regex_syntax::hir::Hir;
use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};

use crate::normalize::fold_case;

/// A regex keyword, compiled on first use. Loading checks that it compiles within its
/// size limit and keeps only the pattern: a compiled keyword regex with Unicode classes
/// takes hundreds of KB, so a process holds compiled only the regexes its messages
/// needed (a rule set of 100 000 rules with 5 % regexes took 1.9 GB compiled up front).
#[derive(Debug)]
pub(crate) struct LazyRegex {
    pattern: Box<str>,
    size_limit: usize,
    compiled: OnceLock<Option<Regex>>,
}

impl LazyRegex {
    /// A regex that [`check_regex`] accepted.
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
fn build_regex(pattern: &str, size_limit: usize) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(size_limit)
        .dfa_size_limit(REGEX_DFA_CACHE_BYTES)
        .build()
}

/// What loading learns of a regex keyword.
#[derive(Debug)]
pub(crate) struct CheckedRegex {
    /// The names of its capture groups (variables of the rule's reply).
    pub(crate) captures: Vec<String>,
    /// What its NFA takes, in bytes (what the size limits count).
    pub(crate) bytes: usize,
    /// Literals, case-folded, one of which every match contains; `None` when there is
    /// no such set (the regex runs on every message).
    pub(crate) literals: Option<Vec<String>>,
}

/// Why a regex keyword was refused.
#[derive(Debug)]
pub(crate) enum RegexProblem {
    /// Its syntax (the regex crate's message).
    Syntax(String),
    /// It compiles to more than this many bytes.
    TooBig(usize),
}

/// Checks a regex keyword as the regex crate would compile it — parsed once, its
/// Thompson NFA (the part the size limit bounds) built within `size_limit` bytes and
/// dropped — without building the full matcher (reverse NFA, one-pass DFA), which
/// [`LazyRegex`] does on first use.
pub(crate) fn check_regex(pattern: &str, size_limit: usize) -> Result<CheckedRegex, RegexProblem> {
    let hir = regex_syntax::Parser::new()
        .parse(pattern)
        .map_err(|e| RegexProblem::Syntax(e.to_string()))?;
    let nfa = thompson::Compiler::new()
        .configure(thompson::Config::new().nfa_size_limit(Some(size_limit)))
        .build_from_hir(&hir)
        .map_err(|e| match e.size_limit() {
            Some(limit) => RegexProblem::TooBig(limit),
            None => RegexProblem::Syntax(e.to_string()),
        })?;
    let captures = nfa
        .group_info()
        .all_names()
        .filter_map(|(_, _, name)| name.map(str::to_owned))
        .collect();
    Ok(CheckedRegex {
        captures,
        bytes: nfa.memory_usage(),
        literals: required_literals(&hir),
    })
}

/// Literals, case-folded, one of which every match of `pattern` contains: a set every
/// match starts with (or, failing that, ends with), each cut to whole characters. `None`
/// when there is no such finite set without the empty string.
///
/// Folding keeps the prefilter exact: the normalizer folds text character by character,
/// so a literal in the case-kept text is, folded, in the folded text.
fn required_literals(hir: &Hir) -> Option<Vec<String>> {
    let usable = |seq: Seq, from_start: bool| -> Option<Vec<String>> {
        let literals = seq.literals()?;
        let mut out = Vec::with_capacity(literals.len());
        for literal in literals {
            let text = whole_chars(literal.as_bytes(), from_start);
            if text.is_empty() {
                return None;
            }
            out.push(fold_case(text));
        }
        (!out.is_empty()).then_some(out)
    };
    let mut extractor = Extractor::new();
    usable(extractor.kind(ExtractKind::Prefix).extract(hir), true)
        .or_else(|| usable(extractor.kind(ExtractKind::Suffix).extract(hir), false))
}

/// The longest run of whole UTF-8 characters at the start (`from_start`) or the end of
/// `bytes`: a literal the extractor cut to its length limit may end (or begin) inside a
/// character.
fn whole_chars(bytes: &[u8], from_start: bool) -> &str {
    if from_start {
        match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
        }
    } else {
        let start = bytes
            .iter()
            .position(|&b| b & 0xC0 != 0x80)
            .unwrap_or(bytes.len());
        std::str::from_utf8(&bytes[start..]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::{RegexProblem, check_regex};

    fn lits(p: &str) -> Option<Vec<String>> {
        check_regex(p, 1 << 20).unwrap().literals
    }

    #[test]
    fn checks_name_captures_and_refuse_what_the_regex_crate_refuses() {
        let checked = check_regex(r"(?P<carrier>SF|YT)(\d+)(?P<no>x)", 1 << 20).unwrap();
        assert_eq!(checked.captures, ["carrier", "no"]);
        assert!(matches!(
            check_regex("(", 1 << 20),
            Err(RegexProblem::Syntax(_))
        ));
        assert!(matches!(
            check_regex(r"\w{1000}", 1 << 20),
            Err(RegexProblem::TooBig(_))
        ));
        // The same verdicts as the regex crate with the same limit.
        for p in [r"\w{100}", r"\w{200}", r"(a{100}){100}", r"[a-z]{5000}"] {
            let ours = check_regex(p, 1 << 20).is_ok();
            let theirs = regex::RegexBuilder::new(p)
                .size_limit(1 << 20)
                .build()
                .is_ok();
            assert_eq!(ours, theirs, "{p}");
        }
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
                .all(|c| ["sf", "yt", "zto"].iter().any(|w| c.starts_with(w)))
        );
        // No prefix, but a suffix.
        assert!(lits(r"\d+元").is_some_and(|l| l.iter().all(|s| s.ends_with('元'))));
        // Nothing every match needs.
        assert_eq!(lits(r"\d+"), None);
        assert_eq!(lits(r"a*"), None);
        assert_eq!(lits(r"(a|)"), None);
    }

    #[test]
    fn literals_are_whole_characters() {
        use super::whole_chars;
        let text = "快递单".as_bytes();
        assert_eq!(whole_chars(&text[..7], true), "快递");
        assert_eq!(whole_chars(&text[2..], false), "递单");
        assert_eq!(whole_chars(&text[..2], true), "");
        // A literal longer than the extractor keeps is still usable, cut to whole chars.
        let long = "订".repeat(200);
        assert!(lits(&long).is_some_and(|l| l.iter().all(|s| long.starts_with(s.as_str()))));
    }
}
