//! The one evaluation loop every entry point of [`Engine`] runs: candidates in rank
//! order (keyword matches, then fallbacks; or the rules of an intent), the checks that
//! need no counters, then limits and cooldowns counted as a [`Counting`] strategy says,
//! and the rendering of what fired.

use std::collections::BTreeMap;
use std::pin::pin;
use std::sync::Arc;
use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use jiff::Timestamp;

use crate::compiled::{CompiledReply, CompiledRule, RuleSet, VariantReply};
use crate::counter::CounterStore;
use crate::engine::Engine;
use crate::error::StoreError;
use crate::hit::{AskedStep, Candidate, Explanation, Hit, Intent, Verdict};
use crate::incoming::Incoming;
use crate::index::KwRef;

/// Where limit and cooldown counters are read and written.
#[derive(Clone, Copy)]
pub(crate) enum Counting<'a> {
    /// Look at this process's counters, count nothing (explanations).
    Peek,
    /// This process's in-memory counters; a rule that fires counts.
    Local,
    /// A shared store (Redis): limits hold across instances; statistics go there too.
    Shared(&'a dyn CounterStore),
}

/// Which rules a pass tries.
#[derive(Clone, Copy)]
pub(crate) enum Stages<'a> {
    /// Keyword rules by rank, then fallback rules when none fired.
    All,
    /// Keyword rules only.
    Keywords,
    /// Fallback rules only.
    Fallback,
    /// The rules of a detected intent, its entities as variables.
    Intent(&'a Intent),
}

/// What a pass returns.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Collect {
    /// The first rule that fires.
    First,
    /// Every rule that fires, up to the first that stops matching.
    All,
    /// A verdict for every candidate; nothing is rendered.
    Explain,
}

/// A message normalized and scanned once: what every stage of a pass reads.
pub(crate) struct Scan {
    pub(crate) set: Arc<RuleSet>,
    pub(crate) now: Timestamp,
    pub(crate) folded: String,
    clean: Option<String>,
    blocked: bool,
    keywords: Vec<KwRef>,
    /// The event's name, when the message is an event: only its rules are candidates.
    event: Option<String>,
    /// In a conversation step: the rule the message answers (tried first), and the
    /// step's `otherwise` rule (tried after the keyword rules).
    answer: Option<u32>,
    otherwise: Option<u32>,
    /// The step, as its `otherwise` rule opens it again.
    reask: Option<AskedStep>,
    /// The step timed out: only its `on_timeout` rule answers.
    timed_out: bool,
}

impl Scan {
    /// Normalizes `incoming`'s text and finds its keyword matches in `set`.
    pub(crate) fn new(set: Arc<RuleSet>, incoming: &Incoming, now: Timestamp) -> Self {
        let event = incoming.event.as_ref().map(|(name, _)| name.clone());
        let (folded, clean) = set.normalize(&incoming.text);
        let blocked = set.block_incoming && set.filter.is_flagged(&folded);
        let step = incoming
            .step
            .as_ref()
            .and_then(|(name, timed_out)| Some((set.steps.get(name)?, *timed_out)));
        let (answer, otherwise, timed_out) = match step {
            Some((step, true)) => (step.on_timeout, None, true),
            Some((step, false)) => (step.answers.get(&folded).copied(), step.otherwise, false),
            None => (None, None, false),
        };
        let reask = step
            .filter(|_| !timed_out)
            .map(|(step, _)| step.asked.clone());
        let keywords = if event.is_some() || timed_out {
            Vec::new()
        } else {
            set.keyword_candidates(&folded, clean.as_deref())
        };
        Self {
            set,
            now,
            folded,
            clean,
            blocked,
            keywords,
            event,
            answer,
            otherwise,
            reask,
            timed_out,
        }
    }

    /// The text regexes capture from (case kept).
    fn clean(&self) -> &str {
        self.clean.as_deref().unwrap_or(&self.folded)
    }

