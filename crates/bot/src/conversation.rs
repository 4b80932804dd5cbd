//! Conversations: which question (a rule's [`Ask`](wecom_sdk_matcher::Ask)) a customer
//! is answering, kept per channel and customer for the step's time-out.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use wecom_sdk_matcher::{AskedStep, Incoming};

use crate::Bot;
use crate::bot::unix_ms;
use crate::error::StoreError;
use crate::metrics::Metrics;
use crate::render::{Piece, plan};

/// The conversation key of `user` on `channel` (in group chat `chat`, if any).
pub(crate) fn conversation_key(
    channel: wecom_sdk_matcher::Channel,
    chat: Option<&str>,
    user: &str,
) -> String {
    format!("{channel:?}:{}:{user}", chat.unwrap_or("-"))
}

/// How long a step's record outlives its time-out (so the time-out reply finds it).
const STEP_GRACE: Duration = Duration::from_secs(60);

impl Bot {
    /// The step `key` is in now (a failing store counts and answers outside any step).
    pub(crate) async fn step_of(&self, key: &str) -> Option<OpenStep> {
        let now_ms = unix_ms(self.inner.clock.now());
        match self.inner.conversations.get(key).await {
            Ok(step) => step.filter(|s| s.until_ms > now_ms),
            Err(e) => {
                Metrics::incr(&self.inner.metrics.store_errors);
                tracing::warn!(error = %e, "conversation store failed: answering outside any step");
                None
            }
        }
    }

    /// After an answer: keeps the step it `asked` (returned, to time it out), or ends
    /// the step `open` the customer was in.
    pub(crate) async fn keep_step(
        &self,
        key: &str,
        open: Option<&OpenStep>,
        asked: Option<&AskedStep>,
    ) -> Option<OpenStep> {
        let store = &self.inner.conversations;
        let kept = match asked {
            Some(asked) => {
                let until = unix_ms(self.inner.clock.now())
                    .saturating_add(asked.timeout_secs.saturating_mul(1000));
                let step = OpenStep::new(asked.step.as_str(), until);
                let keep = Duration::from_secs(asked.timeout_secs) + STEP_GRACE;
                store.set(key, &step, keep).await.map(|()| Some(step))
            }
            None => match open {
                Some(open) => store.clear(key, Some(open)).await.map(|_| None),
                None => Ok(None),
            },
        };
        kept.unwrap_or_else(|e| {
            Metrics::incr(&self.inner.metrics.store_errors);
            tracing::warn!(error = %e, "conversation store failed: the step is not kept");
            None
        })
    }
}

impl Bot {
    /// When `open` times out with `key` still in it (a timer in this process;
    /// `Bot::shutdown` stops it): ends the step and hands `send` the rules' answer to
    /// `incoming` (the step's `on_timeout` reply).
    pub(crate) fn on_time_out<F, Fut>(
        &self,
        key: String,
        open: OpenStep,
        incoming: Incoming,
        send: F,
    ) where
        F: FnOnce(Bot, Vec<Piece>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let now_ms = unix_ms(self.inner.clock.now());
        let timeout = Duration::from_millis(open.until_ms.saturating_sub(now_ms));
        let (bot, cancelled) = (self.clone(), self.inner.stop.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = cancelled.cancelled() => {}
                () = tokio::time::sleep(timeout) => {
                    match bot.inner.conversations.clear(&key, Some(&open)).await {
                        Ok(true) => {}
                        Ok(false) => return, // answered, or another step since
                        Err(e) => {
                            Metrics::incr(&bot.inner.metrics.store_errors);
                            tracing::warn!(error = %e, "conversation store failed: no time-out reply");
                            return;
                        }
                    }
                    let engine = &bot.inner.engine;
                    let pieces = engine
                        .find(&incoming)
                        .map(|hit| plan(&hit.parts, engine.rules().sensitive_filter()))
                        .unwrap_or_default();
                    send(bot.clone(), pieces).await;
                }
            }
        });
    }
}

/// A conversation step a customer is in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenStep {
    /// The step's name (the rule's `ask.step`).
    pub step: String,
    /// When it times out: Unix milliseconds.
    pub until_ms: u64,
}

impl OpenStep {
    /// Step `step`, open until `until_ms` (Unix milliseconds).
    pub fn new(step: impl Into<String>, until_ms: u64) -> Self {
        Self {
            step: step.into(),
            until_ms,
        }
    }
}

