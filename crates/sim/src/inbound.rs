//! The callbacks WeCom sends, built as WeCom writes them: XML for app callbacks, JSON for
//! the AI bot (智能机器人).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::KfNotice;

/// A field of a callback document.
#[derive(Debug, Clone, PartialEq)]
enum Field {
    Text(String),
    Number(String),
    Node(Vec<(String, Field)>),
}

/// One message or event a customer (or WeCom itself) sends to the bot, before encryption.
///
/// ```
/// use wecom_sdk_sim::Inbound;
/// let xml = Inbound::text("zhangsan", "几点下班？").at_unix(1_700_000_000).msg_id(1).to_xml("ww1", None);
/// assert_eq!(
///     xml,
///     "<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[几点下班？]]></Content><MsgId>1</MsgId></xml>"
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    from: String,
    msg_type: String,
    fields: Vec<(String, Field)>,
    create_time: Option<i64>,
    msg_id: Option<u64>,
    agent_id: Option<u64>,
    chat: Option<String>,
}

/// Process-wide unique `MsgId`s, starting from the clock so runs do not collide.
fn next_msg_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let base = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .wrapping_mul(1_000_000);
    7_000_000_000_000_000_000u64
        .wrapping_add(base % 1_000_000_000_000_000_000)
        .wrapping_add(n)
}

impl Inbound {
    fn message(from: &str, msg_type: &str, fields: Vec<(&str, Field)>) -> Self {
        Self {
            from: from.to_owned(),
            msg_type: msg_type.to_owned(),
            fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            create_time: None,
            msg_id: None,
            agent_id: None,
            chat: None,
        }
    }

    fn text_field(v: impl Into<String>) -> Field {
        Field::Text(v.into())
    }

    /// A text message from member `from`.
    pub fn text(from: &str, content: &str) -> Self {
        Self::message(from, "text", vec![("Content", Self::text_field(content))])
    }

    /// An image message.
    pub fn image(from: &str, pic_url: &str, media_id: &str) -> Self {
        Self::message(
            from,
            "image",
            vec![
                ("PicUrl", Self::text_field(pic_url)),
                ("MediaId", Self::text_field(media_id)),
            ],
        )
    }

    /// A voice message.
    pub fn voice(from: &str, media_id: &str, format: &str) -> Self {
        Self::message(
            from,
            "voice",
            vec![
                ("MediaId", Self::text_field(media_id)),
                ("Format", Self::text_field(format)),
            ],
        )
    }

    /// A video message.
    pub fn video(from: &str, media_id: &str, thumb_media_id: &str) -> Self {
        Self::message(
            from,
            "video",
            vec![
                ("MediaId", Self::text_field(media_id)),
                ("ThumbMediaId", Self::text_field(thumb_media_id)),
            ],
        )
    }

    /// A location message.
    pub fn location(from: &str, latitude: f64, longitude: f64, label: &str) -> Self {
        Self::message(
            from,
            "location",
            vec![
                ("Location_X", Field::Number(latitude.to_string())),
                ("Location_Y", Field::Number(longitude.to_string())),
                ("Scale", Field::Number("15".to_owned())),
                ("Label", Self::text_field(label)),
                ("AppType", Self::text_field("wxwork")),
            ],
        )
    }

    /// A link message.
    pub fn link(from: &str, title: &str, description: &str, url: &str) -> Self {
        Self::message(
            from,
            "link",
            vec![
                ("Title", Self::text_field(title)),
                ("Description", Self::text_field(description)),
                ("Url", Self::text_field(url)),
                ("PicUrl", Self::text_field("")),
            ],
        )
    }

    /// Any event: `MsgType=event`, `Event=event`; add its fields with
    /// [`field`](Self::field).
    pub fn event(from: &str, event: &str) -> Self {
        Self::message(from, "event", vec![("Event", Self::text_field(event))])
    }

    /// A menu click (`click` with the menu's `EventKey`).
    pub fn menu_click(from: &str, key: &str) -> Self {
        Self::event(from, "click").field("EventKey", key)
    }

    /// A menu link opened (`view`).
    pub fn menu_view(from: &str, url: &str) -> Self {
        Self::event(from, "view").field("EventKey", url)
    }

    /// The member opened the app (`enter_agent`).
    pub fn enter_agent(from: &str) -> Self {
        Self::event(from, "enter_agent").field("EventKey", "")
    }

