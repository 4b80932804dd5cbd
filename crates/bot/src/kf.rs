//! 微信客服 (the `kf` API): the channel where external customers on personal WeChat talk
//! to a company.
//!
//! A `kf_msg_or_event` callback only says that an account has something to read: the
//! bot answers it with an empty 200 at once and, on a task, reads the account's new
//! entries with `kf/sync_msg` — from the saved cursor, page after page while `has_more`
//! is 1 (a page may be empty and still have more), saving the cursor after each page. A
//! callback that arrives while that account's sync runs makes it run once more, never
//! twice at the same time. Each entry is claimed by its `msgid` in the bot's dedup store
//! before it is answered, so an entry read twice (overlapping pages, a restart before the
//! cursor was saved, another instance sharing the Redis dedup store) is answered once.
//!
//! Customer messages (origin 3) go through the rules as `Channel::Kf` and are answered
//! with `kf/send_msg` (at most five messages per customer message, WeCom's limit);
//! `enter_session` is answered by the rules for the `enter_session` event through
//! `kf/send_msg_on_event` with the event's welcome code. WeCom's refusals (95001: more
//! than five replies; 95002: outside the 48-hour window) are counted and logged as such,
//! never retried.
//!
//! A rule with an `escalate` action hands the session to the queue (`service_state/trans`,
//! state 2) after its reply; from then on the bot stays silent for that customer — a human
//! answers — until a `session_status_change` says the session ended (or a send is refused
//! with 95018, which says a human has it).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use std::time::Duration;
use tracing::Instrument as _;
use wecom_sdk_client::api::kf::CursorStore;
use wecom_sdk_client::{Client, ClientError};

use wecom_sdk_matcher::{Action, AskedStep, Channel, Hit, Incoming};
use wecom_sdk_message::callback::Message;
use wecom_sdk_message::kf::{KfEvent, KfSyncedBody, KfSyncedMessage};
use wecom_sdk_message::send::{KfContent, KfEventMessage, KfMessage, SyncMsgRequest};

use crate::Bot;
use crate::conversation::{OpenStep, unix_ms};
use crate::dedup::{Answered, Claim};
use crate::error::HandlerError;
use crate::event_log::EventRecord;
use crate::handler::{Context, Flow};
use crate::pipeline::{run, with_profile};
use crate::render::{Piece, plan};

/// WeCom's limit of `send_msg` messages per customer message.
const MAX_REPLIES: usize = 5;
/// `kf/send_msg`: more than five replies to one customer message.
const TOO_MANY_REPLIES: i64 = 95_001;
/// `kf/send_msg`: the customer's last message is more than 48 hours old.
const WINDOW_CLOSED: i64 = 95_002;
/// `kf/sync_msg`: the callback's token expired (it serves 10 minutes).
const TOKEN_EXPIRED: i64 = 95_007;
/// `kf/send_msg`: the session is with the queue or a human servicer.
const WITH_HUMAN: i64 = 95_018;
/// `service_state`: the queue (接待池), where a human servicer takes the session.
const STATE_QUEUE: u8 = 2;
/// `service_state`: a named human servicer.
const STATE_SERVICER: u8 = 3;
/// `session_status_change.change_type`: the session ended.
const SESSION_ENDED: u8 = 3;

/// The channel's state: where each account's sync stands, and which run.
#[derive(Debug)]
pub(crate) struct KfChannel {
    client: Client,
    cursors: Arc<dyn CursorStore>,
    /// Accounts whose sync runs here: whether another callback came meanwhile, and its
    /// token.
    runs: Mutex<HashMap<String, Rerun>>,
    /// Customers a human answers now, by `(open_kfid, external_userid)`: the bot stays
    /// silent for them until their session ends.
    with_human: Mutex<HashSet<(String, String)>>,
}

/// A callback that came while the account's sync ran.
#[derive(Debug, Default)]
struct Rerun {
    again: Option<Notice>,
}

impl KfChannel {
    pub(crate) fn new(client: Client, cursors: Arc<dyn CursorStore>) -> Self {
        Self {
            client,
            cursors,
            runs: Mutex::new(HashMap::new()),
            with_human: Mutex::new(HashSet::new()),
        }
    }

