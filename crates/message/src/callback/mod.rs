//! Incoming callbacks: the decrypted XML WeCom POSTs for every message and event.
//!
//! [`Message::from_xml`] reads any callback into a [`Header`] and a typed [`Body`]. A
//! message or event type this version does not know parses into an `Unknown` variant
//! with every raw field kept, so a new WeCom event never breaks a running bot.

mod contact;
mod event;
mod external;

use std::borrow::Cow;

pub use contact::{ContactChange, ExtAttr, ExtAttrValue, PartyChange, TagChange, UserChange};
pub use event::{BatchJobType, Event, MenuPictures, ScanCode, SelectedItem};
pub use external::{
    ChatUpdateDetail, ExternalChatChange, ExternalContactChange, ExternalTagChange, TagType,
    TransferFailReason,
};

use std::fmt::Write as _;

use crate::ParseError;
use crate::xml::{self, Element, Node};

/// One callback: who, when, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Addressing and identity fields common to every callback.
    pub header: Header,
    /// The typed content.
    pub body: Body,
}

/// The fields every callback carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `ToUserName`: the CorpID (or SuiteID).
    pub to: String,
    /// `FromUserName`: the member's UserID; `sys` for system events; empty when absent
    /// (`kf_msg_or_event`).
    pub from: String,
    /// `CreateTime`: Unix seconds.
    pub create_time: i64,
    /// `AgentID`: the app, when present.
    pub agent_id: Option<u64>,
    /// `MsgId`: present on messages (a 64-bit number), absent on events.
    pub msg_id: Option<u64>,
}

/// The content of a callback.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Body {
    /// A text message.
    Text {
        /// `Content`.
        content: String,
    },
    /// An image message.
    Image {
        /// `PicUrl`.
        pic_url: String,
        /// `MediaId` (fetch within 3 days).
        media_id: String,
    },
    /// A voice message.
    Voice {
        /// `MediaId`.
        media_id: String,
        /// `Format` (`amr`, `speex`, …).
        format: String,
    },
    /// A video message.
    Video {
        /// `MediaId`.
        media_id: String,
        /// `ThumbMediaId`.
        thumb_media_id: String,
    },
    /// A location message.
    Location {
        /// `Location_X`: latitude.
        latitude: f64,
        /// `Location_Y`: longitude.
        longitude: f64,
        /// `Scale`: map zoom.
        scale: Option<u32>,
        /// `Label`: the place's description.
        label: String,
        /// `AppType`: `wxwork` from WeCom; absent from WeChat.
        app_type: Option<String>,
    },
    /// A link message.
    Link {
        /// `Title`.
        title: String,
        /// `Description`.
        description: String,
        /// `Url`.
        url: String,
        /// `PicUrl`.
        pic_url: String,
    },
    /// An event (`MsgType` = `event`).
    Event(Event),
    /// A message type this version does not know; every field is kept.
    Unknown {
        /// The `MsgType` value.
        msg_type: String,
        /// The whole document.
        raw: Element,
    },
}

impl Message {
    /// Parses a decrypted callback.
    ///
    /// The caller bounds the size (the bot runtime caps request bodies). DOCTYPEs are
    /// refused and no entity beyond XML's five predefined ones is expanded.
    ///
    /// # Errors
    /// [`ParseError::Xml`] for malformed XML; [`ParseError::MissingField`] without
    /// `ToUserName`, `CreateTime` or `MsgType`; [`ParseError::InvalidField`] for a number
    /// field that is not a number. Unknown types are not errors.
    ///
    /// ```
    /// use wecom_sdk_message::callback::{Body, Message};
    /// let msg = Message::from_xml("<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[营业时间？]]></Content><MsgId>7300000000000000001</MsgId><AgentID>1000002</AgentID></xml>")?;
    /// assert_eq!(msg.header.from, "zhangsan");
    /// assert_eq!(msg.text().as_deref(), Some("营业时间？"));
    /// assert_eq!(msg.dedup_key(), "msg:7300000000000000001");
    /// assert!(matches!(msg.body, Body::Text { .. }));
    /// # Ok::<(), wecom_sdk_message::ParseError>(())
    /// ```
    pub fn from_xml(xml: &str) -> Result<Self, ParseError> {
        let root = xml::parse(xml)?;
        let header = Header {
            to: root.string("ToUserName").ok_or(ParseError::MissingField {
                field: "ToUserName",
            })?,
            from: root.string_or_empty("FromUserName"),
            create_time: root.number("CreateTime")?.ok_or(ParseError::MissingField {
                field: "CreateTime",
            })?,
            agent_id: root.number("AgentID")?,
            msg_id: root.number("MsgId")?,
        };
        let msg_type = root
            .get("MsgType")
            .ok_or(ParseError::MissingField { field: "MsgType" })?;
        let body = body(&root, msg_type)?;
        Ok(Self { header, body })
    }

    /// Parses a decrypted callback given as bytes.
    ///
    /// # Errors
    /// As [`from_xml`](Self::from_xml); bytes that are not UTF-8 are [`ParseError::Xml`].
    pub fn from_xml_bytes(xml: &[u8]) -> Result<Self, ParseError> {
        let text = std::str::from_utf8(xml).map_err(|e| ParseError::Xml {
            position: e.valid_up_to() as u64,
            reason: "not valid UTF-8".to_owned(),
        })?;
        Self::from_xml(text)
    }

