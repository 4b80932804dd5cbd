//! Events are routed as events: a menu click, a customer added or a member joining a
//! group reaches the rules that name that event (and key), never keyword or fallback
//! rules; text never reaches event rules.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

use wecom_sdk_matcher::*;

const RULES: &str = r#"
[[rules]]
id = "menu-hours"
event = { name = "click", key = "MENU_HOURS" }
reply = "我们 9:00–21:00 营业。"

[[rules]]
id = "any-click"
priority = -1
event = "click"
reply = "收到您的点击。"

[[rules]]
id = "welcome"
event = "add_external_contact"
reply = "欢迎 {nickname}！这是新人指南。"

[[rules]]
id = "click-word"
keywords = ["click", "MENU_HOURS"]
reply = "a keyword rule"

[[rules]]
id = "fallback"
fallback = true
reply = "收到！"
"#;

fn engine() -> Engine {
    Engine::new(RuleSet::from_toml_str(RULES).unwrap())
}

#[test]
fn a_menu_click_fires_the_rule_of_its_key_then_the_catch_all() {
    let e = engine();
    let hit = e
        .find(&Incoming::event("u", "click", "MENU_HOURS"))
        .unwrap();
    assert_eq!(hit.rule_id(), "menu-hours");
    assert_eq!(hit.text().as_deref(), Some("我们 9:00–21:00 营业。"));
    let other = e
        .find(&Incoming::event("u", "click", "MENU_PRICES"))
        .unwrap();
    assert_eq!(other.rule_id(), "any-click");
}

#[test]
fn an_event_no_rule_names_never_reaches_the_fallback() {
    let e = engine();
    assert!(e.find(&Incoming::event("u", "enter_agent", "")).is_none());
    assert!(
        e.find_fallback(&Incoming::event("u", "enter_agent", ""))
            .is_none()
    );
    let explained = e.explain(&Incoming::event("u", "enter_agent", ""));
    assert!(explained.candidates.is_empty());
}

#[test]
fn text_never_reaches_event_rules() {
    let e = engine();
    assert_eq!(
        e.find(&Incoming::new("u", "MENU_HOURS")).unwrap().rule_id(),
        "click-word"
    );
    assert_eq!(
        e.find(&Incoming::new("u", "add_external_contact"))
            .unwrap()
            .rule_id(),
        "fallback"
    );
}

#[test]
fn event_replies_render_variables() {
    let hit = engine()
        .find(&Incoming::event("wmCustomer", "add_external_contact", "").nickname("李雷"))
        .unwrap();
    assert_eq!(hit.text().as_deref(), Some("欢迎 李雷！这是新人指南。"));
}

#[test]
fn an_event_rule_with_keywords_is_refused_naming_the_field() {
    let err = RuleSet::from_toml_str(
        "[[rules]]\nid = \"x\"\nevent = \"click\"\nkeywords = [\"a\"]\nreply = \"r\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("rule 'x'") && err.contains("event"), "{err}");
    let err =
        RuleSet::from_toml_str("[[rules]]\nid = \"y\"\nevent = { key = \"K\" }\nreply = \"r\"\n")
            .unwrap_err()
            .to_string();
    assert!(err.contains("name") && err.contains("required"), "{err}");
}

#[test]
fn builder_event_rules_match_like_file_rules() {
    let rules = RuleSet::new([Rule::new("join", "入群欢迎")
        .on_event_key("add_member", "wrChat1")
        .reply("欢迎入群")])
    .unwrap();
    let e = Engine::new(rules);
    assert!(
        e.find(&Incoming::event("sys", "add_member", "wrChat1"))
            .is_some()
    );
    assert!(
        e.find(&Incoming::event("sys", "add_member", "wrChat2"))
            .is_none()
    );
}
