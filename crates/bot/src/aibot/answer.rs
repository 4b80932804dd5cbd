//! Deciding one AI-bot message — the app pipeline's profile, conversation step and
//! `choose` — and turning the decision into WeCom's first reply (a stream, a welcome, a
//! card update), the actions and the event record.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wecom_sdk_matcher::{Action, Channel, Incoming};
use wecom_sdk_message::aibot::{
    AiBotBody, AiBotEvent, AiBotMessage, AiBotReply, STREAM_MAX_BYTES, StreamReply,
};
use wecom_sdk_message::send::TemplateCard;

use super::AiBotChannel;
use super::produce::{Outlet, cut_to};
use super::stream::{StreamState, TextStream};
use crate::Bot;
use crate::actions::Subject;
use crate::bot::unix_ms;
use crate::error::HandlerError;
use crate::event_log::EventRecord;
use crate::handler::Context;
use crate::pipeline::{Chosen, with_profile};
use crate::render::{Piece, plan};

/// What the pipeline decided for one AI-bot message.
#[derive(Debug, Default)]
pub(crate) struct AiDecision {
    pub(crate) answer: AiAnswer,
    rule: Option<String>,
    variant: Option<String>,
    actions: Vec<Action>,
    pub(crate) outcome: &'static str,
    nickname: Option<String>,
    latency_ms: u64,
}

/// The answer, in WeCom's AI-bot shapes.
#[derive(Debug, Default)]
pub(crate) enum AiAnswer {
    /// Nothing to answer.
    #[default]
    Nothing,
    /// A complete answer: markdown text and/or a card.
    Whole {
        content: String,
        card: Option<Box<TemplateCard>>,
    },
    /// Text arriving in pieces.
    Stream(TextStream),
    /// The welcome of `enter_chat`.
    Welcome(Box<AiBotReply>),
    /// The update of the clicked card.
    CardUpdate(Box<TemplateCard>),
}

impl Bot {
    /// The first reply to `message` (within `remaining` of the budget), with streams,
    /// actions and the event record started on tasks of their own. Past the budget a
    /// message is answered with an open stream that the late decision fills.
    pub(crate) async fn ai_first_reply(
        &self,
        ai: &AiBotChannel,
        message: Arc<AiBotMessage>,
        remaining: Duration,
        outlet: Outlet,
    ) -> Result<Option<AiBotReply>, HandlerError> {
        let started = Instant::now();
        let bot = self.clone();
        let decided = Arc::clone(&message);
        let mut work = Box::pin(async move { bot.ai_decide(&decided).await });
        match tokio::time::timeout(remaining, &mut work).await {
            Ok(decision) => {
                let decision = decision?;
                Ok(self
                    .ai_deliver(
                        ai,
                        &message,
                        decision,
                        outlet,
                        remaining.saturating_sub(started.elapsed()),
                    )
                    .await)
            }
            Err(_) if is_question(&message) => {
                // An open stream now; polls (or pushed frames) get the answer when ready.
                self.inner.metrics.count_ai("deferred");
                let id = message.msgid.clone();
                let first = AiBotReply::Stream(StreamReply::new(id.as_str(), "", false));
                let state = StreamState::new(unix_ms(self.inner.clock.now()));
                self.ai_put(ai, &id, &state).await;
                let bot = self.clone();
                self.inner.tracker.spawn(async move {
                    let Some(ai) = bot.inner.aibot.as_ref() else { return };
                    match work.await {
                        Ok(decision) => bot.ai_late(ai, &message, decision, state, outlet).await,
                        Err(e) => {
                            tracing::warn!(error = %e, "AI-bot handler failed after the budget: the stream ends empty");
                            bot.inner.metrics.count_ai("handler_failed");
                            let mut state = state;
                            state.finish = true;
                            bot.ai_put(ai, &id, &state).await;
                        }
                    }
                });
                Ok(Some(first))
            }
            Err(_) => {
                // An event: WeCom takes its answer within 5 s only; finish the work anyway.
                self.inner.metrics.count_ai("late_event");
                let bot = self.clone();
                self.inner.tracker.spawn(async move {
                    if let Ok(decision) = work.await {
                        bot.ai_after(&message, decision, "late", None);
                    }
                });
                Ok(None)
            }
        }
    }

    /// A decision that came after the budget, into the open stream `state`.
    async fn ai_late(
        &self,
        ai: &AiBotChannel,
        message: &Arc<AiBotMessage>,
        decision: AiDecision,
        state: StreamState,
        outlet: Outlet,
    ) {
        let mut decision = decision;
        let answer = std::mem::take(&mut decision.answer);
        let pieces = match answer {
            AiAnswer::Stream(stream) => stream,
            AiAnswer::Whole { content, .. } => {
                TextStream::new(futures_util::stream::iter([content]))
            }
            _ => TextStream::new(futures_util::stream::empty()),
        };
        let state = self.produce(ai, message, pieces, state, outlet, None).await;
        self.ai_after(message, decision, "stream", Some(state.content));
    }

