//! AI bot (智能机器人) JSON: the messages its callbacks carry (after decryption) and the
//! replies it answers with (before encryption).

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Limit, LimitError};
use crate::send::TemplateCard;
use crate::{ParseError, limits};

/// Bytes of accumulated stream content WeCom accepts.
pub const STREAM_MAX_BYTES: usize = 20_480;

/// An AI-bot callback message.
///
/// ```
/// use wecom_sdk_message::aibot::{AiBotBody, AiBotMessage};
/// let msg = AiBotMessage::from_json(r#"{"msgid":"m1","aibotid":"b1","chattype":"single","from":{"userid":"zhangsan"},"msgtype":"text","text":{"content":"几点开门？"}}"#)?;
/// assert_eq!(msg.from_user, "zhangsan");
/// assert!(matches!(msg.body, AiBotBody::Text { ref content } if content == "几点开门？"));
/// # Ok::<(), wecom_sdk_message::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AiBotMessage {
    /// `msgid`: the dedup key.
    pub msgid: String,
    /// `aibotid`.
    pub aibotid: String,
    /// `chatid` (group chats only).
    pub chatid: Option<String>,
    /// `chattype`: `single` or `group`.
    pub chattype: String,
    /// `from.userid`.
    pub from_user: String,
    /// `from.corpid` (some events).
    pub from_corp: Option<String>,
    /// `create_time`.
    pub create_time: Option<i64>,
    /// `response_url`: for one later reply (1 hour, single use).
    pub response_url: Option<String>,
    /// `quote`: the quoted message, kept raw.
    pub quote: Option<Value>,
    /// The typed content.
    pub body: AiBotBody,
}

/// The content of an AI-bot message.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AiBotBody {
    /// `text{content}`.
    Text {
        /// The text.
        content: String,
    },
    /// `image{url, aeskey?}`: the download is encrypted (URL valid 5 minutes).
    Image(AiBotMedia),
    /// `mixed{msg_item[]}`: text and images.
    Mixed {
        /// The items in order.
        items: Vec<MixedItem>,
    },
    /// `voice{content}`: already transcribed.
    Voice {
        /// The transcription.
        content: String,
    },
    /// `file{url, aeskey?}`.
    File(AiBotMedia),
    /// `video{url, aeskey?}`.
    Video(AiBotMedia),
    /// `stream{id}`: WeCom polls for the next state of a streamed reply.
    StreamRefresh {
        /// The stream id of the first reply.
        id: String,
    },
    /// `event{eventtype, …}`.
    Event(AiBotEvent),
    /// A type this version does not know; the whole message is kept.
    Unknown {
        /// The `msgtype` value.
        msgtype: String,
        /// The whole message.
        raw: Value,
    },
}

/// An encrypted media reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiBotMedia {
    /// `url`.
    pub url: String,
    /// `aeskey` (WebSocket mode); callback mode uses the bot's EncodingAESKey.
    pub aeskey: Option<String>,
}

/// An item of a `mixed` message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MixedItem {
    /// Text.
    Text(String),
    /// An image.
    Image(AiBotMedia),
}

/// An AI-bot event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AiBotEvent {
    /// `enter_chat`: the user opened the chat (answer with a welcome).
    EnterChat,
    /// `template_card_event`: a card button or selection.
    TemplateCard {
        /// `event_key`.
        event_key: String,
        /// `task_id`.
        task_id: String,
    },
    /// `feedback_event`: the user rated a reply; kept raw.
    Feedback(Value),
    /// `disconnected_event` (WebSocket mode).
    Disconnected,
    /// Another event, kept raw.
    Unknown {
        /// The `eventtype` value.
        eventtype: String,
        /// The `event` object.
        raw: Value,
    },
}

