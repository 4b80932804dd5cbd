//! Golden JSON for every outgoing body, and the limit checks that guard them.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::too_many_lines,
    reason = "tests"
)]

use serde_json::{Value, json};
use wecom_sdk_message::kf::*;
use wecom_sdk_message::send::*;
use wecom_sdk_message::{Limit, LimitError};

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("serializes")
}

fn field(err: Result<(), LimitError>) -> String {
    err.expect_err("should be refused").field
}

#[test]
fn app_message_every_type() {
    let r = || Recipients::users(["zhangsan", "lisi"]);
    let cases: Vec<(Content, Value)> = vec![
        (
            Content::text("hi\n<a href=\"https://x\">x</a>"),
            json!({"text": {"content": "hi\n<a href=\"https://x\">x</a>"}}),
        ),
        (Content::image("MID"), json!({"image": {"media_id": "MID"}})),
        (
            Content::Voice(Media {
                media_id: "V".into(),
            }),
            json!({"voice": {"media_id": "V"}}),
        ),
        (
            Content::Video(Video {
                media_id: "M".into(),
                title: Some("T".into()),
                description: None,
            }),
            json!({"video": {"media_id": "M", "title": "T"}}),
        ),
        (Content::file("F"), json!({"file": {"media_id": "F"}})),
        (
            Content::Textcard(Textcard {
                title: "领奖通知".into(),
                description: "<div class=\"gray\">2016年9月26日</div>".into(),
                url: "https://x".into(),
                btntxt: Some("更多".into()),
            }),
            json!({"textcard": {"title": "领奖通知", "description": "<div class=\"gray\">2016年9月26日</div>", "url": "https://x", "btntxt": "更多"}}),
        ),
        (
            Content::news(vec![NewsArticle {
                description: Some("d".into()),
                picurl: Some("https://p".into()),
                ..NewsArticle::new("中秋节礼品领取", "https://u")
            }]),
            json!({"news": {"articles": [{"title": "中秋节礼品领取", "description": "d", "url": "https://u", "picurl": "https://p"}]}}),
        ),
        (
            Content::Mpnews {
                articles: vec![MpnewsArticle {
                    title: "T".into(),
                    thumb_media_id: "TM".into(),
                    content: "<p>c</p>".into(),
                    ..MpnewsArticle::default()
                }],
            },
            json!({"mpnews": {"articles": [{"title": "T", "thumb_media_id": "TM", "content": "<p>c</p>"}]}}),
        ),
        (
            Content::markdown("**粗体** <font color=\"info\">绿</font>"),
            json!({"markdown": {"content": "**粗体** <font color=\"info\">绿</font>"}}),
        ),
        (
            Content::MiniprogramNotice(MiniprogramNotice {
                appid: "wx123".into(),
                page: Some("pages/index".into()),
                title: "会议室预订成功".into(),
                content_item: vec![KeyValue {
                    key: "会议室".into(),
                    value: "402".into(),
                }],
                ..MiniprogramNotice::default()
            }),
            json!({"miniprogram_notice": {"appid": "wx123", "page": "pages/index", "title": "会议室预订成功", "content_item": [{"key": "会议室", "value": "402"}]}}),
        ),
    ];
    for (content, object) in cases {
        let msg_type = content.msg_type();
        let msg = AppMessage::new(1_000_002, r(), content)
            .build()
            .expect(msg_type);
        let mut expected =
            json!({"touser": "zhangsan|lisi", "msgtype": msg_type, "agentid": 1_000_002});
        expected
            .as_object_mut()
            .unwrap()
            .extend(object.as_object().unwrap().clone());
        assert_eq!(to_json(&msg), expected, "{msg_type}");
    }
}

#[test]
fn app_message_recipients_and_flags() {
    let msg = AppMessage::new(7, Recipients::all(), Content::text("x"))
        .duplicate_check(1800)
        .safe(1);
    assert_eq!(
        to_json(&msg),
        json!({"touser": "@all", "msgtype": "text", "agentid": 7, "text": {"content": "x"}, "safe": 1, "enable_duplicate_check": 1, "duplicate_check_interval": 1800})
    );
    let r = Recipients {
        parties: vec!["1".into(), "2".into()],
        tags: vec!["9".into()],
        ..Recipients::default()
    };
    assert_eq!(
        to_json(&AppMessage::new(7, r, Content::text("x")))["toparty"],
        "1|2"
    );
    assert_eq!(
        field(AppMessage::new(7, Recipients::default(), Content::text("x")).validate()),
        "touser"
    );
    assert_eq!(
        field(
            AppMessage::new(7, Recipients::all(), Content::text("x"))
                .duplicate_check(20_000)
                .validate()
        ),
        "duplicate_check_interval"
    );
    assert_eq!(
        field(
            AppMessage::new(
                7,
                Recipients::users((0..1001).map(|i| i.to_string())),
                Content::text("x")
            )
            .validate()
        ),
        "touser"
    );
}

