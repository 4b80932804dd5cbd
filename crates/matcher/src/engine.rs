//! [`Engine`]: the current rule set behind an `ArcSwap` (hot reload, rollback), the
//! counters for limits and A/B statistics, and the matching entry points.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use jiff::Timestamp;

use crate::clock::{Clock, SystemClock};
use crate::counter::{CounterStore, MemoryCounterStore};
use crate::error::{RuleSetError, StoreError, Warning};
use crate::hit::{Candidate, Explanation, Hit, Verdict};
use crate::incoming::Incoming;
use crate::intent::Intent;
use crate::ruleset::{CompiledReply, CompiledRule, RuleSet};

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
    local: Arc<MemoryCounterStore>,
    shared: Option<Arc<dyn CounterStore>>,
    stats: Mutex<HashMap<String, RuleStats>>,
    nonce: AtomicU64,
}

/// Where limit counters are read and written in one matching pass.
enum Counting<'a> {
    /// The in-memory store; acquisitions count.
    Commit,
    /// Look only (explanations).
    Peek,
    /// Decisions already taken by the shared store, per rule index.
    Decided(&'a HashMap<u32, Verdict>),
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
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.local = Arc::new(MemoryCounterStore::new(clock.clone()));
        self.clock = clock;
        self
    }

    /// Shares limits, cooldowns and statistics through `store` in
    /// [`find_shared`](Self::find_shared) (a Redis store makes them hold across
    /// instances).
    #[must_use]
    pub fn with_counter_store(mut self, store: Arc<dyn CounterStore>) -> Self {
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
        incoming.at.unwrap_or_else(|| self.clock.now())
    }

    /// The rule that fires for `incoming`: keyword rules by rank, then fallback rules.
    /// Limits and cooldowns count in this process's memory (see
    /// [`find_shared`](Self::find_shared) for shared counters).
    pub fn find(&self, incoming: &Incoming) -> Option<Hit> {
        self.run(incoming, true, &Counting::Commit)
            .into_iter()
            .next()
    }

    /// Every rule that fires, in rank order, up to and including the first that stops
    /// matching (rules with `continue` let the next ones fire too).
    pub fn find_all(&self, incoming: &Incoming) -> Vec<Hit> {
        self.run(incoming, false, &Counting::Commit)
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
        let set = self.rules();
        let now = self.now(incoming);
        let (folded, clean) = set.normalize(&incoming.text);
        let mut decided: HashMap<u32, Verdict> = HashMap::new();
        let order = candidate_order(&set, &folded, clean.as_deref());
        for rule_index in order {
            let rule = &set.rules[rule_index as usize];
            if rule.static_verdict(incoming, now).is_some() {
                continue;
            }
            let verdict = match rule.def.limit {
                Some(limit)
                    if !store
                        .try_acquire(
                            &limit_key(rule, incoming),
                            limit.max,
                            Duration::from_secs(limit.window_secs),
                        )
                        .await? =>
                {
                    Some(Verdict::LimitReached)
                }
                _ => match rule.def.cooldown_secs {
                    Some(secs)
                        if !store
                            .try_acquire(
                                &cooldown_key(rule, incoming),
                                1,
                                Duration::from_secs(secs),
                            )
                            .await? =>
                    {
                        Some(Verdict::CooldownActive)
                    }
                    _ => None,
                },
            };
            if let Some(v) = verdict {
                decided.insert(rule_index, v);
            } else {
                decided.insert(rule_index, Verdict::Fired);
                store.incr(&format!("stats:{}", rule.def.id)).await?;
                break;
            }
        }
        Ok(self
            .run_with(&set, incoming, true, &Counting::Decided(&decided), true)
            .into_iter()
            .next())
    }

    /// The rule for a detected intent (rules with `intent = "…"`), entities as variables.
    pub fn find_intent(&self, incoming: &Incoming, intent: &Intent) -> Option<Hit> {
        let set = self.rules();
        let now = self.now(incoming);
        let rules = set.intents.get(&intent.name)?;
        rules.iter().find_map(|&i| {
            let rule = &set.rules[i as usize];
            if rule.static_verdict(incoming, now).is_some()
                || self
                    .limit_verdict(i, rule, incoming, &Counting::Commit)
                    .is_some()
            {
                return None;
            }
            let mut hit = self.hit(&set, rule, incoming, now, intent.entities.clone());
            hit.intent = Some(intent.name.clone());
            Some(hit)
        })
    }

    /// Keyword rules only (no fallback): the first stage of an intent chain.
    pub fn find_keywords(&self, incoming: &Incoming) -> Option<Hit> {
        self.run_with(&self.rules(), incoming, true, &Counting::Commit, false)
            .into_iter()
            .next()
    }

    /// Fallback rules only: the last stage of an intent chain.
    pub fn find_fallback(&self, incoming: &Incoming) -> Option<Hit> {
        let set = self.rules();
        let now = self.now(incoming);
        set.fallbacks.iter().find_map(|&i| {
            let rule = &set.rules[i as usize];
            (rule.static_verdict(incoming, now).is_none()
                && self
                    .limit_verdict(i, rule, incoming, &Counting::Commit)
                    .is_none())
            .then(|| self.hit(&set, rule, incoming, now, BTreeMap::new()))
        })
    }

    /// The test mode: every candidate rule and why it fired or not. Nothing is counted.
    pub fn explain(&self, incoming: &Incoming) -> Explanation {
        let set = self.rules();
        let now = self.now(incoming);
        let (folded, clean) = set.normalize(&incoming.text);
        let blocked = set.block_incoming && set.filter.is_flagged(&folded);
        let keyword_hits = set.keyword_candidates(&folded, clean.as_deref());
        let order = keyword_hits
            .iter()
            .map(|h| (h.rule, Some(h.keyword)))
            .chain(set.fallbacks.iter().map(|&i| (i, None)));
        let mut candidates = Vec::new();
        let mut winner: Option<String> = None;
        for (i, keyword) in order {
            let rule = &set.rules[i as usize];
            let verdict = if blocked {
                Verdict::Blocked
            } else if let Some(v) = rule.static_verdict(incoming, now) {
                v
            } else if let Some(v) = self.limit_verdict(i, rule, incoming, &Counting::Peek) {
                v
            } else if let Some(w) = &winner {
                if keyword.is_some() {
                    Verdict::LowerPriority { winner: w.clone() }
                } else {
                    Verdict::NotNeeded
                }
            } else {
                winner = Some(rule.def.id.clone());
                Verdict::Fired
            };
            candidates.push(Candidate {
                rule_id: rule.def.id.clone(),
                priority: rule.def.priority,
                keyword: keyword.map(|k| rule.def.keywords[usize::from(k)].text.clone()),
                verdict,
            });
        }
        Explanation {
            normalized: folded,
            candidates,
            winner,
        }
    }

    /// Trigger counts and per-variant impressions and conversions, per rule id (this
    /// process's view).
    pub fn stats(&self) -> HashMap<String, RuleStats> {
        self.stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records a conversion of a variant (the customer did what the reply asked).
    pub fn record_conversion(&self, rule_id: &str, variant: &str) {
        let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        stats
            .entry(rule_id.to_owned())
            .or_default()
            .variants
            .entry(variant.to_owned())
            .or_default()
            .1 += 1;
    }

    /// The keyword stage then the fallback stage, with limits counted as `counting` says.
    fn run(&self, incoming: &Incoming, first_only: bool, counting: &Counting<'_>) -> Vec<Hit> {
        self.run_with(&self.rules(), incoming, first_only, counting, true)
    }

    fn run_with(
        &self,
        set: &RuleSet,
        incoming: &Incoming,
        first_only: bool,
        counting: &Counting<'_>,
        with_fallback: bool,
    ) -> Vec<Hit> {
        let now = self.now(incoming);
        let (folded, clean) = set.normalize(&incoming.text);
        let mut hits = Vec::new();
        if set.block_incoming && set.filter.is_flagged(&folded) {
            return hits;
        }
        {
            for h in set.keyword_candidates(&folded, clean.as_deref()) {
                let rule = &set.rules[h.rule as usize];
                if rule.static_verdict(incoming, now).is_some()
                    || self
                        .limit_verdict(h.rule, rule, incoming, counting)
                        .is_some()
                {
                    continue;
                }
                let captures = rule.captures(Some(h.keyword), clean.as_deref().unwrap_or(&folded));
                let mut hit = self.hit(set, rule, incoming, now, captures);
                hit.keyword = Some(rule.def.keywords[usize::from(h.keyword)].text.clone());
                let stop = hit.stop;
                hits.push(hit);
                if first_only || stop {
                    return hits;
                }
            }
        }
        if hits.is_empty() && with_fallback {
            for &i in &set.fallbacks {
                let rule = &set.rules[i as usize];
                if rule.static_verdict(incoming, now).is_none()
                    && self.limit_verdict(i, rule, incoming, counting).is_none()
                {
                    hits.push(self.hit(set, rule, incoming, now, BTreeMap::new()));
                    break;
                }
            }
        }
        hits
    }

    /// Per-user limit and cooldown; `None` when the rule may fire (and, committing, the
    /// use is counted).
    fn limit_verdict(
        &self,
        index: u32,
        rule: &CompiledRule,
        incoming: &Incoming,
        counting: &Counting<'_>,
    ) -> Option<Verdict> {
        let limit = rule.def.limit;
        let cooldown = rule.def.cooldown_secs;
        if limit.is_none() && cooldown.is_none() {
            return None;
        }
        match counting {
            Counting::Decided(decided) => match decided.get(&index) {
                Some(Verdict::Fired) => None,
                Some(v) => Some(v.clone()),
                None => Some(Verdict::LimitReached),
            },
            Counting::Peek => {
                if let Some(l) = limit
                    && !self.local.would_acquire(&limit_key(rule, incoming), l.max)
                {
                    return Some(Verdict::LimitReached);
                }
                if cooldown.is_some() && !self.local.would_acquire(&cooldown_key(rule, incoming), 1)
                {
                    return Some(Verdict::CooldownActive);
                }
                None
            }
            Counting::Commit => {
                // The key is built only for rules that have a cooldown.
                let cooldown_key = cooldown.map(|_| cooldown_key(rule, incoming));
                if let Some(key) = &cooldown_key
                    && !self.local.would_acquire(key, 1)
                {
                    return Some(Verdict::CooldownActive);
                }
                if let Some(l) = limit
                    && !self.local.try_acquire_now(
                        &limit_key(rule, incoming),
                        l.max,
                        Duration::from_secs(l.window_secs),
                    )
                {
                    return Some(Verdict::LimitReached);
                }
                if let (Some(secs), Some(key)) = (cooldown, &cooldown_key) {
                    self.local
                        .try_acquire_now(key, 1, Duration::from_secs(secs));
                }
                None
            }
        }
    }

    /// Renders the hit of `rule` and records its statistics.
    fn hit(
        &self,
        set: &RuleSet,
        rule: &CompiledRule,
        incoming: &Incoming,
        now: Timestamp,
        captures: BTreeMap<String, String>,
    ) -> Hit {
        let (variant, parts) = match &rule.reply {
            CompiledReply::Parts(parts) => (None, parts.as_slice()),
            CompiledReply::Variants {
                variants,
                seed,
                explore,
            } => {
                let chosen = self.choose_variant(
                    &rule.def.id,
                    variants,
                    seed.as_deref(),
                    *explore,
                    incoming,
                );
                let (id, _, parts) = &variants[chosen];
                (Some(id.clone()), parts.as_slice())
            }
        };
        let parts = set.render(parts, incoming, now, &captures);
        {
            let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
            let entry = stats.entry(rule.def.id.clone()).or_default();
            entry.triggers += 1;
            if let Some(v) = &variant {
                entry.variants.entry(v.clone()).or_default().0 += 1;
            }
        }
        Hit {
            rule_id: rule.def.id.clone(),
            rule_name: rule.def.name.clone(),
            priority: rule.def.priority,
            keyword: None,
            captures,
            parts,
            variant,
            actions: rule.def.actions.clone(),
            stop: rule.def.stop,
            intent: None,
        }
    }

    /// Weighted choice (deterministic per user with a seed); in bandit mode only the
    /// `explore` share is spread by weight, the rest goes to the best conversion rate.
    fn choose_variant(
        &self,
        rule_id: &str,
        variants: &[(String, u32, Vec<crate::ruleset::CompiledPart>)],
        seed: Option<&str>,
        explore: Option<f64>,
        incoming: &Incoming,
    ) -> usize {
        let roll = if let Some(seed) = seed {
            fnv1a(&[seed, rule_id, &incoming.user_id])
        } else {
            let n = self
                .nonce
                .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
            fnv1a(&[&n.to_string(), rule_id, &incoming.user_id])
        };
        if let Some(explore) = explore {
            #[allow(clippy::cast_precision_loss, reason = "a coin in [0, 1)")]
            let coin = (roll >> 11) as f64 / (1u64 << 53) as f64;
            if coin >= explore {
                let stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
                let rate = |id: &str| {
                    stats.get(rule_id).and_then(|s| s.variants.get(id)).map_or(
                        0.5,
                        |&(imp, conv)| {
                            #[allow(clippy::cast_precision_loss, reason = "rates")]
                            let r = (conv as f64 + 1.0) / (imp as f64 + 2.0);
                            r
                        },
                    )
                };
                let best = variants
                    .iter()
                    .enumerate()
                    .max_by(|a, b| rate(&a.1.0).total_cmp(&rate(&b.1.0)))
                    .map_or(0, |(i, _)| i);
                return best;
            }
        }
        let total: u64 = variants.iter().map(|v| u64::from(v.1)).sum();
        let mut point = roll % total.max(1);
        for (i, v) in variants.iter().enumerate() {
            let w = u64::from(v.1);
            if point < w {
                return i;
            }
            point -= w;
        }
        0
    }
}

/// The order in which rules are tried: keyword matches by rank, then fallbacks.
fn candidate_order(set: &RuleSet, folded: &str, clean: Option<&str>) -> Vec<u32> {
    if set.block_incoming && set.filter.is_flagged(folded) {
        return Vec::new();
    }
    let mut order: Vec<u32> = set
        .keyword_candidates(folded, clean)
        .iter()
        .map(|h| h.rule)
        .collect();
    order.extend(set.fallbacks.iter().copied());
    order
}

fn limit_key(rule: &CompiledRule, incoming: &Incoming) -> String {
    format!("limit:{}:{}", rule.def.id, incoming.user_id)
}

fn cooldown_key(rule: &CompiledRule, incoming: &Incoming) -> String {
    let place = incoming.chat_id.as_deref().unwrap_or(&incoming.user_id);
    format!("cooldown:{}:{place}", rule.def.id)
}

/// 64-bit FNV-1a over the parts (separated), stable across builds.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    // Finalize (FNV's low bits mix poorly for modulo use).
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^ (hash >> 33)
}
