//! The engine feature by feature: match modes (a table run against every mode),
//! priorities, schedules, scopes, audiences, limits, cooldowns, replies, variants,
//! actions, validation, warnings, reload, explain.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::items_after_statements,
    reason = "tests"
)]

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use wecom_sdk_matcher::*;

fn engine(rules: Vec<Rule>) -> Engine {
    Engine::new(RuleSet::new(rules).expect("valid rules"))
}

fn fired(engine: &Engine, text: &str) -> Option<String> {
    engine
        .find(&Incoming::new("u1", text))
        .map(|h| h.rule_id().to_owned())
}

fn at(s: &str) -> std::time::SystemTime {
    let t: Timestamp = s.parse().expect("timestamp");
    t.try_into().expect("in range")
}

#[test]
fn match_modes_table() {
    // (mode, keyword, text, fires)
    let table: &[(MatchMode, &str, &str, bool)] = &[
        (MatchMode::Exact, "营业时间", "营业时间", true),
        (MatchMode::Exact, "营业时间", " 营业时间 ", true),
        (MatchMode::Exact, "营业时间", "营业时间?", false),
        (MatchMode::Exact, "WiFi", "wifi", true),
        (MatchMode::Exact, "ＷｉＦｉ", "WIFI", true),
        (MatchMode::Contains, "地址", "你们的地址在哪", true),
        (MatchMode::Contains, "地址", "你们在哪", false),
        (MatchMode::Contains, "price", "What is the PRICE?", true),
        (MatchMode::Contains, "退 款", "我要退   款", true),
        (MatchMode::Contains, "退款", "退\u{200b}款", true),
        (MatchMode::Prefix, "查", "查快递", true),
        (MatchMode::Prefix, "查", "帮我查快递", false),
        (MatchMode::Prefix, "help", "@bot help me", true),
        (MatchMode::Regex, r"SF\d{10}", "单号SF1234567890", true),
        (MatchMode::Regex, r"SF\d{10}", "单号sf1234567890", false),
        (MatchMode::Regex, r"(?i)SF\d{10}", "单号sf1234567890", true),
        (MatchMode::Regex, r"^\d{6}$", "123456", true),
        (MatchMode::Regex, r"^\d{6}$", "1234567", false),
    ];
    for (i, &(mode, keyword, text, fires)) in table.iter().enumerate() {
        let e = engine(vec![
            Rule::new("r", "r")
                .keyword(Keyword::new(keyword, mode))
                .reply("ok"),
        ]);
        assert_eq!(
            fired(&e, text).is_some(),
            fires,
            "row {i}: {mode:?} {keyword:?} on {text:?}"
        );
    }
}

#[test]
fn priority_then_file_order_wins() {
    let e = engine(vec![
        Rule::new("low", "low")
            .contains("快递")
            .priority(1)
            .reply("low"),
        Rule::new("first", "first")
            .contains("快递")
            .priority(5)
            .reply("first"),
        Rule::new("second", "second")
            .contains("快递")
            .priority(5)
            .reply("second"),
    ]);
    assert_eq!(fired(&e, "我的快递").as_deref(), Some("first"));
    let all = e.find_all(&Incoming::new("u", "我的快递"));
    assert_eq!(all.len(), 1, "stop is the default");
    let e = engine(vec![
        Rule::new("tag", "tag")
            .contains("退款")
            .priority(9)
            .continue_matching()
            .action(Action::AddTags(vec!["refund".into()])),
        Rule::new("answer", "answer")
            .contains("退款")
            .reply("退款请在订单页申请"),
    ]);
    let all: Vec<String> = e
        .find_all(&Incoming::new("u", "退款"))
        .iter()
        .map(|h| h.rule_id().to_owned())
        .collect();
    assert_eq!(all, ["tag", "answer"]);
}

