//! A small XML tree for WeCom's callback documents, and the CDATA writer for replies.
//!
//! WeCom's callbacks are shallow documents of named text fields with a few nested lists
//! (`SendPicsInfo/PicList/item`, `SelectedItems/SelectedItem/…`). They are read in one
//! pass with quick-xml into a borrowed tree ([`Node`]); the typed model copies only the
//! fields it keeps. [`Element`] is the owned form kept by `Unknown` variants.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;

use crate::ParseError;

/// Deepest nesting accepted (WeCom's documents nest four levels).
const MAX_DEPTH: usize = 16;

/// An element of a parsed callback document, borrowed from the input where possible.
#[derive(Debug, Default)]
pub(crate) struct Node<'a> {
    pub(crate) name: Cow<'static, str>,
    pub(crate) text: Cow<'a, str>,
    pub(crate) children: Vec<Node<'a>>,
}

impl<'a> Node<'a> {
    /// The first child called `name`.
    pub(crate) fn child(&self, name: &str) -> Option<&Node<'a>> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child called `name`.
    pub(crate) fn children_named<'s>(
        &'s self,
        name: &'s str,
    ) -> impl Iterator<Item = &'s Node<'a>> + 's {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child called `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_ref())
    }

    /// The text of child `name`, owned; `None` when absent.
    pub(crate) fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    /// The text of child `name`, owned; empty when absent.
    pub(crate) fn string_or_empty(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_owned()
    }

    /// A numeric child; `None` when absent or empty, an error when not a number.
    pub(crate) fn number<T: std::str::FromStr>(
        &self,
        name: &'static str,
    ) -> Result<Option<T>, ParseError> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ParseError::invalid(name, v)),
        }
    }

    /// The owned copy of this subtree.
    pub(crate) fn to_element(&self) -> Element {
        Element {
            name: self.name.to_string(),
            text: self.text.to_string(),
            children: self.children.iter().map(Node::to_element).collect(),
        }
    }
}

/// An XML element kept verbatim: the fields of a message, event or change type that this
/// version of the SDK does not know yet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// The element's name.
    pub name: String,
    /// Its text (CDATA and text joined; entities resolved).
    pub text: String,
    /// Its child elements, in document order.
    pub children: Vec<Element>,
}

