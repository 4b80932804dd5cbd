//! The compiled forms: [`RuleSet`] and the rules, reply parts and variants it holds,
//! ready to match and render.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::sync::Arc;

use crate::compile::RuleSetBuilder;
use crate::error::{RuleSetError, Warning};
use crate::filter::SensitiveFilter;
use crate::hit::AskedStep;
use crate::hit::Verdict;
use crate::incoming::{CustomerKind, Incoming};
use crate::index::{KeywordIndex, KwRef};
use crate::normalize::Normalizer;
use crate::regex_keyword::LazyRegex;
use crate::rule::Rule;
use crate::schedule::CompiledSchedule;
use crate::template::Template;

/// A reply part with templates in place of its text fields.
#[derive(Debug, Clone)]
pub(crate) enum CompiledPart {
    Text(Template),
    Image {
        media_id: String,
    },
    Video {
        media_id: String,
        title: Option<Template>,
        description: Option<Template>,
    },
    News {
        title: Template,
        description: Option<Template>,
        url: Template,
        pic_url: Option<String>,
    },
    File {
        media_id: String,
        name: Option<String>,
    },
    LocalFile {
        path: String,
        name: Option<String>,
    },
    MiniProgram {
        appid: String,
        pagepath: String,
        title: Template,
        thumb_media_id: Option<String>,
    },
}

impl CompiledPart {
    /// The templates of this part.
    pub(crate) fn templates(&self) -> impl Iterator<Item = &Template> {
        let (a, b, c): (Option<&Template>, Option<&Template>, Option<&Template>) = match self {
            Self::Text(t) => (Some(t), None, None),
            Self::Video {
                title, description, ..
            } => (title.as_ref(), description.as_ref(), None),
            Self::News {
                title,
                description,
                url,
                ..
            } => (Some(title), description.as_ref(), Some(url)),
            Self::MiniProgram { title, .. } => (Some(title), None, None),
            Self::Image { .. } | Self::File { .. } | Self::LocalFile { .. } => (None, None, None),
        };
        a.into_iter().chain(b).chain(c)
    }
}

/// One A/B variant, compiled.
#[derive(Debug, Clone)]
pub(crate) struct VariantReply {
    pub(crate) id: String,
    pub(crate) weight: u32,
    pub(crate) parts: Vec<CompiledPart>,
}

#[derive(Debug, Clone)]
pub(crate) enum CompiledReply {
    Parts(Vec<CompiledPart>),
    Variants {
        variants: Vec<VariantReply>,
        seed: Option<String>,
        explore: Option<f64>,
    },
}

/// A conversation step: the rules its answers, `otherwise` and `on_timeout` fire (rule
/// indices).
#[derive(Debug, Clone)]
pub(crate) struct CompiledStep {
    /// By normalized answer text.
    pub(crate) answers: HashMap<String, u32>,
    pub(crate) otherwise: Option<u32>,
    pub(crate) on_timeout: Option<u32>,
    /// The step as a hit opens it (the `otherwise` rule opens it again).
    pub(crate) asked: AskedStep,
}

/// A rule ready to match.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub(crate) def: Rule,
    /// `def.id`, shared with every hit and statistics entry (no copy per message).
    pub(crate) id: Arc<str>,
    /// Position when sorted by priority (descending), then file order.
    pub(crate) rank: u32,
    pub(crate) schedule: Option<CompiledSchedule>,
    pub(crate) reply: CompiledReply,
    /// Per keyword: the regex, for captures (regex keywords only).
    pub(crate) regexes: Vec<Option<Arc<LazyRegex>>>,
    /// Per keyword: the normalized text (what the index holds).
    pub(crate) keywords: Vec<String>,
}

