//! Which parts of a text can hold a keyword: a character-bigram filter in front of the
//! keyword automaton.
//!
//! An Aho-Corasick scan makes one dependent memory access per character. Over a rule
//! set of 10 000 rules its automaton is 2 MB, and over 100 000 rules 11 MB, so on a
//! message that is not already in the CPU cache nearly every character waits for memory
//! (about 9 ns each, whatever the number of rules). The filter keeps one bit per hash of
//! each pattern's first two characters (and of each one-character pattern) in a table of
//! at most 512 KB, tested for every position independently — the CPU overlaps those
//! accesses — and the automaton then scans only the spans that start where a pattern may
//! start, each as long as the longest pattern. (daachorse's own prefilter, a shift-or over
//! byte pairs, measured no faster on such messages: with thousands of CJK keywords
//! nearly every byte pair of a Chinese text is in its 64 KB table.)
//!
//! It never changes what is found: every occurrence of a pattern starts at a position
//! whose bigram (or character) is in the table, and lies inside that position's span;
//! spans are merged, so nothing is found twice.

use std::ops::Range;

/// The filter over a set of patterns (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct StartFilter {
    /// Bit per hash of the first two characters of each pattern of two or more.
    bigrams: Vec<u64>,
    bigram_bits: u32,
    /// Bit per hash of each one-character pattern.
    singles: Vec<u64>,
    has_singles: bool,
    /// The longest pattern, in characters: the length of a span.
    max_chars: usize,
}

/// Longer patterns make spans too long to pay: no filter then.
const MAX_PATTERN_CHARS: usize = 16;
/// Bits per distinct bigram: about 3 % of positions pass on text with no pattern.
const BITS_PER_BIGRAM: usize = 32;
/// The table's bounds, in bits (at most 512 KB, well inside a core's L2 cache).
const MIN_BITS: u32 = 12;
const MAX_BITS: u32 = 22;
/// Bits of the one-character table.
const SINGLE_BITS: u32 = 12;

impl StartFilter {
    /// The filter over `patterns`; `None` when one is longer than 16 characters or there
    /// are so many distinct bigrams that most positions would pass.
    pub(crate) fn new<'p>(patterns: impl IntoIterator<Item = &'p str> + Clone) -> Option<Self> {
        let mut max_chars = 0;
        let mut count = 0;
        for p in patterns.clone() {
            let chars = p.chars().count();
            if chars > MAX_PATTERN_CHARS {
                return None;
            }
            max_chars = max_chars.max(chars);
            count += 1;
        }
        if count == 0 {
            return None;
        }
        let wanted = (count * BITS_PER_BIGRAM)
            .next_power_of_two()
            .trailing_zeros();
        let bigram_bits = wanted.clamp(MIN_BITS, MAX_BITS);
        let mut filter = Self {
            bigrams: vec![0; 1 << (bigram_bits - 6)],
            bigram_bits,
            singles: vec![0; 1 << (SINGLE_BITS - 6)],
            has_singles: false,
            max_chars,
        };
        let (mut bigrams, mut singles) = (0usize, 0usize);
        for p in patterns {
            let mut chars = p.chars();
            match (chars.next(), chars.next()) {
                (Some(a), Some(b)) => {
                    bigrams +=
                        usize::from(set_bit(&mut filter.bigrams, bigram_hash(a, b, bigram_bits)));
                }
                (Some(a), None) => {
                    singles += usize::from(set_bit(&mut filter.singles, single_hash(a)));
                }
                _ => {}
            }
        }
        // Past one bit in eight (the table's cap was reached, or thousands of
        // one-character keywords) too many positions pass: scan everything.
        let sparse = bigrams << 3 <= 1 << bigram_bits && singles << 3 <= 1 << SINGLE_BITS;
        filter.has_singles = singles > 0;
        sparse.then_some(filter)
    }

    /// Calls `span` with each byte range of `text` that may hold a pattern, in order,
    /// disjoint.
    pub(crate) fn spans(&self, text: &str, mut span: impl FnMut(Range<usize>)) {
        let mut open: Option<usize> = None;
        // Characters until the open span may close.
        let mut left = 0usize;
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            let may_start = chars.peek().is_some_and(|&(_, n)| {
                test_bit(&self.bigrams, bigram_hash(c, n, self.bigram_bits))
            }) || (self.has_singles && test_bit(&self.singles, single_hash(c)));
            if may_start {
                open.get_or_insert(at);
                left = self.max_chars;
            } else if let Some(start) = open
                && left == 0
            {
                span(start..at);
                open = None;
            }
            left = left.saturating_sub(1);
        }
        if let Some(start) = open {
            span(start..text.len());
        }
    }
}

fn bigram_hash(a: char, b: char, bits: u32) -> usize {
    let key = (u64::from(a) << 21) | u64::from(b);
    usize::try_from(key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)).unwrap_or(0)
}

fn single_hash(c: char) -> usize {
    usize::try_from(u64::from(c).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SINGLE_BITS))
        .unwrap_or(0)
}

fn test_bit(table: &[u64], bit: usize) -> bool {
    table
        .get(bit >> 6)
        .is_some_and(|w| w & (1 << (bit & 63)) != 0)
}

/// Sets `bit`; whether it was clear.
fn set_bit(table: &mut [u64], bit: usize) -> bool {
    let Some(w) = table.get_mut(bit >> 6) else {
        return false;
    };
    let mask = 1 << (bit & 63);
    let was_clear = *w & mask == 0;
    *w |= mask;
    was_clear
}

#[cfg(test)]
mod tests {
    use super::StartFilter;

    fn spans(filter: &StartFilter, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        filter.spans(text, |r| out.push(text[r].to_owned()));
        out
    }

    #[test]
    fn spans_cover_every_occurrence_once() {
        let filter = StartFilter::new(["快递", "单号", "x"]).expect("short patterns");
        let text = "请问我的快递到哪了，单号是多少？x";
        let found = spans(&filter, text);
        let joined = found.concat();
        for p in ["快递", "单号", "x"] {
            assert_eq!(
                found.iter().filter(|s| s.contains(p)).count(),
                text.matches(p).count(),
                "{p} in {found:?}"
            );
            assert!(joined.contains(p));
        }
        // Most of the text is skipped.
        assert!(joined.chars().count() < text.chars().count());
        // Overlapping candidates merge into one span.
        assert_eq!(spans(&filter, "快递快递"), ["快递快递"]);
        assert!(spans(&filter, "你好").is_empty());
        assert!(spans(&filter, "").is_empty());
    }

    #[test]
    fn long_patterns_turn_the_filter_off() {
        assert!(StartFilter::new(["很长的关键词很长的关键词很长的关键词"]).is_none());
        assert!(StartFilter::new(std::iter::empty::<&str>()).is_none());
    }
}
