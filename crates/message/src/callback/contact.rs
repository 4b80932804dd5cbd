//! `change_contact`: members, departments and tags of the address book.

use super::push_ids;
use crate::ParseError;
use crate::xml::{Element, Node};

/// A `change_contact` event, by `ChangeType`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContactChange {
    /// `create_user`.
    CreateUser(Box<UserChange>),
    /// `update_user`.
    UpdateUser(Box<UserChange>),
    /// `delete_user`.
    DeleteUser {
        /// `UserID`.
        user_id: String,
    },
    /// `create_party`.
    CreateParty(PartyChange),
    /// `update_party`.
    UpdateParty(PartyChange),
    /// `delete_party`.
    DeleteParty {
        /// `Id`.
        id: u64,
    },
    /// `update_tag`.
    UpdateTag(TagChange),
    /// A change type this version does not know; every field is kept.
    Unknown {
        /// The `ChangeType` value.
        change_type: String,
        /// The whole document.
        raw: Element,
    },
}

/// The member fields of `create_user` / `update_user`. WeCom sends only what changed
/// (and newer apps may not receive sensitive fields), so all but the id are optional.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct UserChange {
    /// `UserID`.
    pub user_id: String,
    /// `NewUserID` (when the id itself changed).
    pub new_user_id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `Department`: department ids.
    pub department: Vec<u64>,
    /// `MainDepartment`.
    pub main_department: Option<u64>,
    /// `IsLeaderInDept`: one flag per department, in order.
    pub is_leader_in_dept: Vec<u8>,
    /// `Position`.
    pub position: Option<String>,
    /// `Mobile`.
    pub mobile: Option<String>,
    /// `Gender`: 1 male, 2 female.
    pub gender: Option<u8>,
    /// `Email`.
    pub email: Option<String>,
    /// `BizMail`.
    pub biz_mail: Option<String>,
    /// `Status`: 1 active, 2 disabled, 4 not activated, 5 quit.
    pub status: Option<u8>,
    /// `Avatar`.
    pub avatar: Option<String>,
    /// `Alias`.
    pub alias: Option<String>,
    /// `Telephone`.
    pub telephone: Option<String>,
    /// `Address`.
    pub address: Option<String>,
    /// `ExtAttr/Item…`.
    pub ext_attr: Vec<ExtAttr>,
}

/// One extended attribute of a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtAttr {
    /// `Name`.
    pub name: String,
    /// The value by `Type`.
    pub value: ExtAttrValue,
}

/// The value of an extended attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtAttrValue {
    /// `Type` 0: `Text/Value`.
    Text(String),
    /// `Type` 1: `Web/Title`, `Web/Url`.
    Web {
        /// `Title`.
        title: String,
        /// `Url`.
        url: String,
    },
}

/// The fields of `create_party` / `update_party`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PartyChange {
    /// `Id`.
    pub id: u64,
    /// `Name`.
    pub name: Option<String>,
    /// `ParentId`.
    pub parent_id: Option<u64>,
    /// `Order`.
    pub order: Option<u64>,
}

/// The fields of `update_tag`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TagChange {
    /// `TagId`.
    pub tag_id: u64,
    /// `AddUserItems`: members added.
    pub add_user_items: Vec<String>,
    /// `DelUserItems`: members removed.
    pub del_user_items: Vec<String>,
    /// `AddPartyItems`: departments added.
    pub add_party_items: Vec<u64>,
    /// `DelPartyItems`: departments removed.
    pub del_party_items: Vec<u64>,
}

