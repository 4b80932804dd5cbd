//! Customer-contact events: `change_external_contact`, `change_external_chat`,
//! `change_external_tag` (`FromUserName` = `sys`).

use super::push_ids;
use crate::ParseError;
use crate::xml::{Element, Node};

/// A `change_external_contact` event, by `ChangeType`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExternalContactChange {
    /// `add_external_contact`: a customer was added.
    Add {
        /// `UserID`: the member.
        user_id: String,
        /// `ExternalUserID`: the customer.
        external_user_id: String,
        /// `State`: the contact way's state, when added through one (活码).
        state: Option<String>,
        /// `WelcomeCode`: send a welcome message with it (20 s).
        welcome_code: Option<String>,
    },
    /// `edit_external_contact`: the member edited the customer.
    Edit {
        /// `UserID`.
        user_id: String,
        /// `ExternalUserID`.
        external_user_id: String,
    },
    /// `add_half_external_contact`: the customer added the member, not yet accepted.
    AddHalf {
        /// `UserID`.
        user_id: String,
        /// `ExternalUserID`.
        external_user_id: String,
        /// `State`.
        state: Option<String>,
        /// `WelcomeCode`.
        welcome_code: Option<String>,
    },
    /// `del_external_contact`: the member deleted the customer.
    Del {
        /// `UserID`.
        user_id: String,
        /// `ExternalUserID`.
        external_user_id: String,
        /// `Source`, e.g. `DELETE_BY_TRANSFER`.
        source: Option<String>,
    },
    /// `del_follow_user`: the customer deleted the member.
    DelFollowUser {
        /// `UserID`.
        user_id: String,
        /// `ExternalUserID`.
        external_user_id: String,
    },
    /// `transfer_fail`: a customer transfer failed.
    TransferFail {
        /// `UserID`.
        user_id: String,
        /// `ExternalUserID`.
        external_user_id: String,
        /// `FailReason`.
        fail_reason: TransferFailReason,
    },
    /// `msg_audit_approved`: the customer agreed to session archiving.
    MsgAuditApproved {
        /// `UserID`.
        user_id: String,
        /// `ExternalUserID`.
        external_user_id: String,
    },
    /// A change type this version does not know; every field is kept.
    Unknown {
        /// The `ChangeType` value.
        change_type: String,
        /// The whole document.
        raw: Element,
    },
}

/// `FailReason` of `transfer_fail`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferFailReason {
    /// `customer_refused`.
    CustomerRefused,
    /// `customer_limit_exceed`.
    CustomerLimitExceed,
    /// Another reason.
    Other(String),
}

impl ExternalContactChange {
    pub(super) fn from_node(root: &Node<'_>) -> Self {
        let user_id = root.string_or_empty("UserID");
        let external_user_id = root.string_or_empty("ExternalUserID");
        match root.get("ChangeType").unwrap_or_default() {
            "add_external_contact" => Self::Add {
                user_id,
                external_user_id,
                state: root.string("State"),
                welcome_code: root.string("WelcomeCode"),
            },
            "edit_external_contact" => Self::Edit {
                user_id,
                external_user_id,
            },
            "add_half_external_contact" => Self::AddHalf {
                user_id,
                external_user_id,
                state: root.string("State"),
                welcome_code: root.string("WelcomeCode"),
            },
            "del_external_contact" => Self::Del {
                user_id,
                external_user_id,
                source: root.string("Source"),
            },
            "del_follow_user" => Self::DelFollowUser {
                user_id,
                external_user_id,
            },
            "transfer_fail" => Self::TransferFail {
                user_id,
                external_user_id,
                fail_reason: match root.get("FailReason").unwrap_or_default() {
                    "customer_refused" => TransferFailReason::CustomerRefused,
                    "customer_limit_exceed" => TransferFailReason::CustomerLimitExceed,
                    other => TransferFailReason::Other(other.to_owned()),
                },
            },
            "msg_audit_approved" => Self::MsgAuditApproved {
                user_id,
                external_user_id,
            },
            other => Self::Unknown {
                change_type: other.to_owned(),
                raw: root.to_element(),
            },
        }
    }

