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
        self.run(text, true)
    }

    /// Every step but case folding: what regex keywords see, so captures keep their case
    /// (`SF1234567890`). Use `(?i)` in a regex to ignore case.
    pub fn normalize_keep_case(&self, text: &str) -> String {
        self.run(text, false)
    }

    fn run(&self, text: &str, fold: bool) -> String {
        let mut out = String::with_capacity(text.len());
        let mut pending_space = false;
        let mut skipping_mention = false;
        for c in text.chars() {
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
                out.push(' ');
                pending_space = false;
            }
            if !fold {
                out.push(c);
            } else if c.is_ascii() {
                out.push(c.to_ascii_lowercase());
            } else {
                out.extend(c.to_lowercase());
            }
        }
        for name in &self.bot_names {
            // ASCII lowercasing keeps byte offsets, so positions found in the lowered copy
            // are valid in `out` (bot names are stored folded).
            let lowered = out.to_ascii_lowercase();
            if lowered.contains(name.as_str()) {
                let mut kept = String::with_capacity(out.len());
                let mut last = 0;
                for (at, _) in lowered.match_indices(name.as_str()) {
                    kept.push_str(&out[last..at]);
                    kept.push(' ');
                    last = at + name.len();
                }
                kept.push_str(&out[last..]);
                out = collapse(&kept);
            }
        }
        out
    }
}

/// Collapses whitespace runs and trims.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Zero-width characters, the BOM, and control characters (other than whitespace).
fn is_invisible(c: char) -> bool {
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
