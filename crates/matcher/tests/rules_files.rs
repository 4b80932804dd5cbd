//! The rules-file format: JSON reads like TOML, one keyword may be written as a string,
//! and every kind of mistake is reported with the rule and the field. (The shipped
//! example files are tested by the facade package that ships them.)

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::needless_pass_by_value,
    reason = "tests"
)]

use wecom_sdk_matcher::*;

#[test]
fn json_reads_like_toml() {
    let json = r#"{
        "timezone": "Asia/Shanghai",
        "rules": [
            {"id": "hours", "keywords": ["营业时间", {"exact": "几点开门"}], "reply": "9:00–21:00"},
            {"id": "fallback", "fallback": true, "reply": ["稍后回复", {"image": "MEDIA_QR"}]}
        ]
    }"#;
    let e = Engine::new(RuleSet::from_json_str(json).unwrap());
    assert_eq!(
        e.find(&Incoming::new("u", "几点开门")).unwrap().rule_id(),
        "hours"
    );
    let rules = e.rules();
    assert_eq!(rules.timezone(), "Asia/Shanghai");
    assert_eq!(rules.fallback_ids().collect::<Vec<_>>(), ["fallback"]);
    let fb = e.find(&Incoming::new("u", "嗯")).unwrap();
    assert_eq!(
        fb.parts[1],
        Part::Image {
            media_id: "MEDIA_QR".into()
        }
    );
}

#[test]
fn mistakes_name_the_rule_and_the_field() {
    let err = |toml: &str| {
        RuleSet::from_toml_str(toml)
            .expect_err("invalid")
            .to_string()
    };
    assert_eq!(
        err("[[rules]]\nid = \"refund-2024\"\nkeywords = [\"a\", \"b\", { regex = \"(\" }]\nreply = \"r\"\n")
            .lines()
            .next()
            .unwrap(),
        "rule 'refund-2024': keyword 3: invalid regex \"(\": regex parse error:"
    );
    assert_eq!(
        err("[[rules]]\nid = \"x\"\nkeywords = [\"a\"]\nrepyl = \"hi\"\n"),
        "rule 'x': repyl: unknown field (expected one of: id, name, enabled, priority, keywords, intent, event, fallback, schedule, off_hours, scope, audience, limit, cooldown, reply, variants, variant_seed, explore, actions, continue, ask, step)"
    );
    assert_eq!(
        err("[[rules]]\nkeywords = [\"a\"]\n"),
        "rule #1: id: is required"
    );
    assert_eq!(
        err("[[rules]]\nid = \"x\"\nkeywords = [{ fuzzy = \"a\" }]\n"),
        "rule 'x': keyword 1: unknown match mode \"fuzzy\" (exact, contains, prefix, regex)"
    );
    assert_eq!(
        err(
            "[[rules]]\nid = \"x\"\nkeywords = [\"a\"]\nschedule = { windows = [{ days = \"mon\", start = \"25:00\", end = \"26:00\" }] }\n"
        ),
        "rule 'x': schedule.window 1.start: invalid time \"25:00\" (use HH:MM, 00:00 to 24:00)"
    );
    assert_eq!(
        err("[[rules]]\nid = \"x\"\nkeywords = [\"a\"]\nlimit = { max = 3, per = \"1 week\" }\n"),
        "rule 'x': limit.per: invalid duration \"1 week\" (use 30s, 10m, 1h, 1d)"
    );
    assert_eq!(
        err("[[rules]]\nid = \"x\"\nkeywords = [\"a\"]\nscope = { channels = [\"sms\"] }\n"),
        "rule 'x': scope.channel 1: unknown channel \"sms\" (app, app_chat, customer_group, kf, ai_bot)"
    );
    assert_eq!(
        err("[[rules]]\nid = \"x\"\nkeywords = [\"a\"]\nschedule = \"work\"\nreply = \"r\"\n"),
        "rule 'x': schedule: unknown schedule \"work\""
    );
    assert_eq!(
        err("timezone = \"Mars/Base\"\n"),
        "rule set: timezone: unknown time zone \"Mars/Base\": failed to find time zone `Mars/Base` in time zone database"
    );
    assert!(err("[[rules]\nid = 1").starts_with("rules file: TOML parse error"));
    let both = err("[[rules]]\nid = \"a\"\nreply = \"r\"\n[[rules]]\nid = \"b\"\nkeywords = 3\n");
    assert!(both.starts_with("2 problems in the rules:\n"), "{both}");
    assert!(
        both.contains("rule 'b': keywords: must be a list")
            && both.contains("rule 'a': keywords: no keywords"),
        "{both}"
    );
    let missing = RuleSet::from_path("/nonexistent/rules.toml").unwrap_err();
    assert!(matches!(missing, RuleSetError::Io { .. }));
}