#[test]
fn limits_in_bytes_as_wecom_counts() {
    // 682 Chinese characters = 2046 bytes: fits; 683 = 2049: refused.
    assert!(Content::text("中".repeat(682)).validate().is_ok());
    let err = Content::text("中".repeat(683)).validate().unwrap_err();
    assert_eq!(
        err,
        LimitError {
            field: "text.content".into(),
            problem: Limit::TooManyBytes {
                max: 2048,
                actual: 2049
            }
        }
    );
    assert_eq!(
        err.to_string(),
        "text.content: 2049 bytes, at most 2048 allowed"
    );
    assert_eq!(field(Content::text("").validate()), "text.content");
    let long_title = NewsArticle::new("标".repeat(43), "https://u"); // 129 bytes
    assert_eq!(
        field(Content::news(vec![NewsArticle::new("ok", "https://u"), long_title]).validate()),
        "news.articles[1].title"
    );
    assert_eq!(field(Content::news(vec![]).validate()), "news.articles");
    assert_eq!(
        field(
            Content::news(
                (0..9)
                    .map(|i| NewsArticle::new(i.to_string(), "u"))
                    .collect()
            )
            .validate()
        ),
        "news.articles"
    );
    let no_target = NewsArticle {
        title: "t".into(),
        ..NewsArticle::default()
    };
    assert_eq!(
        field(Content::news(vec![no_target]).validate()),
        "news.articles[0].url"
    );
    let card = Textcard {
        title: "t".into(),
        description: String::new(),
        url: "u".into(),
        btntxt: None,
    };
    assert_eq!(
        field(Content::Textcard(card.clone()).validate()),
        "textcard.description"
    );
    let card = Textcard {
        description: "d".into(),
        btntxt: Some("五个字按钮".into()),
        ..card
    };
    assert_eq!(field(Content::Textcard(card).validate()), "textcard.btntxt");
    assert_eq!(
        field(Content::markdown("x".repeat(2049)).validate()),
        "markdown.content"
    );
}

#[test]
fn template_cards_all_five_types() {
    let text = TemplateCard::text_notice("订单已发货", CardAction::url("https://x/o/1"))
        .sub_title("明天送达");
    assert_eq!(
        to_json(&text),
        json!({"card_type": "text_notice", "main_title": {"title": "订单已发货"}, "sub_title_text": "明天送达", "card_action": {"type": 1, "url": "https://x/o/1"}})
    );
    let news = TemplateCard::news_notice(
        "新品",
        "https://img",
        CardAction::miniprogram("wx1", "pages/a"),
    );
    assert_eq!(
        to_json(&news),
        json!({"card_type": "news_notice", "main_title": {"title": "新品"}, "card_action": {"type": 2, "appid": "wx1", "pagepath": "pages/a"}, "card_image": {"url": "https://img"}})
    );
    let buttons = TemplateCard::button_interaction(
        "请审批",
        "task_1",
        vec![Button::new("同意", "yes"), Button::new("驳回", "no")],
    );
    assert_eq!(
        to_json(&buttons),
        json!({"card_type": "button_interaction", "main_title": {"title": "请审批"}, "button_list": [{"text": "同意", "key": "yes"}, {"text": "驳回", "key": "no"}], "task_id": "task_1"})
    );
    let option = |id: &str| SelectOption {
        id: id.into(),
        text: id.to_uppercase(),
        is_checked: None,
    };
    let vote = TemplateCard::vote_interaction(
        "午餐",
        "task-2",
        Checkbox {
            question_key: "q".into(),
            option_list: vec![option("a"), option("b")],
            mode: Some(1),
        },
        SubmitButton {
            text: "提交".into(),
            key: "s".into(),
        },
    );
    assert_eq!(
        to_json(&vote)["checkbox"],
        json!({"question_key": "q", "option_list": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}], "mode": 1})
    );
    let multiple = TemplateCard::multiple_interaction(
        "偏好",
        "task@3",
        vec![SelectQuestion {
            question_key: "q1".into(),
            title: Some("口味".into()),
            selected_id: None,
            option_list: vec![option("x")],
        }],
        SubmitButton {
            text: "OK".into(),
            key: "k".into(),
        },
    );
    assert_eq!(to_json(&multiple)["select_list"][0]["title"], "口味");
    for card in [&text, &news, &buttons, &vote, &multiple] {
        card.validate().expect("valid");
    }
    let msg = AppMessage::new(
        1,
        Recipients::all(),
        Content::template_card(buttons.clone()),
    )
    .build()
    .unwrap();
    assert_eq!(to_json(&msg)["template_card"]["task_id"], "task_1");

    // Rules.
    let mut bad = buttons.clone();
    bad.task_id = Some("有中文".into());
    assert_eq!(field(bad.validate()), "template_card.task_id");
    let mut bad = buttons.clone();
    bad.task_id = None;
    assert_eq!(field(bad.validate()), "template_card.task_id");
    let mut bad = buttons;
    bad.button_list = (0..7)
        .map(|i| Button::new(i.to_string(), i.to_string()))
        .collect();
    assert_eq!(field(bad.validate()), "template_card.button_list");
    let mut bad = text.clone();
    bad.card_action = None;
    assert_eq!(field(bad.validate()), "template_card.card_action");
    let mut bad = news;
    bad.card_image = Some(CardImage {
        url: "u".into(),
        aspect_ratio: Some(3.0),
    });
    assert_eq!(
        field(bad.validate()),
        "template_card.card_image.aspect_ratio"
    );
    let mut bad = text;
    bad.jump_list = (0..4)
        .map(|i| Jump {
            title: i.to_string(),
            ..Jump::default()
        })
        .collect();
    assert_eq!(field(bad.validate()), "template_card.jump_list");
}