    /// The candidates of `stages`, in the order they are tried: rule index and, for
    /// keyword matches, the keyword (no allocation: keyword matches, then a list of rules).
    fn candidates<'s>(
        &'s self,
        stages: Stages<'_>,
    ) -> impl Iterator<Item = (u32, Option<u16>)> + 's {
        let none: &[u32] = &[];
        let (keywords, rest): (&[KwRef], &[u32]) = match (stages, &self.event) {
            // An event reaches its own rules only: never keywords, fallbacks or intents.
            (Stages::All | Stages::Keywords, Some(name)) => {
                (&[], self.set.events.get(name).map_or(none, Vec::as_slice))
            }
            (_, Some(_)) => (&[], none),
            // A timed-out step: its on_timeout rule only (as `answer`).
            (Stages::All, None) if self.timed_out => (&[], none),
            (stages, None) => match stages {
                Stages::All => (&self.keywords, &self.set.fallbacks),
                Stages::Keywords => (&self.keywords, none),
                Stages::Fallback => (&[], &self.set.fallbacks),
                Stages::Intent(intent) => (
                    &[],
                    self.set
                        .intents
                        .get(&intent.name)
                        .map_or(none, Vec::as_slice),
                ),
            },
        };
        // In a step (all stages): its answer first, its `otherwise` before the fallbacks.
        let in_step = matches!(stages, Stages::All) && self.event.is_none();
        let (answer, otherwise) = if in_step {
            (self.answer, self.otherwise)
        } else {
            (None, None)
        };
        answer
            .into_iter()
            .map(|i| (i, None))
            .chain(keywords.iter().map(|k| (k.rule, Some(k.keyword))))
            .chain(otherwise.into_iter().map(|i| (i, None)))
            .chain(rest.iter().map(|&i| (i, None)))
    }
}

/// What a pass found: the hits (or, explaining, the candidates and the winner).
#[derive(Default)]
pub(crate) struct Outcome {
    pub(crate) hits: Vec<Hit>,
    pub(crate) candidates: Vec<Candidate>,
    pub(crate) winner: Option<String>,
}

impl Outcome {
    /// The explanation of an [`Collect::Explain`] pass.
    pub(crate) fn explanation(self, normalized: String) -> Explanation {
        Explanation {
            normalized,
            candidates: self.candidates,
            winner: self.winner,
        }
    }
}

impl Engine {
    /// The evaluation loop. With [`Counting::Peek`] or [`Counting::Local`] it never
    /// awaits, so the sync entry points run it through [`run_ready`].
    pub(crate) async fn evaluate(
        &self,
        scan: &Scan,
        incoming: &Incoming,
        stages: Stages<'_>,
        collect: Collect,
        counting: Counting<'_>,
    ) -> Result<Outcome, StoreError> {
        let mut out = Outcome::default();
        if scan.blocked && collect != Collect::Explain {
            return Ok(out);
        }
        let set = &scan.set;
        for (index, keyword) in scan.candidates(stages) {
            let rule = &set.rules[index as usize];
            let is_fallback =
                keyword.is_none() && scan.event.is_none() && !matches!(stages, Stages::Intent(_));
            if is_fallback && !out.hits.is_empty() {
                break; // fallbacks answer only when nothing else did
            }
            let verdict = if scan.blocked {
                Some(Verdict::Blocked)
            } else if let Some(v) = rule.static_verdict(incoming, scan.now) {
                Some(v)
            } else if rule.def.limit.is_none() && rule.def.cooldown_secs.is_none() {
                None // nothing to count: no future to build on the hot path
            } else {
                self.admit(counting, rule, incoming).await?
            };
            if collect == Collect::Explain {
                let verdict = verdict.unwrap_or_else(|| match &out.winner {
                    Some(w) if !is_fallback => Verdict::LowerPriority { winner: w.clone() },
                    Some(_) => Verdict::NotNeeded,
                    None => {
                        out.winner = Some(rule.def.id.clone());
                        Verdict::Fired
                    }
                });
                out.candidates.push(Candidate {
                    rule_id: rule.def.id.clone(),
                    priority: rule.def.priority,
                    keyword: keyword.map(|k| rule.def.keywords[usize::from(k)].text.clone()),
                    verdict,
                });
                continue;
            }
            if verdict.is_some() {
                continue;
            }
            let variables = match (stages, keyword) {
                (Stages::Intent(intent), _) => intent.entities.clone(),
                (_, Some(k)) => rule.captures(Some(k), scan.clean()),
                (_, None) => BTreeMap::new(),
            };
            let mut hit = self.hit(set, rule, incoming, scan.now, variables);
            // The step's `otherwise` asks again: the step stays open.
            if keyword.is_none() && scan.otherwise == Some(index) && hit.ask.is_none() {
                hit.ask.clone_from(&scan.reask);
            }
            hit.keyword = keyword.map(|k| rule.def.keywords[usize::from(k)].text.clone());
            if let Stages::Intent(intent) = stages {
                hit.intent = Some(intent.name.clone());
            }
            if let Counting::Shared(store) = counting {
                store.incr(&format!("stats:{}", rule.def.id)).await?;
            }
            let stop = hit.stop || collect == Collect::First || is_fallback;
            out.hits.push(hit);
            if stop {
                break;
            }
        }
        Ok(out)
    }

