//! The XML envelopes: reading `<Encrypt>` from a callback POST, writing the signed reply.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::CryptoError;

fn parse_error(reason: impl Into<String>) -> CryptoError {
    CryptoError::ParseXml {
        reason: reason.into(),
    }
}

/// Reads the text of the root's `<Encrypt>` child from a callback POST body.
///
/// WeCom's envelopes are flat (`<xml><ToUserName/><Encrypt/><AgentID/></xml>`); those are
/// read by [`read_flat`] in one pass without an XML tokenizer, anything else by quick-xml.
/// Both give the same answer wherever the fast path answers (tested and fuzzed).
///
/// # Errors
/// As [`read_encrypt_general`].
pub(crate) fn read_encrypt(body: &str) -> Result<Cow<'_, str>, CryptoError> {
    match read_flat(body) {
        Some(encrypt) => Ok(Cow::Borrowed(encrypt)),
        None => read_encrypt_general(body),
    }
}

/// The fast path: `[<?xml …?>] <root> (<Name>text-or-one-CDATA</Name>)* </root>` with
/// optional whitespace between elements. Returns `None` for anything outside this subset
/// (attributes, comments, nesting, entities, mixed or split content, a missing or empty
/// `<Encrypt>`), which the general reader then handles, errors included.
fn read_flat(body: &str) -> Option<&str> {
    let mut s = skip_ws(body);
    if s.starts_with("<?xml") {
        let end = s.find("?>")?;
        s = skip_ws(&s[end + 2..]);
    }
    let (root, mut s) = open_tag(s)?;
    let mut encrypt = None;
    loop {
        s = skip_ws(s);
        if let Some(close) = s.strip_prefix("</") {
            let rest = close.strip_prefix(root)?.strip_prefix('>')?;
            return if skip_ws(rest).is_empty() {
                encrypt.filter(|e: &&str| !e.is_empty())
            } else {
                None
            };
        }
        let (name, rest) = open_tag(s)?;
        let (value, rest) = if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            let end = find_cdata_end(cdata)?;
            (&cdata[..end], &cdata[end + 3..])
        } else {
            let lt = find_byte(rest, b'<')?;
            let text = &rest[..lt];
            if text.contains(['&', ']']) {
                return None;
            }
            (text.trim_matches(is_xml_ws), &rest[lt..])
        };
        s = rest
            .strip_prefix("</")?
            .strip_prefix(name)?
            .strip_prefix('>')?;
        if name == "Encrypt" {
            if encrypt.is_some() {
                return None;
            }
            encrypt = Some(value);
        }
    }
}

/// Position of the first `]]>`: a SIMD search for `]` (base64 has none), then a check.
fn find_cdata_end(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut from = 0;
    loop {
        let at = from + memchr::memchr(b']', &bytes[from..])?;
        if bytes[at..].starts_with(b"]]>") {
            return Some(at);
        }
        from = at + 1;
    }
}

/// Position of the first `byte` (SIMD search).
fn find_byte(s: &str, byte: u8) -> Option<usize> {
    memchr::memchr(byte, s.as_bytes())
}

/// Splits `<name>` off the front; `None` unless it is a plain start tag.
fn open_tag(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix('<')?;
    let bytes = rest.as_bytes();
    // One pass over the name (names are short: a plain loop beats a SIMD search here).
    let mut end = 0;
    while let Some(&b) = bytes.get(end) {
        let name_byte = b.is_ascii_alphabetic()
            || b == b'_'
            || (end > 0 && (b.is_ascii_digit() || b == b'-' || b == b'.'));
        if !name_byte {
            break;
        }
        end += 1;
    }
    if end == 0 || bytes.get(end) != Some(&b'>') {
        return None;
    }
    Some((&rest[..end], &rest[end + 1..]))
}

fn is_xml_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn skip_ws(s: &str) -> &str {
    s.trim_start_matches(is_xml_ws)
}

/// Reads `<Encrypt>` with a full XML tokenizer (quick-xml).
///
/// The whole document is read, so a truncated or malformed envelope is an error even
/// after `<Encrypt>`. A DOCTYPE is refused (WeCom never sends one; nothing is expanded).
/// `ToUserName` and `AgentID` are not authenticated and are ignored here.
///
/// # Errors
/// [`CryptoError::ParseXml`] for malformed XML, a DOCTYPE, a missing, empty, repeated or
/// non-text `<Encrypt>`.
fn read_encrypt_general(body: &str) -> Result<Cow<'_, str>, CryptoError> {
    let mut reader = Reader::from_str(body);
    reader.config_mut().trim_text(true);
    let mut depth = 0usize;
    let mut in_encrypt = false;
    let mut encrypt: Option<Cow<'_, str>> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| parse_error(format!("at byte {}: {e}", reader.error_position())))?;
        match event {
            Event::Start(start) => {
                depth += 1;
                if depth == 2 && start.name().as_ref() == "Encrypt" {
                    if encrypt.is_some() {
                        return Err(parse_error("more than one <Encrypt> element"));
                    }
                    in_encrypt = true;
                    encrypt = Some(Cow::Borrowed(""));
                }
            }
            Event::End(_) => {
                in_encrypt = false;
                depth = depth.saturating_sub(1);
            }
            Event::Empty(start) if depth == 1 && start.name().as_ref() == "Encrypt" => {
                return Err(parse_error("<Encrypt> is empty"));
            }
            Event::Text(text) if in_encrypt => append(&mut encrypt, text.into_inner()),
            Event::CData(cdata) if in_encrypt => append(&mut encrypt, cdata.into_inner()),
            Event::GeneralRef(_) if in_encrypt => {
                return Err(parse_error("<Encrypt> contains an entity reference"));
            }
            Event::DocType(_) => return Err(parse_error("a DOCTYPE is not allowed")),
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err(parse_error("document ends inside an element"));
    }
    match encrypt {
        Some(text) if !text.is_empty() => Ok(text),
        Some(_) => Err(parse_error("<Encrypt> is empty")),
        None => Err(parse_error("no <Encrypt> element under the root")),
    }
}

