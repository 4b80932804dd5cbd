//! Rules files (TOML or JSON): read into a [`RuleSetBuilder`] with errors that name the
//! rule and the field. Unknown fields are errors too, so a typo never silently disables
//! a setting. The format is documented in [`crate::guide`].

use std::path::Path;

use serde_json::{Map, Value};

use crate::compile::{Limits, RuleSetBuilder};
use crate::compiled::RuleSet;
use crate::error::{RuleError, RuleSetError};
use crate::incoming::{Channel, CustomerKind};
use crate::rule::{
    Action, Ask, Audience, DateRange, EventTrigger, Keyword, MatchMode, Part, ReplySpec, Rule,
    Schedule, Scope, TriggerLimit, Variant, Window, parse_days, parse_time,
};

type Res<T> = Result<T, RuleError>;

/// A JSON object being read, with the label of what it belongs to.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    owner: &'a str,
    path: String,
}

impl<'a> Obj<'a> {
    fn new(value: &'a Value, owner: &'a str, path: &str) -> Res<Self> {
        match value {
            Value::Object(map) => Ok(Self {
                map,
                owner,
                path: path.to_owned(),
            }),
            _ => Err(RuleError::new(owner, path, "must be a table")),
        }
    }

    fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn err(&self, key: &str, message: impl Into<String>) -> RuleError {
        RuleError::new(self.owner, self.field(key), message)
    }

    fn known(&self, keys: &[&str]) -> Res<()> {
        match self.map.keys().find(|k| !keys.contains(&k.as_str())) {
            Some(k) => Err(self.err(
                k,
                format!("unknown field (expected one of: {})", keys.join(", ")),
            )),
            None => Ok(()),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    fn str(&self, key: &str) -> Res<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.err(key, "must be a string")),
        }
    }

    fn string(&self, key: &str) -> Res<Option<String>> {
        self.str(key).map(|s| s.map(str::to_owned))
    }

    fn required(&self, key: &str) -> Res<String> {
        self.string(key)?
            .ok_or_else(|| self.err(key, "is required"))
    }

    fn bool(&self, key: &str) -> Res<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.err(key, "must be true or false")),
        }
    }

    fn int(&self, key: &str) -> Res<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.err(key, "must be a whole number")),
        }
    }

    fn float(&self, key: &str) -> Res<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.err(key, "must be a number")),
        }
    }

    fn strings(&self, key: &str) -> Res<Vec<String>> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| self.err(&format!("{key} {}", i + 1), "must be a string"))
                })
                .collect(),
            Some(_) => Err(self.err(key, "must be a list of strings")),
        }
    }

    fn array(&self, key: &str) -> Res<&'a [Value]> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(self.err(key, "must be a list")),
        }
    }

    fn duration(&self, key: &str) -> Res<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => parse_duration(s).map(Some).map_err(|m| self.err(key, m)),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                self.err(
                    key,
                    "must be seconds or a duration like \"30s\", \"10m\", \"1h\", \"1d\"",
                )
            }),
        }
    }
}

/// `"90"`, `"30s"`, `"10m"`, `"1h"`, `"1d"` → seconds.
fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let bad = || format!("invalid duration {text:?} (use 30s, 10m, 1h, 1d)");
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

fn schedule(o: &Obj<'_>) -> Res<Schedule> {
    o.known(&["timezone", "windows", "dates", "except"])?;
    let windows = o
        .array("windows")?
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let path = o.field(&format!("window {}", i + 1));
            let w = Obj::new(w, o.owner, &path)?;
            w.known(&["days", "start", "end"])?;
            Ok(Window {
                days: parse_days(w.str("days")?.unwrap_or("daily"))
                    .map_err(|m| w.err("days", m.0))?,
                start: parse_time(&w.required("start")?).map_err(|m| w.err("start", m.0))?,
                end: parse_time(&w.required("end")?).map_err(|m| w.err("end", m.0))?,
            })
        })
        .collect::<Res<_>>()?;
    let ranges = |key: &str| -> Res<Vec<DateRange>> {
        o.array(key)?
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let path = o.field(&format!("{key} {}", i + 1));
                let r = Obj::new(r, o.owner, &path)?;
                r.known(&["from", "to"])?;
                let from = r.required("from")?;
                let to = r.string("to")?.unwrap_or_else(|| from.clone());
                Ok(DateRange { from, to })
            })
            .collect()
    };
    Ok(Schedule {
        timezone: o.string("timezone")?,
        windows,
        dates: ranges("dates")?,
        except: ranges("except")?,
    })
}

