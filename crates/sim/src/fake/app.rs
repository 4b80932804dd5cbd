//! App endpoints: `gettoken`, app messages, app chats, media, group robots.

use std::time::Duration;

use serde_json::{Value, json};

use super::state::{
    ApiError, ApiResult, State, TokenInfo, check_content, ok_with, required, str_field,
};
use super::{ApiRequest, Upload};

/// Message types of `message/send`.
const APP_TYPES: &[&str] = &[
    "text",
    "image",
    "voice",
    "video",
    "file",
    "textcard",
    "news",
    "mpnews",
    "markdown",
    "miniprogram_notice",
    "template_card",
];
/// Message types of `appchat/send`.
const APPCHAT_TYPES: &[&str] = &[
    "text", "image", "voice", "video", "file", "textcard", "news", "mpnews", "markdown",
];
/// Message types of `webhook/send`.
const ROBOT_TYPES: &[&str] = &[
    "text",
    "markdown",
    "markdown_v2",
    "image",
    "news",
    "file",
    "voice",
    "template_card",
];

/// `GET /cgi-bin/gettoken?corpid=…&corpsecret=…`: the same token while it is valid.
pub(crate) fn gettoken(state: &mut State, req: &ApiRequest) -> ApiResult {
    if req.query_value("corpid") != Some(state.config.corp_id.as_str()) {
        return Err(ApiError::new(40013, "invalid corpid"));
    }
    let secret = req.query_value("corpsecret").unwrap_or_default();
    let Some(index) = state.config.secrets.iter().position(|s| s == secret) else {
        return Err(ApiError::new(
            40001,
            "invalid credential, hint: check corpsecret",
        ));
    };
    let now = state.now();
    if let Some(token) = state.current.get(&index)
        && let Some(info) = state.tokens.get(token)
        && info.expires_at > now
    {
        let left = info.expires_at.duration_since(now).unwrap_or_default();
        return Ok(ok_with(
            json!({"access_token": token, "expires_in": left.as_secs()}),
        ));
    }
    let token = format!(
        "SIM{}{}",
        state.next_id("_"),
        "x".repeat(48) // real tokens are long; clients must not assume short ones
    );
    let expires_in = state.config.expires_in;
    state.tokens.insert(
        token.clone(),
        TokenInfo {
            expires_at: now + Duration::from_secs(expires_in),
        },
    );
    state.current.insert(index, token.clone());
    Ok(ok_with(
        json!({"access_token": token, "expires_in": expires_in}),
    ))
}

/// `POST /cgi-bin/message/send`.
pub(crate) fn message_send(state: &mut State, req: &ApiRequest) -> ApiResult {
    let body = &req.body;
    check_content(body, APP_TYPES, 2048, 2048)?;
    if !state.config.agents.is_empty() {
        let agent = body.get("agentid").and_then(Value::as_u64);
        if !agent.is_some_and(|a| state.config.agents.contains(&a)) {
            return Err(ApiError::new(40056, "invalid agentid"));
        }
    }
    let touser = str_field(body, "touser");
    let toparty = str_field(body, "toparty");
    let totag = str_field(body, "totag");
    if touser.is_empty() && toparty.is_empty() && totag.is_empty() {
        return Err(ApiError::new(
            40058,
            "invalid parameter: touser, toparty or totag",
        ));
    }
    let invalid: Vec<&str> = if state.staff.is_empty() || touser == "@all" {
        Vec::new()
    } else {
        touser
            .split('|')
            .filter(|u| !u.is_empty() && state.staff_member(u).is_none())
            .collect()
    };
    let all_invalid = toparty.is_empty()
        && totag.is_empty()
        && !touser.is_empty()
        && invalid.len() == touser.split('|').filter(|u| !u.is_empty()).count();
    if all_invalid {
        return Err(ApiError::new(81013, "user & party & tag all invalid"));
    }
    let invaliduser = invalid.join("|").to_lowercase();
    state.record_sent(&req.path, touser.to_owned(), body);
    let msgid = state.next_id("simmsg");
    state.issued_msgids.insert(msgid.clone());
    let mut out = json!({"invaliduser": invaliduser, "msgid": msgid});
    if str_field(body, "msgtype") == "template_card" {
        out["response_code"] = json!(state.next_id("simrc"));
    }
    Ok(ok_with(out))
}

/// `POST /cgi-bin/message/recall`: messages of the last 24 hours.
pub(crate) fn message_recall(state: &mut State, req: &ApiRequest) -> ApiResult {
    let msgid = required(&req.body, "msgid")?;
    if !state.issued_msgids.contains(msgid) {
        return Err(ApiError::new(40058, "invalid parameter: unknown msgid"));
    }
    Ok(ok_with(json!({})))
}

/// `POST /cgi-bin/message/update_template_card`.
pub(crate) fn update_template_card(state: &mut State, req: &ApiRequest) -> ApiResult {
    let _ = state;
    required(&req.body, "response_code")?;
    if req.body.get("button").is_none() && req.body.get("template_card").is_none() {
        return Err(ApiError::new(
            40058,
            "invalid parameter: button or template_card is required",
        ));
    }
    Ok(ok_with(json!({"invaliduser": []})))
}

/// `POST /cgi-bin/appchat/send`.
pub(crate) fn appchat_send(state: &mut State, req: &ApiRequest) -> ApiResult {
    let chatid = str_field(&req.body, "chatid");
    if chatid.is_empty() {
        return Err(ApiError::new(86001, "invalid chatid"));
    }
    check_content(&req.body, APPCHAT_TYPES, 2048, 2048)?;
    state.record_sent(&req.path, chatid.to_owned(), &req.body);
    Ok(ok_with(json!({})))
}