#[test]
fn appchat_and_card_update() {
    let chat = AppChatMessage::new("CHATID", Content::markdown("**hi**"));
    chat.validate().unwrap();
    assert_eq!(
        to_json(&chat),
        json!({"chatid": "CHATID", "msgtype": "markdown", "markdown": {"content": "**hi**"}})
    );
    let card = TemplateCard::text_notice("t", CardAction::url("u"));
    assert_eq!(
        field(AppChatMessage::new("C", Content::template_card(card.clone())).validate()),
        "msgtype"
    );

    let update = UpdateTemplateCard::button(1_000_002, "RC", vec!["zhangsan".into()], "已同意");
    update.validate().unwrap();
    assert_eq!(
        to_json(&update),
        json!({"userids": ["zhangsan"], "agentid": 1_000_002, "response_code": "RC", "button": {"replace_name": "已同意"}})
    );
    let update = UpdateTemplateCard::card(1, "RC", vec![], card);
    update.validate().unwrap();
    assert_eq!(
        to_json(&update)["template_card"]["card_type"],
        "text_notice"
    );
    assert_eq!(
        field(UpdateTemplateCard::button(1, "", vec![], "x").validate()),
        "response_code"
    );
}

#[test]
fn kf_messages_every_type() {
    let cases: Vec<(KfContent, Value)> = vec![
        (
            KfContent::text("您好"),
            json!({"text": {"content": "您好"}}),
        ),
        (
            KfContent::Image {
                media_id: "I".into(),
            },
            json!({"image": {"media_id": "I"}}),
        ),
        (
            KfContent::Voice {
                media_id: "V".into(),
            },
            json!({"voice": {"media_id": "V"}}),
        ),
        (
            KfContent::Video {
                media_id: "M".into(),
            },
            json!({"video": {"media_id": "M"}}),
        ),
        (
            KfContent::File {
                media_id: "F".into(),
            },
            json!({"file": {"media_id": "F"}}),
        ),
        (
            KfContent::Link(KfLink {
                title: "T".into(),
                desc: Some("D".into()),
                url: "https://u".into(),
                thumb_media_id: "TM".into(),
            }),
            json!({"link": {"title": "T", "desc": "D", "url": "https://u", "thumb_media_id": "TM"}}),
        ),
        (
            KfContent::Miniprogram(KfMiniprogram {
                appid: "wx1".into(),
                title: Some("T".into()),
                thumb_media_id: "TM".into(),
                pagepath: "p".into(),
            }),
            json!({"miniprogram": {"appid": "wx1", "title": "T", "thumb_media_id": "TM", "pagepath": "p"}}),
        ),
        (
            KfContent::Msgmenu(MsgMenu {
                head_content: Some("您对本次服务是否满意？".into()),
                list: vec![
                    MenuItem::Click {
                        id: Some("101".into()),
                        content: "满意".into(),
                    },
                    MenuItem::View {
                        url: "https://u".into(),
                        content: "详情".into(),
                    },
                    MenuItem::Miniprogram {
                        appid: "wx1".into(),
                        pagepath: "p".into(),
                        content: "小程序".into(),
                    },
                    MenuItem::Text {
                        content: "谢谢".into(),
                        no_newline: true,
                    },
                ],
                tail_content: Some("欢迎再来".into()),
            }),
            json!({"msgmenu": {"head_content": "您对本次服务是否满意？", "list": [
                {"type": "click", "click": {"id": "101", "content": "满意"}},
                {"type": "view", "view": {"url": "https://u", "content": "详情"}},
                {"type": "miniprogram", "miniprogram": {"appid": "wx1", "pagepath": "p", "content": "小程序"}},
                {"type": "text", "text": {"content": "谢谢", "no_newline": 1}}
            ], "tail_content": "欢迎再来"}}),
        ),
        (
            KfContent::Location(KfLocation {
                name: Some("门店".into()),
                address: None,
                latitude: 23.1,
                longitude: 113.3,
            }),
            json!({"location": {"name": "门店", "latitude": 23.1, "longitude": 113.3}}),
        ),
    ];
    for (content, object) in cases {
        let msg_type = content.msg_type();
        let msg = KfMessage::new("wmCUST", "wkACCT", content);
        msg.validate().expect(msg_type);
        let mut expected = json!({"touser": "wmCUST", "open_kfid": "wkACCT", "msgtype": msg_type});
        expected
            .as_object_mut()
            .unwrap()
            .extend(object.as_object().unwrap().clone());
        assert_eq!(to_json(&msg), expected, "{msg_type}");
    }
    let on_event = KfEventMessage::new("WELCOME_CODE", KfContent::text("欢迎咨询"));
    on_event.validate().unwrap();
    assert_eq!(
        to_json(&on_event),
        json!({"code": "WELCOME_CODE", "msgtype": "text", "text": {"content": "欢迎咨询"}})
    );
    assert_eq!(
        field(
            KfEventMessage::new(
                "C",
                KfContent::Image {
                    media_id: "I".into()
                }
            )
            .validate()
        ),
        "msgtype"
    );
    let mut m = KfMessage::new("u", "k", KfContent::text("x"));
    m.msgid = Some("bad id!".into());
    assert_eq!(field(m.validate()), "msgid");
    let menu = KfContent::Msgmenu(MsgMenu {
        list: (0..11)
            .map(|i| MenuItem::Click {
                id: None,
                content: i.to_string(),
            })
            .collect(),
        ..MsgMenu::default()
    });
    assert_eq!(field(menu.validate()), "msgmenu.list");
}