    /// Whether a human answers `customer` of `open_kfid` now.
    fn is_with_human(&self, open_kfid: &str, customer: &str) -> bool {
        self.with_human
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&(open_kfid.to_owned(), customer.to_owned()))
    }

    /// Records that a human answers `customer` (`true`) or that the bot does again.
    fn set_with_human(&self, open_kfid: &str, customer: &str, human: bool) {
        let mut set = self
            .with_human
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let key = (open_kfid.to_owned(), customer.to_owned());
        if human {
            set.insert(key);
        } else {
            set.remove(&key);
        }
    }

    /// Marks `open_kfid` as syncing; `false` (with a rerun noted) when it already is.
    fn start(&self, open_kfid: &str, notice: &Notice) -> bool {
        let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(rerun) = runs.get_mut(open_kfid) {
            rerun.again = Some(notice.clone());
            return false;
        }
        runs.insert(open_kfid.to_owned(), Rerun::default());
        true
    }

    /// The callback to run again for, or `None` (and the account no longer syncing).
    fn next_run(&self, open_kfid: &str) -> Option<Notice> {
        let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        let again = runs.get_mut(open_kfid).and_then(|r| r.again.take());
        if again.is_none() {
            runs.remove(open_kfid);
        }
        again
    }
}

/// What one entry came to (counted as `wecom_bot_kf_total{what}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handled {
    Answered,
    Welcomed,
    Unanswered,
    Duplicate,
    Ignored,
    /// A human answers this customer: the bot stayed silent.
    WithHuman,
    /// A session event (a servicer took or ended the session).
    Session,
    /// `msg_send_fail`: a message the bot sent was not delivered.
    SendFailed,
}

impl Handled {
    /// Its name in the metrics and the event log.
    fn name(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Welcomed => "welcomed",
            Self::Unanswered => "unanswered",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
            Self::WithHuman => "with_human",
            Self::Session => "session_change",
            Self::SendFailed => "msg_send_fail",
        }
    }
}

/// What answering one entry did, for its event record.
#[derive(Debug, Default)]
struct EntryTrace {
    rule: Option<String>,
    variant: Option<String>,
    actions: Vec<String>,
    errors: Vec<String>,
}

impl Bot {
    /// A `kf_msg_or_event` callback: starts the sync of `open_kfid` on a task, or has
    /// the running one run once more. `false` when the bot has no 微信客服 channel.
    pub(crate) fn kf_notify(&self, callback: &Arc<Message>, open_kfid: &str, token: &str) -> bool {
        let Some(kf) = &self.inner.kf else {
            return false;
        };
        let notice = Notice {
            token: token.to_owned(),
            callback: Arc::clone(callback),
        };
        if !kf.start(open_kfid, &notice) {
            self.inner.metrics.count_kf("rerun_requested");
            return true;
        }
        let bot = self.clone();
        let open_kfid = open_kfid.to_owned();
        self.inner.tracker.spawn(
            async move { bot.kf_sync(&open_kfid, notice).await }
                .instrument(tracing::info_span!("kf_sync")),
        );
        true
    }

    /// Syncs `open_kfid` until no callback came during the last run.
    async fn kf_sync(&self, open_kfid: &str, mut notice: Notice) {
        let Some(kf) = &self.inner.kf else {
            return;
        };
        loop {
            if self.kf_lead(open_kfid).await {
                loop {
                    if let Err(e) = self.kf_read(kf, open_kfid, &notice).await {
                        self.inner.metrics.count_kf("sync_failed");
                        tracing::warn!(open_kfid, error = %e, "kf/sync_msg failed: the next callback reads on from the saved cursor");
                    }
                    if !self.kf_hand_over(open_kfid).await {
                        break;
                    }
                }
            }
            match kf.next_run(open_kfid) {
                Some(next) => notice = next,
                None => return,
            }
        }
    }

