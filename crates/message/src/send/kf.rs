//! 微信客服 (WeChat customer service): `kf/send_msg`, `kf/send_msg_on_event`, and the
//! `kf/sync_msg` request (its response, incoming data, is in [`crate::kf`]).

use serde::Serialize;

use crate::error::{Limit, LimitError};
use crate::limits;

/// The content of a customer-service message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum KfContent {
    /// `text{content}` (≤ 2048 bytes).
    Text {
        /// The text.
        content: String,
    },
    /// `image{media_id}`.
    Image {
        /// `media_id`.
        media_id: String,
    },
    /// `voice{media_id}`.
    Voice {
        /// `media_id`.
        media_id: String,
    },
    /// `video{media_id}`.
    Video {
        /// `media_id`.
        media_id: String,
    },
    /// `file{media_id}`.
    File {
        /// `media_id`.
        media_id: String,
    },
    /// `link{title, desc?, url, thumb_media_id}`.
    Link(KfLink),
    /// `miniprogram{appid, title?, thumb_media_id, pagepath}`.
    Miniprogram(KfMiniprogram),
    /// `msgmenu{head_content?, list[≤10], tail_content?}`.
    Msgmenu(MsgMenu),
    /// `location{name?, address?, latitude, longitude}`.
    Location(KfLocation),
}

/// `link`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct KfLink {
    /// `title` (≤ 128 bytes).
    pub title: String,
    /// `desc` (≤ 512 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    /// `url` (≤ 2048 bytes).
    pub url: String,
    /// `thumb_media_id`.
    pub thumb_media_id: String,
}

/// `miniprogram`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct KfMiniprogram {
    /// `appid`.
    pub appid: String,
    /// `title` (≤ 64 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `thumb_media_id`.
    pub thumb_media_id: String,
    /// `pagepath`.
    pub pagepath: String,
}

/// `msgmenu`: a message with tappable menu items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct MsgMenu {
    /// `head_content` (≤ 1024 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_content: Option<String>,
    /// `list` (≤ 10 items).
    pub list: Vec<MenuItem>,
    /// `tail_content` (≤ 1024 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail_content: Option<String>,
}

/// A `msgmenu` item, serialized as `{"type": "click", "click": {…}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MenuItem {
    /// A reply button: the customer "sends" `content`; `id` comes back in the message.
    Click {
        /// `id` (≤ 128 bytes).
        id: Option<String>,
        /// `content` (1–128 bytes).
        content: String,
    },
    /// A link.
    View {
        /// `url`.
        url: String,
        /// `content`.
        content: String,
    },
    /// A mini-program.
    Miniprogram {
        /// `appid`.
        appid: String,
        /// `pagepath`.
        pagepath: String,
        /// `content`.
        content: String,
    },
    /// Plain text.
    Text {
        /// `content`.
        content: String,
        /// `no_newline`: 1 keeps it on the previous line.
        no_newline: bool,
    },
}

impl Serialize for MenuItem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(2))?;
        match self {
            Self::Click { id, content } => {
                map.serialize_entry("type", "click")?;
                let mut click = serde_json::Map::new();
                if let Some(id) = id {
                    click.insert("id".to_owned(), id.as_str().into());
                }
                click.insert("content".to_owned(), content.as_str().into());
                map.serialize_entry("click", &click)?;
            }
            Self::View { url, content } => {
                map.serialize_entry("type", "view")?;
                map.serialize_entry(
                    "view",
                    &serde_json::json!({ "url": url, "content": content }),
                )?;
            }
            Self::Miniprogram {
                appid,
                pagepath,
                content,
            } => {
                map.serialize_entry("type", "miniprogram")?;
                map.serialize_entry(
                    "miniprogram",
                    &serde_json::json!({ "appid": appid, "pagepath": pagepath, "content": content }),
                )?;
            }
            Self::Text {
                content,
                no_newline,
            } => {
                map.serialize_entry("type", "text")?;
                map.serialize_entry(
                    "text",
                    &serde_json::json!({ "content": content, "no_newline": u8::from(*no_newline) }),
                )?;
            }
        }
        map.end()
    }
}

/// `location`.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct KfLocation {
    /// `name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `address`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// `latitude`.
    pub latitude: f64,
    /// `longitude`.
    pub longitude: f64,
}

impl KfContent {
    /// A text message.
    pub fn text(content: impl Into<String>) -> Self {
        Self::Text {
            content: content.into(),
        }
    }

