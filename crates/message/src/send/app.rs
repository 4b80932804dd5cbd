//! App messages: `message/send`, `appchat/send`, `message/update_template_card`.

use serde::Serialize;

use super::template_card::TemplateCard;
use crate::error::{Limit, LimitError};
use crate::limits;

/// Byte limit of text and markdown content of app messages.
pub const TEXT_MAX_BYTES: usize = 2048;

/// The content of an app or app-chat message: one `msgtype` and its object.
///
/// Serialized as `"msgtype": "<type>", "<type>": {…}` inside the message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Content {
    /// `text{content}`: ≤ 2048 bytes; `\n` and `<a href>` allowed.
    Text {
        /// The text.
        content: String,
    },
    /// `image{media_id}`.
    Image(Media),
    /// `voice{media_id}`: AMR ≤ 2 MB, ≤ 60 s.
    Voice(Media),
    /// `video{media_id, title?, description?}`.
    Video(Video),
    /// `file{media_id}`.
    File(Media),
    /// `textcard{title, description, url, btntxt?}`.
    Textcard(Textcard),
    /// `news{articles[1..8]}`.
    News {
        /// The articles (1–8).
        articles: Vec<NewsArticle>,
    },
    /// `mpnews{articles[1..8]}`: articles stored in WeCom.
    Mpnews {
        /// The articles (1–8).
        articles: Vec<MpnewsArticle>,
    },
    /// `markdown{content}`: ≤ 2048 bytes.
    Markdown {
        /// The markdown.
        content: String,
    },
    /// `miniprogram_notice`.
    MiniprogramNotice(MiniprogramNotice),
    /// `template_card`.
    TemplateCard(Box<TemplateCard>),
}

/// A media reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Media {
    /// `media_id` from `media/upload` (valid 3 days).
    pub media_id: String,
}

/// `video`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Video {
    /// `media_id`.
    pub media_id: String,
    /// `title` (≤ 128 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `description` (≤ 512 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `textcard`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Textcard {
    /// `title` (≤ 128 bytes).
    pub title: String,
    /// `description` (≤ 512 bytes; required).
    pub description: String,
    /// `url` (≤ 2048 bytes).
    pub url: String,
    /// `btntxt` (≤ 4 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub btntxt: Option<String>,
}

/// A `news` article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct NewsArticle {
    /// `title` (≤ 128 bytes).
    pub title: String,
    /// `description` (≤ 512 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `url` (≤ 2048 bytes); or `appid` + `pagepath`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `picurl`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picurl: Option<String>,
    /// `appid` of a mini-program.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// `pagepath` in the mini-program.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagepath: Option<String>,
}

impl NewsArticle {
    /// An article that opens `url`.
    pub fn new(title: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            url: Some(url.into()),
            ..Self::default()
        }
    }
}

/// An `mpnews` article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct MpnewsArticle {
    /// `title` (≤ 128 bytes).
    pub title: String,
    /// `thumb_media_id`.
    pub thumb_media_id: String,
    /// `author` (≤ 64 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// `content_source_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_source_url: Option<String>,
    /// `content` (HTML, ≤ 666 KB).
    pub content: String,
    /// `digest` (≤ 512 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// `miniprogram_notice`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct MiniprogramNotice {
    /// `appid`.
    pub appid: String,
    /// `page`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// `title` (4–12 characters).
    pub title: String,
    /// `description`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `emphasis_first_item`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emphasis_first_item: Option<bool>,
    /// `content_item[{key, value}]` (≤ 10).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub content_item: Vec<KeyValue>,
}

/// A `{key, value}` pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValue {
    /// `key`.
    pub key: String,
    /// `value`.
    pub value: String,
}

impl Content {
    /// A text message.
    pub fn text(content: impl Into<String>) -> Self {
        Self::Text {
            content: content.into(),
        }
    }

    /// A markdown message.
    pub fn markdown(content: impl Into<String>) -> Self {
        Self::Markdown {
            content: content.into(),
        }
    }

    /// An image message.
    pub fn image(media_id: impl Into<String>) -> Self {
        Self::Image(Media {
            media_id: media_id.into(),
        })
    }

    /// A file message.
    pub fn file(media_id: impl Into<String>) -> Self {
        Self::File(Media {
            media_id: media_id.into(),
        })
    }

    /// A news message.
    pub fn news(articles: Vec<NewsArticle>) -> Self {
        Self::News { articles }
    }

    /// A template-card message.
    pub fn template_card(card: TemplateCard) -> Self {
        Self::TemplateCard(Box::new(card))
    }