    /// Across instances (with a shared dedup store): whether this instance syncs
    /// `open_kfid` now. The store holds `kfsync:{open_kfid}` while one instance syncs the
    /// account; another that gets a callback meanwhile leaves `kfsync-again:{open_kfid}`
    /// for the syncing one, which then runs once more, instead of syncing in parallel.
    async fn kf_lead(&self, open_kfid: &str) -> bool {
        if !self.has_shared_dedup() {
            return true;
        }
        match self.claim(&format!("kfsync:{open_kfid}")).await {
            Claim::InFlight => {
                let _ = self.claim(&format!("kfsync-again:{open_kfid}")).await;
                self.inner.metrics.count_kf("rerun_requested");
                false
            }
            _ => true,
        }
    }

    /// The end of a sync across instances: `true` when a callback came meanwhile (run
    /// again); else the account is released — and re-taken if a callback slipped in
    /// between.
    async fn kf_hand_over(&self, open_kfid: &str) -> bool {
        if !self.has_shared_dedup() {
            return false;
        }
        let (run, again) = (
            format!("kfsync:{open_kfid}"),
            format!("kfsync-again:{open_kfid}"),
        );
        if self.peek(&again).await.is_some() {
            self.release(&again).await;
            return true;
        }
        self.release(&run).await;
        if self.peek(&again).await.is_some() && matches!(self.claim(&run).await, Claim::Fresh) {
            self.release(&again).await;
            return true;
        }
        false
    }

    /// Reads and answers every new entry of `open_kfid`, saving the cursor after each
    /// page.
    async fn kf_read(
        &self,
        kf: &KfChannel,
        open_kfid: &str,
        notice: &Notice,
    ) -> Result<(), ClientError> {
        let mut cursor = kf.cursors.load(open_kfid).await?;
        let mut token = Some(notice.token.as_str());
        loop {
            let request = |token: Option<&str>| SyncMsgRequest {
                cursor: cursor.clone(),
                token: token.map(str::to_owned),
                limit: Some(1000),
                voice_format: None,
                open_kfid: Some(open_kfid.to_owned()),
            };
            let page = match kf.client.kf().sync_msg(&request(token)).await {
                // The callback's token serves 10 minutes: read on without it.
                Err(e) if e.errcode() == Some(TOKEN_EXPIRED) && token.is_some() => {
                    self.inner.metrics.count_kf("token_expired");
                    token = None;
                    kf.client.kf().sync_msg(&request(None)).await?
                }
                page => page?,
            };
            for entry in &page.msg_list {
                self.inner.metrics.count_kf("read");
                let handled = self.kf_entry(kf, entry, &notice.callback).await;
                self.inner.metrics.count_kf(handled.name());
            }
            let more = page.more();
            if !page.next_cursor.is_empty() {
                kf.cursors.save(open_kfid, &page.next_cursor).await?;
                cursor = Some(page.next_cursor);
            }
            if !more {
                return Ok(());
            }
        }
    }

