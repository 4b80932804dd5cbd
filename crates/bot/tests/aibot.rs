//! The AI-bot channel (智能机器人) end to end over real sockets: the bot on 127.0.0.1,
//! the simulator playing WeCom's AI-bot side — callbacks, stream polls, `response_url`,
//! encrypted media, and the long connection with a drop mid-stream. The two-instance
//! test shares the real Redis (`REDIS_URL`) and skips with one line without one.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use wecom_sdk_bot::{
    AiBot, AiBotError, Bot, BotBuilder, Context, EventRecord, EventSink, Flow, Handler,
    HandlerError, MediaError, TextStream,
};
use wecom_sdk_matcher::{Engine, RuleSet};
use wecom_sdk_message::aibot::{AiBotBody, MixedItem};
use wecom_sdk_message::send::{Button, CardAction, TemplateCard};
use wecom_sdk_sim::{AiBotCaller, AiBotInbound, AiBotSimConfig, FakeAiBot, MixedPart};

use support::{AES_KEY, TOKEN, eventually, serve_router};

const BOT_ID: &str = "aib_test_bot";
const BOT_SECRET: &str = "aibot-test-secret";

const RULES: &str = r#"
timezone = "Asia/Shanghai"

[[rules]]
id = "hours"
keywords = [{ exact = "营业时间" }]
reply = "我们 9:00–21:00 营业。"

[[rules]]
id = "welcome"
event = "enter_chat"
reply = "您好，我是小助手：@我 发快递单号查物流。"

[[rules]]
id = "fallback"
fallback = true
reply = "收到！"
"#;

/// The parcel lookup streams its answer; the menu is a card; a click updates it.
#[derive(Debug, Default)]
struct Desk {
    lookups: AtomicUsize,
    /// Milliseconds between stream pieces.
    pace_ms: u64,
}

const TRACK: [&str; 4] = ["快递 SF123：", "已揽收；", "运输中；", "已签收。"];

#[async_trait]
impl Handler for Desk {
    async fn handle(&self, cx: &Context<'_>) -> Result<Flow, HandlerError> {
        let text = cx.incoming.text();
        if let Some(rest) = text.strip_prefix("echo ") {
            return Ok(Flow::text(format!("[{rest}]")));
        }
        if text.starts_with("查快递") {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            let (writer, stream) = TextStream::channel(8);
            let pace = Duration::from_millis(self.pace_ms);
            tokio::spawn(async move {
                for piece in TRACK {
                    writer.text(piece).await;
                    tokio::time::sleep(pace).await;
                }
            });
            return Ok(Flow::Stream(stream));
        }
        if text == "菜单" {
            let card = TemplateCard::button_interaction(
                "选择服务",
                "task_menu",
                vec![
                    Button::new("查订单", "order"),
                    Button::new("找人工", "human"),
                ],
            );
            return Ok(Flow::Card(Box::new(card)));
        }
        if let Some(("template_card_event", key)) = cx.incoming.event_name_key() {
            let card = TemplateCard::text_notice(
                format!("已选择：{key}"),
                CardAction::url("https://example.com/orders"),
            );
            return Ok(Flow::Card(Box::new(card)));
        }
        if let (Some(message), Some(media)) = (cx.aibot, cx.media) {
            let image = match &message.body {
                AiBotBody::Image(m) => Some(m),
                AiBotBody::Mixed { items } => items.iter().find_map(|i| match i {
                    MixedItem::Image(m) => Some(m),
                    _ => None,
                }),
                _ => None,
            };
            if let Some(image) = image {
                return Ok(Flow::text(
                    match media.fetch(image, message.create_time).await {
                        Ok(bytes) => format!("图片 {} 字节", bytes.len()),
                        Err(MediaError::Expired { .. }) => "图片已过期，请重新发送".to_owned(),
                        Err(e) => format!("图片读取失败：{e}"),
                    },
                ));
            }
        }
        Ok(Flow::Continue)
    }
}

/// Event records kept in memory.
#[derive(Debug, Default)]
struct Records(std::sync::Mutex<Vec<EventRecord>>);

