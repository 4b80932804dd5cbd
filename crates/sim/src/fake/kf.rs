//! 微信客服 (`/cgi-bin/kf/*`): queued customer messages served by `sync_msg` with cursors,
//! the 48-hour window and the 5-replies rule of `send_msg`, welcome codes, session states.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::ApiRequest;
use super::state::{ApiError, ApiResult, State, check_content, ok_with, required, str_field};

/// Message types of `kf/send_msg`.
const KF_TYPES: &[&str] = &[
    "text",
    "image",
    "voice",
    "video",
    "file",
    "link",
    "miniprogram",
    "msgmenu",
    "location",
];
/// How long the callback's `Token` serves `sync_msg`.
const SYNC_TOKEN_TTL: Duration = Duration::from_secs(600);
/// How long a `welcome_code` / `msg_code` serves `send_msg_on_event`.
const EVENT_CODE_TTL: Duration = Duration::from_secs(20);

/// What a customer's reach into 微信客服 hands the bot: the `kf_msg_or_event` callback's
/// `Token` and `OpenKfId`, and (for `enter_session`) the welcome code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KfNotice {
    /// The `Token` of the callback: `sync_msg` accepts it for 10 minutes.
    pub token: String,
    /// The 微信客服 account.
    pub open_kfid: String,
    /// The `msgid` of the queued entry.
    pub msgid: String,
    /// The `welcome_code` of an `enter_session` event.
    pub welcome_code: Option<String>,
}

#[derive(Debug)]
struct Customer {
    last_message: SystemTime,
    replies: u32,
}

/// The 微信客服 side of the fake.
#[derive(Debug, Default)]
pub(crate) struct KfState {
    accounts: HashSet<String>,
    /// Per account, every `msg_list` entry in order (the cursor is an index).
    queues: HashMap<String, Vec<Value>>,
    tokens: HashMap<String, (String, SystemTime)>,
    customers: HashMap<(String, String), Customer>,
    codes: HashMap<String, SystemTime>,
    states: HashMap<(String, String), (u8, String)>,
    sent_msgids: HashSet<String>,
}

impl KfState {
    pub(crate) fn new(accounts: &[String]) -> Self {
        Self {
            accounts: accounts.iter().cloned().collect(),
            ..Self::default()
        }
    }
}

impl State {
    /// Queues a `msg_list` entry for `open_kfid` and issues the callback token.
    pub(crate) fn kf_push(&mut self, open_kfid: &str, mut entry: Value) -> KfNotice {
        let msgid = self.next_id("simkf");
        let token = self.next_id("SIMKFTOKEN");
        let now = self.now();
        entry["msgid"] = json!(msgid);
        entry["open_kfid"] = json!(open_kfid);
        if entry.get("send_time").is_none() {
            entry["send_time"] = json!(self.unix());
        }
        let welcome_code = entry
            .pointer("/event/welcome_code")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(code) = &welcome_code {
            self.kf.codes.insert(code.clone(), now);
        }
        if entry.get("origin").and_then(Value::as_u64) == Some(3) {
            let user = str_field(&entry, "external_userid").to_owned();
            self.kf.customers.insert(
                (open_kfid.to_owned(), user),
                Customer {
                    last_message: now,
                    replies: 0,
                },
            );
        }
        self.kf.accounts.insert(open_kfid.to_owned());
        self.kf
            .queues
            .entry(open_kfid.to_owned())
            .or_default()
            .push(entry);
        self.kf
            .tokens
            .insert(token.clone(), (open_kfid.to_owned(), now));
        KfNotice {
            token,
            open_kfid: open_kfid.to_owned(),
            msgid,
            welcome_code,
        }
    }

    /// Queues a customer's text (origin 3).
    pub(crate) fn kf_customer_text(&mut self, open_kfid: &str, user: &str, text: &str) -> KfNotice {
        self.kf_push(
            open_kfid,
            json!({"external_userid": user, "origin": 3, "msgtype": "text", "text": {"content": text}}),
        )
    }

    /// Queues an `enter_session` event with a fresh welcome code.
    pub(crate) fn kf_enter_session(
        &mut self,
        open_kfid: &str,
        user: &str,
        scene: &str,
    ) -> KfNotice {
        let code = self.next_id("SIMWELCOME");
        self.kf_push(
            open_kfid,
            json!({"external_userid": user, "origin": 4, "msgtype": "event",
                   "event": {"event_type": "enter_session", "open_kfid": open_kfid,
                             "external_userid": user, "scene": scene, "scene_param": "",
                             "welcome_code": code}}),
        )
    }

