//! Every message and event type, parsed from a realistic sample (`tests/data/callback/`),
//! with every field asserted.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::too_many_lines,
    reason = "tests"
)]

use wecom_sdk_message::callback::*;

macro_rules! fixture {
    ($name:literal) => {
        Message::from_xml(include_str!(concat!("data/callback/", $name, ".xml"))).expect($name)
    };
}

fn event(msg: &Message) -> &Event {
    match &msg.body {
        Body::Event(e) => e,
        other => panic!("not an event: {other:?}"),
    }
}

#[test]
fn messages() {
    let m = fixture!("text");
    assert_eq!(
        m.header,
        Header {
            to: "ww1436e0e65a779aee".into(),
            from: "zhangsan".into(),
            create_time: 1_700_000_000,
            agent_id: Some(1_000_002),
            msg_id: Some(7_300_000_000_000_000_001),
        }
    );
    assert_eq!(
        m.body,
        Body::Text {
            content: "你好，明天几点开会？".into()
        }
    );
    assert_eq!(m.text().as_deref(), Some("你好，明天几点开会？"));
    assert_eq!(m.dedup_key(), "msg:7300000000000000001");

    let m = fixture!("image");
    assert_eq!(
        m.body,
        Body::Image {
            pic_url: "https://wework.qpic.cn/pic/1.jpg".into(),
            media_id: "media_img_1".into()
        }
    );
    assert_eq!(m.header.msg_id, Some(7_300_000_000_000_000_002));
    assert_eq!(m.text().as_deref(), None);

    let m = fixture!("voice");
    assert_eq!(
        m.body,
        Body::Voice {
            media_id: "media_voice_1".into(),
            format: "amr".into()
        }
    );

    let m = fixture!("video");
    assert_eq!(
        m.body,
        Body::Video {
            media_id: "media_video_1".into(),
            thumb_media_id: "thumb_1".into()
        }
    );

    let m = fixture!("location");
    assert_eq!(
        m.body,
        Body::Location {
            latitude: 31.230_416,
            longitude: 121.473_701,
            scale: Some(15),
            label: "上海市黄浦区人民广场".into(),
            app_type: Some("wxwork".into()),
        }
    );

    let m = fixture!("link");
    assert_eq!(
        m.body,
        Body::Link {
            title: "价目表".into(),
            description: "2024 春季课程价目".into(),
            url: "https://example.com/prices".into(),
            pic_url: "https://example.com/p.png".into(),
        }
    );
    assert_eq!(m.body.type_name(), "link");
}

#[test]
fn simple_events() {
    for (m, e) in [
        (fixture!("event_subscribe"), Event::Subscribe),
        (fixture!("event_unsubscribe"), Event::Unsubscribe),
        (fixture!("event_enter_agent"), Event::EnterAgent),
    ] {
        assert_eq!(event(&m), &e);
        assert_eq!(m.header.from, "zhangsan");
        assert_eq!(m.header.msg_id, None);
        assert_eq!(m.header.agent_id, Some(1_000_002));
    }
    let m = fixture!("event_location");
    assert_eq!(
        event(&m),
        &Event::Location {
            latitude: 23.104_105,
            longitude: 113.320_107,
            precision: Some(65.0)
        }
    );
    let m = fixture!("event_click");
    assert_eq!(
        event(&m),
        &Event::Click {
            key: "SHOP_HOURS".into()
        }
    );
    assert_eq!(m.text(), None, "a menu click is an event, not text");
    assert_eq!(m.menu_key(), Some("SHOP_HOURS"));
    let m = fixture!("event_view");
    assert_eq!(
        event(&m),
        &Event::View {
            url: "https://example.com/menu".into()
        }
    );
    let m = fixture!("event_view_miniprogram");
    assert_eq!(
        event(&m),
        &Event::ViewMiniprogram {
            key: "pages/index/index".into()
        }
    );
}