    /// The first reply of a decision made in time.
    async fn ai_deliver(
        &self,
        ai: &AiBotChannel,
        message: &Arc<AiBotMessage>,
        mut decision: AiDecision,
        outlet: Outlet,
        remaining: Duration,
    ) -> Option<AiBotReply> {
        let answer = std::mem::take(&mut decision.answer);
        let mut decision = Some(decision);
        let (reply, delivery) = match answer {
            AiAnswer::Nothing => (None, "none"),
            AiAnswer::Welcome(reply) => (Some(*reply), "welcome"),
            AiAnswer::CardUpdate(card) => (
                Some(AiBotReply::UpdateTemplateCard {
                    userids: vec![message.from_user.clone()],
                    card: *card,
                }),
                "card_update",
            ),
            AiAnswer::Whole { content, card } => {
                let stream = || StreamReply::new(message.msgid.clone(), content.clone(), true);
                let reply = match card {
                    Some(card) if content.is_empty() => AiBotReply::TemplateCard(*card),
                    Some(card) => AiBotReply::StreamWithTemplateCard {
                        stream: stream(),
                        card: *card,
                    },
                    None => AiBotReply::Stream(stream()),
                };
                (Some(reply), "passive")
            }
            AiAnswer::Stream(stream) => {
                let state = StreamState::new(unix_ms(self.inner.clock.now()));
                let (first_tx, first_rx) = tokio::sync::oneshot::channel();
                let bot = self.clone();
                let msg = Arc::clone(message);
                // The producer hands over its first state after one flush interval.
                let wait = remaining.max(ai.flush * 2);
                let decided = decision.take();
                self.inner.tracker.spawn(async move {
                    if let Some(ai) = bot.inner.aibot.as_ref() {
                        let last = bot
                            .produce(ai, &msg, stream, state, outlet, Some(first_tx))
                            .await;
                        if let Some(decided) = decided {
                            bot.ai_after(&msg, decided, "stream", Some(last.content));
                        }
                    }
                });
                // The first reply shows what came within a moment (else an empty start).
                let first = tokio::time::timeout(wait, first_rx)
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                (
                    Some(AiBotReply::Stream(super::stream_reply(
                        &message.msgid,
                        &first,
                    ))),
                    "stream",
                )
            }
        };
        let reply = reply.filter(|r| match r.validate() {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "the AI-bot reply breaks WeCom's limits: not sent");
                self.inner.metrics.count_ai("reply_invalid");
                false
            }
        });
        if let Some(decision) = decision {
            let words = reply.as_ref().map(reply_words);
            self.ai_after(message, decision, delivery, words);
        }
        reply
    }

    /// Decides one message: loop guard, profile, conversation step, handlers and rules.
    pub(crate) async fn ai_decide(
        &self,
        message: &AiBotMessage,
    ) -> Result<AiDecision, HandlerError> {
        let started = Instant::now();
        let inner = &self.inner;
        let Some(ai) = inner.aibot.as_ref() else {
            return Ok(AiDecision::default());
        };
        let user = message.from_user.as_str();
        if user.is_empty() || inner.own_ids.iter().any(|id| id == user) {
            self.inner.metrics.count_ai("own_message");
            return Ok(AiDecision {
                outcome: "own_message",
                ..AiDecision::default()
            });
        }
        let (mut incoming, kind) = match &message.body {
            AiBotBody::Event(AiBotEvent::EnterChat) => {
                (Incoming::event(user, "enter_chat", ""), Kind::Welcome)
            }
            AiBotBody::Event(AiBotEvent::TemplateCard { event_key, task_id }) => (
                Incoming::event(user, "template_card_event", event_key.as_str()),
                Kind::CardClick(task_id.clone()),
            ),
            AiBotBody::Event(AiBotEvent::Feedback(_)) => {
                self.inner.metrics.count_ai("feedback");
                return Ok(AiDecision {
                    outcome: "feedback",
                    ..AiDecision::default()
                });
            }
            AiBotBody::Event(_) => {
                return Ok(AiDecision {
                    outcome: "ignored",
                    ..AiDecision::default()
                });
            }
            _ => {
                let text = message
                    .text()
                    .map(|t| strip_mentions(&t))
                    .unwrap_or_default();
                (Incoming::new(user, text), Kind::Question)
            }
        };
        incoming = incoming
            .channel(Channel::AiBot)
            .attr("chattype", message.chattype.clone());
        if let Some(at) = message.create_time {
            incoming = incoming.at_unix(at);
        }
        if let Some(chat) = &message.chatid {
            incoming = incoming.chat_id(chat.clone());
        }
        let profile = self.profile_of(user, Channel::AiBot).await;
        incoming = with_profile(incoming, &profile);
        let conversation = matches!(kind, Kind::Question).then(|| {
            crate::conversation::conversation_key(Channel::AiBot, message.chatid.as_deref(), user)
        });
        let open = match &conversation {
            Some(key) => self.step_of(key).await,
            None => None,
        };
        if let Some(open) = &open {
            incoming = incoming.in_step(open.step.as_str());
        }
        let cx = Context {
            message: None,
            incoming: &incoming,
            profile: &profile,
            hit: None,
            app: &inner.app,
            kf: None,
            aibot: Some(message),
            media: Some(&ai.media),
        };
        let chosen = self.choose(cx).await?;
        if let Some(key) = &conversation {
            let asked = chosen
                .asked
                .clone()
                .or_else(|| chosen.hit.as_ref().and_then(|h| h.ask.clone()));
            self.keep_step(key, open.as_ref(), asked.as_ref()).await;
        }
        let mut decision = self.ai_answer(chosen, &kind, user).await;
        decision.nickname.clone_from(&profile.nickname);
        decision.latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(decision)
    }

    /// What `chosen` answers `user`'s message of `kind` (a rule's links tracked).
    async fn ai_answer(&self, chosen: Chosen, kind: &Kind, user: &str) -> AiDecision {
        let inner = &self.inner;
        let Chosen {
            parts,
            stream,
            card,
            hit,
            outcome,
            ..
        } = chosen;
        let mut decision = AiDecision {
            outcome,
            ..AiDecision::default()
        };
        let mut parts = parts;
        if let Some(h) = &hit {
            (decision.rule, decision.variant, decision.actions) = self.fired(h);
            if parts.is_none() && stream.is_none() && card.is_none() {
                decision.outcome = "answered";
                parts = Some(self.track(h, user, Channel::AiBot).await);
            }
        }
        let content = parts
            .map(|p| markdown(&plan(&p, inner.engine.rules().sensitive_filter())))
            .unwrap_or_default();
        decision.answer = match kind {
            Kind::Question => match (stream, card) {
                (Some(stream), _) => AiAnswer::Stream(stream),
                (None, card) if card.is_some() || !content.is_empty() => {
                    AiAnswer::Whole { content, card }
                }
                _ => AiAnswer::Nothing,
            },
            Kind::Welcome => match card {
                Some(card) => AiAnswer::Welcome(Box::new(AiBotReply::TemplateCard(*card))),
                None if !content.is_empty() => AiAnswer::Welcome(Box::new(AiBotReply::Text {
                    content: cut_to(content, 2048),
                })),
                None => AiAnswer::Nothing,
            },
            Kind::CardClick(task_id) => {
                if let Some(mut card) = card {
                    card.task_id = Some(task_id.clone());
                    AiAnswer::CardUpdate(card)
                } else {
                    if !content.is_empty() {
                        tracing::info!(
                            "a template_card_event is answered with a card update only: the text is not sent"
                        );
                    }
                    AiAnswer::Nothing
                }
            }
        };
        if matches!(decision.answer, AiAnswer::Nothing) && decision.outcome == "answered" {
            decision.outcome = "actions_only";
        }
        decision
    }

    /// After the first reply: the actions and the event record, on a task.
    pub(crate) fn ai_after(
        &self,
        message: &Arc<AiBotMessage>,
        decision: AiDecision,
        delivery: &'static str,
        reply: Option<String>,
    ) {
        // Feedback, the bot's own messages and other events were counted as what they
        // are: no question went unanswered.
        if !matches!(decision.outcome, "feedback" | "own_message" | "ignored") {
            self.inner.metrics.count_ai(match delivery {
                "none" => "unanswered",
                "welcome" => "welcomed",
                "card_update" => "card_updated",
                "stream" => "streamed",
                "late" => "late_event",
                _ => "answered",
            });
        }
        let text = message.text().map(|t| strip_mentions(&t));
        if decision.actions.is_empty() {
            // Nothing slow to do: the record is written here, without a task.
            self.ai_record(message, &decision, delivery, text, reply, Vec::new());
            return;
        }
        let bot = self.clone();
        let message = Arc::clone(message);
        self.inner.tracker.spawn(async move {
            let subject = Subject::new(
                &bot.inner.app,
                &message.from_user,
                None,
                decision.nickname.as_ref(),
                text.as_deref(),
                decision.rule.as_deref(),
            );
            let actions = bot.perform_actions(&decision.actions, &subject).await;
            bot.ai_record(&message, &decision, delivery, text, reply, actions);
        });
    }

    fn ai_record(
        &self,
        message: &AiBotMessage,
        decision: &AiDecision,
        delivery: &str,
        text: Option<String>,
        reply: Option<String>,
        actions: Vec<String>,
    ) {
        let inner = &self.inner;
        let Some(sink) = &inner.sink else { return };
        let (msg_type, event) = match &message.body {
            AiBotBody::Event(event) => ("event", Some(event_name(event))),
            body => (body_name(body), None),
        };
        let text = match &message.body {
            AiBotBody::Event(AiBotEvent::Feedback(raw)) => Some(raw.to_string()),
            _ => text,
        };
        sink.record_owned(EventRecord {
            at_ms: self.now_ms(),
            app: inner.app.clone(),
            channel: Channel::AiBot,
            user: message.from_user.clone(),
            chat: message.chatid.clone(),
            msg_type: msg_type.to_owned(),
            event,
            text,
            rule: decision.rule.clone(),
            variant: decision.variant.clone(),
            reply,
            latency_ms: decision.latency_ms,
            delivery: delivery.to_owned(),
            outcome: decision.outcome.to_owned(),
            actions,
            errors: Vec::new(),
            key: format!("aibot:{}", message.msgid),
        });
    }
}

