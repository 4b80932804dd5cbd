//! Customer contact (客户联系, [doc 92109](https://developer.work.weixin.qq.com/document/path/92109)):
//! contact ways (「联系我」/ 活码), customer tags, customer groups, group-send templates.
//! The token must come from the customer-contact secret or an app granted the API.

use serde::{Deserialize, Serialize};
use serde_json::json;
use wecom_sdk_message::send::{MsgTemplate, WelcomeMsg};

use crate::Client;
use crate::error::{ClientError, Kind};

/// A customer as `externalcontact/get` returns them: who they are and each member who
/// has them, with that member's tags for them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[non_exhaustive]
pub struct CustomerDetail {
    /// `external_contact`.
    pub external_contact: ExternalContact,
    /// `follow_user`: the members who added the customer.
    #[serde(default)]
    pub follow_user: Vec<FollowUser>,
}

/// `external_contact`: the customer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[non_exhaustive]
pub struct ExternalContact {
    /// `external_userid`.
    pub external_userid: String,
    /// `name`: the WeChat nickname.
    #[serde(default)]
    pub name: String,
    /// `type`: 1 WeChat user, 2 WeCom user.
    #[serde(rename = "type", default)]
    pub kind: u8,
}

/// One member who has the customer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[non_exhaustive]
pub struct FollowUser {
    /// `userid`: the member.
    pub userid: String,
    /// `remark`: the member's note for the customer.
    #[serde(default)]
    pub remark: String,
    /// `createtime`: when the member added the customer (Unix seconds).
    #[serde(default)]
    pub createtime: i64,
    /// `tags`: the customer's tags as this member sees them.
    #[serde(default)]
    pub tags: Vec<CustomerTag>,
}

/// A customer tag on a customer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[non_exhaustive]
pub struct CustomerTag {
    /// `tag_id` (corp tags).
    #[serde(default)]
    pub tag_id: String,
    /// `tag_name`.
    #[serde(default)]
    pub tag_name: String,
    /// `group_name`.
    #[serde(default)]
    pub group_name: String,
}

/// `externalcontact/list`: the member has no customers.
const NO_CUSTOMERS: i64 = 84_061;

/// A contact way (`add_contact_way` / `update_contact_way`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[non_exhaustive]
pub struct ContactWay {
    /// `type`: 1 one member, 2 several members.
    #[serde(rename = "type")]
    pub kind: u8,
    /// `scene`: 1 mini-program button, 2 QR code.
    pub scene: u8,
    /// `style` (mini-program scene).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style: Option<u8>,
    /// `remark` (≤ 30 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    /// `skip_verify` (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_verify: Option<bool>,
    /// `state`: echoed in `add_external_contact` (≤ 30 characters) — which QR code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// `user`: members (type 1: exactly one; at most 100).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub user: Vec<String>,
    /// `party`: departments (type 2).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub party: Vec<u64>,
}

impl ContactWay {
    /// A QR code for one member.
    pub fn qr_code_for(user: impl Into<String>) -> Self {
        Self {
            kind: 1,
            scene: 2,
            user: vec![user.into()],
            ..Self::default()
        }
    }

    /// A QR code (活码) shared by several members: WeCom spreads the customers who scan
    /// it over them.
    pub fn qr_code_for_members<I, S>(users: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            kind: 2,
            scene: 2,
            user: users.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// Sets `remark` (≤ 30 characters).
    #[must_use]
    pub fn remark(mut self, remark: impl Into<String>) -> Self {
        self.remark = Some(remark.into());
        self
    }

    /// Sets `state`.
    #[must_use]
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }

    fn validate(&self, path: &str) -> Result<(), ClientError> {
        let invalid = |m: &str| Err(ClientError::new(Kind::Invalid, None, m, path));
        if !matches!(self.kind, 1 | 2) || !matches!(self.scene, 1 | 2) {
            return invalid("type and scene are 1 or 2");
        }
        if self.kind == 1 && (self.user.len() != 1 || !self.party.is_empty()) {
            return invalid("a single-member contact way has exactly one user");
        }
        if self.user.len() > 100 {
            return invalid("at most 100 users");
        }
        for (field, value) in [("remark", &self.remark), ("state", &self.state)] {
            if value.as_ref().is_some_and(|v| v.chars().count() > 30) {
                return Err(ClientError::new(
                    Kind::Invalid,
                    None,
                    format!("{field}: at most 30 characters"),
                    path,
                ));
            }
        }
        Ok(())
    }
}

/// The answer of `add_contact_way`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ContactWayCreated {
    /// `config_id`.
    pub config_id: String,
    /// `qr_code`: the QR code's URL (scene 2).
    #[serde(default)]
    pub qr_code: String,
}

