//! From a parsed callback to what the pipeline works on: the matcher's [`Incoming`]
//! (text, or an event's name and key — events are routed as events) and where an
//! answer can go.

use wecom_sdk_matcher::{Channel, Incoming};
use wecom_sdk_message::callback::{
    Body, ChatUpdateDetail, Event, ExternalChatChange, ExternalContactChange, Message,
};

/// Who receives an active message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A member: `message/send` to `touser`.
    User(String),
}

/// Where the answer to a callback can go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// A passive reply (first message), the rest actively to the target.
    Passive(Target),
    /// Active only (events WeCom takes no passive reply for).
    Active(Target),
    /// `externalcontact/send_welcome_msg` with this code (a customer just added).
    Welcome(String),
    /// Nowhere: WeCom gives an app no way to answer this (why).
    Nowhere(&'static str),
}

/// A callback, ready for profile and matching.
#[derive(Debug)]
pub(crate) struct Routed {
    pub(crate) incoming: Incoming,
    /// Whose profile to fetch (a customer for customer events).
    pub(crate) user: String,
    pub(crate) route: Route,
    /// `name:key` of an event, for the event log.
    pub(crate) event: Option<String>,
    /// The member who has the customer (customer events), for `mark_tag`.
    pub(crate) staff: Option<String>,
    pub(crate) channel: Channel,
    /// The group chat, for group events.
    pub(crate) chat: Option<String>,
}

/// Events WeCom accepts a passive reply to (protocol §4).
fn accepts_passive(event: &Event) -> bool {
    matches!(
        event,
        Event::Subscribe
            | Event::EnterAgent
            | Event::Location { .. }
            | Event::Click { .. }
            | Event::View { .. }
            | Event::ViewMiniprogram { .. }
            | Event::TemplateCardMenu { .. }
    ) || matches!(event, Event::ScanCode(s) if s.wait_msg)
}

pub(crate) fn route(message: &Message) -> Routed {
    let from = message.header.from.clone();
    let at = message.header.create_time;
    let member = |incoming: Incoming, route: Route, event: Option<String>| Routed {
        incoming: incoming.at_unix(at).channel(Channel::App),
        user: from.clone(),
        route,
        event,
        staff: None,
        channel: Channel::App,
        chat: None,
    };
    let Body::Event(event) = &message.body else {
        // Messages: the text (empty for images, voice, …: only fallbacks can answer).
        let text = message
            .text()
            .map(std::borrow::Cow::into_owned)
            .unwrap_or_default();
        return member(
            Incoming::new(from.clone(), text),
            Route::Passive(Target::User(from.clone())),
            None,
        );
    };
    let (name, key): (&str, &str) = match event {
        Event::Click { key }
        | Event::ViewMiniprogram { key }
        | Event::LocationSelect { key, .. }
        | Event::TemplateCard { key, .. }
        | Event::TemplateCardMenu { key, .. }
        | Event::TaskCardClick { key, .. } => (event.name(), key),
        Event::View { url } => (event.name(), url),
        Event::ScanCode(s) => (event.name(), &s.key),
        Event::Pictures(p) => (event.name(), &p.key),
        Event::ChangeExternalContact(change) => return customer_event(change, at),
        Event::ChangeExternalChat(change) => return chat_event(change, at),
        Event::KfMsgOrEvent { .. } => {
            return member(
                Incoming::event(from.clone(), event.name(), ""),
                Route::Nowhere("微信客服 messages are read with kf/sync_msg, not answered here"),
                Some(event.name().to_owned()),
            );
        }
        other => (other.name(), ""),
    };
    let route = if accepts_passive(event) {
        Route::Passive(Target::User(from.clone()))
    } else {
        Route::Active(Target::User(from.clone()))
    };
    member(
        Incoming::event(from.clone(), name, key),
        route,
        Some(label(name, key)),
    )
}

fn label(name: &str, key: &str) -> String {
    if key.is_empty() {
        name.to_owned()
    } else {
        format!("{name}:{key}")
    }
}

/// A customer added, edited or lost: the customer is the sender.
fn customer_event(change: &ExternalContactChange, at: i64) -> Routed {
    let name = change.change_type();
    let (staff, customer, state, code) = match change {
        ExternalContactChange::Add {
            user_id,
            external_user_id,
            state,
            welcome_code,
        }
        | ExternalContactChange::AddHalf {
            user_id,
            external_user_id,
            state,
            welcome_code,
        } => (
            user_id.as_str(),
            external_user_id.as_str(),
            state.as_deref().unwrap_or_default(),
            welcome_code.clone(),
        ),
        ExternalContactChange::Edit {
            user_id,
            external_user_id,
        }
        | ExternalContactChange::Del {
            user_id,
            external_user_id,
            ..
        }
        | ExternalContactChange::DelFollowUser {
            user_id,
            external_user_id,
        }
        | ExternalContactChange::TransferFail {
            user_id,
            external_user_id,
            ..
        }
        | ExternalContactChange::MsgAuditApproved {
            user_id,
            external_user_id,
        } => (user_id.as_str(), external_user_id.as_str(), "", None),
        _ => ("", "", "", None),
    };
    let route = match code {
        Some(code) if !code.is_empty() => Route::Welcome(code),
        _ => {
            Route::Nowhere("no welcome code: WeCom gives an app no other way to message a customer")
        }
    };
    Routed {
        incoming: Incoming::event(customer, name, state)
            .at_unix(at)
            .channel(Channel::App),
        user: customer.to_owned(),
        route,
        event: Some(label(name, state)),
        staff: Some(staff.to_owned()).filter(|s| !s.is_empty()),
        channel: Channel::App,
        chat: None,
    }
}