fn str_at(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn media(v: Option<&Value>) -> AiBotMedia {
    AiBotMedia {
        url: v.map(|v| str_at(v, "url")).unwrap_or_default(),
        aeskey: v
            .and_then(|v| v.get("aeskey"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

impl AiBotMessage {
    /// Parses a decrypted AI-bot callback.
    ///
    /// # Errors
    /// [`ParseError::Json`] when the text is not a JSON object; an unknown `msgtype` is
    /// not an error.
    pub fn from_json(json: &str) -> Result<Self, ParseError> {
        let value: Value = serde_json::from_str(json).map_err(|e| ParseError::Json {
            reason: e.to_string(),
        })?;
        if !value.is_object() {
            return Err(ParseError::Json {
                reason: "not a JSON object".to_owned(),
            });
        }
        let msgtype = str_at(&value, "msgtype");
        let body = match msgtype.as_str() {
            "text" => AiBotBody::Text {
                content: value
                    .get("text")
                    .map(|t| str_at(t, "content"))
                    .unwrap_or_default(),
            },
            "voice" => AiBotBody::Voice {
                content: value
                    .get("voice")
                    .map(|t| str_at(t, "content"))
                    .unwrap_or_default(),
            },
            "image" => AiBotBody::Image(media(value.get("image"))),
            "file" => AiBotBody::File(media(value.get("file"))),
            "video" => AiBotBody::Video(media(value.get("video"))),
            "stream" => AiBotBody::StreamRefresh {
                id: value
                    .get("stream")
                    .map(|s| str_at(s, "id"))
                    .unwrap_or_default(),
            },
            "mixed" => AiBotBody::Mixed {
                items: value
                    .pointer("/mixed/msg_item")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|item| match item.get("msgtype").and_then(Value::as_str) {
                        Some("text") => Some(MixedItem::Text(
                            item.get("text")
                                .map(|t| str_at(t, "content"))
                                .unwrap_or_default(),
                        )),
                        Some("image") => Some(MixedItem::Image(media(item.get("image")))),
                        _ => None,
                    })
                    .collect(),
            },
            "event" => AiBotBody::Event(event(value.get("event").unwrap_or(&Value::Null))),
            _ => AiBotBody::Unknown {
                msgtype: msgtype.clone(),
                raw: value.clone(),
            },
        };
        let chatid = value
            .get("chatid")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Self {
            msgid: str_at(&value, "msgid"),
            aibotid: str_at(&value, "aibotid"),
            chatid,
            chattype: str_at(&value, "chattype"),
            from_user: value
                .get("from")
                .map(|f| str_at(f, "userid"))
                .unwrap_or_default(),
            from_corp: value
                .pointer("/from/corpid")
                .and_then(Value::as_str)
                .map(str::to_owned),
            create_time: value.get("create_time").and_then(Value::as_i64),
            response_url: value
                .get("response_url")
                .and_then(Value::as_str)
                .map(str::to_owned),
            quote: value.get("quote").cloned(),
            body,
        })
    }

    /// The user's words: text, transcribed voice, or the text items of a mixed message.
    pub fn text(&self) -> Option<Cow<'_, str>> {
        match &self.body {
            AiBotBody::Text { content } | AiBotBody::Voice { content } => {
                Some(Cow::Borrowed(content))
            }
            AiBotBody::Mixed { items } => Some(Cow::Owned(
                items
                    .iter()
                    .filter_map(|i| match i {
                        MixedItem::Text(t) => Some(t.as_str()),
                        MixedItem::Image(_) => None,
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            )),
            _ => None,
        }
    }
}

fn event(ev: &Value) -> AiBotEvent {
    let eventtype = str_at(ev, "eventtype");
    // Fields sit in the event object or in a sub-object named after the event type.
    let field = |name: &str| {
        ev.get(name)
            .or_else(|| ev.get(eventtype.as_str()).and_then(|sub| sub.get(name)))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    match eventtype.as_str() {
        "enter_chat" => AiBotEvent::EnterChat,
        "template_card_event" => AiBotEvent::TemplateCard {
            event_key: field("event_key"),
            task_id: field("task_id"),
        },
        "feedback_event" => AiBotEvent::Feedback(ev.clone()),
        "disconnected_event" => AiBotEvent::Disconnected,
        _ => AiBotEvent::Unknown {
            eventtype,
            raw: ev.clone(),
        },
    }
}

/// A reply to an AI-bot callback (JSON, then encrypted with
/// `CallbackCrypto::encrypt_json_reply`).
///
/// ```
/// use wecom_sdk_message::aibot::{AiBotReply, StreamReply};
/// let reply = AiBotReply::Stream(StreamReply::new("s1", "正在查询您的订单…", false));
/// reply.validate()?;
/// let json: serde_json::Value = serde_json::from_str(&reply.to_json())?;
/// assert_eq!(json["msgtype"], "stream");
/// assert_eq!(json["stream"]["finish"], false);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AiBotReply {
    /// `text`: only as the welcome to `enter_chat`.
    Text {
        /// The text.
        content: String,
    },
    /// `stream`: the full accumulated answer so far.
    Stream(StreamReply),
    /// `template_card`.
    TemplateCard(TemplateCard),
    /// `stream_with_template_card`.
    StreamWithTemplateCard {
        /// The stream.
        stream: StreamReply,
        /// The card (once per message).
        card: TemplateCard,
    },
    /// `update_template_card`: the answer to `template_card_event`.
    UpdateTemplateCard {
        /// `userids`: whose card changes (all when empty).
        userids: Vec<String>,
        /// The new card, with the clicked card's `task_id`.
        card: TemplateCard,
    },
}

/// A stream state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamReply {
    /// `id`: fixed by the first reply.
    pub id: String,
    /// `finish`: the last state.
    pub finish: bool,
    /// `content`: markdown, the whole text so far (≤ 20480 bytes).
    pub content: String,
    /// `msg_item`: images, with the last state only (≤ 10).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub msg_item: Vec<StreamImage>,
    /// `feedback{id}`: first reply only (≤ 256 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<Feedback>,
}

/// `feedback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Feedback {
    /// `id`.
    pub id: String,
}

/// An image of a finished stream, serialized as `{"msgtype":"image","image":{base64,md5}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamImage {
    /// Base64 of the JPG or PNG (≤ 10 MB before encoding).
    pub base64: String,
    /// MD5 of the raw image, lowercase hex.
    pub md5: String,
}

impl Serialize for StreamImage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_json::json!({ "msgtype": "image", "image": { "base64": self.base64, "md5": self.md5 } })
            .serialize(serializer)
    }
}