#[test]
fn menu_events() {
    let m = fixture!("event_scancode_push");
    assert_eq!(
        event(&m),
        &Event::ScanCode(ScanCode {
            wait_msg: false,
            key: "SCAN_1".into(),
            scan_type: "qrcode".into(),
            scan_result: "https://example.com/item/42".into()
        })
    );
    let m = fixture!("event_scancode_waitmsg");
    assert_eq!(
        event(&m),
        &Event::ScanCode(ScanCode {
            wait_msg: true,
            key: "SCAN_2".into(),
            scan_type: "barcode".into(),
            scan_result: "EAN_13,6901234567892".into()
        })
    );
    assert_eq!(event(&m).name(), "scancode_waitmsg");
    let m = fixture!("event_pic_sysphoto");
    assert_eq!(
        event(&m),
        &Event::Pictures(MenuPictures {
            event: "pic_sysphoto".into(),
            key: "PHOTO".into(),
            count: 1,
            md5s: vec!["1b5f7c23b5bf75682a53e7b6d163e185".into()]
        })
    );
    // The repeated-PicList quirk of real payloads.
    let m = fixture!("event_pic_photo_or_album");
    assert_eq!(
        event(&m),
        &Event::Pictures(MenuPictures {
            event: "pic_photo_or_album".into(),
            key: "ALBUM".into(),
            count: 2,
            md5s: vec!["aaaa".into(), "bbbb".into()]
        })
    );
    let m = fixture!("event_pic_weixin");
    assert!(
        matches!(event(&m), Event::Pictures(p) if p.event == "pic_weixin" && p.md5s == ["cccc"])
    );
    let m = fixture!("event_location_select");
    assert_eq!(
        event(&m),
        &Event::LocationSelect {
            key: "LOC".into(),
            latitude: Some(23.0),
            longitude: Some(113.0),
            scale: Some(15),
            label: Some(" 广州市海珠区客村艺苑路 106号".into()),
            poi_name: Some(String::new()),
        }
    );
}

#[test]
fn job_card_and_kf_events() {
    let m = fixture!("event_batch_job_result");
    assert_eq!(
        event(&m),
        &Event::BatchJobResult {
            job_id: "S0MrnndvRG5fadSlLwiBqiDDbM143UqTmKP3152FZk4".into(),
            job_type: BatchJobType::SyncUser,
            err_code: 0,
            err_msg: "ok".into(),
        }
    );
    assert_eq!(m.header.from, "sys");
    let m = fixture!("event_template_card_event");
    assert_eq!(
        event(&m),
        &Event::TemplateCard {
            key: "submit_key".into(),
            task_id: "task_20231115_1".into(),
            card_type: "vote_interaction".into(),
            response_code: "ResponseCode_abc".into(),
            selected: vec![
                SelectedItem {
                    question_key: "q1".into(),
                    option_ids: vec!["opt_a".into(), "opt_c".into()]
                },
                SelectedItem {
                    question_key: "q2".into(),
                    option_ids: vec!["yes".into()]
                },
            ],
        }
    );
    let m = fixture!("event_template_card_menu_event");
    assert_eq!(
        event(&m),
        &Event::TemplateCardMenu {
            key: "menu_mute".into(),
            task_id: "task_2".into(),
            card_type: "text_notice".into(),
            response_code: "rc_2".into()
        }
    );
    let m = fixture!("event_taskcard_click");
    assert_eq!(
        event(&m),
        &Event::TaskCardClick {
            key: "approve".into(),
            task_id: "legacy_1".into()
        }
    );
    let m = fixture!("event_kf_msg_or_event");
    assert_eq!(
        event(&m),
        &Event::KfMsgOrEvent {
            token: "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR".into(),
            open_kf_id: "wkxxxxxxx".into()
        }
    );
    assert_eq!((m.header.from.as_str(), m.header.agent_id), ("", None));
}

