//! The pipeline after dedup: loop guard → profile → handlers → match → handlers →
//! render ([`Bot::decide`]); and, once the HTTP answer is out, the active sends, the
//! actions and the event record ([`finish`]).

use std::sync::Arc;
use std::time::Instant;

use wecom_sdk_matcher::{Action, AskedStep, Hit, Incoming, Part};
use wecom_sdk_message::callback::{Body, Event, Message};
use wecom_sdk_message::send::TemplateCard;

use crate::Bot;
use crate::actions::Subject;
use crate::aibot::TextStream;
use crate::deliver::{send_active, send_welcome};
use crate::error::HandlerError;
use crate::event_log::EventRecord;
use crate::handler::{Context, Flow, Handler};
use crate::inbound::{Route, Routed, route};
use crate::metrics::Metrics;
use crate::profile::{Profile, Sender};
use crate::render::{Piece, plan};

/// How long a failed profile lookup is remembered (as an empty profile).
const FAILED_PROFILE_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// What `choose` found: a handler's answer (parts, a stream or a card), the hit, the
/// outcome, a handler's question.
#[derive(Debug, Default)]
pub(crate) struct Chosen {
    pub(crate) parts: Option<Vec<Part>>,
    pub(crate) stream: Option<TextStream>,
    pub(crate) card: Option<Box<TemplateCard>>,
    pub(crate) hit: Option<Hit>,
    pub(crate) outcome: &'static str,
    pub(crate) asked: Option<AskedStep>,
}

impl Chosen {
    /// A handler's answer `flow` (with the rule's `hit`), or `None` when it continued.
    fn of(flow: Flow, hit: Option<Hit>) -> Option<Self> {
        let answer = Self {
            hit,
            outcome: "handler_reply",
            ..Self::default()
        };
        Some(match flow {
            Flow::Continue => return None,
            Flow::Reply(parts) => Self {
                parts: Some(parts),
                ..answer
            },
            Flow::Ask { parts, step } => Self {
                parts: Some(parts),
                asked: Some(step),
                ..answer
            },
            Flow::Stream(stream) => Self {
                stream: Some(stream),
                ..answer
            },
            Flow::Card(card) => Self {
                card: Some(card),
                ..answer
            },
            Flow::Stop => Self {
                outcome: "handler_stop",
                ..Self::default()
            },
        })
    }

    /// For channels that send whole messages: a stream read to its end, a card as its
    /// text.
    pub(crate) async fn settled(mut self) -> Self {
        if let Some(stream) = self.stream.take() {
            self.parts = Some(vec![Part::Text(stream.collect().await)]);
        }
        if let Some(card) = self.card.take() {
            self.parts = Some(vec![Part::Text(card_text(&card))]);
        }
        self
    }
}

