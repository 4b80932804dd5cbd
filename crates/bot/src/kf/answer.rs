//! Answering one 微信客服 entry: profile, handlers and rules, `kf/send_msg` (or
//! `send_msg_on_event`), the hand-over to a human, the conversation step, the event
//! record.

use std::time::Duration;

use wecom_sdk_client::ClientError;
use wecom_sdk_matcher::{Action, AskedStep, Channel, Hit, Incoming};
use wecom_sdk_message::callback::Message;
use wecom_sdk_message::kf::{KfEvent, KfSyncedBody, KfSyncedMessage};
use wecom_sdk_message::send::{KfContent, KfEventMessage, KfMessage};

use super::KfChannel;
use crate::Bot;
use crate::conversation::OpenStep;
use crate::dedup::Answered;
use crate::event_log::EventRecord;
use crate::handler::Context;
use crate::pipeline::{Chosen, with_profile};
use crate::render::{Piece, plan};

/// WeCom's limit of `send_msg` messages per customer message.
const MAX_REPLIES: usize = 5;
/// `kf/send_msg`: more than five replies to one customer message.
const TOO_MANY_REPLIES: i64 = 95_001;
/// `kf/send_msg`: the customer's last message is more than 48 hours old.
const WINDOW_CLOSED: i64 = 95_002;
/// `kf/send_msg`: the session is with the queue or a human servicer.
const WITH_HUMAN: i64 = 95_018;
/// `service_state`: the queue (接待池), where a human servicer takes the session.
const STATE_QUEUE: u8 = 2;
/// `service_state`: a named human servicer.
const STATE_SERVICER: u8 = 3;
/// `origin` of a message a servicer sent from the WeCom client.
const ORIGIN_SERVICER: u8 = 5;
/// `session_status_change.change_type`: the session ended.
const SESSION_ENDED: u8 = 3;

/// What one entry came to (counted as `wecom_bot_kf_total{what}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Handled {
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
    /// A human servicer wrote to the customer (kept for the archive).
    HumanReply,
}

impl Handled {
    /// Its name in the metrics and the event log.
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Welcomed => "welcomed",
            Self::Unanswered => "unanswered",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
            Self::WithHuman => "with_human",
            Self::Session => "session_change",
            Self::SendFailed => "msg_send_fail",
            Self::HumanReply => "human_reply",
        }
    }
}

/// What answering one entry did, for its event record.
#[derive(Debug, Default)]
struct EntryTrace {
    rule: Option<String>,
    reply: Option<String>,
    variant: Option<String>,
    actions: Vec<String>,
    errors: Vec<String>,
}

impl Bot {
    /// One entry, exactly once by its `msgid`.
    pub(super) async fn kf_entry(
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
            (KfSyncedBody::Text { text }, ORIGIN_SERVICER) => {
                trace.reply = Some(text.content.clone());
                Handled::HumanReply
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
            // A servicer's text is the reply, not the customer's words.
            KfSyncedBody::Text { .. } if handled == Handled::HumanReply => ("text", None, None),
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
        sink.record_owned(EventRecord {
            at_ms: self.now_ms(),
            app: inner.app.clone(),
            channel: Channel::Kf,
            user: entry.external_userid.clone(),
            chat: None,
            msg_type: msg_type.to_owned(),
            event,
            text,
            rule: trace.rule,
            variant: trace.variant,
            reply: trace.reply,
            latency_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            delivery: delivery.to_owned(),
            outcome: handled.name().to_owned(),
            actions: trace.actions,
            errors: trace.errors,
            key: format!("kf:{}", entry.msgid),
        });
    }

    /// The rules' answer to `incoming` (nothing when no rule fires).
    async fn kf_hit(&self, incoming: &Incoming) -> KfHit {
        match self.find_counting(incoming).await {
            Some(hit) => self.kf_hit_of(hit, incoming.user_id()).await,
            None => KfHit::default(),
        }
    }

    /// What to answer `customer` for rule hit `hit` (counted; its links tracked).
    async fn kf_hit_of(&self, hit: Hit, customer: &str) -> KfHit {
        let (rule, variant, actions) = self.fired(&hit);
        let parts = self.track(&hit, customer, Channel::Kf).await;
        KfHit {
            pieces: plan(&parts, self.inner.engine.rules().sensitive_filter()),
            rule,
            variant,
            actions,
            ask: hit.ask,
        }
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

    /// Handlers before, the rules, handlers after, as for app messages (`choose`), with
    /// the customer's profile: what to answer, or `None` when a handler stopped or failed
    /// (a failure is counted and logged: the entry is not read again).
    async fn kf_decide(
        &self,
        entry: &KfSyncedMessage,
        incoming: &Incoming,
        profile: &crate::profile::Profile,
        callback: &Message,
    ) -> Option<KfHit> {
        let inner = &self.inner;
        let cx = Context {
            message: Some(callback),
            incoming,
            profile,
            hit: None,
            app: &inner.app,
            kf: Some(entry),
            aibot: None,
            media: None,
        };
        match self.choose(cx).await {
            Ok(chosen) => match chosen.settled().await {
                Chosen {
                    parts: Some(parts),
                    hit,
                    asked,
                    ..
                } => {
                    if let Some(hit) = &hit {
                        inner.metrics.rule_hit(hit.rule_id());
                    }
                    Some(KfHit {
                        pieces: plan(&parts, inner.engine.rules().sensitive_filter()),
                        ask: asked,
                        ..KfHit::default()
                    })
                }
                Chosen {
                    outcome: "handler_stop",
                    ..
                } => None,
                Chosen { hit: Some(hit), .. } => {
                    Some(self.kf_hit_of(hit, &entry.external_userid).await)
                }
                Chosen { .. } => Some(KfHit::default()),
            },
            Err(e) => {
                inner.metrics.count_kf("handler_failed");
                tracing::warn!(error = %e, msgid = %entry.msgid, "handler failed on a 微信客服 message: not answered");
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
        if sent > 0 {
            trace.reply = Some(crate::render::words(&hit.pieces, "\n"));
        }
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
        let hit = self.kf_hit(incoming).await;
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
                trace.reply = Some(crate::render::words(&hit.pieces, "\n"));
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