    /// The `msgtype` value.
    pub fn msg_type(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Image(_) => "image",
            Self::Voice(_) => "voice",
            Self::Video(_) => "video",
            Self::File(_) => "file",
            Self::Textcard(_) => "textcard",
            Self::News { .. } => "news",
            Self::Mpnews { .. } => "mpnews",
            Self::Markdown { .. } => "markdown",
            Self::MiniprogramNotice(_) => "miniprogram_notice",
            Self::TemplateCard(_) => "template_card",
        }
    }

    /// Checks WeCom's limits for this content.
    ///
    /// # Errors
    /// The first broken limit, naming the field (`news.articles[2].title`).
    pub fn validate(&self) -> Result<(), LimitError> {
        match self {
            Self::Text { content } => {
                limits::required_bytes("text.content", content, TEXT_MAX_BYTES)
            }
            Self::Markdown { content } => {
                limits::required_bytes("markdown.content", content, TEXT_MAX_BYTES)
            }
            Self::Image(m) | Self::Voice(m) | Self::File(m) => {
                limits::non_empty(&format!("{}.media_id", self.msg_type()), &m.media_id)
            }
            Self::Video(v) => {
                limits::non_empty("video.media_id", &v.media_id)?;
                limits::opt_bytes("video.title", v.title.as_deref(), 128)?;
                limits::opt_bytes("video.description", v.description.as_deref(), 512)
            }
            Self::Textcard(t) => {
                limits::required_bytes("textcard.title", &t.title, 128)?;
                limits::required_bytes("textcard.description", &t.description, 512)?;
                limits::required_bytes("textcard.url", &t.url, 2048)?;
                match &t.btntxt {
                    Some(b) => limits::max_chars("textcard.btntxt", b, 4),
                    None => Ok(()),
                }
            }
            Self::News { articles } => validate_news("news.articles", articles),
            Self::Mpnews { articles } => {
                limits::count("mpnews.articles", articles.len(), 1, 8)?;
                for (i, a) in articles.iter().enumerate() {
                    let f = |name: &str| format!("mpnews.articles[{i}].{name}");
                    limits::required_bytes(&f("title"), &a.title, 128)?;
                    limits::non_empty(&f("thumb_media_id"), &a.thumb_media_id)?;
                    limits::opt_bytes(&f("author"), a.author.as_deref(), 64)?;
                    limits::required_bytes(&f("content"), &a.content, 666 * 1024)?;
                    limits::opt_bytes(&f("digest"), a.digest.as_deref(), 512)?;
                }
                Ok(())
            }
            Self::MiniprogramNotice(n) => {
                limits::non_empty("miniprogram_notice.appid", &n.appid)?;
                limits::non_empty("miniprogram_notice.title", &n.title)?;
                limits::count(
                    "miniprogram_notice.content_item",
                    n.content_item.len(),
                    0,
                    10,
                )
            }
            Self::TemplateCard(card) => card.validate(),
        }
    }
}

/// Checks 1–8 news articles (titles ≤ 128 B, descriptions ≤ 512 B, urls ≤ 2048 B, a url
/// or a mini-program for each).
pub(crate) fn validate_news(path: &str, articles: &[NewsArticle]) -> Result<(), LimitError> {
    limits::count(path, articles.len(), 1, 8)?;
    for (i, a) in articles.iter().enumerate() {
        let f = |name: &str| format!("{path}[{i}].{name}");
        limits::required_bytes(&f("title"), &a.title, 128)?;
        limits::opt_bytes(&f("description"), a.description.as_deref(), 512)?;
        limits::opt_bytes(&f("url"), a.url.as_deref(), 2048)?;
        if a.url.is_none() && (a.appid.is_none() || a.pagepath.is_none()) {
            return Err(LimitError::new(
                f("url"),
                Limit::Invalid("set url, or appid and pagepath"),
            ));
        }
    }
    Ok(())
}

/// Who receives an app message: members, departments, tags, or everyone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recipients {
    /// `touser`: member UserIDs (≤ 1000).
    pub users: Vec<String>,
    /// `toparty`: department ids (≤ 100).
    pub parties: Vec<String>,
    /// `totag`: tag ids (≤ 100).
    pub tags: Vec<String>,
    /// `touser` = `@all`: everyone who can see the app.
    pub all: bool,
}

impl Recipients {
    /// Everyone who can see the app (`@all`).
    pub fn all() -> Self {
        Self {
            all: true,
            ..Self::default()
        }
    }

