//! 微信客服 (WeChat customer service) messages as they come in: the typed response of
//! `kf/sync_msg` — customer messages and events, read after a `kf_msg_or_event` callback.
//! (What the bot sends is in [`crate::send`].)

use serde::Deserialize;

/// The response of `kf/sync_msg`. Loop while `has_more` is 1 — a page may be empty and
/// still have more.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[non_exhaustive]
pub struct SyncMsgResponse {
    /// `next_cursor`: persist it.
    #[serde(default)]
    pub next_cursor: String,
    /// `has_more`: 1 when another page follows.
    #[serde(default)]
    pub has_more: u8,
    /// `msg_list`.
    #[serde(default)]
    pub msg_list: Vec<KfSyncedMessage>,
}

impl SyncMsgResponse {
    /// Whether another page follows.
    pub fn more(&self) -> bool {
        self.has_more == 1
    }
}

/// One entry of `msg_list`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct KfSyncedMessage {
    /// `msgid`: the dedup key of customer-service messages.
    pub msgid: String,
    /// `open_kfid`.
    pub open_kfid: String,
    /// `external_userid` (absent on some events).
    pub external_userid: String,
    /// `send_time`: Unix seconds.
    pub send_time: i64,
    /// `origin`: 3 customer, 4 system event, 5 servicer (WeCom client).
    pub origin: u8,
    /// `servicer_userid` (origin 5).
    pub servicer_userid: Option<String>,
    /// `msgtype` and its object.
    pub body: KfSyncedBody,
}

impl<'de> Deserialize<'de> for KfSyncedMessage {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Common {
            msgid: String,
            #[serde(default)]
            open_kfid: String,
            #[serde(default)]
            external_userid: String,
            #[serde(default)]
            send_time: i64,
            #[serde(default)]
            origin: u8,
            #[serde(default)]
            servicer_userid: Option<String>,
            #[serde(default)]
            msgtype: String,
        }
        let raw = serde_json::Value::deserialize(deserializer)?;
        let common = Common::deserialize(&raw).map_err(serde::de::Error::custom)?;
        // A type or event this version does not read is kept whole, never an error.
        let body = KfSyncedBody::deserialize(&raw).unwrap_or_else(|_| KfSyncedBody::Unknown {
            msgtype: common.msgtype.clone(),
            raw: raw.clone(),
        });
        Ok(Self {
            msgid: common.msgid,
            open_kfid: common.open_kfid,
            external_userid: common.external_userid,
            send_time: common.send_time,
            origin: common.origin,
            servicer_userid: common.servicer_userid,
            body,
        })
    }
}

/// The typed content of a synced message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "msgtype", rename_all = "snake_case")]
#[non_exhaustive]
pub enum KfSyncedBody {
    /// `text{content, menu_id?}`.
    Text {
        /// The object.
        text: KfText,
    },
    /// `image{media_id}`.
    Image {
        /// The object.
        image: KfMedia,
    },
    /// `voice{media_id}`.
    Voice {
        /// The object.
        voice: KfMedia,
    },
    /// `video{media_id}`.
    Video {
        /// The object.
        video: KfMedia,
    },
    /// `file{media_id}`.
    File {
        /// The object.
        file: KfMedia,
    },
    /// `location{latitude, longitude, name, address}`.
    Location {
        /// The object.
        location: serde_json::Value,
    },
    /// `link{title, desc, url, pic_url}`.
    Link {
        /// The object.
        link: serde_json::Value,
    },
    /// `event{event_type, …}`.
    Event {
        /// The object.
        event: KfEvent,
    },
    /// Any other type (`business_card`, `miniprogram`, `channels_shop_product`, …) or
    /// an event this version does not read: the whole entry, kept.
    #[serde(skip)]
    Unknown {
        /// The `msgtype` value.
        msgtype: String,
        /// The whole `msg_list` entry.
        raw: serde_json::Value,
    },
}

/// `text` of a synced message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KfText {
    /// `content`.
    pub content: String,
    /// `menu_id`: the id of the msgmenu item the customer tapped.
    #[serde(default)]
    pub menu_id: Option<String>,
}

/// A media reference of a synced message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KfMedia {
    /// `media_id`.
    pub media_id: String,
}

/// A customer-service event in `msg_list`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "event_type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum KfEvent {
    /// `enter_session`: the customer opened the chat.
    EnterSession {
        /// `open_kfid`.
        #[serde(default)]
        open_kfid: String,
        /// `external_userid`.
        #[serde(default)]
        external_userid: String,
        /// `scene`.
        #[serde(default)]
        scene: String,
        /// `scene_param`.
        #[serde(default)]
        scene_param: String,
        /// `welcome_code`: for `send_msg_on_event` (20 s).
        #[serde(default)]
        welcome_code: String,
    },
    /// `msg_send_fail`: a sent message was not delivered.
    MsgSendFail {
        /// `open_kfid`.
        #[serde(default)]
        open_kfid: String,
        /// `external_userid`.
        #[serde(default)]
        external_userid: String,
        /// `fail_msgid`.
        fail_msgid: String,
        /// `fail_type`.
        #[serde(default)]
        fail_type: u32,
    },
    /// `servicer_status_change`: a servicer went on or off duty.
    ServicerStatusChange {
        /// `servicer_userid`.
        servicer_userid: String,
        /// `status`: 1 on duty, 2 off.
        #[serde(default)]
        status: u8,
        /// `stop_type`.
        #[serde(default)]
        stop_type: u8,
        /// `open_kfid`.
        #[serde(default)]
        open_kfid: String,
    },
    /// `session_status_change`: a session was taken, transferred or ended.
    SessionStatusChange {
        /// `open_kfid`.
        #[serde(default)]
        open_kfid: String,
        /// `external_userid`.
        #[serde(default)]
        external_userid: String,
        /// `change_type`: 1 taken from the queue, 2 transferred, 3 ended, 4 reopened.
        change_type: u8,
        /// `old_servicer_userid`.
        #[serde(default)]
        old_servicer_userid: String,
        /// `new_servicer_userid`.
        #[serde(default)]
        new_servicer_userid: String,
        /// `msg_code`: for `send_msg_on_event`.
        #[serde(default)]
        msg_code: String,
    },
    /// `user_recall_msg`: the customer recalled a message.
    UserRecallMsg {
        /// `open_kfid`.
        #[serde(default)]
        open_kfid: String,
        /// `external_userid`.
        #[serde(default)]
        external_userid: String,
        /// `recall_msgid`.
        #[serde(default)]
        recall_msgid: String,
    },
    /// `servicer_recall_msg`: a servicer recalled a message.
    ServicerRecallMsg {
        /// `open_kfid`.
        #[serde(default)]
        open_kfid: String,
        /// `external_userid`.
        #[serde(default)]
        external_userid: String,
        /// `recall_msgid`.
        #[serde(default)]
        recall_msgid: String,
        /// `servicer_userid`.
        #[serde(default)]
        servicer_userid: String,
    },
    /// `reject_customer_msg_switch_change`.
    RejectCustomerMsgSwitchChange {
        /// `servicer_userid`.
        #[serde(default)]
        servicer_userid: String,
        /// `open_kfid`.
        #[serde(default)]
        open_kfid: String,
        /// `external_userid`.
        #[serde(default)]
        external_userid: String,
        /// `reject_switch`: 1 rejecting.
        #[serde(default)]
        reject_switch: u8,
    },
}