#[test]
fn change_contact() {
    let m = fixture!("event_change_contact_create_user");
    let Event::ChangeContact(ContactChange::CreateUser(u)) = event(&m) else {
        panic!("{m:?}")
    };
    assert_eq!(u.user_id, "zhangsan");
    assert_eq!(u.new_user_id, None);
    assert_eq!(u.name.as_deref(), Some("张三"));
    assert_eq!(u.department, [1, 2, 3]);
    assert_eq!(u.main_department, Some(1));
    assert_eq!(u.is_leader_in_dept, [1, 0, 0]);
    assert_eq!(u.position.as_deref(), Some("产品经理"));
    assert_eq!(u.mobile.as_deref(), Some("13800000000"));
    assert_eq!(u.gender, Some(1));
    assert_eq!(u.email.as_deref(), Some("zhangsan@gzdev.com"));
    assert_eq!(u.biz_mail.as_deref(), Some("zhangsan@qyycs2.wecom.work"));
    assert_eq!(u.status, Some(1));
    assert!(
        u.avatar
            .as_deref()
            .is_some_and(|a| a.starts_with("http://wx.qlogo.cn/"))
    );
    assert_eq!(u.alias.as_deref(), Some("jackzhang"));
    assert_eq!(u.telephone.as_deref(), Some("020-123456"));
    assert_eq!(u.address.as_deref(), Some("广州市"));
    assert_eq!(
        u.ext_attr,
        [
            ExtAttr {
                name: "爱好".into(),
                value: ExtAttrValue::Text("旅游".into())
            },
            ExtAttr {
                name: "卡号".into(),
                value: ExtAttrValue::Web {
                    title: "企业微信".into(),
                    url: "https://work.weixin.qq.com".into()
                }
            },
        ]
    );

    let m = fixture!("event_change_contact_update_user");
    let Event::ChangeContact(ContactChange::UpdateUser(u)) = event(&m) else {
        panic!("{m:?}")
    };
    assert_eq!(
        (
            u.user_id.as_str(),
            u.new_user_id.as_deref(),
            u.position.as_deref()
        ),
        ("zhangsan", Some("zhangsan001"), Some("总监"))
    );
    assert_eq!((u.name.as_ref(), u.department.len()), (None, 0));

    let m = fixture!("event_change_contact_delete_user");
    assert_eq!(
        event(&m),
        &Event::ChangeContact(ContactChange::DeleteUser {
            user_id: "zhangsan".into()
        })
    );

    let m = fixture!("event_change_contact_create_party");
    let Event::ChangeContact(ContactChange::CreateParty(p)) = event(&m) else {
        panic!("{m:?}")
    };
    assert_eq!(
        (p.id, p.name.as_deref(), p.parent_id, p.order),
        (2, Some("张三"), Some(1), Some(1))
    );
    let m = fixture!("event_change_contact_update_party");
    let Event::ChangeContact(ContactChange::UpdateParty(p)) = event(&m) else {
        panic!("{m:?}")
    };
    assert_eq!(
        (p.id, p.name.as_deref(), p.parent_id, p.order),
        (2, Some("市场部"), Some(1), None)
    );
    let m = fixture!("event_change_contact_delete_party");
    assert_eq!(
        event(&m),
        &Event::ChangeContact(ContactChange::DeleteParty { id: 2 })
    );

    let m = fixture!("event_change_contact_update_tag");
    let Event::ChangeContact(ContactChange::UpdateTag(t)) = event(&m) else {
        panic!("{m:?}")
    };
    assert_eq!(t.tag_id, 1);
    assert_eq!(t.add_user_items, ["zhangsan", "lisi"]);
    assert_eq!(t.del_user_items, ["zhangsan1", "lisi1"]);
    assert_eq!(t.add_party_items, [1, 2]);
    assert_eq!(t.del_party_items, [3, 4]);
}

#[test]
fn change_external_contact() {
    let (u, x) = (
        "zhangsan".to_owned(),
        "woAJ2GCAAAXtWyujaWJHDDGi0mACAAAA".to_owned(),
    );
    let cases = [
        (
            fixture!("event_change_external_contact_add"),
            ExternalContactChange::Add {
                user_id: u.clone(),
                external_user_id: x.clone(),
                state: Some("shop_qr_1".into()),
                welcome_code: Some("WELCOMECODE".into()),
            },
        ),
        (
            fixture!("event_change_external_contact_edit"),
            ExternalContactChange::Edit {
                user_id: u.clone(),
                external_user_id: x.clone(),
            },
        ),
        (
            fixture!("event_change_external_contact_add_half"),
            ExternalContactChange::AddHalf {
                user_id: u.clone(),
                external_user_id: x.clone(),
                state: Some("teststate".into()),
                welcome_code: Some("WELCOMECODE".into()),
            },
        ),
        (
            fixture!("event_change_external_contact_del"),
            ExternalContactChange::Del {
                user_id: u.clone(),
                external_user_id: x.clone(),
                source: Some("DELETE_BY_TRANSFER".into()),
            },
        ),
        (
            fixture!("event_change_external_contact_del_follow_user"),
            ExternalContactChange::DelFollowUser {
                user_id: u.clone(),
                external_user_id: x.clone(),
            },
        ),
        (
            fixture!("event_change_external_contact_transfer_fail"),
            ExternalContactChange::TransferFail {
                user_id: u.clone(),
                external_user_id: x.clone(),
                fail_reason: TransferFailReason::CustomerRefused,
            },
        ),
        (
            fixture!("event_change_external_contact_msg_audit_approved"),
            ExternalContactChange::MsgAuditApproved {
                user_id: u.clone(),
                external_user_id: x.clone(),
            },
        ),
    ];
    for (m, expected) in cases {
        assert_eq!(event(&m), &Event::ChangeExternalContact(expected));
        assert_eq!(m.header.from, "sys");
    }
}

