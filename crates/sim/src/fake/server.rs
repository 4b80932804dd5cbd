//! The HTTP side of the fake: an accept loop that can drop connections and add latency,
//! one handler for `/cgi-bin/*` that checks tokens and records calls, and the `/__sim/*`
//! control routes.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Path, Request, State as AxumState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use super::state::{ApiError, State, ok_with};
use super::{ApiRequest, Call, Fault, Shared, Upload, app, contact, kf};

/// Largest request body read (uploads go to 20 MB).
const MAX_BODY: usize = 32 << 20;

/// Serves until aborted; connection tasks end with it.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, addr: SocketAddr) {
    let router = router(Arc::clone(&shared), format!("http://{addr}"));
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        while connections.try_join_next().is_some() {}
        let router = router.clone();
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let router = router.clone();
                    let shared = Arc::clone(&shared);
                    async move {
                        let (drop, latency) = {
                            let mut state = shared.lock();
                            let drop = state.faults.take_drop();
                            state.dropped += u64::from(drop);
                            (drop, state.faults.latency)
                        };
                        if drop {
                            // An error from the service closes the connection unanswered.
                            return Err(DroppedByFault);
                        }
                        if !latency.is_zero() {
                            tokio::time::sleep(latency).await;
                        }
                        let response = router.oneshot(req.map(Body::new)).await;
                        Ok::<_, DroppedByFault>(response.unwrap_or_else(|e: Infallible| match e {}))
                    }
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The connection was dropped by a [`Fault::DropConnections`].
#[derive(Debug)]
struct DroppedByFault;

impl std::fmt::Display for DroppedByFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DroppedByFault {}

#[derive(Clone)]
struct Ctx {
    shared: Arc<Shared>,
    base_url: Arc<str>,
}

fn router(shared: Arc<Shared>, base_url: String) -> Router {
    let ctx = Ctx {
        shared,
        base_url: base_url.into(),
    };
    Router::new()
        .route("/cgi-bin/{*rest}", any(cgi))
        .route("/__sim/calls", get(sim_calls))
        .route("/__sim/messages", get(sim_messages))
        .route("/__sim/faults", post(sim_fault))
        .route("/__sim/time", post(sim_time))
        .route("/__sim/kf/messages", post(sim_kf_message))
        .route("/__sim/kf/enter_session", post(sim_kf_enter))
        .route("/__sim/customers", get(sim_customers))
        .route("/__sim/customers/{id}/tags", post(sim_customer_tags))
        .route("/__sim/media/{id}", get(sim_media))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(ctx)
}

fn json_response(value: &Value) -> Response {
    let mut response = Response::new(Body::from(value.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

fn error_json(e: &ApiError) -> Value {
    json!({"errcode": e.code, "errmsg": e.msg})
}

/// Which endpoint a path is, and whether it needs an `access_token`.
type Endpoint = fn(&mut State, &ApiRequest) -> Result<Value, ApiError>;

fn endpoint(path: &str) -> Option<(Endpoint, bool)> {
    let e: (Endpoint, bool) = match path {
        "/cgi-bin/gettoken" => (app::gettoken, false),
        "/cgi-bin/message/send" => (app::message_send, true),
        "/cgi-bin/message/recall" => (app::message_recall, true),
        "/cgi-bin/message/update_template_card" => (app::update_template_card, true),
        "/cgi-bin/appchat/send" => (app::appchat_send, true),
        "/cgi-bin/media/upload" => (app::media_upload, true),
        "/cgi-bin/media/uploadimg" => (app::media_uploadimg, true),
        // Answered with the bytes by `answer`; the JSON handler is never reached.
        "/cgi-bin/media/get" => (|_, _| Ok(Value::Null), true),
        "/cgi-bin/webhook/send" => (app::robot_send, false),
        "/cgi-bin/webhook/upload_media" => (app::robot_upload, false),
        "/cgi-bin/user/get" => (contact::user_get, true),
        "/cgi-bin/externalcontact/get_follow_user_list" => (contact::follow_users, true),
        "/cgi-bin/externalcontact/list" => (contact::customer_list, true),
        "/cgi-bin/externalcontact/get" => (contact::customer_get, true),
        "/cgi-bin/externalcontact/mark_tag" => (contact::mark_tag, true),
        "/cgi-bin/externalcontact/get_corp_tag_list" => (contact::corp_tags, true),
        "/cgi-bin/externalcontact/add_contact_way" => (contact::add_contact_way, true),
        "/cgi-bin/externalcontact/get_contact_way" => (contact::get_contact_way, true),
        "/cgi-bin/externalcontact/update_contact_way" => (contact::update_contact_way, true),
        "/cgi-bin/externalcontact/del_contact_way" => (contact::del_contact_way, true),
        "/cgi-bin/externalcontact/groupchat/list" => (contact::groupchat_list, true),
        "/cgi-bin/externalcontact/groupchat/get" => (contact::groupchat_get, true),
        "/cgi-bin/externalcontact/add_msg_template" => (contact::add_msg_template, true),
        "/cgi-bin/externalcontact/send_welcome_msg" => (contact::send_welcome_msg, true),
        "/cgi-bin/kf/sync_msg" => (kf::sync_msg, true),
        "/cgi-bin/kf/send_msg" => (kf::send_msg, true),
        "/cgi-bin/kf/send_msg_on_event" => (kf::send_msg_on_event, true),
        "/cgi-bin/kf/service_state/get" => (kf::service_state_get, true),
        "/cgi-bin/kf/service_state/trans" => (kf::service_state_trans, true),
        _ => return None,
    };
    Some(e)
}

fn is_upload(path: &str) -> bool {
    matches!(
        path,
        "/cgi-bin/media/upload" | "/cgi-bin/media/uploadimg" | "/cgi-bin/webhook/upload_media"
    )
}

/// The query as recorded: secrets replaced.
fn redacted(query: &[(String, String)]) -> Vec<(String, String)> {
    query
        .iter()
        .map(|(k, v)| match k.as_str() {
            "access_token" | "corpsecret" => (k.clone(), "<redacted>".to_owned()),
            "key" => (k.clone(), app::redact_key(v)),
            _ => (k.clone(), v.clone()),
        })
        .collect()
}

async fn read_upload(req: Request) -> Result<Option<Upload>, ApiError> {
    let mut multipart = axum::extract::Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::new(40058, format!("invalid parameter: not multipart: {e}")))?;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::new(40058, format!("invalid parameter: bad multipart: {e}")))?
    {
        if field.name() != Some("media") {
            continue;
        }
        let filename = field.file_name().unwrap_or_default().to_owned();
        let content_type = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| ApiError::new(40058, format!("invalid parameter: bad multipart: {e}")))?;
        return Ok(Some(Upload {
            filename,
            content_type,
            bytes,
        }));
    }
    Ok(None)
}