#[async_trait]
impl EventSink for Records {
    fn record(&self, record: &EventRecord) {
        self.0.lock().unwrap().push(record.clone());
    }

    async fn flush(&self) {}
}

fn builder(desk: &Arc<Desk>, ai: AiBot) -> BotBuilder {
    Bot::builder()
        .engine(Engine::new(RuleSet::from_toml_str(RULES).unwrap()))
        .before(desk.clone())
        .ai_bot(ai.stream_flush(Duration::from_millis(40)))
}

async fn wecom() -> FakeAiBot {
    FakeAiBot::start(AiBotSimConfig::new(BOT_ID, BOT_SECRET))
        .await
        .unwrap()
}

/// A callback-mode bot served on 127.0.0.1 and WeCom's caller for it.
async fn callback_bot(
    wecom: &FakeAiBot,
    desk: &Arc<Desk>,
    ai: AiBot,
) -> (support::Served, AiBotCaller) {
    let bot = builder(desk, ai).build().unwrap();
    let served = serve_router(bot.clone(), bot.router(), "/wecom/aibot").await;
    let caller = wecom
        .caller(&served.url, TOKEN, AES_KEY)
        .unwrap()
        .poll_every(Duration::from_millis(30))
        .poll_for(Duration::from_secs(5));
    (served, caller)
}

fn msgtype(reply: Option<&Value>) -> &str {
    reply
        .and_then(|r| r.get("msgtype").or_else(|| r.get("response_type")))
        .and_then(Value::as_str)
        .unwrap_or("<none>")
}

#[tokio::test]
async fn a_group_message_is_answered_after_its_mention_is_taken_out() {
    let wecom = wecom().await;
    let desk = Arc::new(Desk::default());
    let (served, caller) = callback_bot(&wecom, &desk, AiBot::callback(TOKEN, AES_KEY)).await;
    caller.verify_url().await.unwrap();

    // An exact keyword: it only fires on the text without "@小助手\u{2005}".
    let talk = caller
        .converse(
            &AiBotInbound::text("zhangsan", "营业时间")
                .group("wrGroup1")
                .mention("小助手"),
        )
        .await;
    assert_eq!(msgtype(talk.first()), "stream");
    assert!(talk.finished, "a whole answer finishes in the first reply");
    assert_eq!(talk.text(), "我们 9:00–21:00 营业。");
    assert_eq!(talk.polls(), 0);

    let talk = caller
        .converse(
            &AiBotInbound::text("zhangsan", "echo 在吗 @小王 a@b.com")
                .group("wrGroup1")
                .mention("小助手"),
        )
        .await;
    assert_eq!(talk.text(), "[在吗 a@b.com]");

    // Voice arrives transcribed; mixed messages are matched on their text items.
    let talk = caller
        .converse(&AiBotInbound::voice("lisi", "营业时间"))
        .await;
    assert_eq!(talk.text(), "我们 9:00–21:00 营业。");
    let mixed = AiBotInbound::mixed(
        "lisi",
        &[
            MixedPart::Text("echo 这是截图"),
            MixedPart::Image("http://127.0.0.1:9/none"),
        ],
    );
    assert_eq!(caller.converse(&mixed).await.text(), "[这是截图]");
    assert_eq!(served.bot.metrics().ai_bot("answered"), 4);
    assert_eq!(served.bot.metrics().rule_hits("hours"), 2);
}

#[tokio::test]
async fn enter_chat_gets_the_welcome_and_a_redelivery_the_same_reply() {
    let wecom = wecom().await;
    let desk = Arc::new(Desk::default());
    let (served, caller) = callback_bot(&wecom, &desk, AiBot::callback(TOKEN, AES_KEY)).await;
    let talk = caller.converse(&AiBotInbound::enter_chat("zhangsan")).await;
    let first = talk.first().unwrap();
    assert_eq!(first["msgtype"], "text");
    assert_eq!(
        first["text"]["content"],
        "您好，我是小助手：@我 发快递单号查物流。"
    );

    // WeCom re-delivers a message it got no answer to: the same reply, decided once.
    let again = AiBotInbound::text("zhangsan", "查快递 SF123").msgid("redelivered-1");
    let (_, _, one) = caller.send(&again).await;
    let (_, _, two) = caller.send(&again).await;
    assert_eq!(one, two);
    assert_eq!(desk.lookups.load(Ordering::SeqCst), 1);
    assert_eq!(served.bot.metrics().ai_bot("redelivered"), 1);
}