#[test]
fn schedules_off_hours_fallback_and_dates() {
    let rules = RuleSet::builder()
        .schedule(
            "work",
            Schedule::weekly(&[("mon-fri", "09:00", "18:00")]).unwrap(),
        )
        .rule(
            Rule::new("hours", "hours")
                .contains("营业")
                .schedule_named("work")
                .reply("在线"),
        )
        .rule(
            Rule::new("night", "night")
                .fallback()
                .schedule_named("work")
                .off_hours()
                .reply("已下班"),
        )
        .rule(Rule::new("day", "day").fallback().reply("稍后回复"))
        .build()
        .unwrap();
    let clock = Arc::new(ManualClock::new(at("2024-11-15T02:00:00Z"))); // Fri 10:00 Shanghai
    let e = Engine::new(rules).clock(clock.clone());
    assert_eq!(fired(&e, "营业吗").as_deref(), Some("hours"));
    assert_eq!(fired(&e, "你好").as_deref(), Some("day"));
    clock.set(at("2024-11-15T12:00:00Z")); // Fri 20:00
    assert_eq!(fired(&e, "营业吗").as_deref(), Some("night"));
    let explained = e.explain(&Incoming::new("u", "营业吗"));
    assert_eq!(explained.candidates[0].verdict, Verdict::ScheduleClosed);
    assert_eq!(explained.winner.as_deref(), Some("night"));
    // An explicit message time wins over the clock.
    let morning = Incoming::new("u", "营业吗").at(at("2024-11-18T03:00:00Z")); // Mon 11:00
    assert_eq!(
        e.find(&morning).map(|h| h.rule_id().to_owned()).as_deref(),
        Some("hours")
    );

    let mut promo = Schedule::default();
    promo.dates.push(DateRange {
        from: "2024-11-11".into(),
        to: "2024-11-11".into(),
    });
    let e = engine(vec![
        Rule::new("1111", "双十一")
            .contains("优惠")
            .schedule(promo)
            .reply("全场五折"),
    ]);
    let on = Incoming::new("u", "有优惠吗").at(at("2024-11-11T08:00:00Z"));
    let off = Incoming::new("u", "有优惠吗").at(at("2024-11-12T08:00:00Z"));
    assert!(e.find(&on).is_some());
    assert!(e.find(&off).is_none());
}

#[test]
fn scope_and_audience() {
    let scope = Scope {
        chats: vec!["chatA".into()],
        ..Scope::default()
    };
    let channels = Scope {
        channels: vec![Channel::Kf],
        ..Scope::default()
    };
    let depts = Scope {
        departments: vec![7],
        ..Scope::default()
    };
    let tags = Scope {
        tags: vec!["vip".into()],
        ..Scope::default()
    };
    let users = Scope {
        users: vec!["boss".into()],
        ..Scope::default()
    };
    let e = engine(vec![
        Rule::new("chat", "chat").exact("a").scope(scope).reply("x"),
        Rule::new("kf", "kf").exact("b").scope(channels).reply("x"),
        Rule::new("dept", "dept").exact("c").scope(depts).reply("x"),
        Rule::new("tag", "tag").exact("d").scope(tags).reply("x"),
        Rule::new("user", "user").exact("e").scope(users).reply("x"),
        Rule::new("new", "new")
            .exact("f")
            .audience(Audience {
                customer: Some(CustomerKind::New),
                ..Audience::default()
            })
            .reply("x"),
        Rule::new("notvip", "notvip")
            .exact("g")
            .audience(Audience {
                lacks_tags: vec!["vip".into()],
                has_tags: vec!["member".into()],
                ..Audience::default()
            })
            .reply("x"),
    ]);
    let find = |i: Incoming| e.find(&i).map(|h| h.rule_id().to_owned());
    assert_eq!(
        find(Incoming::new("u", "a").chat_id("chatA")).as_deref(),
        Some("chat")
    );
    assert_eq!(find(Incoming::new("u", "a").chat_id("chatB")), None);
    assert_eq!(find(Incoming::new("u", "a")), None);
    assert_eq!(
        find(Incoming::new("u", "b").channel(Channel::Kf)).as_deref(),
        Some("kf")
    );
    assert_eq!(find(Incoming::new("u", "b").channel(Channel::App)), None);
    assert_eq!(
        find(Incoming::new("u", "c").departments([3, 7])).as_deref(),
        Some("dept")
    );
    assert_eq!(
        find(Incoming::new("u", "d").tags(["vip"])).as_deref(),
        Some("tag")
    );
    assert_eq!(find(Incoming::new("boss", "e")).as_deref(), Some("user"));
    assert_eq!(
        find(Incoming::new("u", "f").customer(CustomerKind::New)).as_deref(),
        Some("new")
    );
    assert_eq!(
        find(Incoming::new("u", "f").customer(CustomerKind::Returning)),
        None
    );
    assert_eq!(
        find(Incoming::new("u", "g").tags(["member"])).as_deref(),
        Some("notvip")
    );
    assert_eq!(find(Incoming::new("u", "g").tags(["member", "vip"])), None);
    let explained = e.explain(&Incoming::new("u", "a").chat_id("chatB"));
    assert_eq!(explained.candidates[0].verdict, Verdict::OutOfScope("chat"));
}