fn part(v: &Value, owner: &str, path: &str) -> Res<Part> {
    if let Value::String(s) = v {
        return Ok(Part::Text(s.clone()));
    }
    let o = Obj::new(v, owner, path)?;
    if o.map.len() != 1 {
        return Err(RuleError::new(
            owner,
            path,
            "a part has exactly one of: text, image, video, news, file, miniprogram",
        ));
    }
    o.known(&["text", "image", "video", "news", "file", "miniprogram"])?;
    if let Some(text) = o.string("text")? {
        return Ok(Part::Text(text));
    }
    if let Some(v) = o.get("image") {
        return Ok(Part::Image {
            media_id: if let Value::String(s) = v {
                s.clone()
            } else {
                let i = Obj::new(v, owner, &o.field("image"))?;
                i.known(&["media_id"])?;
                i.required("media_id")?
            },
        });
    }
    let inner = |key: &str, known: &[&str]| -> Res<Obj<'_>> {
        let i = Obj::new(o.get(key).unwrap_or(&Value::Null), owner, &o.field(key))?;
        i.known(known)?;
        Ok(i)
    };
    if o.get("video").is_some() {
        let i = inner("video", &["media_id", "title", "description"])?;
        return Ok(Part::Video {
            media_id: i.required("media_id")?,
            title: i.string("title")?,
            description: i.string("description")?,
        });
    }
    if o.get("news").is_some() {
        let i = inner("news", &["title", "description", "url", "pic_url"])?;
        return Ok(Part::News {
            title: i.required("title")?,
            description: i.string("description")?,
            url: i.required("url")?,
            pic_url: i.string("pic_url")?,
        });
    }
    if o.get("file").is_some() {
        // `{ file = { media_id = "…" } }` (uploaded already) or `{ file = { path = "…" } }`
        // (the bot uploads it).
        let i = inner("file", &["media_id", "path", "name"])?;
        return match (i.string("media_id")?, i.string("path")?) {
            (Some(media_id), None) => Ok(Part::File {
                media_id,
                name: i.string("name")?,
            }),
            (None, Some(path)) => Ok(Part::LocalFile {
                path,
                name: i.string("name")?,
            }),
            (Some(_), Some(_)) => Err(i.err("path", "set either media_id or path, not both")),
            (None, None) => Err(i.err("media_id", "is required (or path, for a local file)")),
        };
    }
    let i = inner(
        "miniprogram",
        &["appid", "pagepath", "title", "thumb_media_id"],
    )?;
    Ok(Part::MiniProgram {
        appid: i.required("appid")?,
        pagepath: i.required("pagepath")?,
        title: i.required("title")?,
        thumb_media_id: i.string("thumb_media_id")?,
    })
}

fn parts(v: &Value, owner: &str, path: &str) -> Res<Vec<Part>> {
    match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, p)| part(p, owner, &format!("{path} part {}", i + 1)))
            .collect(),
        other => Ok(vec![part(other, owner, path)?]),
    }
}

