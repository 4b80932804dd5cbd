//! The fake WeCom API over real sockets, driven with plain reqwest (no code shared with
//! `wecom-sdk-client`): every endpoint, every validation code, every fault.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::too_many_lines,
    reason = "tests"
)]

use std::time::Duration;

use serde_json::{Value, json};
use wecom_sdk_sim::{FakeConfig, FakeWeCom, Fault};

struct Api {
    fake: FakeWeCom,
    http: reqwest::Client,
    token: std::sync::Mutex<String>,
}

impl Api {
    async fn start() -> Self {
        let config = FakeConfig::new("wwcorp")
            .secret("app-secret")
            .secret("kf-secret")
            .agent(1_000_002)
            .webhook_key("robot-key-1")
            .kf_account("wkShop")
            .staff("zhangsan", "张三")
            .staff("lisi", "李四")
            .customer("zhangsan", "wmCustomer1", "王女士")
            .customer("lisi", "wmCustomer2", "赵先生")
            .tag_group("etGroup", "等级", &[("etVip", "VIP"), ("etNew", "新客")])
            .group_chat(
                "wrChat1",
                "老客户群",
                "zhangsan",
                &["zhangsan", "wmCustomer1"],
            )
            .group_chat("wrChat2", "新客户群", "lisi", &["lisi", "wmCustomer2"]);
        let fake = FakeWeCom::start(config).await.expect("starts");
        // reqwest is built without a default crypto provider (the workspace uses ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let api = Self {
            fake,
            http,
            token: std::sync::Mutex::new(String::new()),
        };
        api.refresh().await;
        api
    }

    async fn refresh(&self) {
        let v = self
            .get("/cgi-bin/gettoken?corpid=wwcorp&corpsecret=app-secret")
            .await;
        v["access_token"]
            .as_str()
            .expect("token")
            .clone_into(&mut self.token.lock().unwrap());
    }

    fn token(&self) -> String {
        self.token.lock().unwrap().clone()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.fake.base_url())
    }

    async fn get(&self, path_and_query: &str) -> Value {
        answer(self.http.get(self.url(path_and_query))).await
    }

    async fn post_raw(&self, path: &str, body: &str) -> Value {
        let sep = if path.contains('?') { '&' } else { '?' };
        answer(
            self.http
                .post(self.url(&format!("{path}{sep}access_token={}", self.token())))
                .body(body.to_owned()),
        )
        .await
    }

    /// POSTs with exactly the query given (no token added).
    async fn post_as(&self, path_and_query: &str, body: &Value) -> Value {
        answer(
            self.http
                .post(self.url(path_and_query))
                .body(body.to_string()),
        )
        .await
    }

    async fn post(&self, path: &str, body: &Value) -> Value {
        self.post_raw(path, &body.to_string()).await
    }

    async fn upload(&self, path_and_query: &str, filename: &str, bytes: Vec<u8>) -> Value {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(filename.to_owned())
            .mime_str("application/octet-stream")
            .unwrap();
        let form = reqwest::multipart::Form::new().part("media", part);
        answer(self.http.post(self.url(path_and_query)).multipart(form)).await
    }
}

/// Sends `request` and reads WeCom's JSON answer.
async fn answer(request: reqwest::RequestBuilder) -> Value {
    request
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json")
}

fn code(v: &Value) -> i64 {
    v["errcode"].as_i64().expect("errcode")
}

