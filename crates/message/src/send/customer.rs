//! Customer group-send (客户群发): `POST /cgi-bin/externalcontact/add_msg_template`.

use serde::Serialize;

use crate::error::{Limit, LimitError};
use crate::limits;

/// Whether the template goes to single customers or to customer groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ChatType {
    /// To customers (default).
    #[default]
    Single,
    /// To customer groups (needs a sender).
    Group,
}

/// The body of `add_msg_template`: creates a group-send task a member confirms in the
/// client. Each customer receives at most one group message a day.
///
/// ```
/// use wecom_sdk_message::send::{Attachment, MsgTemplate};
/// let t = MsgTemplate::to_customers(["wmAAAA", "wmBBBB"])
///     .text("双十一大促今晚 8 点开始！")
///     .attachment(Attachment::link("活动详情", "https://example.com/sale"));
/// t.validate()?;
/// let json = serde_json::to_value(&t)?;
/// assert_eq!(json["attachments"][0]["msgtype"], "link");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[non_exhaustive]
pub struct MsgTemplate {
    /// `chat_type`.
    pub chat_type: ChatType,
    /// `external_userid` (single only, ≤ 10 000).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_userid: Vec<String>,
    /// `sender`: the member who sends (required for groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// `text{content}` (≤ 4000 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<TemplateText>,
    /// `attachments` (≤ 9).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// `text{content}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateText {
    /// `content`.
    pub content: String,
}

/// An attachment, serialized as `{"msgtype": "<type>", "<type>": {…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "msgtype", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Attachment {
    /// `image{media_id | pic_url}`.
    Image {
        /// The object.
        image: AttachmentImage,
    },
    /// `link{title, picurl?, desc?, url}`.
    Link {
        /// The object.
        link: AttachmentLink,
    },
    /// `miniprogram{title, pic_media_id, appid, page}`.
    Miniprogram {
        /// The object.
        miniprogram: AttachmentMiniprogram,
    },
    /// `video{media_id}`.
    Video {
        /// The object.
        video: MediaRef,
    },
    /// `file{media_id}`.
    File {
        /// The object.
        file: MediaRef,
    },
}

/// `image`: a `media_id` or a `pic_url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct AttachmentImage {
    /// `media_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// `pic_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pic_url: Option<String>,
}

/// `link`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct AttachmentLink {
    /// `title` (≤ 128 bytes).
    pub title: String,
    /// `picurl`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picurl: Option<String>,
    /// `desc` (≤ 512 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    /// `url`.
    pub url: String,
}

/// `miniprogram`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct AttachmentMiniprogram {
    /// `title` (≤ 64 bytes).
    pub title: String,
    /// `pic_media_id`.
    pub pic_media_id: String,
    /// `appid`.
    pub appid: String,
    /// `page`.
    pub page: String,
}

/// `{media_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MediaRef {
    /// `media_id`.
    pub media_id: String,
}

impl Attachment {
    /// A link attachment.
    pub fn link(title: impl Into<String>, url: impl Into<String>) -> Self {
        Self::Link {
            link: AttachmentLink {
                title: title.into(),
                url: url.into(),
                ..AttachmentLink::default()
            },
        }
    }

    /// An image attachment from an uploaded `media_id`.
    pub fn image(media_id: impl Into<String>) -> Self {
        Self::Image {
            image: AttachmentImage {
                media_id: Some(media_id.into()),
                pic_url: None,
            },
        }
    }
}