    /// A template-card button click (`template_card_event`).
    pub fn template_card_event(from: &str, event_key: &str, task_id: &str) -> Self {
        Self::event(from, "template_card_event")
            .field("EventKey", event_key)
            .field("TaskId", task_id)
            .field("CardType", "button_interaction")
            .field("ResponseCode", "sim-response-code")
    }

    /// 微信客服 has messages to fetch (`kf_msg_or_event`), with the token of a
    /// [`KfNotice`] from [`FakeWeCom`](crate::FakeWeCom).
    pub fn kf_msg_or_event(notice: &KfNotice) -> Self {
        Self::event("sys", "kf_msg_or_event")
            .field("Token", &notice.token)
            .field("OpenKfId", &notice.open_kfid)
    }

    /// Staff member `staff` added customer `external_userid` (`change_external_contact`
    /// / `add_external_contact`), with the `WelcomeCode` for the welcome message and the
    /// contact way's `State`.
    pub fn add_external_contact(
        staff: &str,
        external_userid: &str,
        welcome_code: &str,
        state: &str,
    ) -> Self {
        Self::event("sys", "change_external_contact")
            .field("ChangeType", "add_external_contact")
            .field("UserID", staff)
            .field("ExternalUserID", external_userid)
            .field("State", state)
            .field("WelcomeCode", welcome_code)
    }

    /// Members joined customer group `chat_id` (`change_external_chat` / `update` /
    /// `add_member`); `join_scene` 1 invited, 2 by link, 3 by QR code.
    pub fn external_chat_add_member(chat_id: &str, members: &[&str], join_scene: u8) -> Self {
        let list = members
            .iter()
            .map(|m| ("Item".to_owned(), Field::Text((*m).to_owned())))
            .collect();
        let mut inbound = Self::event("sys", "change_external_chat")
            .field("ChatId", chat_id)
            .field("ChangeType", "update")
            .field("UpdateDetail", "add_member");
        inbound.fields.push((
            "JoinScene".to_owned(),
            Field::Number(join_scene.to_string()),
        ));
        inbound.fields.push((
            "MemChangeCnt".to_owned(),
            Field::Number(members.len().to_string()),
        ));
        inbound
            .fields
            .push(("MemChangeList".to_owned(), Field::Node(list)));
        inbound
    }

    /// Adds (or replaces) a text field: `field("EventKey", "MENU_HOURS")`.
    #[must_use]
    pub fn field(mut self, name: &str, value: &str) -> Self {
        let value = Field::Text(value.to_owned());
        match self.fields.iter_mut().find(|(k, _)| k == name) {
            Some((_, v)) => *v = value,
            None => self.fields.push((name.to_owned(), value)),
        }
        self
    }

    /// Sets `CreateTime` (Unix seconds); without it the time of sending is used.
    #[must_use]
    pub fn at_unix(mut self, seconds: i64) -> Self {
        self.create_time = Some(seconds);
        self
    }

    /// Sets `CreateTime` from a time.
    #[must_use]
    pub fn at(self, time: SystemTime) -> Self {
        let secs = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.at_unix(secs)
    }

    /// Sets `MsgId`; messages (not events) get a unique one otherwise.
    #[must_use]
    pub fn msg_id(mut self, id: u64) -> Self {
        self.msg_id = Some(id);
        self
    }

    /// Sets `AgentID` (the sender's default applies otherwise).
    #[must_use]
    pub fn agent(mut self, agent_id: u64) -> Self {
        self.agent_id = Some(agent_id);
        self
    }

    /// Says it in group chat `chat_id` (AI-bot JSON callbacks carry `chatid` and
    /// `chattype: group`; app callbacks have no group chats).
    #[must_use]
    pub fn in_chat(mut self, chat_id: &str) -> Self {
        self.chat = Some(chat_id.to_owned());
        self
    }

    /// Prefixes the text with an @mention of `name`, as a customer @-ing the bot writes it.
    #[must_use]
    pub fn mention(mut self, name: &str) -> Self {
        if let Some((_, Field::Text(content))) =
            self.fields.iter_mut().find(|(k, _)| k == "Content")
        {
            *content = format!("@{name} {content}");
        }
        self
    }

    /// The sender (`FromUserName`).
    pub fn from(&self) -> &str {
        &self.from
    }