    /// The `msgtype` value.
    pub fn msg_type(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Image { .. } => "image",
            Self::Voice { .. } => "voice",
            Self::Video { .. } => "video",
            Self::File { .. } => "file",
            Self::Link(_) => "link",
            Self::Miniprogram(_) => "miniprogram",
            Self::Msgmenu(_) => "msgmenu",
            Self::Location(_) => "location",
        }
    }

    /// Checks WeCom's limits.
    ///
    /// # Errors
    /// The first broken limit, naming the field.
    pub fn validate(&self) -> Result<(), LimitError> {
        match self {
            Self::Text { content } => limits::required_bytes("text.content", content, 2048),
            Self::Image { media_id }
            | Self::Voice { media_id }
            | Self::Video { media_id }
            | Self::File { media_id } => {
                limits::non_empty(&format!("{}.media_id", self.msg_type()), media_id)
            }
            Self::Link(l) => {
                limits::required_bytes("link.title", &l.title, 128)?;
                limits::opt_bytes("link.desc", l.desc.as_deref(), 512)?;
                limits::required_bytes("link.url", &l.url, 2048)?;
                limits::non_empty("link.thumb_media_id", &l.thumb_media_id)
            }
            Self::Miniprogram(m) => {
                limits::non_empty("miniprogram.appid", &m.appid)?;
                limits::opt_bytes("miniprogram.title", m.title.as_deref(), 64)?;
                limits::non_empty("miniprogram.thumb_media_id", &m.thumb_media_id)?;
                limits::non_empty("miniprogram.pagepath", &m.pagepath)
            }
            Self::Msgmenu(menu) => {
                limits::opt_bytes("msgmenu.head_content", menu.head_content.as_deref(), 1024)?;
                limits::opt_bytes("msgmenu.tail_content", menu.tail_content.as_deref(), 1024)?;
                limits::count("msgmenu.list", menu.list.len(), 0, 10)?;
                for (i, item) in menu.list.iter().enumerate() {
                    if let MenuItem::Click { id, content } = item {
                        let f = |n: &str| format!("msgmenu.list[{i}].click.{n}");
                        limits::required_bytes(&f("content"), content, 128)?;
                        limits::opt_bytes(&f("id"), id.as_deref(), 128)?;
                    }
                }
                Ok(())
            }
            Self::Location(l) => {
                if !(-90.0..=90.0).contains(&l.latitude) || !(-180.0..=180.0).contains(&l.longitude)
                {
                    return Err(LimitError::new(
                        "location",
                        Limit::Invalid("latitude in -90..=90, longitude in -180..=180"),
                    ));
                }
                Ok(())
            }
        }
    }
}

fn check_msgid(msgid: Option<&str>) -> Result<(), LimitError> {
    match msgid {
        Some(id) => limits::charset("msgid", id, 32, b"_-", "only [0-9A-Za-z_-]"),
        None => Ok(()),
    }
}

/// The body of `POST /cgi-bin/kf/send_msg`: a reply to a customer (within 48 h of their
/// last message, at most 5 per customer message).
///
/// ```
/// use wecom_sdk_message::send::{KfContent, KfMessage};
/// let msg = KfMessage::new("wmAAAA", "wkBBBB", KfContent::text("您好，请问有什么可以帮您？"));
/// msg.validate()?;
/// let json = serde_json::to_value(&msg)?;
/// assert_eq!((json["touser"].as_str(), json["msgtype"].as_str()), (Some("wmAAAA"), Some("text")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct KfMessage {
    /// `touser`: the customer's external_userid.
    pub touser: String,
    /// `open_kfid`: the customer-service account.
    pub open_kfid: String,
    /// `msgid`: your own id (≤ 32 bytes, `[0-9A-Za-z_-]`), unique per account.
    pub msgid: Option<String>,
    /// What is sent.
    pub content: KfContent,
}

impl KfMessage {
    /// A message to customer `touser` from account `open_kfid`.
    pub fn new(
        touser: impl Into<String>,
        open_kfid: impl Into<String>,
        content: KfContent,
    ) -> Self {
        Self {
            touser: touser.into(),
            open_kfid: open_kfid.into(),
            msgid: None,
            content,
        }
    }

    /// Checks WeCom's limits.
    ///
    /// # Errors
    /// An empty customer or account, a malformed `msgid`, or the content's limits.
    pub fn validate(&self) -> Result<(), LimitError> {
        limits::non_empty("touser", &self.touser)?;
        limits::non_empty("open_kfid", &self.open_kfid)?;
        check_msgid(self.msgid.as_deref())?;
        self.content.validate()
    }
}

impl Serialize for KfMessage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            touser: &'a str,
            open_kfid: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            msgid: Option<&'a str>,
            msgtype: &'static str,
            #[serde(flatten)]
            content: &'a KfContent,
        }
        Wire {
            touser: &self.touser,
            open_kfid: &self.open_kfid,
            msgid: self.msgid.as_deref(),
            msgtype: self.content.msg_type(),
            content: &self.content,
        }
        .serialize(serializer)
    }
}

/// The body of `POST /cgi-bin/kf/send_msg_on_event`: a welcome or closing message sent
/// with the single-use `code` of an event (`welcome_code`, `msg_code`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct KfEventMessage {
    /// `code`.
    pub code: String,
    /// `msgid`.
    pub msgid: Option<String>,
    /// What is sent (text or msgmenu).
    pub content: KfContent,
}

impl KfEventMessage {
    /// A message sent with an event's `code`.
    pub fn new(code: impl Into<String>, content: KfContent) -> Self {
        Self {
            code: code.into(),
            msgid: None,
            content,
        }
    }

    /// Checks WeCom's limits.
    ///
    /// # Errors
    /// An empty code, a malformed `msgid`, a type other than text and msgmenu, or the
    /// content's limits.
    pub fn validate(&self) -> Result<(), LimitError> {
        limits::non_empty("code", &self.code)?;
        check_msgid(self.msgid.as_deref())?;
        if !matches!(self.content, KfContent::Text { .. } | KfContent::Msgmenu(_)) {
            return Err(LimitError::new(
                "msgtype",
                Limit::Invalid("event messages are text or msgmenu"),
            ));
        }
        self.content.validate()
    }
}

impl Serialize for KfEventMessage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            code: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            msgid: Option<&'a str>,
            msgtype: &'static str,
            #[serde(flatten)]
            content: &'a KfContent,
        }
        Wire {
            code: &self.code,
            msgid: self.msgid.as_deref(),
            msgtype: self.content.msg_type(),
            content: &self.content,
        }
        .serialize(serializer)
    }
}

/// The body of `POST /cgi-bin/kf/sync_msg`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SyncMsgRequest {
    /// `cursor`: the last `next_cursor` (≤ 64 bytes); none fetches the last 3 days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// `token` from the `kf_msg_or_event` callback (10 minutes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `limit`: 1–1000 (default 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// `voice_format`: 0 AMR, 1 SILK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice_format: Option<u8>,
    /// `open_kfid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_kfid: Option<String>,
}