impl MsgTemplate {
    /// A template for these customers.
    pub fn to_customers<I, S>(external_userids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            external_userid: external_userids.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// A template for the customer groups of member `sender`.
    pub fn to_groups(sender: impl Into<String>) -> Self {
        Self {
            chat_type: ChatType::Group,
            sender: Some(sender.into()),
            ..Self::default()
        }
    }

    /// Sets the text.
    #[must_use]
    pub fn text(mut self, content: impl Into<String>) -> Self {
        self.text = Some(TemplateText {
            content: content.into(),
        });
        self
    }

    /// Adds an attachment.
    #[must_use]
    pub fn attachment(mut self, attachment: Attachment) -> Self {
        self.attachments.push(attachment);
        self
    }

    /// Checks WeCom's limits.
    ///
    /// # Errors
    /// Neither text nor attachments, text over 4000 bytes, more than 9 attachments or
    /// 10 000 customers, a group template without sender or with customers, an
    /// attachment over its limits.
    pub fn validate(&self) -> Result<(), LimitError> {
        if self.text.is_none() && self.attachments.is_empty() {
            return Err(LimitError::new("text", Limit::Empty));
        }
        if let Some(text) = &self.text {
            limits::required_bytes("text.content", &text.content, 4000)?;
        }
        match self.chat_type {
            ChatType::Single => {
                limits::count("external_userid", self.external_userid.len(), 0, 10_000)?;
            }
            ChatType::Group => {
                limits::non_empty("sender", self.sender.as_deref().unwrap_or_default())?;
                limits::count("external_userid", self.external_userid.len(), 0, 0)?;
            }
        }
        validate_attachments(&self.attachments)
    }
}

/// The body of `externalcontact/send_welcome_msg`: the welcome message for a customer
/// just added, sent with the event's `WelcomeCode` (valid 20 seconds, single use).
///
/// ```
/// use wecom_sdk_message::send::{Attachment, WelcomeMsg};
/// let w = WelcomeMsg::new("WELCOMECODE")
///     .text("欢迎！这是新人指南 👇")
///     .attachment(Attachment::link("新人指南", "https://example.com/guide"));
/// w.validate()?;
/// assert_eq!(serde_json::to_value(&w)?["welcome_code"], "WELCOMECODE");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[non_exhaustive]
pub struct WelcomeMsg {
    /// `welcome_code` from the `add_external_contact` event.
    pub welcome_code: String,
    /// `text{content}` (≤ 4000 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<TemplateText>,
    /// `attachments` (≤ 9).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

impl WelcomeMsg {
    /// A welcome message for the event's `WelcomeCode`.
    pub fn new(welcome_code: impl Into<String>) -> Self {
        Self {
            welcome_code: welcome_code.into(),
            ..Self::default()
        }
    }

    /// Sets the text.
    #[must_use]
    pub fn text(mut self, content: impl Into<String>) -> Self {
        self.text = Some(TemplateText {
            content: content.into(),
        });
        self
    }

    /// Adds an attachment.
    #[must_use]
    pub fn attachment(mut self, attachment: Attachment) -> Self {
        self.attachments.push(attachment);
        self
    }

    /// Checks WeCom's limits.
    ///
    /// # Errors
    /// An empty welcome code, neither text nor attachments, text over 4000 bytes, more
    /// than 9 attachments, an attachment over its limits.
    pub fn validate(&self) -> Result<(), LimitError> {
        limits::non_empty("welcome_code", &self.welcome_code)?;
        if self.text.is_none() && self.attachments.is_empty() {
            return Err(LimitError::new("text", Limit::Empty));
        }
        if let Some(text) = &self.text {
            limits::required_bytes("text.content", &text.content, 4000)?;
        }
        validate_attachments(&self.attachments)
    }
}

/// Up to 9 attachments, each within its limits.
fn validate_attachments(attachments: &[Attachment]) -> Result<(), LimitError> {
    limits::count("attachments", attachments.len(), 0, 9)?;
    for (i, a) in attachments.iter().enumerate() {
        let f = |n: &str| format!("attachments[{i}].{n}");
        match a {
            Attachment::Image { image } => {
                if image.media_id.is_none() == image.pic_url.is_none() {
                    return Err(LimitError::new(
                        f("image"),
                        Limit::Invalid("set exactly one of media_id and pic_url"),
                    ));
                }
            }
            Attachment::Link { link } => {
                limits::required_bytes(&f("link.title"), &link.title, 128)?;
                limits::opt_bytes(&f("link.desc"), link.desc.as_deref(), 512)?;
                limits::required_bytes(&f("link.url"), &link.url, 2048)?;
            }
            Attachment::Miniprogram { miniprogram } => {
                limits::required_bytes(&f("miniprogram.title"), &miniprogram.title, 64)?;
                limits::non_empty(&f("miniprogram.pic_media_id"), &miniprogram.pic_media_id)?;
                limits::non_empty(&f("miniprogram.appid"), &miniprogram.appid)?;
                limits::non_empty(&f("miniprogram.page"), &miniprogram.page)?;
            }
            Attachment::Video { video: m } | Attachment::File { file: m } => {
                limits::non_empty(&f("media_id"), &m.media_id)?;
            }
        }
    }
    Ok(())
}