    /// `MsgType`.
    pub fn msg_type(&self) -> &str {
        &self.msg_type
    }

    /// The text of a text message.
    pub fn content(&self) -> Option<&str> {
        match self.fields.iter().find(|(k, _)| k == "Content") {
            Some((_, Field::Text(t))) => Some(t),
            _ => None,
        }
    }

    /// The group chat, if said in one.
    pub fn chat(&self) -> Option<&str> {
        self.chat.as_deref()
    }

    /// `CreateTime` if set.
    pub fn create_time(&self) -> Option<i64> {
        self.create_time
    }

    /// Fills in what was left to the time of sending: `CreateTime` and, for messages,
    /// `MsgId`.
    #[must_use]
    pub fn stamped(mut self) -> Self {
        if self.create_time.is_none() {
            self = self.at(SystemTime::now());
        }
        if self.msg_id.is_none() && self.msg_type != "event" {
            self.msg_id = Some(next_msg_id());
        }
        self
    }

    /// The decrypted XML WeCom would send to app `corp_id`, with the default `agent_id`
    /// unless [`agent`](Self::agent) set one. Call [`stamped`](Self::stamped) first for a
    /// time and a `MsgId`; unset, they are left out (`CreateTime` 0).
    pub fn to_xml(&self, corp_id: &str, agent_id: Option<u64>) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("<xml>");
        cdata(&mut out, "ToUserName", corp_id);
        cdata(&mut out, "FromUserName", &self.from);
        plain(
            &mut out,
            "CreateTime",
            &self.create_time.unwrap_or(0).to_string(),
        );
        cdata(&mut out, "MsgType", &self.msg_type);
        write_fields(&mut out, &self.fields);
        if let Some(id) = self.msg_id {
            plain(&mut out, "MsgId", &id.to_string());
        }
        if let Some(agent) = self.agent_id.or(agent_id) {
            plain(&mut out, "AgentID", &agent.to_string());
        }
        out.push_str("</xml>");
        out
    }

    /// The decrypted JSON WeCom's AI bot (智能机器人) `aibotid` would send.
    pub fn to_aibot_json(&self, aibotid: &str) -> String {
        let msgid = self.msg_id.map_or_else(String::new, |id| id.to_string());
        let text = |name: &str| match self.fields.iter().find(|(k, _)| k == name) {
            Some((_, Field::Text(t))) => t.clone(),
            _ => String::new(),
        };
        let mut out = json!({
            "msgid": msgid,
            "aibotid": aibotid,
            "chattype": if self.chat.is_some() { "group" } else { "single" },
            "from": {"userid": self.from},
            "create_time": self.create_time.unwrap_or(0),
            "response_url": format!("http://127.0.0.1/__sim/response/{msgid}"),
            "msgtype": self.msg_type,
        });
        if let Some(chat) = &self.chat {
            out["chatid"] = json!(chat);
        }
        let object = match self.msg_type.as_str() {
            "text" | "voice" => json!({"content": text("Content")}),
            "image" => json!({"url": text("PicUrl")}),
            "event" => {
                let event = text("Event");
                let mut e = json!({"eventtype": event});
                if event == "template_card_event" {
                    e["template_card_event"] =
                        json!({"event_key": text("EventKey"), "task_id": text("TaskId")});
                }
                e
            }
            _ => Value::Object(
                self.fields
                    .iter()
                    .filter_map(|(k, v)| match v {
                        Field::Text(t) | Field::Number(t) => {
                            Some((k.to_ascii_lowercase(), json!(t)))
                        }
                        Field::Node(_) => None,
                    })
                    .collect(),
            ),
        };
        out[self.msg_type.as_str()] = object;
        out.to_string()
    }
}

fn write_fields(out: &mut String, fields: &[(String, Field)]) {
    for (name, value) in fields {
        match value {
            Field::Text(t) => cdata(out, name, t),
            Field::Number(n) => plain(out, name, n),
            Field::Node(children) => {
                out.push('<');
                out.push_str(name);
                out.push('>');
                write_fields(out, children);
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
        }
    }
}

/// `<name><![CDATA[value]]></name>`, with `]]>` split across two sections.
fn cdata(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push_str("><![CDATA[");
    out.push_str(&value.replace("]]>", "]]]]><![CDATA[>"));
    out.push_str("]]></");
    out.push_str(name);
    out.push('>');
}

fn plain(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(value);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}
