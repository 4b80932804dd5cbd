//! Outgoing API bodies (typed → JSON with serde): app messages, app chats, card updates,
//! 微信客服, group robots and customer group-sends.
//!
//! Every type has a `validate()` that checks WeCom's limits (lengths in bytes as WeCom
//! counts them, list sizes, id charsets) and names the offending field, so a bad message
//! fails before any network call.

mod app;
mod customer;
mod kf;
mod template_card;
mod webhook;

pub use app::{
    AppChatMessage, AppMessage, Content, KeyValue, Media, MiniprogramNotice, MpnewsArticle,
    NewsArticle, Recipients, ReplaceName, TEXT_MAX_BYTES, Textcard, UpdateTemplateCard, Video,
};
pub use customer::{
    Attachment, AttachmentImage, AttachmentLink, AttachmentMiniprogram, ChatType, MediaRef,
    MsgTemplate, TemplateText, WelcomeMsg,
};
pub use kf::{
    KfContent, KfEventMessage, KfLink, KfLocation, KfMessage, KfMiniprogram, MenuItem, MsgMenu,
    SyncMsgRequest,
};
pub use template_card::{
    ActionMenu, Button, CardAction, CardImage, CardSource, CardType, Checkbox, HorizontalContent,
    ImageTextArea, Jump, MainTitle, QuoteArea, SelectOption, SelectQuestion, SubmitButton,
    TemplateCard,
};
pub use webhook::{WEBHOOK_IMAGE_MAX_BYTES, WebhookMessage};