    /// These members.
    pub fn users<I, S>(users: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            users: users.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    fn validate(&self) -> Result<(), LimitError> {
        if !self.all && self.users.is_empty() && self.parties.is_empty() && self.tags.is_empty() {
            return Err(LimitError::new("touser", Limit::Empty));
        }
        limits::count("touser", self.users.len(), 0, 1000)?;
        limits::count("toparty", self.parties.len(), 0, 100)?;
        limits::count("totag", self.tags.len(), 0, 100)
    }
}

fn join_ids(ids: &[String]) -> Option<String> {
    (!ids.is_empty()).then(|| ids.join("|"))
}

/// The body of `POST /cgi-bin/message/send`
/// ([doc 90236](https://developer.work.weixin.qq.com/document/path/90236)).
///
/// ```
/// use wecom_sdk_message::send::{AppMessage, Content, Recipients};
/// let msg = AppMessage::new(1000002, Recipients::users(["zhangsan", "lisi"]), Content::text("会议改到 3 点"))
///     .duplicate_check(600)
///     .build()?;
/// let json = serde_json::to_value(&msg)?;
/// assert_eq!(json["touser"], "zhangsan|lisi");
/// assert_eq!(json["msgtype"], "text");
/// assert_eq!(json["text"]["content"], "会议改到 3 点");
/// assert_eq!(json["enable_duplicate_check"], 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AppMessage {
    /// Who receives it.
    pub recipients: Recipients,
    /// `agentid`.
    pub agent_id: u64,
    /// What is sent.
    pub content: Content,
    /// `safe`: 0 normal, 1 confidential (watermark, no sharing), 2 corp-only (mpnews).
    pub safe: u8,
    /// `enable_id_trans` (third-party apps).
    pub enable_id_trans: bool,
    /// `enable_duplicate_check`: WeCom drops an identical message within the interval.
    pub enable_duplicate_check: bool,
    /// `duplicate_check_interval` in seconds (default 1800, at most 4 h).
    pub duplicate_check_interval: Option<u32>,
}

impl AppMessage {
    /// A message from app `agent_id`.
    pub fn new(agent_id: u64, recipients: Recipients, content: Content) -> Self {
        Self {
            recipients,
            agent_id,
            content,
            safe: 0,
            enable_id_trans: false,
            enable_duplicate_check: false,
            duplicate_check_interval: None,
        }
    }

    /// Turns on WeCom's duplicate check with an interval in seconds. This makes a
    /// repeated send (a retry) safe.
    #[must_use]
    pub fn duplicate_check(mut self, interval_secs: u32) -> Self {
        self.enable_duplicate_check = true;
        self.duplicate_check_interval = Some(interval_secs);
        self
    }

    /// Sets `safe`.
    #[must_use]
    pub fn safe(mut self, safe: u8) -> Self {
        self.safe = safe;
        self
    }

    /// Validates and returns the message.
    ///
    /// # Errors
    /// The first broken limit: no recipients, too many, the content's limits, `safe`
    /// outside 0–2, an interval over 4 hours.
    pub fn build(self) -> Result<Self, LimitError> {
        self.validate()?;
        Ok(self)
    }

    /// Checks every limit.
    ///
    /// # Errors
    /// As [`build`](Self::build).
    pub fn validate(&self) -> Result<(), LimitError> {
        self.recipients.validate()?;
        if self.safe > 2 {
            return Err(LimitError::new("safe", Limit::Invalid("must be 0, 1 or 2")));
        }
        if self.duplicate_check_interval.is_some_and(|s| s > 4 * 3600) {
            return Err(LimitError::new(
                "duplicate_check_interval",
                Limit::Invalid("at most 14400 seconds"),
            ));
        }
        self.content.validate()
    }
}

impl Serialize for AppMessage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            touser: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            toparty: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            totag: Option<String>,
            msgtype: &'static str,
            agentid: u64,
            #[serde(flatten)]
            content: &'a Content,
            #[serde(skip_serializing_if = "is_zero")]
            safe: u8,
            #[serde(skip_serializing_if = "is_zero")]
            enable_id_trans: u8,
            #[serde(skip_serializing_if = "is_zero")]
            enable_duplicate_check: u8,
            #[serde(skip_serializing_if = "Option::is_none")]
            duplicate_check_interval: Option<u32>,
        }
        let r = &self.recipients;
        Wire {
            touser: if r.all {
                Some("@all".to_owned())
            } else {
                join_ids(&r.users)
            },
            toparty: if r.all { None } else { join_ids(&r.parties) },
            totag: if r.all { None } else { join_ids(&r.tags) },
            msgtype: self.content.msg_type(),
            agentid: self.agent_id,
            content: &self.content,
            safe: self.safe,
            enable_id_trans: u8::from(self.enable_id_trans),
            enable_duplicate_check: u8::from(self.enable_duplicate_check),
            duplicate_check_interval: self.duplicate_check_interval,
        }
        .serialize(serializer)
    }
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(v: &u8) -> bool {
    *v == 0
}

