//! The long connection's server side: subscribe (bot id + secret), ping, message and
//! event callbacks with a `req_id` each, `aibot_respond_*` frames collected per message,
//! and re-delivery of unanswered messages after the next subscription.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Frame;

use super::{AiBotInbound, AiShared};
use crate::SimError;

/// `req_id` unknown (WeCom's code as seen in third-party SDKs).
const INVALID_REQ_ID: i64 = 846_605;
/// The answer to this message is already complete.
const ALREADY_FINISHED: i64 = 846_608;
/// Wrong bot id or secret.
const BAD_SECRET: i64 = 40_001;

/// What the connection task is told.
#[derive(Debug)]
pub(crate) enum ToClient {
    /// Send this frame.
    Frame(String),
    /// Drop the TCP connection without a close frame.
    Drop,
}

/// What the bot answered to one message over the long connection.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct WsAnswer {
    /// Every `aibot_respond_*` body accepted, in order.
    pub frames: Vec<Value>,
    /// The text shown: the last stream state's content (or the welcome's text).
    pub content: String,
    /// How many answers completed it (a final stream frame, a welcome, a card update):
    /// 1 when answered once; 2 would be an answer given twice.
    pub finished: usize,
    /// Frames refused because the answer was already complete.
    pub after_finish: usize,
    /// How many times the message was delivered (1 + re-deliveries after reconnects).
    pub deliveries: usize,
}

#[derive(Debug, Default)]
pub(crate) struct WsState {
    pub(crate) subscriptions: usize,
    /// Messages not answered yet: msgid → the callback frame's cmd and body.
    outstanding: Vec<(String, &'static str, Value)>,
    req_of: HashMap<String, String>,
    answers: HashMap<String, WsAnswer>,
    next_req: u64,
}

impl WsState {
    /// A callback frame for `msgid` under a fresh `req_id`.
    fn frame_for(&mut self, msgid: &str, cmd: &str, body: &Value) -> String {
        self.next_req += 1;
        let req_id = format!("sim-req-{}", self.next_req);
        self.req_of.insert(req_id.clone(), msgid.to_owned());
        self.answers.entry(msgid.to_owned()).or_default().deliveries += 1;
        json!({ "cmd": cmd, "headers": { "req_id": req_id }, "body": body }).to_string()
    }

    /// Takes one client frame: the acknowledgement to send.
    fn take(&mut self, frame: &Value) -> Value {
        let req_id = frame
            .pointer("/headers/req_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let ack = |errcode: i64, errmsg: &str| json!({ "headers": { "req_id": req_id }, "errcode": errcode, "errmsg": errmsg });
        let cmd = frame.get("cmd").and_then(Value::as_str).unwrap_or_default();
        if !cmd.starts_with("aibot_respond_") {
            return ack(0, "ok");
        }
        let Some(msgid) = self.req_of.get(&req_id).cloned() else {
            return ack(INVALID_REQ_ID, "invalid req_id");
        };
        let body = frame.get("body").cloned().unwrap_or(Value::Null);
        let answer = self.answers.entry(msgid.clone()).or_default();
        if answer.finished > 0 {
            answer.after_finish += 1;
            return ack(ALREADY_FINISHED, "the answer is already complete");
        }
        let done = match body.get("msgtype").and_then(Value::as_str) {
            Some("stream" | "stream_with_template_card") => {
                let stream = body.get("stream").cloned().unwrap_or(Value::Null);
                if let Some(c) = stream.get("content").and_then(Value::as_str) {
                    c.clone_into(&mut answer.content);
                }
                stream.get("finish").and_then(Value::as_bool) == Some(true)
            }
            Some("text") => {
                body.pointer("/text/content")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .clone_into(&mut answer.content);
                true
            }
            _ => true,
        };
        answer.frames.push(body);
        if done {
            answer.finished += 1;
            self.outstanding.retain(|(id, _, _)| *id != msgid);
        }
        ack(0, "ok")
    }
}

/// Accepts connections until aborted; the newest connection is the bot's.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<AiShared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            if let Ok(socket) = tokio_tungstenite::accept_async(stream).await {
                connection(socket, shared).await;
            }
        });
    }
}

