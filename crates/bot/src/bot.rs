//! [`Bot`] and its builder: one app's callback endpoint, framework-free.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use futures_util::FutureExt as _;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;
use wecom_sdk_client::api::kf::{CursorStore, MemoryCursorStore};
use wecom_sdk_client::{Client, WebhookClient};
use wecom_sdk_crypto::CallbackCrypto;
use wecom_sdk_matcher::Engine;
use wecom_sdk_message::callback::Message;

use crate::actions::{Actions, EscalationHook};
use crate::aibot::{AiBot, AiBotChannel};
use crate::conversation::{ConversationStore, MemoryConversationStore};
use crate::dedup::{Answered, Claim, DedupStore, MemoryDedupStore};
use crate::deliver::MediaCache;
use crate::error::{BuildError, Rejection};
use crate::event_log::EventSink;
use crate::handler::Handler;
use crate::kf::KfChannel;
use crate::metrics::Metrics;
use crate::pipeline::Decision;
use crate::profile::{ProfileCache, ProfileProvider};
use crate::request::{CallbackRequest, CallbackResponse, Method};
use crate::{Clock, SystemClock};

/// The passive-reply budget by default: an answer ready within it goes back in the
/// HTTP response; a later one through the active API (WeCom waits 5 s).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(3);
/// How long an in-flight claim holds by default (a crashed attempt frees its message
/// after this).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// How long a done record is kept by default: longer than WeCom's re-delivery span.
pub const DEFAULT_DONE_TTL: Duration = Duration::from_secs(15 * 60);
/// The largest callback body accepted by default (WeCom's are a few KB).
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;
/// The default callback path.
pub const DEFAULT_PATH: &str = "/wecom/callback";

/// One app's auto-reply bot: verifies and decrypts callbacks, dedups them, matches
/// rules and handlers, and answers passively or through the active API.
///
/// `Bot` is cheap to clone (one shared inside). [`handle`](Self::handle) is the whole
/// endpoint; [`router`](Self::router) (feature `axum`) mounts it.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use wecom_sdk_bot::{Bot, CallbackRequest};
/// use wecom_sdk_matcher::Engine;
/// let bot = Bot::builder()
///     .callback("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")
///     .engine(Engine::from_path("rules.toml")?)
///     .build()?;
/// let answer = bot.handle(CallbackRequest::post("msg_signature=…&timestamp=…&nonce=…", "<xml>…</xml>")).await;
/// assert!(answer.status < 500);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Bot {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bot")
            .field("app", &self.inner.app)
            .field("corp_id", &self.inner.corp_id)
            .field("path", &self.inner.path)
            .field("budget", &self.inner.budget)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) app: String,
    pub(crate) corp_id: String,
    /// The app callback's crypto (`None` for a bot that serves only the AI bot).
    pub(crate) crypto: Option<CallbackCrypto>,
    /// The AI-bot channel (智能机器人).
    pub(crate) aibot: Option<AiBotChannel>,
    /// Tracked links (the `/l/{code}` redirect route).
    pub(crate) links: Option<crate::links::Links>,
    /// A/B counts shared by every instance.
    #[cfg(feature = "redis")]
    pub(crate) variants: Option<crate::RedisVariantStore>,
    pub(crate) engine: Arc<Engine>,
    pub(crate) client: Option<Client>,
    /// The 微信客服 channel (with a client).
    pub(crate) kf: Option<KfChannel>,
    /// The conversation step each customer is in, by channel and customer.
    pub(crate) conversations: Arc<dyn ConversationStore>,
    /// Cancelled by [`Bot::shutdown`]: timers (conversation time-outs) stop.
    pub(crate) stop: CancellationToken,
    shared_dedup: Option<Arc<dyn DedupStore>>,
    local_dedup: MemoryDedupStore,
    outage: AtomicBool,
    /// While the shared store is down: when (ms after `epoch`) to try it again.
    retry_shared_at: AtomicU64,
    epoch: Instant,
    pub(crate) profiles: Option<Arc<dyn ProfileProvider>>,
    pub(crate) profile_cache: ProfileCache,
    pub(crate) before: Vec<Arc<dyn Handler>>,
    pub(crate) after: Vec<Arc<dyn Handler>>,
    pub(crate) sink: Option<Arc<dyn EventSink>>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) budget: Duration,
    pub(crate) lease: Duration,
    done_ttl: Duration,
    pub(crate) max_body: usize,
    pub(crate) own_ids: Vec<String>,
    pub(crate) actions: Actions,
    pub(crate) media: MediaCache,
    pub(crate) media_dir: PathBuf,
    pub(crate) tracker: TaskTracker,
    pub(crate) path: String,
    pub(crate) metrics_path: Option<String>,
    _watcher: Option<notify::RecommendedWatcher>,
}