/// Checks an upload as `media/upload` does; `robot` narrows the types to file and voice.
fn check_upload(kind: &str, upload: Option<&Upload>, robot: bool) -> Result<(), ApiError> {
    let allowed: &[&str] = if robot {
        &["file", "voice"]
    } else {
        &["image", "voice", "video", "file"]
    };
    if !allowed.contains(&kind) {
        return Err(ApiError::new(40004, format!("invalid media type {kind:?}")));
    }
    let Some(upload) = upload else {
        return Err(ApiError::new(
            41005,
            "media data missing: a multipart part named \"media\" is required",
        ));
    };
    let size = upload.bytes.len();
    if size <= 5 {
        return Err(ApiError::new(40006, "invalid file size: at least 6 bytes"));
    }
    let (max, code) = match kind {
        "image" => (10 << 20, 40009),
        "voice" => (2 << 20, 40006),
        "video" => (10 << 20, 40011),
        _ => (20 << 20, 40006),
    };
    if size > max {
        return Err(ApiError::new(
            code,
            format!("invalid {kind} size: {size} bytes, at most {max}"),
        ));
    }
    if kind == "image" && !is_jpg_or_png(&upload.filename) {
        return Err(ApiError::new(
            40005,
            "invalid file type: image must be JPG or PNG",
        ));
    }
    Ok(())
}

fn is_jpg_or_png(filename: &str) -> bool {
    let lower = filename.to_ascii_lowercase();
    [".jpg", ".jpeg", ".png"].iter().any(|e| lower.ends_with(e))
}

fn store(state: &mut State, upload: &Upload) -> String {
    let media_id = state.next_id("SIMMEDIA");
    state.media.insert(media_id.clone(), upload.clone());
    media_id
}

/// `POST /cgi-bin/media/upload?type=…` (multipart `media`).
pub(crate) fn media_upload(state: &mut State, req: &ApiRequest) -> ApiResult {
    upload_to(state, req, false)
}

/// `POST /cgi-bin/webhook/upload_media?key=…&type=file|voice`.
pub(crate) fn robot_upload(state: &mut State, req: &ApiRequest) -> ApiResult {
    check_robot_key(state, req)?;
    upload_to(state, req, true)
}

fn upload_to(state: &mut State, req: &ApiRequest, robot: bool) -> ApiResult {
    let kind = req.query_value("type").unwrap_or_default();
    check_upload(kind, req.upload.as_ref(), robot)?;
    let Some(upload) = req.upload.as_ref() else {
        return Err(ApiError::new(41005, "media data missing"));
    };
    let media_id = store(state, upload);
    let created_at = state.unix().to_string();
    Ok(ok_with(
        json!({"type": kind, "media_id": media_id, "created_at": created_at}),
    ))
}

/// `POST /cgi-bin/media/uploadimg` (multipart `media`, JPG/PNG, ≤ 2 MB) → a permanent URL.
pub(crate) fn media_uploadimg(state: &mut State, req: &ApiRequest) -> ApiResult {
    let Some(upload) = req.upload.as_ref() else {
        return Err(ApiError::new(41005, "media data missing"));
    };
    check_upload("image", Some(upload), false)?;
    if upload.bytes.len() > 2 << 20 {
        return Err(ApiError::new(40009, "invalid image size: at most 2 MB"));
    }
    let media_id = store(state, upload);
    Ok(ok_with(
        json!({"url": format!("{}/__sim/media/{media_id}", req.base_url)}),
    ))
}

/// `GET /cgi-bin/media/get?media_id=…`: the bytes, or 40007 as JSON.
pub(crate) fn media_get(state: &State, req: &ApiRequest) -> Result<Upload, ApiError> {
    let id = req.query_value("media_id").unwrap_or_default();
    state
        .media
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::new(40007, "invalid media_id"))
}

fn check_robot_key(state: &State, req: &ApiRequest) -> Result<(), ApiError> {
    let key = req.query_value("key").unwrap_or_default();
    let known = state.config.webhook_keys.iter().any(|k| k == key);
    if key.is_empty() || (!state.config.webhook_keys.is_empty() && !known) {
        return Err(ApiError::new(93000, "invalid webhook url"));
    }
    Ok(())
}

/// `POST /cgi-bin/webhook/send?key=…`: 20 messages a minute per robot, then 45009.
pub(crate) fn robot_send(state: &mut State, req: &ApiRequest) -> ApiResult {
    check_robot_key(state, req)?;
    check_content(&req.body, ROBOT_TYPES, 2048, 4096)?;
    let key = req.query_value("key").unwrap_or_default().to_owned();
    let now = state.now();
    let limit = state.config.robot_per_minute;
    let sends = state.robot_sends.entry(key.clone()).or_default();
    while sends
        .front()
        .is_some_and(|t| now.duration_since(*t).unwrap_or_default() >= Duration::from_secs(60))
    {
        sends.pop_front();
    }
    if sends.len() >= limit {
        return Err(ApiError::new(
            45009,
            format!("api freq out of limit: at most {limit} robot messages a minute"),
        ));
    }
    sends.push_back(now);
    state.record_sent(&req.path, format!("robot:{}", redact_key(&key)), &req.body);
    Ok(ok_with(json!({})))
}

/// A robot key as recorded: its first 4 characters.
pub(crate) fn redact_key(key: &str) -> String {
    let head: String = key.chars().take(4).collect();
    format!("{head}…")
}