#[tokio::test]
async fn a_streamed_answer_is_polled_to_completion_with_cumulative_text() {
    let wecom = wecom().await;
    let desk = Arc::new(Desk {
        pace_ms: 60,
        ..Desk::default()
    });
    let (served, caller) = callback_bot(&wecom, &desk, AiBot::callback(TOKEN, AES_KEY)).await;
    let talk = caller
        .converse(
            &AiBotInbound::text("zhangsan", "查快递 SF123")
                .group("wrGroup1")
                .mention("小助手"),
        )
        .await;
    assert!(talk.finished, "{talk:?}");
    assert_eq!(talk.text(), TRACK.concat());
    assert_eq!(talk.first().unwrap()["stream"]["finish"], false);
    assert!(talk.polls() >= 2, "polled {} times", talk.polls());
    // Each state is the whole text so far: every one a prefix of the next.
    let contents: Vec<String> = talk
        .replies
        .iter()
        .flatten()
        .map(|r| r["stream"]["content"].as_str().unwrap().to_owned())
        .collect();
    for pair in contents.windows(2) {
        assert!(pair[1].starts_with(&pair[0]), "{contents:?}");
    }
    let id = talk.stream_id().unwrap();
    assert!(
        talk.replies
            .iter()
            .flatten()
            .all(|r| r["stream"]["id"] == id)
    );
    assert_eq!(desk.lookups.load(Ordering::SeqCst), 1);
    assert!(served.bot.metrics().ai_bot("stream_polled") >= 2);
    // A poll for a stream nobody knows gets an empty answer.
    let (_, _, unknown) = caller
        .send(&AiBotInbound::stream_poll("zhangsan", "nope"))
        .await;
    assert_eq!(unknown, None);
}

#[tokio::test]
async fn a_card_is_sent_and_its_click_updates_it_under_the_same_task_id() {
    let wecom = wecom().await;
    let desk = Arc::new(Desk::default());
    let (served, caller) = callback_bot(&wecom, &desk, AiBot::callback(TOKEN, AES_KEY)).await;
    let talk = caller
        .converse(&AiBotInbound::text("zhangsan", "菜单"))
        .await;
    let card = talk.first().unwrap();
    assert_eq!(card["msgtype"], "template_card");
    assert_eq!(card["template_card"]["task_id"], "task_menu");
    assert_eq!(card["template_card"]["button_list"][0]["key"], "order");

    let (_, _, update) = caller
        .send(&AiBotInbound::card_click("zhangsan", "order", "task_menu"))
        .await;
    let update = update.unwrap();
    assert_eq!(update["response_type"], "update_template_card");
    assert_eq!(update["template_card"]["task_id"], "task_menu");
    assert_eq!(
        update["template_card"]["main_title"]["title"],
        "已选择：order"
    );
    assert_eq!(update["userids"][0], "zhangsan");
    assert_eq!(served.bot.metrics().ai_bot("card_updated"), 1);
}

#[tokio::test]
async fn feedback_is_recorded_and_answered_with_nothing() {
    let wecom = wecom().await;
    let desk = Arc::new(Desk::default());
    let records = Arc::new(Records::default());
    let bot = builder(&desk, AiBot::callback(TOKEN, AES_KEY))
        .event_sink(records.clone())
        .build()
        .unwrap();
    let served = serve_router(bot.clone(), bot.router(), "/wecom/aibot").await;
    let caller = wecom.caller(&served.url, TOKEN, AES_KEY).unwrap();
    let (_, _, reply) = caller
        .send(&AiBotInbound::feedback("zhangsan", "fb-1", 2))
        .await;
    assert_eq!(reply, None);
    caller
        .send(&AiBotInbound::text("zhangsan", "营业时间").group("wrGroup1"))
        .await;
    assert!(eventually(|| records.0.lock().unwrap().len() == 2).await);
    let records = records.0.lock().unwrap();
    let feedback = &records[0];
    assert_eq!(feedback.event.as_deref(), Some("feedback_event"));
    assert_eq!(feedback.outcome, "feedback");
    assert!(feedback.text.as_deref().unwrap().contains("fb-1"));
    let answered = &records[1];
    assert_eq!(answered.rule.as_deref(), Some("hours"));
    assert_eq!(answered.chat.as_deref(), Some("wrGroup1"));
    assert_eq!(format!("{:?}", answered.channel), "AiBot");
    assert_eq!(answered.delivery, "passive");
    assert_eq!(answered.reply.as_deref(), Some("我们 9:00–21:00 营业。"));
    // Feedback is no unanswered question.
    let metrics = served.bot.metrics();
    assert_eq!(
        (metrics.ai_bot("feedback"), metrics.ai_bot("unanswered")),
        (1, 0)
    );
}

