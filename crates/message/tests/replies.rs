//! Passive replies, AI-bot JSON, and the property tests of the model: replies round-trip
//! through a WeCom-style parser, text with any Unicode survives CDATA, `split_text` parts
//! fit and concatenate back.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

use proptest::prelude::*;
use wecom_sdk_message::aibot::*;
use wecom_sdk_message::callback::{Body, Message};
use wecom_sdk_message::reply::{Article, Reply, ReplyDocument};
use wecom_sdk_message::send::{Button, CardAction, TemplateCard};
use wecom_sdk_message::split_text;

/// Reads a reply back as WeCom would: the same XML reader as callbacks.
fn read_back(xml: &str) -> Message {
    Message::from_xml(xml).expect("reply XML parses")
}

#[test]
fn every_reply_type_is_well_formed() {
    let text = Reply::text("a]]>b <c> & d 😀 中文").to_xml("zhangsan", "ww1", 1_700_000_000);
    assert_eq!(
        text,
        "<xml><ToUserName><![CDATA[zhangsan]]></ToUserName><FromUserName><![CDATA[ww1]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[a]]]]><![CDATA[>b <c> & d 😀 中文]]></Content></xml>"
    );
    let m = read_back(&text);
    assert_eq!(
        m.body,
        Body::Text {
            content: "a]]>b <c> & d 😀 中文".into()
        }
    );
    assert_eq!(
        (
            m.header.to.as_str(),
            m.header.from.as_str(),
            m.header.create_time
        ),
        ("zhangsan", "ww1", 1_700_000_000)
    );

    let image = Reply::image("MID").to_xml("u", "c", 1);
    assert!(image.ends_with("<MsgType><![CDATA[image]]></MsgType><Image><MediaId><![CDATA[MID]]></MediaId></Image></xml>"));
    let voice = Reply::Voice {
        media_id: "VID".into(),
    }
    .to_xml("u", "c", 1);
    assert!(voice.contains("<Voice><MediaId><![CDATA[VID]]></MediaId></Voice>"));
    let video = Reply::Video {
        media_id: "M".into(),
        title: Some("标题".into()),
        description: Some("描述".into()),
    }
    .to_xml("u", "c", 1);
    assert!(video.contains("<Video><MediaId><![CDATA[M]]></MediaId><Title><![CDATA[标题]]></Title><Description><![CDATA[描述]]></Description></Video>"));

    let articles = vec![
        Article {
            title: "营业时间".into(),
            description: "9:00–18:00".into(),
            pic_url: "https://p/1.png".into(),
            url: "https://u/1".into(),
        },
        Article {
            title: "门店地址".into(),
            description: String::new(),
            pic_url: String::new(),
            url: "https://u/2".into(),
        },
    ];
    let news = Reply::news(articles.clone());
    news.validate().unwrap();
    let m = read_back(&news.to_xml("u", "c", 1));
    let Body::Unknown { msg_type, raw } = m.body else {
        panic!()
    };
    assert_eq!(
        (msg_type.as_str(), raw.get("ArticleCount")),
        ("news", Some("2"))
    );
    let items: Vec<_> = raw
        .child("Articles")
        .unwrap()
        .children
        .iter()
        .map(|i| i.get("Title").unwrap().to_owned())
        .collect();
    assert_eq!(items, ["营业时间", "门店地址"]);

    let button = Reply::UpdateButton {
        replace_name: "已处理".into(),
    }
    .to_xml("u", "c", 1);
    assert!(button.contains("<MsgType><![CDATA[update_button]]></MsgType><Button><ReplaceName><![CDATA[已处理]]></ReplaceName></Button>"));

    let card = TemplateCard::button_interaction(
        "审批",
        "task_1",
        vec![Button::new("同意", "yes"), Button::new("驳回", "no")],
    );
    let xml = Reply::update_template_card(card).to_xml("u", "c", 1);
    let m = read_back(&xml);
    let Body::Unknown { raw, .. } = m.body else {
        panic!()
    };
    let card = raw.child("TemplateCard").expect("card");
    assert_eq!(
        (card.get("CardType"), card.get("TaskId")),
        (Some("button_interaction"), Some("task_1"))
    );
    assert_eq!(
        card.children
            .iter()
            .filter(|c| c.name == "ButtonList")
            .count(),
        2
    );
    assert_eq!(
        card.child("MainTitle").and_then(|t| t.get("Title")),
        Some("审批")
    );
}