#[test]
fn per_user_limits_and_per_chat_cooldowns() {
    let clock = Arc::new(ManualClock::at_unix(1_700_000_000));
    let e = engine(vec![
        Rule::new("menu", "menu")
            .contains("菜单")
            .limit(2, 3600)
            .reply("菜单如下"),
        Rule::new("hi", "hi")
            .contains("你好")
            .cooldown(60)
            .reply("你好！"),
    ])
    .clock(clock.clone());
    let u1 = Incoming::new("u1", "菜单");
    assert!(e.find(&u1).is_some());
    assert!(e.find(&u1).is_some());
    assert!(e.find(&u1).is_none(), "third trigger within the hour");
    assert_eq!(e.explain(&u1).candidates[0].verdict, Verdict::LimitReached);
    assert!(
        e.find(&Incoming::new("u2", "菜单")).is_some(),
        "limits are per user"
    );
    clock.advance(Duration::from_secs(3600));
    assert!(e.find(&u1).is_some(), "a new window");

    let in_chat = |u: &str| Incoming::new(u, "你好").chat_id("group1");
    assert!(e.find(&in_chat("a")).is_some());
    assert!(e.find(&in_chat("b")).is_none(), "cooldown is per chat");
    assert_eq!(
        e.explain(&in_chat("b")).candidates[0].verdict,
        Verdict::CooldownActive
    );
    assert!(
        e.find(&Incoming::new("c", "你好").chat_id("group2"))
            .is_some()
    );
    clock.advance(Duration::from_secs(60));
    assert!(e.find(&in_chat("b")).is_some());
}

