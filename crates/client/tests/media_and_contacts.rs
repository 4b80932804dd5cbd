//! Media uploads (checked before sending, multipart as WeCom expects) and the
//! customer-contact group, over loopback against a fake WeCom that records requests.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::type_complexity,
    reason = "tests"
)]

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};
use wecom_sdk_client::api::external_contact::ContactWay;
use wecom_sdk_client::api::media::MediaType;
use wecom_sdk_client::{Client, Kind};
use wecom_sdk_message::send::{Attachment, MsgTemplate};

#[derive(Default)]
struct Fake {
    uploads: Mutex<Vec<(Vec<(String, String)>, String, String, usize)>>,
    posts: Mutex<Vec<(String, Value)>>,
}

async fn upload(
    State(f): State<Arc<Fake>>,
    Query(q): Query<Vec<(String, String)>>,
    mut form: Multipart,
) -> Json<Value> {
    while let Some(field) = form.next_field().await.unwrap() {
        let name = field.name().unwrap_or_default().to_owned();
        let file = field.file_name().unwrap_or_default().to_owned();
        let len = field.bytes().await.unwrap().len();
        f.uploads.lock().unwrap().push((q.clone(), name, file, len));
    }
    Json(
        json!({"errcode": 0, "errmsg": "ok", "type": "image", "media_id": "MEDIA_1", "created_at": "1700000000", "url": "https://wework.qpic.cn/x.png"}),
    )
}

async fn contact(
    State(f): State<Arc<Fake>>,
    Path(rest): Path<String>,
    body: Option<Json<Value>>,
) -> Json<Value> {
    f.posts
        .lock()
        .unwrap()
        .push((rest.clone(), body.map_or(Value::Null, |b| b.0)));
    Json(match rest.as_str() {
        "add_contact_way" => json!({"errcode": 0, "config_id": "CFG", "qr_code": "https://qr"}),
        "get_corp_tag_list" => {
            json!({"errcode": 0, "tag_group": [{"group_id": "G1", "group_name": "客户等级", "tag": [{"id": "T1", "name": "VIP"}]}]})
        }
        "groupchat/list" => {
            json!({"errcode": 0, "group_chat_list": [{"chat_id": "wr1", "status": 0}], "next_cursor": ""})
        }
        "groupchat/get" => {
            json!({"errcode": 0, "group_chat": {"chat_id": "wr1", "name": "VIP 群", "owner": "zhangsan", "member_list": [{"userid": "zhangsan", "type": 1}, {"userid": "wmC", "type": 2}]}})
        }
        "add_msg_template" => json!({"errcode": 0, "fail_list": ["wmX"], "msgid": "MSG"}),
        _ => json!({"errcode": 0, "errmsg": "ok"}),
    })
}

async fn serve() -> (String, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    let app = Router::new()
        .route(
            "/cgi-bin/gettoken",
            get(|| async {
                Json(json!({"errcode": 0, "access_token": "tok", "expires_in": 7200}))
            }),
        )
        .route("/cgi-bin/media/upload", post(upload))
        .route("/cgi-bin/media/uploadimg", post(upload))
        .route("/cgi-bin/webhook/upload_media", post(upload))
        .route(
            "/cgi-bin/media/get",
            get(|Query(q): Query<Vec<(String, String)>>| async move {
                if q.iter().any(|(k, v)| k == "media_id" && v == "MEDIA_1") {
                    (
                        [(header::CONTENT_TYPE, "image/png")],
                        Bytes::from_static(b"\x89PNG...."),
                    )
                        .into_response()
                } else {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        r#"{"errcode":40007,"errmsg":"invalid media_id"}"#,
                    )
                        .into_response()
                }
            }),
        )
        .route(
            "/cgi-bin/externalcontact/get_follow_user_list",
            get(|| async { Json(json!({"errcode": 0, "follow_user": ["zhangsan", "lisi"]})) }),
        )
        .route("/cgi-bin/externalcontact/{*rest}", post(contact))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), fake)
}

fn client(base: &str) -> Client {
    Client::builder()
        .corp_id("ww1")
        .secret("s")
        .base_url(base)
        .build()
        .unwrap()
}

#[tokio::test]
async fn uploads_are_checked_then_sent_as_multipart_media() {
    let (base, fake) = serve().await;
    let c = client(&base);
    let uploaded = c
        .media()
        .upload(MediaType::Image, "价目表.png", vec![7u8; 1024])
        .await
        .unwrap();
    assert_eq!(
        (uploaded.media_id.as_str(), uploaded.created_at.as_str()),
        ("MEDIA_1", "1700000000")
    );
    let seen = fake.uploads.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (query, part, file, len) = &seen[0];
    assert!(query.contains(&("type".to_owned(), "image".to_owned())));
    assert!(query.contains(&("access_token".to_owned(), "tok".to_owned())));
    assert_eq!(
        (part.as_str(), file.as_str(), *len),
        ("media", "价目表.png", 1024)
    );

    for (kind, name, size, why) in [
        (MediaType::Image, "a.png", 5, "more than 5"),
        (MediaType::Image, "a.png", (10 << 20) + 1, "at most"),
        (MediaType::Voice, "a.amr", (2 << 20) + 1, "at most"),
        (MediaType::Video, "a.avi", 100, "must be mp4"),
        (MediaType::File, "big.zip", (20 << 20) + 1, "at most"),
    ] {
        let err = c
            .media()
            .upload(kind, name, vec![0u8; size])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &Kind::Invalid, "{name}");
        assert!(err.errmsg().contains(why), "{}", err.errmsg());
    }
    assert_eq!(
        fake.uploads.lock().unwrap().len(),
        1,
        "nothing invalid was sent"
    );
    assert_eq!(
        c.media()
            .uploadimg("logo.jpg", vec![1u8; 100])
            .await
            .unwrap(),
        "https://wework.qpic.cn/x.png"
    );
    assert_eq!(
        c.media()
            .uploadimg("logo.gif", vec![1u8; 100])
            .await
            .unwrap_err()
            .kind(),
        &Kind::Invalid
    );
    assert_eq!(c.media().get("MEDIA_1").await.unwrap(), b"\x89PNG....");
    assert_eq!(
        c.media().get("NOPE").await.unwrap_err().errcode(),
        Some(40007)
    );
}

