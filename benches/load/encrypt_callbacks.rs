//! Writes pre-encrypted text callbacks for a load client no one here wrote (`wrk`): one
//! per line, `<query>\t<body>`, each with its own `MsgId`, sender and signature.
//!
//! `encrypt-callbacks <count> <token> <aes key> <corp id> > callbacks.tsv`

use std::io::Write;

use wecom_sdk_sim::{CallbackSender, Inbound};

const QUESTIONS: [&str; 6] = [
    "你们几点关门？",
    "门店地址在哪",
    "帮我查一下 SF1234567890 到哪了",
    "价格多少",
    "有没有停车位",
    "我要投诉",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .ok_or("usage: encrypt-callbacks <count> <token> <aes key> <corp id>")?;
    let (token, key, corp) = (
        args.next().ok_or("token")?,
        args.next().ok_or("aes key")?,
        args.next().ok_or("corp id")?,
    );
    let sender = CallbackSender::new("http://127.0.0.1/wecom/callback", &token, &key, &corp)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for i in 0..count {
        let who = format!("wrk-customer-{}", i % 500);
        let inbound = Inbound::text(&who, QUESTIONS[i % QUESTIONS.len()]).stamped();
        let (query, body) = sender.encrypt(&inbound)?;
        writeln!(out, "{query}\t{body}")?;
    }
    Ok(())
}