/// A tag group of `get_corp_tag_list`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct TagGroup {
    /// `group_id`.
    pub group_id: String,
    /// `group_name`.
    pub group_name: String,
    /// `tag[{id, name}]`.
    #[serde(default)]
    pub tag: Vec<Tag>,
}

/// A customer tag.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Tag {
    /// `id`.
    pub id: String,
    /// `name`.
    pub name: String,
}

/// A customer group of `groupchat/get`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct GroupChat {
    /// `chat_id`.
    pub chat_id: String,
    /// `name`.
    #[serde(default)]
    pub name: String,
    /// `owner`.
    #[serde(default)]
    pub owner: String,
    /// `member_list[{userid, type (1 member, 2 customer), …}]`.
    #[serde(default)]
    pub member_list: Vec<GroupMember>,
}

/// A member of a customer group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct GroupMember {
    /// `userid`.
    pub userid: String,
    /// `type`: 1 member, 2 customer.
    #[serde(rename = "type", default)]
    pub kind: u8,
}

/// The answer of `add_msg_template`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct TemplateCreated {
    /// `fail_list`: customers it cannot go to.
    #[serde(default)]
    pub fail_list: Vec<String>,
    /// `msgid`.
    #[serde(default)]
    pub msgid: String,
}

/// The `externalcontact/*` endpoints.
#[derive(Debug, Clone, Copy)]
pub struct ExternalContactApi<'a> {
    pub(crate) client: &'a Client,
}

