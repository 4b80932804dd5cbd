//! Members and customer contact (客户联系): `user/get`, `externalcontact/*`.

use serde_json::{Value, json};

use super::ApiRequest;
use super::state::{ApiError, ApiResult, State, ok_with, required, str_field};

/// `GET /cgi-bin/user/get?userid=…`.
pub(crate) fn user_get(state: &mut State, req: &ApiRequest) -> ApiResult {
    let userid = req.query_value("userid").unwrap_or_default();
    let staff = state
        .staff_member(userid)
        .ok_or_else(|| ApiError::new(60111, "userid not found"))?;
    Ok(ok_with(json!({
        "userid": staff.userid,
        "name": staff.name,
        "department": staff.department,
        "status": 1,
    })))
}

/// `GET /cgi-bin/externalcontact/get_follow_user_list`: staff with customer contact.
#[allow(clippy::unnecessary_wraps, reason = "every endpoint has one signature")]
pub(crate) fn follow_users(state: &mut State, _req: &ApiRequest) -> ApiResult {
    let users: Vec<&str> = state.staff.iter().map(|s| s.userid.as_str()).collect();
    Ok(ok_with(json!({ "follow_user": users })))
}

/// `GET /cgi-bin/externalcontact/list?userid=…`: a staff member's customers (so a 活码
/// balancer sees who is near the friend limit).
pub(crate) fn customer_list(state: &mut State, req: &ApiRequest) -> ApiResult {
    let userid = req.query_value("userid").unwrap_or_default();
    if state.staff_member(userid).is_none() {
        return Err(ApiError::new(40003, "invalid userid"));
    }
    let ids: Vec<&str> = state
        .customers
        .iter()
        .filter(|c| c.staff == userid)
        .map(|c| c.external_userid.as_str())
        .collect();
    if ids.is_empty() {
        return Err(ApiError::new(84061, "not external contact"));
    }
    Ok(ok_with(json!({ "external_userid": ids })))
}

/// `GET /cgi-bin/externalcontact/get?external_userid=…`: the customer and their tags.
pub(crate) fn customer_get(state: &mut State, req: &ApiRequest) -> ApiResult {
    let id = req.query_value("external_userid").unwrap_or_default();
    let customer = state
        .customers
        .iter()
        .find(|c| c.external_userid == id)
        .ok_or_else(|| ApiError::new(40096, "invalid external userid"))?;
    let tags: Vec<Value> = customer
        .tags
        .iter()
        .filter_map(|t| state.tag(t).map(|(g, name)| (t, g, name)))
        .map(|(t, g, name)| {
            json!({"group_name": g.group_name, "tag_name": name, "tag_id": t, "type": 1})
        })
        .collect();
    Ok(ok_with(json!({
        "external_contact": {
            "external_userid": customer.external_userid,
            "name": customer.name,
            "type": 1,
        },
        "follow_user": [{
            "userid": customer.staff,
            "remark": "",
            "createtime": customer.add_time,
            "tags": tags,
        }],
    })))
}

