//! WeCom's AI-bot (智能机器人) side on loopback: [`FakeAiBot`] sends callbacks and
//! polls streams like WeCom ([`AiBotCaller`]), takes `response_url` posts, hosts
//! encrypted media with WeCom's five-minute expiry, and serves the long connection
//! (subscribe, ping, `aibot_msg_callback`, `aibot_respond_*`), with a command that
//! drops the connection to test reconnects.

mod caller;
mod message;
mod ws;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use wecom_sdk_crypto::MediaKey;

pub use caller::{AiBotCaller, AiBotConversation};
pub use message::{AiBotInbound, MixedPart};
pub use ws::WsAnswer;

use crate::SimError;

/// How long a `response_url` works.
const RESPONSE_URL_TTL: Duration = Duration::from_secs(3600);
/// How long a media URL works.
const MEDIA_TTL: Duration = Duration::from_secs(300);

/// The bot WeCom's AI-bot side talks to.
#[derive(Debug, Clone)]
pub struct AiBotSimConfig {
    /// `aibotid` written into messages.
    pub aibotid: String,
    /// The long connection's bot id.
    pub bot_id: String,
    /// The long connection's secret.
    pub secret: String,
}

impl AiBotSimConfig {
    /// A bot with this id (also its `aibotid`) and secret.
    pub fn new(bot_id: &str, secret: &str) -> Self {
        Self {
            aibotid: bot_id.to_owned(),
            bot_id: bot_id.to_owned(),
            secret: secret.to_owned(),
        }
    }
}

/// One `response_url` post.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponsePost {
    /// The message whose `response_url` it used.
    pub msgid: String,
    /// The JSON posted.
    pub body: Value,
}

impl ResponsePost {
    /// The text posted (`markdown.content` or `text.content`).
    pub fn text(&self) -> Option<String> {
        let kind = self.body.get("msgtype")?.as_str()?;
        Some(self.body.get(kind)?.get("content")?.as_str()?.to_owned())
    }
}

#[derive(Debug, Default)]
pub(crate) struct AiState {
    /// Fake time ahead of the real clock.
    offset: Duration,
    next_id: u64,
    /// `response_url` codes: msgid, issued at, used.
    responses: HashMap<String, (SystemTime, bool)>,
    posts: Vec<ResponsePost>,
    /// Hosted media: encrypted bytes, issued at.
    media: HashMap<String, (Vec<u8>, SystemTime)>,
    pub(crate) ws: ws::WsState,
}

impl AiState {
    fn now(&self) -> SystemTime {
        SystemTime::now() + self.offset
    }
}

pub(crate) struct AiShared {
    pub(crate) config: AiBotSimConfig,
    pub(crate) state: Mutex<AiState>,
    /// Woken when the WebSocket side records something.
    pub(crate) changed: Notify,
    /// Sends to the connected client's task.
    pub(crate) conn: Mutex<Option<mpsc::UnboundedSender<ws::ToClient>>>,
    http_base: String,
}

impl AiShared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, AiState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fills in what WeCom fills in: `msgid`, `create_time`, `response_url`.
    pub(crate) fn stamp(&self, inbound: &AiBotInbound) -> AiBotInbound {
        let mut m = inbound.clone();
        let mut state = self.lock();
        if m.msgid.is_empty() {
            state.next_id += 1;
            m.msgid = format!("sim-ai-{}-{}", unix(state.now()), state.next_id);
        }
        if m.create_time == 0 {
            m.create_time = i64::try_from(unix(state.now())).unwrap_or(0);
        }
        if m.response_url.is_empty() && m.msgtype != "stream" {
            let now = state.now();
            state.responses.insert(m.msgid.clone(), (now, false));
            m.response_url = format!("{}/aibot/response/{}", self.http_base, m.msgid);
        }
        m
    }
}