    /// The `ChangeType` value as WeCom spells it.
    pub fn change_type(&self) -> &str {
        match self {
            Self::Add { .. } => "add_external_contact",
            Self::Edit { .. } => "edit_external_contact",
            Self::AddHalf { .. } => "add_half_external_contact",
            Self::Del { .. } => "del_external_contact",
            Self::DelFollowUser { .. } => "del_follow_user",
            Self::TransferFail { .. } => "transfer_fail",
            Self::MsgAuditApproved { .. } => "msg_audit_approved",
            Self::Unknown { change_type, .. } => change_type,
        }
    }

    pub(super) fn identity(&self, key: &mut String) {
        push_ids(key, [self.change_type()]);
        match self {
            Self::Add {
                user_id,
                external_user_id,
                ..
            }
            | Self::Edit {
                user_id,
                external_user_id,
            }
            | Self::AddHalf {
                user_id,
                external_user_id,
                ..
            }
            | Self::Del {
                user_id,
                external_user_id,
                ..
            }
            | Self::DelFollowUser {
                user_id,
                external_user_id,
            }
            | Self::TransferFail {
                user_id,
                external_user_id,
                ..
            }
            | Self::MsgAuditApproved {
                user_id,
                external_user_id,
            } => push_ids(key, [user_id.as_str(), external_user_id]),
            Self::Unknown { raw, .. } => super::push_fingerprint(key, raw),
        }
    }
}

/// A `change_external_chat` event, by `ChangeType`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExternalChatChange {
    /// `create`: a customer group was created.
    Create {
        /// `ChatId`.
        chat_id: String,
    },
    /// `update`: a customer group changed.
    Update {
        /// `ChatId`.
        chat_id: String,
        /// `UpdateDetail`.
        detail: ChatUpdateDetail,
        /// `JoinScene`: 0 invited directly or by link, 3 scanned the group QR code.
        join_scene: Option<u8>,
        /// `QuitScene`: 0 left, 1 removed by the owner or an admin.
        quit_scene: Option<u8>,
        /// `MemChangeCnt`.
        mem_change_cnt: Option<u32>,
        /// `MemChangeList/Item…`: the members who joined or left.
        mem_change_list: Vec<String>,
        /// `LastMemVer`.
        last_mem_ver: Option<String>,
        /// `CurMemVer`.
        cur_mem_ver: Option<String>,
    },
    /// `dismiss`: a customer group was dissolved.
    Dismiss {
        /// `ChatId`.
        chat_id: String,
    },
    /// A change type this version does not know; every field is kept.
    Unknown {
        /// The `ChangeType` value.
        change_type: String,
        /// The whole document.
        raw: Element,
    },
}

/// `UpdateDetail` of a customer-group update.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChatUpdateDetail {
    /// `add_member`.
    AddMember,
    /// `del_member`.
    DelMember,
    /// `change_owner`.
    ChangeOwner,
    /// `change_name`.
    ChangeName,
    /// `change_notice`.
    ChangeNotice,
    /// Another detail.
    Other(String),
}

impl ExternalChatChange {
    pub(super) fn from_node(root: &Node<'_>) -> Result<Self, ParseError> {
        let chat_id = root.string_or_empty("ChatId");
        Ok(match root.get("ChangeType").unwrap_or_default() {
            "create" => Self::Create { chat_id },
            "dismiss" => Self::Dismiss { chat_id },
            "update" => Self::Update {
                chat_id,
                detail: match root.get("UpdateDetail").unwrap_or_default() {
                    "add_member" => ChatUpdateDetail::AddMember,
                    "del_member" => ChatUpdateDetail::DelMember,
                    "change_owner" => ChatUpdateDetail::ChangeOwner,
                    "change_name" => ChatUpdateDetail::ChangeName,
                    "change_notice" => ChatUpdateDetail::ChangeNotice,
                    other => ChatUpdateDetail::Other(other.to_owned()),
                },
                join_scene: root.number("JoinScene")?,
                quit_scene: root.number("QuitScene")?,
                mem_change_cnt: root.number("MemChangeCnt")?,
                mem_change_list: root
                    .child("MemChangeList")
                    .into_iter()
                    .flat_map(|l| l.children_named("Item"))
                    .map(|i| i.text.to_string())
                    .collect(),
                last_mem_ver: root.string("LastMemVer"),
                cur_mem_ver: root.string("CurMemVer"),
            },
            other => Self::Unknown {
                change_type: other.to_owned(),
                raw: root.to_element(),
            },
        })
    }