/// The words of a reply for the archive: its text, or its card's title.
fn reply_words(reply: &AiBotReply) -> String {
    let card_title = |card: &TemplateCard| {
        card.main_title
            .as_ref()
            .and_then(|t| t.title.clone())
            .unwrap_or_default()
    };
    match reply {
        AiBotReply::Text { content } => content.clone(),
        AiBotReply::Stream(s) => s.content.clone(),
        AiBotReply::StreamWithTemplateCard { stream, .. } => stream.content.clone(),
        AiBotReply::TemplateCard(card) | AiBotReply::UpdateTemplateCard { card, .. } => {
            card_title(card)
        }
        _ => String::new(),
    }
}

/// What kind of answer a message takes.
enum Kind {
    /// A message: a stream (or card).
    Question,
    /// `enter_chat`: a welcome.
    Welcome,
    /// `template_card_event`: an update of the card with this `task_id`.
    CardClick(String),
}

/// Whether `message` is answered with a stream (not an event).
fn is_question(message: &AiBotMessage) -> bool {
    !matches!(
        message.body,
        AiBotBody::Event(_) | AiBotBody::StreamRefresh { .. }
    )
}

/// The text of `pieces` as one markdown answer (media, which AI-bot streams cannot
/// carry, is left out).
fn markdown(pieces: &[Piece]) -> String {
    cut_to(crate::render::words(pieces, "\n\n"), STREAM_MAX_BYTES)
}