    /// The servicer ends a customer's session: state 4 (ended), and a
    /// `session_status_change` event (`change_type` 3) queued for the bot.
    pub(crate) fn kf_end_session(&mut self, open_kfid: &str, user: &str) -> KfNotice {
        let key = (open_kfid.to_owned(), user.to_owned());
        let (_, servicer) = self.kf.states.get(&key).cloned().unwrap_or_default();
        self.kf.states.insert(key, (4, String::new()));
        let code = self.next_id("SIMMSGCODE");
        let now = self.now();
        self.kf.codes.insert(code.clone(), now);
        self.kf_push(
            open_kfid,
            json!({"external_userid": user, "origin": 4, "msgtype": "event",
                   "event": {"event_type": "session_status_change", "open_kfid": open_kfid,
                             "external_userid": user, "change_type": 3,
                             "old_servicer_userid": servicer, "new_servicer_userid": "",
                             "msg_code": code}}),
        )
    }

    /// The session state of a customer (0 when never set).
    pub(crate) fn kf_state(&self, open_kfid: &str, user: &str) -> (u8, String) {
        self.kf
            .states
            .get(&(open_kfid.to_owned(), user.to_owned()))
            .cloned()
            .unwrap_or_default()
    }
}

fn known_account<'a>(state: &State, body: &'a Value) -> Result<&'a str, ApiError> {
    let id = str_field(body, "open_kfid");
    if id.is_empty() {
        return Err(ApiError::new(95000, "invalid open_kfid"));
    }
    if !state.kf.accounts.contains(id) {
        return Err(ApiError::new(
            95004,
            format!("open_kfid {id:?} does not exist"),
        ));
    }
    Ok(id)
}

/// `POST /cgi-bin/kf/sync_msg`: pages of at most `limit` (≤ 1000) entries after `cursor`.
pub(crate) fn sync_msg(state: &mut State, req: &ApiRequest) -> ApiResult {
    let body = &req.body;
    let open_kfid = known_account(state, body)?.to_owned();
    let token = str_field(body, "token");
    if !token.is_empty() {
        let now = state.now();
        let valid = state.kf.tokens.get(token).is_some_and(|(kfid, at)| {
            *kfid == open_kfid && now.duration_since(*at).unwrap_or_default() < SYNC_TOKEN_TTL
        });
        if !valid {
            return Err(ApiError::new(95007, "invalid msg token"));
        }
    }
    let limit = body
        .get("limit")
        .and_then(Value::as_u64)
        .unwrap_or(1000)
        .clamp(1, 1000);
    if state.faults.take_kf_empty_page() {
        let cursor = str_field(body, "cursor");
        return Ok(ok_with(json!({
            "next_cursor": if cursor.is_empty() { "SIMCURSOR0" } else { cursor },
            "has_more": 1,
            "msg_list": [],
        })));
    }
    let start: usize = match str_field(body, "cursor") {
        "" => 0,
        c => c
            .strip_prefix("SIMCURSOR")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| ApiError::new(40058, "invalid parameter: cursor"))?,
    };
    let queue = state
        .kf
        .queues
        .get(&open_kfid)
        .map_or(&[][..], Vec::as_slice);
    let end = start
        .saturating_add(usize::try_from(limit).unwrap_or(1000))
        .min(queue.len());
    let page: Vec<Value> = queue.get(start.min(end)..end).unwrap_or_default().to_vec();
    let has_more = u8::from(end < queue.len());
    Ok(ok_with(json!({
        "next_cursor": format!("SIMCURSOR{end}"),
        "has_more": has_more,
        "msg_list": page,
    })))
}

fn check_msgid(state: &mut State, body: &Value) -> Result<(), ApiError> {
    let msgid = str_field(body, "msgid");
    if msgid.is_empty() {
        return Ok(());
    }
    let valid = msgid.len() <= 32
        && msgid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid || !state.kf.sent_msgids.insert(msgid.to_owned()) {
        return Err(ApiError::new(
            40058,
            format!("invalid parameter: msgid {msgid:?} (≤ 32 of [0-9a-zA-Z_-], unique)"),
        ));
    }
    Ok(())
}