/// A customer group changed: `add_member` / `del_member` / … keyed by the chat id.
fn chat_event(change: &ExternalChatChange, at: i64) -> Routed {
    let (name, chat) = match change {
        ExternalChatChange::Update {
            chat_id, detail, ..
        } => (
            match detail {
                ChatUpdateDetail::AddMember => "add_member",
                ChatUpdateDetail::DelMember => "del_member",
                ChatUpdateDetail::ChangeOwner => "change_owner",
                ChatUpdateDetail::ChangeName => "change_name",
                ChatUpdateDetail::ChangeNotice => "change_notice",
                ChatUpdateDetail::Other(other) => other.as_str(),
                _ => "update",
            },
            chat_id.as_str(),
        ),
        ExternalChatChange::Create { chat_id } | ExternalChatChange::Dismiss { chat_id } => {
            (change.change_type(), chat_id.as_str())
        }
        other => (other.change_type(), ""),
    };
    let joined = match change {
        ExternalChatChange::Update {
            mem_change_list, ..
        } => mem_change_list.first().cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let user = if joined.is_empty() {
        "sys".to_owned()
    } else {
        joined
    };
    let mut incoming = Incoming::event(user.clone(), name, chat)
        .at_unix(at)
        .channel(Channel::CustomerGroup);
    if !chat.is_empty() {
        incoming = incoming.chat_id(chat);
    }
    Routed {
        incoming,
        user,
        route: Route::Nowhere(
            "WeCom gives an app no API to post in a customer group (use the group's welcome template)",
        ),
        event: Some(label(name, chat)),
        staff: None,
        channel: Channel::CustomerGroup,
        chat: Some(chat.to_owned()).filter(|c| !c.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn parse(xml: &str) -> Message {
        Message::from_xml(xml).unwrap()
    }

    #[test]
    fn a_menu_click_is_an_event_with_its_key_and_a_passive_route() {
        let m = parse(
            "<xml><ToUserName>ww1</ToUserName><FromUserName>zhangsan</FromUserName><CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>click</Event><EventKey>MENU_HOURS</EventKey><AgentID>1</AgentID></xml>",
        );
        let r = route(&m);
        assert_eq!(r.incoming.event_name_key(), Some(("click", "MENU_HOURS")));
        assert_eq!(r.route, Route::Passive(Target::User("zhangsan".into())));
        assert_eq!(r.event.as_deref(), Some("click:MENU_HOURS"));
    }

    #[test]
    fn a_customer_added_is_the_customers_event_with_a_welcome_route() {
        let m = parse(
            "<xml><ToUserName>ww1</ToUserName><FromUserName>sys</FromUserName><CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>change_external_contact</Event><ChangeType>add_external_contact</ChangeType><UserID>zhangsan</UserID><ExternalUserID>wmNew</ExternalUserID><State>shop-qr</State><WelcomeCode>WC</WelcomeCode></xml>",
        );
        let r = route(&m);
        assert_eq!(r.incoming.user_id(), "wmNew");
        assert_eq!(
            r.incoming.event_name_key(),
            Some(("add_external_contact", "shop-qr"))
        );
        assert_eq!(r.route, Route::Welcome("WC".into()));
        assert_eq!(r.staff.as_deref(), Some("zhangsan"));
    }

    #[test]
    fn a_member_joining_a_customer_group_is_keyed_by_the_chat() {
        let m = parse(
            "<xml><ToUserName>ww1</ToUserName><FromUserName>sys</FromUserName><CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>change_external_chat</Event><ChatId>wrChat1</ChatId><ChangeType>update</ChangeType><UpdateDetail>add_member</UpdateDetail><JoinScene>3</JoinScene><MemChangeCnt>1</MemChangeCnt><MemChangeList><Item>wmJoiner</Item></MemChangeList></xml>",
        );
        let r = route(&m);
        assert_eq!(r.incoming.event_name_key(), Some(("add_member", "wrChat1")));
        assert_eq!(r.user, "wmJoiner");
        assert_eq!(r.chat.as_deref(), Some("wrChat1"));
        assert!(matches!(r.route, Route::Nowhere(_)));
    }

    #[test]
    fn scancode_push_takes_no_passive_reply() {
        let m = parse(
            "<xml><ToUserName>ww1</ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType><Event>scancode_push</Event><EventKey>SCAN</EventKey><ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>x</ScanResult></ScanCodeInfo></xml>",
        );
        assert!(matches!(route(&m).route, Route::Active(_)));
    }
}
