//! [`Engine`]: the current rule set behind an `ArcSwap` (hot reload, rollback), the
//! counters for limits and A/B statistics, and the matching entry points.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use jiff::Timestamp;

use crate::clock::{Clock, SystemClock};
use crate::compiled::RuleSet;
use crate::counter::{CounterStore, MemoryCounterStore};
use crate::error::{RuleSetError, StoreError, Warning};
use crate::evaluate::{Collect, Counting, Outcome, Scan, Stages, run_ready};
use crate::hit::{Explanation, Hit, Intent};
use crate::incoming::Incoming;

/// Versions kept for [`Engine::rollback`].
const HISTORY: usize = 5;

/// Trigger and A/B statistics of one rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleStats {
    /// Times the rule fired.
    pub triggers: u64,
    /// Per variant: `(impressions, conversions)`.
    pub variants: BTreeMap<String, (u64, u64)>,
}

impl RuleStats {
    /// Conversions per impression of a variant (0 without impressions).
    pub fn conversion_rate(&self, variant: &str) -> f64 {
        self.variants.get(variant).map_or(0.0, |&(imp, conv)| {
            if imp == 0 {
                0.0
            } else {
                #[allow(clippy::cast_precision_loss, reason = "rates, not exact counts")]
                let rate = conv as f64 / imp as f64;
                rate
            }
        })
    }
}

/// The matching engine of a bot.
///
/// ```
/// use wecom_sdk_matcher::{Engine, Incoming, Rule, RuleSet};
/// let rules = RuleSet::new([
///     Rule::new("hours", "营业时间").contains("几点").reply("我们 9:00–21:00 营业"),
///     Rule::new("default", "兜底").fallback().reply("您好 {nickname}，客服稍后回复您"),
/// ])?;
/// let engine = Engine::new(rules);
/// let hit = engine.find(&Incoming::new("zhangsan", "明天几点开门？")).expect("a rule fires");
/// assert_eq!(hit.rule_id(), "hours");
/// let hit = engine.find(&Incoming::new("lisi", "你好").nickname("李四")).expect("fallback");
/// assert_eq!(hit.text().as_deref(), Some("您好 李四，客服稍后回复您"));
/// # Ok::<(), wecom_sdk_matcher::RuleSetError>(())
/// ```
#[derive(Debug)]
pub struct Engine {
    current: ArcSwap<RuleSet>,
    history: Mutex<VecDeque<Arc<RuleSet>>>,
    source: Mutex<Option<PathBuf>>,
    clock: Arc<dyn Clock>,
    pub(crate) local: Arc<MemoryCounterStore>,
    shared: Option<Arc<dyn CounterStore>>,
    pub(crate) stats: Mutex<HashMap<Arc<str>, RuleStats>>,
    pub(crate) nonce: AtomicU64,
}