    /// The `ChangeType` value as WeCom spells it.
    pub fn change_type(&self) -> &str {
        match self {
            Self::Create { .. } => "create",
            Self::Update { .. } => "update",
            Self::Dismiss { .. } => "dismiss",
            Self::Unknown { change_type, .. } => change_type,
        }
    }

    pub(super) fn identity(&self, key: &mut String) {
        push_ids(key, [self.change_type()]);
        match self {
            Self::Create { chat_id } | Self::Dismiss { chat_id } => {
                push_ids(key, [chat_id.as_str()]);
            }
            Self::Update {
                chat_id,
                mem_change_list,
                cur_mem_ver,
                ..
            } => {
                push_ids(
                    key,
                    [chat_id.as_str(), cur_mem_ver.as_deref().unwrap_or("")],
                );
                push_ids(key, mem_change_list.iter().map(String::as_str));
            }
            Self::Unknown { raw, .. } => super::push_fingerprint(key, raw),
        }
    }
}

/// A `change_external_tag` event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExternalTagChange {
    /// `create`.
    Create {
        /// `Id`: the tag or tag group.
        id: String,
        /// `TagType`.
        tag_type: TagType,
        /// `StrategyId` (rule-group tags).
        strategy_id: Option<u64>,
    },
    /// `update`.
    Update {
        /// `Id`.
        id: String,
        /// `TagType`.
        tag_type: TagType,
        /// `StrategyId`.
        strategy_id: Option<u64>,
    },
    /// `delete`.
    Delete {
        /// `Id`.
        id: String,
        /// `TagType`.
        tag_type: TagType,
        /// `StrategyId`.
        strategy_id: Option<u64>,
    },
    /// `shuffle`: tags were reordered.
    Shuffle {
        /// `Id`: the tag group, when one.
        id: String,
        /// `StrategyId`.
        strategy_id: Option<u64>,
    },
    /// A change type this version does not know; every field is kept.
    Unknown {
        /// The `ChangeType` value.
        change_type: String,
        /// The whole document.
        raw: Element,
    },
}

/// `TagType`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TagType {
    /// `tag`.
    Tag,
    /// `tag_group`.
    TagGroup,
    /// Another type.
    Other(String),
}

impl ExternalTagChange {
    pub(super) fn from_node(root: &Node<'_>) -> Self {
        let id = root.string_or_empty("Id");
        let tag_type = match root.get("TagType").unwrap_or_default() {
            "tag" => TagType::Tag,
            "tag_group" => TagType::TagGroup,
            other => TagType::Other(other.to_owned()),
        };
        // A malformed StrategyId is dropped rather than failing the event.
        let strategy_id = root.number("StrategyId").ok().flatten();
        match root.get("ChangeType").unwrap_or_default() {
            "create" => Self::Create {
                id,
                tag_type,
                strategy_id,
            },
            "update" => Self::Update {
                id,
                tag_type,
                strategy_id,
            },
            "delete" => Self::Delete {
                id,
                tag_type,
                strategy_id,
            },
            "shuffle" => Self::Shuffle { id, strategy_id },
            other => Self::Unknown {
                change_type: other.to_owned(),
                raw: root.to_element(),
            },
        }
    }

    /// The `ChangeType` value as WeCom spells it.
    pub fn change_type(&self) -> &str {
        match self {
            Self::Create { .. } => "create",
            Self::Update { .. } => "update",
            Self::Delete { .. } => "delete",
            Self::Shuffle { .. } => "shuffle",
            Self::Unknown { change_type, .. } => change_type,
        }
    }

    pub(super) fn identity(&self, key: &mut String) {
        push_ids(key, [self.change_type()]);
        match self {
            Self::Create { id, .. }
            | Self::Update { id, .. }
            | Self::Delete { id, .. }
            | Self::Shuffle { id, .. } => push_ids(key, [id.as_str()]),
            Self::Unknown { raw, .. } => super::push_fingerprint(key, raw),
        }
    }
}