#[tokio::test]
async fn an_answer_outliving_the_stream_window_goes_through_response_url() {
    let wecom = wecom().await;
    let desk = Arc::new(Desk {
        pace_ms: 250,
        ..Desk::default()
    });
    let ai = AiBot::callback(TOKEN, AES_KEY).stream_window(Duration::from_millis(300));
    let (served, caller) = callback_bot(&wecom, &desk, ai).await;
    // WeCom stops polling when its window closes.
    let caller = caller.poll_for(Duration::from_millis(300));
    let talk = caller
        .converse(&AiBotInbound::text("zhangsan", "查快递 SF123"))
        .await;
    assert!(!talk.finished);
    assert!(eventually(|| !wecom.response_posts().is_empty()).await);
    let posts = wecom.response_posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].msgid, talk.inbound.msgid);
    assert_eq!(posts[0].text().unwrap(), TRACK.concat());
    // Counted once WeCom's answer to the post is read.
    assert!(eventually(|| served.bot.metrics().ai_bot("response_url_sent") == 1).await);
}

#[tokio::test]
async fn media_is_downloaded_and_decrypted_and_an_expired_url_is_a_typed_error() {
    let wecom = wecom().await;
    let desk = Arc::new(Desk::default());
    let (_served, caller) = callback_bot(&wecom, &desk, AiBot::callback(TOKEN, AES_KEY)).await;
    let png = vec![0x89_u8; 3000];
    // Callback mode: encrypted with the bot's EncodingAESKey.
    let url = wecom.host_media(&png, AES_KEY).unwrap();
    let talk = caller
        .converse(&AiBotInbound::image("zhangsan", &url, None))
        .await;
    assert_eq!(talk.text(), "图片 3000 字节");
    let mixed = AiBotInbound::mixed(
        "zhangsan",
        &[MixedPart::Text("看图"), MixedPart::Image(&url)],
    );
    assert_eq!(caller.converse(&mixed).await.text(), "图片 3000 字节");
    // Sent more than five minutes ago: refused before any download.
    let old = AiBotInbound::image("zhangsan", &url, None).at(wecom.now_unix() - 400);
    assert_eq!(caller.converse(&old).await.text(), "图片已过期，请重新发送");
    // WeCom's URL expired (403).
    wecom.advance(Duration::from_secs(6 * 60));
    let late = AiBotInbound::image("zhangsan", &url, None).at(wecom.now_unix() - 360 + 10);
    assert_eq!(
        caller.converse(&late).await.text(),
        "图片已过期，请重新发送"
    );
}

#[tokio::test]
async fn an_oversize_file_is_refused_as_too_large() {
    let wecom = wecom().await;
    let desk = Arc::new(Desk::default());
    let (_served, caller) = callback_bot(
        &wecom,
        &desk,
        AiBot::callback(TOKEN, AES_KEY).max_media(1000),
    )
    .await;
    let url = wecom.host_media(&[7_u8; 5000], AES_KEY).unwrap();
    let talk = caller
        .converse(&AiBotInbound::image("zhangsan", &url, None))
        .await;
    assert_eq!(
        talk.text(),
        "图片读取失败：the file is over the 1000-byte limit"
    );
}