/// Every `/cgi-bin/*` request.
async fn cgi(AxumState(ctx): AxumState<Ctx>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let query: Vec<(String, String)> =
        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let Some((handler, needs_token)) = endpoint(&path) else {
        return (
            StatusCode::NOT_FOUND,
            format!("the simulator does not serve {path}"),
        )
            .into_response();
    };
    let is_get = req.method() == axum::http::Method::GET;
    let mut upload = None;
    let mut body = Value::Null;
    let mut body_error = None;
    if is_upload(&path) {
        match read_upload(req).await {
            Ok(u) => {
                body = u.as_ref().map_or(Value::Null, |u| {
                    json!({"filename": u.filename, "size": u.bytes.len(), "content_type": u.content_type})
                });
                upload = u;
            }
            Err(e) => body_error = Some(e),
        }
    } else if !is_get {
        match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
            Ok(bytes) => match parse_json(&bytes) {
                Ok(v) => body = v,
                Err(e) => body_error = Some(e),
            },
            Err(_) => body_error = Some(ApiError::new(45001, "request body too large")),
        }
    }
    let request = ApiRequest {
        path: path.clone(),
        query,
        body,
        upload,
        base_url: ctx.base_url.to_string(),
    };
    let mut state = ctx.shared.lock();
    let answer = answer(&mut state, &request, handler, needs_token, body_error);
    let errcode = match &answer {
        Answer::Json(v) => v.get("errcode").and_then(Value::as_i64).unwrap_or(0),
        Answer::Media(_) => 0,
    };
    let at = state.now();
    state.calls.push(Call {
        path,
        query: redacted(&request.query),
        body: request.body,
        at,
        errcode,
    });
    drop(state);
    match answer {
        Answer::Json(v) => json_response(&v),
        Answer::Media(m) => media_response(m),
    }
}

enum Answer {
    Json(Value),
    Media(Upload),
}

fn answer(
    state: &mut State,
    request: &ApiRequest,
    handler: Endpoint,
    needs_token: bool,
    body_error: Option<ApiError>,
) -> Answer {
    if let Some(code) = state.faults.take_errcode(&request.path) {
        let msg = match code {
            -1 => "system busy",
            45009 => "api freq out of limit",
            _ => "injected by wecom-sim",
        };
        return Answer::Json(json!({"errcode": code, "errmsg": msg}));
    }
    if needs_token && let Err(e) = state.check_token(request.query_value("access_token")) {
        return Answer::Json(error_json(&e));
    }
    if let Some(e) = body_error {
        return Answer::Json(error_json(&e));
    }
    if request.path == "/cgi-bin/media/get" {
        return match app::media_get(state, request) {
            Ok(m) => Answer::Media(m),
            Err(e) => Answer::Json(error_json(&e)),
        };
    }
    Answer::Json(match handler(state, request) {
        Ok(v) => v,
        Err(e) => error_json(&e),
    })
}