#[tokio::test]
async fn gettoken_and_token_validation() {
    let api = Api::start().await;
    let api = &api;
    assert!(api.token().len() > 50, "tokens are long, like WeCom's");
    let again = api
        .get("/cgi-bin/gettoken?corpid=wwcorp&corpsecret=app-secret")
        .await;
    assert_eq!(
        again["access_token"],
        api.token().as_str(),
        "same token while valid"
    );
    assert!(again["expires_in"].as_u64().unwrap() <= 7200);
    let other = api
        .get("/cgi-bin/gettoken?corpid=wwcorp&corpsecret=kf-secret")
        .await;
    assert_ne!(
        other["access_token"],
        api.token().as_str(),
        "one token per secret"
    );
    assert_eq!(
        code(
            &api.get("/cgi-bin/gettoken?corpid=wwcorp&corpsecret=wrong")
                .await
        ),
        40001
    );
    assert_eq!(
        code(
            &api.get("/cgi-bin/gettoken?corpid=other&corpsecret=app-secret")
                .await
        ),
        40013
    );

    let body = json!({"touser": "zhangsan", "msgtype": "text", "agentid": 1_000_002, "text": {"content": "hi"}});
    assert_eq!(
        code(&api.post_as("/cgi-bin/message/send", &body).await),
        41001
    );
    assert_eq!(
        code(
            &api.post_as("/cgi-bin/message/send?access_token=nope", &body)
                .await
        ),
        40014
    );
    assert_eq!(code(&api.post("/cgi-bin/message/send", &body).await), 0);

    // Expiry by time and by fault.
    api.fake.advance(Duration::from_secs(7201));
    assert_eq!(code(&api.post("/cgi-bin/message/send", &body).await), 42001);
    let fresh = api
        .get("/cgi-bin/gettoken?corpid=wwcorp&corpsecret=app-secret")
        .await;
    assert_ne!(
        fresh["access_token"],
        api.token().as_str(),
        "a new token after expiry"
    );
    assert_eq!(fresh["expires_in"], 7200);
    api.fake.inject(&Fault::ExpireTokens);
    let t = fresh["access_token"].as_str().unwrap();
    let v = api
        .post_as(&format!("/cgi-bin/message/send?access_token={t}"), &body)
        .await;
    assert_eq!(code(&v), 42001);

    // The record: every call, secrets redacted.
    let calls = api.fake.calls();
    assert!(calls.iter().all(|c| {
        c.query
            .iter()
            .all(|(k, v)| !matches!(k.as_str(), "access_token" | "corpsecret") || v == "<redacted>")
    }));
    assert!(
        !format!("{calls:?}").contains(&api.token()),
        "no token in the record"
    );
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.path == "/cgi-bin/gettoken")
            .count(),
        6
    );
}

