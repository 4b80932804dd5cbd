//! Passive replies: the XML a callback endpoint answers with (then encrypted and signed
//! by the crypto crate).

use serde_json::Value;

use crate::error::LimitError;
use crate::limits;
use crate::send::TemplateCard;
use crate::xml::{cdata, number};

/// Bytes of reply text WeCom shows; it cuts longer text.
pub const REPLY_TEXT_MAX_BYTES: usize = 2048;

/// A passive reply ([doc 90241](https://developer.work.weixin.qq.com/document/path/90241)).
///
/// ```
/// use wecom_sdk_message::reply::Reply;
/// let xml = Reply::text("营业时间 9:00–18:00 <周末休息> & 节假日另行通知")
///     .to_xml("zhangsan", "ww1436e0e65a779aee", 1700000000);
/// assert!(xml.starts_with("<xml><ToUserName><![CDATA[zhangsan]]></ToUserName>"));
/// assert!(xml.contains("<MsgType><![CDATA[text]]></MsgType>"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Reply {
    /// Text (≤ 2048 bytes are shown).
    Text {
        /// The text.
        content: String,
    },
    /// An uploaded image.
    Image {
        /// `MediaId`.
        media_id: String,
    },
    /// An uploaded voice.
    Voice {
        /// `MediaId`.
        media_id: String,
    },
    /// An uploaded video.
    Video {
        /// `MediaId`.
        media_id: String,
        /// `Title`.
        title: Option<String>,
        /// `Description`.
        description: Option<String>,
    },
    /// News: 1–8 articles.
    News {
        /// The articles.
        articles: Vec<Article>,
    },
    /// Relabels the clicked button of a template card (answer to `template_card_event`).
    UpdateButton {
        /// The new label.
        replace_name: String,
    },
    /// Replaces the clicked template card (answer to `template_card_event`). The XML
    /// element names mirror the JSON card in PascalCase (`task_id` → `TaskId`), lists as
    /// repeated elements — WeCom documents the element names only in part.
    UpdateTemplateCard(Box<TemplateCard>),
}

/// A news article of a passive reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Article {
    /// `Title`.
    pub title: String,
    /// `Description`.
    pub description: String,
    /// `PicUrl`.
    pub pic_url: String,
    /// `Url`.
    pub url: String,
}

impl Reply {
    /// A text reply.
    pub fn text(content: impl Into<String>) -> Self {
        Self::Text {
            content: content.into(),
        }
    }

    /// An image reply.
    pub fn image(media_id: impl Into<String>) -> Self {
        Self::Image {
            media_id: media_id.into(),
        }
    }

    /// A news reply.
    pub fn news(articles: Vec<Article>) -> Self {
        Self::News { articles }
    }

    /// Replaces the clicked template card.
    pub fn update_template_card(card: TemplateCard) -> Self {
        Self::UpdateTemplateCard(Box::new(card))
    }

    /// The `MsgType` value.
    pub fn msg_type(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Image { .. } => "image",
            Self::Voice { .. } => "voice",
            Self::Video { .. } => "video",
            Self::News { .. } => "news",
            Self::UpdateButton { .. } => "update_button",
            Self::UpdateTemplateCard(_) => "update_template_card",
        }
    }

    /// Checks WeCom's limits: text ≤ 2048 bytes, 1–8 news articles with titles, ids and
    /// labels present, a valid card.
    ///
    /// # Errors
    /// The first broken limit.
    pub fn validate(&self) -> Result<(), LimitError> {
        match self {
            Self::Text { content } => {
                limits::required_bytes("Content", content, REPLY_TEXT_MAX_BYTES)
            }
            Self::Image { media_id } | Self::Voice { media_id } | Self::Video { media_id, .. } => {
                limits::non_empty("MediaId", media_id)
            }
            Self::News { articles } => {
                limits::count("Articles", articles.len(), 1, 8)?;
                for (i, a) in articles.iter().enumerate() {
                    limits::required_bytes(&format!("Articles[{i}].Title"), &a.title, 128)?;
                    limits::max_bytes(&format!("Articles[{i}].Description"), &a.description, 512)?;
                }
                Ok(())
            }
            Self::UpdateButton { replace_name } => limits::non_empty("ReplaceName", replace_name),
            Self::UpdateTemplateCard(card) => card.validate(),
        }
    }

    /// The reply XML, to be encrypted with `CallbackCrypto::encrypt_reply`.
    ///
    /// `to_user` is the customer (the callback's `FromUserName`), `from_corp` the CorpID
    /// (its `ToUserName`). Text goes in CDATA sections; `]]>` inside is split so it
    /// round-trips, and characters XML cannot carry (C0 controls) are dropped.
    pub fn to_xml(&self, to_user: &str, from_corp: &str, create_time: i64) -> String {
        let payload = match self {
            Self::Text { content } => content.len(),
            _ => 512,
        };
        let mut out = String::with_capacity(192 + to_user.len() + from_corp.len() + payload);
        out.push_str("<xml>");
        cdata(&mut out, "ToUserName", to_user);
        cdata(&mut out, "FromUserName", from_corp);
        number(&mut out, "CreateTime", create_time);
        cdata(&mut out, "MsgType", self.msg_type());
        match self {
            Self::Text { content } => cdata(&mut out, "Content", content),
            Self::Image { media_id } => wrap(&mut out, "Image", |o| cdata(o, "MediaId", media_id)),
            Self::Voice { media_id } => wrap(&mut out, "Voice", |o| cdata(o, "MediaId", media_id)),
            Self::Video {
                media_id,
                title,
                description,
            } => wrap(&mut out, "Video", |o| {
                cdata(o, "MediaId", media_id);
                if let Some(t) = title {
                    cdata(o, "Title", t);
                }
                if let Some(d) = description {
                    cdata(o, "Description", d);
                }
            }),
            Self::News { articles } => {
                number(&mut out, "ArticleCount", articles.len());
                wrap(&mut out, "Articles", |o| {
                    for a in articles {
                        wrap(o, "item", |o| {
                            cdata(o, "Title", &a.title);
                            cdata(o, "Description", &a.description);
                            cdata(o, "PicUrl", &a.pic_url);
                            cdata(o, "Url", &a.url);
                        });
                    }
                });
            }
            Self::UpdateButton { replace_name } => {
                wrap(&mut out, "Button", |o| {
                    cdata(o, "ReplaceName", replace_name);
                });
            }
            Self::UpdateTemplateCard(card) => {
                let value = serde_json::to_value(card).unwrap_or(Value::Null);
                json_to_xml(&mut out, "TemplateCard", &value);
            }
        }
        out.push_str("</xml>");
        out
    }
}