fn keyword(v: &Value, owner: &str, n: usize) -> Res<Keyword> {
    let field = format!("keyword {n}");
    match v {
        Value::String(s) => Ok(Keyword::new(s.clone(), MatchMode::Contains)),
        Value::Object(map) if map.len() == 1 => {
            let (mode, text) = map
                .iter()
                .next()
                .ok_or_else(|| RuleError::new(owner, &field, "is empty"))?;
            let mode = match mode.as_str() {
                "exact" => MatchMode::Exact,
                "contains" => MatchMode::Contains,
                "prefix" => MatchMode::Prefix,
                "regex" => MatchMode::Regex,
                other => {
                    return Err(RuleError::new(
                        owner,
                        field,
                        format!("unknown match mode {other:?} (exact, contains, prefix, regex)"),
                    ));
                }
            };
            let text = text
                .as_str()
                .ok_or_else(|| RuleError::new(owner, &field, "the keyword must be a string"))?;
            Ok(Keyword::new(text, mode))
        }
        _ => Err(RuleError::new(
            owner,
            field,
            "a string, or one of {exact, contains, prefix, regex} = \"…\"",
        )),
    }
}

fn channel(name: &str) -> Option<Channel> {
    Some(match name {
        "app" => Channel::App,
        "app_chat" => Channel::AppChat,
        "customer_group" => Channel::CustomerGroup,
        "kf" => Channel::Kf,
        "ai_bot" => Channel::AiBot,
        _ => return None,
    })
}

/// `ask = { step, answers = { "1" = "rule-id", … }, otherwise, on_timeout, timeout }`.
fn ask(a: &Obj<'_>) -> Res<Ask> {
    a.known(&["step", "answers", "otherwise", "on_timeout", "timeout"])?;
    let mut ask = Ask::new(a.required("step")?);
    if let Some(v) = a.get("answers") {
        let answers = Obj::new(v, a.owner, &a.field("answers"))?;
        for (text, target) in answers.map {
            let Value::String(target) = target else {
                return Err(answers.err(text, "must be the id of the rule the answer fires"));
            };
            ask = ask.answer(text.clone(), target.clone());
        }
    }
    ask.otherwise = a.string("otherwise")?;
    ask.on_timeout = a.string("on_timeout")?;
    if let Some(secs) = a.duration("timeout")? {
        ask.timeout_secs = secs;
    }
    Ok(ask)
}

