//! Cutting long replies into parts that fit WeCom's byte limits.

use unicode_segmentation::UnicodeSegmentation;

/// Cuts `text` into parts of at most `max_bytes` UTF-8 bytes each.
///
/// Cuts prefer, in order: a paragraph break (blank line), a line break, the end of a
/// sentence (`。！？.!?` and their full-width forms, `；;`), a space; a part is never cut
/// inside a UTF-8 character or a grapheme cluster (an emoji with modifiers, a flag, a
/// letter with combining marks stays whole). The parts concatenate back to `text`
/// exactly. A single grapheme longer than `max_bytes` becomes a part of its own (the
/// only case in which a part exceeds the limit). `max_bytes` of 0 is treated as 1.
///
/// ```
/// use wecom_sdk_message::split_text;
/// let parts = split_text("第一段。\n\n第二段很长很长。第三句！", 24);
/// assert_eq!(parts.concat(), "第一段。\n\n第二段很长很长。第三句！");
/// assert!(parts.iter().all(|p| p.len() <= 24));
/// assert_eq!(parts[0], "第一段。\n\n");
/// ```
pub fn split_text(text: &str, max_bytes: usize) -> Vec<String> {
    let max = max_bytes.max(1);
    let mut parts = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let cut = best_cut(rest, max);
        parts.push(rest[..cut].to_owned());
        rest = &rest[cut..];
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(rest.to_owned());
    }
    parts
}

/// The byte offset (> 0) at which to cut `text`, whose length exceeds `max`.
fn best_cut(text: &str, max: usize) -> usize {
    // Grapheme boundaries within the limit; the last one is the fallback.
    let mut last_fit = 0;
    let mut best: [usize; 4] = [0; 4]; // paragraph, line, sentence, space
    let mut prev: Option<&str> = None;
    for (start, grapheme) in text.grapheme_indices(true) {
        let end = start + grapheme.len();
        if end > max {
            break;
        }
        last_fit = end;
        let rank = match grapheme {
            "\n" | "\r\n" if matches!(prev, Some("\n" | "\r\n")) => Some(0),
            "\n" | "\r\n" => Some(1),
            "。" | "！" | "？" | "." | "!" | "?" | "；" | ";" | "…" => Some(2),
            " " | "\t" | "　" => Some(3),
            _ => None,
        };
        if let Some(r) = rank {
            best[r] = end;
        }
        prev = Some(grapheme);
    }
    if last_fit == 0 {
        // One grapheme larger than the limit: it is a part of its own.
        return text.graphemes(true).next().map_or(text.len(), str::len);
    }
    best.into_iter().find(|&b| b > 0).unwrap_or(last_fit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_paragraphs_then_lines_then_sentences() {
        assert_eq!(split_text("aaaa\n\nbbbb\ncc", 9), ["aaaa\n\n", "bbbb\ncc"]);
        assert_eq!(split_text("aaaa\nbbbb cc", 8), ["aaaa\n", "bbbb cc"]);
        assert_eq!(
            split_text("Hi there. How are you", 12),
            ["Hi there.", " How are you"]
        );
        assert_eq!(split_text("abcdefgh", 3), ["abc", "def", "gh"]);
    }

    #[test]
    fn never_cuts_graphemes() {
        let family = "👨‍👩‍👧‍👦"; // 25 bytes, one grapheme
        let parts = split_text(&format!("ab{family}cd"), 10);
        assert_eq!(parts, ["ab", family, "cd"]);
        let thumbs = "👍🏽👍🏽👍🏽"; // 8 bytes each
        assert_eq!(split_text(thumbs, 17), ["👍🏽👍🏽", "👍🏽"]);
    }

    #[test]
    fn empty_and_short_inputs() {
        assert_eq!(split_text("", 10), [""]);
        assert_eq!(split_text("short", 10), ["short"]);
        assert_eq!(split_text("ab", 0), ["a", "b"]);
    }
}