impl Engine {
    /// An engine over `rules`, with the system clock and in-memory counters.
    pub fn new(rules: RuleSet) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        Self {
            current: ArcSwap::from_pointee(rules),
            history: Mutex::new(VecDeque::new()),
            source: Mutex::new(None),
            local: Arc::new(MemoryCounterStore::new(clock.clone())),
            clock,
            shared: None,
            stats: Mutex::new(HashMap::new()),
            nonce: AtomicU64::new(0x9e37_79b9_7f4a_7c15),
        }
    }

    /// Loads a rules file (TOML or JSON by extension) and remembers the path for
    /// [`reload`](Self::reload).
    ///
    /// # Errors
    /// As [`RuleSet::from_path`].
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, RuleSetError> {
        let rules = RuleSet::from_path(path.as_ref())?;
        let engine = Self::new(rules);
        *engine.source.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(path.as_ref().to_owned());
        Ok(engine)
    }

    /// Reads time from `clock` (schedules, limits, cooldowns, `{time}`).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.local = Arc::new(MemoryCounterStore::new(clock.clone()));
        self.clock = clock;
        self
    }

    /// Shares limits, cooldowns and statistics through `store` in
    /// [`find_shared`](Self::find_shared) (a Redis store makes them hold across
    /// instances).
    #[must_use]
    pub fn counter_store(mut self, store: Arc<dyn CounterStore>) -> Self {
        self.shared = Some(store);
        self
    }

    /// The rule set in force.
    pub fn rules(&self) -> Arc<RuleSet> {
        self.current.load_full()
    }

    /// Puts `rules` in force atomically; the previous set is kept for rollback.
    pub fn replace(&self, rules: RuleSet) {
        let old = self.current.swap(Arc::new(rules));
        let mut history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        history.push_back(old);
        while history.len() > HISTORY {
            history.pop_front();
        }
    }

    /// Re-reads the rules file given to [`from_path`](Self::from_path) (or the last
    /// [`reload_from`](Self::reload_from)). An invalid file changes nothing.
    ///
    /// # Errors
    /// No file was given, or the new rules are invalid (the old ones stay in force).
    pub fn reload(&self) -> Result<Vec<Warning>, RuleSetError> {
        let path = self
            .source
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| RuleSetError::Io {
                path: String::new(),
                reason: "no rules file to reload".to_owned(),
            })?;
        self.reload_from(&path)
    }

    /// Loads `path` and puts it in force; an invalid file changes nothing.
    ///
    /// # Errors
    /// The new rules are invalid (the old ones stay in force).
    pub fn reload_from(&self, path: impl AsRef<Path>) -> Result<Vec<Warning>, RuleSetError> {
        let rules = RuleSet::from_path(path.as_ref())?;
        let warnings = rules.warnings().to_vec();
        self.replace(rules);
        *self.source.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(path.as_ref().to_owned());
        Ok(warnings)
    }

    /// Restores the previous rule set; `false` when there is none.
    pub fn rollback(&self) -> bool {
        let previous = self
            .history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_back();
        match previous {
            Some(rules) => {
                self.current.store(rules);
                true
            }
            None => false,
        }
    }

    fn now(&self, incoming: &Incoming) -> Timestamp {
        incoming
            .at
            .unwrap_or_else(|| crate::clock::timestamp(self.clock.now()))
    }

    /// The message normalized and scanned against the rules in force.
    pub(crate) fn scan(&self, incoming: &Incoming) -> Scan {
        Scan::new(self.rules(), incoming, self.now(incoming))
    }

    /// One pass with in-process counting over `scan`.
    pub(crate) fn run(
        &self,
        scan: &Scan,
        incoming: &Incoming,
        stages: Stages<'_>,
        collect: Collect,
    ) -> Outcome {
        let counting = if collect == Collect::Explain {
            Counting::Peek
        } else {
            Counting::Local
        };
        // In-process counting never awaits and never fails.
        match run_ready(self.evaluate(scan, incoming, stages, collect, counting)) {
            Some(Ok(outcome)) => outcome,
            Some(Err(_)) | None => Outcome::default(),
        }
    }

    /// The first hit of one pass with in-process counting.
    pub(crate) fn first(
        &self,
        scan: &Scan,
        incoming: &Incoming,
        stages: Stages<'_>,
    ) -> Option<Hit> {
        self.run(scan, incoming, stages, Collect::First)
            .hits
            .into_iter()
            .next()
    }

    /// The rule that fires for `incoming`: keyword rules by rank, then fallback rules.
    /// Limits and cooldowns count in this process's memory (see
    /// [`find_shared`](Self::find_shared) for shared counters).
    pub fn find(&self, incoming: &Incoming) -> Option<Hit> {
        self.first(&self.scan(incoming), incoming, Stages::All)
    }

    /// Every rule that fires, in rank order, up to and including the first that stops
    /// matching (rules with `continue` let the next ones fire too).
    pub fn find_all(&self, incoming: &Incoming) -> Vec<Hit> {
        self.run(&self.scan(incoming), incoming, Stages::All, Collect::All)
            .hits
    }

    /// Like [`find`](Self::find), with limits, cooldowns and statistics in the shared
    /// counter store (memory when none was set).
    ///
    /// # Errors
    /// The counter store failed.
    pub async fn find_shared(&self, incoming: &Incoming) -> Result<Option<Hit>, StoreError> {
        let Some(store) = self.shared.clone() else {
            return Ok(self.find(incoming));
        };
        let scan = self.scan(incoming);
        let outcome = self
            .evaluate(
                &scan,
                incoming,
                Stages::All,
                Collect::First,
                Counting::Shared(store.as_ref()),
            )
            .await?;
        Ok(outcome.hits.into_iter().next())
    }

    /// The rule for a detected intent (rules with `intent = "…"`), entities as variables.
    pub fn find_intent(&self, incoming: &Incoming, intent: &Intent) -> Option<Hit> {
        self.first(&self.scan(incoming), incoming, Stages::Intent(intent))
    }

    /// Keyword rules only (no fallback): the first stage of an intent chain.
    pub fn find_keywords(&self, incoming: &Incoming) -> Option<Hit> {
        self.first(&self.scan(incoming), incoming, Stages::Keywords)
    }

    /// Fallback rules only: the last stage of an intent chain.
    pub fn find_fallback(&self, incoming: &Incoming) -> Option<Hit> {
        self.first(&self.scan(incoming), incoming, Stages::Fallback)
    }

    /// The test mode: every candidate rule and why it fired or not. Nothing is counted.
    pub fn explain(&self, incoming: &Incoming) -> Explanation {
        let scan = self.scan(incoming);
        self.run(&scan, incoming, Stages::All, Collect::Explain)
            .explanation(scan.folded.clone())
    }

    /// Trigger counts and per-variant impressions and conversions, per rule id (this
    /// process's view).
    pub fn stats(&self) -> HashMap<String, RuleStats> {
        self.stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(id, s)| (id.to_string(), s.clone()))
            .collect()
    }

    /// Sets a variant's impressions and conversions to totals counted elsewhere (every
    /// instance's, from a shared store): the bandit then chooses by them.
    pub fn set_variant_stats(
        &self,
        rule_id: &str,
        variant: &str,
        impressions: u64,
        conversions: u64,
    ) {
        let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        stats
            .entry(rule_id.into())
            .or_default()
            .variants
            .insert(variant.to_owned(), (impressions, conversions));
    }

    /// Records a conversion of a variant (the customer did what the reply asked).
    pub fn record_conversion(&self, rule_id: &str, variant: &str) {
        let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        stats
            .entry(rule_id.into())
            .or_default()
            .variants
            .entry(variant.to_owned())
            .or_default()
            .1 += 1;
    }
}