    /// One entry, exactly once by its `msgid`.
    async fn kf_entry(
        &self,
        kf: &KfChannel,
        entry: &KfSyncedMessage,
        callback: &Message,
    ) -> Handled {
        let key = format!("kf:{}", entry.msgid);
        if !self.kf_claim(&key).await {
            return Handled::Duplicate;
        }
        let started = std::time::Instant::now();
        let mut trace = EntryTrace::default();
        let handled = match (&entry.body, entry.origin) {
            (KfSyncedBody::Text { .. }, 3)
                if kf.is_with_human(&entry.open_kfid, &entry.external_userid) =>
            {
                Handled::WithHuman
            }
            (KfSyncedBody::Text { text }, 3) => {
                self.kf_text(kf, entry, &text.content, callback, &mut trace)
                    .await
            }
            (
                KfSyncedBody::Event {
                    event:
                        KfEvent::SessionStatusChange {
                            external_userid,
                            change_type,
                            new_servicer_userid,
                            ..
                        },
                },
                _,
            ) => {
                // Ended, or moved to nobody: the bot answers again; else a human does.
                let human = *change_type != SESSION_ENDED && !new_servicer_userid.is_empty();
                kf.set_with_human(&entry.open_kfid, external_userid, human);
                Handled::Session
            }
            (
                KfSyncedBody::Event {
                    event:
                        KfEvent::EnterSession {
                            external_userid,
                            scene_param,
                            welcome_code,
                            ..
                        },
                },
                _,
            ) => {
                let incoming = Incoming::event(
                    external_userid.as_str(),
                    "enter_session",
                    scene_param.as_str(),
                )
                .channel(Channel::Kf);
                self.kf_welcome(kf, &incoming, welcome_code, &mut trace)
                    .await
            }
            (
                KfSyncedBody::Event {
                    event:
                        KfEvent::MsgSendFail {
                            fail_msgid,
                            fail_type,
                            ..
                        },
                },
                _,
            ) => {
                trace
                    .errors
                    .push(format!("msg_send_fail {fail_msgid}: fail_type {fail_type}"));
                tracing::warn!(open_kfid = %entry.open_kfid, fail_msgid, fail_type, "a 微信客服 message was not delivered");
                Handled::SendFailed
            }
            (KfSyncedBody::Event { event }, _) => {
                tracing::info!(open_kfid = %entry.open_kfid, msgid = %entry.msgid, ?event, "kf event");
                Handled::Ignored
            }
            _ => Handled::Ignored,
        };
        let answered = if matches!(handled, Handled::Answered | Handled::Welcomed) {
            Answered::Active
        } else {
            Answered::Nothing
        };
        self.complete(&key, &answered).await;
        self.kf_record(entry, handled, trace, started.elapsed());
        handled
    }

    /// The entry's record in the event log.
    fn kf_record(
        &self,
        entry: &KfSyncedMessage,
        handled: Handled,
        trace: EntryTrace,
        took: Duration,
    ) {
        let inner = &self.inner;
        let Some(sink) = &inner.sink else { return };
        let (msg_type, event, text) = match &entry.body {
            KfSyncedBody::Text { text } => ("text", None, Some(text.content.clone())),
            KfSyncedBody::Event { event } => ("event", Some(event_name(event).to_owned()), None),
            KfSyncedBody::Image { .. } => ("image", None, None),
            KfSyncedBody::Voice { .. } => ("voice", None, None),
            KfSyncedBody::Video { .. } => ("video", None, None),
            KfSyncedBody::File { .. } => ("file", None, None),
            KfSyncedBody::Location { .. } => ("location", None, None),
            KfSyncedBody::Link { .. } => ("link", None, None),
            KfSyncedBody::Unknown { msgtype, .. } => (msgtype.as_str(), None, None),
            _ => ("other", None, None),
        };
        let delivery = match handled {
            Handled::Answered => "kf_send",
            Handled::Welcomed => "kf_welcome",
            _ => "none",
        };
        sink.record(&EventRecord {
            at_ms: i64::try_from(unix_ms(inner.clock.now())).unwrap_or(i64::MAX),
            app: inner.app.clone(),
            channel: Channel::Kf,
            user: entry.external_userid.clone(),
            chat: None,
            msg_type: msg_type.to_owned(),
            event,
            text,
            rule: trace.rule,
            variant: trace.variant,
            latency_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            delivery: delivery.to_owned(),
            outcome: handled.name().to_owned(),
            actions: trace.actions,
            errors: trace.errors,
            key: format!("kf:{}", entry.msgid),
        });
    }

    /// Claims an entry: `false` when it is answered (or being answered) elsewhere. An
    /// entry another instance is answering is waited for — up to the claim's lease — and
    /// taken over if that instance let it go or died, so it is never skipped.
    async fn kf_claim(&self, key: &str) -> bool {
        match self.claim(key).await {
            Claim::Fresh => true,
            Claim::InFlight => {
                let deadline = std::time::Instant::now() + self.inner.lease;
                match self.wait_for(key, deadline).await {
                    None => matches!(self.claim(key).await, Claim::Fresh),
                    Some(_) => false,
                }
            }
            _ => false,
        }
    }

