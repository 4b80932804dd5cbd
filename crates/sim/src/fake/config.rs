//! What the fake WeCom knows before it starts: the corp, its secrets and apps, and the
//! customer model (staff, customers, tags, group chats, 微信客服 accounts).

use std::time::Duration;

/// Settings of a [`FakeWeCom`](super::FakeWeCom): a builder, every setter optional.
///
/// ```
/// use wecom_sdk_sim::FakeConfig;
/// let config = FakeConfig::new("ww1436e0e65a779aee")
///     .secret("app-secret")
///     .agent(1_000_002)
///     .expires_in(7200)
///     .staff("zhangsan", "张三")
///     .customer("zhangsan", "wmCustomer1", "李女士")
///     .tag_group("etGroup1", "客户等级", &[("etVip", "VIP"), ("etNew", "新客")]);
/// assert_eq!(config.corp_id(), "ww1436e0e65a779aee");
/// ```
#[derive(Debug, Clone)]
pub struct FakeConfig {
    pub(crate) corp_id: String,
    pub(crate) secrets: Vec<String>,
    pub(crate) agents: Vec<u64>,
    pub(crate) expires_in: u64,
    pub(crate) webhook_keys: Vec<String>,
    pub(crate) robot_per_minute: usize,
    pub(crate) kf_window: Duration,
    pub(crate) kf_replies_per_message: u32,
    pub(crate) kf_accounts: Vec<String>,
    pub(crate) staff: Vec<Staff>,
    pub(crate) customers: Vec<Customer>,
    pub(crate) tag_groups: Vec<TagGroup>,
    pub(crate) group_chats: Vec<GroupChat>,
    pub(crate) port: u16,
}

/// A member of the corp (staff).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    /// UserID.
    pub userid: String,
    /// Display name.
    pub name: String,
    /// Department ids.
    pub department: Vec<u64>,
}

/// An external contact (a customer on WeChat) and the staff member who added them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// `external_userid`.
    pub external_userid: String,
    /// The customer's WeChat name.
    pub name: String,
    /// The staff member who follows them.
    pub staff: String,
    /// Corp tag ids on the customer.
    pub tags: Vec<String>,
    /// When the staff member added them (Unix seconds).
    pub add_time: i64,
}

/// A corp tag group with its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagGroup {
    /// `group_id`.
    pub group_id: String,
    /// `group_name`.
    pub group_name: String,
    /// `(tag id, tag name)` pairs.
    pub tags: Vec<(String, String)>,
}

/// A customer group chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupChat {
    /// `chat_id`.
    pub chat_id: String,
    /// `name`.
    pub name: String,
    /// The owner's UserID.
    pub owner: String,
    /// Member ids: staff UserIDs and customers' `external_userid`s.
    pub members: Vec<String>,
}

impl FakeConfig {
    /// A corp with one secret (`"sim-secret"`), token lifetime 7200 s, no agents checked,
    /// any robot key accepted, 20 robot messages a minute, the 48-hour 微信客服 window and
    /// 5 replies per customer message, on a free port.
    pub fn new(corp_id: impl Into<String>) -> Self {
        Self {
            corp_id: corp_id.into(),
            secrets: vec!["sim-secret".to_owned()],
            agents: Vec::new(),
            expires_in: 7200,
            webhook_keys: Vec::new(),
            robot_per_minute: 20,
            kf_window: Duration::from_secs(48 * 3600),
            kf_replies_per_message: 5,
            kf_accounts: Vec::new(),
            staff: Vec::new(),
            customers: Vec::new(),
            tag_groups: Vec::new(),
            group_chats: Vec::new(),
            port: 0,
        }
    }

    /// The CorpID `gettoken` accepts.
    pub fn corp_id(&self) -> &str {
        &self.corp_id
    }

    /// Accepts this secret in `gettoken` (an app's, the 微信客服 or the customer-contact
    /// secret). The first call replaces the default `"sim-secret"`.
    #[must_use]
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        if self.secrets == ["sim-secret"] {
            self.secrets.clear();
        }
        self.secrets.push(secret.into());
        self
    }

    /// Accepts this `agentid` in `message/send`; once one is set, others get 40056.
    #[must_use]
    pub fn agent(mut self, agent_id: u64) -> Self {
        self.agents.push(agent_id);
        self
    }

    /// The `expires_in` of issued tokens, in seconds.
    #[must_use]
    pub fn expires_in(mut self, seconds: u64) -> Self {
        self.expires_in = seconds;
        self
    }

    /// Accepts this group-robot key; once one is set, other keys get 93000.
    #[must_use]
    pub fn webhook_key(mut self, key: impl Into<String>) -> Self {
        self.webhook_keys.push(key.into());
        self
    }

    /// Robot messages a key may send in a rolling minute before 45009 (WeCom: 20).
    #[must_use]
    pub fn robot_per_minute(mut self, limit: usize) -> Self {
        self.robot_per_minute = limit;
        self
    }

    /// How long after a customer's last message `kf/send_msg` still works (WeCom: 48 h).
    #[must_use]
    pub fn kf_window(mut self, window: Duration) -> Self {
        self.kf_window = window;
        self
    }

    /// A 微信客服 account (`open_kfid`). Accounts also appear when a customer message is
    /// queued for them.
    #[must_use]
    pub fn kf_account(mut self, open_kfid: impl Into<String>) -> Self {
        self.kf_accounts.push(open_kfid.into());
        self
    }

    /// A staff member. Once one is set, `message/send` reports unknown users as invalid.
    #[must_use]
    pub fn staff(mut self, userid: impl Into<String>, name: impl Into<String>) -> Self {
        self.staff.push(Staff {
            userid: userid.into(),
            name: name.into(),
            department: vec![1],
        });
        self
    }

    /// A customer added by staff member `staff` (who is created if unknown).
    #[must_use]
    pub fn customer(
        mut self,
        staff: impl Into<String>,
        external_userid: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        let staff = staff.into();
        if !self.staff.iter().any(|s| s.userid == staff) {
            self = self.staff(staff.clone(), staff.clone());
        }
        self.customers.push(Customer {
            external_userid: external_userid.into(),
            name: name.into(),
            staff,
            tags: Vec::new(),
            add_time: 1_700_000_000,
        });
        self
    }

    /// A corp tag group with `(tag id, tag name)` tags.
    #[must_use]
    pub fn tag_group(
        mut self,
        group_id: impl Into<String>,
        group_name: impl Into<String>,
        tags: &[(&str, &str)],
    ) -> Self {
        self.tag_groups.push(TagGroup {
            group_id: group_id.into(),
            group_name: group_name.into(),
            tags: tags
                .iter()
                .map(|(id, name)| ((*id).to_owned(), (*name).to_owned()))
                .collect(),
        });
        self
    }

    /// A customer group chat owned by staff member `owner`.
    #[must_use]
    pub fn group_chat(
        mut self,
        chat_id: impl Into<String>,
        name: impl Into<String>,
        owner: impl Into<String>,
        members: &[&str],
    ) -> Self {
        self.group_chats.push(GroupChat {
            chat_id: chat_id.into(),
            name: name.into(),
            owner: owner.into(),
            members: members.iter().map(|m| (*m).to_owned()).collect(),
        });
        self
    }

    /// The port to listen on (127.0.0.1); 0, the default, takes a free one.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
}