/// Builds a [`Bot`]: callback settings and an engine are required; everything else has
/// a default.
#[must_use]
pub struct BotBuilder {
    app: String,
    callback: Option<(String, String, String)>,
    engine: Option<Arc<Engine>>,
    client: Option<Client>,
    dedup: Option<Arc<dyn DedupStore>>,
    dedup_capacity: usize,
    profiles: Option<Arc<dyn ProfileProvider>>,
    profile_ttl: Duration,
    before: Vec<Arc<dyn Handler>>,
    after: Vec<Arc<dyn Handler>>,
    sink: Option<Arc<dyn EventSink>>,
    clock: Arc<dyn Clock>,
    budget: Duration,
    lease: Duration,
    done_ttl: Duration,
    max_body: usize,
    own_ids: Vec<String>,
    robot: Option<WebhookClient>,
    hook: Option<Arc<dyn EscalationHook>>,
    media_dir: Option<PathBuf>,
    path: String,
    metrics_path: Option<String>,
    replay_window: Option<Duration>,
    watch: Option<PathBuf>,
    kf_client: Option<Client>,
    kf_cursors: Option<Arc<dyn CursorStore>>,
    conversations: Option<Arc<dyn ConversationStore>>,
    aibot: Option<AiBot>,
    link_base: Option<String>,
    link_store: Option<Arc<dyn crate::links::LinkStore>>,
    link_ttl: Duration,
    #[cfg(feature = "redis")]
    variants: Option<crate::RedisVariantStore>,
}