    /// The rules' answer to `incoming` (nothing when no rule fires), and the hit.
    async fn kf_hit(&self, incoming: &Incoming) -> (KfHit, Option<Hit>) {
        let engine = &self.inner.engine;
        let hit: Option<Hit> = match engine.find_shared(incoming).await {
            Ok(hit) => hit,
            Err(e) => {
                crate::metrics::Metrics::incr(&self.inner.metrics.store_errors);
                tracing::warn!(error = %e, "counter store failed: matching with local counters");
                engine.find(incoming)
            }
        };
        let Some(hit) = hit else {
            return (KfHit::default(), None);
        };
        self.inner.metrics.rule_hit(hit.rule_id());
        let answer = KfHit {
            pieces: plan(&hit.parts, engine.rules().sensitive_filter()),
            actions: hit.actions.clone(),
            ask: hit.ask.clone(),
            rule: Some(hit.rule_id().to_owned()),
            variant: hit.variant.clone(),
        };
        (answer, Some(hit))
    }

    /// A customer text, read in the customer's conversation step (if one is open); the
    /// step the answer opens is kept, else the old one ends.
    async fn kf_text(
        &self,
        kf: &KfChannel,
        entry: &KfSyncedMessage,
        text: &str,
        callback: &Message,
        trace: &mut EntryTrace,
    ) -> Handled {
        let key = conversation_key(entry);
        let open = self.step_of(&key).await;
        let profile = self.profile_of(&entry.external_userid, Channel::Kf).await;
        let mut incoming = Incoming::new(entry.external_userid.as_str(), text)
            .channel(Channel::Kf)
            .at_unix(entry.send_time);
        incoming = with_profile(incoming, &profile);
        if let Some(open) = &open {
            incoming = incoming.in_step(open.step.as_str());
        }
        let Some(hit) = self.kf_decide(entry, &incoming, &profile, callback).await else {
            return Handled::Unanswered;
        };
        let asked = hit.ask.clone();
        trace.rule.clone_from(&hit.rule);
        trace.variant.clone_from(&hit.variant);
        let handled = self.kf_answer(kf, entry, hit, trace).await;
        if let Some(step) = self.keep_step(&key, open.as_ref(), asked.as_ref()).await {
            self.inner.metrics.count_kf("step_opened");
            if asked.is_some_and(|a| a.has_timeout_reply) {
                self.kf_time_out(entry, key, step);
            }
        }
        handled
    }

    /// Handlers before, the rules, handlers after (as for app messages, with the
    /// customer's profile from the bot's provider): what to answer,
    /// or `None` when a handler stopped or failed (a failure is counted and logged: the
    /// entry is not read again).
    async fn kf_decide(
        &self,
        entry: &KfSyncedMessage,
        incoming: &Incoming,
        profile: &crate::profile::Profile,
        callback: &Message,
    ) -> Option<KfHit> {
        let inner = &self.inner;
        let cx = |hit| Context {
            message: callback,
            incoming,
            profile,
            hit,
            app: &inner.app,
            kf: Some(entry),
        };
        let filter = inner.engine.rules().sensitive_filter().clone();
        let answer = |parts: Vec<wecom_sdk_matcher::Part>, ask: Option<AskedStep>| KfHit {
            pieces: plan(&parts, &filter),
            ask,
            ..KfHit::default()
        };
        let failed = |e: HandlerError| {
            inner.metrics.count_kf("handler_failed");
            tracing::warn!(error = %e, msgid = %entry.msgid, "handler failed on a 微信客服 message: not answered");
        };
        match run(&inner.before, &cx(None)).await {
            Ok(Flow::Reply(parts)) => return Some(answer(parts, None)),
            Ok(Flow::Ask { parts, step }) => return Some(answer(parts, Some(step))),
            Ok(Flow::Stop) => return None,
            Ok(_) => {}
            Err(e) => {
                failed(e);
                return None;
            }
        }
        let (hit, found) = self.kf_hit(incoming).await;
        match run(&inner.after, &cx(found.as_ref())).await {
            Ok(Flow::Reply(parts)) => Some(answer(parts, None)),
            Ok(Flow::Ask { parts, step }) => Some(answer(parts, Some(step))),
            Ok(Flow::Stop) => None,
            Ok(_) => Some(hit),
            Err(e) => {
                failed(e);
                None
            }
        }
    }

