//! [`RuleSet`]: rules compiled once into an index, validated, with warnings.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use regex::Regex;

use crate::error::{RuleError, RuleSetError, Warning};
use crate::filter::SensitiveFilter;
use crate::hit::{ReplyPart, Verdict};
use crate::incoming::{CustomerKind, Incoming};
use crate::index::{IndexBuilder, KeywordIndex, KwRef};
use crate::normalize::Normalizer;
use crate::rule::{MatchMode, Part, ReplySpec, Rule, Schedule};
use crate::schedule::{CompiledSchedule, max_overlap};
use crate::template::Template;

/// Default time zone of schedules.
pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";
/// WeCom's own limit of auto-reply rules in force for one group chat at once.
pub const DEFAULT_MAX_RULES_PER_CHAT: usize = 3;
/// News titles longer than this many characters read badly on a phone.
const NEWS_TITLE_ADVICE_CHARS: usize = 15;

/// A reply part with templates in place of its text fields.
#[derive(Debug, Clone)]
pub(crate) enum CompiledPart {
    Text(Template),
    Image(String),
    Video(String, Option<Template>, Option<Template>),
    News(Template, Option<Template>, Template, Option<String>),
    File(String, Option<String>),
    MiniProgram(String, String, Template, Option<String>),
}

#[derive(Debug, Clone)]
pub(crate) enum CompiledReply {
    Parts(Vec<CompiledPart>),
    Variants {
        variants: Vec<(String, u32, Vec<CompiledPart>)>,
        seed: Option<String>,
        explore: Option<f64>,
    },
}

/// A rule ready to match.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub(crate) def: Rule,
    /// Position when sorted by priority (descending), then file order.
    pub(crate) rank: u32,
    pub(crate) schedule: Option<CompiledSchedule>,
    pub(crate) reply: CompiledReply,
    /// Per keyword: the regex, for captures (regex keywords only).
    pub(crate) regexes: Vec<Option<Regex>>,
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
        let s = &d.scope;
        if !s.chats.is_empty()
            && !incoming
                .chat_id
                .as_ref()
                .is_some_and(|c| s.chats.contains(c))
        {
            return Some(Verdict::OutOfScope("chat"));
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
    pub(crate) normalizer: Normalizer,
    pub(crate) filter: SensitiveFilter,
    pub(crate) block_incoming: bool,
    pub(crate) tz: TimeZone,
    pub(crate) warnings: Vec<Warning>,
}

/// Builds a [`RuleSet`].
#[derive(Debug, Clone)]
#[must_use]
pub struct RuleSetBuilder {
    rules: Vec<Rule>,
    timezone: String,
    max_rules_per_chat: usize,
    bot_names: Vec<String>,
    templates: BTreeMap<String, Vec<Part>>,
    schedules: BTreeMap<String, Schedule>,
    sensitive_words: Vec<String>,
    block_incoming: bool,
}

impl Default for RuleSetBuilder {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            timezone: DEFAULT_TIMEZONE.to_owned(),
            max_rules_per_chat: DEFAULT_MAX_RULES_PER_CHAT,
            bot_names: Vec::new(),
            templates: BTreeMap::new(),
            schedules: BTreeMap::new(),
            sensitive_words: Vec::new(),
            block_incoming: false,
        }
    }
}

impl RuleSetBuilder {
    /// Adds a rule (file order = the order of these calls).
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Adds rules.
    pub fn rules(mut self, rules: impl IntoIterator<Item = Rule>) -> Self {
        self.rules.extend(rules);
        self
    }

    /// The default time zone of schedules (IANA; default `Asia/Shanghai`).
    pub fn timezone(mut self, tz: impl Into<String>) -> Self {
        self.timezone = tz.into();
        self
    }

    /// How many rules may be in force for one chat at once (default 3, WeCom's limit
    /// for group auto-replies).
    pub fn max_rules_per_chat(mut self, max: usize) -> Self {
        self.max_rules_per_chat = max;
        self
    }