impl Element {
    /// The text of the first child called `name`.
    ///
    /// ```
    /// use wecom_sdk_message::callback::{Body, Message};
    /// let xml = "<xml><ToUserName>ww1</ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>sticker</MsgType><StickerId>42</StickerId></xml>";
    /// let Body::Unknown { msg_type, raw } = Message::from_xml(xml)?.body else { unreachable!() };
    /// assert_eq!((msg_type.as_str(), raw.get("StickerId")), ("sticker", Some("42")));
    /// # Ok::<(), wecom_sdk_message::ParseError>(())
    /// ```
    pub fn get(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// The first child called `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every field as `(name, text)`, depth-first, nested names joined with `/`
    /// (`SendPicsInfo/Count`).
    pub fn fields(&self) -> Vec<(String, String)> {
        fn walk(e: &Element, prefix: &str, out: &mut Vec<(String, String)>) {
            for c in &e.children {
                let path = if prefix.is_empty() {
                    c.name.clone()
                } else {
                    format!("{prefix}/{}", c.name)
                };
                if c.children.is_empty() {
                    out.push((path, c.text.clone()));
                } else {
                    walk(c, &path, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(self, "", &mut out);
        out
    }
}

/// Parses a document into its root element.
///
/// # Errors
/// [`ParseError::Xml`] for malformed XML, a DOCTYPE, an unknown entity, nesting deeper
/// than 16, or anything but one root element.
pub(crate) fn parse(xml: &str) -> Result<Node<'_>, ParseError> {
    match parse_flat(xml) {
        Some(root) => Ok(root),
        None => parse_general(xml),
    }
}

/// The fast path for WeCom-shaped documents: `[<?xml …?>]` then elements whose content
/// is either text, one CDATA section, or child elements (with whitespace between them) —
/// which is every callback WeCom sends. One pass, no tokenizer, nothing copied. Returns
/// `None` for anything else (attributes, comments, entities, `\r`, mixed or split
/// content, empty tags, nesting deeper than the general reader allows), which
/// [`parse_general`] then reads, errors included; both give the same tree wherever this
/// one answers (tested and fuzzed).
fn parse_flat(xml: &str) -> Option<Node<'_>> {
    if xml.contains('\r') {
        return None; // XML normalizes line ends; leave that to the general reader.
    }
    let mut s = skip_ws(xml);
    if s.starts_with("<?xml") {
        let end = s.find("?>")?;
        s = skip_ws(&s[end + 2..]);
    }
    let (root, rest) = element(s, 1)?;
    skip_ws(rest).is_empty().then_some(root)
}

/// Reads one element at nesting `depth`; returns it and the input after it.
fn element(s: &str, depth: usize) -> Option<(Node<'_>, &str)> {
    if depth > MAX_DEPTH {
        return None;
    }
    let (name, rest) = open_tag(s)?;
    let mut node = Node {
        name: intern(name),
        text: Cow::Borrowed(""),
        children: Vec::new(),
    };
    let inner = skip_ws(rest);
    let rest =
        if inner.starts_with('<') && !inner.starts_with("</") && !inner.starts_with("<![CDATA[") {
            // Child elements, whitespace between them: a callback's root has some ten.
            node.children.reserve(if depth == 1 { 12 } else { 4 });
            let mut s = inner;
            loop {
                let (child, after) = element(s, depth + 1)?;
                node.children.push(child);
                s = skip_ws(after);
                if s.starts_with("</") {
                    break s;
                }
            }
        } else if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            let end = find_cdata_end(cdata)?;
            node.text = Cow::Borrowed(&cdata[..end]);
            &cdata[end + 3..]
        } else {
            let lt = memchr::memchr(b'<', rest.as_bytes())?;
            let text = &rest[..lt];
            if text.contains(['&', ']']) {
                return None;
            }
            node.text = Cow::Borrowed(text);
            &rest[lt..]
        };
    let rest = rest
        .strip_prefix("</")?
        .strip_prefix(name)?
        .strip_prefix('>')?;
    Some((node, rest))
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

fn skip_ws(s: &str) -> &str {
    s.trim_start_matches([' ', '\t', '\n'])
}

/// Error texts quote names and values from the input: past this many bytes they are cut,
/// so a 10 MB tag name makes a short error, not a 10 MB one.
const MAX_REASON: usize = 200;

/// `reason`, cut at [`MAX_REASON`] bytes with `…`.
fn quote_short(reason: String) -> String {
    if reason.len() > MAX_REASON {
        format!("{}…", crate::error::prefix(&reason, MAX_REASON))
    } else {
        reason
    }
}

/// Reads any document with quick-xml.
fn parse_general(xml: &str) -> Result<Node<'_>, ParseError> {
    let mut reader = Reader::from_str(xml);
    let error = |reader: &Reader<&[u8]>, reason: String| ParseError::Xml {
        position: reader.buffer_position(),
        reason: quote_short(reason),
    };
    let mut stack: Vec<Node<'_>> = Vec::with_capacity(4);
    let mut root: Option<Node<'_>> = None;
    loop {
        let event = reader.read_event().map_err(|e| ParseError::Xml {
            position: reader.error_position(),
            reason: quote_short(e.to_string()),
        })?;
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(error(&reader, "content after the root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(error(&reader, "nested too deeply".into()));
                }
                stack.push(Node {
                    name: intern(start.name().0),
                    ..Node::default()
                });
            }
            Event::Empty(start) => {
                let node = Node {
                    name: intern(start.name().0),
                    ..Node::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None if root.is_none() => root = Some(node),
                    None => return Err(error(&reader, "content after the root element".into())),
                }
            }
            Event::End(_) => {
                let Some(mut node) = stack.pop() else {
                    return Err(error(&reader, "unbalanced end tag".into()));
                };
                // Indentation between child elements is not content.
                if !node.children.is_empty() && node.text.trim_ascii().is_empty() {
                    node.text = Cow::Borrowed("");
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(text) => match stack.last_mut() {
                Some(node) => append(&mut node.text, text.xml10_content()),
                None if text.trim_ascii().is_empty() => {}
                None => return Err(error(&reader, "text outside the root element".into())),
            },
            Event::CData(cdata) => match stack.last_mut() {
                Some(node) => append(&mut node.text, cdata.xml10_content()),
                None => return Err(error(&reader, "CDATA outside the root element".into())),
            },
            Event::GeneralRef(reference) => {
                let resolved: Cow<'_, str> = if reference.is_char_ref() {
                    match reference.resolve_char_ref() {
                        Ok(Some(c)) => Cow::Owned(c.to_string()),
                        _ => return Err(error(&reader, "invalid character reference".into())),
                    }
                } else {
                    let name = reference.into_inner();
                    match resolve_predefined_entity(&name) {
                        Some(text) => Cow::Borrowed(text),
                        None => return Err(error(&reader, format!("unknown entity &{name};"))),
                    }
                };
                match stack.last_mut() {
                    Some(node) => append(&mut node.text, resolved),
                    None => return Err(error(&reader, "entity outside the root element".into())),
                }
            }
            Event::DocType(_) => return Err(error(&reader, "a DOCTYPE is not allowed".into())),
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(error(&reader, "document ends inside an element".into()));
    }
    root.ok_or_else(|| error(&reader, "no root element".into()))
}

/// Defines [`intern`] over the element names WeCom uses (a `match`, so a length switch
/// and one comparison), so that parsing allocates no name it knows.
macro_rules! interned_names {
    ($($name:literal),* $(,)?) => {
        /// A `'static` name for the names WeCom uses, an owned one for others.
        fn intern(name: &str) -> Cow<'static, str> {
            match name {
                $($name => Cow::Borrowed($name),)*
                _ => Cow::Owned(name.to_owned()),
            }
        }
    };
}

interned_names![
    "xml",
    "ToUserName",
    "FromUserName",
    "CreateTime",
    "MsgType",
    "Content",
    "MsgId",
    "AgentID",
    "PicUrl",
    "MediaId",
    "Format",
    "ThumbMediaId",
    "Location_X",
    "Location_Y",
    "Scale",
    "Label",
    "AppType",
    "Title",
    "Description",
    "Url",
    "Event",
    "EventKey",
    "ChangeType",
    "Latitude",
    "Longitude",
    "Precision",
    "ScanCodeInfo",
    "ScanType",
    "ScanResult",
    "SendPicsInfo",
    "Count",
    "PicList",
    "item",
    "PicMd5Sum",
    "SendLocationInfo",
    "Poiname",
    "BatchJob",
    "JobId",
    "JobType",
    "ErrCode",
    "ErrMsg",
    "TaskId",
    "CardType",
    "ResponseCode",
    "SelectedItems",
    "SelectedItem",
    "QuestionKey",
    "OptionIds",
    "OptionId",
    "Token",
    "OpenKfId",
    "UserID",
    "NewUserID",
    "Name",
    "Department",
    "MainDepartment",
    "IsLeaderInDept",
    "Position",
    "Mobile",
    "Gender",
    "Email",
    "BizMail",
    "Status",
    "Avatar",
    "Alias",
    "Telephone",
    "Address",
    "ExtAttr",
    "Item",
    "Type",
    "Text",
    "Value",
    "Web",
    "Id",
    "ParentId",
    "Order",
    "TagId",
    "AddUserItems",
    "DelUserItems",
    "AddPartyItems",
    "DelPartyItems",
    "ExternalUserID",
    "State",
    "WelcomeCode",
    "Source",
    "FailReason",
    "ChatId",
    "UpdateDetail",
    "JoinScene",
    "QuitScene",
    "MemChangeCnt",
    "MemChangeList",
    "LastMemVer",
    "CurMemVer",
    "TagType",
    "StrategyId",
];

fn append<'a>(text: &mut Cow<'a, str>, piece: Cow<'a, str>) {
    if text.is_empty() {
        *text = piece;
    } else {
        text.to_mut().push_str(&piece);
    }
}

/// Writes `<name><![CDATA[value]]></name>`, splitting `]]>` and dropping characters XML
/// 1.0 cannot carry (C0 controls other than tab, LF and CR; U+FFFE; U+FFFF).
pub(crate) fn cdata(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push_str("><![CDATA[");
    let clean: Cow<'_, str> = if has_non_xml_char(value) {
        Cow::Owned(value.chars().filter(|&c| is_xml_char(c)).collect())
    } else {
        Cow::Borrowed(value)
    };
    let mut rest = clean.as_ref();
    while let Some(at) = find_cdata_end(rest) {
        // End the section between "]]" and ">" and open a new one.
        out.push_str(&rest[..at + 2]);
        out.push_str("]]><![CDATA[");
        rest = &rest[at + 2..];
    }
    out.push_str(rest);
    out.push_str("]]></");
    out.push_str(name);
    out.push('>');
}