/// Adds a text or CDATA piece to the value; a split value (text and CDATA mixed) is joined.
fn append<'a>(value: &mut Option<Cow<'a, str>>, piece: Cow<'a, str>) {
    match value {
        Some(current) if current.is_empty() => *current = piece,
        Some(current) => current.to_mut().push_str(&piece),
        None => *value = Some(piece),
    }
}

/// Checks that the timestamp and nonce can be placed in the reply XML verbatim.
///
/// # Errors
/// [`CryptoError::GenReturnXml`] for a timestamp that is not 1–20 decimal digits, or a
/// nonce that is empty, longer than 64 bytes, or not printable ASCII without `]]>`.
pub(crate) fn check_reply_fields(timestamp: &str, nonce: &str) -> Result<(), CryptoError> {
    let bad = |reason| Err(CryptoError::GenReturnXml { reason });
    if timestamp.is_empty()
        || timestamp.len() > 20
        || !timestamp.bytes().all(|b| b.is_ascii_digit())
    {
        return bad("timestamp must be 1 to 20 decimal digits");
    }
    if nonce.is_empty()
        || nonce.len() > 64
        || !nonce.bytes().all(|b| b.is_ascii_graphic())
        || nonce.contains("]]>")
    {
        return bad("nonce must be 1 to 64 printable ASCII characters without ']]>'");
    }
    Ok(())
}

/// Opening of the reply, up to the ciphertext (the layout the official samples and wechatpy
/// produce, one element a line).
pub(crate) const REPLY_HEAD: &str = "<xml>\n<Encrypt><![CDATA[";

/// The fixed pieces of a reply after the ciphertext (see [`finish_reply`]).
const REPLY_TAIL: [&str; 4] = [
    "]]></Encrypt>\n<MsgSignature><![CDATA[",
    "]]></MsgSignature>\n<TimeStamp>",
    "</TimeStamp>\n<Nonce><![CDATA[",
    "]]></Nonce>\n</xml>",
];

/// Appends everything after the ciphertext to a reply started with [`REPLY_HEAD`].
pub(crate) fn finish_reply(out: &mut String, signature: &[u8; 40], timestamp: &str, nonce: &str) {
    out.push_str(REPLY_TAIL[0]);
    // Lowercase hex digits: always UTF-8.
    out.push_str(std::str::from_utf8(signature).unwrap_or_default());
    out.push_str(REPLY_TAIL[1]);
    out.push_str(timestamp);
    out.push_str(REPLY_TAIL[2]);
    out.push_str(nonce);
    out.push_str(REPLY_TAIL[3]);
}