impl std::fmt::Debug for BotBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotBuilder")
            .field("app", &self.app)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Bot {
    /// A builder with the defaults: app name `default`, path `/wecom/callback`, budget
    /// 3 s, in-memory dedup, no client (passive replies only), no profiles.
    pub fn builder() -> BotBuilder {
        BotBuilder {
            app: "default".to_owned(),
            callback: None,
            engine: None,
            client: None,
            dedup: None,
            dedup_capacity: crate::dedup::DEFAULT_DEDUP_CAPACITY,
            profiles: None,
            profile_ttl: Duration::from_secs(600),
            before: Vec::new(),
            after: Vec::new(),
            sink: None,
            clock: Arc::new(SystemClock),
            budget: DEFAULT_BUDGET,
            lease: DEFAULT_LEASE,
            done_ttl: DEFAULT_DONE_TTL,
            max_body: DEFAULT_MAX_BODY,
            own_ids: Vec::new(),
            robot: None,
            hook: None,
            media_dir: None,
            path: DEFAULT_PATH.to_owned(),
            metrics_path: None,
            replay_window: None,
            watch: None,
            kf_client: None,
            kf_cursors: None,
            conversations: None,
            aibot: None,
            link_base: None,
            link_store: None,
            link_ttl: crate::links::DEFAULT_LINK_TTL,
            #[cfg(feature = "redis")]
            variants: None,
        }
    }

    /// The app's name (its path segment in a [`MultiApp`](crate::MultiApp) router).
    pub fn app(&self) -> &str {
        &self.inner.app
    }

    /// The rule engine (reload it, read its statistics).
    pub fn engine(&self) -> &Arc<Engine> {
        &self.inner.engine
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Now by the bot's clock, Unix milliseconds (an event record's `at_ms`).
    pub(crate) fn now_ms(&self) -> i64 {
        i64::try_from(unix_ms(self.inner.clock.now())).unwrap_or(i64::MAX)
    }

    /// The callback path the router serves.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// Answers one callback request. Never panics and never answers 5xx for bad
    /// input: requests that are not WeCom's get a 4xx and a log line naming why.
    pub async fn handle(&self, request: CallbackRequest) -> CallbackResponse {
        let started = Instant::now();
        let answer = match request.method {
            Method::Get => self.verify(&request),
            Method::Post => self.post(&request, started).await,
            Method::Other => Err(Rejection::Method),
        };
        self.inner.metrics.latency(started.elapsed());
        match answer {
            Ok(response) => response,
            Err(rejection) => {
                tracing::warn!(app = %self.inner.app, reason = rejection.reason(), "callback refused: {rejection}");
                self.inner.metrics.outcome(match &rejection {
                    Rejection::Signature { .. } => "rejected_signature",
                    Rejection::TooLarge { .. } => "rejected_too_large",
                    Rejection::MissingQuery(_) => "rejected_query",
                    Rejection::Method => "rejected_method",
                    _ => "rejected_malformed",
                });
                CallbackResponse::text(rejection.status(), rejection.to_string())
            }
        }
    }

    /// Waits for in-flight work (slow handlers, active sends, actions) to finish and
    /// flushes the event log. Stop accepting requests first (axum's graceful shutdown).
    pub async fn shutdown(&self) {
        self.inner.stop.cancel();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
        if let Some(sink) = &self.inner.sink {
            sink.flush().await;
        }
    }

    /// The app callback's crypto; a bot built for the AI bot only refuses app callbacks.
    fn app_crypto(&self) -> Result<&CallbackCrypto, Rejection> {
        self.inner.crypto.as_ref().ok_or(Rejection::NotServed(
            "app callbacks (it has no callback settings)",
        ))
    }

    fn verify(&self, request: &CallbackRequest) -> Result<CallbackResponse, Rejection> {
        let plain = Query::echo(request, self.app_crypto()?)?;
        self.inner.metrics.outcome("verified");
        Ok(CallbackResponse::text(200, plain))
    }

    async fn post(
        &self,
        request: &CallbackRequest,
        started: Instant,
    ) -> Result<CallbackResponse, Rejection> {
        let inner = &self.inner;
        let (q, body) = Query::signed_body(request, inner.max_body)?;
        let plain = self
            .app_crypto()?
            .decrypt_message(&q.signature, &q.timestamp, &q.nonce, body)
            .map_err(|e| Rejection::from_crypto(&e))?;
        let message = Message::from_xml(&plain)
            .map_err(|e| Rejection::Malformed(format!("message XML: {e}")))?;
        let key = format!("{}:{}", inner.app, message.dedup_key());
        let span = tracing::info_span!("callback", app = %inner.app, key = %key);
        Ok(self.answer(message, key, q, started).instrument(span).await)
    }

    /// Dedup, then decide within the budget.
    async fn answer(
        &self,
        message: Message,
        key: String,
        q: Query,
        started: Instant,
    ) -> CallbackResponse {
        let inner = &self.inner;
        let claim = self.claim_by(&key, started + inner.budget).await;
        match claim {
            Claim::Fresh => {}
            Claim::Done(answered) => return self.replay(answered),
            Claim::InFlight => {
                inner.metrics.outcome("in_flight_elsewhere");
                return CallbackResponse::empty();
            }
        }
        let message = Arc::new(message);
        let bot = self.clone();
        let decided = Arc::clone(&message);
        // Decided on this task (no spawn, no hop to another worker) while it is within
        // the budget; past the budget the same future moves to a task of its own. A
        // panicking handler is caught: the claim is released, WeCom gets a 500.
        let mut work: Pin<Box<dyn Future<Output = Decided> + Send>> = Box::pin(
            AssertUnwindSafe(async move { bot.decide(&decided).await })
                .catch_unwind()
                .in_current_span(),
        );
        let remaining = inner.budget.saturating_sub(started.elapsed());
        match tokio::time::timeout(remaining, &mut work).await {
            Ok(Ok(Ok(decision))) => self.deliver_in_time(decision, &key, &q).await,
            Ok(Ok(Err(e))) => {
                self.failed(&key, &e.to_string()).await;
                CallbackResponse::text(500, "handler failed; WeCom will re-deliver")
            }
            Ok(Err(_panic)) => {
                self.failed(&key, "a handler panicked").await;
                CallbackResponse::text(500, "handler failed; WeCom will re-deliver")
            }
            Err(_) => {
                // Past the budget: answer WeCom now, deliver actively when ready.
                inner.metrics.outcome("deferred");
                let bot = self.clone();
                inner.tracker.spawn(
                    async move {
                        match work.await {
                            Ok(Ok(decision)) => {
                                bot.complete(&key, &Answered::Active).await;
                                bot.finish(decision, "active", 0).await;
                            }
                            Ok(Err(e)) => bot.failed(&key, &e.to_string()).await,
                            Err(_panic) => bot.failed(&key, "a handler panicked").await,
                        }
                    }
                    .in_current_span(),
                );
                CallbackResponse::empty()
            }
        }
    }

    /// The answer of a message already answered.
    fn replay(&self, answered: Answered) -> CallbackResponse {
        Metrics::incr(&self.inner.metrics.dedup_hits);
        match answered {
            Answered::Passive(bytes) => {
                self.inner.metrics.outcome("redelivered_passive");
                CallbackResponse::xml(bytes)
            }
            Answered::Active | Answered::Nothing => {
                self.inner.metrics.outcome("redelivered_empty");
                CallbackResponse::empty()
            }
        }
    }

    /// Claims `key`; one in flight elsewhere is waited for until `deadline`, and claimed
    /// here if it was released (a handler failed) or its lease expired meanwhile.
    pub(crate) async fn claim_by(&self, key: &str, deadline: Instant) -> Claim {
        match self.claim(key).await {
            Claim::InFlight => match self.wait_for(key, deadline).await {
                None => self.claim(key).await,
                Some(seen) => seen,
            },
            other => other,
        }
    }

    /// Waits (until `deadline`) for another attempt to finish: `None` when the record
    /// went away (released, or its lease expired), else the last state seen.
    pub(crate) async fn wait_for(&self, key: &str, deadline: Instant) -> Option<Claim> {
        loop {
            let seen = self.peek(key).await;
            match &seen {
                Some(Claim::InFlight) if Instant::now() < deadline => {}
                _ => return seen,
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn deliver_in_time(&self, decision: Decision, key: &str, q: &Query) -> CallbackResponse {
        use crate::inbound::Route;
        let inner = &self.inner;
        match &decision.routed.route {
            Route::Passive(_) => {
                let first = decision
                    .pieces
                    .first()
                    .and_then(crate::render::Piece::passive);
                if let Some(reply) = first {
                    let xml = decision
                        .message
                        .reply_xml(&reply, unix_secs(inner.clock.now()));
                    let sealed = self
                        .app_crypto()
                        .map_err(|_| wecom_sdk_crypto::CryptoError::GenReturnXml {
                            reason: "no app callback settings",
                        })
                        .and_then(|c| c.encrypt_reply(&xml, &q.timestamp, &q.nonce));
                    match sealed {
                        Ok(envelope) => {
                            let bytes = bytes::Bytes::from(envelope);
                            self.complete(key, &Answered::Passive(bytes.clone())).await;
                            let delivery = if decision.pieces.len() == 1 {
                                "passive"
                            } else {
                                "passive+active"
                            };
                            inner.metrics.outcome("passive");
                            // The first piece went passively; the rest follow actively.
                            self.spawn_finish(decision, delivery, 1);
                            return CallbackResponse::xml(bytes);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e.with_code(), "passive reply not encryptable; sending actively");
                        }
                    }
                }
                self.answer_actively(decision, key).await
            }
            Route::Active(_) | Route::Welcome(_) => self.answer_actively(decision, key).await,
            Route::Nowhere(_) => {
                self.complete(key, &Answered::Nothing).await;
                inner.metrics.outcome("empty");
                self.spawn_finish(decision, "none", 0);
                CallbackResponse::empty()
            }
        }
    }

    async fn answer_actively(&self, decision: Decision, key: &str) -> CallbackResponse {
        if decision.pieces.is_empty() {
            self.complete(key, &Answered::Nothing).await;
            self.inner.metrics.outcome("empty");
            self.spawn_finish(decision, "none", 0);
        } else {
            self.complete(key, &Answered::Active).await;
            self.inner.metrics.outcome("active");
            self.spawn_finish(decision, "active", 0);
        }
        CallbackResponse::empty()
    }

    /// Sends the pieces after the first `sent` (or the welcome) and performs the actions on
    /// a task of their own (the HTTP answer does not wait); with nothing of the kind to
    /// do, only writes the event record, here.
    fn spawn_finish(&self, decision: Decision, delivery: &'static str, sent: usize) {
        if decision.pending(sent).is_empty() && decision.actions.is_empty() {
            crate::pipeline::record(self, &decision, delivery, Vec::new(), Vec::new());
            return;
        }
        let bot = self.clone();
        self.inner
            .tracker
            .spawn(async move { bot.finish(decision, delivery, sent).await }.in_current_span());
    }

    async fn failed(&self, key: &str, error: &str) {
        tracing::warn!(
            error,
            "handler failed: the claim is released so WeCom's re-delivery is processed"
        );
        self.inner.metrics.outcome("handler_error");
        self.release(key).await;
    }

    // ── dedup through the shared store, degrading to local memory ──────────────────

    pub(crate) async fn claim(&self, key: &str) -> Claim {
        let inner = &self.inner;
        if let Some(shared) = self.shared() {
            match shared.claim(key, inner.lease).await {
                Ok(c) => {
                    self.recovered();
                    return c;
                }
                Err(e) => self.degraded(&e),
            }
        }
        inner
            .local_dedup
            .claim(key, inner.lease)
            .await
            .unwrap_or(Claim::Fresh)
    }

    pub(crate) async fn peek(&self, key: &str) -> Option<Claim> {
        let inner = &self.inner;
        if let Some(shared) = self.shared() {
            match shared.peek(key).await {
                Ok(c) => return c,
                Err(e) => self.degraded(&e),
            }
        }
        inner.local_dedup.peek(key).await.unwrap_or(None)
    }

    pub(crate) async fn complete(&self, key: &str, answered: &Answered) {
        let inner = &self.inner;
        if let Some(shared) = self.shared() {
            match shared.complete(key, answered, inner.done_ttl).await {
                Ok(()) => return,
                Err(e) => self.degraded(&e),
            }
        }
        let _ = inner
            .local_dedup
            .complete(key, answered, inner.done_ttl)
            .await;
    }

    pub(crate) async fn release(&self, key: &str) {
        let inner = &self.inner;
        if let Some(shared) = self.shared() {
            match shared.release(key).await {
                Ok(()) => return,
                Err(e) => self.degraded(&e),
            }
        }
        let _ = inner.local_dedup.release(key).await;
    }

    /// The shared store, unless it failed less than [`OUTAGE_PROBE`] ago (then local
    /// state answers at once instead of waiting on a dead store for every message).
    /// Whether a dedup store shared by every instance is configured.
    pub(crate) fn has_shared_dedup(&self) -> bool {
        self.inner.shared_dedup.is_some()
    }

    fn shared(&self) -> Option<&Arc<dyn DedupStore>> {
        let inner = &self.inner;
        let shared = inner.shared_dedup.as_ref()?;
        let now = millis_since(inner.epoch);
        (now >= inner.retry_shared_at.load(Ordering::Relaxed)).then_some(shared)
    }

    fn degraded(&self, e: &crate::error::StoreError) {
        let inner = &self.inner;
        let probe = u64::try_from(OUTAGE_PROBE.as_millis()).unwrap_or(u64::MAX);
        inner
            .retry_shared_at
            .store(millis_since(inner.epoch) + probe, Ordering::Relaxed);
        Metrics::incr(&self.inner.metrics.store_errors);
        if !self.inner.outage.swap(true, Ordering::Relaxed) {
            tracing::error!(error = %e, "dedup store unreachable: answering with local dedup until it is back");
        }
    }

    fn recovered(&self) {
        if self.inner.outage.swap(false, Ordering::Relaxed) {
            tracing::warn!("dedup store reachable again");
        }
    }

    /// Sends the pieces after the first `sent` (or the welcome), performs the actions,
    /// writes the event record.
    async fn finish(&self, decision: Decision, delivery: &'static str, sent: usize) {
        crate::pipeline::finish(self, decision, delivery, sent).await;
    }
}

/// What deciding a message ends with: the decision, a handler's error, or its panic.
type Decided = Result<Result<Decision, crate::error::HandlerError>, Box<dyn std::any::Any + Send>>;

/// The signature parameters of a callback query.
pub(crate) struct Query {
    pub(crate) signature: String,
    pub(crate) timestamp: String,
    pub(crate) nonce: String,
}

impl Query {
    /// URL verification: the decrypted `echostr` of a signed GET.
    pub(crate) fn echo(
        request: &CallbackRequest,
        crypto: &CallbackCrypto,
    ) -> Result<String, Rejection> {
        let q = Self::read(request)?;
        let echostr = request
            .query_value("echostr")
            .ok_or(Rejection::MissingQuery("echostr"))?;
        crypto
            .verify_url(&q.signature, &q.timestamp, &q.nonce, &echostr)
            .map_err(|e| Rejection::from_crypto(&e))
    }

    /// A POST's signature parameters and its body, within `max_body` bytes and UTF-8.
    pub(crate) fn signed_body(
        request: &CallbackRequest,
        max_body: usize,
    ) -> Result<(Self, &str), Rejection> {
        if request.body.len() > max_body {
            return Err(Rejection::TooLarge {
                size: request.body.len(),
                limit: max_body,
            });
        }
        let q = Self::read(request)?;
        let body = std::str::from_utf8(&request.body)
            .map_err(|_| Rejection::Malformed("the body is not UTF-8".to_owned()))?;
        Ok((q, body))
    }

    pub(crate) fn read(request: &CallbackRequest) -> Result<Self, Rejection> {
        let get = |name: &'static str| {
            request
                .query_value(name)
                .filter(|v| !v.is_empty())
                .ok_or(Rejection::MissingQuery(name))
        };
        Ok(Self {
            signature: get("msg_signature")?,
            timestamp: get("timestamp")?,
            nonce: get("nonce")?,
        })
    }
}

/// After a shared-store failure, how long local state answers alone before the shared
/// store is tried again.
pub const OUTAGE_PROBE: Duration = Duration::from_secs(1);

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn unix_secs(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Unix milliseconds of `at`.
pub(crate) fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Lets the crypto crate read the bot's clock (same shape, another trait).
#[derive(Debug)]
struct CryptoClock(Arc<dyn Clock>);

impl wecom_sdk_crypto::Clock for CryptoClock {
    fn now(&self) -> SystemTime {
        self.0.now()
    }
}

impl BotBuilder {
    /// The app's name: its path segment under a [`MultiApp`](crate::MultiApp) router,
    /// and the prefix of its dedup keys (default `default`).
    pub fn app(mut self, name: impl Into<String>) -> Self {
        self.app = name.into();
        self
    }

    /// The callback settings from the app's admin page: Token, EncodingAESKey, and the
    /// CorpID (the receive id).
    pub fn callback(
        mut self,
        token: impl Into<String>,
        encoding_aes_key: impl Into<String>,
        corp_id: impl Into<String>,
    ) -> Self {
        self.callback = Some((token.into(), encoding_aes_key.into(), corp_id.into()));
        self
    }

    /// The rule engine.
    pub fn engine(self, engine: Engine) -> Self {
        self.shared_engine(Arc::new(engine))
    }

    /// A rule engine shared with other code (statistics, reloads).
    pub fn shared_engine(mut self, engine: Arc<Engine>) -> Self {
        self.engine = Some(engine);
        self
    }

    /// The API client, for active sends, welcome messages, profiles and tags. Without
    /// one the bot answers passively only.
    pub fn client(mut self, client: Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The client of the 微信客服 channel, when its access token comes from another
    /// secret than the app's (WeCom's 微信客服 secret). By default the 微信客服 channel
    /// uses [`client`](Self::client); without either, `kf_msg_or_event` callbacks are
    /// acknowledged and not read.
    pub fn kf_client(mut self, client: Client) -> Self {
        self.kf_client = Some(client);
        self
    }

    /// Where the 微信客服 channel keeps each account's `sync_msg` cursor (default: this
    /// process's memory; a Redis store lets a restart or another instance read on where
    /// the last sync stopped).
    pub fn kf_cursors(mut self, cursors: Arc<dyn CursorStore>) -> Self {
        self.kf_cursors = Some(cursors);
        self
    }

    /// Where conversation steps (a rule's `ask`) are kept per customer (default: this
    /// process's memory, [`MemoryConversationStore`]).
    pub fn conversations(mut self, store: Arc<dyn ConversationStore>) -> Self {
        self.conversations = Some(store);
        self
    }

    /// Serve WeCom's AI bot (智能机器人) too — or only it, without
    /// [`callback`](Self::callback): by callback ([`AiBot::callback`], served by
    /// [`Bot::router`] at `/wecom/aibot`) or over the long connection
    /// ([`AiBot::websocket`], run with [`Bot::run_ai_bot`]). Its messages run the same
    /// handlers and rules (`Channel::AiBot`).
    pub fn ai_bot(mut self, ai_bot: AiBot) -> Self {
        self.aibot = Some(ai_bot);
        self
    }

    /// Rewrite the URLs of rules' replies (texts and news cards, on every channel) to
    /// tracked links `{base_url}/l/{code}`, served by [`Bot::router`]: the first click of each
    /// counts as a conversion of the rule and its A/B variant (the engine's statistics,
    /// the bandit, the event log), then redirects. `base_url` is where customers reach
    /// the router (`https://bot.example.com`).
    pub fn tracked_links(mut self, base_url: impl Into<String>) -> Self {
        self.link_base = Some(base_url.into());
        self
    }

    /// Where tracked links are kept (default: this process's memory; a
    /// [`RedisLinkStore`](crate::RedisLinkStore) when several instances serve the
    /// router), and for how long (default 30 days).
    pub fn link_store(mut self, store: Arc<dyn crate::links::LinkStore>, ttl: Duration) -> Self {
        self.link_store = Some(store);
        self.link_ttl = ttl;
        self
    }

    /// Count A/B impressions and conversions in Redis for every instance, so each
    /// instance's bandit (`explore = …`) chooses by all of them (feature `redis`).
    #[cfg(feature = "redis")]
    pub fn shared_variants(mut self, store: crate::RedisVariantStore) -> Self {
        self.variants = Some(store);
        self
    }

    /// A shared dedup store (Redis: [`RedisDedupStore`](crate::RedisDedupStore)). The
    /// in-memory store still answers while it is unreachable.
    pub fn dedup_store(mut self, store: Arc<dyn DedupStore>) -> Self {
        self.dedup = Some(store);
        self
    }

    /// Records the in-memory dedup store keeps (default 30 000: about 55 MB with their
    /// replies, and a re-delivery horizon of 60 s at 500 messages a second; beyond that
    /// share a [`dedup_store`](Self::dedup_store)).
    pub fn dedup_capacity(mut self, capacity: usize) -> Self {
        self.dedup_capacity = capacity;
        self
    }

    /// Where profiles come from ([`WeComProfiles`](crate::WeComProfiles), or your CRM).
    pub fn profiles(mut self, provider: Arc<dyn ProfileProvider>) -> Self {
        self.profiles = Some(provider);
        self
    }

    /// How long a profile is cached (default 10 minutes).
    pub fn profile_ttl(mut self, ttl: Duration) -> Self {
        self.profile_ttl = ttl;
        self
    }

    /// A handler run before the matcher (in the order added).
    pub fn before(mut self, handler: Arc<dyn Handler>) -> Self {
        self.before.push(handler);
        self
    }

    /// A handler run after the matcher, seeing its hit (in the order added).
    pub fn after(mut self, handler: Arc<dyn Handler>) -> Self {
        self.after.push(handler);
        self
    }

    /// Where event records go ([`JsonLinesSink`](crate::JsonLinesSink)).
    pub fn event_sink(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// The clock: the in-memory dedup store, profile ages, reply times and the replay
    /// window read it. (Schedules are judged at each message's `CreateTime`.)
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The passive-reply budget (default 3 s; at most 4.5 s — WeCom waits 5).
    pub fn budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// How long an in-flight claim holds (default 30 s).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long a done record is kept (default 15 minutes).
    pub fn done_ttl(mut self, ttl: Duration) -> Self {
        self.done_ttl = ttl;
        self
    }

    /// The largest body accepted (default 64 KiB; larger ones get 413).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The bot's own user ids: their messages never trigger rules (loop guard).
    pub fn own_user_ids<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.own_ids.extend(ids.into_iter().map(Into::into));
        self
    }

    /// The staff group robot that escalations are announced to.
    pub fn escalation_robot(mut self, robot: WebhookClient) -> Self {
        self.robot = Some(robot);
        self
    }

    /// Your escalation queue.
    pub fn escalation_hook(mut self, hook: Arc<dyn EscalationHook>) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Where relative `file = { path = … }` parts are read (default: the watched rules
    /// file's directory, else the working directory).
    pub fn media_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.media_dir = Some(dir.into());
        self
    }

    /// The callback path of [`Bot::router`] (default `/wecom/callback`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Also serve Prometheus metrics at `path` (e.g. `/metrics`) from [`Bot::router`].
    pub fn metrics_route(mut self, path: impl Into<String>) -> Self {
        self.metrics_path = Some(path.into());
        self
    }

    /// Refuse callbacks whose timestamp is further than `max_skew` from the clock
    /// (off by default: WeCom re-deliveries carry the first timestamp).
    pub fn replay_window(mut self, max_skew: Duration) -> Self {
        self.replay_window = Some(max_skew);
        self
    }

    /// Watch `path` and reload the engine's rules when it changes; an invalid file
    /// keeps the old rules (the errors are logged and counted).
    pub fn watch_rules(mut self, path: impl Into<PathBuf>) -> Self {
        self.watch = Some(path.into());
        self
    }

    /// The budget and the paths, checked.
    fn check(&self) -> Result<(), BuildError> {
        if self.budget > Duration::from_millis(4500) {
            return Err(BuildError::Invalid {
                name: "budget",
                reason: format!(
                    "{:?} is too close to WeCom's 5 s timeout (at most 4.5 s)",
                    self.budget
                ),
            });
        }
        for (name, path) in [
            ("path", Some(&self.path)),
            ("metrics_route", self.metrics_path.as_ref()),
        ] {
            if let Some(p) = path
                && !p.starts_with('/')
            {
                return Err(BuildError::Invalid {
                    name,
                    reason: format!("{p:?} must start with '/'"),
                });
            }
        }
        Ok(())
    }

    /// Builds the bot.
    ///
    /// # Errors
    /// [`BuildError::Missing`] without callback settings or an engine;
    /// [`BuildError::Callback`] for settings WeCom would not issue;
    /// [`BuildError::Invalid`] for a budget over 4.5 s or a path not starting with `/`;
    /// [`BuildError::Watch`] when the rules file cannot be watched.
    pub fn build(self) -> Result<Bot, BuildError> {
        if self.callback.is_none() && self.aibot.is_none() {
            return Err(BuildError::Missing(
                "callback settings (token, EncodingAESKey, corp id) or an AI bot",
            ));
        }
        self.check()?;
        let engine = self.engine.ok_or(BuildError::Missing("engine"))?;
        let (crypto, corp_id) = app_crypto(self.callback, self.replay_window, &self.clock)?;
        let aibot = match self.aibot {
            Some(ai) => Some(ai.build(&self.clock, wecom_sdk_client::http_client())?),
            None => None,
        };
        let metrics = Arc::new(Metrics::default());
        let watcher = match &self.watch {
            Some(path) => Some(crate::reload::watch(
                path,
                Arc::clone(&engine),
                Arc::clone(&metrics),
            )?),
            None => None,
        };
        let media_dir = self
            .media_dir
            .or_else(|| {
                self.watch
                    .as_deref()
                    .and_then(Path::parent)
                    .map(Path::to_path_buf)
            })
            .unwrap_or_else(|| PathBuf::from("."));
        let conversations = self
            .conversations
            .unwrap_or_else(|| Arc::new(MemoryConversationStore::default()));
        let kf = self
            .kf_client
            .or_else(|| self.client.clone())
            .map(|client| {
                let cursors = self
                    .kf_cursors
                    .unwrap_or_else(|| Arc::new(MemoryCursorStore::default()));
                KfChannel::new(client, cursors)
            });
        let links = self.link_base.map(|base| crate::links::Links {
            base,
            store: self
                .link_store
                .unwrap_or_else(|| Arc::new(crate::links::MemoryLinkStore::default())),
            ttl: self.link_ttl,
        });
        Ok(Bot {
            inner: Arc::new(Inner {
                kf,
                aibot,
                links,
                #[cfg(feature = "redis")]
                variants: self.variants,
                conversations,
                stop: CancellationToken::new(),
                app: self.app,
                corp_id,
                crypto,
                engine,
                client: self.client,
                shared_dedup: self.dedup,
                local_dedup: MemoryDedupStore::new(self.dedup_capacity)
                    .clock(Arc::clone(&self.clock)),
                outage: AtomicBool::new(false),
                retry_shared_at: AtomicU64::new(0),
                epoch: Instant::now(),
                profiles: self.profiles,
                profile_cache: ProfileCache::new(self.profile_ttl, 50_000),
                before: self.before,
                after: self.after,
                sink: self.sink,
                metrics,
                clock: self.clock,
                budget: self.budget,
                lease: self.lease,
                done_ttl: self.done_ttl,
                max_body: self.max_body,
                own_ids: self.own_ids,
                actions: Actions::new(self.robot, self.hook),
                media: MediaCache::default(),
                media_dir,
                tracker: TaskTracker::new(),
                path: self.path,
                metrics_path: self.metrics_path,
                _watcher: watcher,
            }),
        })
    }
}

/// The app callback's crypto and corp id, when the app callback is configured.
fn app_crypto(
    callback: Option<(String, String, String)>,
    replay_window: Option<Duration>,
    clock: &Arc<dyn Clock>,
) -> Result<(Option<CallbackCrypto>, String), BuildError> {
    let Some((token, aes_key, corp_id)) = callback else {
        return Ok((None, String::new()));
    };
    let mut crypto = CallbackCrypto::new(token, &aes_key, corp_id.clone())?;
    if let Some(window) = replay_window {
        crypto = crypto
            .replay_window(window)
            .clock(Arc::new(CryptoClock(Arc::clone(clock))));
    }
    Ok((Some(crypto), corp_id))
}
