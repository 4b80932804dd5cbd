//! Text normalization: what both keywords and messages go through before matching.

/// How incoming text (and every keyword) is normalized before matching.
///
/// Steps, in order: drop zero-width and control characters; full-width forms →
/// half-width (`ＡＢＣ１２３？` → `ABC123?`, the ideographic space → space); strip
/// `@mentions` (an `@` at the start or after whitespace, up to the next whitespace) and
/// the bot's own name; lowercase; collapse runs of whitespace to one space and trim.
///
/// ```
/// use wecom_sdk_matcher::Normalizer;
/// let n = Normalizer::new().bot_name("小助手");
/// assert_eq!(n.normalize("@小助手\u{2005}请问　ＷｉＦｉ密码？\u{200b}"), "请问 wifi密码?");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalizer {
    bot_names: Vec<String>,
}

impl Normalizer {
    /// The default normalizer (no bot name).
    pub fn new() -> Self {
        Self::default()
    }

    /// Also strips the bot's own name (after the other steps, case-insensitively).
    #[must_use]
    pub fn bot_name(mut self, name: &str) -> Self {
        let name = Self::new().normalize(name);
        if !name.is_empty() {
            self.bot_names.push(name);
        }
        self
    }

    /// Normalizes `text`.
    pub fn normalize(&self, text: &str) -> String {
        self.run(text, false).0
    }

    /// Every step but case folding: what regex keywords see, so captures keep their case
    /// (`SF1234567890`). Use `(?i)` in a regex to ignore case.
    pub fn normalize_keep_case(&self, text: &str) -> String {
        let (folded, clean) = self.run(text, true);
        clean.unwrap_or(folded)
    }

    /// Both forms in one pass: `(folded, Some(clean))` when `keep_case`.
    pub(crate) fn normalize_both(&self, text: &str, keep_case: bool) -> (String, Option<String>) {
        self.run(text, keep_case)
    }

    fn run(&self, text: &str, keep_case: bool) -> (String, Option<String>) {
        let mut out = String::with_capacity(text.len());
        let mut clean = keep_case.then(|| String::with_capacity(text.len()));
        let mut pending_space = false;
        let mut skipping_mention = false;
        // Runs of CJK characters (three-byte UTF-8 with lead bytes E3–E9: U+3000–U+9FFF,
        // minus the ideographic space) are copied whole: they need none of the steps.
        let bytes = text.as_bytes();
        let mut run_start: Option<usize> = None;
        let mut i = 0;
        while i < bytes.len() {
            let lead = bytes[i];
            let cjk = (0xE3..=0xE9).contains(&lead)
                && !(lead == 0xE3
                    && bytes.get(i + 1) == Some(&0x80)
                    && bytes.get(i + 2) == Some(&0x80));
            if cjk {
                if run_start.is_none() {
                    if skipping_mention {
                        i += 3;
                        continue;
                    }
                    if pending_space {
                        push(&mut out, &mut clean, ' ', ' ');
                        pending_space = false;
                    }
                    run_start = Some(i);
                }
                i += 3; // a valid str: a three-byte lead has its two continuation bytes
                continue;
            }
            if let Some(start) = run_start.take() {
                push_str(&mut out, &mut clean, &text[start..i]);
            }
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            i += c.len_utf8();
            let c = half_width(c);
            if is_invisible(c) {
                continue;
            }
            if c.is_whitespace() {
                skipping_mention = false;
                pending_space = !out.is_empty();
                continue;
            }
            if skipping_mention {
                continue;
            }
            if c == '@' && (out.is_empty() || pending_space) {
                skipping_mention = true;
                continue;
            }
            if pending_space {
                push(&mut out, &mut clean, ' ', ' ');
                pending_space = false;
            }
            fold_char(c, &mut out);
            if let Some(clean) = clean.as_mut() {
                clean.push(c);
            }
        }
        if let Some(start) = run_start {
            push_str(&mut out, &mut clean, &text[start..]);
        }
        // `out` is folded, as the names are: most messages do not name the bot, and
        // then nothing is copied.
        if self
            .bot_names
            .iter()
            .any(|name| out.contains(name.as_str()))
        {
            out = self.strip_bot_names(&out);
            clean = clean.map(|c| self.strip_bot_names(&c));
        }
        (out, clean)
    }