#[test]
fn replies_render_variables_and_order_parts() {
    let rules = |rules: Vec<Rule>| {
        let set = RuleSet::builder().variables(["city"]).rules(rules);
        Engine::new(set.build().expect("valid rules"))
    };
    let e = rules(vec![
        Rule::new("parcel", "parcel")
            .regex(r"(?P<no>SF\d{10})")
            .reply("{nickname} 您好，{no} 在 {city} 派送中（{date} {time}）"),
        Rule::new("media", "media").exact("资料").reply_parts(vec![
            Part::Text("请查收".into()),
            Part::News {
                title: "新品".into(),
                description: None,
                url: "https://x/{user_id}".into(),
                pic_url: None,
            },
            Part::Video {
                media_id: "V".into(),
                title: None,
                description: None,
            },
            Part::File {
                media_id: "F".into(),
                name: Some("价目表.pdf".into()),
            },
        ]),
    ]);
    let hit = e
        .find(
            &Incoming::new("u9", "@客服 帮查 SF1234567890")
                .nickname("王五")
                .attr("city", "上海")
                .at(at("2024-11-15T02:05:00Z")),
        )
        .unwrap();
    assert_eq!(
        hit.text().as_deref(),
        Some("王五 您好，SF1234567890 在 上海 派送中（2024-11-15 10:05）")
    );
    assert_eq!(
        hit.captures.get("no").map(String::as_str),
        Some("SF1234567890")
    );
    assert_eq!(hit.keyword.as_deref(), Some(r"(?P<no>SF\d{10})"));
    let hit = e.find(&Incoming::new("u9", "资料")).unwrap();
    let kinds: Vec<&str> = hit
        .parts
        .iter()
        .map(|p| match p {
            Part::Text(_) => "text",
            Part::Video { .. } => "video",
            Part::News { url, .. } => {
                assert_eq!(url, "https://x/u9");
                "news"
            }
            Part::File { .. } => "file",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["text", "video", "news", "file"]);
}

#[test]
fn variants_are_weighted_deterministic_and_counted() {
    let variants = vec![
        Variant {
            id: "a".into(),
            weight: 80,
            parts: vec![Part::Text("A".into())],
        },
        Variant {
            id: "b".into(),
            weight: 20,
            parts: vec![Part::Text("B".into())],
        },
    ];
    let e = engine(vec![
        Rule::new("ab", "ab")
            .contains("优惠")
            .variants(variants.clone(), Some("exp1".into())),
    ]);
    let first = e.find(&Incoming::new("user-42", "优惠")).unwrap().variant;
    for _ in 0..5 {
        assert_eq!(
            e.find(&Incoming::new("user-42", "优惠")).unwrap().variant,
            first,
            "same user, same variant"
        );
    }
    let mut a = 0;
    for i in 0..2000 {
        if e.find(&Incoming::new(format!("user-{i}"), "优惠"))
            .unwrap()
            .variant
            .as_deref()
            == Some("a")
        {
            a += 1;
        }
    }
    assert!((1450..=1750).contains(&a), "about 80% A: {a}");
    let stats = e.stats();
    let ab = &stats["ab"];
    assert_eq!(ab.triggers, 2006);
    assert_eq!(ab.variants.values().map(|v| v.0).sum::<u64>(), 2006);
    e.record_conversion("ab", "b");
    assert!(e.stats()["ab"].conversion_rate("b") > 0.0);

    // Bandit mode: with no exploration, traffic goes to the variant that converts.
    let mut rule = Rule::new("ab", "ab").contains("优惠");
    rule.reply = ReplySpec::Variants {
        variants,
        seed: None,
        explore: Some(0.0),
    };
    let e = engine(vec![rule]);
    for _ in 0..100 {
        e.record_conversion("ab", "b");
    }
    let b = (0..100)
        .filter(|i| {
            e.find(&Incoming::new(format!("u{i}"), "优惠"))
                .unwrap()
                .variant
                .as_deref()
                == Some("b")
        })
        .count();
    assert_eq!(b, 100);
}

#[test]
fn templates_actions_and_sensitive_words() {
    let rules = RuleSet::builder()
        .template("hours", vec![Part::Text("营业时间 9:00–21:00".into())])
        .sensitive_words(["傻瓜"], true)
        .rule(
            Rule::new("h1", "h1")
                .contains("几点")
                .reply_template("hours"),
        )
        .rule(
            Rule::new("h2", "h2")
                .contains("营业")
                .reply_template("hours"),
        )
        .rule(
            Rule::new("complain", "投诉")
                .contains("投诉")
                .reply("已为您转人工，别当我是傻瓜")
                .action(Action::Escalate {
                    queue: "complaints".into(),
                    priority: 9,
                })
                .action(Action::AddTags(vec!["投诉".into()])),
        )
        .build()
        .unwrap();
    let e = Engine::new(rules);
    assert_eq!(
        e.find(&Incoming::new("u", "几点")).unwrap().text(),
        e.find(&Incoming::new("u", "营业")).unwrap().text()
    );
    let hit = e.find(&Incoming::new("u", "我要投诉")).unwrap();
    assert_eq!(hit.text().as_deref(), Some("已为您转人工，别当我是**"));
    assert_eq!(
        hit.actions[0],
        Action::Escalate {
            queue: "complaints".into(),
            priority: 9
        }
    );
    assert!(e.find(&Incoming::new("u", "几点 傻瓜")).is_none());
    assert!(
        e.explain(&Incoming::new("u", "几点 傻瓜"))
            .candidates
            .iter()
            .all(|c| c.verdict == Verdict::Blocked)
    );
}

#[test]
fn validation_names_rule_and_field() {
    let problems = |rules: Vec<Rule>| -> Vec<String> {
        RuleSet::new(rules)
            .expect_err("invalid")
            .problems()
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(
        problems(vec![
            Rule::new("refund-2024", "r")
                .contains("a")
                .regex("([")
                .reply("x")
        ]),
        [
            "rule 'refund-2024': keyword 2: invalid regex \"([\": regex parse error:\n    ([\n     ^\nerror: unclosed character class"
        ]
    );
    assert_eq!(
        problems(vec![
            Rule::new("a", "a").contains("x").reply("x"),
            Rule::new("a", "b").contains("y").reply("y")
        ]),
        ["rule 'a': id: duplicate id \"a\""]
    );
    assert_eq!(
        problems(vec![Rule::new("empty", "e").reply("x")]),
        [
            "rule 'empty': keywords: no keywords (add one, or make it a fallback, intent or event rule)"
        ]
    );
    assert_eq!(
        problems(vec![
            Rule::new("blank", "b").contains("\u{200b} ").reply("x")
        ]),
        ["rule 'blank': keyword 1: keyword \"\\u{200b} \" is empty after normalization"]
    );
    let tz = Rule::new("tz", "tz").contains("x").reply("x").schedule(
        Schedule::weekly(&[("mon", "09:00", "10:00")])
            .unwrap()
            .in_timezone("Asia/Atlantis"),
    );
    assert!(
        problems(vec![tz])[0]
            .starts_with("rule 'tz': schedule.timezone: unknown time zone \"Asia/Atlantis\"")
    );
    assert_eq!(
        problems(vec![
            Rule::new("t", "t").contains("x").reply_template("nope")
        ]),
        ["rule 't': reply.template: unknown template \"nope\""]
    );
    assert_eq!(
        problems(vec![Rule::new("t", "t").contains("x").reply("hi {name")]),
        ["rule 't': reply part 1: unclosed '{' at byte 3"]
    );
    assert_eq!(
        problems(vec![
            Rule::new("l", "l").contains("x").limit(0, 60).reply("x")
        ]),
        ["rule 'l': limit: max and window must be above zero"]
    );
    assert_eq!(
        problems(vec![Rule::new("o", "o").fallback().off_hours().reply("x")]),
        ["rule 'o': off_hours: an off-hours rule needs a schedule"]
    );
    // Two problems at once: both reported.
    assert_eq!(
        problems(vec![
            Rule::new("a", "a").reply("x"),
            Rule::new("b", "b").regex("(").reply("y")
        ])
        .len(),
        2
    );
}

#[test]
fn at_most_three_rules_in_force_per_chat() {
    let chat = |id: &str, sched: Option<(&str, &str, &str)>| {
        let r = Rule::new(id, id)
            .contains(id)
            .scope(Scope {
                chats: vec!["group1".into()],
                ..Scope::default()
            })
            .reply("x");
        match sched {
            Some(w) => r.schedule(Schedule::weekly(&[w]).unwrap()),
            None => r,
        }
    };
    // Four rules, but never more than three at once: fine.
    let ok = RuleSet::new([
        chat("a", None),
        chat("b", None),
        chat("c", Some(("mon-fri", "09:00", "12:00"))),
        chat("d", Some(("mon-fri", "12:00", "18:00"))),
    ]);
    assert!(ok.is_ok(), "{ok:?}");
    let err = RuleSet::new([
        chat("a", None),
        chat("b", None),
        chat("c", None),
        chat("d", Some(("sat", "10:00", "11:00"))),
    ])
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "rule set: scope.chats \"group1\": 4 rules in force at once (a, b, c, d); at most 3 allowed"
    );
    let relaxed = RuleSet::builder()
        .max_rules_per_chat(4)
        .rules([
            chat("a", None),
            chat("b", None),
            chat("c", None),
            chat("d", None),
        ])
        .build();
    assert!(relaxed.is_ok());
}

#[test]
fn warnings_for_long_news_titles_and_shadowed_rules() {
    let rules = RuleSet::new([
        Rule::new("all", "all").contains("快递").reply("x"),
        Rule::new("sf", "sf")
            .exact("顺丰快递")
            .contains("快递单号")
            .reply("y"),
        Rule::new("news", "news")
            .contains("活动")
            .reply_parts(vec![Part::News {
                title: "这是一个非常非常非常非常长的新闻标题啊".into(),
                description: None,
                url: "https://x".into(),
                pic_url: None,
            }]),
    ])
    .unwrap();
    let warnings: Vec<String> = rules.warnings().iter().map(ToString::to_string).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("rule 'news': news title") && w.contains("19 characters")),
        "{warnings:?}"
    );
    assert!(warnings.iter().any(|w| w == "rule 'sf': can never fire by keyword: rule 'all' ranks higher and catches all its keywords"), "{warnings:?}");
    assert_eq!(warnings.len(), 2);
}