async fn connection(
    socket: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    shared: Arc<AiShared>,
) {
    let (mut write, mut read) = socket.split();
    // The first frame must subscribe.
    let Some(Ok(Frame::Text(first))) = read.next().await else {
        return;
    };
    let first: Value = serde_json::from_str(&first).unwrap_or(Value::Null);
    let req_id = first
        .pointer("/headers/req_id")
        .cloned()
        .unwrap_or(Value::Null);
    let config = &shared.config;
    let ok = first.get("cmd").and_then(Value::as_str) == Some("aibot_subscribe")
        && first.pointer("/body/bot_id").and_then(Value::as_str) == Some(config.bot_id.as_str())
        && first.pointer("/body/secret").and_then(Value::as_str) == Some(config.secret.as_str());
    let ack = if ok {
        json!({ "headers": { "req_id": req_id }, "errcode": 0, "errmsg": "ok" })
    } else {
        json!({ "headers": { "req_id": req_id }, "errcode": BAD_SECRET, "errmsg": "invalid bot_id or secret" })
    };
    if write.send(Frame::text(ack.to_string())).await.is_err() || !ok {
        let _ = write.close().await;
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    // This connection replaces any older one; unanswered messages come again.
    let again: Vec<String> = {
        let mut state = shared.lock();
        state.ws.subscriptions += 1;
        let outstanding = state.ws.outstanding.clone();
        outstanding
            .iter()
            .map(|(msgid, cmd, body)| state.ws.frame_for(msgid, cmd, body))
            .collect()
    };
    *shared.conn.lock().unwrap_or_else(PoisonError::into_inner) = Some(tx);
    shared.changed.notify_waiters();
    for frame in again {
        if write.send(Frame::text(frame)).await.is_err() {
            return;
        }
    }
    loop {
        tokio::select! {
            order = rx.recv() => match order {
                Some(ToClient::Frame(text)) => {
                    if write.send(Frame::text(text)).await.is_err() {
                        return;
                    }
                }
                // Dropped (or replaced): the socket goes without a close frame.
                Some(ToClient::Drop) | None => return,
            },
            frame = read.next() => match frame {
                Some(Ok(Frame::Text(text))) => {
                    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let ack = shared.lock().ws.take(&v);
                    shared.changed.notify_waiters();
                    if write.send(Frame::text(ack.to_string())).await.is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
        }
    }
}

/// Delivers `m` on the current connection (waiting up to `wait` for one).
pub(crate) async fn deliver(
    shared: &AiShared,
    m: &AiBotInbound,
    wait: Duration,
) -> Result<(), SimError> {
    let cmd = if m.msgtype == "event" {
        "aibot_event_callback"
    } else {
        "aibot_msg_callback"
    };
    let body: Value =
        serde_json::from_str(&m.to_json(&shared.config.aibotid)).unwrap_or(Value::Null);
    let until = tokio::time::Instant::now() + wait;
    loop {
        let notified = shared.changed.notified();
        {
            let conn = shared.conn.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(tx) = conn.as_ref() {
                let mut state = shared.lock();
                state
                    .ws
                    .outstanding
                    .push((m.msgid.clone(), cmd, body.clone()));
                let frame = state.ws.frame_for(&m.msgid, cmd, &body);
                // A closed connection keeps the message outstanding: it comes again.
                let _ = tx.send(ToClient::Frame(frame));
                return Ok(());
            }
        }
        if tokio::time::timeout_at(until, notified).await.is_err() {
            return Err(SimError::Config(format!(
                "no bot subscribed to the long connection within {wait:?}"
            )));
        }
    }
}

/// The answer to `msgid` once finished, or as it stands after `timeout`.
pub(crate) async fn answer(shared: &AiShared, msgid: &str, timeout: Duration) -> Option<WsAnswer> {
    let until = tokio::time::Instant::now() + timeout;
    loop {
        let notified = shared.changed.notified();
        let current = shared.lock().ws.answers.get(msgid).cloned();
        if current.as_ref().is_some_and(|a| a.finished > 0) {
            return current;
        }
        if tokio::time::timeout_at(until, notified).await.is_err() {
            return shared.lock().ws.answers.get(msgid).cloned();
        }
    }
}
