//! The WeCom (企业微信) message model: every message a bot receives or sends, typed,
//! validated against WeCom's limits, and fast.
//!
//! # Overview
//! - [`callback::Message`]: a decrypted callback (XML) → [`Header`](callback::Header) +
//!   typed [`Body`](callback::Body) with every event; unknown types keep their raw
//!   fields; [`dedup_key`](callback::Message::dedup_key) and
//!   [`text`](callback::Message::text) for the bot runtime.
//! - [`reply::Reply`]: passive replies → XML (`to_xml`).
//! - [`send`]: API bodies → JSON: app messages, app chats, card updates, 微信客服,
//!   group robots, customer group-sends; each with `validate()`.
//! - [`aibot`]: AI-bot (智能机器人) JSON messages and replies.
//! - [`split_text`]: cut long replies on paragraph, line and sentence boundaries.
//! - [`ParseError`], [`LimitError`]: what went wrong, with the field's name.
//!
//! # Example
//! ```
//! use wecom_sdk_message::callback::Message;
//! use wecom_sdk_message::reply::Reply;
//!
//! let msg = Message::from_xml("<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[几点下班？]]></Content><MsgId>7300000000000000001</MsgId><AgentID>1000002</AgentID></xml>")?;
//! assert_eq!(msg.text().as_deref(), Some("几点下班？"));
//!
//! let reply = Reply::text("我们 18:00 下班 😊");
//! reply.validate()?;
//! let xml = reply.to_xml(&msg.header.from, &msg.header.to, msg.header.create_time);
//! assert!(xml.contains("<Content><![CDATA[我们 18:00 下班 😊]]></Content>"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod aibot;
pub mod callback;
mod error;
pub mod kf;
mod limits;
pub mod reply;
pub mod send;
mod split;
mod xml;

pub use error::{Limit, LimitError, ParseError};
pub use split::split_text;
pub use xml::Element;

/// The guide: what a bot receives and sends (`docs/messages.md` of this crate).
#[doc = include_str!("../docs/messages.md")]
pub mod guide {}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