    /// Per-user limit and cooldown; `None` when the rule may fire (the loop calls it only
    /// for rules that have one or the other). A running cooldown is
    /// checked first, so it never burns a slot of the customer's limit; then the limit
    /// slot is taken, then the cooldown starts. Peeking counts nothing.
    async fn admit(
        &self,
        counting: Counting<'_>,
        rule: &CompiledRule,
        incoming: &Incoming,
    ) -> Result<Option<Verdict>, StoreError> {
        let (limit, cooldown) = (rule.def.limit, rule.def.cooldown_secs);
        // The key is built only for rules that have a cooldown.
        let cooldown_key = cooldown.map(|_| cooldown_key(rule, incoming));
        if let Some(key) = &cooldown_key
            && !self.would_acquire(counting, key, 1).await?
        {
            return Ok(Some(Verdict::CooldownActive));
        }
        if let Some(l) = limit {
            let key = limit_key(rule, incoming);
            let window = Duration::from_secs(l.window_secs);
            let acquired = match counting {
                Counting::Peek => self.local.would_acquire(&key, l.max),
                Counting::Local => self.local.try_acquire_now(&key, l.max, window),
                Counting::Shared(store) => store.try_acquire(&key, l.max, window).await?,
            };
            if !acquired {
                return Ok(Some(Verdict::LimitReached));
            }
        }
        if let (Some(secs), Some(key)) = (cooldown, &cooldown_key) {
            let window = Duration::from_secs(secs);
            match counting {
                Counting::Peek => {}
                Counting::Local => {
                    self.local.try_acquire_now(key, 1, window);
                }
                Counting::Shared(store) => {
                    store.try_acquire(key, 1, window).await?;
                }
            }
        }
        Ok(None)
    }

    /// Whether `key` is below `max` uses, without counting.
    async fn would_acquire(
        &self,
        counting: Counting<'_>,
        key: &str,
        max: u32,
    ) -> Result<bool, StoreError> {
        match counting {
            Counting::Peek | Counting::Local => Ok(self.local.would_acquire(key, max)),
            Counting::Shared(store) => Ok(store.get(key).await? < u64::from(max)),
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
                let variant = &variants[chosen];
                (Some(variant.id.clone()), variant.parts.as_slice())
            }
        };
        let parts = set.render(parts, incoming, now, &captures);
        {
            let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
            let entry = stats.entry(Arc::clone(&rule.id)).or_default();
            entry.triggers += 1;
            if let Some(v) = &variant {
                entry.variants.entry(v.clone()).or_default().0 += 1;
            }
        }
        Hit {
            rule_id: Arc::clone(&rule.id),
            rule_name: rule.def.name.clone(),
            priority: rule.def.priority,
            keyword: None,
            captures,
            parts,
            variant,
            actions: rule.def.actions.clone(),
            stop: rule.def.stop,
            intent: None,
            ask: rule
                .def
                .ask
                .as_ref()
                .and_then(|a| set.steps.get(&a.step))
                .map(|step| step.asked.clone()),
        }
    }

    /// Weighted choice (deterministic per user with a seed); in bandit mode only the
    /// `explore` share is spread by weight, the rest goes to the best conversion rate.
    fn choose_variant(
        &self,
        rule_id: &str,
        variants: &[VariantReply],
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
                    .max_by(|a, b| rate(&a.1.id).total_cmp(&rate(&b.1.id)))
                    .map_or(0, |(i, _)| i);
                return best;
            }
        }
        let total: u64 = variants.iter().map(|v| u64::from(v.weight)).sum();
        let mut point = roll % total.max(1);
        for (i, v) in variants.iter().enumerate() {
            let w = u64::from(v.weight);
            if point < w {
                return i;
            }
            point -= w;
        }
        0
    }
}

/// Runs a future that never awaits (an evaluation with in-process counting) to its end
/// on this thread; `None` if it did await.
pub(crate) fn run_ready<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
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
