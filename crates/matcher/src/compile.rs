//! Compiling and validating rules into a [`RuleSet`]: the [`RuleSetBuilder`], every
//! check that names the rule and the field, and the advice given as warnings.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use jiff::tz::TimeZone;

use crate::compiled::{
    CompiledPart, CompiledReply, CompiledRule, CompiledStep, RuleSet, VariantReply,
};
use crate::error::{RuleError, RuleSetError, Warning};
use crate::filter::SensitiveFilter;
use crate::hit::AskedStep;
use crate::index::{IndexBuilder, KwRef};
use crate::normalize::Normalizer;
use crate::regex_keyword::{CheckedRegex, LazyRegex, RegexProblem, check_regex};
use crate::rule::{MatchMode, Part, ReplySpec, Rule, Schedule};
use crate::schedule::{CompiledSchedule, max_overlap};
use crate::shadow::shadowed;
use crate::template::Template;

/// Default time zone of schedules.
pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";
/// WeCom's own limit of auto-reply rules in force for one group chat at once.
pub const DEFAULT_MAX_RULES_PER_CHAT: usize = 3;
/// The variables every reply may use.
const BUILT_IN_VARIABLES: [&str; 4] = ["user_id", "nickname", "time", "date"];
/// News titles longer than this many characters read badly on a phone.
const NEWS_TITLE_ADVICE_CHARS: usize = 15;

/// Bounds on a rule set, so that loading stays linear and bounded whatever a file holds:
/// each broken one is an error naming the rule and the field. Set them with
/// [`RuleSetBuilder::limits`]; files larger than [`Limits::max_file_bytes`] (default)
/// are refused before parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Rules in a set (default 200 000).
    pub max_rules: usize,
    /// Keywords of one rule (default 200).
    pub max_keywords_per_rule: usize,
    /// Characters of one keyword or regex (default 200).
    pub max_keyword_chars: usize,
    /// Characters of a rule id (default 128).
    pub max_id_chars: usize,
    /// Bytes of a rules file (default 32 MiB).
    pub max_file_bytes: usize,
    /// Bytes one compiled regex may take (default 1 MiB; keyword regexes take a few
    /// KB — `快递\d{6}(?P<code>[A-Z]{2}\d{4})` with Unicode classes included).
    pub max_regex_bytes: usize,
    /// Bytes all regexes of a set may take together, compiled (default 256 MiB, room
    /// for some 20 000 keyword regexes). Checked as each compiles, so a file of
    /// thousands of large regexes fails in about a second, naming the rule that crossed
    /// it, instead of taking minutes and gigabytes; it also bounds what the regexes
    /// compiled on first use can take.
    pub max_total_regex_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_rules: 200_000,
            max_keywords_per_rule: 200,
            max_keyword_chars: 200,
            max_id_chars: 128,
            max_file_bytes: 32 << 20,
            max_regex_bytes: 1 << 20,
            max_total_regex_bytes: 256 << 20,
        }
    }
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
    variables: BTreeSet<String>,
    limits: Limits,
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
            variables: BTreeSet::new(),
            limits: Limits::default(),
        }
    }
}

impl RuleSetBuilder {
    /// Other bounds than [`Limits::default`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

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

    /// Declares variables the caller supplies with each message
    /// ([`Incoming::attr`](crate::Incoming::attr)), so replies may use them; any other
    /// variable that is not built in or a capture of the rule's regex is an error.
    pub fn variables<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.variables.extend(names.into_iter().map(Into::into));
        self
    }

    /// Compiles and validates.
    ///
    /// # Errors
    /// Every problem found, each naming the rule and the field: duplicate ids, rules
    /// without keywords (unless fallback, intent or event rules), event rules with keywords, bad regexes, unknown time zones,
    /// bad windows or dates, unknown templates or schedules, invalid reply templates,
    /// zero-weight variants, zero limits, a rule with neither a reply nor an action, a
    /// reply variable that is neither built in (`user_id`, `nickname`, `time`, `date`), a
    /// capture of the rule's regex, nor declared with [`variables`](Self::variables)
    /// (intent rules may use any: their entities), and more than `max_rules_per_chat`
    /// rules in force for one chat at one time. An empty set is a warning.
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
        Part::Image { media_id } => CompiledPart::Image {
            media_id: media_id.clone(),
        },
        Part::Video {
            media_id,
            title,
            description,
        } => CompiledPart::Video {
            media_id: media_id.clone(),
            title: ot(title)?,
            description: ot(description)?,
        },
        Part::News {
            title,
            description,
            url,
            pic_url,
        } => CompiledPart::News {
            title: t(title)?,
            description: ot(description)?,
            url: t(url)?,
            pic_url: pic_url.clone(),
        },
        Part::File { media_id, name } => CompiledPart::File {
            media_id: media_id.clone(),
            name: name.clone(),
        },
        Part::LocalFile { path, name } => CompiledPart::LocalFile {
            path: path.clone(),
            name: name.clone(),
        },
        Part::MiniProgram {
            appid,
            pagepath,
            title,
            thumb_media_id,
        } => CompiledPart::MiniProgram {
            appid: appid.clone(),
            pagepath: pagepath.clone(),
            title: t(title)?,
            thumb_media_id: thumb_media_id.clone(),
        },
    })
}