/// A long-connection bot against `wecom`, running on a task.
fn ws_bot(wecom: &FakeAiBot, desk: &Arc<Desk>, secret: &str) -> Bot {
    let ai = AiBot::websocket(BOT_ID, secret)
        .url(wecom.ws_url())
        .heartbeat(Duration::from_secs(1))
        .reconnect(Duration::from_millis(50), Duration::from_millis(200));
    builder(desk, ai).build().unwrap()
}

#[tokio::test]
async fn the_long_connection_answers_and_streams() {
    let wecom = wecom().await;
    let desk = Arc::new(Desk {
        pace_ms: 30,
        ..Desk::default()
    });
    let bot = ws_bot(&wecom, &desk, BOT_SECRET);
    let run = tokio::spawn(bot.clone().run_ai_bot_owned());
    assert!(wecom.wait_subscriptions(1, Duration::from_secs(5)).await);

    let id = wecom
        .ws_send(
            &AiBotInbound::text("zhangsan", "营业时间")
                .group("wrG")
                .mention("小助手"),
        )
        .await
        .unwrap();
    let answer = wecom.ws_answer(&id, Duration::from_secs(5)).await.unwrap();
    assert_eq!(answer.content, "我们 9:00–21:00 营业。");
    assert_eq!(answer.finished, 1);

    let id = wecom
        .ws_send(&AiBotInbound::enter_chat("lisi"))
        .await
        .unwrap();
    let answer = wecom.ws_answer(&id, Duration::from_secs(5)).await.unwrap();
    assert_eq!(answer.content, "您好，我是小助手：@我 发快递单号查物流。");

    let id = wecom
        .ws_send(&AiBotInbound::text("zhangsan", "查快递 SF123"))
        .await
        .unwrap();
    let answer = wecom.ws_answer(&id, Duration::from_secs(5)).await.unwrap();
    assert_eq!(answer.content, TRACK.concat());
    assert_eq!((answer.finished, answer.after_finish), (1, 0));
    assert!(
        answer.frames.len() >= 2,
        "streamed in {} frames",
        answer.frames.len()
    );
    bot.shutdown().await;
    assert!(run.await.unwrap().is_ok());
}

#[tokio::test]
async fn a_dropped_connection_mid_stream_loses_nothing_and_answers_once() {
    let wecom = wecom().await;
    let desk = Arc::new(Desk {
        pace_ms: 150,
        ..Desk::default()
    });
    let bot = ws_bot(&wecom, &desk, BOT_SECRET);
    let _run = tokio::spawn(bot.clone().run_ai_bot_owned());
    assert!(wecom.wait_subscriptions(1, Duration::from_secs(5)).await);
    let id = wecom
        .ws_send(&AiBotInbound::text("zhangsan", "查快递 SF123").group("wrG"))
        .await
        .unwrap();
    // The first pieces are out; the connection goes down in the middle.
    tokio::time::sleep(Duration::from_millis(250)).await;
    wecom.ws_drop();
    assert!(wecom.wait_subscriptions(2, Duration::from_secs(5)).await);
    let answer = wecom.ws_answer(&id, Duration::from_secs(8)).await.unwrap();
    assert_eq!(answer.content, TRACK.concat(), "{answer:?}");
    assert_eq!(answer.finished, 1, "answered once: {answer:?}");
    assert_eq!(answer.after_finish, 0);
    assert_eq!(
        answer.deliveries, 2,
        "WeCom delivered it again after the reconnect"
    );
    assert_eq!(desk.lookups.load(Ordering::SeqCst), 1, "decided once");
    assert!(bot.metrics().ai_bot("ws_reconnect") >= 1);
    bot.shutdown().await;
}