    /// Removes the bot's names (stored folded). ASCII lowercasing keeps byte offsets, so
    /// positions found in the lowered copy are valid in `text`.
    fn strip_bot_names(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for name in &self.bot_names {
            let lowered = text.to_ascii_lowercase();
            if lowered.contains(name.as_str()) {
                let mut kept = String::with_capacity(text.len());
                let mut last = 0;
                for (at, _) in lowered.match_indices(name.as_str()) {
                    kept.push_str(&text[last..at]);
                    kept.push(' ');
                    last = at + name.len();
                }
                kept.push_str(&text[last..]);
                text = collapse(&kept);
            }
        }
        text
    }
}

/// `text` case-folded as the normalizer folds it: character by character, so a piece
/// of the case-kept text, folded, is a piece of the folded text.
pub(crate) fn fold_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        fold_char(c, &mut out);
    }
    out
}

/// Appends `c` case-folded (ASCII and caseless scripts without the Unicode tables).
fn fold_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
    } else if is_caseless(c) {
        out.push(c);
    } else {
        out.extend(c.to_lowercase());
    }
}

fn push_str(out: &mut String, clean: &mut Option<String>, run: &str) {
    out.push_str(run);
    if let Some(clean) = clean.as_mut() {
        clean.push_str(run);
    }
}

fn push(out: &mut String, clean: &mut Option<String>, folded: char, original: char) {
    out.push(folded);
    if let Some(clean) = clean.as_mut() {
        clean.push(original);
    }
}

/// Collapses whitespace runs and trims.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Scripts without case (CJK, kana, Yi, Hangul syllables): skip the case-mapping tables,
/// which cost more than everything else per character of Chinese text.
fn is_caseless(c: char) -> bool {
    matches!(c, '\u{2E80}'..='\u{A63F}' | '\u{AC00}'..='\u{D7A3}' | '\u{F900}'..='\u{FAFF}')
}

/// Zero-width characters, the BOM, and control characters (other than whitespace).
fn is_invisible(c: char) -> bool {
    if is_caseless(c) {
        return false;
    }
    matches!(
        c,
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
    ) || (c.is_control() && !c.is_whitespace())
}

/// Full-width ASCII variants (U+FF01–U+FF5E) and the ideographic space to ASCII.
fn half_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The CJK run copy gives what the per-character steps give.
        #[test]
        fn cjk_runs_match_the_character_path(text in "(\\PC|[ 　@中文字]|\\u{200b}){0,40}") {
            let n = Normalizer::new();
            let (folded, clean) = n.normalize_both(&text, true);
            let spaced: String = text.chars().flat_map(|c| [c, '\u{200b}']).collect();
            // Interleaving zero-width spaces breaks every run; the result must not change.
            let (f2, c2) = n.normalize_both(&spaced, true);
            proptest::prop_assert_eq!(folded, f2);
            proptest::prop_assert_eq!(clean, c2);
        }
    }

    #[test]
    fn every_step() {
        let n = Normalizer::new();
        assert_eq!(n.normalize("  Hello   World  "), "hello world");
        assert_eq!(n.normalize("ＡＢＣ１２３！"), "abc123!");
        assert_eq!(n.normalize("a\u{200b}b\u{feff}c\u{7}d"), "abcd");
        assert_eq!(n.normalize("@张三 @all 查一下"), "查一下");
        assert_eq!(n.normalize("mail me@example.com"), "mail me@example.com");
        assert_eq!(n.normalize("ÀÉÎ"), "àéî");
        assert_eq!(n.normalize(""), "");
        let bot = Normalizer::new().bot_name("Shop Bot");
        assert_eq!(bot.normalize("shop bot 营业时间"), "营业时间");
        assert_eq!(bot.normalize("hi SHOP BOT, hours?"), "hi , hours?");
        assert_eq!(bot.normalize_keep_case("Shop Bot 查 SF123"), "查 SF123");
    }
}