fn compile_parts(parts: &[Part], field: &str) -> Result<Vec<CompiledPart>, (String, String)> {
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            compile_part(p).map_err(|e| {
                let n = i + 1;
                let at = if field.is_empty() {
                    format!("part {n}")
                } else {
                    format!("{field} part {n}")
                };
                (at, e)
            })
        })
        .collect()
}

#[allow(
    clippy::too_many_lines,
    reason = "one pass that checks every field of every rule"
)]
fn compile(b: &RuleSetBuilder) -> Result<RuleSet, RuleSetError> {
    if b.rules.len() > b.limits.max_rules {
        return Err(too_many_rules(b.rules.len(), b.limits.max_rules));
    }
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
        if let Err((field, message)) = compile_parts(parts, "") {
            errors.push(RuleError::new(format!("template '{name}'"), field, message));
        }
    }

    let mut seen: HashSet<&str> = HashSet::new();
    let mut regex_budget = RegexBudget::new(&b.limits);
    let mut compiled: Vec<CompiledRule> = Vec::with_capacity(b.rules.len());
    // By rule, by keyword: the literals prefiltering each regex keyword.
    let mut prefilters: Vec<Vec<Option<Vec<String>>>> = Vec::with_capacity(b.rules.len());
    for (i, rule) in b.rules.iter().enumerate() {
        let label = rule_label(rule, i);
        let mut fail = |field: &str, message: String| {
            errors.push(RuleError::new(label.clone(), field, message));
        };
        let limits = &b.limits;
        if rule.id.trim().is_empty() {
            fail("id", "is empty".into());
        } else if rule.id.chars().count() > limits.max_id_chars {
            fail(
                "id",
                format!("longer than {} characters", limits.max_id_chars),
            );
        } else if !seen.insert(rule.id.as_str()) {
            fail("id", format!("duplicate id {}", short(&rule.id)));
        }
        if rule.keywords.len() > limits.max_keywords_per_rule {
            fail(
                "keywords",
                format!(
                    "{} keywords; at most {} per rule",
                    rule.keywords.len(),
                    limits.max_keywords_per_rule
                ),
            );
            continue;
        }
        if let Some(k) = rule
            .keywords
            .iter()
            .position(|k| k.text.chars().count() > limits.max_keyword_chars)
        {
            fail(
                &format!("keyword {}", k + 1),
                format!(
                    "{} is longer than {} characters",
                    short(&rule.keywords[k].text),
                    limits.max_keyword_chars
                ),
            );
            continue;
        }
        if rule.event.is_some() {
            if !rule.keywords.is_empty() || rule.fallback || rule.intent.is_some() {
                fail(
                    "event",
                    "an event rule fires on its event only: remove its keywords, fallback or intent"
                        .into(),
                );
            }
            if rule
                .event
                .as_ref()
                .is_some_and(|e| e.name.trim().is_empty())
            {
                fail("event", "the event name is empty".into());
            }
        } else if rule.keywords.is_empty()
            && !rule.fallback
            && rule.intent.is_none()
            && rule.step.is_none()
        {
            fail(
                "keywords",
                "no keywords (add one, or make it a fallback, intent or event rule)".into(),
            );
        }
        let mut regexes = Vec::with_capacity(rule.keywords.len());
        let mut literals = Vec::with_capacity(rule.keywords.len());
        let mut capture_names: Vec<String> = Vec::new();
        let mut keywords = Vec::with_capacity(rule.keywords.len());
        for (k, kw) in rule.keywords.iter().enumerate() {
            let field = format!("keyword {}", k + 1);
            if kw.mode == MatchMode::Regex {
                match regex_budget.check(&kw.text) {
                    Ok(Some(checked)) => {
                        capture_names.extend(checked.captures);
                        regexes.push(Some(Arc::new(LazyRegex::new(
                            &kw.text,
                            limits.max_regex_bytes,
                        ))));
                        literals.push(checked.literals);
                    }
                    outcome => {
                        if let Err(message) = outcome {
                            fail(&field, message);
                        }
                        regexes.push(None);
                        literals.push(None);
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
                literals.push(None);
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
                        format!("reply.variant {}.weight", v + 1),
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
                            compile_parts(&var.parts, &format!("reply.variant {}", v + 1)).map(
                                |parts| VariantReply {
                                    id: var.id.clone(),
                                    weight: var.weight,
                                    parts,
                                },
                            )
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
        if matches!(rule.reply, ReplySpec::None) && rule.actions.is_empty() {
            fail(
                "reply",
                "no reply and no action: add a reply, or an action such as escalate".into(),
            );
        }
        if rule.intent.is_none() {
            let captures: HashSet<&str> = capture_names.iter().map(String::as_str).collect();
            for (field, name) in unknown_variables(&reply, &captures, &b.variables) {
                fail(
                    &field,
                    format!(
                        "unknown variable {{{name}}}: not built in (user_id, nickname, time, date), not a capture of this rule's regex, and not declared in `variables`"
                    ),
                );
            }
        }
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
        prefilters.push(literals);
        compiled.push(CompiledRule {
            id: rule.id.as_str().into(),
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
    let steps = compile_steps(&compiled, &normalizer, &mut errors);
    if !errors.is_empty() {
        return Err(if errors.len() == 1 {
            RuleSetError::Invalid(errors.remove(0))
        } else {
            RuleSetError::Many(errors)
        });
    }
    if compiled.is_empty() {
        warnings.push(Warning {
            rule: String::new(),
            message: "no rules: every message goes unanswered".to_owned(),
        });
    }

    let mut builder = IndexBuilder::default();
    let mut fallbacks = Vec::new();
    let mut intents: HashMap<String, Vec<u32>> = HashMap::new();
    let mut events: HashMap<String, Vec<u32>> = HashMap::new();
    for &i in &by_rank {
        let rule = &compiled[i as usize];
        for (k, kw) in rule.def.keywords.iter().enumerate() {
            let at = KwRef {
                rule: i,
                keyword: u16::try_from(k).unwrap_or(u16::MAX),
            };
            match rule.regexes.get(k).and_then(Option::as_ref) {
                Some(regex) if kw.mode == MatchMode::Regex => {
                    let literals = prefilters[i as usize][k].as_deref();
                    builder.add_regex(at, Arc::clone(regex), literals);
                    if literals.is_none() {
                        warnings.push(Warning {
                            rule: rule.def.id.clone(),
                            message: format!(
                                "regex {} has no literal every match starts or ends with: it runs on every message (give it a fixed word, e.g. 快递\\d+ rather than \\d+)",
                                short(&kw.text)
                            ),
                        });
                    }
                }
                _ => builder.add(at, &rule.keywords[k], kw.mode),
            }
        }
        if rule.def.fallback {
            fallbacks.push(i);
        }
        if let Some(intent) = &rule.def.intent {
            intents.entry(intent.clone()).or_default().push(i);
        }
        if let Some(event) = &rule.def.event {
            events.entry(event.name.clone()).or_default().push(i);
        }
    }
    let index = builder
        .build()
        .map_err(|e| RuleSetError::Invalid(RuleError::new("rule set", "keywords", e)))?;
    warnings.extend(shadowed(&compiled, &by_rank, &index));
    Ok(RuleSet {
        rules: compiled,
        index,
        fallbacks,
        intents,
        events,
        steps,
        normalizer,
        filter: SensitiveFilter::new(&b.sensitive_words),
        block_incoming: b.block_incoming,
        tz,
        warnings,
    })
}

/// The conversation steps of `rules`: each [`Ask`](crate::Ask)'s answers, `otherwise`
/// and `on_timeout` resolved to rule indices; errors name the rule and the field (an
/// unknown target, a step asked by two rules, a `step` no rule asks, an ask without
/// answers or `otherwise`).
fn compile_steps(
    rules: &[CompiledRule],
    normalizer: &Normalizer,
    errors: &mut Vec<RuleError>,
) -> HashMap<String, CompiledStep> {
    let by_id: HashMap<&str, u32> = rules
        .iter()
        .zip(0u32..)
        .map(|(r, i)| (r.def.id.as_str(), i))
        .collect();
    let mut steps: HashMap<String, CompiledStep> = HashMap::new();
    for (i, r) in rules.iter().enumerate() {
        let Some(ask) = &r.def.ask else { continue };
        let mut fail = |field: &str, message: String| {
            errors.push(RuleError::new(rule_label(&r.def, i), field, message));
        };
        if ask.step.trim().is_empty() {
            fail("ask.step", "is empty".into());
            continue;
        }
        if ask.answers.is_empty() && ask.otherwise.is_none() {
            fail(
                "ask",
                "no answers and no otherwise: nothing would read the reply".into(),
            );
        }
        if ask.timeout_secs == 0 {
            fail("ask.timeout", "is zero".into());
        }
        let mut target = |field: &str, id: &str| {
            let found = by_id.get(id).copied();
            if found.is_none() {
                fail(field, format!("unknown rule {}", short(id)));
            }
            found
        };
        let mut step = CompiledStep {
            answers: HashMap::new(),
            otherwise: None,
            on_timeout: None,
            asked: AskedStep {
                step: ask.step.clone(),
                timeout_secs: ask.timeout_secs,
                has_timeout_reply: ask.on_timeout.is_some(),
            },
        };
        for (text, id) in &ask.answers {
            let field = format!("ask.answers.{}", short(text));
            if let Some(i) = target(&field, id) {
                step.answers.insert(normalizer.normalize(text), i);
            }
        }
        step.otherwise = ask
            .otherwise
            .as_deref()
            .and_then(|id| target("ask.otherwise", id));
        step.on_timeout = ask
            .on_timeout
            .as_deref()
            .and_then(|id| target("ask.on_timeout", id));
        if steps.insert(ask.step.clone(), step).is_some() {
            fail(
                "ask.step",
                format!("step {} is asked by another rule too", short(&ask.step)),
            );
        }
    }
    for (i, r) in rules.iter().enumerate() {
        if let Some(step) = &r.def.step
            && !steps.contains_key(step)
        {
            errors.push(RuleError::new(
                rule_label(&r.def, i),
                "step",
                format!("no rule asks step {} (give one an `ask`)", short(step)),
            ));
        }
    }
    steps
}

/// The compiled size a set's regexes may take ([`Limits::max_regex_bytes`] each,
/// [`Limits::max_total_regex_bytes`] together), spent as each regex is checked: what it
/// took, or, refused as too big, the work spent finding out.
struct RegexBudget {
    per_regex: usize,
    total: usize,
    left: usize,
    crossed: bool,
}

impl RegexBudget {
    fn new(limits: &Limits) -> Self {
        Self {
            per_regex: limits.max_regex_bytes,
            total: limits.max_total_regex_bytes,
            left: limits.max_total_regex_bytes,
            crossed: false,
        }
    }

    /// Checks `pattern`: `Ok(None)` once the budget is crossed (the load fails already;
    /// checking more would only spend time), `Err` what is wrong with it.
    fn check(&mut self, pattern: &str) -> Result<Option<CheckedRegex>, String> {
        if self.crossed {
            return Ok(None);
        }
        let limit = self.per_regex.min(self.left);
        match check_regex(pattern, limit) {
            Ok(checked) => {
                self.left = self.left.saturating_sub(checked.bytes);
                Ok(Some(checked))
            }
            Err(RegexProblem::TooBig(_)) if limit < self.per_regex => {
                self.crossed = true;
                Err(format!(
                    "regex {} crosses the budget of all regexes together, {} bytes compiled (Limits::max_total_regex_bytes): fewer or narrower regexes, or a larger budget",
                    short(pattern),
                    self.total
                ))
            }
            Err(RegexProblem::TooBig(limit)) => {
                self.left = self.left.saturating_sub(limit);
                Err(format!(
                    "regex {} compiles to more than {limit} bytes (Limits::max_regex_bytes): narrow its classes or repetitions",
                    short(pattern)
                ))
            }
            Err(RegexProblem::Syntax(e)) => Err(format!("invalid regex {pattern:?}: {e}")),
        }
    }
}

/// Variables of `reply` that nothing supplies: `(field, name)`, fields counted from 1.
fn unknown_variables<'a>(
    reply: &'a CompiledReply,
    captures: &HashSet<&str>,
    declared: &BTreeSet<String>,
) -> Vec<(String, &'a str)> {
    let known = |name: &str| {
        BUILT_IN_VARIABLES.contains(&name) || captures.contains(name) || declared.contains(name)
    };
    let lists: Vec<(String, &[CompiledPart])> = match reply {
        CompiledReply::Parts(parts) => vec![("reply".to_owned(), parts.as_slice())],
        CompiledReply::Variants { variants, .. } => variants
            .iter()
            .enumerate()
            .map(|(v, var)| (format!("reply.variant {}", v + 1), var.parts.as_slice()))
            .collect(),
    };
    let mut out = Vec::new();
    for (field, parts) in lists {
        for (i, part) in parts.iter().enumerate() {
            for name in part.templates().flat_map(Template::variables) {
                if !known(name) {
                    out.push((format!("{field} part {}", i + 1), name));
                }
            }
        }
    }
    out
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

/// At most 40 characters of `value`, quoted (error and warning texts never carry a whole
/// hostile value).
fn short(value: &str) -> String {
    let mut chars = value.chars();
    let head: String = chars.by_ref().take(40).collect();
    if chars.next().is_some() {
        format!("{head:?}…")
    } else {
        format!("{head:?}")
    }
}

/// The error for a set of `n` rules over `max`.
pub(crate) fn too_many_rules(n: usize, max: usize) -> RuleSetError {
    RuleSetError::Invalid(RuleError::new(
        "rule set",
        "rules",
        format!("{n} rules; at most {max} (raise Limits::max_rules)"),
    ))
}