#[test]
fn hot_reload_keeps_old_rules_on_error_and_rolls_back() {
    let dir = std::env::temp_dir().join(format!("wecom-matcher-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rules.toml");
    std::fs::write(
        &path,
        "[[rules]]\nid = \"v1\"\nkeywords = [\"你好\"]\nreply = \"v1\"\n",
    )
    .unwrap();
    let e = Engine::from_path(&path).unwrap();
    assert_eq!(fired(&e, "你好").as_deref(), Some("v1"));
    std::fs::write(
        &path,
        "[[rules]]\nid = \"v2\"\nkeywords = [\"你好\"]\nreply = \"v2\"\n",
    )
    .unwrap();
    e.reload().unwrap();
    assert_eq!(fired(&e, "你好").as_deref(), Some("v2"));
    std::fs::write(
        &path,
        "[[rules]]\nid = \"v3\"\nkeywords = [{ regex = \"(\" }]\nreply = \"v3\"\n",
    )
    .unwrap();
    let err = e.reload().unwrap_err();
    assert!(
        err.to_string()
            .starts_with("rule 'v3': keyword 1: invalid regex"),
        "{err}"
    );
    assert_eq!(
        fired(&e, "你好").as_deref(),
        Some("v2"),
        "the old rules stay"
    );
    assert!(e.rollback());
    assert_eq!(fired(&e, "你好").as_deref(), Some("v1"));
    assert!(!e.rollback());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn explain_lists_every_candidate() {
    let e = engine(vec![
        Rule::new("a", "a")
            .contains("快递")
            .priority(5)
            .enabled(false)
            .reply("x"),
        Rule::new("b", "b").contains("快递").priority(3).reply("x"),
        Rule::new("c", "c").contains("快递").priority(1).reply("x"),
        Rule::new("z", "z").fallback().reply("x"),
    ]);
    let x = e.explain(&Incoming::new("u", "ＭＹ 快递 "));
    assert_eq!(x.normalized, "my 快递");
    let verdicts: Vec<(&str, &Verdict)> = x
        .candidates
        .iter()
        .map(|c| (c.rule_id.as_str(), &c.verdict))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("a", &Verdict::Disabled),
            ("b", &Verdict::Fired),
            ("c", &Verdict::LowerPriority { winner: "b".into() }),
            ("z", &Verdict::NotNeeded),
        ]
    );
    assert_eq!(x.winner.as_deref(), Some("b"));
    assert_eq!(e.stats().get("b"), None, "explain counts nothing");
}