#[tokio::test]
async fn customer_contact_calls() {
    let (base, fake) = serve().await;
    let c = client(&base);
    let ec = c.external_contact();
    let created = ec
        .add_contact_way(&ContactWay::qr_code_for("zhangsan").state("shop_qr_1"))
        .await
        .unwrap();
    assert_eq!(
        (created.config_id.as_str(), created.qr_code.as_str()),
        ("CFG", "https://qr")
    );
    let mut two_users = ContactWay::qr_code_for("a");
    two_users.user.push("b".into());
    assert_eq!(
        ec.add_contact_way(&two_users).await.unwrap_err().kind(),
        &Kind::Invalid
    );
    assert_eq!(
        ec.add_contact_way(&ContactWay::qr_code_for("a").state("x".repeat(31)))
            .await
            .unwrap_err()
            .kind(),
        &Kind::Invalid
    );
    ec.update_contact_way("CFG", &ContactWay::qr_code_for("zhangsan").state("s2"))
        .await
        .unwrap();
    ec.del_contact_way("CFG").await.unwrap();
    ec.mark_tag("zhangsan", "wmC", &["T1"], &[]).await.unwrap();
    assert_eq!(
        ec.mark_tag("zhangsan", "wmC", &[], &[])
            .await
            .unwrap_err()
            .kind(),
        &Kind::Invalid
    );
    let groups = ec.get_corp_tag_list(&[], &[]).await.unwrap();
    assert_eq!(
        (
            groups[0].group_name.as_str(),
            groups[0].tag[0].name.as_str()
        ),
        ("客户等级", "VIP")
    );
    assert_eq!(
        ec.get_follow_user_list().await.unwrap(),
        ["zhangsan", "lisi"]
    );
    let (chats, cursor) = ec.groupchat_list(&["zhangsan"], None, 100).await.unwrap();
    assert_eq!((chats, cursor.as_str()), (vec!["wr1".to_owned()], ""));
    let chat = ec.groupchat_get("wr1").await.unwrap();
    assert_eq!(
        (
            chat.name.as_str(),
            chat.member_list.len(),
            chat.member_list[1].kind
        ),
        ("VIP 群", 2, 2)
    );
    let t = MsgTemplate::to_customers(["wmA", "wmX"])
        .text("双十一")
        .attachment(Attachment::link("活动", "https://u"));
    let sent = ec.add_msg_template(&t).await.unwrap();
    assert_eq!(
        (sent.fail_list, sent.msgid.as_str()),
        (vec!["wmX".to_owned()], "MSG")
    );

    let posts = fake.posts.lock().unwrap().clone();
    let body = |path: &str| {
        posts
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
            .unwrap()
    };
    assert_eq!(
        body("add_contact_way"),
        json!({"type": 1, "scene": 2, "state": "shop_qr_1", "user": ["zhangsan"]})
    );
    assert_eq!(
        body("update_contact_way"),
        json!({"config_id": "CFG", "state": "s2", "user": ["zhangsan"]})
    );
    assert_eq!(
        body("mark_tag"),
        json!({"userid": "zhangsan", "external_userid": "wmC", "add_tag": ["T1"], "remove_tag": []})
    );
    assert_eq!(
        body("groupchat/list"),
        json!({"status_filter": 0, "limit": 100, "owner_filter": {"userid_list": ["zhangsan"]}})
    );
    assert_eq!(
        body("add_msg_template")["attachments"][0]["msgtype"],
        "link"
    );
}

#[tokio::test]
async fn robots_upload_files_and_voices_only() {
    let (base, fake) = serve().await;
    let robot = wecom_sdk_client::WebhookClient::new("KEY").base_url(&base);
    let uploaded = robot
        .upload_media(MediaType::File, "手册.pdf", vec![1u8; 2048])
        .await
        .unwrap();
    assert_eq!(uploaded.media_id, "MEDIA_1");
    let (query, part, file, len) = fake.uploads.lock().unwrap()[0].clone();
    assert_eq!(
        query,
        [
            ("key".to_owned(), "KEY".to_owned()),
            ("type".to_owned(), "file".to_owned())
        ]
    );
    assert_eq!(
        (part.as_str(), file.as_str(), len),
        ("media", "手册.pdf", 2048)
    );
    let err = robot
        .upload_media(MediaType::Image, "a.png", vec![0u8; 100])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &Kind::Invalid);
    let err = robot
        .upload_media(MediaType::Voice, "a.amr", vec![0u8; (2 << 20) + 1])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &Kind::Invalid);
    let err = robot
        .upload_media(MediaType::File, "tiny.txt", vec![0u8; 3])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &Kind::Invalid);
    assert_eq!(
        fake.uploads.lock().unwrap().len(),
        1,
        "refused uploads were not sent"
    );
}