    /// Sends the step's time-out reply through `kf/send_msg` when `open` times out
    /// unanswered.
    fn kf_time_out(&self, entry: &KfSyncedMessage, key: String, open: OpenStep) {
        let (kfid, customer) = (entry.open_kfid.clone(), entry.external_userid.clone());
        let incoming = Incoming::new(customer.as_str(), "")
            .channel(Channel::Kf)
            .step_timed_out(open.step.as_str());
        self.on_time_out(key, open, incoming, move |bot, pieces| async move {
            let Some(kf) = &bot.inner.kf else { return };
            bot.inner.metrics.count_kf("step_timed_out");
            let (_, errors) = bot.kf_send(kf, &kfid, &customer, &pieces).await;
            for error in errors {
                tracing::warn!(customer, error, "the time-out reply was not sent");
            }
        });
    }

    /// Sends `pieces` to `customer` with `kf/send_msg` (at most five): how many went, and
    /// the refusal that stopped the rest.
    async fn kf_send(
        &self,
        kf: &KfChannel,
        kfid: &str,
        customer: &str,
        pieces: &[Piece],
    ) -> (usize, Vec<String>) {
        let contents: Vec<KfContent> = pieces.iter().filter_map(kf_content).collect();
        if contents.len() > MAX_REPLIES {
            tracing::warn!(
                pieces = contents.len(),
                "微信客服 takes at most {MAX_REPLIES} replies per customer message: the rest is dropped"
            );
        }
        let (mut sent, mut errors) = (0, Vec::new());
        for content in contents.into_iter().take(MAX_REPLIES) {
            match kf
                .client
                .kf()
                .send_msg(&KfMessage::new(customer, kfid, content))
                .await
            {
                Ok(_) => {
                    sent += 1;
                    crate::metrics::Metrics::incr(&self.inner.metrics.active_sent);
                }
                Err(e) => {
                    if self.kf_refused(&e, customer) {
                        kf.set_with_human(kfid, customer, true);
                    }
                    errors.push(format!("send_msg: {e}"));
                    break;
                }
            }
        }
        (sent, errors)
    }

    /// Answers a customer message with the hit's pieces, then hands the session to the
    /// queue when the rule escalates.
    async fn kf_answer(
        &self,
        kf: &KfChannel,
        entry: &KfSyncedMessage,
        hit: KfHit,
        trace: &mut EntryTrace,
    ) -> Handled {
        let (kfid, customer) = (entry.open_kfid.as_str(), entry.external_userid.as_str());
        let (sent, errors) = self.kf_send(kf, kfid, customer, &hit.pieces).await;
        trace.errors.extend(errors);
        let actions = hit.actions;
        // A named servicer (state 3) before the queue (state 2).
        let hand_over = actions.iter().find_map(|a| match a {
            Action::HandOver { servicer } => Some((STATE_SERVICER, Some(servicer.as_str()))),
            _ => None,
        });
        let escalate = actions
            .iter()
            .any(|a| matches!(a, Action::Escalate { .. }))
            .then_some((STATE_QUEUE, None));
        if let Some((state, servicer)) = hand_over.or(escalate) {
            match kf
                .client
                .kf()
                .transfer(kfid, customer, state, servicer)
                .await
            {
                Ok(_) => {
                    kf.set_with_human(kfid, customer, true);
                    self.inner.metrics.count_kf("transferred");
                    trace.actions.push(format!("service_state {state}: ok"));
                }
                Err(e) => {
                    crate::metrics::Metrics::incr(&self.inner.metrics.action_failures);
                    self.inner.metrics.count_kf("transfer_failed");
                    tracing::warn!(customer, servicer, error = %e, "kf service_state/trans failed");
                    trace.actions.push(format!("service_state {state}: {e}"));
                }
            }
        }
        if sent > 0 {
            Handled::Answered
        } else {
            Handled::Unanswered
        }
    }