impl CompiledRule {
    /// The checks that need no counters; `None` when the rule may fire.
    pub(crate) fn static_verdict(&self, incoming: &Incoming, now: Timestamp) -> Option<Verdict> {
        let rule = self;
        let d = &rule.def;
        if !d.enabled {
            return Some(Verdict::Disabled);
        }
        if let Some(step) = &d.step
            && incoming.step.as_ref().is_none_or(|(s, _)| s != step)
        {
            return Some(Verdict::OutOfScope("step"));
        }
        if let (Some(trigger), Some((_, key))) = (&d.event, &incoming.event)
            && trigger.key.as_ref().is_some_and(|k| k != key)
        {
            return Some(Verdict::OutOfScope("event key"));
        }
        let s = &d.scope;
        if !s.chats.is_empty()
            && !incoming
                .chat_id
                .as_ref()
                .is_some_and(|c| s.chats.contains(c))
        {
            return Some(Verdict::OutOfScope("chat"));
        }
        if let Some(kind) = s.chat
            && (kind == crate::ChatKind::Group) != incoming.chat_id.is_some()
        {
            return Some(Verdict::OutOfScope("chat kind"));
        }
        if !s.users.is_empty() && !s.users.contains(&incoming.user_id) {
            return Some(Verdict::OutOfScope("user"));
        }
        if !s.departments.is_empty()
            && !incoming
                .departments
                .iter()
                .any(|d| s.departments.contains(d))
        {
            return Some(Verdict::OutOfScope("department"));
        }
        if !s.tags.is_empty() && !incoming.tags.iter().any(|t| s.tags.contains(t)) {
            return Some(Verdict::OutOfScope("tag"));
        }
        if !s.channels.is_empty() && !s.channels.contains(&incoming.channel) {
            return Some(Verdict::OutOfScope("channel"));
        }
        let a = &d.audience;
        match a.customer {
            Some(CustomerKind::New) if incoming.customer != CustomerKind::New => {
                return Some(Verdict::AudienceMismatch("not a new customer"));
            }
            Some(CustomerKind::Returning) if incoming.customer != CustomerKind::Returning => {
                return Some(Verdict::AudienceMismatch("not a returning customer"));
            }
            _ => {}
        }
        if !a.has_tags.iter().all(|t| incoming.tags.contains(t)) {
            return Some(Verdict::AudienceMismatch("lacks a required tag"));
        }
        if a.lacks_tags.iter().any(|t| incoming.tags.contains(t)) {
            return Some(Verdict::AudienceMismatch("has an excluded tag"));
        }
        if let Some(schedule) = &rule.schedule {
            match (schedule.is_open(now), d.off_hours) {
                (false, false) => return Some(Verdict::ScheduleClosed),
                (true, true) => return Some(Verdict::OffHoursOnly),
                _ => {}
            }
        }
        None
    }

    /// Named captures of the rule's regex keyword `k` on `clean`.
    pub(crate) fn captures(&self, keyword: Option<u16>, clean: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some(re) = keyword
            .and_then(|k| self.regexes.get(usize::from(k)))
            .and_then(Option::as_ref)
            .and_then(|re| re.get())
            && let Some(caps) = re.captures(clean)
        {
            {
                for name in re.capture_names().flatten() {
                    if let Some(m) = caps.name(name) {
                        out.insert(name.to_owned(), m.as_str().to_owned());
                    }
                }
            }
        }
        out
    }
}

/// A compiled, validated set of rules. Build it with [`RuleSet::builder`], or read a
/// rules file with [`from_toml_str`](Self::from_toml_str),
/// [`from_json_str`](Self::from_json_str) or [`from_path`](Self::from_path).
///
/// Matching costs O(text), not O(rules): keywords live in one index.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) index: KeywordIndex,
    pub(crate) fallbacks: Vec<u32>,
    pub(crate) intents: HashMap<String, Vec<u32>>,
    /// Event rules by event name, in rank order.
    pub(crate) events: HashMap<String, Vec<u32>>,
    /// Conversation steps by name (see [`Ask`](crate::Ask)).
    pub(crate) steps: HashMap<String, CompiledStep>,
    pub(crate) normalizer: Normalizer,
    pub(crate) filter: SensitiveFilter,
    pub(crate) block_incoming: bool,
    pub(crate) tz: TimeZone,
    pub(crate) warnings: Vec<Warning>,
}

impl RuleSet {
    /// A builder with the defaults (time zone `Asia/Shanghai`, at most 3 rules per chat).
    pub fn builder() -> RuleSetBuilder {
        RuleSetBuilder::default()
    }

    /// Compiles rules with the defaults.
    ///
    /// # Errors
    /// As [`RuleSetBuilder::build`].
    pub fn new(rules: impl IntoIterator<Item = Rule>) -> Result<Self, RuleSetError> {
        Self::builder().rules(rules).build()
    }

    /// Advice found while compiling (long news titles, shadowed rules).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule definitions, in file order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|r| &r.def)
    }

    /// The time zone of the set's schedules (IANA name, e.g. `Asia/Shanghai`): the zone
    /// its days are counted in.
    pub fn timezone(&self) -> &str {
        self.tz.iana_name().unwrap_or("UTC")
    }

    /// The ids of its fallback rules (`fallback = true`), in file order.
    pub fn fallback_ids(&self) -> impl Iterator<Item = &str> {
        self.rules().filter(|r| r.fallback).map(|r| r.id.as_str())
    }

    /// The normalizer this set applies to messages and keywords.
    pub fn normalizer(&self) -> &Normalizer {
        &self.normalizer
    }

    /// The sensitive-word filter.
    pub fn sensitive_filter(&self) -> &SensitiveFilter {
        &self.filter
    }

    /// `(folded, clean)` normalized forms of the text; `clean` (no case folding) only
    /// when regex keywords need it.
    pub(crate) fn normalize(&self, text: &str) -> (String, Option<String>) {
        self.normalizer.normalize_both(text, self.index.has_regex())
    }

    /// Keyword matches, by rank, one per rule (its best-ranked keyword).
    pub(crate) fn keyword_candidates(&self, folded: &str, clean: Option<&str>) -> Vec<KwRef> {
        let mut hits = Vec::new();
        self.index
            .search(folded, clean.unwrap_or(folded), &mut hits);
        hits.sort_unstable_by_key(|h| (self.rules[h.rule as usize].rank, h.keyword));
        hits.dedup_by_key(|h| h.rule);
        hits
    }
}
