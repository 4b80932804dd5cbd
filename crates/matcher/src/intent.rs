//! Intent plug-ins: the async [`IntentMatcher`] trait (an NLP service, a classifier) and
//! [`KeywordWeights`], a simple keyword-weight plug-in.

use async_trait::async_trait;
use std::collections::BTreeMap;

use crate::hit::Intent;
use crate::incoming::Incoming;
use crate::normalize::Normalizer;

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
