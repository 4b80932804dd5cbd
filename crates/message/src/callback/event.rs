//! Events: `MsgType` = `event`, told apart by `Event`.

use super::contact::ContactChange;
use super::external::{ExternalChatChange, ExternalContactChange, ExternalTagChange};
use super::push_ids;
use crate::ParseError;
use crate::xml::{Element, Node};

/// An event callback.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// `subscribe`: a member followed the app.
    Subscribe,
    /// `unsubscribe`: a member unfollowed the app.
    Unsubscribe,
    /// `enter_agent`: a member opened the app.
    EnterAgent,
    /// `LOCATION`: the member's reported position.
    Location {
        /// `Latitude`.
        latitude: f64,
        /// `Longitude`.
        longitude: f64,
        /// `Precision`.
        precision: Option<f64>,
    },
    /// `click`: a menu button was pressed.
    Click {
        /// `EventKey`: the menu key.
        key: String,
    },
    /// `view`: a menu link was opened.
    View {
        /// `EventKey`: the URL.
        url: String,
    },
    /// `view_miniprogram`: a menu mini-program was opened.
    ViewMiniprogram {
        /// `EventKey`.
        key: String,
    },
    /// `scancode_push` / `scancode_waitmsg`: a menu scan.
    ScanCode(ScanCode),
    /// `pic_sysphoto` / `pic_photo_or_album` / `pic_weixin`: pictures sent from a menu.
    Pictures(MenuPictures),
    /// `location_select`: a location picked from a menu.
    LocationSelect {
        /// `EventKey`.
        key: String,
        /// `SendLocationInfo/Location_X`.
        latitude: Option<f64>,
        /// `SendLocationInfo/Location_Y`.
        longitude: Option<f64>,
        /// `SendLocationInfo/Scale`.
        scale: Option<u32>,
        /// `SendLocationInfo/Label`.
        label: Option<String>,
        /// `SendLocationInfo/Poiname`.
        poi_name: Option<String>,
    },
    /// `batch_job_result`: an asynchronous contact import finished.
    BatchJobResult {
        /// `BatchJob/JobId`.
        job_id: String,
        /// `BatchJob/JobType`.
        job_type: BatchJobType,
        /// `BatchJob/ErrCode`.
        err_code: i64,
        /// `BatchJob/ErrMsg`.
        err_msg: String,
    },
    /// `template_card_event`: a button or selection on a template card.
    TemplateCard {
        /// `EventKey`: the button key.
        key: String,
        /// `TaskId`.
        task_id: String,
        /// `CardType`.
        card_type: String,
        /// `ResponseCode`: for `update_template_card` (72 h, single use).
        response_code: String,
        /// `SelectedItems`: the choices of vote and multiple-choice cards.
        selected: Vec<SelectedItem>,
    },
    /// `template_card_menu_event`: the card's menu was used.
    TemplateCardMenu {
        /// `EventKey`.
        key: String,
        /// `TaskId`.
        task_id: String,
        /// `CardType`.
        card_type: String,
        /// `ResponseCode`.
        response_code: String,
    },
    /// `taskcard_click`: a legacy task card button.
    TaskCardClick {
        /// `EventKey`.
        key: String,
        /// `TaskId`.
        task_id: String,
    },
    /// `kf_msg_or_event`: 微信客服 has messages to fetch with `kf/sync_msg`.
    KfMsgOrEvent {
        /// `Token`: pass to `sync_msg` (valid 10 minutes).
        token: String,
        /// `OpenKfId`: the customer-service account.
        open_kf_id: String,
    },
    /// `change_contact`: the address book changed.
    ChangeContact(ContactChange),
    /// `change_external_contact`: a customer relation changed.
    ChangeExternalContact(ExternalContactChange),
    /// `change_external_chat`: a customer group changed.
    ChangeExternalChat(ExternalChatChange),
    /// `change_external_tag`: a customer tag changed.
    ChangeExternalTag(ExternalTagChange),
    /// An event this version does not know; every field is kept.
    Unknown {
        /// The `Event` value.
        event: String,
        /// The whole document.
        raw: Element,
    },
}

/// A scan from a menu (`scancode_push` or `scancode_waitmsg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanCode {
    /// `true` for `scancode_waitmsg` (WeCom waits for the reply), `false` for `scancode_push`.
    pub wait_msg: bool,
    /// `EventKey`.
    pub key: String,
    /// `ScanCodeInfo/ScanType`, e.g. `qrcode`.
    pub scan_type: String,
    /// `ScanCodeInfo/ScanResult`.
    pub scan_result: String,
}

