//! The rules files shipped in `examples/rules/` load without warnings and behave as
//! their comments say.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::needless_pass_by_value,
    reason = "tests"
)]

use wecom_sdk::matcher::*;

const SHOP: &str = include_str!("../examples/rules/shop.toml");
const SCHOOL: &str = include_str!("../examples/rules/school.toml");
const OFF_HOURS: &str = include_str!("../examples/rules/off_hours.toml");

fn at(s: &str) -> std::time::SystemTime {
    let t: jiff::Timestamp = s.parse().unwrap();
    t.try_into().unwrap()
}

fn find(engine: &Engine, incoming: Incoming) -> Option<Hit> {
    engine.find(&incoming)
}

#[test]
fn shop_rules() {
    let rules = RuleSet::from_toml_str(SHOP).unwrap();
    assert!(rules.warnings().is_empty(), "{:?}", rules.warnings());
    let e = Engine::new(rules);
    let open = at("2025-03-05T03:00:00Z"); // Wed 11:00 Shanghai
    let night = at("2025-03-05T15:00:00Z"); // Wed 23:00
    let msg = |text: &str, when| {
        Incoming::new("wmCUSTOMER", text)
            .nickname("王女士")
            .at(when)
    };

    let hit = find(&e, msg("@小店助手 你们几点关门？", open)).unwrap();
    assert_eq!(hit.rule_id(), "hours");
    assert!(hit.text().unwrap().starts_with("您好 王女士！"));
    assert_eq!(
        find(&e, msg("门店地址在哪", open)).unwrap().text().unwrap(),
        "门店地址：上海市黄浦区南京东路 100 号（地铁 2 号线南京东路站 3 号口）"
    );
    let parcel = find(&e, msg("帮我查下快递 SF123456789012 到哪了", open)).unwrap();
    assert_eq!(
        parcel.rule_id(),
        "parcel",
        "the regex rule outranks the generic parcel rule"
    );
    assert!(
        parcel
            .text()
            .unwrap()
            .starts_with("SF123456789012 已由SF揽收")
    );
    let prices = find(&e, msg("价格多少", open)).unwrap();
    assert!(
        matches!(&prices.parts[1], Part::LocalFile { name: Some(n), .. } if n == "2025 价目表.pdf")
    );
    let complaint = find(&e, msg("我要投诉，叫你们 MANAGER 来", open)).unwrap();
    assert_eq!(
        complaint.actions[0],
        Action::Escalate {
            queue: "complaints".into(),
            priority: 9
        }
    );
    let welcome = find(&e, msg("你好", open).customer(CustomerKind::New)).unwrap();
    assert_eq!(welcome.rule_id(), "welcome-new");
    assert!(welcome.variant.is_some());
    assert_eq!(
        find(&e, msg("你好", open).customer(CustomerKind::Returning))
            .unwrap()
            .rule_id(),
        "fallback-open"
    );
    assert_eq!(
        find(&e, msg("随便问问", open)).unwrap().rule_id(),
        "fallback-open"
    );
    let closed = find(&e, msg("随便问问", night)).unwrap();
    assert_eq!(closed.rule_id(), "fallback-closed");
    assert!(closed.text().unwrap().contains("（23:00）"));
    // Spring Festival: closed all day.
    assert_eq!(
        find(&e, msg("随便问问", at("2025-01-30T03:00:00Z")))
            .unwrap()
            .rule_id(),
        "fallback-closed"
    );
    // Sensitive words block the message.
    assert_eq!(find(&e, msg("能代开发票吗", open)), None);
}

#[test]
fn school_and_off_hours_rules() {
    let e = Engine::new(RuleSet::from_toml_str(SCHOOL).unwrap());
    let hit = find(
        &e,
        Incoming::new("parent", "周三有什么课").at(at("2025-03-05T03:00:00Z")),
    )
    .unwrap();
    assert_eq!(hit.rule_id(), "timetable");
    assert_eq!(hit.captures.get("day").map(String::as_str), Some("三"));
    assert!(matches!(hit.parts[1], Part::News { .. }));
    let teachers = Incoming::new("t1", "通知：明天停课")
        .chat_id("wrTEACHERS000001")
        .channel(Channel::AppChat);
    assert_eq!(find(&e, teachers).unwrap().rule_id(), "teachers-notice");
    let elsewhere = find(
        &e,
        Incoming::new("t1", "通知：明天停课")
            .chat_id("other")
            .at(at("2025-03-05T03:00:00Z")),
    );
    assert_eq!(
        elsewhere, None,
        "out of scope, and in office hours no fallback answers"
    );
    assert_eq!(
        find(&e, Incoming::new("p", "嗯").at(at("2025-03-05T13:00:00Z")))
            .unwrap()
            .rule_id(),
        "office-closed"
    );

    let e = Engine::new(RuleSet::from_toml_str(OFF_HOURS).unwrap());
    assert_eq!(
        find(
            &e,
            Incoming::new("u", "在吗").at(at("2025-03-05T03:00:00Z"))
        )
        .unwrap()
        .rule_id(),
        "on-duty"
    );
    assert_eq!(
        find(
            &e,
            Incoming::new("u", "在吗").at(at("2025-03-08T03:00:00Z"))
        )
        .unwrap()
        .rule_id(),
        "off-duty"
    );
}
