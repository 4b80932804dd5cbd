//! Who is writing: [`ProfileProvider`] fills what rules and templates need (nickname,
//! departments, tags, new or returning customer); [`WeComProfiles`] asks WeCom
//! (`user/get` for members, `externalcontact/get` for customers); the bot caches every
//! provider's answers with a TTL.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use wecom_sdk_client::Client;
use wecom_sdk_matcher::{Channel, CustomerKind};

use crate::Clock;
use crate::error::HandlerError;

/// What the bot knows about a sender.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Profile {
    /// Display name (`{nickname}`).
    pub nickname: Option<String>,
    /// Departments (members).
    pub departments: Vec<u64>,
    /// Tag names (customer tags for customers).
    pub tags: Vec<String>,
    /// New or returning customer.
    pub customer: CustomerKind,
    /// The member who has this customer (for `mark_tag`): customers only.
    pub staff: Option<String>,
    /// Anything else, usable as `{key}` in replies that declare it.
    pub attrs: BTreeMap<String, String>,
}

impl Profile {
    /// A profile with only a nickname.
    pub fn named(nickname: impl Into<String>) -> Self {
        Self {
            nickname: Some(nickname.into()),
            ..Self::default()
        }
    }
}

/// Whose profile is wanted.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Sender<'a> {
    /// The user id (member) or external user id (customer).
    pub user_id: &'a str,
    /// Where the message came from.
    pub channel: Channel,
}

impl Sender<'_> {
    /// Whether the id is an external contact's (`wm…` / `wo…`), not a member's.
    pub fn is_customer(&self) -> bool {
        is_external(self.user_id)
    }
}

/// WeCom external user ids start with `wm` (or `wo` for some older ones).
pub(crate) fn is_external(user_id: &str) -> bool {
    user_id.starts_with("wm") || user_id.starts_with("wo")
}

/// A source of profiles: WeCom, a CRM, a database. The bot caches answers per sender
/// with a TTL and, when a lookup fails, answers without a profile (counted).
#[async_trait]
pub trait ProfileProvider: Send + Sync + std::fmt::Debug {
    /// The profile of `sender`.
    ///
    /// # Errors
    /// The lookup failed.
    async fn profile(&self, sender: Sender<'_>) -> Result<Profile, HandlerError>;
}

/// Profiles from WeCom: `user/get` for members (name, departments), and
/// `externalcontact/get` for customers (WeChat nickname, the tags the member set, and
/// *new* when the first member added them less than `new_for` ago, default 24 h).
#[derive(Debug, Clone)]
pub struct WeComProfiles {
    client: Client,
    new_for: Duration,
    clock: Arc<dyn Clock>,
}

impl WeComProfiles {
    /// Profiles through `client` (its secret must allow both endpoints).
    pub fn new(client: Client) -> Self {
        Self {
            client,
            new_for: Duration::from_secs(24 * 3600),
            clock: Arc::new(crate::SystemClock),
        }
    }

    /// How long after being added a customer counts as new.
    #[must_use]
    pub fn new_for(mut self, window: Duration) -> Self {
        self.new_for = window;
        self
    }

    /// The clock that says "now" for new vs returning.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

#[async_trait]
impl ProfileProvider for WeComProfiles {
    async fn profile(&self, sender: Sender<'_>) -> Result<Profile, HandlerError> {
        if sender.channel == Channel::Kf {
            // 微信客服 customers are WeChat users, not contacts of the company: WeCom's
            // contact APIs do not know them (a CRM provider can).
            return Ok(Profile::default());
        }
        if sender.is_customer() {
            let detail = self.client.external_contact().get(sender.user_id).await?;
            let first = detail.follow_user.iter().min_by_key(|f| f.createtime);
            let now = crate::bot::unix_secs(self.clock.now());
            let window = i64::try_from(self.new_for.as_secs()).unwrap_or(i64::MAX);
            let customer = match first {
                Some(f) if now.saturating_sub(f.createtime) < window => CustomerKind::New,
                Some(_) => CustomerKind::Returning,
                None => CustomerKind::Unknown,
            };
            let mut tags: Vec<String> = detail
                .follow_user
                .iter()
                .flat_map(|f| f.tags.iter().map(|t| t.tag_name.clone()))
                .collect();
            tags.sort();
            tags.dedup();
            Ok(Profile {
                nickname: Some(detail.external_contact.name).filter(|n| !n.is_empty()),
                tags,
                customer,
                staff: first.map(|f| f.userid.clone()),
                ..Profile::default()
            })
        } else {
            let user = self.client.user().get(sender.user_id).await?;
            Ok(Profile {
                nickname: Some(user.name).filter(|n| !n.is_empty()),
                departments: user.department,
                ..Profile::default()
            })
        }
    }
}

/// A TTL cache in front of a provider, bounded (cleared when full: profiles are cheap to
/// fetch again, and a full cache means many distinct senders).
#[derive(Debug)]
pub(crate) struct ProfileCache {
    entries: Mutex<HashMap<String, (Profile, SystemTime)>>,
    ttl: Duration,
    capacity: usize,
}

impl ProfileCache {
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            ttl,
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn get(&self, user_id: &str, now: SystemTime) -> Option<Profile> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(user_id)
            .filter(|(_, until)| *until > now)
            .map(|(p, _)| p.clone())
    }

    /// Caches `profile` for the cache's TTL.
    pub(crate) fn put(&self, user_id: &str, profile: Profile, now: SystemTime) {
        self.put_for(user_id, profile, now, self.ttl);
    }

    /// Caches `profile` for `ttl` (a failed lookup is cached briefly as an empty
    /// profile, so an unknown sender does not cost a lookup per message).
    pub(crate) fn put_for(&self, user_id: &str, profile: Profile, now: SystemTime, ttl: Duration) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            entries.retain(|_, (_, until)| *until > now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(user_id.to_owned(), (profile, now + ttl));
    }
}