impl StreamReply {
    /// A stream state.
    pub fn new(id: impl Into<String>, content: impl Into<String>, finish: bool) -> Self {
        Self {
            id: id.into(),
            finish,
            content: content.into(),
            msg_item: Vec::new(),
            feedback: None,
        }
    }

    fn validate(&self) -> Result<(), LimitError> {
        limits::non_empty("stream.id", &self.id)?;
        limits::max_bytes("stream.content", &self.content, STREAM_MAX_BYTES)?;
        limits::count("stream.msg_item", self.msg_item.len(), 0, 10)?;
        if !self.finish && !self.msg_item.is_empty() {
            return Err(LimitError::new(
                "stream.msg_item",
                Limit::Invalid("images go with finish = true only"),
            ));
        }
        if let Some(f) = &self.feedback {
            limits::max_bytes("stream.feedback.id", &f.id, 256)?;
        }
        Ok(())
    }
}

impl AiBotReply {
    /// Checks WeCom's limits.
    ///
    /// # Errors
    /// The first broken limit.
    pub fn validate(&self) -> Result<(), LimitError> {
        match self {
            Self::Text { content } => limits::required_bytes("text.content", content, 2048),
            Self::Stream(s) => s.validate(),
            Self::TemplateCard(card) => card.validate(),
            Self::StreamWithTemplateCard { stream, card } => {
                stream.validate()?;
                card.validate()
            }
            Self::UpdateTemplateCard { card, .. } => {
                limits::non_empty(
                    "template_card.task_id",
                    card.task_id.as_deref().unwrap_or_default(),
                )?;
                card.validate()
            }
        }
    }

    /// The reply JSON.
    pub fn to_json(&self) -> String {
        let mut map = Map::new();
        let put = |map: &mut Map<String, Value>, k: &str, v: Value| {
            map.insert(k.to_owned(), v);
        };
        let json = |v: &dyn erased::Ser| v.to_value();
        match self {
            Self::Text { content } => {
                put(&mut map, "msgtype", "text".into());
                put(&mut map, "text", serde_json::json!({ "content": content }));
            }
            Self::Stream(s) => {
                put(&mut map, "msgtype", "stream".into());
                put(&mut map, "stream", json(s));
            }
            Self::TemplateCard(card) => {
                put(&mut map, "msgtype", "template_card".into());
                put(&mut map, "template_card", json(card));
            }
            Self::StreamWithTemplateCard { stream, card } => {
                put(&mut map, "msgtype", "stream_with_template_card".into());
                put(&mut map, "stream", json(stream));
                put(&mut map, "template_card", json(card));
            }
            Self::UpdateTemplateCard { userids, card } => {
                put(&mut map, "response_type", "update_template_card".into());
                if !userids.is_empty() {
                    put(&mut map, "userids", userids.clone().into());
                }
                put(&mut map, "template_card", json(card));
            }
        }
        Value::Object(map).to_string()
    }
}

/// Serialization to a `Value` without naming each type.
mod erased {
    pub(super) trait Ser {
        fn to_value(&self) -> serde_json::Value;
    }

    impl<T: serde::Serialize> Ser for T {
        fn to_value(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
        }
    }
}