impl ExternalContactApi<'_> {
    /// Creates a contact way (a 活码 QR code when `scene` is 2).
    ///
    /// # Errors
    /// [`Kind::Invalid`] before any request; API errors.
    pub async fn add_contact_way(
        &self,
        way: &ContactWay,
    ) -> Result<ContactWayCreated, ClientError> {
        const PATH: &str = "/cgi-bin/externalcontact/add_contact_way";
        way.validate(PATH)?;
        self.client.post(PATH, way).await
    }

    /// Reads a contact way (raw JSON of `contact_way`).
    ///
    /// # Errors
    /// API errors.
    pub async fn get_contact_way(&self, config_id: &str) -> Result<serde_json::Value, ClientError> {
        let answer: serde_json::Value = self
            .client
            .post_idempotent(
                "/cgi-bin/externalcontact/get_contact_way",
                &json!({ "config_id": config_id }),
            )
            .await?;
        Ok(answer.get("contact_way").cloned().unwrap_or_default())
    }

    /// Updates a contact way (`type` and `scene` cannot change and are not sent).
    ///
    /// # Errors
    /// [`Kind::Invalid`] before any request; API errors.
    pub async fn update_contact_way(
        &self,
        config_id: &str,
        way: &ContactWay,
    ) -> Result<(), ClientError> {
        const PATH: &str = "/cgi-bin/externalcontact/update_contact_way";
        way.validate(PATH)?;
        let mut body = serde_json::to_value(way)
            .map_err(|e| ClientError::new(Kind::Decode, None, e.to_string(), PATH))?;
        if let Some(map) = body.as_object_mut() {
            map.remove("type");
            map.remove("scene");
            map.insert("config_id".to_owned(), config_id.into());
        }
        let _: serde_json::Value = self.client.post_idempotent(PATH, &body).await?;
        Ok(())
    }

    /// Deletes a contact way.
    ///
    /// # Errors
    /// API errors.
    pub async fn del_contact_way(&self, config_id: &str) -> Result<(), ClientError> {
        let _: serde_json::Value = self
            .client
            .post_idempotent(
                "/cgi-bin/externalcontact/del_contact_way",
                &json!({ "config_id": config_id }),
            )
            .await?;
        Ok(())
    }

    /// A customer, with the members who have them and their tags.
    ///
    /// # Errors
    /// API errors (40096 for an unknown external user id).
    pub async fn get(&self, external_userid: &str) -> Result<CustomerDetail, ClientError> {
        self.client
            .get(
                "/cgi-bin/externalcontact/get",
                &[("external_userid", external_userid)],
            )
            .await
    }

    /// Sends the welcome message for a customer just added, with the `WelcomeCode` of
    /// the `add_external_contact` event (valid 20 seconds, single use: never repeated
    /// on a failure, a second use is refused by WeCom).
    ///
    /// # Errors
    /// [`Kind::Invalid`] before any request when a limit is broken; API errors (41051
    /// for a used or expired code).
    pub async fn send_welcome_msg(&self, message: &WelcomeMsg) -> Result<(), ClientError> {
        const PATH: &str = "/cgi-bin/externalcontact/send_welcome_msg";
        message
            .validate()
            .map_err(|e| ClientError::new(Kind::Invalid, None, e.to_string(), PATH))?;
        let _: serde_json::Value = self.client.post(PATH, message).await?;
        Ok(())
    }

    /// Adds and removes a customer's tags (as seen by member `userid`).
    ///
    /// # Errors
    /// [`Kind::Invalid`] when both lists are empty; API errors.
    pub async fn mark_tag(
        &self,
        userid: &str,
        external_userid: &str,
        add: &[&str],
        remove: &[&str],
    ) -> Result<(), ClientError> {
        const PATH: &str = "/cgi-bin/externalcontact/mark_tag";
        if add.is_empty() && remove.is_empty() {
            return Err(ClientError::new(
                Kind::Invalid,
                None,
                "add_tag and remove_tag are both empty",
                PATH,
            ));
        }
        let body = json!({ "userid": userid, "external_userid": external_userid, "add_tag": add, "remove_tag": remove });
        let _: serde_json::Value = self.client.post_idempotent(PATH, &body).await?;
        Ok(())
    }

    /// The corp's customer tags (all when both filters are empty).
    ///
    /// # Errors
    /// API errors.
    pub async fn get_corp_tag_list(
        &self,
        tag_ids: &[&str],
        group_ids: &[&str],
    ) -> Result<Vec<TagGroup>, ClientError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            tag_group: Vec<TagGroup>,
        }
        let answer: Answer = self
            .client
            .post_idempotent(
                "/cgi-bin/externalcontact/get_corp_tag_list",
                &json!({ "tag_id": tag_ids, "group_id": group_ids }),
            )
            .await?;
        Ok(answer.tag_group)
    }

    /// Members who have customers.
    ///
    /// # Errors
    /// API errors.
    pub async fn get_follow_user_list(&self) -> Result<Vec<String>, ClientError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            follow_user: Vec<String>,
        }
        let answer: Answer = self
            .client
            .get("/cgi-bin/externalcontact/get_follow_user_list", &[])
            .await?;
        Ok(answer.follow_user)
    }

    /// The customers of member `userid` (their external user ids): empty when the member
    /// has none (WeCom answers 84061 then).
    ///
    /// # Errors
    /// API errors (40003 for an unknown member).
    pub async fn list(&self, userid: &str) -> Result<Vec<String>, ClientError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            external_userid: Vec<String>,
        }
        match self
            .client
            .get::<Answer>("/cgi-bin/externalcontact/list", &[("userid", userid)])
            .await
        {
            Ok(answer) => Ok(answer.external_userid),
            Err(e) if e.errcode() == Some(NO_CUSTOMERS) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// One page of customer groups: `(chat ids, next cursor)`; an empty cursor means done.
    ///
    /// # Errors
    /// API errors (81017 without an owner filter in large corps).
    pub async fn groupchat_list(
        &self,
        owners: &[&str],
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<String>, String), ClientError> {
        #[derive(Deserialize)]
        struct Item {
            chat_id: String,
        }
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            group_chat_list: Vec<Item>,
            #[serde(default)]
            next_cursor: String,
        }
        let mut body = json!({ "status_filter": 0, "limit": limit.clamp(1, 1000) });
        if !owners.is_empty() {
            body["owner_filter"] = json!({ "userid_list": owners });
        }
        if let Some(cursor) = cursor {
            body["cursor"] = cursor.into();
        }
        let answer: Answer = self
            .client
            .post_idempotent("/cgi-bin/externalcontact/groupchat/list", &body)
            .await?;
        Ok((
            answer
                .group_chat_list
                .into_iter()
                .map(|i| i.chat_id)
                .collect(),
            answer.next_cursor,
        ))
    }

    /// A customer group's details.
    ///
    /// # Errors
    /// API errors.
    pub async fn groupchat_get(&self, chat_id: &str) -> Result<GroupChat, ClientError> {
        #[derive(Deserialize)]
        struct Answer {
            group_chat: GroupChat,
        }
        let answer: Answer = self
            .client
            .post_idempotent(
                "/cgi-bin/externalcontact/groupchat/get",
                &json!({ "chat_id": chat_id, "need_name": 1 }),
            )
            .await?;
        Ok(answer.group_chat)
    }

    /// Creates a group-send task (the member confirms it in the client).
    ///
    /// # Errors
    /// [`Kind::Invalid`] before any request; API errors.
    pub async fn add_msg_template(
        &self,
        template: &MsgTemplate,
    ) -> Result<TemplateCreated, ClientError> {
        const PATH: &str = "/cgi-bin/externalcontact/add_msg_template";
        template
            .validate()
            .map_err(|e| ClientError::new(Kind::Invalid, None, e.to_string(), PATH))?;
        self.client.post(PATH, template).await
    }
}
