//! Group robot (群机器人 / 消息推送) webhook messages: `POST /cgi-bin/webhook/send?key=KEY`.

use base64::Engine as _;
use md5::{Digest, Md5};
use serde::Serialize;

use super::app::{NewsArticle, validate_news};
use super::template_card::{CardType, TemplateCard};
use crate::error::{Limit, LimitError};
use crate::limits;

/// Largest image a robot takes, before base64.
pub const WEBHOOK_IMAGE_MAX_BYTES: usize = 2 * 1024 * 1024;

/// A group-robot message, serialized as `{"msgtype": "<type>", "<type>": {…}}`.
///
/// ```
/// use wecom_sdk_message::send::WebhookMessage;
/// let msg = WebhookMessage::text("今日值班：张三").mention(["zhangsan"]).mention_mobile(["@all"]);
/// msg.validate()?;
/// let json = serde_json::to_value(&msg)?;
/// assert_eq!(json["msgtype"], "text");
/// assert_eq!(json["text"]["mentioned_list"][0], "zhangsan");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WebhookMessage {
    /// `text{content, mentioned_list?, mentioned_mobile_list?}`: ≤ 2048 bytes.
    Text {
        /// The text; `<@userid>` mentions inline.
        content: String,
        /// UserIDs to mention (`@all` for everyone).
        mentioned_list: Vec<String>,
        /// Mobile numbers to mention (`@all` for everyone).
        mentioned_mobile_list: Vec<String>,
    },
    /// `markdown{content}`: ≤ 4096 bytes; `<font color="info|comment|warning">`, `<@userid>`.
    Markdown {
        /// The markdown.
        content: String,
    },
    /// `markdown_v2{content}`: ≤ 4096 bytes; tables, lists, images, code blocks.
    MarkdownV2 {
        /// The markdown.
        content: String,
    },
    /// `image{base64, md5}`: JPG or PNG ≤ 2 MB; build with [`image`](Self::image).
    Image {
        /// The image, base64.
        base64: String,
        /// MD5 of the raw image bytes, lowercase hex.
        md5: String,
        /// Size of the raw image, for the limit check.
        raw_len: usize,
    },
    /// `news{articles[1..8]}`.
    News {
        /// The articles.
        articles: Vec<NewsArticle>,
    },
    /// `file{media_id}` from `webhook/upload_media`.
    File {
        /// `media_id`.
        media_id: String,
    },
    /// `voice{media_id}` from `webhook/upload_media`.
    Voice {
        /// `media_id`.
        media_id: String,
    },
    /// `template_card`: text notice or news notice only.
    TemplateCard(Box<TemplateCard>),
}

impl WebhookMessage {
    /// A text message.
    pub fn text(content: impl Into<String>) -> Self {
        Self::Text {
            content: content.into(),
            mentioned_list: Vec::new(),
            mentioned_mobile_list: Vec::new(),
        }
    }

    /// Adds UserIDs to mention (text only; ignored otherwise).
    #[must_use]
    pub fn mention<I, S>(mut self, users: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let Self::Text { mentioned_list, .. } = &mut self {
            mentioned_list.extend(users.into_iter().map(Into::into));
        }
        self
    }

    /// Adds mobile numbers to mention (text only; ignored otherwise).
    #[must_use]
    pub fn mention_mobile<I, S>(mut self, mobiles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let Self::Text {
            mentioned_mobile_list,
            ..
        } = &mut self
        {
            mentioned_mobile_list.extend(mobiles.into_iter().map(Into::into));
        }
        self
    }

    /// A template-card message (text notice or news notice).
    pub fn template_card(card: TemplateCard) -> Self {
        Self::TemplateCard(Box::new(card))
    }

    /// A markdown message.
    pub fn markdown(content: impl Into<String>) -> Self {
        Self::Markdown {
            content: content.into(),
        }
    }

    /// An image message from the raw JPG or PNG bytes: base64 and MD5 are computed here.
    pub fn image(bytes: &[u8]) -> Self {
        Self::Image {
            base64: base64::engine::general_purpose::STANDARD.encode(bytes),
            md5: hex::encode(Md5::digest(bytes)),
            raw_len: bytes.len(),
        }
    }

    /// The `msgtype` value.
    pub fn msg_type(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Markdown { .. } => "markdown",
            Self::MarkdownV2 { .. } => "markdown_v2",
            Self::Image { .. } => "image",
            Self::News { .. } => "news",
            Self::File { .. } => "file",
            Self::Voice { .. } => "voice",
            Self::TemplateCard(_) => "template_card",
        }
    }

    /// Checks WeCom's limits.
    ///
    /// # Errors
    /// The first broken limit, naming the field.
    pub fn validate(&self) -> Result<(), LimitError> {
        match self {
            Self::Text { content, .. } => limits::required_bytes("text.content", content, 2048),
            Self::Markdown { content } => limits::required_bytes("markdown.content", content, 4096),
            Self::MarkdownV2 { content } => {
                limits::required_bytes("markdown_v2.content", content, 4096)
            }
            Self::Image { raw_len, .. } => {
                if *raw_len == 0 || *raw_len > WEBHOOK_IMAGE_MAX_BYTES {
                    return Err(LimitError::new(
                        "image.base64",
                        Limit::TooManyBytes {
                            max: WEBHOOK_IMAGE_MAX_BYTES,
                            actual: *raw_len,
                        },
                    ));
                }
                Ok(())
            }
            Self::News { articles } => validate_news("news.articles", articles),
            Self::File { media_id } | Self::Voice { media_id } => {
                limits::non_empty(&format!("{}.media_id", self.msg_type()), media_id)
            }
            Self::TemplateCard(card) => {
                if !matches!(card.card_type, CardType::TextNotice | CardType::NewsNotice) {
                    return Err(LimitError::new(
                        "template_card.card_type",
                        Limit::Invalid("robots send text_notice and news_notice cards only"),
                    ));
                }
                card.validate()
            }
        }
    }
}

impl Serialize for WebhookMessage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("msgtype", self.msg_type())?;
        let key = self.msg_type();
        match self {
            Self::Text {
                content,
                mentioned_list,
                mentioned_mobile_list,
            } => {
                let mut text = serde_json::Map::new();
                text.insert("content".into(), content.as_str().into());
                if !mentioned_list.is_empty() {
                    text.insert("mentioned_list".into(), mentioned_list.clone().into());
                }
                if !mentioned_mobile_list.is_empty() {
                    text.insert(
                        "mentioned_mobile_list".into(),
                        mentioned_mobile_list.clone().into(),
                    );
                }
                map.serialize_entry(key, &text)?;
            }
            Self::Markdown { content } | Self::MarkdownV2 { content } => {
                map.serialize_entry(key, &serde_json::json!({ "content": content }))?;
            }
            Self::Image { base64, md5, .. } => {
                map.serialize_entry(key, &serde_json::json!({ "base64": base64, "md5": md5 }))?;
            }
            Self::News { articles } => {
                map.serialize_entry(key, &serde_json::json!({ "articles": articles }))?;
            }
            Self::File { media_id } | Self::Voice { media_id } => {
                map.serialize_entry(key, &serde_json::json!({ "media_id": media_id }))?;
            }
            Self::TemplateCard(card) => map.serialize_entry(key, card)?,
        }
        map.end()
    }
}