/// Splits a comma-separated list, skipping empty parts.
fn list(node: &Node<'_>, name: &str) -> Vec<String> {
    node.get(name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A comma-separated list of numbers.
fn numbers<T: std::str::FromStr>(
    node: &Node<'_>,
    name: &'static str,
) -> Result<Vec<T>, ParseError> {
    list(node, name)
        .iter()
        .map(|v| v.parse().map_err(|_| ParseError::invalid(name, v)))
        .collect()
}

impl ContactChange {
    pub(super) fn from_node(root: &Node<'_>) -> Result<Self, ParseError> {
        Ok(match root.get("ChangeType").unwrap_or_default() {
            "create_user" => Self::CreateUser(Box::new(user(root)?)),
            "update_user" => Self::UpdateUser(Box::new(user(root)?)),
            "delete_user" => Self::DeleteUser {
                user_id: root.string_or_empty("UserID"),
            },
            "create_party" => Self::CreateParty(party(root)?),
            "update_party" => Self::UpdateParty(party(root)?),
            "delete_party" => Self::DeleteParty {
                id: root.number("Id")?.unwrap_or_default(),
            },
            "update_tag" => Self::UpdateTag(TagChange {
                tag_id: root.number("TagId")?.unwrap_or_default(),
                add_user_items: list(root, "AddUserItems"),
                del_user_items: list(root, "DelUserItems"),
                add_party_items: numbers(root, "AddPartyItems")?,
                del_party_items: numbers(root, "DelPartyItems")?,
            }),
            other => Self::Unknown {
                change_type: other.to_owned(),
                raw: root.to_element(),
            },
        })
    }

    /// The `ChangeType` value as WeCom spells it.
    pub fn change_type(&self) -> &str {
        match self {
            Self::CreateUser(_) => "create_user",
            Self::UpdateUser(_) => "update_user",
            Self::DeleteUser { .. } => "delete_user",
            Self::CreateParty(_) => "create_party",
            Self::UpdateParty(_) => "update_party",
            Self::DeleteParty { .. } => "delete_party",
            Self::UpdateTag(_) => "update_tag",
            Self::Unknown { change_type, .. } => change_type,
        }
    }

    pub(super) fn identity(&self, key: &mut String) {
        push_ids(key, [self.change_type()]);
        match self {
            Self::CreateUser(u) | Self::UpdateUser(u) => {
                push_ids(
                    key,
                    [u.user_id.as_str(), u.new_user_id.as_deref().unwrap_or("")],
                );
            }
            Self::DeleteUser { user_id } => push_ids(key, [user_id.as_str()]),
            Self::CreateParty(p) | Self::UpdateParty(p) => {
                push_ids(key, [p.id.to_string().as_str()]);
            }
            Self::DeleteParty { id } => push_ids(key, [id.to_string().as_str()]),
            Self::UpdateTag(t) => {
                push_ids(key, [t.tag_id.to_string().as_str()]);
                push_ids(
                    key,
                    t.add_user_items
                        .iter()
                        .chain(&t.del_user_items)
                        .map(String::as_str),
                );
                let parties: Vec<String> = t
                    .add_party_items
                    .iter()
                    .chain(&t.del_party_items)
                    .map(u64::to_string)
                    .collect();
                push_ids(key, parties.iter().map(String::as_str));
            }
            Self::Unknown { raw, .. } => super::push_fingerprint(key, raw),
        }
    }
}

fn user(root: &Node<'_>) -> Result<UserChange, ParseError> {
    let ext_attr = root
        .child("ExtAttr")
        .into_iter()
        .flat_map(|e| e.children_named("Item"))
        .map(|item| {
            let value = match item.get("Type") {
                Some("1") => {
                    let web = item.child("Web");
                    ExtAttrValue::Web {
                        title: web.map(|w| w.string_or_empty("Title")).unwrap_or_default(),
                        url: web.map(|w| w.string_or_empty("Url")).unwrap_or_default(),
                    }
                }
                _ => ExtAttrValue::Text(
                    item.child("Text")
                        .map(|t| t.string_or_empty("Value"))
                        .unwrap_or_default(),
                ),
            };
            ExtAttr {
                name: item.string_or_empty("Name"),
                value,
            }
        })
        .collect();
    Ok(UserChange {
        user_id: root.string_or_empty("UserID"),
        new_user_id: root.string("NewUserID"),
        name: root.string("Name"),
        department: numbers(root, "Department")?,
        main_department: root.number("MainDepartment")?,
        is_leader_in_dept: numbers(root, "IsLeaderInDept")?,
        position: root.string("Position"),
        mobile: root.string("Mobile"),
        gender: root.number("Gender")?,
        email: root.string("Email"),
        biz_mail: root.string("BizMail"),
        status: root.number("Status")?,
        avatar: root.string("Avatar"),
        alias: root.string("Alias"),
        telephone: root.string("Telephone"),
        address: root.string("Address"),
        ext_attr,
    })
}

fn party(root: &Node<'_>) -> Result<PartyChange, ParseError> {
    Ok(PartyChange {
        id: root.number("Id")?.unwrap_or_default(),
        name: root.string("Name"),
        parent_id: root.number("ParentId")?,
        order: root.number("Order")?,
    })
}