#[test]
fn reply_limits() {
    assert!(Reply::text("中".repeat(682)).validate().is_ok());
    assert_eq!(
        Reply::text("中".repeat(683)).validate().unwrap_err().field,
        "Content"
    );
    assert_eq!(
        Reply::news(vec![]).validate().unwrap_err().field,
        "Articles"
    );
    let nine = (0..9)
        .map(|i| Article {
            title: i.to_string(),
            ..Article::default()
        })
        .collect();
    assert_eq!(Reply::news(nine).validate().unwrap_err().field, "Articles");
    assert_eq!(Reply::image("").validate().unwrap_err().field, "MediaId");
}

#[test]
fn control_characters_are_dropped_not_emitted() {
    let xml = Reply::text("a\u{0}b\u{7}c\td\ne").to_xml("u", "c", 1);
    assert_eq!(read_back(&xml).text().as_deref(), Some("abc\td\ne"));
}

#[test]
fn ai_bot_messages() {
    let parse = |j: &str| AiBotMessage::from_json(j).expect(j);
    let m = parse(
        r#"{"msgid":"CAIQ","aibotid":"AIBOT","chatid":"CHAT","chattype":"group","from":{"userid":"lisi"},"response_url":"https://r","msgtype":"text","text":{"content":"@机器人 查订单"},"quote":{"msgtype":"text","text":{"content":"上一条"}}}"#,
    );
    assert_eq!(
        (
            m.msgid.as_str(),
            m.aibotid.as_str(),
            m.chatid.as_deref(),
            m.chattype.as_str()
        ),
        ("CAIQ", "AIBOT", Some("CHAT"), "group")
    );
    assert_eq!(
        (m.from_user.as_str(), m.response_url.as_deref()),
        ("lisi", Some("https://r"))
    );
    assert_eq!(m.text().as_deref(), Some("@机器人 查订单"));
    assert_eq!(m.quote.as_ref().unwrap()["text"]["content"], "上一条");

    let m = parse(r#"{"msgid":"1","msgtype":"image","image":{"url":"https://img","aeskey":"K"}}"#);
    assert_eq!(
        m.body,
        AiBotBody::Image(AiBotMedia {
            url: "https://img".into(),
            aeskey: Some("K".into())
        })
    );
    let m = parse(
        r#"{"msgid":"2","msgtype":"mixed","mixed":{"msg_item":[{"msgtype":"text","text":{"content":"看图"}},{"msgtype":"image","image":{"url":"https://i"}}]}}"#,
    );
    assert_eq!(
        m.body,
        AiBotBody::Mixed {
            items: vec![
                MixedItem::Text("看图".into()),
                MixedItem::Image(AiBotMedia {
                    url: "https://i".into(),
                    aeskey: None
                })
            ]
        }
    );
    assert_eq!(m.text().as_deref(), Some("看图"));
    let m = parse(r#"{"msgid":"3","msgtype":"voice","voice":{"content":"语音转文字"}}"#);
    assert_eq!(m.text().as_deref(), Some("语音转文字"));
    let m = parse(r#"{"msgid":"4","msgtype":"file","file":{"url":"https://f"}}"#);
    assert!(matches!(m.body, AiBotBody::File(AiBotMedia { ref url, .. }) if url == "https://f"));
    let m = parse(r#"{"msgid":"5","msgtype":"video","video":{"url":"https://v"}}"#);
    assert!(matches!(m.body, AiBotBody::Video(_)));
    let m = parse(r#"{"msgid":"6","msgtype":"stream","stream":{"id":"STREAM1"}}"#);
    assert_eq!(
        m.body,
        AiBotBody::StreamRefresh {
            id: "STREAM1".into()
        }
    );
    let m = parse(
        r#"{"msgid":"7","create_time":1700000000,"from":{"userid":"u","corpid":"ww1"},"msgtype":"event","event":{"eventtype":"enter_chat"}}"#,
    );
    assert_eq!(
        (m.body, m.from_corp.as_deref(), m.create_time),
        (
            AiBotBody::Event(AiBotEvent::EnterChat),
            Some("ww1"),
            Some(1_700_000_000)
        )
    );
    let m = parse(
        r#"{"msgid":"8","msgtype":"event","event":{"eventtype":"template_card_event","template_card_event":{"card_type":"button_interaction","event_key":"yes","task_id":"T1"}}}"#,
    );
    assert_eq!(
        m.body,
        AiBotBody::Event(AiBotEvent::TemplateCard {
            event_key: "yes".into(),
            task_id: "T1".into()
        })
    );
    let m = parse(
        r#"{"msgid":"9","msgtype":"event","event":{"eventtype":"feedback_event","feedback_event":{"id":"F","type":1}}}"#,
    );
    assert!(
        matches!(m.body, AiBotBody::Event(AiBotEvent::Feedback(ref v)) if v["feedback_event"]["id"] == "F")
    );
    let m = parse(r#"{"msgid":"10","msgtype":"event","event":{"eventtype":"disconnected_event"}}"#);
    assert_eq!(m.body, AiBotBody::Event(AiBotEvent::Disconnected));
    let m = parse(r#"{"msgid":"11","msgtype":"event","event":{"eventtype":"new_thing","x":1}}"#);
    assert!(
        matches!(m.body, AiBotBody::Event(AiBotEvent::Unknown { ref eventtype, ref raw }) if eventtype == "new_thing" && raw["x"] == 1)
    );
    let m = parse(r#"{"msgid":"12","msgtype":"hologram","hologram":{"z":2}}"#);
    assert!(
        matches!(m.body, AiBotBody::Unknown { ref msgtype, ref raw } if msgtype == "hologram" && raw["hologram"]["z"] == 2)
    );
    for bad in ["", "[]", "1", "{", "\"x\""] {
        assert!(AiBotMessage::from_json(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn ai_bot_replies() {
    let json =
        |r: &AiBotReply| -> serde_json::Value { serde_json::from_str(&r.to_json()).unwrap() };
    let welcome = AiBotReply::Text {
        content: "您好！".into(),
    };
    assert_eq!(
        json(&welcome),
        serde_json::json!({"msgtype": "text", "text": {"content": "您好！"}})
    );
    let mut stream = StreamReply::new("S1", "第一段", false);
    stream.feedback = Some(Feedback { id: "FB".into() });
    assert_eq!(
        json(&AiBotReply::Stream(stream.clone())),
        serde_json::json!({"msgtype": "stream", "stream": {"id": "S1", "finish": false, "content": "第一段", "feedback": {"id": "FB"}}})
    );
    let mut done = StreamReply::new("S1", "第一段第二段", true);
    done.msg_item.push(StreamImage {
        base64: "aGk=".into(),
        md5: "49f68a5c8493ec2c0bf489821c21fc3b".into(),
    });
    let v = json(&AiBotReply::Stream(done.clone()));
    assert_eq!(
        v["stream"]["msg_item"][0],
        serde_json::json!({"msgtype": "image", "image": {"base64": "aGk=", "md5": "49f68a5c8493ec2c0bf489821c21fc3b"}})
    );
    let card = TemplateCard::text_notice("t", CardAction::url("u")).task_id("T1");
    let v = json(&AiBotReply::StreamWithTemplateCard {
        stream: stream.clone(),
        card: card.clone(),
    });
    assert_eq!(
        (
            v["msgtype"].as_str(),
            v["template_card"]["task_id"].as_str()
        ),
        (Some("stream_with_template_card"), Some("T1"))
    );
    assert_eq!(
        json(&AiBotReply::TemplateCard(card.clone()))["msgtype"],
        "template_card"
    );
    let update = AiBotReply::UpdateTemplateCard {
        userids: vec!["u1".into()],
        card,
    };
    update.validate().unwrap();
    assert_eq!(json(&update)["response_type"], "update_template_card");
    for r in [
        &welcome,
        &AiBotReply::Stream(stream),
        &AiBotReply::Stream(done),
    ] {
        r.validate().unwrap();
    }
    let mut early_images = StreamReply::new("S", "x", false);
    early_images.msg_item.push(StreamImage {
        base64: String::new(),
        md5: String::new(),
    });
    assert_eq!(
        AiBotReply::Stream(early_images)
            .validate()
            .unwrap_err()
            .field,
        "stream.msg_item"
    );
    let too_long = StreamReply::new("S", "x".repeat(20_481), false);
    assert_eq!(
        AiBotReply::Stream(too_long).validate().unwrap_err().field,
        "stream.content"
    );
}

fn reply_strategy() -> impl Strategy<Value = Reply> {
    let s = || "\\PC{0,40}";
    let article = (s(), s(), s(), s()).prop_map(|(title, description, pic_url, url)| Article {
        title,
        description,
        pic_url,
        url,
    });
    prop_oneof![
        s().prop_map(Reply::text),
        s().prop_map(Reply::image),
        s().prop_map(|media_id| Reply::Voice { media_id }),
        (s(), proptest::option::of(s()), proptest::option::of(s())).prop_map(
            |(media_id, title, description)| Reply::Video {
                media_id,
                title,
                description
            }
        ),
        proptest::collection::vec(article, 1..8).prop_map(Reply::news),
        s().prop_map(|replace_name| Reply::UpdateButton { replace_name }),
    ]
}

#[test]
fn reply_document_reads_template_card_updates_raw() {
    let card = TemplateCard::text_notice("已处理", CardAction::url("https://example.com"));
    let xml = Reply::update_template_card(card).to_xml("u", "ww1", 7);
    let doc = ReplyDocument::from_xml(&xml).unwrap();
    assert_eq!(doc.msg_type, "update_template_card");
    assert_eq!(doc.reply, None);
    assert!(doc.raw.child("TemplateCard").is_some());
    assert!(ReplyDocument::from_xml("<xml><ToUserName>u</ToUserName></xml>").is_err());
}

proptest! {
    #[test]
    fn reply_document_reads_back_every_reply(reply in reply_strategy(), user in "[a-zA-Z0-9_]{1,20}", time in 0i64..4_000_000_000) {
        let xml = reply.to_xml(&user, "ww1436e0e65a779aee", time);
        let doc = ReplyDocument::from_xml(&xml).expect("parses");
        prop_assert_eq!(&doc.to_user, &user);
        prop_assert_eq!(doc.create_time, time);
        prop_assert_eq!(doc.msg_type.as_str(), reply.msg_type());
        prop_assert_eq!(doc.reply, Some(reply));
    }

    #[test]
    fn text_reply_round_trips_any_unicode(text in "\\PC{0,200}", user in "[a-zA-Z0-9_]{1,20}") {
        let xml = Reply::text(text.clone()).to_xml(&user, "ww1436e0e65a779aee", 1_700_000_000);
        let back = Message::from_xml(&xml).expect("parses");
        let back_text = back.text();
        prop_assert_eq!(back_text.as_deref(), Some(text.as_str()));
        prop_assert_eq!(back.header.to, user);
    }

    #[test]
    fn cdata_terminators_anywhere_round_trip(parts in proptest::collection::vec(prop_oneof![Just("]]>".to_owned()), Just("]".to_owned()), Just(">".to_owned()), "[<&a-z中😀]{0,5}"], 0..20)) {
        let text = parts.concat();
        let xml = Reply::text(text.clone()).to_xml("u", "c", 1);
        let back = Message::from_xml(&xml).expect("parses");
        let back_text = back.text();
        prop_assert_eq!(back_text.as_deref(), Some(text.as_str()));
    }

    #[test]
    fn split_text_parts_fit_and_concatenate(text in "(\\PC|\\n|👍🏽|👨‍👩‍👧){0,300}", max in 1usize..64) {
        let parts = split_text(&text, max);
        prop_assert_eq!(parts.concat(), text.clone());
        for p in &parts {
            // A part exceeds the limit only when it is a single grapheme.
            use unicode_segmentation::UnicodeSegmentation;
            prop_assert!(p.len() <= max || p.graphemes(true).count() == 1, "{:?}", p);
        }
        if !text.is_empty() {
            prop_assert!(parts.iter().all(|p| !p.is_empty()));
        }
    }
}

#[test]
fn a_reply_for_a_message_goes_back_to_its_sender() {
    let incoming = wecom_sdk_message::callback::Message::from_xml(
        "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[在吗]]></Content><MsgId>1</MsgId><AgentID>1000002</AgentID></xml>",
    )
    .unwrap();
    let xml = incoming.reply_xml(&Reply::text("在的"), 1_700_000_001);
    assert!(xml.starts_with(
        "<xml><ToUserName><![CDATA[zhangsan]]></ToUserName><FromUserName><![CDATA[ww1436e0e65a779aee]]></FromUserName><CreateTime>1700000001</CreateTime>"
    ), "{xml}");
}