#[test]
fn kf_sync_msg_response_is_typed() {
    let response: SyncMsgResponse = serde_json::from_value(json!({
        "errcode": 0, "errmsg": "ok", "next_cursor": "4gw7MepFLfgF2VC5npN", "has_more": 1,
        "msg_list": [
            {"msgid": "m1", "open_kfid": "wk1", "external_userid": "wm1", "send_time": 1_615_478_585, "origin": 3, "msgtype": "text", "text": {"content": "退货", "menu_id": "101"}},
            {"msgid": "m2", "open_kfid": "wk1", "external_userid": "wm1", "send_time": 1, "origin": 3, "msgtype": "image", "image": {"media_id": "IMG"}},
            {"msgid": "m3", "send_time": 2, "origin": 4, "msgtype": "event", "event": {"event_type": "enter_session", "open_kfid": "wk1", "external_userid": "wm1", "scene": "123", "scene_param": "abc", "welcome_code": "WC"}},
            {"msgid": "m4", "origin": 4, "msgtype": "event", "event": {"event_type": "msg_send_fail", "open_kfid": "wk1", "external_userid": "wm1", "fail_msgid": "FM", "fail_type": 4}},
            {"msgid": "m5", "origin": 4, "msgtype": "event", "event": {"event_type": "servicer_status_change", "servicer_userid": "zhangsan", "status": 1, "open_kfid": "wk1"}},
            {"msgid": "m6", "origin": 4, "msgtype": "event", "event": {"event_type": "session_status_change", "open_kfid": "wk1", "external_userid": "wm1", "change_type": 3, "old_servicer_userid": "zhangsan", "msg_code": "MC"}},
            {"msgid": "m7", "origin": 4, "msgtype": "event", "event": {"event_type": "user_recall_msg", "open_kfid": "wk1", "external_userid": "wm1", "recall_msgid": "m1"}},
            {"msgid": "m8", "origin": 4, "msgtype": "event", "event": {"event_type": "servicer_recall_msg", "open_kfid": "wk1", "external_userid": "wm1", "recall_msgid": "m2", "servicer_userid": "lisi"}},
            {"msgid": "m9", "origin": 3, "msgtype": "business_card", "business_card": {"userid": "x"}},
            {"msgid": "m10", "origin": 4, "msgtype": "event", "event": {"event_type": "brand_new_event", "foo": 1}}
        ]
    }))
    .expect("parses");
    assert!(response.more());
    assert_eq!(response.next_cursor, "4gw7MepFLfgF2VC5npN");
    let bodies: Vec<&KfSyncedBody> = response.msg_list.iter().map(|m| &m.body).collect();
    assert_eq!(
        bodies[0],
        &KfSyncedBody::Text {
            text: KfText {
                content: "退货".into(),
                menu_id: Some("101".into())
            }
        }
    );
    assert_eq!(
        bodies[1],
        &KfSyncedBody::Image {
            image: KfMedia {
                media_id: "IMG".into()
            }
        }
    );
    assert!(
        matches!(bodies[2], KfSyncedBody::Event { event: KfEvent::EnterSession { welcome_code, scene_param, .. } } if welcome_code == "WC" && scene_param == "abc")
    );
    assert!(
        matches!(bodies[3], KfSyncedBody::Event { event: KfEvent::MsgSendFail { fail_msgid, fail_type: 4, .. } } if fail_msgid == "FM")
    );
    assert!(matches!(
        bodies[4],
        KfSyncedBody::Event {
            event: KfEvent::ServicerStatusChange { status: 1, .. }
        }
    ));
    assert!(
        matches!(bodies[5], KfSyncedBody::Event { event: KfEvent::SessionStatusChange { change_type: 3, msg_code, .. } } if msg_code == "MC")
    );
    assert!(
        matches!(bodies[6], KfSyncedBody::Event { event: KfEvent::UserRecallMsg { recall_msgid, .. } } if recall_msgid == "m1")
    );
    assert!(
        matches!(bodies[7], KfSyncedBody::Event { event: KfEvent::ServicerRecallMsg { servicer_userid, .. } } if servicer_userid == "lisi")
    );
    assert!(
        matches!(bodies[8], KfSyncedBody::Unknown { msgtype, raw } if msgtype == "business_card" && raw["business_card"]["userid"] == "x")
    );
    assert!(
        matches!(bodies[9], KfSyncedBody::Unknown { msgtype, raw } if msgtype == "event" && raw["event"]["foo"] == 1)
    );
    assert_eq!(
        (response.msg_list[0].origin, response.msg_list[0].send_time),
        (3, 1_615_478_585)
    );
    let empty_but_more: SyncMsgResponse =
        serde_json::from_value(json!({"next_cursor": "c", "has_more": 1, "msg_list": []})).unwrap();
    assert!(empty_but_more.more() && empty_but_more.msg_list.is_empty());
    let request = SyncMsgRequest {
        cursor: Some("c".into()),
        token: Some("T".into()),
        limit: Some(1000),
        open_kfid: Some("wk1".into()),
        ..SyncMsgRequest::default()
    };
    assert_eq!(
        to_json(&request),
        json!({"cursor": "c", "token": "T", "limit": 1000, "open_kfid": "wk1"})
    );
}

