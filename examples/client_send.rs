//! The API client at work, with no WeCom account: a tiny stand-in for WeCom on
//! 127.0.0.1 issues tokens and expires the first one early; the client fetches one token
//! for 50 concurrent sends, survives the 42001 with a single refresh, and refuses an
//! over-long message before sending it.
//!
//! Run with: `cargo run --example client_send`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wecom_sdk::client::Client;
use wecom_sdk::message::send::{AppMessage, Content, Recipients};

/// Counts what the stand-in was asked.
#[derive(Default)]
struct Counts {
    gettoken: AtomicUsize,
    sends: AtomicUsize,
}

/// A stand-in for WeCom: `gettoken` issues tok-1, tok-2…; `message/send` rejects tok-1
/// after the first 20 sends with 42001 (WeCom may expire tokens early).
async fn stand_in(counts: Arc<Counts>) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counts = counts.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]);
                let body = if request.contains("/cgi-bin/gettoken") {
                    let k = counts.gettoken.fetch_add(1, Ordering::SeqCst) + 1;
                    format!(
                        r#"{{"errcode":0,"errmsg":"ok","access_token":"tok-{k}","expires_in":7200}}"#
                    )
                } else if request.contains("access_token=tok-1")
                    && counts.sends.fetch_add(1, Ordering::SeqCst) >= 20
                {
                    r#"{"errcode":42001,"errmsg":"access_token expired"}"#.to_owned()
                } else {
                    r#"{"errcode":0,"errmsg":"ok","invaliduser":"","msgid":"MSGID"}"#.to_owned()
                };
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok(format!("http://{addr}"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let counts = Arc::new(Counts::default());
    let base = stand_in(counts.clone()).await?;
    let client = Client::builder()
        .corp_id("ww1436e0e65a779aee")
        .secret("APP_SECRET")
        .agent_id(1_000_002)
        .base_url(&base)
        .build()?;
    println!("client: {client:?}\n");

    let sends: Vec<_> = (0..50)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let msg = AppMessage::new(
                    1_000_002,
                    Recipients::users([format!("user{i}")]),
                    Content::text(format!("您的订单 #{i} 已发货")),
                );
                client.message().send(&msg).await
            })
        })
        .collect();
    let mut ok = 0;
    for send in sends {
        if send.await?.is_ok() {
            ok += 1;
        }
    }
    println!("50 concurrent sends: {ok} delivered");
    println!(
        "gettoken calls: {} (one cold fetch, one refresh after the early 42001)",
        counts.gettoken.load(Ordering::SeqCst)
    );

    let too_long = AppMessage::new(
        1_000_002,
        Recipients::all(),
        Content::text("长".repeat(700)),
    );
    match client.message().send(&too_long).await {
        Ok(_) => println!("an over-long message was sent?!"),
        Err(e) => println!("refused before sending: {e}"),
    }
    Ok(())
}