    /// The bot's own name, stripped from messages before matching.
    pub fn bot_name(mut self, name: impl Into<String>) -> Self {
        self.bot_names.push(name.into());
        self
    }

    /// A named reply template that rules can share.
    pub fn template(mut self, name: impl Into<String>, parts: Vec<Part>) -> Self {
        self.templates.insert(name.into(), parts);
        self
    }

    /// A named schedule that rules can share (`schedule_named`).
    pub fn schedule(mut self, name: impl Into<String>, schedule: Schedule) -> Self {
        self.schedules.insert(name.into(), schedule);
        self
    }

    /// Sensitive words: masked in replies; with `block_incoming`, messages containing one
    /// match no rule.
    pub fn sensitive_words<I, S>(mut self, words: I, block_incoming: bool) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.sensitive_words
            .extend(words.into_iter().map(Into::into));
        self.block_incoming = block_incoming;
        self
    }

    /// Compiles and validates.
    ///
    /// # Errors
    /// Every problem found, each naming the rule and the field: duplicate ids, rules
    /// without keywords (unless fallback or intent rules), bad regexes, unknown time zones,
    /// bad windows or dates, unknown templates or schedules, invalid reply templates,
    /// zero-weight variants, zero limits, and more than `max_rules_per_chat` rules in force
    /// for one chat at one time.
    pub fn build(self) -> Result<RuleSet, RuleSetError> {
        compile(&self)
    }
}

fn rule_label(rule: &Rule, i: usize) -> String {
    if rule.id.is_empty() {
        format!("rule #{}", i + 1)
    } else {
        format!("rule '{}'", rule.id)
    }
}

fn compile_part(part: &Part) -> Result<CompiledPart, String> {
    let t = |s: &str| Template::parse(s);
    let ot = |s: &Option<String>| s.as_deref().map(Template::parse).transpose();
    Ok(match part {
        Part::Text(text) => CompiledPart::Text(t(text)?),
        Part::Image { media_id } => CompiledPart::Image(media_id.clone()),
        Part::Video {
            media_id,
            title,
            description,
        } => CompiledPart::Video(media_id.clone(), ot(title)?, ot(description)?),
        Part::News {
            title,
            description,
            url,
            pic_url,
        } => CompiledPart::News(t(title)?, ot(description)?, t(url)?, pic_url.clone()),
        Part::File { media_id, name } => CompiledPart::File(media_id.clone(), name.clone()),
        Part::MiniProgram {
            appid,
            pagepath,
            title,
            thumb_media_id,
        } => CompiledPart::MiniProgram(
            appid.clone(),
            pagepath.clone(),
            t(title)?,
            thumb_media_id.clone(),
        ),
    })
}

fn compile_parts(parts: &[Part], field: &str) -> Result<Vec<CompiledPart>, (String, String)> {
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| compile_part(p).map_err(|e| (format!("{field}[{i}]"), e)))
        .collect()
}