/// Whether `value` has a character XML 1.0 cannot carry, by its UTF-8 bytes: a C0
/// control other than tab, LF and CR, or U+FFFE / U+FFFF (`EF BF BE` / `EF BF BF`; `EF`
/// is a lead byte, never inside another character). Full-width punctuation (`EF BC 8C`
/// for `，`), common in Chinese replies, passes without a per-character pass.
fn has_non_xml_char(value: &str) -> bool {
    let b = value.as_bytes();
    b.iter().enumerate().any(|(i, &x)| {
        (x < 0x20 && !matches!(x, b'\t' | b'\n' | b'\r'))
            || (x == 0xEF
                && b.get(i + 1) == Some(&0xBF)
                && matches!(b.get(i + 2), Some(0xBE | 0xBF)))
    })
}

/// Position of the first `]]>`: a SIMD search for `]`, then a check.
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

/// Writes `<name>number</name>`.
pub(crate) fn number(out: &mut String, name: &str, value: impl std::fmt::Display) {
    use std::fmt::Write as _;
    let _ = write!(out, "<{name}>{value}</{name}>");
}

/// Whether XML 1.0 can carry `c`.
pub(crate) fn is_xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_check_agrees_with_the_character_check() {
        for value in [
            "你好，明天几点？",
            "tab\tand\nnew line\r",
            "bell\u{7}",
            "\u{fffe}",
            "x\u{ffff}y",
            "\u{fffd}\u{ff0c}\u{efff}",
            "\u{0}",
            "",
        ] {
            assert_eq!(
                has_non_xml_char(value),
                !value.chars().all(is_xml_char),
                "{value:?}"
            );
        }
    }

    #[test]
    fn parses_nested_cdata_entities_and_empty_elements() {
        let xml = "<?xml version=\"1.0\"?><xml><A><![CDATA[x]]>y&amp;&#x4e2d;</A><B/><L><item><M>1</M></item><item><M>2</M></item></L></xml>";
        let root = parse(xml).expect("parses");
        assert_eq!(root.name, "xml");
        assert_eq!(root.get("A"), Some("xy&中"));
        assert_eq!(root.get("B"), Some(""));
        let ms: Vec<_> = root
            .child("L")
            .expect("L")
            .children_named("item")
            .filter_map(|i| i.get("M"))
            .collect();
        assert_eq!(ms, ["1", "2"]);
    }

    #[test]
    fn errors_quote_a_short_prefix_of_hostile_input() {
        let name = "T".repeat(10 * 1024 * 1024);
        for bad in [
            format!("<xml><{name}>x</{name}x></xml>"),
            format!("<xml><A>&{name};</A></xml>"),
        ] {
            let Err(ParseError::Xml { reason, .. }) = parse(&bad) else {
                panic!("malformed");
            };
            assert!(
                reason.len() <= MAX_REASON + '…'.len_utf8(),
                "{} bytes",
                reason.len()
            );
        }
    }

    #[test]
    fn rejects_malformed_documents() {
        for bad in [
            "",
            "text",
            "<xml>",
            "<xml></other>",
            "<xml></xml><xml></xml>",
            "<xml>&unknown;</xml>",
            "<!DOCTYPE x [<!ENTITY e \"y\">]><xml>&e;</xml>",
            &"<a>".repeat(20),
        ] {
            assert!(matches!(parse(bad), Err(ParseError::Xml { .. })), "{bad:?}");
        }
    }

    fn document() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just("<xml>".to_owned()),
            Just("</xml>".to_owned()),
            Just("<Content>".to_owned()),
            Just("</Content>".to_owned()),
            Just("<A>".to_owned()),
            Just("</A>".to_owned()),
            Just("<![CDATA[".to_owned()),
            Just("]]>".to_owned()),
            Just("<?xml version=\"1.0\"?>".to_owned()),
            Just("<!-- c -->".to_owned()),
            Just("<B x=\"1\">".to_owned()),
            Just("<C/>".to_owned()),
            Just("&amp;".to_owned()),
            Just(" \n\r\t".to_owned()),
            "\\PC{0,6}",
        ];
        let child = (
            "[A-Za-z_][A-Za-z0-9_]{0,6}",
            any::<bool>(),
            "[^<&\\]\r]{0,8}",
            "[ \n\t]{0,2}",
        )
            .prop_map(|(name, cdata, text, ws)| {
                if cdata {
                    format!("{ws}<{name}><![CDATA[{text}]]></{name}>")
                } else {
                    format!("{ws}<{name}>{text}</{name}>")
                }
            });
        let flat = (
            proptest::collection::vec(child, 1..6),
            any::<proptest::sample::Index>(),
            proptest::option::of(piece.clone()),
        )
            .prop_map(|(children, at, insert)| {
                let doc = format!("<xml>{}\n</xml>", children.concat());
                let mut cut = at.index(doc.len() + 1);
                while !doc.is_char_boundary(cut) {
                    cut -= 1;
                }
                format!(
                    "{}{}{}",
                    &doc[..cut],
                    insert.unwrap_or_default(),
                    &doc[cut..]
                )
            });
        prop_oneof![
            flat,
            proptest::collection::vec(piece, 0..14).prop_map(|p| p.concat())
        ]
    }

    fn same(a: &Node<'_>, b: &Node<'_>) -> bool {
        a.name == b.name
            && a.text == b.text
            && a.children.len() == b.children.len()
            && a.children.iter().zip(&b.children).all(|(x, y)| same(x, y))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        #[test]
        fn fast_path_agrees_with_quick_xml(doc in document()) {
            if let Some(fast) = parse_flat(&doc) {
                let general = parse_general(&doc);
                proptest::prop_assert!(general.as_ref().is_ok_and(|g| same(g, &fast)), "{:?}: {:?} vs {:?}", doc, fast, general);
            }
        }
    }

    #[test]
    fn fast_path_takes_wecom_documents() {
        for doc in [
            "<xml><ToUserName><![CDATA[ww1]]></ToUserName><Content>hi</Content></xml>",
            "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n<FromUserName><![CDATA[mycreate]]></FromUserName>\n<CreateTime>1409659813</CreateTime>\n</xml>",
            "<xml><SendPicsInfo><Count>1</Count>\n<PicList><item><PicMd5Sum><![CDATA[1b5f]]></PicMd5Sum>\n</item>\n</PicList>\n</SendPicsInfo></xml>",
            include_str!("../tests/data/callback/event_pic_photo_or_album.xml"),
            include_str!("../tests/data/callback/event_change_contact_create_user.xml"),
            include_str!("../tests/data/callback/event_template_card_event.xml"),
            include_str!("../tests/data/callback/event_change_external_chat_update.xml"),
            include_str!("../tests/data/callback/event_location_select.xml"),
        ] {
            let fast = parse_flat(doc).expect("fast path");
            assert!(same(&fast, &parse_general(doc).expect("parses")));
        }
    }

    #[test]
    fn cdata_writer_splits_terminators_and_drops_invalid_characters() {
        let mut out = String::new();
        cdata(&mut out, "C", "a]]>b\u{1}c");
        assert_eq!(out, "<C><![CDATA[a]]]]><![CDATA[>bc]]></C>");
        let doc = format!("<xml>{out}</xml>");
        let root = parse(&doc).expect("parses");
        assert_eq!(root.get("C"), Some("a]]>bc"));
    }
}
