//! The complete auto-reply cycle with no network: encrypted WeCom callbacks are verified
//! and decrypted, parsed, matched against `examples/rules/shop.toml`, answered, and the
//! passive replies encrypted and signed — each stage printed, for several customers.
//!
//! Run with: `cargo run --example callback_cycle`

#[path = "support/cycle.rs"]
mod cycle;

use cycle::AutoReply;
use wecom_sdk::crypto::CallbackCrypto;
use wecom_sdk::matcher::{Engine, RuleSet};

const TOKEN: &str = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";
const ENCODING_AES_KEY: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";
const CORP_ID: &str = "ww1436e0e65a779aee";
const NONCE: &str = "1597212914";

/// (customer, when, what they write, what it shows)
const SAMPLES: [(&str, i64, &str, &str); 6] = [
    (
        "zhangsan",
        1_700_000_000,
        "你好，明天几点开会？",
        "an unknown question before opening (06:13): the off-hours fallback",
    ),
    (
        "lisi",
        1_700_020_000,
        "@小店助手 你们几点关门？",
        "in working hours (11:46), @mention stripped: the hours rule",
    ),
    (
        "wangwu",
        1_700_020_100,
        "帮我查一下 SF123456789012 到哪了",
        "a parcel number: the regex rule fills {carrier}{no}",
    ),
    (
        "zhaoliu",
        1_700_020_200,
        "你们的地址在哪？",
        "a named template",
    ),
    (
        "sunqi",
        1_700_020_300,
        "我要投诉！",
        "a complaint: escalated to a human queue",
    ),
    (
        "zhouba",
        1_700_020_400,
        "有没有停车位",
        "an unknown question in working hours: the daytime fallback",
    ),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rules = RuleSet::from_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/rules/shop.toml"
    ))?;
    println!(
        "rules: {} loaded from examples/rules/shop.toml, {} warnings\n",
        rules.len(),
        rules.warnings().len()
    );
    let bot = AutoReply {
        crypto: CallbackCrypto::new(TOKEN, ENCODING_AES_KEY, CORP_ID)?,
        engine: Engine::new(rules),
    };

    for (i, (from, create_time, text, about)) in SAMPLES.iter().enumerate() {
        println!("━━ {}. {about}", i + 1);
        // What WeCom sends: the message XML, encrypted and signed with the app's settings.
        let xml = format!(
            "<xml><ToUserName>{CORP_ID}</ToUserName><FromUserName>{from}</FromUserName><CreateTime>{create_time}</CreateTime><MsgType>text</MsgType><Content>{text}</Content><MsgId>{}</MsgId><AgentID>1000002</AgentID></xml>",
            7_300_000_000_000_000_001_u64 + i as u64
        );
        let timestamp = create_time.to_string();
        let encrypted = bot.crypto.encrypt(xml.as_bytes())?;
        let signature = bot.crypto.signature(&timestamp, NONCE, &encrypted);
        let body = format!(
            "<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>"
        );
        println!(
            "   POST ?msg_signature={signature}&timestamp={timestamp}&nonce={NONCE}  ({} bytes)",
            body.len()
        );

        let outcome = bot.handle(&signature, &timestamp, NONCE, &body)?;
        println!("   decrypted  {}", outcome.plaintext);
        println!(
            "   parsed     {} from {}: {:?}",
            outcome.message.body.type_name(),
            outcome.message.header.from,
            outcome.message.text().unwrap_or_default()
        );
        match &outcome.hit {
            Some(hit) => {
                println!(
                    "   matched    rule '{}' ({}) by {}",
                    hit.rule_id(),
                    hit.rule_name,
                    hit.keyword
                        .as_deref()
                        .map_or("fallback".to_owned(), |k| format!("keyword {k:?}"))
                );
                match wecom_sdk::passive_reply(hit) {
                    Some(reply) => println!("   reply      {} {reply:?}", reply.msg_type()),
                    None => println!("   reply      none passive (files go through the API)"),
                }
                for action in &hit.actions {
                    println!("   action     {action:?}");
                }
            }
            None => println!("   matched    nothing: answer HTTP 200 with an empty body"),
        }
        if let Some(envelope) = &outcome.envelope {
            println!(
                "   reply XML  {}",
                outcome.reply_xml.as_deref().unwrap_or_default()
            );
            println!("   HTTP 200   {}", envelope.replace('\n', ""));
        }
        println!();
    }

    println!("━━ a forged callback");
    let forged = "<xml><Encrypt><![CDATA[bm90IGEgcmVhbCBjYWxsYmFjaw==]]></Encrypt></xml>";
    match bot.handle(
        "0000000000000000000000000000000000000000",
        "1700000000",
        NONCE,
        forged,
    ) {
        Ok(_) => println!("   accepted?!"),
        Err(e) => match e.downcast_ref::<wecom_sdk::crypto::CryptoError>() {
            Some(c) => println!("   refused: {}\n   hint: {}", c.with_code(), c.hint()),
            None => println!("   refused: {e}"),
        },
    }
    Ok(())
}