/// `text` without @-mentions: every word starting with `@` (at the start or after a
/// space; WeCom puts U+2005 after a mention) is taken out, and the rest trimmed.
/// `a@b.com` is kept.
pub(crate) fn strip_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at_word_start = true;
    let mut in_mention = false;
    for c in text.chars() {
        let space = c.is_whitespace();
        if in_mention {
            if space {
                in_mention = false;
                at_word_start = true;
            }
            continue;
        }
        if c == '@' && at_word_start {
            in_mention = true;
            continue;
        }
        at_word_start = space;
        if !(space && out.ends_with(char::is_whitespace)) {
            out.push(if space { ' ' } else { c });
        }
    }
    out.trim().to_owned()
}

fn body_name(body: &AiBotBody) -> &'static str {
    match body {
        AiBotBody::Text { .. } => "text",
        AiBotBody::Image(_) => "image",
        AiBotBody::Mixed { .. } => "mixed",
        AiBotBody::Voice { .. } => "voice",
        AiBotBody::File(_) => "file",
        AiBotBody::Video(_) => "video",
        AiBotBody::StreamRefresh { .. } => "stream",
        _ => "other",
    }
}

fn event_name(event: &AiBotEvent) -> String {
    match event {
        AiBotEvent::EnterChat => "enter_chat".to_owned(),
        AiBotEvent::TemplateCard { event_key, .. } => format!("template_card_event:{event_key}"),
        AiBotEvent::Feedback(_) => "feedback_event".to_owned(),
        AiBotEvent::Disconnected => "disconnected_event".to_owned(),
        AiBotEvent::Unknown { eventtype, .. } => eventtype.clone(),
        _ => "other".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::strip_mentions;

    #[test]
    fn mentions_are_taken_out_and_emails_kept() {
        assert_eq!(
            strip_mentions("@客服小助手\u{2005}查快递 SF123"),
            "查快递 SF123"
        );
        assert_eq!(strip_mentions("查快递 @小助手 SF123"), "查快递 SF123");
        assert_eq!(strip_mentions("@a @b   营业时间"), "营业时间");
        assert_eq!(strip_mentions("mail a@b.com"), "mail a@b.com");
        assert_eq!(strip_mentions("@小助手"), "");
        assert_eq!(strip_mentions(""), "");
    }
}
