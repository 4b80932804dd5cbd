//! A scripted stand-in for what `FakeWeCom` rightly does not play: a token per fetch
//! (`tok-1`, `tok-2`, …) with a 20 ms `gettoken` that widens the window in which
//! concurrent callers would each fetch, an `/cgi-bin/echo` that answers with the body
//! and the token it was called with, and per-path scripted answers (WeCom's empty pages
//! with `has_more = 1`). Every request is recorded.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    reason = "a test helper; each test uses a part"
)]

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// The recorded state and the knobs of a scripted server.
#[derive(Default)]
pub struct Scripted {
    secret: String,
    pub gettoken_calls: AtomicUsize,
    /// Calls of `/cgi-bin/echo`.
    pub api_calls: AtomicUsize,
    issued: AtomicUsize,
    /// Tokens `/cgi-bin/echo` accepts (the ones issued, unless cleared).
    pub valid: Mutex<HashSet<String>>,
    /// Every echo answers 42001 while this is set.
    pub always_expired: AtomicBool,
    /// (path, query, body) of every scripted request.
    seen: Mutex<Vec<(String, QueryPairs, Value)>>,
    /// Per path: answers to give, in order; then `{"errcode":0}`.
    script: Mutex<Vec<(String, VecDeque<Value>)>>,
}

type Shared = Arc<Scripted>;

/// A request's query pairs.
pub type QueryPairs = Vec<(String, String)>;

impl Scripted {
    /// Queues answers for `path`.
    pub fn answer(&self, path: &str, answers: Vec<Value>) {
        let mut script = self.script.lock().unwrap();
        match script.iter_mut().find(|(p, _)| p == path) {
            Some((_, queued)) => queued.extend(answers),
            None => script.push((path.to_owned(), answers.into())),
        }
    }

    /// The (query, body) of every request to `path`.
    pub fn requests(&self, path: &str) -> Vec<(QueryPairs, Value)> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _, _)| p == path)
            .map(|(_, q, b)| (q.clone(), b.clone()))
            .collect()
    }
}

fn query_value(q: &[(String, String)], key: &str) -> String {
    q.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

async fn gettoken(
    State(fake): State<Shared>,
    Query(q): Query<Vec<(String, String)>>,
) -> Json<Value> {
    fake.gettoken_calls.fetch_add(1, Ordering::SeqCst);
    if query_value(&q, "corpsecret") != fake.secret {
        return Json(json!({"errcode": 40001, "errmsg": "invalid credential"}));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let token = format!("tok-{}", fake.issued.fetch_add(1, Ordering::SeqCst) + 1);
    fake.valid.lock().unwrap().insert(token.clone());
    Json(json!({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}))
}

async fn echo(
    State(fake): State<Shared>,
    Query(q): Query<Vec<(String, String)>>,
    Json(body): Json<Value>,
) -> Json<Value> {
    fake.api_calls.fetch_add(1, Ordering::SeqCst);
    let token = query_value(&q, "access_token");
    if fake.always_expired.load(Ordering::SeqCst) || !fake.valid.lock().unwrap().contains(&token) {
        return Json(json!({"errcode": 42001, "errmsg": "access_token expired"}));
    }
    Json(json!({"errcode": 0, "errmsg": "ok", "echo": body, "token": token}))
}

async fn scripted(
    State(fake): State<Shared>,
    Path(rest): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
    body: Option<Json<Value>>,
) -> Json<Value> {
    let path = format!("/cgi-bin/{rest}");
    fake.seen
        .lock()
        .unwrap()
        .push((path.clone(), q, body.map_or(Value::Null, |b| b.0)));
    let mut script = fake.script.lock().unwrap();
    let next = script
        .iter_mut()
        .find(|(p, _)| *p == path)
        .and_then(|(_, answers)| answers.pop_front());
    Json(next.unwrap_or_else(|| json!({"errcode": 0, "errmsg": "ok"})))
}

/// Serves a scripted WeCom whose `gettoken` accepts `secret`; the base URL and state.
pub async fn serve(secret: &str) -> (String, Shared) {
    let fake = Arc::new(Scripted {
        secret: secret.to_owned(),
        ..Scripted::default()
    });
    let app = Router::new()
        .route("/cgi-bin/gettoken", get(gettoken))
        .route("/cgi-bin/echo", post(echo))
        .route("/cgi-bin/{*rest}", post(scripted).get(scripted))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), fake)
}