#[allow(
    clippy::too_many_lines,
    reason = "one field after another of the rule table"
)]
fn rule(v: &Value, index: usize) -> Res<Rule> {
    let id_hint = v.get("id").and_then(Value::as_str).map(str::to_owned);
    let owner = id_hint.map_or_else(
        || format!("rule #{}", index + 1),
        |id| format!("rule '{id}'"),
    );
    let o = Obj::new(v, &owner, "")?;
    o.known(&[
        "id",
        "name",
        "enabled",
        "priority",
        "keywords",
        "intent",
        "event",
        "fallback",
        "schedule",
        "off_hours",
        "scope",
        "audience",
        "limit",
        "cooldown",
        "reply",
        "variants",
        "variant_seed",
        "explore",
        "actions",
        "continue",
        "ask",
        "step",
    ])?;
    let id = o.required("id")?;
    let mut r = Rule::new(id.clone(), o.string("name")?.unwrap_or(id));
    r.enabled = o.bool("enabled")?.unwrap_or(true);
    r.priority = i32::try_from(o.int("priority")?.unwrap_or(0))
        .map_err(|_| o.err("priority", "out of range"))?;
    r.keywords = match o.get("keywords") {
        // `keywords = "退款"` or `keywords = { exact = "退款" }`: one keyword.
        Some(one @ (Value::String(_) | Value::Object(_))) => vec![keyword(one, &owner, 1)?],
        _ => o
            .array("keywords")?
            .iter()
            .enumerate()
            .map(|(i, k)| keyword(k, &owner, i + 1))
            .collect::<Res<_>>()?,
    };
    r.intent = o.string("intent")?;
    r.fallback = o.bool("fallback")?.unwrap_or(false);
    r.event = match o.get("event") {
        None => None,
        // `event = "enter_agent"`, or `event = { name = "click", key = "MENU_HOURS" }`.
        Some(Value::String(name)) => Some(EventTrigger {
            name: name.clone(),
            key: None,
        }),
        Some(v) => {
            let e = Obj::new(v, &owner, "event")?;
            e.known(&["name", "key"])?;
            Some(EventTrigger {
                name: e.required("name")?,
                key: e.string("key")?,
            })
        }
    };
    match o.get("schedule") {
        None => {}
        Some(Value::String(name)) => r.schedule_ref = Some(name.clone()),
        Some(v) => r.schedule = Some(schedule(&Obj::new(v, &owner, "schedule")?)?),
    }
    r.off_hours = o.bool("off_hours")?.unwrap_or(false);
    if let Some(v) = o.get("scope") {
        let s = Obj::new(v, &owner, "scope")?;
        s.known(&["chats", "users", "departments", "tags", "channels", "chat"])?;
        r.scope = Scope {
            chats: s.strings("chats")?,
            users: s.strings("users")?,
            departments: s
                .array("departments")?
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    d.as_u64().ok_or_else(|| {
                        s.err(&format!("department {}", i + 1), "must be a department id")
                    })
                })
                .collect::<Res<_>>()?,
            tags: s.strings("tags")?,
            channels: s
                .strings("channels")?
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    channel(c).ok_or_else(|| {
                        s.err(
                            &format!("channel {}", i + 1),
                            format!(
                                "unknown channel {c:?} (app, app_chat, customer_group, kf, ai_bot)"
                            ),
                        )
                    })
                })
                .collect::<Res<_>>()?,
            chat: match s.str("chat")? {
                None | Some("any") => None,
                Some("group") => Some(crate::ChatKind::Group),
                Some("single") => Some(crate::ChatKind::Single),
                Some(other) => {
                    return Err(s.err(
                        "chat",
                        format!("unknown chat kind {other:?} (group, single, any)"),
                    ));
                }
            },
        };
    }
    if let Some(v) = o.get("audience") {
        let a = Obj::new(v, &owner, "audience")?;
        a.known(&["customer", "has_tags", "lacks_tags"])?;
        r.audience = Audience {
            customer: match a.str("customer")? {
                None | Some("any") => None,
                Some("new") => Some(CustomerKind::New),
                Some("returning") => Some(CustomerKind::Returning),
                Some(other) => {
                    return Err(a.err(
                        "customer",
                        format!("{other:?} is not new, returning or any"),
                    ));
                }
            },
            has_tags: a.strings("has_tags")?,
            lacks_tags: a.strings("lacks_tags")?,
        };
    }
    if let Some(v) = o.get("limit") {
        let l = Obj::new(v, &owner, "limit")?;
        l.known(&["max", "per"])?;
        r.limit = Some(TriggerLimit {
            max: u32::try_from(l.int("max")?.ok_or_else(|| l.err("max", "is required"))?)
                .map_err(|_| l.err("max", "out of range"))?,
            window_secs: l
                .duration("per")?
                .ok_or_else(|| l.err("per", "is required"))?,
        });
    }
    r.cooldown_secs = o.duration("cooldown")?;
    r.step = o.string("step")?;
    if let Some(v) = o.get("ask") {
        r.ask = Some(ask(&Obj::new(v, &owner, "ask")?)?);
    }
    r.reply = match (o.get("reply"), o.get("variants")) {
        (Some(_), Some(_)) => {
            return Err(o.err("variants", "set either reply or variants, not both"));
        }
        (Some(Value::Object(map)), None) if map.contains_key("template") => {
            let t = Obj::new(o.get("reply").unwrap_or(&Value::Null), &owner, "reply")?;
            t.known(&["template"])?;
            ReplySpec::Named(t.required("template")?)
        }
        (Some(v), None) => ReplySpec::Parts(parts(v, &owner, "reply")?),
        (None, Some(_)) => ReplySpec::Variants {
            variants: o
                .array("variants")?
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let path = format!("variant {}", i + 1);
                    let vo = Obj::new(v, &owner, &path)?;
                    vo.known(&["id", "weight", "reply"])?;
                    Ok(Variant {
                        id: vo.string("id")?.unwrap_or_else(|| format!("v{}", i + 1)),
                        weight: u32::try_from(vo.int("weight")?.unwrap_or(1))
                            .map_err(|_| vo.err("weight", "out of range"))?,
                        parts: parts(
                            vo.get("reply")
                                .ok_or_else(|| vo.err("reply", "is required"))?,
                            &owner,
                            &format!("{path}.reply"),
                        )?,
                    })
                })
                .collect::<Res<_>>()?,
            seed: o.string("variant_seed")?,
            explore: o.float("explore")?,
        },
        (None, None) => ReplySpec::None,
    };
    r.actions = o
        .array("actions")?
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let path = format!("action {}", i + 1);
            let a = Obj::new(a, &owner, &path)?;
            a.known(&[
                "add_tags",
                "remove_tags",
                "escalate",
                "priority",
                "hand_over",
            ])?;
            if a.get("add_tags").is_some() {
                Ok(Action::AddTags(a.strings("add_tags")?))
            } else if a.get("remove_tags").is_some() {
                Ok(Action::RemoveTags(a.strings("remove_tags")?))
            } else if let Some(servicer) = a.string("hand_over")? {
                Ok(Action::HandOver { servicer })
            } else if let Some(queue) = a.string("escalate")? {
                Ok(Action::Escalate {
                    queue,
                    priority: u8::try_from(a.int("priority")?.unwrap_or(0))
                        .map_err(|_| a.err("priority", "0 to 255"))?,
                })
            } else {
                Err(RuleError::new(
                    &owner,
                    path,
                    "an action is add_tags, remove_tags, escalate or hand_over",
                ))
            }
        })
        .collect::<Res<_>>()?;
    r.stop = !o.bool("continue")?.unwrap_or(false);
    Ok(r)
}