#[test]
fn webhook_every_type() {
    let text = WebhookMessage::text("值班")
        .mention(["zhangsan", "@all"])
        .mention_mobile(["13800001111"]);
    assert_eq!(
        to_json(&text),
        json!({"msgtype": "text", "text": {"content": "值班", "mentioned_list": ["zhangsan", "@all"], "mentioned_mobile_list": ["13800001111"]}})
    );
    assert_eq!(
        to_json(&WebhookMessage::text("x")),
        json!({"msgtype": "text", "text": {"content": "x"}})
    );
    assert_eq!(
        to_json(&WebhookMessage::markdown("# 标题")),
        json!({"msgtype": "markdown", "markdown": {"content": "# 标题"}})
    );
    assert_eq!(
        to_json(&WebhookMessage::MarkdownV2 {
            content: "| a |".into()
        }),
        json!({"msgtype": "markdown_v2", "markdown_v2": {"content": "| a |"}})
    );
    // md5("hello") = 5d41402abc4b2a76b9719d911017c592
    let image = WebhookMessage::image(b"hello");
    assert_eq!(
        to_json(&image),
        json!({"msgtype": "image", "image": {"base64": "aGVsbG8=", "md5": "5d41402abc4b2a76b9719d911017c592"}})
    );
    let news = WebhookMessage::News {
        articles: vec![NewsArticle::new("标题", "https://u")],
    };
    assert_eq!(
        to_json(&news),
        json!({"msgtype": "news", "news": {"articles": [{"title": "标题", "url": "https://u"}]}})
    );
    assert_eq!(
        to_json(&WebhookMessage::File {
            media_id: "F".into()
        }),
        json!({"msgtype": "file", "file": {"media_id": "F"}})
    );
    assert_eq!(
        to_json(&WebhookMessage::Voice {
            media_id: "V".into()
        }),
        json!({"msgtype": "voice", "voice": {"media_id": "V"}})
    );
    let card = WebhookMessage::template_card(TemplateCard::text_notice("t", CardAction::url("u")));
    assert_eq!(to_json(&card)["template_card"]["card_type"], "text_notice");
    for m in [&text, &image, &news, &card] {
        m.validate().unwrap();
    }
    assert_eq!(
        field(WebhookMessage::markdown("x".repeat(4097)).validate()),
        "markdown.content"
    );
    assert!(
        WebhookMessage::markdown("x".repeat(4096))
            .validate()
            .is_ok()
    );
    assert_eq!(
        field(WebhookMessage::image(&vec![0u8; 2 * 1024 * 1024 + 1]).validate()),
        "image.base64"
    );
    let buttons = TemplateCard::button_interaction("t", "task", vec![Button::new("a", "b")]);
    assert_eq!(
        field(WebhookMessage::template_card(buttons).validate()),
        "template_card.card_type"
    );
}

