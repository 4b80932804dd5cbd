//! What the simulator's `FakeWeCom` cannot play, against a scripted stand-in: WeCom's
//! empty pages with `has_more = 1` in `sync_all`, and refresh-ahead counted in tokens
//! (`FakeWeCom` rightly returns the same token while it is valid). Everything else runs
//! against `FakeWeCom` in `tests/against_sim.rs`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::type_complexity,
    clippy::default_trait_access,
    reason = "tests"
)]

#[path = "support/scripted.rs"]
mod scripted;
mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use wecom_sdk_client::api::kf::MemoryCursorStore;
use wecom_sdk_client::{Client, ManualClock};

async fn serve() -> (String, Arc<scripted::Scripted>) {
    scripted::serve("s").await
}

fn client(base: &str) -> Client {
    Client::builder()
        .corp_id("ww1")
        .secret("s")
        .agent_id(1_000_002)
        .base_url(base)
        .retry_policy(support::fast_retries())
        .build()
        .unwrap()
}

#[tokio::test]
async fn sync_all_pages_while_has_more_even_through_empty_pages() {
    let (base, fake) = serve().await;
    fake.answer("/cgi-bin/kf/sync_msg", vec![
        json!({"errcode": 0, "next_cursor": "c1", "has_more": 1, "msg_list": [{"msgid": "m1", "origin": 3, "msgtype": "text", "text": {"content": "你好"}}]}),
        json!({"errcode": 0, "next_cursor": "c2", "has_more": 1, "msg_list": []}),
        json!({"errcode": 0, "next_cursor": "c3", "has_more": 0, "msg_list": [{"msgid": "m2", "origin": 3, "msgtype": "text", "text": {"content": "在吗"}}]}),
    ]);
    let c = client(&base);
    let cursors = MemoryCursorStore::default();
    let all = c
        .kf()
        .sync_all("wk1", Some("CALLBACK_TOKEN"), &cursors)
        .await
        .unwrap();
    let ids: Vec<&str> = all.iter().map(|m| m.msgid.as_str()).collect();
    assert_eq!(ids, ["m1", "m2"]);
    let sent = fake.requests("/cgi-bin/kf/sync_msg");
    let cursors_sent: Vec<Value> = sent.iter().map(|(_, b)| b["cursor"].clone()).collect();
    assert_eq!(cursors_sent, [Value::Null, json!("c1"), json!("c2")]);
    assert_eq!(sent[0].1["token"], "CALLBACK_TOKEN");
    // The next run starts from the saved cursor.
    c.kf().sync_all("wk1", None, &cursors).await.unwrap();
    assert_eq!(fake.requests("/cgi-bin/kf/sync_msg")[3].1["cursor"], "c3");
}

#[tokio::test]
async fn tokens_are_renewed_ahead_of_expiry_by_the_clock() {
    let (base, fake) = serve().await;
    let clock = Arc::new(ManualClock::at_unix(1_700_000_000));
    let c = Client::builder()
        .corp_id("ww1")
        .secret("s")
        .base_url(&base)
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(c.access_token().await.unwrap().expose(), "tok-1");
    clock.advance(Duration::from_secs(6_000)); // 83 % of 7200 s: still fresh
    assert_eq!(c.access_token().await.unwrap().expose(), "tok-1");
    clock.advance(Duration::from_secs(200)); // past 85 %: renewed ahead, in the background
    assert_eq!(
        c.access_token().await.unwrap().expose(),
        "tok-1",
        "the caller does not wait for gettoken"
    );
    let mut renewed = String::new();
    for _ in 0..500 {
        renewed = c.access_token().await.unwrap().expose().to_owned();
        if renewed != "tok-1" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(renewed, "tok-2");
    assert_eq!(fake.gettoken_calls.load(Ordering::SeqCst), 2);
    clock.advance(Duration::from_secs(7_200)); // tok-2 expired outright
    assert_eq!(c.access_token().await.unwrap().expose(), "tok-3");
}
