//! The fake's memory: tokens, the call record, media, robots, contact ways and 微信客服.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::config::{Customer, FakeConfig, GroupChat, Staff, TagGroup};
use super::faults::Faults;
use super::kf::KfState;
use super::{Call, SentMessage, Upload};

/// A WeCom error answer: `{"errcode": code, "errmsg": msg}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) code: i64,
    pub(crate) msg: String,
}

impl ApiError {
    pub(crate) fn new(code: i64, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
        }
    }
}

/// What an endpoint answers: a JSON object (errcode 0 is added) or an error.
pub(crate) type ApiResult = Result<Value, ApiError>;

/// One issued access token.
#[derive(Debug)]
pub(crate) struct TokenInfo {
    pub(crate) expires_at: SystemTime,
}

/// Everything the fake remembers; one lock around it (a fake serves tests, not load).
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) config: FakeConfig,
    /// How far the fake's clock is ahead of the system clock.
    pub(crate) offset: Duration,
    pub(crate) tokens: HashMap<String, TokenInfo>,
    /// The current token of each secret.
    pub(crate) current: HashMap<usize, String>,
    pub(crate) calls: Vec<Call>,
    pub(crate) sent: Vec<SentMessage>,
    pub(crate) faults: Faults,
    /// Requests whose connection a fault closed unanswered.
    pub(crate) dropped: u64,
    /// Uploads by media id.
    pub(crate) media: HashMap<String, Upload>,
    /// Robot sends per key in the last minute.
    pub(crate) robot_sends: HashMap<String, VecDeque<SystemTime>>,
    pub(crate) contact_ways: HashMap<String, Value>,
    /// `msgid`s `message/send` handed out (for recall).
    pub(crate) issued_msgids: HashSet<String>,
    /// Welcome codes `send_welcome_msg` has used (each is single use).
    pub(crate) used_welcome_codes: HashSet<String>,
    pub(crate) staff: Vec<Staff>,
    pub(crate) customers: Vec<Customer>,
    pub(crate) tag_groups: Vec<TagGroup>,
    pub(crate) group_chats: Vec<GroupChat>,
    pub(crate) kf: KfState,
    serial: u64,
}

impl State {
    pub(crate) fn new(config: FakeConfig) -> Self {
        let kf = KfState::new(&config.kf_accounts);
        Self {
            staff: config.staff.clone(),
            customers: config.customers.clone(),
            tag_groups: config.tag_groups.clone(),
            group_chats: config.group_chats.clone(),
            config,
            offset: Duration::ZERO,
            tokens: HashMap::new(),
            current: HashMap::new(),
            calls: Vec::new(),
            sent: Vec::new(),
            faults: Faults::default(),
            dropped: 0,
            media: HashMap::new(),
            robot_sends: HashMap::new(),
            contact_ways: HashMap::new(),
            issued_msgids: HashSet::new(),
            used_welcome_codes: HashSet::new(),
            kf,
            serial: 0,
        }
    }

    /// The fake's time: the system clock plus what tests advanced it by.
    pub(crate) fn now(&self) -> SystemTime {
        SystemTime::now() + self.offset
    }

    /// The fake's time in Unix seconds.
    pub(crate) fn unix(&self) -> i64 {
        unix(self.now())
    }

    /// A fresh id with a prefix: `cw1`, `cw2`, …
    pub(crate) fn next_id(&mut self, prefix: &str) -> String {
        self.serial += 1;
        format!("{prefix}{}", self.serial)
    }

    /// Checks the `access_token` query value: 41001 missing, 40014 unknown, 42001 expired.
    pub(crate) fn check_token(&self, token: Option<&str>) -> Result<(), ApiError> {
        let token = match token {
            None | Some("") => {
                return Err(ApiError::new(
                    41001,
                    "access_token missing, hint: put access_token in the URL query",
                ));
            }
            Some(t) => t,
        };
        match self.tokens.get(token) {
            None => Err(ApiError::new(40014, "invalid access_token")),
            Some(info) if info.expires_at <= self.now() => {
                Err(ApiError::new(42001, "access_token expired"))
            }
            Some(_) => Ok(()),
        }
    }