#[test]
fn change_external_chat_and_tag() {
    let chat = "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA".to_owned();
    let m = fixture!("event_change_external_chat_create");
    assert_eq!(
        event(&m),
        &Event::ChangeExternalChat(ExternalChatChange::Create {
            chat_id: chat.clone()
        })
    );
    let m = fixture!("event_change_external_chat_dismiss");
    assert_eq!(
        event(&m),
        &Event::ChangeExternalChat(ExternalChatChange::Dismiss {
            chat_id: chat.clone()
        })
    );
    let m = fixture!("event_change_external_chat_update");
    assert_eq!(
        event(&m),
        &Event::ChangeExternalChat(ExternalChatChange::Update {
            chat_id: chat,
            detail: ChatUpdateDetail::AddMember,
            join_scene: Some(3),
            quit_scene: Some(0),
            mem_change_cnt: Some(2),
            mem_change_list: vec!["wmEAlECwAAHrbWYDOK5u3Af13xlYAAAA".into(), "zhangsan".into()],
            last_mem_ver: Some("9c3f97c2ada667dfb5f6d03308d963e1".into()),
            cur_mem_ver: Some("71217227bbd112ecfe3a49c482195cb4".into()),
        })
    );

    let id = "etm7wjCgAA3xbF2q6xcV7eCN7bE_LOWw".to_owned();
    let m = fixture!("event_change_external_tag_create");
    assert_eq!(
        event(&m),
        &Event::ChangeExternalTag(ExternalTagChange::Create {
            id: id.clone(),
            tag_type: TagType::Tag,
            strategy_id: Some(1)
        })
    );
    let m = fixture!("event_change_external_tag_update");
    assert_eq!(
        event(&m),
        &Event::ChangeExternalTag(ExternalTagChange::Update {
            id: id.clone(),
            tag_type: TagType::TagGroup,
            strategy_id: None
        })
    );
    let m = fixture!("event_change_external_tag_delete");
    assert_eq!(
        event(&m),
        &Event::ChangeExternalTag(ExternalTagChange::Delete {
            id,
            tag_type: TagType::Tag,
            strategy_id: None
        })
    );
    let m = fixture!("event_change_external_tag_shuffle");
    assert_eq!(
        event(&m),
        &Event::ChangeExternalTag(ExternalTagChange::Shuffle {
            id: "etm7wjCgAA3xbF2q6xcV7eCN7bE_GROUP".into(),
            strategy_id: Some(7)
        })
    );
}

#[test]
fn unknown_types_keep_every_field() {
    let m = fixture!("unknown_msgtype");
    let Body::Unknown { msg_type, raw } = &m.body else {
        panic!("{m:?}")
    };
    assert_eq!(msg_type, "sticker");
    assert_eq!(raw.get("StickerId"), Some("st_42"));
    assert!(
        raw.fields()
            .contains(&("Extra/Nested".to_owned(), "1".to_owned()))
    );
    assert_eq!(m.dedup_key(), "msg:7300000000000000099");

    let m = fixture!("unknown_event");
    let Event::Unknown { event: name, raw } = event(&m) else {
        panic!("{m:?}")
    };
    assert_eq!(
        (name.as_str(), raw.get("LivingId"), raw.get("Status")),
        ("living_status_change", Some("lv_1"), Some("1"))
    );

    let m = fixture!("unknown_change_type");
    let Event::ChangeContact(ContactChange::Unknown { change_type, raw }) = event(&m) else {
        panic!("{m:?}")
    };
    assert_eq!(
        (change_type.as_str(), raw.get("Mood")),
        ("update_ai_profile", Some("happy"))
    );
}

