//! The long-connection transport: the bot dials WeCom's WebSocket, subscribes with its
//! bot id and secret, pings, receives `aibot_msg_callback` / `aibot_event_callback`
//! frames and answers with `aibot_respond_*` frames carrying the message's `req_id`.
//! A lost connection is dialled again with backoff and jitter; a message WeCom delivers
//! again after a reconnect is answered from the dedup record or the stream store — never
//! decided twice.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Frame;
use tracing::Instrument as _;
use wecom_sdk_message::aibot::{AiBotBody, AiBotEvent, AiBotMessage, AiBotReply};

use super::AiBotChannel;
use super::produce::Outlet;
use super::stream::StreamState;
use crate::Bot;
use crate::dedup::{Answered, Claim};

/// WeCom's long-connection endpoint.
pub const DEFAULT_WS_URL: &str = "wss://openws.work.weixin.qq.com";
/// How long dialling and subscribing may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the long connection stopped for good.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AiBotError {
    /// The bot was built without [`AiBot::websocket`](crate::AiBot::websocket).
    #[error("the bot has no AI-bot WebSocket transport (build it with AiBot::websocket)")]
    NotConfigured,
    /// WeCom refused the bot id and secret.
    #[error("WeCom refused the subscription (errcode {errcode}): {errmsg}")]
    Subscribe {
        /// WeCom's errcode.
        errcode: i64,
        /// WeCom's errmsg.
        errmsg: String,
    },
    /// The URL is not a `ws://` or `wss://` URL, or TLS could not be set up.
    #[error("cannot dial {url}: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

/// The long-connection settings.
pub(crate) struct WsSettings {
    pub(crate) bot_id: String,
    pub(crate) secret: String,
    pub(crate) url: String,
    pub(crate) heartbeat: Duration,
    pub(crate) backoff: (Duration, Duration),
}

impl WsSettings {
    pub(crate) fn new(bot_id: String, secret: String) -> Self {
        Self {
            bot_id,
            secret,
            url: DEFAULT_WS_URL.to_owned(),
            heartbeat: Duration::from_secs(30),
            backoff: (Duration::from_secs(1), Duration::from_secs(60)),
        }
    }
}

/// The current connection's frame queue and, per message, the `req_id` its answer
/// goes under (a re-delivery after a reconnect brings a new one).
#[derive(Debug, Default)]
pub(crate) struct Outlets {
    inner: Mutex<OutletState>,
}

#[derive(Debug, Default)]
struct OutletState {
    tx: Option<mpsc::UnboundedSender<String>>,
    req_of: HashMap<String, String>,
}

impl Outlets {
    fn state(&self) -> std::sync::MutexGuard<'_, OutletState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Answers for `msgid` go under `req_id` from now on.
    fn bind(&self, msgid: &str, req_id: &str) {
        self.state()
            .req_of
            .insert(msgid.to_owned(), req_id.to_owned());
    }

    /// The `req_id` answers to `msgid` go under now (a re-delivery during the decision
    /// brings a new one).
    fn req_id_of(&self, msgid: &str) -> Option<String> {
        self.state().req_of.get(msgid).cloned()
    }

    /// The answer to `msgid` is complete.
    pub(crate) fn unbind(&self, msgid: &str) {
        self.state().req_of.remove(msgid);
    }

    /// Queues a frame on the current connection: `false` when there is none.
    fn send(&self, frame: String) -> bool {
        self.state()
            .tx
            .as_ref()
            .is_some_and(|tx| tx.send(frame).is_ok())
    }

    /// Pushes the state of the stream answering `msgid` (dropped while disconnected:
    /// the re-delivery after the reconnect gets the state then).
    pub(crate) fn push_stream(&self, msgid: &str, state: &StreamState) {
        let req_id = self.state().req_of.get(msgid).cloned();
        if let Some(req_id) = req_id {
            let reply = AiBotReply::Stream(super::stream_reply(msgid, state));
            self.send(frame("aibot_respond_msg", &req_id, &reply.to_json()));
        }
    }
}

/// A command frame with `body` (JSON text).
fn frame(cmd: &str, req_id: &str, body: &str) -> String {
    let body: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    json!({ "cmd": cmd, "headers": { "req_id": req_id }, "body": body }).to_string()
}

