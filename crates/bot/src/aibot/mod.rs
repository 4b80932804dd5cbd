//! The AI-bot channel (智能机器人): the bot a customer @-mentions in a group chat (or
//! talks to in a single chat). Messages arrive as encrypted JSON callbacks
//! ([`Bot::handle_ai_bot`]) or over WeCom's WebSocket long connection
//! ([`Bot::run_ai_bot`]); either way they run the app pipeline (profile → handlers →
//! rules → handlers) and are answered as streams: the first answer carries a stream id,
//! WeCom's refresh polls (or, over the WebSocket, our pushed frames) get the cumulative
//! text until `finish`.

mod answer;
mod media;
mod produce;
mod stream;
mod ws;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument as _;

use wecom_sdk_crypto::{CallbackCrypto, ReceiveIdPolicy};
use wecom_sdk_message::aibot::{AiBotBody, AiBotMessage, AiBotReply, StreamReply};

pub use media::{DEFAULT_MAX_MEDIA, MEDIA_URL_LIFETIME, MediaError, MediaFetcher};
pub use stream::{
    MemoryStreamStore, StreamPiece, StreamState, StreamStore, StreamWriter, TextStream,
};
pub use ws::{AiBotError, DEFAULT_WS_URL};

use crate::Bot;
use crate::bot::Query;
use crate::dedup::{Answered, Claim};
use crate::error::{BuildError, Rejection};
use crate::metrics::Metrics;
use crate::request::{CallbackRequest, CallbackResponse, Method};

/// The AI-bot callback path by default.
pub const DEFAULT_AI_BOT_PATH: &str = "/wecom/aibot";
/// How long WeCom keeps polling a stream by default (about six minutes); after it the
/// rest of an answer goes through the message's `response_url`.
pub const DEFAULT_STREAM_WINDOW: Duration = Duration::from_secs(5 * 60 + 30);

/// How the AI bot reaches WeCom, and its stream settings: give it to
/// [`BotBuilder::ai_bot`](crate::BotBuilder::ai_bot). Handlers and rules are the same
/// for both transports.
///
/// ```
/// use std::time::Duration;
/// use wecom_sdk_bot::AiBot;
/// // A public URL: WeCom POSTs encrypted JSON to /wecom/aibot.
/// let callback = AiBot::callback("hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt");
/// // No public URL: the bot dials WeCom's WebSocket.
/// let ws = AiBot::websocket("aib_1234", "bot-secret").heartbeat(Duration::from_secs(30));
/// # let _ = (callback, ws);
/// ```
#[must_use]
pub struct AiBot {
    transport: Transport,
    path: String,
    window: Duration,
    flush: Duration,
    streams: Option<Arc<dyn StreamStore>>,
    max_media: usize,
}

impl std::fmt::Debug for AiBot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AiBot")
            .field("transport", &self.transport)
            .field("path", &self.path)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// Callback or WebSocket, with their settings.
pub(crate) enum Transport {
    Callback { token: String, aes_key: String },
    WebSocket(ws::WsSettings),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Callback { .. } => f.write_str("Callback"),
            Self::WebSocket(ws) => f
                .debug_struct("WebSocket")
                .field("bot_id", &ws.bot_id)
                .field("url", &ws.url)
                .finish_non_exhaustive(),
        }
    }
}

impl AiBot {
    fn with(transport: Transport) -> Self {
        Self {
            transport,
            path: DEFAULT_AI_BOT_PATH.to_owned(),
            window: DEFAULT_STREAM_WINDOW,
            flush: Duration::from_millis(200),
            streams: None,
            max_media: DEFAULT_MAX_MEDIA,
        }
    }

    /// Callback mode: the Token and EncodingAESKey of the bot's "接收消息" settings
    /// (the receive id is empty). [`Bot::router`] serves it at `/wecom/aibot`.
    pub fn callback(token: impl Into<String>, encoding_aes_key: impl Into<String>) -> Self {
        Self::with(Transport::Callback {
            token: token.into(),
            aes_key: encoding_aes_key.into(),
        })
    }

    /// Long-connection mode: the bot id and secret of the bot's "长连接" settings; run
    /// the connection with [`Bot::run_ai_bot`].
    pub fn websocket(bot_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::with(Transport::WebSocket(ws::WsSettings::new(
            bot_id.into(),
            secret.into(),
        )))
    }