/// Bytes the reply adds around the ciphertext, for sizing the buffer once.
pub(crate) fn reply_overhead(timestamp: &str, nonce: &str) -> usize {
    let tail: usize = REPLY_TAIL.iter().map(|p| p.len()).sum();
    REPLY_HEAD.len() + tail + 40 + timestamp.len() + nonce.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> Result<String, i32> {
        read_encrypt(body)
            .map(Cow::into_owned)
            .map_err(|e| e.code())
    }

    #[test]
    fn the_reply_buffer_is_sized_once() {
        let mut out = String::with_capacity(reply_overhead("1700000000", "nonce") + 44);
        out.push_str(REPLY_HEAD);
        out.push_str(&"A".repeat(44));
        let capacity = out.capacity();
        finish_reply(&mut out, &[b'0'; 40], "1700000000", "nonce");
        assert_eq!(out.capacity(), capacity);
        assert_eq!(out.len(), capacity);
    }

    #[test]
    fn reads_cdata_text_and_split_values() {
        let ok = |s: &str| Ok(s.to_owned());
        assert_eq!(
            code(
                "<xml><ToUserName><![CDATA[x]]></ToUserName><Encrypt><![CDATA[abc]]></Encrypt><AgentID><![CDATA[1]]></AgentID></xml>"
            ),
            ok("abc")
        );
        assert_eq!(code("<xml>\n  <Encrypt>abc</Encrypt>\n</xml>"), ok("abc"));
        assert_eq!(
            code("<xml><Encrypt><![CDATA[ab]]><![CDATA[c]]></Encrypt></xml>"),
            ok("abc")
        );
        assert_eq!(
            code("<?xml version=\"1.0\"?><xml><Encrypt>abc</Encrypt></xml>"),
            ok("abc")
        );
    }

    #[test]
    fn malformed_envelopes_are_parse_errors() {
        for body in [
            "",
            "not xml",
            "<xml></xml>",
            "<xml><Encrypt/></xml>",
            "<xml><Encrypt></Encrypt></xml>",
            "<xml><Encrypt>abc</Encrypt>",
            "<xml><Encrypt>abc</Encrypt></xml2>",
            "<xml><Encrypt>a&amp;b</Encrypt></xml>",
            "<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>",
            "<xml><Other><Encrypt>abc</Encrypt></Other></xml>",
            "<!DOCTYPE x [<!ENTITY e \"abc\">]><xml><Encrypt>&e;</Encrypt></xml>",
        ] {
            assert_eq!(code(body), Err(-40002), "{body:?}");
        }
    }

    /// Envelope-like documents, valid and broken, built from the pieces WeCom and
    /// attackers use.
    fn envelope() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just("<xml>".to_owned()),
            Just("</xml>".to_owned()),
            Just("<Encrypt>".to_owned()),
            Just("</Encrypt>".to_owned()),
            Just("<ToUserName>".to_owned()),
            Just("</ToUserName>".to_owned()),
            Just("<![CDATA[".to_owned()),
            Just("]]>".to_owned()),
            Just("<?xml version=\"1.0\"?>".to_owned()),
            Just("<!-- c -->".to_owned()),
            Just("<a b=\"1\">".to_owned()),
            Just("<Encrypt/>".to_owned()),
            Just("&amp;".to_owned()),
            Just(" \n".to_owned()),
            "[A-Za-z0-9+/=]{0,12}",
            "\\PC{0,4}",
        ];
        proptest::collection::vec(piece, 0..16).prop_map(|p| p.concat())
    }

    /// Well-formed flat envelopes with arbitrary names, contents and spacing, then one
    /// random insertion of a piece of [`envelope`] to break them in every way.
    fn mutated_flat_envelope() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let child = (
            prop_oneof![Just("Encrypt".to_owned()), "[A-Za-z_][A-Za-z0-9_.-]{0,8}"],
            any::<bool>(),
            "\\PC{0,10}",
            "[ \n\t]{0,2}",
        )
            .prop_map(|(name, cdata, value, ws)| {
                if cdata {
                    format!("{ws}<{name}><![CDATA[{value}]]></{name}>")
                } else {
                    format!("{ws}<{name}>{value}</{name}>")
                }
            });
        (
            any::<bool>(),
            proptest::collection::vec(child, 0..5),
            "[A-Za-z0-9+/=]{1,24}",
            any::<proptest::sample::Index>(),
            proptest::option::of(envelope()),
        )
            .prop_map(|(decl, mut children, encrypt, at, insert)| {
                let slot = at.index(children.len() + 1);
                children.insert(slot, format!("<Encrypt><![CDATA[{encrypt}]]></Encrypt>"));
                let insert = insert.unwrap_or_default();
                let decl = if decl {
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                } else {
                    ""
                };
                let doc = format!("{decl}<xml>{}</xml>", children.concat());
                let mut cut = at.index(doc.len() + 1);
                while !doc.is_char_boundary(cut) {
                    cut -= 1;
                }
                format!("{}{insert}{}", &doc[..cut], &doc[cut..])
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        #[test]
        fn fast_path_agrees_with_quick_xml(body in proptest::prop_oneof![envelope(), mutated_flat_envelope()]) {
            if let Some(fast) = read_flat(&body) {
                let general = read_encrypt_general(&body).map(Cow::into_owned);
                proptest::prop_assert_eq!(general, Ok(fast.to_owned()), "{:?}", body);
            }
        }
    }

    #[test]
    fn fast_path_takes_wecom_envelopes() {
        for body in [
            "<xml><ToUserName><![CDATA[x]]></ToUserName><Encrypt><![CDATA[abc]]></Encrypt><AgentID><![CDATA[1]]></AgentID></xml>",
            "<xml><ToUserName><![CDATA[ww1]]></ToUserName>\n<Encrypt><![CDATA[abc]]></Encrypt>\n<AgentID><![CDATA[1000002]]></AgentID>\n</xml>",
            "<xml>\n   <Encrypt>abc</Encrypt>\n</xml>\n",
        ] {
            assert_eq!(read_flat(body), Some("abc"), "{body:?}");
        }
    }

    #[test]
    fn reply_fields_are_checked() {
        assert!(check_reply_fields("1411525903", "461056294").is_ok());
        for (ts, nonce) in [
            ("", "n"),
            ("12a", "n"),
            ("1", ""),
            ("1", "a]]>b"),
            ("1", "a b"),
            ("1", "中"),
        ] {
            assert_eq!(
                check_reply_fields(ts, nonce).map_err(|e| e.code()),
                Err(-40011)
            );
        }
    }
}