fn unix(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// WeCom's AI-bot side, on loopback.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use wecom_sdk_sim::{AiBotSimConfig, FakeAiBot};
/// let wecom = FakeAiBot::start(AiBotSimConfig::new("aib_1", "s3cret")).await?;
/// println!("long connection at {}", wecom.ws_url());
/// assert!(wecom.response_posts().is_empty());
/// # Ok(()) }
/// ```
pub struct FakeAiBot {
    shared: Arc<AiShared>,
    ws_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeAiBot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAiBot")
            .field("bot_id", &self.shared.config.bot_id)
            .field("ws", &self.ws_addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeAiBot {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl FakeAiBot {
    /// Starts the HTTP side (`response_url`, media) and the WebSocket side on
    /// 127.0.0.1, each on a free port.
    ///
    /// # Errors
    /// [`SimError::Io`] when a port cannot be bound.
    pub async fn start(config: AiBotSimConfig) -> Result<Self, SimError> {
        let http = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| SimError::io("bind the AI-bot HTTP side", e))?;
        let ws = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| SimError::io("bind the AI-bot WebSocket side", e))?;
        let http_addr = http
            .local_addr()
            .map_err(|e| SimError::io("read the HTTP address", e))?;
        let ws_addr = ws
            .local_addr()
            .map_err(|e| SimError::io("read the WebSocket address", e))?;
        let shared = Arc::new(AiShared {
            config,
            state: Mutex::new(AiState::default()),
            changed: Notify::new(),
            conn: Mutex::new(None),
            http_base: format!("http://{http_addr}"),
        });
        let router = Router::new()
            .route("/aibot/response/{code}", post(response_url))
            .route("/aibot/media/{id}", get(media))
            .with_state(Arc::clone(&shared));
        let tasks = vec![
            tokio::spawn(async move {
                let _ = axum::serve(http, router).await;
            }),
            tokio::spawn(ws::serve(ws, Arc::clone(&shared))),
        ];
        Ok(Self {
            shared,
            ws_addr,
            tasks,
        })
    }

    /// The long connection's URL (`ws://127.0.0.1:…`), for `AiBot::url`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.ws_addr)
    }

    /// A sender of callbacks to a bot's AI-bot URL (callback mode).
    ///
    /// # Errors
    /// [`SimError::Config`] for a bad URL, [`SimError::Crypto`] for a bad key.
    pub fn caller(&self, url: &str, token: &str, aes_key: &str) -> Result<AiBotCaller, SimError> {
        AiBotCaller::new(Arc::clone(&self.shared), url, token, aes_key)
    }

    /// Every `response_url` post accepted, in order.
    pub fn response_posts(&self) -> Vec<ResponsePost> {
        self.shared.lock().posts.clone()
    }

    /// Hosts `plain` encrypted with `key` (the bot's EncodingAESKey in callback mode, the
    /// file's `aeskey` over the WebSocket): the URL to put in a message. It answers 403
    /// after five minutes (of the simulator's clock).
    ///
    /// # Errors
    /// [`SimError::Crypto`] for a key that is not base64 of 32 bytes.
    pub fn host_media(&self, plain: &[u8], key: &str) -> Result<String, SimError> {
        let sealed = MediaKey::from_base64(key)?.encrypt(plain);
        let mut state = self.shared.lock();
        state.next_id += 1;
        let id = format!("m{}", state.next_id);
        let now = state.now();
        state.media.insert(id.clone(), (sealed, now));
        Ok(format!("{}/aibot/media/{id}", self.shared.http_base))
    }

    /// Moves the simulator's clock forward (media and `response_url` expiry).
    pub fn advance(&self, by: Duration) {
        self.shared.lock().offset += by;
    }

    /// The simulator's clock, unix seconds (what `create_time` gets).
    pub fn now_unix(&self) -> i64 {
        i64::try_from(unix(self.shared.lock().now())).unwrap_or(0)
    }

    /// Delivers `inbound` over the long connection (`aibot_msg_callback`, or
    /// `aibot_event_callback` for events): its `msgid`. Waits up to 5 s for a
    /// subscribed connection; a message not answered before the connection drops is
    /// delivered again (new `req_id`, same `msgid`) after the next subscription.
    ///
    /// # Errors
    /// [`SimError::Config`] when no bot subscribed within 5 s.
    pub async fn ws_send(&self, inbound: &AiBotInbound) -> Result<String, SimError> {
        let m = self.shared.stamp(inbound);
        ws::deliver(&self.shared, &m, Duration::from_secs(5)).await?;
        Ok(m.msgid)
    }

    /// The answer to `msgid` over the long connection, once it finished (a final
    /// stream frame, a welcome or a card update) or `timeout` passed.
    pub async fn ws_answer(&self, msgid: &str, timeout: Duration) -> Option<WsAnswer> {
        ws::answer(&self.shared, msgid, timeout).await
    }

    /// Drops the current connection abruptly, as a network failure would.
    pub fn ws_drop(&self) {
        if let Some(tx) = self
            .shared
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = tx.send(ws::ToClient::Drop);
        }
    }

    /// How many times a bot subscribed (1 + reconnects).
    pub fn ws_subscriptions(&self) -> usize {
        self.shared.lock().ws.subscriptions
    }

    /// Waits until at least `n` subscriptions happened, up to `timeout`.
    pub async fn wait_subscriptions(&self, n: usize, timeout: Duration) -> bool {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            if self.ws_subscriptions() >= n {
                return true;
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                return self.ws_subscriptions() >= n;
            }
        }
    }
}

async fn response_url(
    State(shared): State<Arc<AiShared>>,
    Path(code): Path<String>,
    body: String,
) -> Response {
    let mut state = shared.lock();
    let now = state.now();
    let answer = match state.responses.get_mut(&code) {
        None => json!({ "errcode": 40058, "errmsg": "invalid response_url" }),
        Some((_, true)) => {
            json!({ "errcode": 40058, "errmsg": "response_url already used (it is single use)" })
        }
        Some((issued, _)) if now.duration_since(*issued).unwrap_or_default() > RESPONSE_URL_TTL => {
            json!({ "errcode": 40058, "errmsg": "response_url expired (1 hour)" })
        }
        Some((_, used)) => match serde_json::from_str::<Value>(&body) {
            Ok(v) if v.get("msgtype").is_some() => {
                *used = true;
                state.posts.push(ResponsePost {
                    msgid: code,
                    body: v,
                });
                json!({ "errcode": 0, "errmsg": "ok" })
            }
            _ => json!({ "errcode": 40058, "errmsg": "invalid parameter: not a message JSON" }),
        },
    };
    axum::Json(answer).into_response()
}

async fn media(State(shared): State<Arc<AiShared>>, Path(id): Path<String>) -> Response {
    let state = shared.lock();
    let now = state.now();
    match state.media.get(&id) {
        Some((bytes, issued)) if now.duration_since(*issued).unwrap_or_default() <= MEDIA_TTL => {
            bytes.clone().into_response()
        }
        Some(_) => (StatusCode::FORBIDDEN, "the media URL expired").into_response(),
        None => (StatusCode::NOT_FOUND, "no such media").into_response(),
    }
}