/// Pictures sent from a menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuPictures {
    /// The event: `pic_sysphoto`, `pic_photo_or_album` or `pic_weixin`.
    pub event: String,
    /// `EventKey`.
    pub key: String,
    /// `SendPicsInfo/Count`.
    pub count: u32,
    /// `PicMd5Sum` of each picture (a repeated `PicList` is read too).
    pub md5s: Vec<String>,
}

/// One answered question of a vote or multiple-choice card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedItem {
    /// `QuestionKey`.
    pub question_key: String,
    /// `OptionIds/OptionId…`.
    pub option_ids: Vec<String>,
}

/// `BatchJob/JobType`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchJobType {
    /// `sync_user`.
    SyncUser,
    /// `replace_user`.
    ReplaceUser,
    /// `invite_user`.
    InviteUser,
    /// `replace_party`.
    ReplaceParty,
    /// Another job type.
    Other(String),
}

impl Event {
    #[allow(
        clippy::too_many_lines,
        reason = "one flat arm per event of the protocol"
    )]
    pub(super) fn from_node(root: &Node<'_>) -> Result<Self, ParseError> {
        let event = root.get("Event").unwrap_or_default();
        let key = || root.string_or_empty("EventKey");
        Ok(match event {
            "subscribe" => Self::Subscribe,
            "unsubscribe" => Self::Unsubscribe,
            "enter_agent" => Self::EnterAgent,
            "LOCATION" => Self::Location {
                latitude: root.number("Latitude")?.unwrap_or_default(),
                longitude: root.number("Longitude")?.unwrap_or_default(),
                precision: root.number("Precision")?,
            },
            "click" => Self::Click { key: key() },
            "view" => Self::View { url: key() },
            "view_miniprogram" => Self::ViewMiniprogram { key: key() },
            "scancode_push" | "scancode_waitmsg" => {
                let info = root.child("ScanCodeInfo");
                Self::ScanCode(ScanCode {
                    wait_msg: event == "scancode_waitmsg",
                    key: key(),
                    scan_type: info
                        .map(|i| i.string_or_empty("ScanType"))
                        .unwrap_or_default(),
                    scan_result: info
                        .map(|i| i.string_or_empty("ScanResult"))
                        .unwrap_or_default(),
                })
            }
            "pic_sysphoto" | "pic_photo_or_album" | "pic_weixin" => {
                let info = root.child("SendPicsInfo");
                let md5s = info
                    .into_iter()
                    .flat_map(|i| i.children_named("PicList"))
                    .flat_map(|list| list.children_named("item"))
                    .filter_map(|item| item.string("PicMd5Sum"))
                    .collect();
                Self::Pictures(MenuPictures {
                    event: event.to_owned(),
                    key: key(),
                    count: match info {
                        Some(i) => i.number("Count")?.unwrap_or_default(),
                        None => 0,
                    },
                    md5s,
                })
            }
            "location_select" => {
                let info = root.child("SendLocationInfo");
                let (latitude, longitude, scale) = match info {
                    Some(i) => (
                        i.number("Location_X")?,
                        i.number("Location_Y")?,
                        i.number("Scale")?,
                    ),
                    None => (None, None, None),
                };
                Self::LocationSelect {
                    key: key(),
                    latitude,
                    longitude,
                    scale,
                    label: info.and_then(|i| i.string("Label")),
                    poi_name: info.and_then(|i| i.string("Poiname")),
                }
            }
            "batch_job_result" => {
                let job = root.child("BatchJob");
                let get = |name| job.map(|j| j.string_or_empty(name)).unwrap_or_default();
                Self::BatchJobResult {
                    job_id: get("JobId"),
                    job_type: match job.and_then(|j| j.get("JobType")).unwrap_or_default() {
                        "sync_user" => BatchJobType::SyncUser,
                        "replace_user" => BatchJobType::ReplaceUser,
                        "invite_user" => BatchJobType::InviteUser,
                        "replace_party" => BatchJobType::ReplaceParty,
                        other => BatchJobType::Other(other.to_owned()),
                    },
                    err_code: match job {
                        Some(j) => j.number("ErrCode")?.unwrap_or_default(),
                        None => 0,
                    },
                    err_msg: get("ErrMsg"),
                }
            }
            "template_card_event" => Self::TemplateCard {
                key: key(),
                task_id: root.string_or_empty("TaskId"),
                card_type: root.string_or_empty("CardType"),
                response_code: root.string_or_empty("ResponseCode"),
                selected: root
                    .child("SelectedItems")
                    .into_iter()
                    .flat_map(|s| s.children_named("SelectedItem"))
                    .map(|item| SelectedItem {
                        question_key: item.string_or_empty("QuestionKey"),
                        option_ids: item
                            .children_named("OptionIds")
                            .flat_map(|ids| ids.children_named("OptionId"))
                            .map(|id| id.text.to_string())
                            .collect(),
                    })
                    .collect(),
            },
            "template_card_menu_event" => Self::TemplateCardMenu {
                key: key(),
                task_id: root.string_or_empty("TaskId"),
                card_type: root.string_or_empty("CardType"),
                response_code: root.string_or_empty("ResponseCode"),
            },
            "taskcard_click" => Self::TaskCardClick {
                key: key(),
                task_id: root.string_or_empty("TaskId"),
            },
            "kf_msg_or_event" => Self::KfMsgOrEvent {
                token: root.string_or_empty("Token"),
                open_kf_id: root.string_or_empty("OpenKfId"),
            },
            "change_contact" => Self::ChangeContact(ContactChange::from_node(root)?),
            "change_external_contact" => {
                Self::ChangeExternalContact(ExternalContactChange::from_node(root))
            }
            "change_external_chat" => {
                Self::ChangeExternalChat(ExternalChatChange::from_node(root)?)
            }
            "change_external_tag" => Self::ChangeExternalTag(ExternalTagChange::from_node(root)),
            other => Self::Unknown {
                event: other.to_owned(),
                raw: root.to_element(),
            },
        })
    }

    /// The `Event` value as WeCom spells it.
    pub fn name(&self) -> &str {
        match self {
            Self::Subscribe => "subscribe",
            Self::Unsubscribe => "unsubscribe",
            Self::EnterAgent => "enter_agent",
            Self::Location { .. } => "LOCATION",
            Self::Click { .. } => "click",
            Self::View { .. } => "view",
            Self::ViewMiniprogram { .. } => "view_miniprogram",
            Self::ScanCode(s) if s.wait_msg => "scancode_waitmsg",
            Self::ScanCode(_) => "scancode_push",
            Self::Pictures(p) => &p.event,
            Self::LocationSelect { .. } => "location_select",
            Self::BatchJobResult { .. } => "batch_job_result",
            Self::TemplateCard { .. } => "template_card_event",
            Self::TemplateCardMenu { .. } => "template_card_menu_event",
            Self::TaskCardClick { .. } => "taskcard_click",
            Self::KfMsgOrEvent { .. } => "kf_msg_or_event",
            Self::ChangeContact(_) => "change_contact",
            Self::ChangeExternalContact(_) => "change_external_contact",
            Self::ChangeExternalChat(_) => "change_external_chat",
            Self::ChangeExternalTag(_) => "change_external_tag",
            Self::Unknown { event, .. } => event,
        }
    }

    /// Appends the event's identity (name, change type, own ids) for the dedup key.
    pub(super) fn identity(&self, key: &mut String) {
        key.push_str(self.name());
        let mut ids: Vec<&str> = Vec::new();
        match self {
            Self::Click { key: k } | Self::ViewMiniprogram { key: k } | Self::View { url: k } => {
                ids.push(k);
            }
            Self::ScanCode(s) => ids.extend([s.key.as_str(), &s.scan_result]),
            Self::Pictures(p) => {
                ids.push(&p.key);
                ids.extend(p.md5s.iter().map(String::as_str));
            }
            Self::LocationSelect { key: k, .. } => ids.push(k),
            Self::BatchJobResult { job_id, .. } => ids.push(job_id),
            Self::TemplateCard {
                key: k,
                task_id,
                response_code,
                ..
            }
            | Self::TemplateCardMenu {
                key: k,
                task_id,
                response_code,
                ..
            } => ids.extend([k.as_str(), task_id, response_code]),
            Self::TaskCardClick { key: k, task_id } => ids.extend([k.as_str(), task_id]),
            Self::KfMsgOrEvent { token, open_kf_id } => ids.extend([token.as_str(), open_kf_id]),
            Self::ChangeContact(c) => c.identity(key),
            Self::ChangeExternalContact(c) => c.identity(key),
            Self::ChangeExternalChat(c) => c.identity(key),
            Self::ChangeExternalTag(c) => c.identity(key),
            Self::Unknown { raw, .. } => super::push_fingerprint(key, raw),
            Self::Subscribe | Self::Unsubscribe | Self::EnterAgent | Self::Location { .. } => {}
        }
        push_ids(key, ids);
    }
}