/// A card's words, for a channel that cannot show the card.
fn card_text(card: &TemplateCard) -> String {
    let title = card.main_title.as_ref();
    [
        title.and_then(|t| t.title.as_deref()),
        title.and_then(|t| t.desc.as_deref()),
        card.sub_title_text.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("\n")
}

/// What the pipeline decided for one message.
#[derive(Debug)]
pub(crate) struct Decision {
    pub(crate) routed: Routed,
    pub(crate) message: Arc<Message>,
    pub(crate) profile: Profile,
    pub(crate) pieces: Vec<Piece>,
    pub(crate) rule: Option<String>,
    pub(crate) variant: Option<String>,
    pub(crate) actions: Vec<Action>,
    pub(crate) outcome: &'static str,
    pub(crate) started: Instant,
    pub(crate) decided_ms: u64,
}

impl Bot {
    /// Decides the answer to one message (run on its own task, under the budget).
    pub(crate) async fn decide(&self, message: &Arc<Message>) -> Result<Decision, HandlerError> {
        let started = Instant::now();
        let inner = &self.inner;
        let mut routed = route(message);
        let early = |routed, outcome| {
            Decision::new(routed, message, Profile::default(), started, outcome).decided()
        };
        // Loop guard: the bot's own messages (and callbacks with no sender) never fire.
        let from = message.header.from.as_str();
        if from.is_empty()
            || inner
                .own_ids
                .iter()
                .any(|id| id == from || *id == routed.user)
        {
            return Ok(early(routed, "own_message"));
        }
        if let Body::Event(Event::KfMsgOrEvent { token, open_kf_id }) = &message.body {
            // Read with kf/sync_msg on a task; the callback itself is answered empty.
            let outcome = if self.kf_notify(message, open_kf_id, token) {
                "kf_sync"
            } else {
                "kf_not_served"
            };
            return Ok(early(routed, outcome));
        }
        let profile = self.profile(&routed).await;
        routed.incoming = with_profile(std::mem::take(&mut routed.incoming), &profile);
        if routed.staff.is_none() {
            routed.staff.clone_from(&profile.staff);
        }

        // A text answers the question (conversation step) its sender is in, if any.
        let conversation = message.text().map(|_| {
            crate::conversation::conversation_key(
                routed.channel,
                routed.chat.as_deref(),
                &routed.user,
            )
        });
        let open = match &conversation {
            Some(key) => self.step_of(key).await,
            None => None,
        };
        if let Some(open) = &open {
            routed.incoming = std::mem::take(&mut routed.incoming).in_step(open.step.as_str());
        }
        let cx = Context::new(message, &routed.incoming, &profile, None, &inner.app);
        let Chosen {
            parts,
            hit,
            outcome,
            asked,
            ..
        } = self.choose(cx).await?.settled().await;
        if let Some(key) = conversation {
            let asked = asked.or_else(|| hit.as_ref().and_then(|h| h.ask.clone()));
            let kept = self.keep_step(&key, open.as_ref(), asked.as_ref()).await;
            if let (Some(step), Some(asked)) = (kept, &asked)
                && asked.has_timeout_reply
            {
                self.app_time_out(&routed, key, step);
            }
        }
        let mut decision = Decision::new(routed, message, profile, started, outcome);
        let mut parts = parts;
        if let Some(h) = &hit {
            (decision.rule, decision.variant, decision.actions) = self.fired(h);
            if parts.is_none() {
                decision.outcome = "answered";
                let routed = &decision.routed;
                parts = Some(self.track(h, &routed.user, routed.channel).await);
            }
        }
        decision.pieces = parts
            .map(|p| plan(&p, inner.engine.rules().sensitive_filter()))
            .unwrap_or_default();
        if decision.pieces.is_empty() && decision.outcome == "answered" {
            decision.outcome = "actions_only";
        }
        if let Route::Nowhere(_) = decision.routed.route
            && !decision.pieces.is_empty()
        {
            decision.outcome = "no_route";
        }
        Ok(decision.decided())
    }

    /// Handlers before, the rules, handlers after (each seeing `cx`, the after-handlers
    /// with the hit): the parts a handler answered with (if one did), the rule that
    /// fired, the outcome so far, and the step a handler's answer asks. The 微信客服
    /// channel runs the same.
    pub(crate) async fn choose(&self, cx: Context<'_>) -> Result<Chosen, HandlerError> {
        let inner = &self.inner;
        if let Some(chosen) = Chosen::of(run(&inner.before, &cx).await?, None) {
            return Ok(chosen);
        }
        let hit = self.find_counting(cx.incoming).await;
        let after = Context {
            hit: hit.as_ref(),
            ..cx
        };
        let flow = run(&inner.after, &after).await?;
        Ok(Chosen::of(flow, hit.clone()).unwrap_or(Chosen {
            hit,
            outcome: "no_rule",
            ..Chosen::default()
        }))
    }

    /// What a rule's hit brings to a decision — its id, variant and actions — counted
    /// (the rule's hits, the variant's impression in a shared variant store).
    pub(crate) fn fired(&self, h: &Hit) -> (Option<String>, Option<String>, Vec<Action>) {
        self.inner.metrics.rule_hit(h.rule_id());
        if let Some(v) = &h.variant {
            self.share_variant(h.rule_id(), v, crate::links::Count::Impression);
        }
        (
            Some(h.rule_id().to_owned()),
            h.variant.clone(),
            h.actions.clone(),
        )
    }

    /// Performs `actions` for `subject`: one line each for the event log (failures
    /// counted).
    pub(crate) async fn perform_actions(
        &self,
        actions: &[Action],
        subject: &Subject<'_>,
    ) -> Vec<String> {
        let inner = &self.inner;
        let (lines, failed) = inner
            .actions
            .perform(inner.client.as_ref(), actions, subject)
            .await;
        Metrics::add(&inner.metrics.action_failures, failed);
        lines
    }

    /// The rules' hit for `incoming`, counting limits in the shared store — or, when it
    /// fails (counted), in this process's.
    pub(crate) async fn find_counting(&self, incoming: &Incoming) -> Option<Hit> {
        let engine = &self.inner.engine;
        match engine.find_shared(incoming).await {
            Ok(hit) => hit,
            Err(e) => {
                Metrics::incr(&self.inner.metrics.store_errors);
                tracing::warn!(error = %e, "counter store failed: matching with local counters");
                engine.find(incoming)
            }
        }
    }

    /// Sends the step's time-out reply actively (`message/send`) when `open` times out
    /// unanswered (with a client, to a member the app can write to).
    fn app_time_out(&self, routed: &Routed, key: String, open: crate::conversation::OpenStep) {
        let (Some(_), Route::Passive(target) | Route::Active(target)) =
            (&self.inner.client, &routed.route)
        else {
            return;
        };
        let target = target.clone();
        let incoming = Incoming::new(routed.user.as_str(), "")
            .channel(routed.channel)
            .step_timed_out(open.step.as_str());
        self.on_time_out(key, open, incoming, move |bot, pieces| async move {
            let inner = &bot.inner;
            let Some(client) = &inner.client else { return };
            let sent = send_active(
                client,
                &inner.media,
                &inner.media_dir,
                &target,
                &pieces,
                inner.clock.now(),
            )
            .await;
            count(&inner.metrics, &sent);
            for error in &sent.errors {
                tracing::warn!(error, "the time-out reply was not sent");
            }
        });
    }

    /// The sender's profile: cached, else from the provider; empty when it fails.
    async fn profile(&self, routed: &Routed) -> Profile {
        self.profile_of(&routed.user, routed.channel).await
    }

    /// The profile of `user` on `channel`: cached, else from the provider; empty when it
    /// fails.
    pub(crate) async fn profile_of(
        &self,
        user: &str,
        channel: wecom_sdk_matcher::Channel,
    ) -> Profile {
        let inner = &self.inner;
        let Some(provider) = &inner.profiles else {
            return Profile::default();
        };
        if user.is_empty() || user == "sys" {
            return Profile::default();
        }
        let now = inner.clock.now();
        if let Some(p) = inner.profile_cache.get(user, now) {
            return p;
        }
        let sender = Sender {
            user_id: user,
            channel,
        };
        match provider.profile(sender).await {
            Ok(p) => {
                inner.profile_cache.put(user, p.clone(), now);
                p
            }
            Err(e) => {
                Metrics::incr(&inner.metrics.profile_errors);
                tracing::warn!(user, error = %e, "profile lookup failed: answering without a profile");
                inner
                    .profile_cache
                    .put_for(user, Profile::default(), now, FAILED_PROFILE_TTL);
                Profile::default()
            }
        }
    }
}

impl Decision {
    /// A decision with nothing to send yet.
    fn new(
        routed: Routed,
        message: &Arc<Message>,
        profile: Profile,
        started: Instant,
        outcome: &'static str,
    ) -> Self {
        Self {
            routed,
            message: Arc::clone(message),
            profile,
            pieces: Vec::new(),
            rule: None,
            variant: None,
            actions: Vec::new(),
            outcome,
            started,
            decided_ms: 0,
        }
    }

    fn decided(mut self) -> Self {
        self.decided_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// The pieces still to send actively once the first `sent` went passively: none when
    /// the route goes nowhere.
    pub(crate) fn pending(&self, sent: usize) -> &[Piece] {
        match self.routed.route {
            Route::Nowhere(_) => &[],
            _ => self.pieces.get(sent..).unwrap_or_default(),
        }
    }
}

/// Runs handlers in order until one does not continue.
/// Runs `handlers` in order until one answers or stops.
async fn run(handlers: &[Arc<dyn Handler>], cx: &Context<'_>) -> Result<Flow, HandlerError> {
    for handler in handlers {
        match handler.handle(cx).await? {
            Flow::Continue => {}
            other => return Ok(other),
        }
    }
    Ok(Flow::Continue)
}

pub(crate) fn with_profile(mut incoming: Incoming, profile: &Profile) -> Incoming {
    if let Some(n) = &profile.nickname {
        incoming = incoming.nickname(n.clone());
    }
    if !profile.tags.is_empty() {
        incoming = incoming.tags(profile.tags.iter().cloned());
    }
    if !profile.departments.is_empty() {
        incoming = incoming.departments(profile.departments.iter().copied());
    }
    incoming = incoming.customer(profile.customer);
    for (k, v) in &profile.attrs {
        incoming = incoming.attr(k.clone(), v.clone());
    }
    incoming
}

/// After the HTTP answer: the active sends (the pieces after the first `sent`, or the
/// welcome), the actions, and the event record.
pub(crate) async fn finish(bot: &Bot, d: Decision, delivery: &'static str, sent: usize) {
    let inner = &bot.inner;
    let now = inner.clock.now();
    let mut errors = Vec::new();
    let mut delivery = delivery;
    let pending = d.pending(sent);
    if !pending.is_empty() {
        match (&inner.client, &d.routed.route) {
            (None, _) => {
                errors.push("no client: the bot cannot send actively".to_owned());
            }
            (Some(client), Route::Welcome(code)) => {
                delivery = "welcome";
                let sent =
                    send_welcome(client, &inner.media, &inner.media_dir, code, pending, now).await;
                count(&inner.metrics, &sent);
                errors.extend(sent.errors);
            }
            (Some(client), Route::Passive(target) | Route::Active(target)) => {
                let sent =
                    send_active(client, &inner.media, &inner.media_dir, target, pending, now).await;
                count(&inner.metrics, &sent);
                errors.extend(sent.errors);
            }
            (Some(_), Route::Nowhere(_)) => {}
        }
    }
    if !errors.is_empty() {
        for e in &errors {
            tracing::warn!(error = %e, "active send failed");
        }
        if delivery != "passive+active" {
            delivery = "failed";
        }
    }
    let text = d.message.text().map(std::borrow::Cow::into_owned);
    let mut actions = Vec::new();
    if !d.actions.is_empty() {
        let subject = Subject::new(
            &inner.app,
            &d.routed.user,
            d.routed.staff.as_deref(),
            d.profile.nickname.as_ref(),
            text.as_deref(),
            d.rule.as_deref(),
        );
        actions = bot.perform_actions(&d.actions, &subject).await;
    }
    record(bot, &d, delivery, actions, errors);
}

/// Writes the event record of `d`, when the bot has a sink.
pub(crate) fn record(
    bot: &Bot,
    d: &Decision,
    delivery: &str,
    actions: Vec<String>,
    errors: Vec<String>,
) {
    let inner = &bot.inner;
    let Some(sink) = &inner.sink else { return };
    let at_ms = bot.now_ms();
    sink.record_owned(EventRecord {
        at_ms,
        app: inner.app.clone(),
        channel: d.routed.channel,
        user: d.routed.user.clone(),
        chat: d.routed.chat.clone(),
        msg_type: d.message.body.type_name().to_owned(),
        event: d.routed.event.clone(),
        text: d.message.text().map(std::borrow::Cow::into_owned),
        rule: d.rule.clone(),
        variant: d.variant.clone(),
        reply: answered_words(&d.pieces, delivery),
        latency_ms: d.decided_ms,
        delivery: delivery.to_owned(),
        outcome: d.outcome.to_owned(),
        actions,
        errors,
        key: d.message.dedup_key(),
    });
}

/// The words of an answer that went out (`None` when nothing was delivered).
fn answered_words(pieces: &[Piece], delivery: &str) -> Option<String> {
    if pieces.is_empty() || matches!(delivery, "none" | "failed") {
        return None;
    }
    Some(crate::render::words(pieces, "\n"))
}

fn count(metrics: &Metrics, sent: &crate::deliver::Sent) {
    Metrics::add(&metrics.active_sent, sent.ok);
    Metrics::add(&metrics.active_failures, sent.errors.len());
}