fn string_list(body: &Value, name: &str) -> Vec<String> {
    body.get(name)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// `POST /cgi-bin/externalcontact/mark_tag`.
pub(crate) fn mark_tag(state: &mut State, req: &ApiRequest) -> ApiResult {
    let userid = required(&req.body, "userid")?;
    let external = required(&req.body, "external_userid")?;
    let add = string_list(&req.body, "add_tag");
    let remove = string_list(&req.body, "remove_tag");
    if add.is_empty() && remove.is_empty() {
        return Err(ApiError::new(
            40058,
            "invalid parameter: add_tag and remove_tag are both empty",
        ));
    }
    if state.staff_member(userid).is_none() {
        return Err(ApiError::new(40003, "invalid userid"));
    }
    if let Some(bad) = add.iter().chain(&remove).find(|t| state.tag(t).is_none()) {
        return Err(ApiError::new(40068, format!("invalid tagid {bad:?}")));
    }
    let customer = state
        .customers
        .iter_mut()
        .find(|c| c.external_userid == external && c.staff == userid)
        .ok_or_else(|| ApiError::new(40096, "invalid external userid"))?;
    customer.tags.retain(|t| !remove.contains(t));
    for t in add {
        if !customer.tags.contains(&t) {
            customer.tags.push(t);
        }
    }
    Ok(ok_with(json!({})))
}

/// `POST /cgi-bin/externalcontact/get_corp_tag_list` (`group_id` wins over `tag_id`).
#[allow(clippy::unnecessary_wraps, reason = "every endpoint has one signature")]
pub(crate) fn corp_tags(state: &mut State, req: &ApiRequest) -> ApiResult {
    let by_group = string_list(&req.body, "group_id");
    let by_tag = string_list(&req.body, "tag_id");
    let groups: Vec<Value> = state
        .tag_groups
        .iter()
        .filter(|g| by_group.is_empty() || by_group.contains(&g.group_id))
        .filter_map(|g| {
            let tags: Vec<Value> = g
                .tags
                .iter()
                .filter(|(id, _)| !by_group.is_empty() || by_tag.is_empty() || by_tag.contains(id))
                .enumerate()
                .map(|(i, (id, name))| {
                    json!({"id": id, "name": name, "create_time": 1_700_000_000, "order": i, "deleted": false})
                })
                .collect();
            (!tags.is_empty()).then(|| {
                json!({"group_id": g.group_id, "group_name": g.group_name,
                       "create_time": 1_700_000_000, "order": 0, "deleted": false, "tag": tags})
            })
        })
        .collect();
    Ok(ok_with(json!({ "tag_group": groups })))
}

/// `POST /cgi-bin/externalcontact/add_contact_way`.
pub(crate) fn add_contact_way(state: &mut State, req: &ApiRequest) -> ApiResult {
    let kind = req.body.get("type").and_then(Value::as_u64);
    let scene = req.body.get("scene").and_then(Value::as_u64);
    if !matches!(kind, Some(1 | 2)) || !matches!(scene, Some(1 | 2)) {
        return Err(ApiError::new(
            40058,
            "invalid parameter: type and scene must be 1 or 2",
        ));
    }
    let users = string_list(&req.body, "user");
    if kind == Some(1) && users.len() != 1 {
        return Err(ApiError::new(
            40058,
            "invalid parameter: a single contact way has exactly one user",
        ));
    }
    if let Some(bad) = users.iter().find(|u| state.staff_member(u).is_none()) {
        return Err(ApiError::new(40003, format!("invalid userid {bad:?}")));
    }
    let config_id = state.next_id("simcw");
    let mut way = req.body.clone();
    way["config_id"] = json!(config_id);
    let mut out = json!({ "config_id": config_id });
    if scene == Some(2) {
        let qr = format!("{}/__sim/qr/{config_id}", req.base_url);
        way["qr_code"] = json!(qr);
        out["qr_code"] = json!(qr);
    }
    state.contact_ways.insert(config_id, way);
    Ok(ok_with(out))
}

fn contact_way_id<'a>(state: &State, req: &'a ApiRequest) -> Result<&'a str, ApiError> {
    let id = required(&req.body, "config_id")?;
    if state.contact_ways.contains_key(id) {
        Ok(id)
    } else {
        Err(ApiError::new(
            40058,
            format!("invalid parameter: unknown config_id {id:?}"),
        ))
    }
}

/// `POST /cgi-bin/externalcontact/get_contact_way`.
pub(crate) fn get_contact_way(state: &mut State, req: &ApiRequest) -> ApiResult {
    let id = contact_way_id(state, req)?;
    Ok(ok_with(json!({ "contact_way": state.contact_ways[id] })))
}

/// `POST /cgi-bin/externalcontact/update_contact_way`: the fields given replace the old.
pub(crate) fn update_contact_way(state: &mut State, req: &ApiRequest) -> ApiResult {
    let id = contact_way_id(state, req)?.to_owned();
    if let (Some(way), Some(fields)) = (state.contact_ways.get_mut(&id), req.body.as_object()) {
        for (k, v) in fields {
            way[k] = v.clone();
        }
    }
    Ok(ok_with(json!({})))
}

/// `POST /cgi-bin/externalcontact/del_contact_way`.
pub(crate) fn del_contact_way(state: &mut State, req: &ApiRequest) -> ApiResult {
    let id = contact_way_id(state, req)?.to_owned();
    state.contact_ways.remove(&id);
    Ok(ok_with(json!({})))
}

/// `POST /cgi-bin/externalcontact/groupchat/list`: paged by `cursor` and `limit`.
pub(crate) fn groupchat_list(state: &mut State, req: &ApiRequest) -> ApiResult {
    let limit = req.body.get("limit").and_then(Value::as_u64).unwrap_or(0);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::new(
            40058,
            "invalid parameter: limit must be 1..=1000",
        ));
    }
    let owners = req
        .body
        .pointer("/owner_filter/userid_list")
        .map(|_| string_list(&req.body["owner_filter"], "userid_list"))
        .unwrap_or_default();
    let start: usize = match str_field(&req.body, "cursor") {
        "" => 0,
        c => c
            .parse()
            .map_err(|_| ApiError::new(40058, "invalid parameter: cursor"))?,
    };
    let matching: Vec<&str> = state
        .group_chats
        .iter()
        .filter(|c| owners.is_empty() || owners.contains(&c.owner))
        .map(|c| c.chat_id.as_str())
        .collect();
    let end = start
        .saturating_add(usize::try_from(limit).unwrap_or(1000))
        .min(matching.len());
    let page: Vec<Value> = matching
        .get(start.min(end)..end)
        .unwrap_or_default()
        .iter()
        .map(|id| json!({"chat_id": id, "status": 0}))
        .collect();
    let next = if end < matching.len() {
        end.to_string()
    } else {
        String::new()
    };
    Ok(ok_with(
        json!({"group_chat_list": page, "next_cursor": next}),
    ))
}