#[tokio::test]
async fn message_send_validates_like_wecom() {
    let api = Api::start().await;
    let api = &api;
    let send = |body: Value| async move { api.post("/cgi-bin/message/send", &body).await };
    let ok = send(json!({"touser": "zhangsan|nobody", "msgtype": "text", "agentid": 1_000_002, "text": {"content": "您好"}})).await;
    assert_eq!(code(&ok), 0);
    assert_eq!(ok["invaliduser"], "nobody");
    let msgid = ok["msgid"].as_str().unwrap().to_owned();
    assert_eq!(
        code(&send(json!({"touser": "zhangsan", "msgtype": "text", "agentid": 1_000_002, "text": {"content": "x".repeat(2049)}})).await),
        45002
    );
    assert_eq!(
        code(&send(json!({"touser": "zhangsan", "msgtype": "text", "agentid": 1_000_002, "text": {"content": ""}})).await),
        44004
    );
    assert_eq!(
        code(&send(json!({"touser": "zhangsan", "msgtype": "text", "agentid": 9, "text": {"content": "a"}})).await),
        40056
    );
    assert_eq!(
        code(
            &send(json!({"touser": "zhangsan", "msgtype": "sticker", "agentid": 1_000_002})).await
        ),
        40008
    );
    assert_eq!(
        code(&send(json!({"touser": "ghost", "msgtype": "text", "agentid": 1_000_002, "text": {"content": "a"}})).await),
        81013
    );
    assert_eq!(
        code(&send(json!({"touser": "zhangsan", "msgtype": "news", "agentid": 1_000_002, "news": {"articles": []}})).await),
        45008
    );
    assert_eq!(
        code(&api.post_raw("/cgi-bin/message/send", "{not json").await),
        47001
    );
    let card = send(json!({"touser": "zhangsan", "msgtype": "template_card", "agentid": 1_000_002, "template_card": {"card_type": "text_notice"}})).await;
    assert!(card["response_code"].is_string());

    assert_eq!(
        code(
            &api.post("/cgi-bin/message/recall", &json!({"msgid": msgid}))
                .await
        ),
        0
    );
    assert_eq!(
        code(
            &api.post("/cgi-bin/message/recall", &json!({"msgid": "unknown"}))
                .await
        ),
        40058
    );
    assert_eq!(
        code(&api.post("/cgi-bin/message/update_template_card", &json!({"userids": ["zhangsan"], "agentid": 1_000_002, "response_code": "rc", "button": {"replace_name": "已处理"}})).await),
        0
    );
    assert_eq!(
        code(
            &api.post(
                "/cgi-bin/message/update_template_card",
                &json!({"agentid": 1_000_002, "button": {}})
            )
            .await
        ),
        40058
    );
    assert_eq!(
        code(&api.post("/cgi-bin/appchat/send", &json!({"chatid": "chat1", "msgtype": "markdown", "markdown": {"content": "**hi**"}})).await),
        0
    );
    assert_eq!(
        code(
            &api.post(
                "/cgi-bin/appchat/send",
                &json!({"msgtype": "text", "text": {"content": "a"}})
            )
            .await
        ),
        86001
    );

    let accepted = api.fake.sent_messages();
    let texts: Vec<(String, Option<String>)> =
        accepted.iter().map(|m| (m.to.clone(), m.text())).collect();
    assert_eq!(
        texts,
        vec![
            ("zhangsan|nobody".to_owned(), Some("您好".to_owned())),
            ("zhangsan".to_owned(), None),
            ("chat1".to_owned(), Some("**hi**".to_owned())),
        ]
    );
    let failed: Vec<i64> = api
        .fake
        .calls_to("/cgi-bin/message/send")
        .iter()
        .map(|c| c.errcode)
        .collect();
    assert_eq!(
        failed,
        vec![0, 45002, 44004, 40056, 40008, 81013, 45008, 47001, 0]
    );
}