    /// Answers `enter_session` with `kf/send_msg_on_event` and its welcome code.
    async fn kf_welcome(
        &self,
        kf: &KfChannel,
        incoming: &Incoming,
        code: &str,
        trace: &mut EntryTrace,
    ) -> Handled {
        if code.is_empty() {
            return Handled::Ignored;
        }
        let (hit, _) = self.kf_hit(incoming).await;
        trace.rule.clone_from(&hit.rule);
        let Some(content) = hit.pieces.iter().find_map(|p| match p {
            // send_msg_on_event carries text (and menus) only.
            Piece::Text(t) => Some(KfContent::text(t.as_str())),
            _ => None,
        }) else {
            return Handled::Unanswered;
        };
        match kf
            .client
            .kf()
            .send_msg_on_event(&KfEventMessage::new(code, content))
            .await
        {
            Ok(_) => {
                crate::metrics::Metrics::incr(&self.inner.metrics.active_sent);
                Handled::Welcomed
            }
            Err(e) => {
                let _ = self.kf_refused(&e, "");
                trace.errors.push(format!("send_msg_on_event: {e}"));
                Handled::Unanswered
            }
        }
    }

    /// Counts and logs a refused send: WeCom's limits as such, other failures as failures.
    /// `true` when the refusal says a human has the session (95018).
    fn kf_refused(&self, e: &ClientError, customer: &str) -> bool {
        let metrics = &self.inner.metrics;
        crate::metrics::Metrics::incr(&metrics.active_failures);
        match e.errcode() {
            Some(TOO_MANY_REPLIES) => {
                metrics.count_kf("limit_five_replies");
                tracing::warn!(
                    customer,
                    "95001: already five replies to this customer message; not retried"
                );
            }
            Some(WINDOW_CLOSED) => {
                metrics.count_kf("limit_48h");
                tracing::warn!(
                    customer,
                    "95002: the customer wrote more than 48 hours ago; not retried"
                );
            }
            Some(WITH_HUMAN) => {
                metrics.count_kf("with_human");
                tracing::info!(
                    customer,
                    "95018: a human servicer has the session; the bot stays silent"
                );
                return true;
            }
            _ => {
                metrics.count_kf("send_failed");
                tracing::warn!(customer, error = %e, "kf send failed");
            }
        }
        false
    }
}

/// The `kf_msg_or_event` callback a sync runs for.
#[derive(Debug, Clone)]
struct Notice {
    /// Its `Token` (valid 10 minutes for `sync_msg`).
    token: String,
    /// The callback itself (what handlers see as `Context::message`).
    callback: Arc<Message>,
}

/// What the rules answered.
#[derive(Debug, Default)]
struct KfHit {
    pieces: Vec<Piece>,
    actions: Vec<Action>,
    ask: Option<AskedStep>,
    rule: Option<String>,
    variant: Option<String>,
}

/// The conversation key of an entry's customer.
fn conversation_key(entry: &KfSyncedMessage) -> String {
    format!("kf:{}:{}", entry.open_kfid, entry.external_userid)
}

/// The `event_type` of a 微信客服 event.
fn event_name(event: &KfEvent) -> &'static str {
    match event {
        KfEvent::EnterSession { .. } => "enter_session",
        KfEvent::MsgSendFail { .. } => "msg_send_fail",
        KfEvent::ServicerStatusChange { .. } => "servicer_status_change",
        KfEvent::SessionStatusChange { .. } => "session_status_change",
        _ => "other",
    }
}

/// What `kf/send_msg` carries of a piece: text, and uploaded images, videos and files.
fn kf_content(piece: &Piece) -> Option<KfContent> {
    match piece {
        Piece::Text(t) => Some(KfContent::text(t.as_str())),
        Piece::Image { media_id } => Some(KfContent::Image {
            media_id: media_id.clone(),
        }),
        Piece::Video { media_id, .. } => Some(KfContent::Video {
            media_id: media_id.clone(),
        }),
        Piece::File { media_id } => Some(KfContent::File {
            media_id: media_id.clone(),
        }),
        _ => None,
    }
}
