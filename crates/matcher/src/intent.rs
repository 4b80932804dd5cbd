//! Pluggable matching: the sync [`Matcher`] trait, async [`IntentMatcher`] plug-ins
//! (NLP), a keyword-weight intent plug-in, and the [`Chain`] that tries keyword rules,
//! then intents, then fallback rules.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::engine::Engine;
use crate::hit::Hit;
use crate::incoming::Incoming;
use crate::normalize::Normalizer;

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

/// What an intent plug-in recognized.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    /// The intent (rules fire on it with `intent = "…"`).
    pub name: String,
    /// 0 to 1.
    pub confidence: f32,
    /// Extracted entities, available to the reply as variables.
    pub entities: BTreeMap<String, String>,
}

/// An intent recognizer (an NLP service, a classifier).
#[async_trait]
pub trait IntentMatcher: Send + Sync + std::fmt::Debug {
    /// The intent of `incoming`, if it recognizes one.
    async fn detect(&self, incoming: &Incoming) -> Option<Intent>;
}

/// A simple intent plug-in: each intent is a set of weighted words; the confidence is the
/// sum of the weights of the words the text contains (capped at 1).
///
/// ```
/// use wecom_sdk_matcher::KeywordWeights;
/// let intents = KeywordWeights::new()
///     .intent("refund", &[("退款", 0.6), ("退货", 0.5), ("钱", 0.2)])
///     .intent("delivery", &[("快递", 0.5), ("物流", 0.5), ("到哪", 0.4)]);
/// let (name, confidence) = intents.classify("我想退货退款").expect("recognized");
/// assert_eq!(name, "refund");
/// assert!(confidence > 0.99);
/// ```
#[derive(Debug, Clone, Default)]
pub struct KeywordWeights {
    intents: Vec<(String, Vec<(String, f32)>)>,
    normalizer: Normalizer,
}

impl KeywordWeights {
    /// No intents yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an intent with its weighted words.
    #[must_use]
    pub fn intent(mut self, name: &str, words: &[(&str, f32)]) -> Self {
        let words = words
            .iter()
            .map(|(w, weight)| (self.normalizer.normalize(w), *weight))
            .filter(|(w, _)| !w.is_empty())
            .collect();
        self.intents.push((name.to_owned(), words));
        self
    }

    /// The best intent and its confidence, if any word matched.
    pub fn classify(&self, text: &str) -> Option<(&str, f32)> {
        let text = self.normalizer.normalize(text);
        self.intents
            .iter()
            .map(|(name, words)| {
                let score: f32 = words
                    .iter()
                    .filter(|(w, _)| text.contains(w.as_str()))
                    .map(|(_, weight)| weight)
                    .sum();
                (name.as_str(), score.min(1.0))
            })
            .filter(|&(_, score)| score > 0.0)
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

#[async_trait]
impl IntentMatcher for KeywordWeights {
    async fn detect(&self, incoming: &Incoming) -> Option<Intent> {
        self.classify(incoming.text())
            .map(|(name, confidence)| Intent {
                name: name.to_owned(),
                confidence,
                entities: BTreeMap::new(),
            })
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

    /// Keyword rules, then intents, then fallbacks.
    pub async fn find(&self, incoming: &Incoming) -> Option<Hit> {
        if let Some(hit) = self.engine.find_keywords(incoming) {
            return Some(hit);
        }
        for (matcher, min) in &self.intents {
            if let Some(intent) = matcher.detect(incoming).await
                && intent.confidence >= *min
                && let Some(hit) = self.engine.find_intent(incoming, &intent)
            {
                return Some(hit);
            }
        }
        self.engine.find_fallback(incoming)
    }
}