#[tokio::test]
async fn faults_errcodes_latency_and_dropped_connections() {
    let api = Api::start().await;
    let api = &api;
    let body = json!({"touser": "zhangsan", "msgtype": "text", "agentid": 1_000_002, "text": {"content": "hi"}});
    api.fake.inject(&Fault::errcode(-1, 2));
    assert_eq!(code(&api.post("/cgi-bin/message/send", &body).await), -1);
    // gettoken is spared unless named.
    assert_eq!(
        code(
            &api.get("/cgi-bin/gettoken?corpid=wwcorp&corpsecret=app-secret")
                .await
        ),
        0
    );
    assert_eq!(code(&api.post("/cgi-bin/message/send", &body).await), -1);
    assert_eq!(code(&api.post("/cgi-bin/message/send", &body).await), 0);
    api.fake
        .inject(&Fault::errcode_on("/cgi-bin/kf/send_msg", 45009, 1));
    assert_eq!(code(&api.post("/cgi-bin/message/send", &body).await), 0);

    api.fake.inject(&Fault::latency(Duration::from_millis(200)));
    let started = std::time::Instant::now();
    assert_eq!(code(&api.post("/cgi-bin/message/send", &body).await), 0);
    assert!(started.elapsed() >= Duration::from_millis(200));
    api.fake.inject(&Fault::latency(Duration::ZERO));

    api.fake.inject(&Fault::DropConnections { count: 1 });
    let dropped = api
        .http
        .post(api.url(&format!(
            "/cgi-bin/message/send?access_token={}",
            api.token()
        )))
        .body(body.to_string())
        .send()
        .await;
    assert!(dropped.is_err(), "the connection closes unanswered");
    assert_eq!(code(&api.post("/cgi-bin/message/send", &body).await), 0);

    // The same faults over the control route, as `wecom-sim serve` users send them.
    let r = api
        .http
        .post(api.url("/__sim/faults"))
        .body(r#"{"fault":"errcode","errcode":45009,"count":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(code(&api.post("/cgi-bin/message/send", &body).await), 45009);
    let bad = api
        .http
        .post(api.url("/__sim/faults"))
        .body(r#"{"fault":"meteor"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    api.http
        .post(api.url("/__sim/faults"))
        .body(r#"{"fault":"expire_tokens"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(code(&api.post("/cgi-bin/message/send", &body).await), 42001);
    let calls: Vec<Value> = api
        .http
        .get(api.url("/__sim/calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(calls.len() >= 8);
    assert!(calls.iter().all(|c| c["at"].is_u64()));
    let messages: Vec<Value> = api
        .http
        .get(api.url("/__sim/messages"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        messages.len(),
        4,
        "the dropped request never reached the API"
    );
}

#[tokio::test]
async fn kf_sync_send_window_and_states() {
    let api = Api::start().await;
    let api = &api;
    let n1 = api.fake.kf_customer_says("wkShop", "wmCustomer1", "在吗");
    for i in 0..4 {
        api.fake
            .kf_customer_says("wkShop", "wmCustomer2", &format!("问题{i}"));
    }
    let sync = |cursor: &str, token: &str| {
        let body = json!({"open_kfid": "wkShop", "cursor": cursor, "token": token, "limit": 2});
        async move { api.post("/cgi-bin/kf/sync_msg", &body).await }
    };
    let page1 = sync("", &n1.token).await;
    assert_eq!(code(&page1), 0);
    assert_eq!(page1["has_more"], 1);
    assert_eq!(page1["msg_list"][0]["msgid"], n1.msgid.as_str());
    assert_eq!(page1["msg_list"][0]["origin"], 3);
    assert_eq!(page1["msg_list"][0]["text"]["content"], "在吗");
    let mut cursor = page1["next_cursor"].as_str().unwrap().to_owned();
    let mut seen = 2;
    loop {
        let page = sync(&cursor, "").await;
        seen += page["msg_list"].as_array().unwrap().len();
        cursor = page["next_cursor"].as_str().unwrap().to_owned();
        if page["has_more"] == 0 {
            break;
        }
    }
    assert_eq!(seen, 5);
    assert_eq!(code(&sync("", "forged").await), 95007);
    assert_eq!(code(&sync("garbage", "").await), 40058);
    assert_eq!(
        code(
            &api.post("/cgi-bin/kf/sync_msg", &json!({"open_kfid": "wkOther"}))
                .await
        ),
        95004
    );

    let reply = |user: &str, text: &str| {
        let body = json!({"touser": user, "open_kfid": "wkShop", "msgtype": "text", "text": {"content": text}});
        async move { api.post("/cgi-bin/kf/send_msg", &body).await }
    };
    for i in 0..5 {
        assert_eq!(code(&reply("wmCustomer1", &format!("回复{i}")).await), 0);
    }
    assert_eq!(code(&reply("wmCustomer1", "第六条").await), 95001);
    assert_eq!(code(&reply("wmNobody", "hi").await), 95002);
    assert_eq!(code(&reply("wmCustomer2", &"长".repeat(700)).await), 45002);
    api.fake.advance(Duration::from_secs(48 * 3600 + 1));
    api.refresh().await;
    assert_eq!(code(&reply("wmCustomer2", "还在吗").await), 95002);
    api.fake.kf_customer_says("wkShop", "wmCustomer2", "在");
    let with_id = json!({"touser": "wmCustomer2", "open_kfid": "wkShop", "msgid": "my-id_1", "msgtype": "text", "text": {"content": "ok"}});
    assert_eq!(
        api.post("/cgi-bin/kf/send_msg", &with_id).await["msgid"],
        "my-id_1"
    );
    assert_eq!(
        code(&api.post("/cgi-bin/kf/send_msg", &with_id).await),
        40058,
        "msgid reused"
    );

    // Welcome codes: once, within 20 s.
    let enter = api
        .fake
        .kf_enter_session("wkShop", "wmCustomer3", "shop_qr");
    let code_value = enter.welcome_code.clone().unwrap();
    let welcome = json!({"code": code_value, "msgtype": "text", "text": {"content": "欢迎光临"}});
    assert_eq!(
        code(&api.post("/cgi-bin/kf/send_msg_on_event", &welcome).await),
        0
    );
    assert_eq!(
        code(&api.post("/cgi-bin/kf/send_msg_on_event", &welcome).await),
        40058
    );

    // Session states: a human takes over, the bot may not send.
    let state = |s: u8, servicer: &str| {
        let body = json!({"open_kfid": "wkShop", "external_userid": "wmCustomer2", "service_state": s, "servicer_userid": servicer});
        async move { api.post("/cgi-bin/kf/service_state/trans", &body).await }
    };
    assert_eq!(code(&state(3, "").await), 95014);
    assert_eq!(code(&state(9, "").await), 95016);
    let taken = state(3, "lisi").await;
    assert!(taken["msg_code"].is_string());
    assert_eq!(
        api.fake.kf_service_state("wkShop", "wmCustomer2"),
        (3, "lisi".to_owned())
    );
    let got = api
        .post(
            "/cgi-bin/kf/service_state/get",
            &json!({"open_kfid": "wkShop", "external_userid": "wmCustomer2"}),
        )
        .await;
    assert_eq!(
        (
            got["service_state"].as_u64(),
            got["servicer_userid"].as_str()
        ),
        (Some(3), Some("lisi"))
    );
    let blocked = json!({"touser": "wmCustomer2", "open_kfid": "wkShop", "msgtype": "text", "text": {"content": "bot"}});
    assert_eq!(
        code(&api.post("/cgi-bin/kf/send_msg", &blocked).await),
        95018
    );
    let sent = api.fake.sent_messages();
    assert_eq!(
        sent.iter()
            .filter(|m| m.path == "/cgi-bin/kf/send_msg")
            .count(),
        6
    );
    assert_eq!(sent.last().unwrap().text().as_deref(), Some("欢迎光临"));
}

#[tokio::test]
async fn customer_contact_endpoints() {
    let api = Api::start().await;
    let api = &api;
    let follow = api
        .get(&format!(
            "/cgi-bin/externalcontact/get_follow_user_list?access_token={}",
            api.token()
        ))
        .await;
    assert_eq!(follow["follow_user"], json!(["zhangsan", "lisi"]));
    let list = api
        .get(&format!(
            "/cgi-bin/externalcontact/list?access_token={}&userid=zhangsan",
            api.token()
        ))
        .await;
    assert_eq!(list["external_userid"], json!(["wmCustomer1"]));
    let member = api
        .get(&format!(
            "/cgi-bin/user/get?access_token={}&userid=lisi",
            api.token()
        ))
        .await;
    assert_eq!(member["name"], "李四");
    assert_eq!(
        code(
            &api.get(&format!(
                "/cgi-bin/user/get?access_token={}&userid=ghost",
                api.token()
            ))
            .await
        ),
        60111
    );

    let mark =
        |body: Value| async move { api.post("/cgi-bin/externalcontact/mark_tag", &body).await };
    assert_eq!(
        code(&mark(json!({"userid": "zhangsan", "external_userid": "wmCustomer1", "add_tag": ["etVip"]})).await),
        0
    );
    assert_eq!(
        code(&mark(json!({"userid": "zhangsan", "external_userid": "wmCustomer1", "add_tag": ["etNope"]})).await),
        40068
    );
    assert_eq!(
        code(&mark(json!({"userid": "zhangsan", "external_userid": "wmCustomer2", "add_tag": ["etVip"]})).await),
        40096
    );
    assert_eq!(
        code(&mark(json!({"userid": "zhangsan", "external_userid": "wmCustomer1"})).await),
        40058
    );
    let customer = api
        .get(&format!(
            "/cgi-bin/externalcontact/get?access_token={}&external_userid=wmCustomer1",
            api.token()
        ))
        .await;
    assert_eq!(customer["follow_user"][0]["tags"][0]["tag_name"], "VIP");
    assert_eq!(api.fake.customers()[0].tags, vec!["etVip".to_owned()]);

    let tags = api
        .post(
            "/cgi-bin/externalcontact/get_corp_tag_list",
            &json!({"tag_id": ["etNew"]}),
        )
        .await;
    assert_eq!(tags["tag_group"][0]["tag"].as_array().unwrap().len(), 1);
    assert_eq!(tags["tag_group"][0]["tag"][0]["name"], "新客");

    let way = api
        .post(
            "/cgi-bin/externalcontact/add_contact_way",
            &json!({"type": 1, "scene": 2, "user": ["zhangsan"], "state": "shop-door"}),
        )
        .await;
    let config_id = way["config_id"].as_str().unwrap().to_owned();
    assert!(
        way["qr_code"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert_eq!(
        code(
            &api.post(
                "/cgi-bin/externalcontact/add_contact_way",
                &json!({"type": 1, "scene": 2, "user": ["zhangsan", "lisi"]})
            )
            .await
        ),
        40058
    );
    assert_eq!(
        code(
            &api.post(
                "/cgi-bin/externalcontact/update_contact_way",
                &json!({"config_id": config_id, "remark": "门店"})
            )
            .await
        ),
        0
    );
    let got = api
        .post(
            "/cgi-bin/externalcontact/get_contact_way",
            &json!({"config_id": config_id}),
        )
        .await;
    assert_eq!(
        (
            got["contact_way"]["remark"].as_str(),
            got["contact_way"]["state"].as_str()
        ),
        (Some("门店"), Some("shop-door"))
    );
    assert_eq!(
        code(
            &api.post(
                "/cgi-bin/externalcontact/del_contact_way",
                &json!({"config_id": config_id})
            )
            .await
        ),
        0
    );
    assert_eq!(
        code(
            &api.post(
                "/cgi-bin/externalcontact/get_contact_way",
                &json!({"config_id": config_id})
            )
            .await
        ),
        40058
    );

    let page = api
        .post(
            "/cgi-bin/externalcontact/groupchat/list",
            &json!({"limit": 1}),
        )
        .await;
    assert_eq!(page["group_chat_list"][0]["chat_id"], "wrChat1");
    assert_eq!(page["next_cursor"], "1");
    let page = api
        .post(
            "/cgi-bin/externalcontact/groupchat/list",
            &json!({"limit": 1, "cursor": "1"}),
        )
        .await;
    assert_eq!(
        (
            page["group_chat_list"][0]["chat_id"].as_str(),
            page["next_cursor"].as_str()
        ),
        (Some("wrChat2"), Some(""))
    );
    let owned = api
        .post(
            "/cgi-bin/externalcontact/groupchat/list",
            &json!({"limit": 10, "owner_filter": {"userid_list": ["lisi"]}}),
        )
        .await;
    assert_eq!(owned["group_chat_list"].as_array().unwrap().len(), 1);
    assert_eq!(
        code(
            &api.post(
                "/cgi-bin/externalcontact/groupchat/list",
                &json!({"limit": 0})
            )
            .await
        ),
        40058
    );
    let chat = api
        .post(
            "/cgi-bin/externalcontact/groupchat/get",
            &json!({"chat_id": "wrChat1"}),
        )
        .await;
    assert_eq!(chat["group_chat"]["member_list"][1]["type"], 2);
    assert_eq!(
        code(
            &api.post(
                "/cgi-bin/externalcontact/groupchat/get",
                &json!({"chat_id": "wrNone"})
            )
            .await
        ),
        40050
    );

    let task = api
        .post("/cgi-bin/externalcontact/add_msg_template", &json!({"external_userid": ["wmCustomer1", "wmGhost"], "text": {"content": "双十二大促"}}))
        .await;
    assert_eq!(task["fail_list"], json!(["wmGhost"]));
    assert_eq!(
        code(
            &api.post(
                "/cgi-bin/externalcontact/add_msg_template",
                &json!({"external_userid": ["wmCustomer1"]})
            )
            .await
        ),
        44004
    );
    assert_eq!(
        code(
            &api.post(
                "/cgi-bin/externalcontact/add_msg_template",
                &json!({"chat_type": "group", "text": {"content": "x"}})
            )
            .await
        ),
        40058
    );
}

#[tokio::test]
async fn media_and_robots() {
    let api = Api::start().await;
    let api = &api;
    let t = api.token();
    let up = api
        .upload(
            &format!("/cgi-bin/media/upload?access_token={t}&type=file"),
            "价目表.pdf",
            b"%PDF-1.7 price list".to_vec(),
        )
        .await;
    assert_eq!(code(&up), 0);
    assert!(
        up["created_at"].is_string(),
        "created_at is a string, as WeCom sends it"
    );
    let media_id = up["media_id"].as_str().unwrap();
    let got = api
        .http
        .get(api.url(&format!(
            "/cgi-bin/media/get?access_token={t}&media_id={media_id}"
        )))
        .send()
        .await
        .unwrap();
    assert!(
        got.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"%PDF-1.7 price list");
    assert_eq!(
        code(
            &api.get(&format!(
                "/cgi-bin/media/get?access_token={t}&media_id=nope"
            ))
            .await
        ),
        40007
    );
    let cases = [
        ("type=sticker", "a.png", 100, 40004),
        ("type=image", "a.gif", 100, 40005),
        ("type=file", "a.txt", 5, 40006),
        ("type=image", "a.png", (10 << 20) + 1, 40009),
        ("type=video", "a.mp4", (10 << 20) + 1, 40011),
        ("type=voice", "a.amr", (2 << 20) + 1, 40006),
    ];
    for (query, name, size, expected) in cases {
        let v = api
            .upload(
                &format!("/cgi-bin/media/upload?access_token={t}&{query}"),
                name,
                vec![b'x'; size],
            )
            .await;
        assert_eq!(code(&v), expected, "{query} {name} {size}");
    }
    let img = api
        .upload(
            &format!("/cgi-bin/media/uploadimg?access_token={t}"),
            "logo.png",
            vec![1; 100],
        )
        .await;
    let url = img["url"].as_str().unwrap();
    assert_eq!(
        api.http
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .len(),
        100
    );

    // Robots: the key is the credential; 20 a minute, then 45009.
    let robot = |key: &str, content: &str| {
        let url = api.url(&format!("/cgi-bin/webhook/send?key={key}"));
        let body = json!({"msgtype": "text", "text": {"content": content}});
        let http = api.http.clone();
        async move {
            http.post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(code(&robot("wrong-key", "hi").await), 93000);
    assert_eq!(code(&robot("robot-key-1", &"x".repeat(2049)).await), 45002);
    for i in 0..20 {
        assert_eq!(
            code(&robot("robot-key-1", &format!("告警 {i}")).await),
            0,
            "message {i}"
        );
    }
    assert_eq!(code(&robot("robot-key-1", "21st").await), 45009);
    api.fake.advance(Duration::from_secs(61));
    assert_eq!(code(&robot("robot-key-1", "a minute later").await), 0);
    let robot_upload = api
        .upload(
            "/cgi-bin/webhook/upload_media?key=robot-key-1&type=file",
            "report.csv",
            b"a,b\n1,2\n".to_vec(),
        )
        .await;
    assert!(robot_upload["media_id"].is_string());
    assert_eq!(
        code(
            &api.upload(
                "/cgi-bin/webhook/upload_media?key=robot-key-1&type=image",
                "a.png",
                vec![1; 10]
            )
            .await
        ),
        40004
    );
    let robot_calls = api.fake.calls_to("/cgi-bin/webhook/send");
    assert!(
        robot_calls
            .iter()
            .all(|c| c.query[0].1 == "robo…" || c.query[0].1 == "wron…")
    );
    assert_eq!(
        api.fake
            .sent_messages()
            .iter()
            .filter(|m| m.to == "robot:robo…")
            .count(),
        21
    );
    assert_eq!(
        api.http
            .get(api.url("/cgi-bin/not/an/endpoint"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}