/// Reads a parsed rules document into a builder.
fn builder(doc: &Value) -> Result<RuleSetBuilder, RuleSetError> {
    let owner = "rule set";
    let top = Obj::new(doc, owner, "").map_err(RuleSetError::Invalid)?;
    top.known(&[
        "timezone",
        "max_rules_per_chat",
        "bot_name",
        "schedules",
        "templates",
        "filter",
        "variables",
        "rules",
    ])
    .map_err(RuleSetError::Invalid)?;
    let mut b = RuleSet::builder();
    let mut errors = Vec::new();
    let settings = || -> Res<RuleSetBuilder> {
        let mut b = RuleSet::builder();
        if let Some(tz) = top.string("timezone")? {
            b = b.timezone(tz);
        }
        if let Some(max) = top.int("max_rules_per_chat")? {
            b = b.max_rules_per_chat(
                usize::try_from(max)
                    .map_err(|_| top.err("max_rules_per_chat", "must be positive"))?,
            );
        }
        for name in top.strings("bot_name")? {
            b = b.bot_name(name);
        }
        b = b.variables(top.strings("variables")?);
        if let Some(v) = top.get("schedules") {
            let map = v
                .as_object()
                .ok_or_else(|| top.err("schedules", "must be a table of named schedules"))?;
            for (name, s) in map {
                let label = format!("schedule '{name}'");
                b = b.schedule(name, schedule(&Obj::new(s, &label, "")?)?);
            }
        }
        if let Some(v) = top.get("templates") {
            let map = v
                .as_object()
                .ok_or_else(|| top.err("templates", "must be a table of named replies"))?;
            for (name, t) in map {
                let label = format!("template '{name}'");
                b = b.template(name, parts(t, &label, "")?);
            }
        }
        if let Some(v) = top.get("filter") {
            let f = Obj::new(v, owner, "filter")?;
            f.known(&["words", "block_incoming"])?;
            b = b.sensitive_words(
                f.strings("words")?,
                f.bool("block_incoming")?.unwrap_or(false),
            );
        }
        Ok(b)
    };
    match settings() {
        Ok(settings) => b = settings,
        Err(e) => errors.push(e),
    }
    let rules = match top.get("rules") {
        None => &[][..],
        Some(Value::Array(rules)) => rules,
        Some(_) => {
            return Err(RuleSetError::Invalid(
                top.err("rules", "must be a list of [[rules]] tables"),
            ));
        }
    };
    let max = Limits::default().max_rules;
    if rules.len() > max {
        return Err(crate::compile::too_many_rules(rules.len(), max));
    }
    for (i, r) in rules.iter().enumerate() {
        match rule(r, i) {
            Ok(r) => b = b.rule(r),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        return Ok(b);
    }
    // Report what compiling the readable rules finds too, so one run shows every problem.
    if let Err(more) = b.build() {
        errors.extend(more.problems().into_iter().cloned());
    }
    Err(if errors.len() == 1 {
        RuleSetError::Invalid(errors.remove(0))
    } else {
        RuleSetError::Many(errors)
    })
}

impl RuleSetBuilder {
    /// A builder holding a TOML rules file's settings and rules, to which code can add
    /// more (`.rule(…)`) before building.
    ///
    /// # Errors
    /// TOML syntax errors, and every problem the file's own content has.
    pub fn from_toml_str(text: &str) -> Result<Self, RuleSetError> {
        check_size(text.len())?;
        let doc: Value = toml::from_str(text).map_err(|e| RuleSetError::Syntax(e.to_string()))?;
        builder(&doc)
    }

    /// The JSON form of [`from_toml_str`](Self::from_toml_str).
    ///
    /// # Errors
    /// As [`from_toml_str`](Self::from_toml_str).
    pub fn from_json_str(text: &str) -> Result<Self, RuleSetError> {
        check_size(text.len())?;
        let doc: Value =
            serde_json::from_str(text).map_err(|e| RuleSetError::Syntax(e.to_string()))?;
        builder(&doc)
    }
}

impl RuleSet {
    /// Reads a TOML rules file (format: [`crate::guide`]).
    ///
    /// # Errors
    /// TOML syntax errors, then every rule problem with the rule and the field.
    pub fn from_toml_str(text: &str) -> Result<Self, RuleSetError> {
        RuleSetBuilder::from_toml_str(text)?.build()
    }

    /// Reads a JSON rules file (the same structure as TOML).
    ///
    /// # Errors
    /// As [`from_toml_str`](Self::from_toml_str).
    pub fn from_json_str(text: &str) -> Result<Self, RuleSetError> {
        RuleSetBuilder::from_json_str(text)?.build()
    }

    /// Reads a rules file: JSON when it ends in `.json`, TOML otherwise.
    ///
    /// # Errors
    /// The file cannot be read, or as [`from_toml_str`](Self::from_toml_str).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, RuleSetError> {
        let path = path.as_ref();
        let io = |reason: String| RuleSetError::Io {
            path: path.display().to_string(),
            reason,
        };
        let len = std::fs::metadata(path)
            .map_err(|e| io(e.to_string()))?
            .len();
        let max = Limits::default().max_file_bytes;
        if usize::try_from(len).unwrap_or(usize::MAX) > max {
            return Err(io(format!("{len} bytes; a rules file has at most {max}")));
        }
        let text = std::fs::read_to_string(path).map_err(|e| RuleSetError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let read = if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            Self::from_json_str(&text)
        } else {
            Self::from_toml_str(&text)
        };
        // A syntax error names the file it is in.
        read.map_err(|e| match e {
            RuleSetError::Syntax(reason) => {
                RuleSetError::Syntax(format!("{}: {reason}", path.display()))
            }
            other => other,
        })
    }
}

/// Refuses a rules file over [`Limits::max_file_bytes`] before parsing it.
fn check_size(len: usize) -> Result<(), RuleSetError> {
    let max = Limits::default().max_file_bytes;
    if len > max {
        return Err(RuleSetError::Syntax(format!(
            "{len} bytes; a rules file has at most {max}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("30s"), Ok(30));
        assert_eq!(parse_duration("10m"), Ok(600));
        assert_eq!(parse_duration("2h"), Ok(7200));
        assert_eq!(parse_duration("1d"), Ok(86_400));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
    }
}