#[test]
fn customer_group_send_templates() {
    let t = MsgTemplate::to_customers(["wmA", "wmB"])
        .text("大促")
        .attachment(Attachment::image("MID"))
        .attachment(Attachment::link("活动", "https://u"))
        .attachment(Attachment::Miniprogram {
            miniprogram: AttachmentMiniprogram {
                title: "商城".into(),
                pic_media_id: "P".into(),
                appid: "wx1".into(),
                page: "p".into(),
            },
        })
        .attachment(Attachment::Video {
            video: MediaRef {
                media_id: "V".into(),
            },
        })
        .attachment(Attachment::File {
            file: MediaRef {
                media_id: "F".into(),
            },
        });
    t.validate().unwrap();
    assert_eq!(
        to_json(&t),
        json!({"chat_type": "single", "external_userid": ["wmA", "wmB"], "text": {"content": "大促"}, "attachments": [
            {"msgtype": "image", "image": {"media_id": "MID"}},
            {"msgtype": "link", "link": {"title": "活动", "url": "https://u"}},
            {"msgtype": "miniprogram", "miniprogram": {"title": "商城", "pic_media_id": "P", "appid": "wx1", "page": "p"}},
            {"msgtype": "video", "video": {"media_id": "V"}},
            {"msgtype": "file", "file": {"media_id": "F"}}
        ]})
    );
    let group = MsgTemplate::to_groups("zhangsan").text("群发");
    group.validate().unwrap();
    assert_eq!(
        to_json(&group),
        json!({"chat_type": "group", "sender": "zhangsan", "text": {"content": "群发"}})
    );
    assert_eq!(field(MsgTemplate::to_customers(["a"]).validate()), "text");
    assert_eq!(
        field(
            MsgTemplate::to_customers(["a"])
                .text("x".repeat(4001))
                .validate()
        ),
        "text.content"
    );
    let too_many = (0..10).fold(MsgTemplate::to_customers(["a"]), |t, _| {
        t.attachment(Attachment::image("m"))
    });
    assert_eq!(field(too_many.validate()), "attachments");
    let mut no_sender = MsgTemplate::to_groups("x").text("x");
    no_sender.sender = None;
    assert_eq!(field(no_sender.validate()), "sender");
    let mut mixed = MsgTemplate::to_groups("x").text("x");
    mixed.external_userid = vec!["wmA".into()];
    assert_eq!(
        (field(mixed.validate()), mixed.chat_type),
        ("external_userid".to_owned(), ChatType::Group)
    );
}