    /// The WebSocket URL (default `wss://openws.work.weixin.qq.com`; the simulator's
    /// for tests).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        if let Transport::WebSocket(ws) = &mut self.transport {
            ws.url = url.into();
        }
        self
    }

    /// How often the connection is pinged (default 30 s); two silent intervals count as
    /// a dead connection.
    pub fn heartbeat(mut self, every: Duration) -> Self {
        if let Transport::WebSocket(ws) = &mut self.transport {
            ws.heartbeat = every;
        }
        self
    }

    /// Reconnect delays: from `first`, doubling up to `max`, each with up to half of it
    /// as random jitter (default 1 s to 60 s).
    pub fn reconnect(mut self, first: Duration, max: Duration) -> Self {
        if let Transport::WebSocket(ws) = &mut self.transport {
            ws.backoff = (first, max.max(first));
        }
        self
    }

    /// The callback path of [`Bot::router`] (default `/wecom/aibot`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// How long WeCom polls a stream (default 5.5 minutes, inside WeCom's ~6): an
    /// answer still incomplete then is finished through the message's `response_url`.
    pub fn stream_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// How often a growing stream's state is written (default 200 ms).
    pub fn stream_flush(mut self, every: Duration) -> Self {
        self.flush = every;
        self
    }

    /// Where stream states live (default: this process's memory; share a
    /// [`RedisStreamStore`](crate::RedisStreamStore) when several instances serve the
    /// bot, since a poll may reach another instance than the one producing).
    pub fn streams(mut self, store: Arc<dyn StreamStore>) -> Self {
        self.streams = Some(store);
        self
    }

    /// The largest image or file [`MediaFetcher`] downloads (default 20 MiB).
    pub fn max_media(mut self, bytes: usize) -> Self {
        self.max_media = bytes;
        self
    }

    /// The channel, checked.
    pub(crate) fn build(
        self,
        clock: &Arc<dyn crate::Clock>,
        http: reqwest::Client,
    ) -> Result<AiBotChannel, BuildError> {
        if !self.path.starts_with('/') {
            return Err(BuildError::Invalid {
                name: "ai_bot path",
                reason: format!("{:?} must start with '/'", self.path),
            });
        }
        let (crypto, ws) = match self.transport {
            Transport::Callback { token, aes_key } => {
                let crypto = CallbackCrypto::new(token, &aes_key, "")?
                    .receive_id_policy(ReceiveIdPolicy::Exact);
                (Some(crypto), None)
            }
            Transport::WebSocket(ws) => {
                if ws.bot_id.is_empty() || ws.secret.is_empty() {
                    return Err(BuildError::Missing("the AI bot's bot id and secret"));
                }
                (None, Some(ws))
            }
        };
        let media = MediaFetcher::new(
            http.clone(),
            crypto.as_ref().map(CallbackCrypto::media_key),
            self.max_media,
            Arc::clone(clock),
        );
        Ok(AiBotChannel {
            crypto,
            ws,
            path: self.path,
            window: self.window,
            flush: self.flush,
            streams: self
                .streams
                .unwrap_or_else(|| Arc::new(MemoryStreamStore::default())),
            media,
            http,
            outlets: ws::Outlets::default(),
        })
    }
}

/// The configured AI-bot channel of a bot.
pub(crate) struct AiBotChannel {
    crypto: Option<CallbackCrypto>,
    ws: Option<ws::WsSettings>,
    pub(crate) path: String,
    window: Duration,
    flush: Duration,
    streams: Arc<dyn StreamStore>,
    media: MediaFetcher,
    http: reqwest::Client,
    outlets: ws::Outlets,
}

impl AiBotChannel {
    /// Whether WeCom POSTs to this bot (callback mode).
    pub(crate) fn serves_callbacks(&self) -> bool {
        self.crypto.is_some()
    }

    /// How long stream states are kept: the window and an hour for `response_url`.
    fn stream_ttl(&self) -> Duration {
        self.window + Duration::from_secs(3600)
    }
}

/// The `aibot` channel of `bot`, or a rejection when it has none.
fn channel(bot: &Bot) -> Result<&AiBotChannel, Rejection> {
    bot.inner
        .aibot
        .as_ref()
        .ok_or(Rejection::NotServed("AI-bot callbacks (it has no AI bot)"))
}

/// The callback crypto, or a rejection for a bot on the long connection.
fn callback_crypto(ai: &AiBotChannel) -> Result<&CallbackCrypto, Rejection> {
    ai.crypto.as_ref().ok_or(Rejection::NotServed(
        "AI-bot callbacks (its AI bot uses the long connection)",
    ))
}

impl Bot {
    /// Answers one AI-bot callback (callback mode): GET verifies the URL, POST carries a
    /// message, an event or a stream-refresh poll. Never panics and never answers 5xx
    /// for bad input.
    pub async fn handle_ai_bot(&self, request: CallbackRequest) -> CallbackResponse {
        let started = Instant::now();
        let answer = match request.method {
            Method::Get => self.ai_verify(&request),
            Method::Post => self.ai_post(&request, started).await,
            Method::Other => Err(Rejection::Method),
        };
        self.inner.metrics.latency(started.elapsed());
        answer.unwrap_or_else(|rejection| {
            tracing::warn!(app = %self.inner.app, reason = rejection.reason(), "AI-bot callback refused: {rejection}");
            self.inner.metrics.count_ai("rejected");
            CallbackResponse::text(rejection.status(), rejection.to_string())
        })
    }

    fn ai_verify(&self, request: &CallbackRequest) -> Result<CallbackResponse, Rejection> {
        let plain = Query::echo(request, callback_crypto(channel(self)?)?)?;
        self.inner.metrics.count_ai("verified");
        Ok(CallbackResponse::text(200, plain))
    }