/// Where conversation steps live: this process's memory
/// ([`MemoryConversationStore`], the default) or a store every instance shares.
/// Keys are the channel and the customer (`kf:{open_kfid}:{external_userid}`).
#[async_trait]
pub trait ConversationStore: Send + Sync + std::fmt::Debug {
    /// The step `key` is in, if any (a step past its time-out may still be returned:
    /// the caller compares `until_ms` with its clock).
    ///
    /// # Errors
    /// The store failed.
    async fn get(&self, key: &str) -> Result<Option<OpenStep>, StoreError>;

    /// Puts `key` in `step`, kept `keep` (at least until the step times out).
    ///
    /// # Errors
    /// The store failed.
    async fn set(&self, key: &str, step: &OpenStep, keep: Duration) -> Result<(), StoreError>;

    /// Ends `key`'s step, if `expected` is the one it is in (`None`: whatever it is):
    /// `true` when a step was ended.
    ///
    /// # Errors
    /// The store failed.
    async fn clear(&self, key: &str, expected: Option<&OpenStep>) -> Result<bool, StoreError>;
}

/// Conversation steps in this process's memory, bounded: past `capacity` customers
/// in a step, the records kept longest are dropped first.
#[derive(Debug)]
pub struct MemoryConversationStore {
    records: Mutex<HashMap<String, (OpenStep, Instant)>>,
    capacity: usize,
}

impl Default for MemoryConversationStore {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl MemoryConversationStore {
    /// The default bound: 100 000 customers in a step at once.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// A store of at most `capacity` open steps.
    pub fn new(capacity: usize) -> Self {
        Self {
            records: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }
}

#[async_trait]
impl ConversationStore for MemoryConversationStore {
    async fn get(&self, key: &str) -> Result<Option<OpenStep>, StoreError> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        match records.get(key) {
            Some((_, expires)) if *expires <= Instant::now() => {
                records.remove(key);
                Ok(None)
            }
            Some((step, _)) => Ok(Some(step.clone())),
            None => Ok(None),
        }
    }

    async fn set(&self, key: &str, step: &OpenStep, keep: Duration) -> Result<(), StoreError> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if records.len() >= self.capacity && !records.contains_key(key) {
            records.retain(|_, (_, expires)| *expires > now);
            if records.len() >= self.capacity
                && let Some(oldest) = records
                    .iter()
                    .min_by_key(|(_, (_, expires))| *expires)
                    .map(|(k, _)| k.clone())
            {
                records.remove(&oldest);
            }
        }
        records.insert(key.to_owned(), (step.clone(), now + keep));
        Ok(())
    }

    async fn clear(&self, key: &str, expected: Option<&OpenStep>) -> Result<bool, StoreError> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let matches = records
            .get(key)
            .is_some_and(|(step, _)| expected.is_none_or(|e| e == step));
        if matches {
            records.remove(key);
        }
        Ok(matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn steps_are_kept_cleared_only_when_expected_and_bounded() {
        let store = MemoryConversationStore::new(2);
        let a = OpenStep::new("return-type", 1);
        store
            .set("kf:a", &a, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(store.get("kf:a").await.unwrap(), Some(a.clone()));
        // Another step now: clearing the old one does nothing.
        let b = OpenStep::new("return-type", 2);
        store
            .set("kf:a", &b, Duration::from_secs(60))
            .await
            .unwrap();
        assert!(!store.clear("kf:a", Some(&a)).await.unwrap());
        assert!(store.clear("kf:a", Some(&b)).await.unwrap());
        assert_eq!(store.get("kf:a").await.unwrap(), None);
        // Expired records are gone; past the capacity the oldest goes.
        store.set("x", &a, Duration::ZERO).await.unwrap();
        assert_eq!(store.get("x").await.unwrap(), None);
        for key in ["p", "q", "r"] {
            store.set(key, &a, Duration::from_secs(60)).await.unwrap();
        }
        let kept = [
            store.get("p").await.unwrap(),
            store.get("q").await.unwrap(),
            store.get("r").await.unwrap(),
        ];
        assert_eq!(kept.iter().filter(|s| s.is_some()).count(), 2);
        assert!(kept[2].is_some(), "the newest is kept");
    }
}