/// `POST /cgi-bin/externalcontact/groupchat/get`.
pub(crate) fn groupchat_get(state: &mut State, req: &ApiRequest) -> ApiResult {
    let id = required(&req.body, "chat_id")?;
    let chat = state
        .group_chats
        .iter()
        .find(|c| c.chat_id == id)
        .ok_or_else(|| ApiError::new(40050, "chatid not found"))?;
    let members: Vec<Value> = chat
        .members
        .iter()
        .map(|m| {
            let staff = state.staff_member(m);
            let name = staff.map_or_else(
                || {
                    state
                        .customers
                        .iter()
                        .find(|c| &c.external_userid == m)
                        .map_or(String::new(), |c| c.name.clone())
                },
                |s| s.name.clone(),
            );
            json!({"userid": m, "type": if staff.is_some() { 1 } else { 2 },
                   "join_time": 1_700_000_000, "join_scene": 1, "name": name})
        })
        .collect();
    Ok(ok_with(json!({"group_chat": {
        "chat_id": chat.chat_id, "name": chat.name, "owner": chat.owner,
        "create_time": 1_700_000_000, "notice": "", "member_list": members,
        "admin_list": [],
    }})))
}

/// The `text{content}` and `attachments` of a customer message (group-send template,
/// welcome): not both empty (44004), text ≤ 4000 bytes (45002), ≤ 9 attachments (40058).
fn check_text_and_attachments(body: &Value) -> Result<(&str, Option<&Vec<Value>>), ApiError> {
    let text = body
        .pointer("/text/content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let attachments = body.get("attachments").and_then(Value::as_array);
    let count = attachments.map_or(0, Vec::len);
    if text.is_empty() && count == 0 {
        return Err(ApiError::new(
            44004,
            "empty content: text and attachments are both empty",
        ));
    }
    if text.len() > 4000 {
        return Err(ApiError::new(
            45002,
            "content size out of limit: text at most 4000 bytes",
        ));
    }
    if count > 9 {
        return Err(ApiError::new(
            40058,
            "invalid parameter: at most 9 attachments",
        ));
    }
    Ok((text, attachments))
}

/// `POST /cgi-bin/externalcontact/add_msg_template`: unknown customers in `fail_list`.
pub(crate) fn add_msg_template(state: &mut State, req: &ApiRequest) -> ApiResult {
    let body = &req.body;
    check_text_and_attachments(body)?;
    let group = str_field(body, "chat_type") == "group";
    if group && str_field(body, "sender").is_empty() {
        return Err(ApiError::new(
            40058,
            "invalid parameter: sender is required for group",
        ));
    }
    let targets = string_list(body, "external_userid");
    let fail: Vec<&String> = targets
        .iter()
        .filter(|t| !state.customers.iter().any(|c| &c.external_userid == *t))
        .collect();
    let fail = json!(fail);
    state.record_sent(&req.path, targets.join("|"), body);
    let msgid = state.next_id("simtpl");
    Ok(ok_with(json!({"fail_list": fail, "msgid": msgid})))
}

/// `POST /cgi-bin/externalcontact/send_welcome_msg`: the welcome message of a customer
/// just added; each `welcome_code` works once (40058 on reuse); text ≤ 4000 bytes,
/// ≤ 9 attachments, not both empty (44004). Recorded with `to` = `welcome:<code>`.
pub(crate) fn send_welcome_msg(state: &mut State, req: &ApiRequest) -> ApiResult {
    let body = &req.body;
    let code = required(body, "welcome_code")?.to_owned();
    let (text, attachments) = check_text_and_attachments(body)?;
    if !state.used_welcome_codes.insert(code.clone()) {
        return Err(ApiError::new(
            40058,
            "invalid parameter: welcome_code already used",
        ));
    }
    let msgtype = if text.is_empty() {
        attachments
            .and_then(|a| a.first())
            .map(|a| str_field(a, "msgtype").to_owned())
            .unwrap_or_default()
    } else {
        "text".to_owned()
    };
    state.record_sent_as(&req.path, format!("welcome:{code}"), msgtype, body);
    Ok(ok_with(json!({})))
}
