//! The client's `tracing` output: token fetches, refreshes, backoff, breaker and
//! failures are logged with path, errcode and attempt — and never a secret, a token or
//! an `access_token` query value.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use wecom_sdk_client::Client;
use wecom_sdk_message::send::{AppMessage, Content, Recipients};
use wecom_sdk_sim::{FakeConfig, FakeWeCom, Fault};

const SECRET: &str = "S3CRET-of-the-app-0123456789";

/// Everything logged, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn logs_say_what_happened_and_hide_every_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fake = FakeWeCom::start(
        FakeConfig::new("ww1")
            .secret(SECRET)
            .agent(1_000_002)
            .staff("zhangsan", "张三"),
    )
    .await
    .unwrap();
    let c = Client::builder()
        .corp_id("ww1")
        .secret(SECRET)
        .agent_id(1_000_002)
        .base_url(fake.base_url())
        .retry_policy(support::fast_retries())
        .build()
        .unwrap();
    let msg = AppMessage::new(
        1_000_002,
        Recipients::users(["zhangsan"]),
        Content::text("hi"),
    )
    .build()
    .unwrap();
    c.message().send(&msg).await.unwrap();
    let first_token = c.access_token().await.unwrap().expose().to_owned();
    fake.inject(&Fault::ExpireTokens);
    c.message().send(&msg).await.unwrap();
    let second_token = c.access_token().await.unwrap().expose().to_owned();
    fake.inject(&Fault::errcode_on("/cgi-bin/message/send", -1, 1));
    c.message().send(&msg).await.unwrap();
    // A wrong secret, three times: the breaker opens.
    let wrong = Client::builder()
        .corp_id("ww1")
        .secret("WRONG-SECRET-abcdef")
        .base_url(fake.base_url())
        .build()
        .unwrap();
    for _ in 0..4 {
        wrong.access_token().await.unwrap_err();
    }

    let logs = captured.text();
    for expected in [
        "access token fetched",
        "token refused; refreshing once",
        "errcode=42001",
        "backing off",
        "path=\"/cgi-bin/message/send\"",
        "access token fetch failed",
        "errcode=40001",
        "circuit breaker open",
    ] {
        assert!(
            logs.contains(expected),
            "{expected:?} missing from:\n{logs}"
        );
    }
    for secret in [
        SECRET,
        "WRONG-SECRET",
        first_token.as_str(),
        second_token.as_str(),
        "access_token=",
        "corpsecret=",
    ] {
        assert!(!logs.contains(secret), "{secret:?} leaked into:\n{logs}");
    }
}