    /// The key under which WeCom's re-deliveries of this callback collapse, and distinct
    /// callbacks never do.
    ///
    /// Messages: `msg:<MsgId>`. Events: `evt:` followed by the event, its change type,
    /// sender, time and the event's own ids (UserID, ExternalUserID, ChatId, TaskId,
    /// ResponseCode, kf Token, …), so two different events in the same second from the same
    /// sender never share a key. Unknown events fold all their fields into the key.
    pub fn dedup_key(&self) -> String {
        if let (Some(id), false) = (self.header.msg_id, matches!(self.body, Body::Event(_))) {
            return format!("msg:{id}");
        }
        let mut key = String::with_capacity(96);
        key.push_str("evt:");
        match &self.body {
            Body::Event(event) => event.identity(&mut key),
            Body::Unknown { msg_type, raw } => {
                key.push_str(msg_type);
                push_fingerprint(&mut key, raw);
            }
            other => key.push_str(other.type_name()),
        }
        key.push('|');
        key.push_str(&self.header.from);
        key.push('|');
        key.push_str(&self.header.create_time.to_string());
        bounded_key(key)
    }

    /// The customer's words: the content of a text message; `None` for every other
    /// message and for events (a menu click is an event, see
    /// [`menu_key`](Self::menu_key)). The same kind of value as the AI bot's
    /// [`text`](crate::aibot::AiBotMessage::text) and a rule hit's text.
    pub fn text(&self) -> Option<Cow<'_, str>> {
        match &self.body {
            Body::Text { content } => Some(Cow::Borrowed(content)),
            _ => None,
        }
    }

    /// `reply` as the passive-reply XML for this message: addressed back to its sender
    /// from the app that received it (nobody swaps `ToUserName` and `FromUserName` by
    /// hand), dated `create_time` (Unix seconds). Encrypt it with
    /// `CallbackCrypto::encrypt_reply`.
    pub fn reply_xml(&self, reply: &crate::reply::Reply, create_time: i64) -> String {
        reply.to_xml(&self.header.from, &self.header.to, create_time)
    }

    /// The `EventKey` of a menu `click` event (rules match menu buttons by it).
    pub fn menu_key(&self) -> Option<&str> {
        match &self.body {
            Body::Event(Event::Click { key }) => Some(key),
            _ => None,
        }
    }
}

impl Body {
    /// The `MsgType` this body was read from (`event` for events).
    pub fn type_name(&self) -> &str {
        match self {
            Self::Text { .. } => "text",
            Self::Image { .. } => "image",
            Self::Voice { .. } => "voice",
            Self::Video { .. } => "video",
            Self::Location { .. } => "location",
            Self::Link { .. } => "link",
            Self::Event(_) => "event",
            Self::Unknown { msg_type, .. } => msg_type,
        }
    }
}

fn body(root: &Node<'_>, msg_type: &str) -> Result<Body, ParseError> {
    Ok(match msg_type {
        "text" => Body::Text {
            content: root.string_or_empty("Content"),
        },
        "image" => Body::Image {
            pic_url: root.string_or_empty("PicUrl"),
            media_id: root.string_or_empty("MediaId"),
        },
        "voice" => Body::Voice {
            media_id: root.string_or_empty("MediaId"),
            format: root.string_or_empty("Format"),
        },
        "video" => Body::Video {
            media_id: root.string_or_empty("MediaId"),
            thumb_media_id: root.string_or_empty("ThumbMediaId"),
        },
        "location" => Body::Location {
            latitude: root.number("Location_X")?.unwrap_or_default(),
            longitude: root.number("Location_Y")?.unwrap_or_default(),
            scale: root.number("Scale")?,
            label: root.string_or_empty("Label"),
            app_type: root.string("AppType"),
        },
        "link" => Body::Link {
            title: root.string_or_empty("Title"),
            description: root.string_or_empty("Description"),
            url: root.string_or_empty("Url"),
            pic_url: root.string_or_empty("PicUrl"),
        },
        "event" => Body::Event(Event::from_node(root)?),
        other => Body::Unknown {
            msg_type: other.to_owned(),
            raw: root.to_element(),
        },
    })
}

/// Appends a 64-bit FNV-1a fingerprint of every field of `raw` (stable across builds and
/// versions, unlike `std`'s hasher), for the dedup key of an unknown callback.
/// Appends `|id` for each id (the event identities of [`Message::dedup_key`]).
pub(crate) fn push_ids<'a>(key: &mut String, ids: impl IntoIterator<Item = &'a str>) {
    for id in ids {
        key.push('|');
        key.push_str(id);
    }
}

/// Dedup keys longer than this keep a readable head and a digest of the whole.
const MAX_DEDUP_KEY: usize = 160;

/// `key` itself, or — past [`MAX_DEDUP_KEY`] bytes (a callback with a huge picture list
/// or field) — its first 96 bytes and the MD5 of all of it: a store key stays small
/// whatever a sender puts in, and distinct callbacks still get distinct keys.
fn bounded_key(key: String) -> String {
    use md5::{Digest, Md5};
    if key.len() <= MAX_DEDUP_KEY {
        return key;
    }
    let mut head = 96;
    while !key.is_char_boundary(head) {
        head -= 1;
    }
    format!(
        "{}#{}",
        &key[..head],
        hex::encode(Md5::digest(key.as_bytes()))
    )
}

pub(crate) fn push_fingerprint(key: &mut String, raw: &Element) {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, text) in raw.fields() {
        for byte in name.bytes().chain([0]).chain(text.bytes()).chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    let _ = write!(key, "|{hash:016x}");
}