#[test]
fn dedup_keys_separate_distinct_events_in_the_same_second() {
    let base = include_str!("data/callback/event_change_external_contact_add.xml");
    let other_customer = base.replace(
        "woAJ2GCAAAXtWyujaWJHDDGi0mACAAAA",
        "woAJ2GCAAAXtWyujaWJHDDGi0mACBBBB",
    );
    let other_change = base.replace("add_external_contact", "del_follow_user");
    let other_member = base.replace("[zhangsan]", "[lisi]");
    let keys: Vec<String> = [base, &other_customer, &other_change, &other_member]
        .iter()
        .map(|x| Message::from_xml(x).expect("parses").dedup_key())
        .collect();
    for (i, a) in keys.iter().enumerate() {
        for b in &keys[i + 1..] {
            assert_ne!(a, b);
        }
    }
    // A re-delivery has the same key.
    assert_eq!(Message::from_xml(base).unwrap().dedup_key(), keys[0]);

    // Two clicks of different buttons, two kf notifications, two unknown events.
    let click = include_str!("data/callback/event_click.xml");
    assert_ne!(
        Message::from_xml(click).unwrap().dedup_key(),
        Message::from_xml(&click.replace("SHOP_HOURS", "ADDRESS"))
            .unwrap()
            .dedup_key()
    );
    let kf = include_str!("data/callback/event_kf_msg_or_event.xml");
    assert_ne!(
        Message::from_xml(kf).unwrap().dedup_key(),
        Message::from_xml(&kf.replace("ENCApHxn", "ENCBpHxn"))
            .unwrap()
            .dedup_key()
    );
    let unknown = include_str!("data/callback/unknown_event.xml");
    assert_ne!(
        Message::from_xml(unknown).unwrap().dedup_key(),
        Message::from_xml(&unknown.replace("lv_1", "lv_2"))
            .unwrap()
            .dedup_key()
    );
}

#[test]
fn bad_documents_are_typed_errors() {
    use wecom_sdk_message::ParseError;
    assert!(matches!(
        Message::from_xml("<xml>"),
        Err(ParseError::Xml { .. })
    ));
    assert_eq!(
        Message::from_xml("<xml><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>"),
        Err(ParseError::MissingField {
            field: "ToUserName"
        })
    );
    assert_eq!(
        Message::from_xml("<xml><ToUserName>a</ToUserName><MsgType>text</MsgType></xml>"),
        Err(ParseError::MissingField {
            field: "CreateTime"
        })
    );
    assert!(matches!(
        Message::from_xml(
            "<xml><ToUserName>a</ToUserName><CreateTime>soon</CreateTime><MsgType>text</MsgType></xml>"
        ),
        Err(ParseError::InvalidField {
            field: "CreateTime",
            ..
        })
    ));
    assert!(matches!(
        Message::from_xml_bytes(b"<xml>\xff</xml>"),
        Err(ParseError::Xml { .. })
    ));
}

#[test]
fn official_vector_plaintexts_parse() {
    // The plaintexts of the crypto vectors (testdata/crypto) are real WeCom documents.
    let m = Message::from_xml("<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n<FromUserName><![CDATA[mycreate]]></FromUserName>\n<CreateTime>1409659813</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>").unwrap();
    assert_eq!(
        (m.text().as_deref(), m.header.msg_id, m.header.agent_id),
        (Some("hello"), Some(4_561_255_354_251_345_929), Some(218))
    );
    let m = Message::from_xml("<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName><CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content><MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>").unwrap();
    assert_eq!(
        (m.text().as_deref(), m.header.from.as_str()),
        (Some("你好"), "ChenJiaShun")
    );
}

/// A callback with a 100 000-picture list keeps a dedup key of bounded size, and two such
/// callbacks that differ in one picture still get different keys.
#[test]
fn dedup_keys_stay_small_for_huge_callbacks() {
    let huge = |last: &str| {
        let mut items = String::new();
        for i in 0..100_000 {
            std::fmt::Write::write_fmt(
                &mut items,
                format_args!("<item><PicMd5Sum>{i:032x}</PicMd5Sum></item>"),
            )
            .unwrap();
        }
        format!(
            "<xml><ToUserName>ww1</ToUserName><FromUserName>zhangsan</FromUserName><CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>pic_photo_or_album</Event><EventKey>ALBUM</EventKey><SendPicsInfo><Count>100001</Count><PicList>{items}<item><PicMd5Sum>{last}</PicMd5Sum></item></PicList></SendPicsInfo><AgentID>1</AgentID></xml>"
        )
    };
    let a = Message::from_xml(&huge("aaaa")).unwrap().dedup_key();
    let b = Message::from_xml(&huge("bbbb")).unwrap().dedup_key();
    assert!(a.len() <= 160, "{} bytes", a.len());
    assert!(a.starts_with("evt:pic_photo_or_album"), "{a}");
    assert_ne!(a, b);
    // Ordinary keys are unchanged.
    let small = Message::from_xml(
        "<xml><ToUserName>ww1</ToUserName><FromUserName>zhangsan</FromUserName><CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>click</Event><EventKey>HOURS</EventKey><AgentID>1</AgentID></xml>",
    )
    .unwrap()
    .dedup_key();
    assert!(!small.contains('#'), "{small}");
}
