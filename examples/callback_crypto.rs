//! One WeCom callback exchange, with no network and no WeCom account: URL verification,
//! an encrypted customer message decrypted, and a passive reply encrypted and signed.
//!
//! Run with: `cargo run --example callback_crypto`

use wecom_sdk::crypto::CallbackCrypto;

// The configuration of the official WeCom sample app (doc 91144).
const TOKEN: &str = "QDG6eK";
const ENCODING_AES_KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const CORP_ID: &str = "wx5823bf96d3bd56c7";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let crypto = CallbackCrypto::new(TOKEN, ENCODING_AES_KEY, CORP_ID)?;
    println!("configured: {crypto:?}\n");

    // 1. WeCom saves the callback URL: GET ?msg_signature&timestamp&nonce&echostr.
    let echo = crypto.verify_url(
        "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
        "1409659589",
        "263014780",
        "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
    )?;
    println!("1. URL verification → answer HTTP 200 with body {echo:?}\n");

    // 2. A customer writes "hello": WeCom POSTs the encrypted envelope.
    let (signature, timestamp, nonce) = (
        "477715d11cdb4164915debcba66cb864d751f3e6",
        "1409659813",
        "1372623149",
    );
    let body = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>";
    let message = crypto.decrypt_message(signature, timestamp, nonce, body)?;
    println!("2. decrypted callback:\n{message}\n");

    // 3. The passive reply, encrypted and signed with the request's timestamp and nonce.
    let reply_xml = "<xml><ToUserName><![CDATA[mycreate]]></ToUserName><FromUserName><![CDATA[wx5823bf96d3bd56c7]]></FromUserName><CreateTime>1409659813</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[您好！我们的营业时间是 9:00–18:00。]]></Content></xml>";
    let envelope = crypto.encrypt_reply(reply_xml, timestamp, nonce)?;
    println!("3. passive reply body (HTTP 200):\n{envelope}\n");

    // 4. A tampered callback is refused with its official code.
    let tampered = body.replace("RypEv", "RypEw");
    match crypto.decrypt_message(signature, timestamp, nonce, &tampered) {
        Ok(_) => println!("4. tampered callback accepted?!"),
        Err(e) => println!(
            "4. tampered callback refused: {}\n   hint: {}",
            e.with_code(),
            e.hint()
        ),
    }
    Ok(())
}