#[test]
fn one_keyword_may_be_a_string() {
    let rules = RuleSet::from_toml_str(
        "[[rules]]\nid = \"refund\"\nkeywords = \"退款\"\nreply = \"退款请在订单页申请\"\n\n\
         [[rules]]\nid = \"hours\"\nkeywords = { exact = \"几点开门\" }\nreply = \"9:00\"\n",
    )
    .unwrap();
    let e = Engine::new(rules);
    let hit = e.find(&Incoming::new("u", "我想退款")).unwrap();
    assert_eq!(hit.rule_id(), "refund");
    assert_eq!(hit.keyword.as_deref(), Some("退款"));
    assert_eq!(
        e.find(&Incoming::new("u", "几点开门")).unwrap().rule_id(),
        "hours"
    );
    assert!(
        e.find(&Incoming::new("u", "请问几点开门")).is_none(),
        "exact"
    );
}

/// Rules files that load but cannot work are refused, naming the rule and the field
/// (positions count from 1); an empty file loads with a warning; a syntax error names
/// the file.
#[test]
fn rules_that_cannot_work_do_not_load_silently() {
    let err = |toml: &str| {
        RuleSet::from_toml_str(toml)
            .expect_err("invalid")
            .to_string()
    };
    assert_eq!(
        err(
            "[[rules]]\nid = \"hi\"\nkeywords = \"你好\"\nreply = [\"好\", \"您好 {nick_name}\"]\n"
        ),
        "rule 'hi': reply part 2: unknown variable {nick_name}: not built in (user_id, nickname, time, date), not a capture of this rule's regex, and not declared in `variables`"
    );
    // Declared variables, captures and built-ins are fine.
    let ok = RuleSet::from_toml_str(
        "variables = [\"city\"]\n[[rules]]\nid = \"p\"\nkeywords = [{ regex = '(?P<no>SF\\d{10})' }]\nreply = \"{nickname}：{no} 已到 {city}（{date} {time}）\"\n",
    )
    .unwrap();
    assert!(ok.warnings().is_empty());
    assert_eq!(
        err("[[rules]]\nid = \"mute\"\nkeywords = \"退款\"\n"),
        "rule 'mute': reply: no reply and no action: add a reply, or an action such as escalate"
    );
    // An action alone is enough (escalation answers nothing itself).
    RuleSet::from_toml_str(
        "[[rules]]\nid = \"esc\"\nkeywords = \"投诉\"\nactions = [{ escalate = \"complaints\" }]\n",
    )
    .unwrap();
    let empty = RuleSet::from_toml_str("").unwrap();
    assert_eq!(
        empty.warnings()[0].to_string(),
        "rule set: no rules: every message goes unanswered"
    );
    let dir = std::env::temp_dir().join(format!("wecom-rules-syntax-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("shop.toml");
    std::fs::write(&path, "[[rules]\nid = 1").unwrap();
    let syntax = RuleSet::from_path(&path).unwrap_err().to_string();
    assert!(
        syntax.starts_with(&format!("rules file: {}: TOML parse error", path.display())),
        "{syntax}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_about_huge_names_stay_short() {
    let key = "t".repeat(10 * 1024 * 1024);
    let err = RuleSet::from_toml_str(&format!(
        "[[rules]]\nid = \"x\"\nkeywords = \"a\"\n{key} = 1\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(err.len() < 1_000, "{} bytes", err.len());
    assert!(err.starts_with("rule 'x': ttt"), "{}", &err[..40]);
}

#[test]
fn hostile_files_get_short_errors_naming_the_rule() {
    let err = |toml: &str| RuleSet::from_toml_str(toml).unwrap_err().to_string();
    // A 100 KB keyword: refused by its length before any automaton is built.
    let long = err(&format!(
        "[[rules]]\nid = \"x\"\nkeywords = [\"{}\"]\nreply = \"r\"\n",
        "啊".repeat(34_000)
    ));
    assert!(long.starts_with("rule 'x': keyword 1: \"啊啊"), "{long}");
    assert!(
        long.contains("longer than 200 characters") && long.len() < 300,
        "{long}"
    );
    // Too many keywords in one rule.
    let many: Vec<String> = (0..201).map(|i| format!("\"k{i}\"")).collect();
    let kws = err(&format!(
        "[[rules]]\nid = \"y\"\nkeywords = [{}]\nreply = \"r\"\n",
        many.join(",")
    ));
    assert!(
        kws.contains("rule 'y': keywords: 201 keywords; at most 200"),
        "{kws}"
    );
    // Twenty duplicate 1 MB ids: a short error, not 40 MB of it.
    let id = "i".repeat(1 << 20);
    let dup = format!("[[rules]]\nid = \"{id}\"\nkeywords = [\"a\"]\nreply = \"r\"\n").repeat(20);
    let dups = err(&dup);
    assert!(dups.len() < 8_000, "{} bytes", dups.len());
    assert!(dups.contains("longer than 128 characters"));
    // Many problems: the first twenty and a count.
    let mut bad = String::new();
    for i in 0..500 {
        let _ = std::fmt::Write::write_fmt(
            &mut bad,
            format_args!("[[rules]]\nid = \"r{i}\"\nreply = \"r\"\n"),
        );
    }
    let problems = err(&bad);
    assert!(problems.starts_with("500 problems in the rules:"));
    assert!(problems.ends_with("… and 480 more"), "{problems}");
}

#[test]
fn limits_are_configurable() {
    let rules = (0..5).map(|i| {
        Rule::new(format!("r{i}"), "r")
            .contains(format!("k{i}"))
            .reply("x")
    });
    let mut limits = Limits::default();
    limits.max_rules = 4;
    let err = RuleSet::builder()
        .limits(limits)
        .rules(rules)
        .build()
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "rule set: rules: 5 rules; at most 4 (raise Limits::max_rules)"
    );
}

#[test]
fn a_regex_without_a_literal_loads_with_a_warning() {
    let set = RuleSet::from_toml_str(
        "[[rules]]\nid = \"digits\"\nkeywords = [{ regex = '\\d{6,}' }]\nreply = \"r\"\n",
    )
    .unwrap();
    assert_eq!(set.warnings().len(), 1);
    assert_eq!(set.warnings()[0].rule, "digits");
    assert!(set.warnings()[0].message.contains("runs on every message"));
    let e = Engine::new(set);
    assert!(e.find(&Incoming::new("u", "单号 1234567")).is_some());
}

#[test]
fn an_oversized_regex_is_refused_naming_the_rule() {
    let err = RuleSet::from_toml_str(
        "[[rules]]\nid = \"big\"\nkeywords = [{ regex = '\\w{100}' }]\nreply = \"r\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with(
            "rule 'big': keyword 1: regex \"\\\\w{100}\" compiles to more than 1048576 bytes"
        ),
        "{err}"
    );
}

#[test]
fn regexes_share_one_budget_and_the_rule_crossing_it_is_named() {
    // Each `\w{20}` compiles to some 350 KB: under the per-regex limit, but twenty of
    // them cross a 4 MiB budget, and checking stops there.
    let rules = || {
        (0..20).map(|i| {
            Rule::new(format!("r{i}"), "r")
                .regex(format!(r"x{{{i}}}\w{{20}}"))
                .reply("x")
        })
    };
    let mut limits = Limits::default();
    limits.max_total_regex_bytes = 4 << 20;
    let err = RuleSet::builder()
        .limits(limits)
        .rules(rules())
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("crosses the budget of all regexes together, 4194304 bytes compiled (Limits::max_total_regex_bytes)"),
        "{err}"
    );
    // One problem: the rule that crossed it (rules after it are not checked).
    assert!(err.starts_with("rule 'r"), "{err}");
    let crossing: usize = err["rule 'r".len()..]
        .split('\'')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!((5..20).contains(&crossing), "{err}");
    // Under a budget that holds them all, they load.
    assert!(RuleSet::builder().rules(rules()).build().is_ok());
}

#[test]
fn a_rule_asks_and_the_next_message_is_read_in_its_step() {
    let set = RuleSet::from_toml_str(
        r#"
[[rules]]
id = "return"
keywords = ["退换货"]
reply = "请选择订单类型：1 实物 2 虚拟"
ask = { step = "return-type", answers = { "1" = "return-physical", "２" = "return-virtual" }, otherwise = "return-again", on_timeout = "return-timeout", timeout = "5m" }

[[rules]]
id = "return-physical"
step = "return-type"
reply = "请把商品寄回，并发送快递单号。"

[[rules]]
id = "return-virtual"
step = "return-type"
reply = "虚拟商品 24 小时内原路退款。"

[[rules]]
id = "return-cancel"
step = "return-type"
keywords = ["算了", "取消"]
reply = "好的，已取消。"

[[rules]]
id = "return-again"
step = "return-type"
reply = "请回复 1 或 2。"

[[rules]]
id = "return-timeout"
step = "return-type"
reply = "退换货操作已超时，需要时请重新发送「退换货」。"

[[rules]]
id = "hours"
keywords = ["营业时间"]
reply = "9:00–21:00"

[[rules]]
id = "fallback"
fallback = true
reply = "收到"
"#,
    )
    .unwrap();
    let engine = Engine::new(set);
    let find = |incoming: Incoming| engine.find(&incoming).map(|h| h.rule_id().to_owned());
    let asked = engine.find(&Incoming::new("u", "我要退换货")).unwrap();
    let step = asked.ask.clone().unwrap();
    assert_eq!(
        (
            step.step.as_str(),
            step.timeout_secs,
            step.has_timeout_reply
        ),
        ("return-type", 300, true)
    );
    let in_step = |text: &str| Incoming::new("u", text).in_step("return-type");
    // Answers, normalized like keywords (a full-width ２ is 2).
    assert_eq!(find(in_step("1")).as_deref(), Some("return-physical"));
    assert_eq!(find(in_step("2")).as_deref(), Some("return-virtual"));
    assert_eq!(find(in_step(" ２ ")).as_deref(), Some("return-virtual"));
    // The step's own keyword rules, and the other keyword rules, match as usual.
    assert_eq!(find(in_step("那算了吧")).as_deref(), Some("return-cancel"));
    assert_eq!(find(in_step("营业时间？")).as_deref(), Some("hours"));
    // Anything else: the step's otherwise, before the fallback.
    assert_eq!(find(in_step("啊？")).as_deref(), Some("return-again"));
    // ... which asks again: the step stays open (an answer closes it).
    let again = engine.find(&in_step("啊？")).unwrap();
    assert_eq!(again.ask.map(|a| a.step).as_deref(), Some("return-type"));
    assert!(engine.find(&in_step("1")).unwrap().ask.is_none());
    // Timed out: only on_timeout.
    assert_eq!(
        find(Incoming::new("u", "1").step_timed_out("return-type")).as_deref(),
        Some("return-timeout")
    );
    // Outside the step, the step's rules never fire.
    assert_eq!(find(Incoming::new("u", "1")).as_deref(), Some("fallback"));
    assert_eq!(
        find(Incoming::new("u", "算了")).as_deref(),
        Some("fallback")
    );
}

#[test]
fn broken_steps_are_refused_naming_the_rule_and_the_field() {
    let err = |toml: &str| RuleSet::from_toml_str(toml).unwrap_err().to_string();
    let unknown = err(
        "[[rules]]\nid = \"a\"\nkeywords = [\"x\"]\nreply = \"q\"\nask = { step = \"s\", answers = { \"1\" = \"nope\" } }\n",
    );
    assert_eq!(
        unknown,
        "rule 'a': ask.answers.\"1\": unknown rule \"nope\""
    );
    let orphan = err("[[rules]]\nid = \"b\"\nstep = \"nowhere\"\nreply = \"r\"\n");
    assert_eq!(
        orphan,
        "rule 'b': step: no rule asks step \"nowhere\" (give one an `ask`)"
    );
    let empty =
        err("[[rules]]\nid = \"c\"\nkeywords = [\"x\"]\nreply = \"q\"\nask = { step = \"s\" }\n");
    assert!(
        empty.contains("ask: no answers and no otherwise"),
        "{empty}"
    );
    let twice = err(
        "[[rules]]\nid = \"d\"\nkeywords = [\"x\"]\nreply = \"q\"\nask = { step = \"s\", otherwise = \"e\" }\n\n[[rules]]\nid = \"e\"\nkeywords = [\"y\"]\nreply = \"q\"\nask = { step = \"s\", otherwise = \"d\" }\n",
    );
    assert!(
        twice.contains("step \"s\" is asked by another rule too"),
        "{twice}"
    );
}

#[test]
fn a_rule_can_answer_in_group_chats_only_or_single_chats_only() {
    let set = wecom_sdk_matcher::RuleSet::from_toml_str(
        r#"
[[rules]]
id = "group-hours"
keywords = ["营业时间"]
scope = { chat = "group" }
reply = "群里：9 点营业"

[[rules]]
id = "single-hours"
keywords = ["营业时间"]
scope = { chat = "single", channels = ["ai_bot"] }
reply = "私聊：9 点营业"
"#,
    )
    .unwrap();
    let engine = wecom_sdk_matcher::Engine::new(set);
    let ask = wecom_sdk_matcher::Incoming::new("zhangsan", "营业时间")
        .channel(wecom_sdk_matcher::Channel::AiBot);
    let rule = |i: &wecom_sdk_matcher::Incoming| engine.find(i).map(|h| h.rule_id().to_owned());
    assert_eq!(
        rule(&ask.clone().chat_id("wrG")).as_deref(),
        Some("group-hours")
    );
    assert_eq!(rule(&ask).as_deref(), Some("single-hours"));
    let err = wecom_sdk_matcher::RuleSet::from_toml_str(
        "[[rules]]\nid = \"x\"\nkeywords = [\"a\"]\nscope = { chat = \"room\" }\nreply = \"b\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("rule 'x'") && err.contains("chat") && err.contains("room"),
        "{err}"
    );
}
