//! [`AiBotInbound`]: the decrypted JSON WeCom's AI bot sends — messages, events and
//! stream-refresh polls — built like WeCom writes them.

use serde_json::{Value, json};

/// An AI-bot message or event as WeCom sends it (before encryption, or as the `body` of
/// an `aibot_msg_callback` frame).
///
/// ```
/// use wecom_sdk_sim::AiBotInbound;
/// let m = AiBotInbound::text("zhangsan", "查快递 SF123").group("wrkSFfCgAAxxxx").mention("小助手");
/// let json: serde_json::Value = serde_json::from_str(&m.to_json("aib_1"))?;
/// assert_eq!(json["text"]["content"], "@小助手\u{2005}查快递 SF123");
/// assert_eq!(json["chattype"], "group");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AiBotInbound {
    /// `msgid` (filled in when sent, when empty).
    pub msgid: String,
    /// `from.userid`.
    pub from: String,
    /// `chatid` (group chats).
    pub chat: Option<String>,
    /// `msgtype`.
    pub msgtype: String,
    /// The object under `msgtype`.
    pub object: Value,
    /// `create_time` (unix seconds; filled in when sent, when 0).
    pub create_time: i64,
    /// `response_url` (filled in by the simulator, when empty).
    pub response_url: String,
    /// `quote`, if any.
    pub quote: Option<Value>,
}

impl AiBotInbound {
    fn new(from: &str, msgtype: &str, object: Value) -> Self {
        Self {
            msgid: String::new(),
            from: from.to_owned(),
            chat: None,
            msgtype: msgtype.to_owned(),
            object,
            create_time: 0,
            response_url: String::new(),
            quote: None,
        }
    }

    /// A text message.
    pub fn text(from: &str, content: &str) -> Self {
        Self::new(from, "text", json!({ "content": content }))
    }

    /// A voice message (WeCom sends the transcription).
    pub fn voice(from: &str, transcription: &str) -> Self {
        Self::new(from, "voice", json!({ "content": transcription }))
    }

    /// An image at `url` (encrypted; `aeskey` over the WebSocket).
    pub fn image(from: &str, url: &str, aeskey: Option<&str>) -> Self {
        Self::new(from, "image", media(url, aeskey))
    }

    /// A file at `url` (encrypted; `aeskey` over the WebSocket).
    pub fn file(from: &str, url: &str, aeskey: Option<&str>) -> Self {
        Self::new(from, "file", media(url, aeskey))
    }

    /// A mixed message: texts and image URLs, in order.
    pub fn mixed(from: &str, texts_and_images: &[MixedPart<'_>]) -> Self {
        let items: Vec<Value> = texts_and_images
            .iter()
            .map(|p| match p {
                MixedPart::Text(t) => json!({ "msgtype": "text", "text": { "content": t } }),
                MixedPart::Image(url) => json!({ "msgtype": "image", "image": { "url": url } }),
            })
            .collect();
        Self::new(from, "mixed", json!({ "msg_item": items }))
    }

    /// `enter_chat`: the user opened the single chat.
    pub fn enter_chat(from: &str) -> Self {
        Self::new(from, "event", json!({ "eventtype": "enter_chat" }))
    }

    /// `template_card_event`: the user clicked button `event_key` of card `task_id`.
    pub fn card_click(from: &str, event_key: &str, task_id: &str) -> Self {
        Self::new(
            from,
            "event",
            json!({
                "eventtype": "template_card_event",
                "template_card_event": { "card_type": "button_interaction", "event_key": event_key, "task_id": task_id },
            }),
        )
    }

    /// `feedback_event`: the user rated the answer with feedback id `id` (1 = useful,
    /// 2 = not useful).
    pub fn feedback(from: &str, id: &str, kind: u8) -> Self {
        Self::new(
            from,
            "event",
            json!({ "eventtype": "feedback_event", "feedback_event": { "id": id, "type": kind } }),
        )
    }

    /// WeCom's refresh poll for stream `id`.
    pub fn stream_poll(from: &str, id: &str) -> Self {
        Self::new(from, "stream", json!({ "id": id }))
    }

    /// Sent in group chat `chatid`.
    #[must_use]
    pub fn group(mut self, chatid: &str) -> Self {
        self.chat = Some(chatid.to_owned());
        self
    }

    /// Starts the text with `@name` and U+2005, as WeCom writes a mention.
    #[must_use]
    pub fn mention(mut self, name: &str) -> Self {
        if let Some(content) = self.object.get("content").and_then(Value::as_str) {
            self.object["content"] = json!(format!("@{name}\u{2005}{content}"));
        }
        self
    }

    /// This `msgid`.
    #[must_use]
    pub fn msgid(mut self, msgid: &str) -> Self {
        msgid.clone_into(&mut self.msgid);
        self
    }

    /// This `create_time`.
    #[must_use]
    pub fn at(mut self, unix_secs: i64) -> Self {
        self.create_time = unix_secs;
        self
    }

    /// The decrypted JSON of bot `aibotid`.
    pub fn to_json(&self, aibotid: &str) -> String {
        let mut out = json!({
            "msgid": self.msgid,
            "aibotid": aibotid,
            "chattype": if self.chat.is_some() { "group" } else { "single" },
            "from": { "userid": self.from },
            "create_time": self.create_time,
            "msgtype": self.msgtype,
        });
        if !self.response_url.is_empty() {
            out["response_url"] = json!(self.response_url);
        }
        if let Some(chat) = &self.chat {
            out["chatid"] = json!(chat);
        }
        if let Some(quote) = &self.quote {
            out["quote"] = quote.clone();
        }
        out[self.msgtype.as_str()] = self.object.clone();
        out.to_string()
    }
}

/// A part of [`AiBotInbound::mixed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MixedPart<'a> {
    /// Text.
    Text(&'a str),
    /// An image URL.
    Image(&'a str),
}

fn media(url: &str, aeskey: Option<&str>) -> Value {
    let mut v = json!({ "url": url });
    if let Some(k) = aeskey {
        v["aeskey"] = json!(k);
    }
    v
}