#[allow(
    clippy::too_many_lines,
    reason = "one pass that checks every field of every rule"
)]
fn compile(b: &RuleSetBuilder) -> Result<RuleSet, RuleSetError> {
    let mut errors: Vec<RuleError> = Vec::new();
    let mut warnings: Vec<Warning> = Vec::new();
    let tz = match TimeZone::get(&b.timezone) {
        Ok(tz) => tz,
        Err(e) => {
            return Err(RuleSetError::Invalid(RuleError::new(
                "rule set",
                "timezone",
                format!("unknown time zone {:?}: {e}", b.timezone),
            )));
        }
    };
    let normalizer = b
        .bot_names
        .iter()
        .fold(Normalizer::new(), |n, name| n.bot_name(name));
    let mut named_schedules: BTreeMap<&str, CompiledSchedule> = BTreeMap::new();
    for (name, s) in &b.schedules {
        match CompiledSchedule::compile(s, &b.timezone) {
            Ok(c) => {
                named_schedules.insert(name, c);
            }
            Err((field, message)) => {
                errors.push(RuleError::new(format!("schedule '{name}'"), field, message));
            }
        }
    }
    for (name, parts) in &b.templates {
        if let Err((field, message)) = compile_parts(parts, "parts") {
            errors.push(RuleError::new(format!("template '{name}'"), field, message));
        }
    }

    let mut seen: HashSet<&str> = HashSet::new();
    let mut compiled: Vec<CompiledRule> = Vec::with_capacity(b.rules.len());
    for (i, rule) in b.rules.iter().enumerate() {
        let label = rule_label(rule, i);
        let mut fail = |field: &str, message: String| {
            errors.push(RuleError::new(label.clone(), field, message));
        };
        if rule.id.trim().is_empty() {
            fail("id", "is empty".into());
        } else if !seen.insert(rule.id.as_str()) {
            fail("id", format!("duplicate id {:?}", rule.id));
        }
        if rule.keywords.is_empty() && !rule.fallback && rule.intent.is_none() {
            fail(
                "keywords",
                "no keywords (add one, or make it a fallback or intent rule)".into(),
            );
        }
        let mut regexes = Vec::with_capacity(rule.keywords.len());
        let mut keywords = Vec::with_capacity(rule.keywords.len());
        for (k, kw) in rule.keywords.iter().enumerate() {
            let field = format!("keyword {}", k + 1);
            if kw.mode == MatchMode::Regex {
                match Regex::new(&kw.text) {
                    Ok(re) => regexes.push(Some(re)),
                    Err(e) => {
                        fail(&field, format!("invalid regex {:?}: {e}", kw.text));
                        regexes.push(None);
                    }
                }
                keywords.push(kw.text.clone());
            } else {
                let norm = normalizer.normalize(&kw.text);
                if norm.is_empty() {
                    fail(
                        &field,
                        format!("keyword {:?} is empty after normalization", kw.text),
                    );
                }
                regexes.push(None);
                keywords.push(norm);
            }
        }
        let schedule = match (&rule.schedule, &rule.schedule_ref) {
            (Some(_), Some(_)) => {
                fail(
                    "schedule",
                    "set either schedule or a named schedule, not both".into(),
                );
                None
            }
            (Some(s), None) => match CompiledSchedule::compile(s, &b.timezone) {
                Ok(c) => Some(c),
                Err((field, message)) => {
                    fail(&field, message);
                    None
                }
            },
            (None, Some(name)) => match named_schedules.get(name.as_str()) {
                Some(c) => Some(c.clone()),
                None => {
                    if b.schedules.contains_key(name) {
                        None // already reported as an invalid schedule
                    } else {
                        fail("schedule", format!("unknown schedule {name:?}"));
                        None
                    }
                }
            },
            (None, None) => None,
        };
        if rule.off_hours && rule.schedule.is_none() && rule.schedule_ref.is_none() {
            fail("off_hours", "an off-hours rule needs a schedule".into());
        }
        if let Some(limit) = rule.limit
            && (limit.max == 0 || limit.window_secs == 0)
        {
            fail("limit", "max and window must be above zero".into());
        }
        if rule.cooldown_secs == Some(0) {
            fail("cooldown", "must be above zero".into());
        }
        let reply = match &rule.reply {
            ReplySpec::None => Ok(CompiledReply::Parts(Vec::new())),
            ReplySpec::Parts(parts) => compile_parts(parts, "reply").map(CompiledReply::Parts),
            ReplySpec::Named(name) => match b.templates.get(name) {
                Some(parts) => compile_parts(parts, "reply").map(CompiledReply::Parts),
                None => Err((
                    "reply.template".to_owned(),
                    format!("unknown template {name:?}"),
                )),
            },
            ReplySpec::Variants {
                variants,
                seed,
                explore,
            } => {
                if variants.is_empty() {
                    Err(("reply.variants".to_owned(), "no variants".to_owned()))
                } else if let Some((v, _)) =
                    variants.iter().enumerate().find(|(_, v)| v.weight == 0)
                {
                    Err((
                        format!("reply.variants[{v}].weight"),
                        "must be above zero".to_owned(),
                    ))
                } else if explore.is_some_and(|e| !(0.0..=1.0).contains(&e)) {
                    Err((
                        "reply.explore".to_owned(),
                        "must be between 0 and 1".to_owned(),
                    ))
                } else {
                    variants
                        .iter()
                        .enumerate()
                        .map(|(v, var)| {
                            compile_parts(&var.parts, &format!("reply.variants[{v}].parts"))
                                .map(|parts| (var.id.clone(), var.weight, parts))
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map(|variants| CompiledReply::Variants {
                            variants,
                            seed: seed.clone(),
                            explore: *explore,
                        })
                }
            }
        };
        let reply = match reply {
            Ok(r) => r,
            Err((field, message)) => {
                fail(&field, message);
                CompiledReply::Parts(Vec::new())
            }
        };
        for part in all_parts(rule, &b.templates) {
            if let Part::News { title, .. } = part {
                let chars = title.chars().count();
                if chars > NEWS_TITLE_ADVICE_CHARS {
                    warnings.push(Warning {
                        rule: rule.id.clone(),
                        message: format!("news title {title:?} has {chars} characters; more than {NEWS_TITLE_ADVICE_CHARS} reads badly on a phone"),
                    });
                }
            }
        }
        compiled.push(CompiledRule {
            def: rule.clone(),
            rank: 0,
            schedule,
            reply,
            regexes,
            keywords,
        });
    }

    // Rank: priority descending, then file order.
    let mut by_rank: Vec<u32> = (0..u32::try_from(compiled.len()).unwrap_or(u32::MAX)).collect();
    by_rank.sort_by_key(|&i| (std::cmp::Reverse(compiled[i as usize].def.priority), i));
    for (rank, &i) in by_rank.iter().enumerate() {
        compiled[i as usize].rank = u32::try_from(rank).unwrap_or(u32::MAX);
    }

    check_chat_limits(&compiled, b.max_rules_per_chat, &mut errors);
    if !errors.is_empty() {
        return Err(if errors.len() == 1 {
            RuleSetError::Invalid(errors.remove(0))
        } else {
            RuleSetError::Many(errors)
        });
    }
    warnings.extend(shadowed(&compiled, &by_rank));

    let mut builder = IndexBuilder::default();
    let mut fallbacks = Vec::new();
    let mut intents: HashMap<String, Vec<u32>> = HashMap::new();
    for &i in &by_rank {
        let rule = &compiled[i as usize];
        for (k, kw) in rule.def.keywords.iter().enumerate() {
            let at = KwRef {
                rule: i,
                keyword: u16::try_from(k).unwrap_or(u16::MAX),
            };
            builder.add(at, &rule.keywords[k], kw.mode);
        }
        if rule.def.fallback {
            fallbacks.push(i);
        }
        if let Some(intent) = &rule.def.intent {
            intents.entry(intent.clone()).or_default().push(i);
        }
    }
    let index = builder
        .build()
        .map_err(|e| RuleSetError::Invalid(RuleError::new("rule set", "keywords", e)))?;
    Ok(RuleSet {
        rules: compiled,
        index,
        fallbacks,
        intents,
        normalizer,
        filter: SensitiveFilter::new(&b.sensitive_words),
        block_incoming: b.block_incoming,
        tz,
        warnings,
    })
}

/// Every part a rule may reply with (for advice).
fn all_parts<'a>(rule: &'a Rule, templates: &'a BTreeMap<String, Vec<Part>>) -> Vec<&'a Part> {
    match &rule.reply {
        ReplySpec::None => Vec::new(),
        ReplySpec::Parts(p) => p.iter().collect(),
        ReplySpec::Named(n) => templates
            .get(n)
            .map(|p| p.iter().collect())
            .unwrap_or_default(),
        ReplySpec::Variants { variants, .. } => variants.iter().flat_map(|v| &v.parts).collect(),
    }
}

/// More than `max` enabled rules in force for one chat at one instant of the week.
fn check_chat_limits(rules: &[CompiledRule], max: usize, errors: &mut Vec<RuleError>) {
    let mut by_chat: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in rules.iter().enumerate() {
        if r.def.enabled {
            for chat in &r.def.scope.chats {
                by_chat.entry(chat).or_default().push(i);
            }
        }
    }
    for (chat, members) in by_chat {
        if members.len() <= max {
            continue;
        }
        let intervals: Vec<(usize, u32, u32)> = members
            .iter()
            .flat_map(|&i| {
                let r = &rules[i];
                let week = match (&r.schedule, r.def.off_hours) {
                    (Some(s), false) => s.week_intervals(),
                    // Off-hours rules and unscheduled rules: conservatively, all week.
                    _ => vec![(0, 7 * 1440)],
                };
                week.into_iter().map(move |(s, e)| (i, s, e))
            })
            .collect();
        let most = max_overlap(&intervals);
        if most > max {
            let ids: Vec<&str> = members.iter().map(|&i| rules[i].def.id.as_str()).collect();
            errors.push(RuleError::new(
                "rule set",
                format!("scope.chats {chat:?}"),
                format!(
                    "{most} rules in force at once ({}); at most {max} allowed",
                    ids.join(", ")
                ),
            ));
        }
    }
}

/// Rules that can never fire by keyword: a higher-ranked unconditional rule catches every
/// text each of their keywords matches. Near-linear: the unconditional rules' keywords go
/// in a hash map (exact) and an Aho-Corasick automaton (contains, prefix) run over each
/// other rule's keywords.
fn shadowed(rules: &[CompiledRule], by_rank: &[u32]) -> Vec<Warning> {
    let unconditional = |r: &CompiledRule| {
        let d = &r.def;
        d.enabled
            && d.stop
            && d.schedule.is_none()
            && d.schedule_ref.is_none()
            && d.scope == crate::rule::Scope::default()
            && d.audience == crate::rule::Audience::default()
            && d.limit.is_none()
            && d.cooldown_secs.is_none()
    };
    let mut exact: HashMap<&str, Vec<u32>> = HashMap::new();
    let mut patterns: Vec<&str> = Vec::new();
    let mut owners: Vec<(u32, bool)> = Vec::new(); // (rank, is_prefix) per pattern
    for r in rules.iter().filter(|r| unconditional(r)) {
        for (k, kw) in r.def.keywords.iter().enumerate() {
            match kw.mode {
                MatchMode::Exact => exact
                    .entry(r.keywords[k].as_str())
                    .or_default()
                    .push(r.rank),
                MatchMode::Contains | MatchMode::Prefix => {
                    patterns.push(&r.keywords[k]);
                    owners.push((r.rank, kw.mode == MatchMode::Prefix));
                }
                MatchMode::Regex => {}
            }
        }
    }
    let automaton = aho_corasick::AhoCorasick::new(&patterns).ok();
    let mut out = Vec::new();
    for &bi in by_rank {
        let b = &rules[bi as usize];
        if b.def.keywords.is_empty() || !b.def.enabled {
            continue;
        }
        // Ranks of higher-ranked unconditional rules covering every keyword so far.
        let mut common: Option<Vec<u32>> = None;
        for (k, kw) in b.def.keywords.iter().enumerate() {
            let text = b.keywords[k].as_str();
            let mut covering: Vec<u32> = Vec::new();
            if kw.mode == MatchMode::Regex {
                common = Some(Vec::new());
                break;
            }
            if kw.mode == MatchMode::Exact {
                covering.extend(exact.get(text).into_iter().flatten());
            }
            if let Some(ac) = &automaton {
                for m in ac.find_overlapping_iter(text) {
                    let (rank, prefix) = owners[m.pattern().as_usize()];
                    let applies = !prefix || (m.start() == 0 && kw.mode != MatchMode::Contains);
                    if applies {
                        covering.push(rank);
                    }
                }
            }
            covering.retain(|&rank| rank < b.rank);
            common = Some(match common {
                None => covering,
                Some(prev) => prev.into_iter().filter(|r| covering.contains(r)).collect(),
            });
            if common.as_ref().is_some_and(Vec::is_empty) {
                break;
            }
        }
        if let Some(&rank) = common.as_ref().and_then(|c| c.iter().min()) {
            let a = &rules[by_rank[rank as usize] as usize];
            out.push(Warning {
                rule: b.def.id.clone(),
                message: format!(
                    "can never fire by keyword: rule '{}' ranks higher and catches all its keywords",
                    a.def.id
                ),
            });
        }
    }
    out
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

    /// Renders reply parts: variables, sensitive-word masking, videos before news.
    pub(crate) fn render(
        &self,
        parts: &[CompiledPart],
        incoming: &Incoming,
        now: Timestamp,
        extra: &BTreeMap<String, String>,
    ) -> Vec<ReplyPart> {
        // Variables: captures and entities, then the sender's attributes, then built-ins;
        // time and date are computed only when a template asks for them.
        let lookup = |name: &str| -> Option<Cow<'_, str>> {
            if let Some(v) = extra.get(name).or_else(|| incoming.attrs.get(name)) {
                return Some(Cow::Borrowed(v.as_str()));
            }
            match name {
                "user_id" => Some(Cow::Borrowed(incoming.user_id.as_str())),
                "nickname" => Some(Cow::Borrowed(
                    incoming.nickname.as_deref().unwrap_or(&incoming.user_id),
                )),
                "time" => {
                    let local = now.to_zoned_datetime(self.tz.clone());
                    Some(Cow::Owned(format!(
                        "{:02}:{:02}",
                        local.hour(),
                        local.minute()
                    )))
                }
                "date" => Some(Cow::Owned(
                    now.to_zoned_datetime(self.tz.clone()).date().to_string(),
                )),
                _ => None,
            }
        };
        let render = |t: &Template| t.render_with(lookup);
        let text = |t: &Template| {
            let rendered = render(t);
            if self.filter.is_empty() {
                rendered
            } else {
                self.filter.mask(&rendered)
            }
        };
        let opt = |t: &Option<Template>| t.as_ref().map(text);
        let mut out: Vec<ReplyPart> = parts
            .iter()
            .map(|p| match p {
                CompiledPart::Text(t) => ReplyPart::Text(text(t)),
                CompiledPart::Image(media_id) => ReplyPart::Image {
                    media_id: media_id.clone(),
                },
                CompiledPart::Video(media_id, title, description) => ReplyPart::Video {
                    media_id: media_id.clone(),
                    title: opt(title),
                    description: opt(description),
                },
                CompiledPart::News(title, description, url, pic_url) => ReplyPart::News {
                    title: text(title),
                    description: opt(description),
                    url: render(url),
                    pic_url: pic_url.clone(),
                },
                CompiledPart::File(media_id, name) => ReplyPart::File {
                    media_id: media_id.clone(),
                    name: name.clone(),
                },
                CompiledPart::MiniProgram(appid, pagepath, title, thumb) => {
                    ReplyPart::MiniProgram {
                        appid: appid.clone(),
                        pagepath: pagepath.clone(),
                        title: text(title),
                        thumb_media_id: thumb.clone(),
                    }
                }
            })
            .collect();
        videos_before_news(&mut out);
        out
    }
}

/// WeCom shows a video before news cards: move videos that follow the first news card to
/// just before it; everything else keeps its order.
fn videos_before_news(parts: &mut Vec<ReplyPart>) {
    let Some(first_news) = parts
        .iter()
        .position(|p| matches!(p, ReplyPart::News { .. }))
    else {
        return;
    };
    let (mut before, mut moved, mut rest) = (Vec::new(), Vec::new(), Vec::new());
    for (i, p) in parts.drain(..).enumerate() {
        if i < first_news {
            before.push(p);
        } else if matches!(p, ReplyPart::Video { .. }) {
            moved.push(p);
        } else {
            rest.push(p);
        }
    }
    parts.extend(before);
    parts.extend(moved);
    parts.extend(rest);
}
