//! The plug-in chain: the sync [`Matcher`] trait and the [`Chain`] that tries keyword
//! rules, then intent plug-ins, then fallback rules.

use std::sync::Arc;

use crate::engine::Engine;
use crate::evaluate::Stages;
use crate::hit::Hit;
use crate::incoming::Incoming;
use crate::intent::IntentMatcher;

/// Anything that picks a reply synchronously (the hot path).
pub trait Matcher: Send + Sync {
    /// The hit for `incoming`, if any.
    fn find(&self, incoming: &Incoming) -> Option<Hit>;
}

impl Matcher for Engine {
    fn find(&self, incoming: &Incoming) -> Option<Hit> {
        Engine::find(self, incoming)
    }
}

/// Keyword rules first, then intent plug-ins (in order, above a confidence), then the
/// fallback / off-hours rules.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use wecom_sdk_matcher::{Chain, Engine, Incoming, KeywordWeights, Rule, RuleSet};
/// let rules = RuleSet::new([
///     Rule::new("hours", "营业时间").contains("几点").reply("9:00–21:00"),
///     Rule::new("refund", "退款流程").on_intent("refund").reply("退款请在订单页申请"),
///     Rule::new("default", "兜底").fallback().reply("客服稍后回复"),
/// ])?;
/// let chain = Chain::new(Arc::new(Engine::new(rules)))
///     .intent(Arc::new(KeywordWeights::new().intent("refund", &[("退款", 0.9)])), 0.5);
/// let hit = chain.find(&Incoming::new("u", "我要退款")).await.expect("intent rule");
/// assert_eq!((hit.rule_id(), hit.intent.as_deref()), ("refund", Some("refund")));
/// assert_eq!(chain.find(&Incoming::new("u", "你好")).await.expect("fallback").rule_id(), "default");
/// # Ok::<(), wecom_sdk_matcher::RuleSetError>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Chain {
    engine: Arc<Engine>,
    intents: Vec<(Arc<dyn IntentMatcher>, f32)>,
}

impl Chain {
    /// A chain over `engine` with no intent plug-ins yet.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self {
            engine,
            intents: Vec::new(),
        }
    }

    /// Adds an intent plug-in whose answers count from `min_confidence` up.
    #[must_use]
    pub fn intent(mut self, matcher: Arc<dyn IntentMatcher>, min_confidence: f32) -> Self {
        self.intents.push((matcher, min_confidence));
        self
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Keyword rules, then intents, then fallbacks; the message is normalized and
    /// scanned once, and every stage reads the same rule set.
    pub async fn find(&self, incoming: &Incoming) -> Option<Hit> {
        let scan = self.engine.scan(incoming);
        if let Some(hit) = self.engine.first(&scan, incoming, Stages::Keywords) {
            return Some(hit);
        }
        for (matcher, min) in &self.intents {
            if let Some(intent) = matcher.detect(incoming).await
                && intent.confidence >= *min
                && let Some(hit) = self.engine.first(&scan, incoming, Stages::Intent(&intent))
            {
                return Some(hit);
            }
        }
        self.engine.first(&scan, incoming, Stages::Fallback)
    }
}