fn wrap(out: &mut String, name: &str, inner: impl FnOnce(&mut String)) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    inner(out);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// `task_id` → `TaskId`.
fn pascal(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// Writes a JSON value as WeCom-style XML: objects as elements, arrays as repeated
/// elements, strings in CDATA, numbers and booleans plain.
fn json_to_xml(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Object(map) => wrap(out, name, |o| {
            for (key, v) in map {
                json_to_xml(o, &pascal(key), v);
            }
        }),
        Value::Array(items) => {
            for item in items {
                json_to_xml(out, name, item);
            }
        }
        Value::String(s) => cdata(out, name, s),
        Value::Number(n) => number(out, name, n),
        Value::Bool(b) => number(out, name, u8::from(*b)),
        Value::Null => {}
    }
}

/// A passive reply read back from its XML: what a customer's WeCom client would show.
///
/// The other half of [`Reply::to_xml`], for simulators and tests that play WeCom and
/// must check what a bot answered.
///
/// ```
/// use wecom_sdk_message::reply::{Reply, ReplyDocument};
/// let xml = Reply::text("营业时间 9:00–18:00").to_xml("zhangsan", "ww1", 1700000000);
/// let doc = ReplyDocument::from_xml(&xml)?;
/// assert_eq!((doc.to_user.as_str(), doc.from_corp.as_str()), ("zhangsan", "ww1"));
/// assert_eq!(doc.reply, Some(Reply::text("营业时间 9:00–18:00")));
/// # Ok::<(), wecom_sdk_message::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyDocument {
    /// `ToUserName`: the customer.
    pub to_user: String,
    /// `FromUserName`: the CorpID.
    pub from_corp: String,
    /// `CreateTime`: Unix seconds.
    pub create_time: i64,
    /// `MsgType`.
    pub msg_type: String,
    /// The typed reply; `None` for a template-card update (its XML form is not read back:
    /// see `raw`) or a type this version does not know.
    pub reply: Option<Reply>,
    /// The whole document.
    pub raw: crate::Element,
}

impl ReplyDocument {
    /// Reads a passive reply's XML (after decryption).
    ///
    /// # Errors
    /// [`ParseError::Xml`](crate::ParseError::Xml) for malformed XML;
    /// [`ParseError::MissingField`](crate::ParseError::MissingField) without `ToUserName`,
    /// `FromUserName`, `CreateTime` or `MsgType`;
    /// [`ParseError::InvalidField`](crate::ParseError::InvalidField) for a `CreateTime`
    /// that is not a number.
    pub fn from_xml(xml: &str) -> Result<Self, crate::ParseError> {
        use crate::ParseError;
        let root = crate::xml::parse(xml)?;
        let required =
            |field: &'static str| root.string(field).ok_or(ParseError::MissingField { field });
        let to_user = required("ToUserName")?;
        let from_corp = required("FromUserName")?;
        let msg_type = required("MsgType")?;
        let create_time = root
            .number::<i64>("CreateTime")?
            .ok_or(ParseError::MissingField {
                field: "CreateTime",
            })?;
        let nested = |outer: &str, field: &str| {
            root.child(outer)
                .and_then(|n| n.string(field))
                .unwrap_or_default()
        };
        let optional = |outer: &str, field: &str| root.child(outer).and_then(|n| n.string(field));
        let reply = match msg_type.as_str() {
            "text" => Some(Reply::text(root.string_or_empty("Content"))),
            "image" => Some(Reply::image(nested("Image", "MediaId"))),
            "voice" => Some(Reply::Voice {
                media_id: nested("Voice", "MediaId"),
            }),
            "video" => Some(Reply::Video {
                media_id: nested("Video", "MediaId"),
                title: optional("Video", "Title"),
                description: optional("Video", "Description"),
            }),
            "news" => Some(Reply::news(
                root.child("Articles")
                    .into_iter()
                    .flat_map(|a| a.children_named("item"))
                    .map(|item| Article {
                        title: item.string_or_empty("Title"),
                        description: item.string_or_empty("Description"),
                        pic_url: item.string_or_empty("PicUrl"),
                        url: item.string_or_empty("Url"),
                    })
                    .collect(),
            )),
            "update_button" => Some(Reply::UpdateButton {
                replace_name: nested("Button", "ReplaceName"),
            }),
            _ => None,
        };
        Ok(Self {
            to_user,
            from_corp,
            create_time,
            msg_type,
            reply,
            raw: root.to_element(),
        })
    }

    /// The text a customer reads: the content of a text reply, the titles of news.
    pub fn text(&self) -> Option<String> {
        match self.reply.as_ref()? {
            Reply::Text { content } => Some(content.clone()),
            Reply::News { articles } => Some(
                articles
                    .iter()
                    .map(|a| a.title.as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            Reply::Video { title, .. } => title.clone(),
            _ => None,
        }
    }
}