/// `POST /cgi-bin/kf/send_msg`: within 48 h of the customer's last message, at most 5
/// replies to it, never while a human has the session.
pub(crate) fn send_msg(state: &mut State, req: &ApiRequest) -> ApiResult {
    let body = &req.body;
    let open_kfid = known_account(state, body)?.to_owned();
    let touser = required(body, "touser")?.to_owned();
    check_content(body, KF_TYPES, 2048, 2048)?;
    let (service_state, _) = state.kf_state(&open_kfid, &touser);
    if matches!(service_state, 2 | 3) {
        return Err(ApiError::new(
            95018,
            "session state forbids API send: the customer is with the queue or a servicer",
        ));
    }
    let now = state.now();
    let window = state.config.kf_window;
    let most = state.config.kf_replies_per_message;
    let customer = state
        .kf
        .customers
        .get_mut(&(open_kfid.clone(), touser.clone()))
        .filter(|c| now.duration_since(c.last_message).unwrap_or_default() < window)
        .ok_or_else(|| {
            ApiError::new(
                95002,
                "the customer sent nothing in the last 48 hours: wait for the customer",
            )
        })?;
    if customer.replies >= most {
        return Err(ApiError::new(
            95001,
            format!("at most {most} messages per customer message: wait for the customer"),
        ));
    }
    customer.replies += 1;
    check_msgid(state, body)?;
    state.record_sent(&req.path, touser, body);
    let msgid = match str_field(body, "msgid") {
        "" => state.next_id("simkfmsg"),
        m => m.to_owned(),
    };
    Ok(ok_with(json!({ "msgid": msgid })))
}

/// `POST /cgi-bin/kf/send_msg_on_event`: a `welcome_code` or `msg_code`, once, within 20 s.
pub(crate) fn send_msg_on_event(state: &mut State, req: &ApiRequest) -> ApiResult {
    let body = &req.body;
    let code = required(body, "code")?.to_owned();
    check_content(body, &["text", "msgmenu"], 2048, 2048)?;
    let now = state.now();
    let issued = state.kf.codes.remove(&code);
    if issued.is_none_or(|at| now.duration_since(at).unwrap_or_default() >= EVENT_CODE_TTL) {
        return Err(ApiError::new(
            40058,
            "invalid parameter: code unknown, used or older than 20 s",
        ));
    }
    check_msgid(state, body)?;
    state.record_sent(&req.path, format!("code:{code}"), body);
    let msgid = state.next_id("simkfmsg");
    Ok(ok_with(json!({ "msgid": msgid })))
}

/// `POST /cgi-bin/kf/service_state/get`.
pub(crate) fn service_state_get(state: &mut State, req: &ApiRequest) -> ApiResult {
    let open_kfid = known_account(state, &req.body)?.to_owned();
    let user = required(&req.body, "external_userid")?;
    let (service_state, servicer) = state.kf_state(&open_kfid, user);
    Ok(ok_with(
        json!({"service_state": service_state, "servicer_userid": servicer}),
    ))
}

/// `POST /cgi-bin/kf/service_state/trans`: state 0–4; 3 needs `servicer_userid`.
pub(crate) fn service_state_trans(state: &mut State, req: &ApiRequest) -> ApiResult {
    let open_kfid = known_account(state, &req.body)?.to_owned();
    let user = required(&req.body, "external_userid")?.to_owned();
    let to = req.body.get("service_state").and_then(Value::as_u64);
    let Some(to) = to.and_then(|s| u8::try_from(s).ok()).filter(|s| *s <= 4) else {
        return Err(ApiError::new(95016, "illegal service_state"));
    };
    let servicer = str_field(&req.body, "servicer_userid").to_owned();
    if to == 3
        && (servicer.is_empty()
            || state.staff_member(&servicer).is_none() && !state.staff.is_empty())
    {
        return Err(ApiError::new(95014, "servicer_userid is not a servicer"));
    }
    state.kf.states.insert((open_kfid, user), (to, servicer));
    let code = state.next_id("SIMMSGCODE");
    let now = state.now();
    state.kf.codes.insert(code.clone(), now);
    Ok(ok_with(json!({ "msg_code": code })))
}
