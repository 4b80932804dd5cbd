//! Custom logic around the rules: async [`Handler`]s run before the matcher (an order
//! lookup that answers by itself) and after it (seeing the rule that fired).

use async_trait::async_trait;
use wecom_sdk_matcher::{AskedStep, Hit, Incoming, Part};
use wecom_sdk_message::aibot::AiBotMessage;
use wecom_sdk_message::callback::Message;
use wecom_sdk_message::kf::KfSyncedMessage;
use wecom_sdk_message::send::TemplateCard;

use crate::aibot::{MediaFetcher, TextStream};
use crate::error::HandlerError;
use crate::profile::Profile;

/// What a handler decided.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Flow {
    /// Go on: the next handler, the matcher, the rule's reply.
    Continue,
    /// Answer with these parts (before the matcher: the matcher is skipped; after it:
    /// they replace the rule's reply). Long texts are split, files uploaded, as for
    /// rules.
    Reply(Vec<Part>),
    /// Answer nothing and stop here.
    Stop,
    /// Answer with these parts and ask: the customer's next message is read in `step`
    /// (handlers see it in `cx.incoming.step()`), for the step's time-out.
    Ask {
        /// The reply (the question).
        parts: Vec<Part>,
        /// The step it opens.
        step: AskedStep,
    },
    /// Answer with text that arrives in pieces (an LLM's tokens, a lookup reporting
    /// progress). The AI bot streams it as it comes (WeCom shows the text growing); the
    /// other channels send the whole text once the stream ends.
    Stream(TextStream),
    /// Answer with a template card: the AI bot's welcome or reply, or — to a
    /// `template_card_event` — the clicked card's update (the bot fills in the clicked
    /// card's `task_id`). Other channels send its title and description as text.
    Card(Box<TemplateCard>),
}

impl Flow {
    /// Answer with one text.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Reply(vec![Part::Text(text.into())])
    }

    /// Ask `question` and read the next message in `step` for `timeout_secs`.
    pub fn ask(question: impl Into<String>, step: impl Into<String>, timeout_secs: u64) -> Self {
        Self::Ask {
            parts: vec![Part::Text(question.into())],
            step: AskedStep::new(step, timeout_secs),
        }
    }
}

/// What a handler sees.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Context<'a> {
    /// The app callback, parsed (for 微信客服: the `kf_msg_or_event` callback that
    /// started the sync; `None` for the AI bot, whose message is in `aibot`).
    pub message: Option<&'a Message>,
    /// The message as the matcher sees it (text or event, profile filled in, `at` =
    /// its `CreateTime`).
    pub incoming: &'a Incoming,
    /// The sender's profile (empty when none is known).
    pub profile: &'a Profile,
    /// The rule that fired: `None` before the matcher, or when no rule fired.
    pub hit: Option<&'a Hit>,
    /// The app this bot serves (its name in a multi-app router).
    pub app: &'a str,
    /// The 微信客服 entry being answered (`message` is then the `kf_msg_or_event`
    /// callback that started the sync; `incoming` is the customer's message).
    pub kf: Option<&'a KfSyncedMessage>,
    /// The AI-bot (智能机器人) message being answered (`incoming` has its text with the
    /// @-mentions taken out).
    pub aibot: Option<&'a AiBotMessage>,
    /// Downloads and decrypts the AI-bot message's images and files (AI bot only).
    pub media: Option<&'a MediaFetcher>,
}

impl<'a> Context<'a> {
    /// The context of an app callback.
    pub(crate) fn new(
        message: &'a Message,
        incoming: &'a Incoming,
        profile: &'a Profile,
        hit: Option<&'a Hit>,
        app: &'a str,
    ) -> Self {
        Self {
            message: Some(message),
            incoming,
            profile,
            hit,
            app,
            kf: None,
            aibot: None,
            media: None,
        }
    }
}

/// Custom logic: an order lookup, a CRM query, an LLM. A slow handler is fine: past the
/// passive-reply budget the bot answers WeCom at once and delivers through the active
/// API. An error releases the message's dedup claim and answers HTTP 500, so WeCom
/// re-delivers and the message is processed again.
///
/// ```
/// use async_trait::async_trait;
/// use wecom_sdk_bot::{Context, Flow, Handler, HandlerError};
///
/// #[derive(Debug)]
/// struct OrderLookup;
///
/// #[async_trait]
/// impl Handler for OrderLookup {
///     async fn handle(&self, cx: &Context<'_>) -> Result<Flow, HandlerError> {
///         match cx.incoming.text().strip_prefix("订单") {
///             Some(no) => Ok(Flow::text(format!("订单 {no} 已发货"))),
///             None => Ok(Flow::Continue),
///         }
///     }
/// }
/// ```
#[async_trait]
pub trait Handler: Send + Sync + std::fmt::Debug {
    /// Decides about one message.
    ///
    /// # Errors
    /// The handler could not decide (its service is down); the message is processed
    /// again on WeCom's re-delivery.
    async fn handle(&self, cx: &Context<'_>) -> Result<Flow, HandlerError>;
}