    /// Applies a fault: `ExpireTokens` touches the tokens, the others wait in `faults`.
    pub(crate) fn apply(&mut self, fault: &super::Fault) {
        if *fault == super::Fault::ExpireTokens {
            self.expire_tokens();
        } else {
            self.faults.add(fault);
        }
    }

    /// Expires every token issued so far.
    pub(crate) fn expire_tokens(&mut self) {
        let now = self.now();
        for info in self.tokens.values_mut() {
            info.expires_at = now;
        }
    }

    /// Records a sent message.
    pub(crate) fn record_sent(&mut self, path: &str, to: String, body: &Value) {
        let msgtype = body
            .get("msgtype")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.record_sent_as(path, to, msgtype, body);
    }

    /// Records a sent message whose body names no `msgtype` (a welcome message).
    pub(crate) fn record_sent_as(&mut self, path: &str, to: String, msgtype: String, body: &Value) {
        let at = self.now();
        self.sent.push(SentMessage {
            path: path.to_owned(),
            to,
            msgtype,
            body: body.clone(),
            at,
        });
    }

    /// A staff member by UserID.
    pub(crate) fn staff_member(&self, userid: &str) -> Option<&Staff> {
        self.staff.iter().find(|s| s.userid == userid)
    }

    /// The `(group, tag name)` of a tag id.
    pub(crate) fn tag(&self, tag_id: &str) -> Option<(&TagGroup, &str)> {
        self.tag_groups.iter().find_map(|g| {
            g.tags
                .iter()
                .find(|(id, _)| id == tag_id)
                .map(|(_, name)| (g, name.as_str()))
        })
    }
}

/// Unix seconds of a time (0 before the epoch).
pub(crate) fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A string field of a JSON body.
pub(crate) fn str_field<'a>(body: &'a Value, name: &str) -> &'a str {
    body.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// A required string field: 40058 naming it when absent or empty.
pub(crate) fn required<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    match str_field(body, name) {
        "" => Err(ApiError::new(
            40058,
            format!("invalid parameter: {name} is required"),
        )),
        v => Ok(v),
    }
}

/// Checks a message body's type and text length as WeCom does: 40008 for an unknown
/// `msgtype` or a missing type object, 44004 for empty text, 45002 for text longer than
/// `max_text` bytes (markdown: `max_markdown`).
pub(crate) fn check_content(
    body: &Value,
    allowed: &[&str],
    max_text: usize,
    max_markdown: usize,
) -> Result<(), ApiError> {
    let msgtype = str_field(body, "msgtype");
    if !allowed.contains(&msgtype) {
        return Err(ApiError::new(
            40008,
            format!("invalid message type {msgtype:?}"),
        ));
    }
    let Some(object) = body.get(msgtype).filter(|v| v.is_object()) else {
        return Err(ApiError::new(
            40008,
            format!("invalid message type: the {msgtype:?} object is missing"),
        ));
    };
    let limit = match msgtype {
        "text" => max_text,
        "markdown" | "markdown_v2" => max_markdown,
        _ => return check_articles(object),
    };
    let content = str_field(object, "content");
    if content.is_empty() {
        return Err(ApiError::new(44004, "empty content"));
    }
    if content.len() > limit {
        return Err(ApiError::new(
            45002,
            format!(
                "content size out of limit: {} bytes, at most {limit}",
                content.len()
            ),
        ));
    }
    Ok(())
}

fn check_articles(object: &Value) -> Result<(), ApiError> {
    match object.get("articles").and_then(Value::as_array) {
        Some(a) if a.is_empty() || a.len() > 8 => Err(ApiError::new(
            45008,
            format!("article count {} out of range 1..=8", a.len()),
        )),
        _ => Ok(()),
    }
}

/// `{"errcode":0,"errmsg":"ok"}` plus the fields of `extra`.
pub(crate) fn ok_with(extra: Value) -> Value {
    let mut out = json!({"errcode": 0, "errmsg": "ok"});
    if let (Some(out), Value::Object(extra)) = (out.as_object_mut(), extra) {
        out.extend(extra);
    }
    out
}