    async fn ai_post(
        &self,
        request: &CallbackRequest,
        started: Instant,
    ) -> Result<CallbackResponse, Rejection> {
        let ai = channel(self)?;
        let crypto = callback_crypto(ai)?;
        let (q, body) = Query::signed_body(request, self.inner.max_body)?;
        let plain = crypto
            .decrypt_json_message(&q.signature, &q.timestamp, &q.nonce, body)
            .map_err(|e| Rejection::from_crypto(&e))?;
        let message = AiBotMessage::from_json(&plain)
            .map_err(|e| Rejection::Malformed(format!("AI-bot JSON: {e}")))?;
        let seal = |reply: &AiBotReply| {
            crypto
                .encrypt_json_reply(&reply.to_json(), &q.timestamp, &q.nonce)
                .map(bytes::Bytes::from)
                .map_err(|e| {
                    tracing::warn!(error = %e.with_code(), "AI-bot reply not encryptable");
                })
        };
        if let AiBotBody::StreamRefresh { id } = &message.body {
            // A poll reads the state; it is never deduplicated (each answers "now").
            let reply = self.ai_poll(ai, id).await;
            return Ok(match reply.as_ref().map(&seal) {
                Some(Ok(bytes)) => CallbackResponse::json(bytes),
                _ => CallbackResponse::empty(),
            });
        }
        if message.msgid.is_empty() {
            return Err(Rejection::Malformed(
                "an AI-bot message without msgid".into(),
            ));
        }
        let key = format!("{}:aibot:{}", self.inner.app, message.msgid);
        let span = tracing::info_span!("aibot", app = %self.inner.app, key = %key);
        Ok(self
            .ai_message(ai, message, key, &seal, started)
            .instrument(span)
            .await)
    }

    /// A callback message (not a poll): dedup, then the first reply within the budget.
    async fn ai_message(
        &self,
        ai: &AiBotChannel,
        message: AiBotMessage,
        key: String,
        seal: &(dyn Fn(&AiBotReply) -> Result<bytes::Bytes, ()> + Sync),
        started: Instant,
    ) -> CallbackResponse {
        let claim = self.claim_by(&key, started + self.inner.budget).await;
        match claim {
            Claim::Fresh => {}
            Claim::Done(Answered::Passive(bytes)) => {
                self.inner.metrics.count_ai("redelivered");
                return CallbackResponse::json(bytes);
            }
            Claim::Done(_) | Claim::InFlight => {
                self.inner.metrics.count_ai("duplicate");
                return CallbackResponse::empty();
            }
        }
        let remaining = self.inner.budget.saturating_sub(started.elapsed());
        let first = self
            .ai_first_reply(ai, Arc::new(message), remaining, produce::Outlet::Store)
            .await;
        match first {
            Ok(Some(reply)) => {
                if let Ok(bytes) = seal(&reply) {
                    self.complete(&key, &Answered::Passive(bytes.clone())).await;
                    return CallbackResponse::json(bytes);
                }
                self.complete(&key, &Answered::Nothing).await;
                CallbackResponse::empty()
            }
            Ok(None) => {
                self.complete(&key, &Answered::Nothing).await;
                CallbackResponse::empty()
            }
            Err(e) => {
                tracing::warn!(error = %e, "AI-bot handler failed: the claim is released for WeCom's re-delivery");
                self.inner.metrics.count_ai("handler_failed");
                self.release(&key).await;
                CallbackResponse::text(500, "handler failed; WeCom will re-deliver")
            }
        }
    }

    /// The state of stream `id` for WeCom's refresh poll (`None`: unknown or expired).
    async fn ai_poll(&self, ai: &AiBotChannel, id: &str) -> Option<AiBotReply> {
        self.inner.metrics.count_ai("stream_polled");
        match ai.streams.get(&self.stream_key(id)).await {
            Ok(Some(state)) => Some(AiBotReply::Stream(stream_reply(id, &state))),
            Ok(None) => {
                self.inner.metrics.count_ai("stream_unknown");
                tracing::info!(stream = id, "a poll for an unknown or expired stream");
                None
            }
            Err(e) => {
                Metrics::incr(&self.inner.metrics.store_errors);
                tracing::warn!(stream = id, error = %e, "stream store failed: the poll gets no answer (WeCom polls again)");
                None
            }
        }
    }

    /// The store key of stream `id` (stream ids are message ids: one answer each).
    pub(crate) fn stream_key(&self, id: &str) -> String {
        format!("{}:{id}", self.inner.app)
    }
}

/// The reply frame of a stream state.
pub(crate) fn stream_reply(id: &str, state: &StreamState) -> StreamReply {
    let mut reply = StreamReply::new(id, state.content.clone(), state.finish);
    if state.finish {
        reply.msg_item = state
            .images
            .iter()
            .map(|(base64, md5)| wecom_sdk_message::aibot::StreamImage {
                base64: base64.clone(),
                md5: md5.clone(),
            })
            .collect();
    }
    reply
}