/// The body of `POST /cgi-bin/appchat/send`: a message to a group chat created by the app.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AppChatMessage {
    /// `chatid`.
    pub chat_id: String,
    /// What is sent (text, image, voice, video, file, textcard, news, mpnews, markdown).
    pub content: Content,
    /// `safe`.
    pub safe: u8,
}

impl AppChatMessage {
    /// A message to chat `chat_id`.
    pub fn new(chat_id: impl Into<String>, content: Content) -> Self {
        Self {
            chat_id: chat_id.into(),
            content,
            safe: 0,
        }
    }

    /// Checks WeCom's limits.
    ///
    /// # Errors
    /// An empty chat id, a content type app chats do not take, or the content's limits.
    pub fn validate(&self) -> Result<(), LimitError> {
        limits::non_empty("chatid", &self.chat_id)?;
        if matches!(
            self.content,
            Content::MiniprogramNotice(_) | Content::TemplateCard(_)
        ) {
            return Err(LimitError::new(
                "msgtype",
                Limit::Invalid(
                    "app chats take text, image, voice, video, file, textcard, news, mpnews and markdown",
                ),
            ));
        }
        self.content.validate()
    }
}

impl Serialize for AppChatMessage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            chatid: &'a str,
            msgtype: &'static str,
            #[serde(flatten)]
            content: &'a Content,
            #[serde(skip_serializing_if = "is_zero")]
            safe: u8,
        }
        Wire {
            chatid: &self.chat_id,
            msgtype: self.content.msg_type(),
            content: &self.content,
            safe: self.safe,
        }
        .serialize(serializer)
    }
}

/// The body of `POST /cgi-bin/message/update_template_card`: replace a sent card (or
/// only its button) for the users who clicked, with the `ResponseCode` of the event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct UpdateTemplateCard {
    /// `userids` (≤ 1000).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub userids: Vec<String>,
    /// `partyids` (≤ 100).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partyids: Vec<u64>,
    /// `tagids` (≤ 100).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tagids: Vec<u64>,
    /// `atall`: 1 updates it for everyone.
    #[serde(skip_serializing_if = "is_zero")]
    pub atall: u8,
    /// `agentid`.
    pub agentid: u64,
    /// `response_code` from the `template_card_event` (72 h, single use).
    pub response_code: String,
    /// `button{replace_name}`: only relabel the button.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub button: Option<ReplaceName>,
    /// `template_card`: the whole new card.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_card: Option<TemplateCard>,
}

/// `{replace_name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplaceName {
    /// The new label.
    pub replace_name: String,
}

impl UpdateTemplateCard {
    /// Relabels the clicked button for `userids`.
    pub fn button(
        agentid: u64,
        response_code: impl Into<String>,
        userids: Vec<String>,
        label: impl Into<String>,
    ) -> Self {
        Self {
            userids,
            partyids: Vec::new(),
            tagids: Vec::new(),
            atall: 0,
            agentid,
            response_code: response_code.into(),
            button: Some(ReplaceName {
                replace_name: label.into(),
            }),
            template_card: None,
        }
    }

    /// Replaces the card for `userids`.
    pub fn card(
        agentid: u64,
        response_code: impl Into<String>,
        userids: Vec<String>,
        card: TemplateCard,
    ) -> Self {
        Self {
            button: None,
            template_card: Some(card),
            ..Self::button(agentid, response_code, userids, "")
        }
    }

    /// Checks WeCom's limits.
    ///
    /// # Errors
    /// No response code, too many ids, neither or both of button and card, an invalid card.
    pub fn validate(&self) -> Result<(), LimitError> {
        limits::non_empty("response_code", &self.response_code)?;
        limits::count("userids", self.userids.len(), 0, 1000)?;
        limits::count("partyids", self.partyids.len(), 0, 100)?;
        limits::count("tagids", self.tagids.len(), 0, 100)?;
        match (&self.button, &self.template_card) {
            (Some(b), None) => limits::non_empty("button.replace_name", &b.replace_name),
            (None, Some(card)) => card.validate(),
            _ => Err(LimitError::new(
                "template_card",
                Limit::Invalid("set exactly one of button and template_card"),
            )),
        }
    }
}