/// A fresh `req_id` for our own commands.
fn req_id(kind: &str) -> String {
    format!("{kind}-{:016x}", random())
}

/// 64 random bits (std's per-process random hasher keys, mixed with a counter).
fn random() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(NEXT.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

/// The delay before reconnect attempt `attempt` (0-based): doubling from `first` up to
/// `max`, the upper half random.
pub(crate) fn backoff(attempt: u32, (first, max): (Duration, Duration)) -> Duration {
    let base = first
        .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
        .min(max);
    let half = base / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX).max(1);
    half + Duration::from_nanos(random() % nanos)
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
type Sink = futures_util::stream::SplitSink<Socket, Frame>;
type Source = futures_util::stream::SplitStream<Socket>;

/// How one connection ended.
enum Ended {
    /// The bot is shutting down.
    Stopped,
    /// Lost (why): dial again.
    Lost(String),
    /// WeCom will not take us: stop.
    Fatal(AiBotError),
}

impl Bot {
    /// Runs the AI bot's long connection until [`Bot::shutdown`]: dials, subscribes,
    /// answers, and dials again with backoff when the connection is lost. Spawn it
    /// beside your server (`tokio::spawn(bot.clone().run_ai_bot_owned())` or
    /// `bot.run_ai_bot().await`).
    ///
    /// # Errors
    /// [`AiBotError::NotConfigured`] without a WebSocket transport;
    /// [`AiBotError::Subscribe`] when WeCom refuses the bot id and secret;
    /// [`AiBotError::Url`] for a URL that cannot be dialled.
    pub async fn run_ai_bot(&self) -> Result<(), AiBotError> {
        let ai = self.inner.aibot.as_ref().ok_or(AiBotError::NotConfigured)?;
        let ws = ai.ws.as_ref().ok_or(AiBotError::NotConfigured)?;
        let mut attempt = 0u32;
        loop {
            if self.inner.stop.is_cancelled() {
                return Ok(());
            }
            let ended = self.ws_session(ai, ws, &mut attempt).await;
            ai.outlets.state().tx = None;
            match ended {
                Ended::Stopped => return Ok(()),
                Ended::Fatal(e) => {
                    tracing::error!(error = %e, "AI-bot long connection stopped");
                    return Err(e);
                }
                Ended::Lost(why) => {
                    let delay = backoff(attempt, ws.backoff);
                    attempt = attempt.saturating_add(1);
                    self.inner.metrics.count_ai("ws_reconnect");
                    tracing::warn!(
                        why,
                        ?delay,
                        attempt,
                        "AI-bot long connection lost: dialling again"
                    );
                    tokio::select! {
                        () = self.inner.stop.cancelled() => return Ok(()),
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    /// [`run_ai_bot`](Self::run_ai_bot) on an owned bot (for `tokio::spawn`).
    ///
    /// # Errors
    /// As [`run_ai_bot`](Self::run_ai_bot).
    pub async fn run_ai_bot_owned(self) -> Result<(), AiBotError> {
        self.run_ai_bot().await
    }

    /// One connection: dial, subscribe, then read until it is lost or the bot stops.
    async fn ws_session(&self, ai: &AiBotChannel, ws: &WsSettings, attempt: &mut u32) -> Ended {
        let (mut write, mut read) = match dial(ws).await {
            Ok(halves) => halves,
            Err(ended) => return ended,
        };
        *attempt = 0;
        self.inner.metrics.count_ai("ws_connected");
        tracing::info!(url = %ws.url, "AI-bot long connection subscribed");
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        ai.outlets.state().tx = Some(tx.clone());
        let writer = tokio::spawn(async move {
            while let Some(text) = rx.recv().await {
                if write.send(Frame::text(text)).await.is_err() {
                    break;
                }
            }
            let _ = write.close().await;
        });
        let mut ping = tokio::time::interval(ws.heartbeat);
        ping.tick().await;
        let silence = ws.heartbeat.saturating_mul(2);
        let ended = loop {
            tokio::select! {
                () = self.inner.stop.cancelled() => break Ended::Stopped,
                _ = ping.tick() => {
                    let ping = json!({ "cmd": "ping", "headers": { "req_id": req_id("ping") } });
                    let _ = tx.send(ping.to_string());
                }
                frame = tokio::time::timeout(silence, read.next()) => match frame {
                    Err(_) => break Ended::Lost(format!("nothing heard for {silence:?}")),
                    Ok(None | Some(Ok(Frame::Close(_)))) => break Ended::Lost("closed by WeCom".to_owned()),
                    Ok(Some(Err(e))) => break Ended::Lost(e.to_string()),
                    Ok(Some(Ok(Frame::Text(text)))) => self.ws_frame(&text),
                    Ok(Some(Ok(_))) => {}
                },
            }
        };
        ai.outlets.state().tx = None;
        drop(tx);
        writer.abort();
        ended
    }

    /// One frame from WeCom.
    fn ws_frame(&self, text: &str) {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            self.inner.metrics.count_ai("rejected");
            tracing::warn!("an AI-bot frame that is not JSON");
            return;
        };
        let req_id = v
            .pointer("/headers/req_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match v.get("cmd").and_then(Value::as_str) {
            Some("aibot_msg_callback" | "aibot_event_callback") => {
                let body = v.get("body").map(Value::to_string).unwrap_or_default();
                match AiBotMessage::from_json(&body) {
                    Ok(message) if !message.msgid.is_empty() => {
                        let bot = self.clone();
                        let span = tracing::info_span!("aibot_ws", msgid = %message.msgid);
                        self.inner.tracker.spawn(
                            async move { bot.ws_message(message, req_id).await }.instrument(span),
                        );
                    }
                    Ok(_) | Err(_) => {
                        self.inner.metrics.count_ai("rejected");
                        tracing::warn!("an AI-bot callback frame without a readable message");
                    }
                }
            }
            // An acknowledgement of one of our frames.
            None | Some("") => {
                let errcode = v.get("errcode").and_then(Value::as_i64).unwrap_or(0);
                if errcode != 0 {
                    self.inner.metrics.count_ai("ws_refused");
                    let errmsg = v.get("errmsg").and_then(Value::as_str).unwrap_or_default();
                    tracing::warn!(req_id, errcode, errmsg, "WeCom refused an AI-bot frame");
                }
            }
            Some(other) => tracing::debug!(cmd = other, "AI-bot frame ignored"),
        }
    }

    /// One message over the WebSocket, exactly once by its `msgid`.
    async fn ws_message(&self, message: AiBotMessage, req_id: String) {
        let Some(ai) = self.inner.aibot.as_ref() else {
            return;
        };
        if let AiBotBody::Event(AiBotEvent::Disconnected) = message.body {
            tracing::warn!("WeCom says another connection took this bot over");
            return;
        }
        let msgid = message.msgid.clone();
        ai.outlets.bind(&msgid, &req_id);
        let cmd = reply_cmd(&message);
        // A stream already begun for it (a re-delivery after a reconnect): go on with it.
        if cmd == "aibot_respond_msg"
            && let Ok(Some(state)) = ai.streams.get(&self.stream_key(&msgid)).await
        {
            self.inner.metrics.count_ai("ws_resumed");
            ai.outlets.push_stream(&msgid, &state);
            if state.finish {
                ai.outlets.unbind(&msgid);
            }
            return;
        }
        let key = format!("{}:aibot:{msgid}", self.inner.app);
        let budget = self.inner.budget;
        let claim = self
            .claim_by(&key, std::time::Instant::now() + budget)
            .await;
        match claim {
            Claim::Fresh => {}
            Claim::Done(Answered::Passive(bytes)) => {
                self.inner.metrics.count_ai("redelivered");
                ai.outlets
                    .send(frame(cmd, &req_id, &String::from_utf8_lossy(&bytes)));
                ai.outlets.unbind(&msgid);
                return;
            }
            Claim::Done(_) | Claim::InFlight => {
                self.inner.metrics.count_ai("duplicate");
                return;
            }
        }
        match self
            .ai_first_reply(ai, Arc::new(message), budget, Outlet::Ws)
            .await
        {
            Ok(Some(reply)) => {
                let json = reply.to_json();
                let req_id = ai.outlets.req_id_of(&msgid).unwrap_or(req_id);
                ai.outlets.send(frame(cmd, &req_id, &json));
                let open_stream = matches!(&reply, AiBotReply::Stream(s) if !s.finish);
                if !open_stream {
                    self.complete(&key, &Answered::Passive(bytes::Bytes::from(json)))
                        .await;
                    ai.outlets.unbind(&msgid);
                }
            }
            Ok(None) => {
                self.complete(&key, &Answered::Nothing).await;
                ai.outlets.unbind(&msgid);
            }
            Err(e) => {
                tracing::warn!(error = %e, "AI-bot handler failed: answered on WeCom's re-delivery");
                self.inner.metrics.count_ai("handler_failed");
                self.release(&key).await;
            }
        }
    }
}

/// Dials and subscribes: the connection's two halves.
async fn dial(ws: &WsSettings) -> Result<(Sink, Source), Ended> {
    let connector = if ws.url.starts_with("wss://") {
        match wecom_sdk_client::tls_client_config() {
            Ok(tls) => Some(tokio_tungstenite::Connector::Rustls(Arc::new(tls))),
            Err(reason) => {
                return Err(Ended::Fatal(AiBotError::Url {
                    url: ws.url.clone(),
                    reason,
                }));
            }
        }
    } else if ws.url.starts_with("ws://") {
        None
    } else {
        return Err(Ended::Fatal(AiBotError::Url {
            url: ws.url.clone(),
            reason: "not a ws:// or wss:// URL".to_owned(),
        }));
    };
    let dial =
        tokio_tungstenite::connect_async_tls_with_config(ws.url.as_str(), None, false, connector);
    let (socket, _) = match tokio::time::timeout(CONNECT_TIMEOUT, dial).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(Ended::Lost(format!("dial: {e}"))),
        Err(_) => return Err(Ended::Lost("dial: timed out".to_owned())),
    };
    let (mut write, mut read) = socket.split();
    let subscribe_id = req_id("subscribe");
    let subscribe = json!({
        "cmd": "aibot_subscribe",
        "headers": { "req_id": subscribe_id },
        "body": { "bot_id": ws.bot_id, "secret": ws.secret },
    });
    if let Err(e) = write.send(Frame::text(subscribe.to_string())).await {
        return Err(Ended::Lost(format!("subscribe: {e}")));
    }
    let acked = tokio::time::timeout(CONNECT_TIMEOUT, async {
        while let Some(frame) = read.next().await {
            let Ok(Frame::Text(text)) = frame else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if v.pointer("/headers/req_id").and_then(Value::as_str) == Some(&subscribe_id) {
                return Some(v);
            }
        }
        None
    })
    .await;
    match acked {
        Ok(Some(v)) => {
            let errcode = v.get("errcode").and_then(Value::as_i64).unwrap_or(0);
            if errcode != 0 {
                let errmsg = v.get("errmsg").and_then(Value::as_str).unwrap_or_default();
                return Err(Ended::Fatal(AiBotError::Subscribe {
                    errcode,
                    errmsg: errmsg.to_owned(),
                }));
            }
            Ok((write, read))
        }
        Ok(None) => Err(Ended::Lost(
            "closed before the subscription was acknowledged".to_owned(),
        )),
        Err(_) => Err(Ended::Lost("no subscription acknowledgement".to_owned())),
    }
}

/// The command that answers `message`.
fn reply_cmd(message: &AiBotMessage) -> &'static str {
    match message.body {
        AiBotBody::Event(AiBotEvent::EnterChat) => "aibot_respond_welcome_msg",
        AiBotBody::Event(AiBotEvent::TemplateCard { .. }) => "aibot_respond_update_msg",
        _ => "aibot_respond_msg",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter_in_the_upper_half() {
        let range = (Duration::from_millis(100), Duration::from_secs(1));
        for attempt in 0..30 {
            let base = Duration::from_millis(100 * (1u64 << attempt.min(4))).min(range.1);
            let d = backoff(attempt, range);
            assert!(d >= base / 2 && d <= base, "{attempt}: {d:?} vs {base:?}");
        }
        assert_ne!(random(), random());
    }

    #[test]
    fn frames_carry_the_req_id_and_the_body() {
        let f: Value =
            serde_json::from_str(&frame("aibot_respond_msg", "r1", r#"{"msgtype":"stream"}"#))
                .unwrap();
        assert_eq!(f["headers"]["req_id"], "r1");
        assert_eq!(f["body"]["msgtype"], "stream");
    }
}