#[tokio::test]
async fn a_refused_secret_stops_the_long_connection_with_a_typed_error() {
    let wecom = wecom().await;
    let desk = Arc::new(Desk::default());
    let bot = ws_bot(&wecom, &desk, "wrong-secret");
    let err = tokio::time::timeout(Duration::from_secs(5), bot.run_ai_bot())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(err, AiBotError::Subscribe { errcode: 40001, .. }),
        "{err}"
    );
    // A bot without the long connection says so.
    let callback_only = builder(&desk, AiBot::callback(TOKEN, AES_KEY))
        .build()
        .unwrap();
    assert!(matches!(
        callback_only.run_ai_bot().await,
        Err(AiBotError::NotConfigured)
    ));
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_stream_produced_on_one_instance_is_polled_on_another_through_redis() {
    use wecom_sdk_bot::{RedisDedupStore, RedisStreamStore};
    let url = support::redis_url();
    let prefix = format!("wecom-aibot-test:{}:", std::process::id());
    let streams = match RedisStreamStore::connect(&url, prefix.clone()).await {
        Ok(s) => Arc::new(s),
        Err(e) => {
            support::redis_skipped(&e);
            return;
        }
    };
    let dedup = Arc::new(
        RedisDedupStore::connect(&url, prefix.clone())
            .await
            .unwrap(),
    );
    let wecom = wecom().await;
    let desk = Arc::new(Desk {
        pace_ms: 80,
        ..Desk::default()
    });
    let instance = || {
        let ai = AiBot::callback(TOKEN, AES_KEY).streams(streams.clone());
        builder(&desk, ai)
            .dedup_store(dedup.clone())
            .build()
            .unwrap()
    };
    let (a, b) = (instance(), instance());
    let served_a = serve_router(a.clone(), a.router(), "/wecom/aibot").await;
    let served_b = serve_router(b.clone(), b.router(), "/wecom/aibot").await;
    let to_a = wecom.caller(&served_a.url, TOKEN, AES_KEY).unwrap();
    let to_b = wecom.caller(&served_b.url, TOKEN, AES_KEY).unwrap();

    let (_, _, first) = to_a
        .send(&AiBotInbound::text("zhangsan", "查快递 SF123").group("wrG"))
        .await;
    let first = first.unwrap();
    assert_eq!(first["stream"]["finish"], false);
    let id = first["stream"]["id"].as_str().unwrap().to_owned();
    // WeCom's polls land on the other instance.
    let mut last = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(30)).await;
        let (_, _, reply) = to_b
            .send(&AiBotInbound::stream_poll("zhangsan", &id).group("wrG"))
            .await;
        last = reply.unwrap();
        if last["stream"]["finish"] == true {
            break;
        }
    }
    assert_eq!(last["stream"]["finish"], true, "{last}");
    assert_eq!(last["stream"]["content"], TRACK.concat());
    assert!(b.metrics().ai_bot("stream_polled") >= 2);
    assert_eq!(a.metrics().ai_bot("stream_polled"), 0);
    assert_eq!(desk.lookups.load(Ordering::SeqCst), 1);
    support::redis_clean(&prefix).await;
}

#[tokio::test]
async fn bad_callbacks_get_a_4xx_and_lose_nothing() {
    let wecom = wecom().await;
    let desk = Arc::new(Desk::default());
    let (served, caller) = callback_bot(&wecom, &desk, AiBot::callback(TOKEN, AES_KEY)).await;
    let sig = "msg_signature=0123456789abcdef0123456789abcdef01234567&timestamp=1&nonce=2";
    // A wrong signature, a body that is not the JSON envelope, no query, a huge body.
    let (status, _) = support::post(&served.url, sig, r#"{"encrypt":"AAAA"}"#).await;
    assert!((400..500).contains(&status), "{status}");
    let (status, _) = support::post(&served.url, sig, "<xml>not json</xml>").await;
    assert!((400..500).contains(&status), "{status}");
    let (status, _) = support::post(&served.url, "", r#"{"encrypt":"AAAA"}"#).await;
    assert!((400..500).contains(&status), "{status}");
    let (status, _) = support::post(&served.url, sig, &"x".repeat(100_000)).await;
    assert_eq!(status, 413);
    // A bot that serves only the AI bot has no app callback route.
    let app_url = served.url.replace("/wecom/aibot", "/wecom/callback");
    let (status, _) = support::post(&app_url, sig, "<xml/>").await;
    assert_eq!(status, 404);
    // The next good message is answered as usual.
    let talk = caller
        .converse(&AiBotInbound::text("zhangsan", "营业时间"))
        .await;
    assert_eq!(talk.text(), "我们 9:00–21:00 营业。");
    assert!(served.bot.metrics().ai_bot("rejected") >= 3);
}
