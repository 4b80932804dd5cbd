//! A sensitive-word filter (Aho-Corasick) for incoming queries and outgoing replies.

use aho_corasick::{AhoCorasick, MatchKind};

use crate::normalize::Normalizer;

/// Finds and masks sensitive words in one pass over the text.
///
/// Words are matched case-insensitively (ASCII) on the text as given; for incoming text
/// pass the normalized text so full-width and zero-width tricks do not hide a word.
///
/// ```
/// use wecom_sdk_matcher::SensitiveFilter;
/// let filter = SensitiveFilter::new(["代开发票", "刷单"]);
/// assert!(filter.is_flagged("可以代开发票吗"));
/// assert_eq!(filter.mask("找人刷单"), "找人**");
/// assert_eq!(filter.find("刷单和代开发票"), ["刷单", "代开发票"]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct SensitiveFilter {
    words: Vec<String>,
    automaton: Option<AhoCorasick>,
}

impl SensitiveFilter {
    /// A filter for `words` (empty words are ignored).
    pub fn new<I, S>(words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let n = Normalizer::new();
        let words: Vec<String> = words
            .into_iter()
            .map(|w| n.normalize(w.as_ref()))
            .filter(|w| !w.is_empty())
            .collect();
        let automaton = if words.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .ascii_case_insensitive(true)
                .build(&words)
                .ok()
        };
        Self { words, automaton }
    }

    /// Whether `text` contains a sensitive word.
    pub fn is_flagged(&self, text: &str) -> bool {
        self.automaton.as_ref().is_some_and(|ac| ac.is_match(text))
    }

    /// The sensitive words found, in order.
    pub fn find(&self, text: &str) -> Vec<&str> {
        self.automaton.as_ref().map_or_else(Vec::new, |ac| {
            ac.find_iter(text)
                .map(|m| self.words[m.pattern().as_usize()].as_str())
                .collect()
        })
    }

    /// `text` with each sensitive word replaced by one `*` per character.
    pub fn mask(&self, text: &str) -> String {
        self.mask_cow(text).into_owned()
    }

    /// [`mask`](Self::mask), borrowing `text` when it has no sensitive word.
    pub fn mask_cow<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        let Some(ac) = &self.automaton else {
            return std::borrow::Cow::Borrowed(text);
        };
        let mut matches = ac.find_iter(text).peekable();
        if matches.peek().is_none() {
            return std::borrow::Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for m in matches {
            out.push_str(&text[last..m.start()]);
            out.extend(std::iter::repeat_n(
                '*',
                text[m.start()..m.end()].chars().count(),
            ));
            last = m.end();
        }
        out.push_str(&text[last..]);
        std::borrow::Cow::Owned(out)
    }

    /// Whether the filter has no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}