/// A JSON body: 47001 when it is not JSON (WeCom: "data format error").
fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| ApiError::new(47001, "data format error: the body is not a JSON object"))
}

fn media_response(m: Upload) -> Response {
    let mut response = Response::new(Body::from(m.bytes));
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&m.content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    // An ASCII fallback name and the real one percent-encoded (RFC 6266 / 5987).
    let ascii: String = m
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = m
        .filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

async fn sim_calls(AxumState(ctx): AxumState<Ctx>) -> Response {
    json_response(&json!(ctx.shared.lock().calls))
}

async fn sim_messages(AxumState(ctx): AxumState<Ctx>) -> Response {
    json_response(&json!(ctx.shared.lock().sent))
}

fn bad_request(e: impl std::fmt::Display) -> Response {
    (StatusCode::BAD_REQUEST, e.to_string()).into_response()
}

async fn sim_fault(AxumState(ctx): AxumState<Ctx>, body: Bytes) -> Response {
    let fault: Fault = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return bad_request(format!("not a fault: {e}")),
    };
    ctx.shared.lock().apply(&fault);
    json_response(&ok_with(json!({})))
}

#[derive(Deserialize)]
struct Advance {
    advance_secs: u64,
}

async fn sim_time(AxumState(ctx): AxumState<Ctx>, body: Bytes) -> Response {
    match serde_json::from_slice::<Advance>(&body) {
        Ok(a) => {
            let mut state = ctx.shared.lock();
            state.offset += Duration::from_secs(a.advance_secs);
            json_response(&ok_with(json!({"now": state.unix()})))
        }
        Err(e) => bad_request(format!("expected {{\"advance_secs\": N}}: {e}")),
    }
}

#[derive(Deserialize)]
struct KfSays {
    open_kfid: String,
    external_userid: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    scene: String,
}

fn notice_json(n: &super::KfNotice) -> Value {
    json!({"token": n.token, "open_kfid": n.open_kfid, "msgid": n.msgid, "welcome_code": n.welcome_code})
}

async fn sim_kf_message(AxumState(ctx): AxumState<Ctx>, body: Bytes) -> Response {
    match serde_json::from_slice::<KfSays>(&body) {
        Ok(k) => {
            let n = ctx
                .shared
                .lock()
                .kf_customer_text(&k.open_kfid, &k.external_userid, &k.text);
            json_response(&notice_json(&n))
        }
        Err(e) => bad_request(format!(
            "expected {{open_kfid, external_userid, text}}: {e}"
        )),
    }
}

async fn sim_kf_enter(AxumState(ctx): AxumState<Ctx>, body: Bytes) -> Response {
    match serde_json::from_slice::<KfSays>(&body) {
        Ok(k) => {
            let n = ctx
                .shared
                .lock()
                .kf_enter_session(&k.open_kfid, &k.external_userid, &k.scene);
            json_response(&notice_json(&n))
        }
        Err(e) => bad_request(format!(
            "expected {{open_kfid, external_userid, scene}}: {e}"
        )),
    }
}

async fn sim_customers(AxumState(ctx): AxumState<Ctx>) -> Response {
    let state = ctx.shared.lock();
    let list: Vec<Value> = state
        .customers
        .iter()
        .map(|c| json!({"external_userid": c.external_userid, "name": c.name, "staff": c.staff, "tags": c.tags}))
        .collect();
    json_response(&json!(list))
}

#[derive(Deserialize)]
struct Tags {
    tags: Vec<String>,
}

async fn sim_customer_tags(
    AxumState(ctx): AxumState<Ctx>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let tags = match serde_json::from_slice::<Tags>(&body) {
        Ok(t) => t.tags,
        Err(e) => return bad_request(format!("expected {{\"tags\": [..]}}: {e}")),
    };
    let mut state = ctx.shared.lock();
    match state.customers.iter_mut().find(|c| c.external_userid == id) {
        Some(c) => {
            c.tags = tags;
            json_response(&ok_with(json!({})))
        }
        None => (StatusCode::NOT_FOUND, format!("no customer {id}")).into_response(),
    }
}

async fn sim_media(AxumState(ctx): AxumState<Ctx>, Path(id): Path<String>) -> Response {
    let media = ctx.shared.lock().media.get(&id).cloned();
    match media {
        Some(m) => media_response(m),
        None => (StatusCode::NOT_FOUND, "no such media").into_response(),
    }
}