#[tokio::test]
async fn intents_chain_after_keywords_before_fallback() {
    let rules = RuleSet::new([
        Rule::new("hours", "hours").contains("几点").reply("9–21"),
        Rule::new("refund", "refund")
            .on_intent("refund")
            .reply("退款：{order}"),
        Rule::new("default", "default").fallback().reply("稍后回复"),
    ])
    .unwrap();

    #[derive(Debug)]
    struct OrderIntent;
    #[async_trait::async_trait]
    impl IntentMatcher for OrderIntent {
        async fn detect(&self, incoming: &Incoming) -> Option<Intent> {
            incoming.text().contains("退").then(|| Intent {
                name: "refund".into(),
                confidence: 0.9,
                entities: [("order".to_owned(), "A-1".to_owned())].into(),
            })
        }
    }
    let chain = Chain::new(Arc::new(Engine::new(rules))).intent(Arc::new(OrderIntent), 0.5);
    assert_eq!(
        chain
            .find(&Incoming::new("u", "几点退"))
            .await
            .unwrap()
            .rule_id(),
        "hours"
    );
    let hit = chain.find(&Incoming::new("u", "我想退")).await.unwrap();
    assert_eq!(
        (hit.rule_id(), hit.text().as_deref()),
        ("refund", Some("退款：A-1"))
    );
    assert_eq!(
        chain
            .find(&Incoming::new("u", "嗯"))
            .await
            .unwrap()
            .rule_id(),
        "default"
    );
}

#[tokio::test]
async fn shared_store_path_counts_like_the_local_one() {
    let clock = Arc::new(ManualClock::at_unix(1_700_000_000));
    let store: Arc<dyn CounterStore> = Arc::new(MemoryCounterStore::new(clock.clone()));
    let make = || {
        engine(vec![
            Rule::new("menu", "menu")
                .contains("菜单")
                .limit(2, 60)
                .reply("x"),
        ])
        .clock(clock.clone())
        .counter_store(store.clone())
    };
    let (a, b) = (make(), make());
    let msg = Incoming::new("u1", "菜单");
    assert!(a.find_shared(&msg).await.unwrap().is_some());
    assert!(b.find_shared(&msg).await.unwrap().is_some());
    assert!(
        a.find_shared(&msg).await.unwrap().is_none(),
        "the limit holds across engines"
    );
    assert_eq!(store.get("stats:menu").await.unwrap(), 2);
}
