//! `wecom-sim`: plays WeCom on your machine.
//!
//! ```text
//! wecom-sim serve  [--port P] [--corp-id ID] [--secret S]…          the fake WeCom API
//! wecom-sim send   --url U --token T --aes-key K --receive-id R (--text T | --event E | --script F)
//! wecom-sim load   --url U --token T --aes-key K --receive-id R [--customers 500] [--duration 10s | --count N] [--rate N] [--json]
//! wecom-sim chat   --url U --token T --aes-key K --receive-id R [--user U] [--api URL]
//! wecom-sim crypto verify-url | decrypt | encrypt | sign …           debug signatures and encryption
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use wecom_sdk_sim::load::{LoadConfig, Stop};
use wecom_sdk_sim::script::Script;
use wecom_sdk_sim::{
    AiBotInbound, AiBotSimConfig, CallbackSender, FakeAiBot, FakeConfig, FakeWeCom, Inbound, chat,
};

mod crypto_cmd;

/// WeCom simulator: a fake WeCom API, a callback sender that encrypts and re-delivers
/// like WeCom, scripted days, a load generator, a chat mode and crypto debugging.
#[derive(Debug, Parser)]
#[command(name = "wecom-sim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the fake WeCom API on 127.0.0.1 (control routes under /__sim).
    Serve(ServeArgs),
    /// Send one callback (or a scripted day) to a bot and print its answer.
    Send(SendArgs),
    /// Drive a bot with many concurrent simulated customers and report throughput.
    Load(LoadArgs),
    /// Chat with a bot as a customer (one message per line; works under a pipe).
    Chat(ChatArgs),
    /// Send one AI-bot (智能机器人) message to a bot's callback URL and follow its streamed
    /// answer with refresh polls, as WeCom does; prints every state.
    Aibot(AibotArgs),
    /// Verify, decrypt, encrypt and sign callbacks exactly as WeCom does.
    #[command(subcommand)]
    Crypto(crypto_cmd::CryptoCommand),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Port on 127.0.0.1 (0 takes a free one; the address is printed).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The CorpID `gettoken` accepts.
    #[arg(long, default_value = "wwsimcorp")]
    corp_id: String,
    /// A secret `gettoken` accepts (repeat for several apps); default `sim-secret`.
    #[arg(long)]
    secret: Vec<String>,
    /// An agentid `message/send` accepts (repeat); none = any.
    #[arg(long)]
    agent: Vec<u64>,
    /// `expires_in` of issued tokens, seconds.
    #[arg(long, default_value_t = 7200)]
    expires_in: u64,
    /// A group-robot key `webhook/send` accepts (repeat); none = any.
    #[arg(long)]
    webhook_key: Vec<String>,
    /// A 微信客服 account (open_kfid) (repeat).
    #[arg(long)]
    kf_account: Vec<String>,
}

/// Where the bot is and its callback settings.
#[derive(Debug, Args)]
struct BotArgs {
    /// The bot's callback URL (http://…).
    #[arg(long)]
    url: String,
    #[command(flatten)]
    app: crypto_cmd::AppArgs,
}

impl BotArgs {
    fn sender(&self) -> Result<CallbackSender, wecom_sdk_sim::SimError> {
        let a = &self.app;
        CallbackSender::new(&self.url, &a.token, &a.aes_key, &a.receive_id)
    }
}

#[derive(Debug, Args)]
struct SendArgs {
    #[command(flatten)]
    bot: BotArgs,
    /// The sender's UserID.
    #[arg(long, default_value = "zhangsan")]
    user: String,
    /// Send this text.
    #[arg(long, conflicts_with_all = ["event", "script"])]
    text: Option<String>,
    /// Send this event (`click`, `enter_agent`, …).
    #[arg(long, conflicts_with = "script")]
    event: Option<String>,
    /// The event's `EventKey`.
    #[arg(long, requires = "event")]
    key: Option<String>,
    /// Play a scripted day (TOML) and print the transcript; exit 1 if an expectation fails.
    #[arg(long)]
    script: Option<PathBuf>,
    /// A `wecom-sim serve` address, so scripts can set tags and see active replies.
    #[arg(long)]
    api: Option<String>,
    /// Send AI-bot JSON callbacks for this aibotid.
    #[arg(long)]
    aibot: Option<String>,
    /// The AgentID of the callbacks.
    #[arg(long)]
    agent_id: Option<u64>,
    /// Answer timeout before re-delivery (WeCom: 5s).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    timeout: Duration,
    /// Re-deliveries after a failure (WeCom: 3).
    #[arg(long, default_value_t = 3)]
    redeliveries: u32,
    /// Verify the URL first (a GET with echostr), as WeCom does when the URL is saved.
    #[arg(long)]
    verify: bool,
}

#[derive(Debug, Args)]
struct LoadArgs {
    #[command(flatten)]
    bot: BotArgs,
    /// Concurrent customers.
    #[arg(long, default_value_t = 500)]
    customers: usize,
    /// Run this long (`10s`, `2m`, `500ms`).
    #[arg(long, value_parser = parse_duration, conflicts_with = "count")]
    duration: Option<Duration>,
    /// Send this many requests in all.
    #[arg(long)]
    count: Option<u64>,
    /// Pace the run at this many requests per second in all (open loop; latency counted
    /// from when each request was due). Default: as fast as the bot answers.
    #[arg(long)]
    rate: Option<f64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Empty 200s are fine (the bot answers actively): do not count them as missing.
    #[arg(long)]
    no_reply_expected: bool,
    /// Texts to send (repeat); default: a shop's usual questions.
    #[arg(long)]
    message: Vec<String>,
}

#[derive(Debug, Args)]
struct AibotArgs {
    /// The bot's AI-bot callback URL (http://…/wecom/aibot).
    #[arg(long)]
    url: String,
    /// The AI bot's callback Token.
    #[arg(long)]
    token: String,
    /// The AI bot's EncodingAESKey.
    #[arg(long)]
    aes_key: String,
    /// The sender's UserID.
    #[arg(long, default_value = "zhangsan")]
    user: String,
    /// Send this text (`--mention` prefixes an @-mention as WeCom writes it).
    #[arg(long, conflicts_with = "enter_chat")]
    text: Option<String>,
    /// Send `enter_chat` (the welcome) instead of a text.
    #[arg(long)]
    enter_chat: bool,
    /// In this group chat (chatid).
    #[arg(long)]
    group: Option<String>,
    /// @-mention this bot name before the text.
    #[arg(long)]
    mention: Option<String>,
    /// Time between refresh polls.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    poll_every: Duration,
    /// Stop polling after this long (WeCom: about 6 minutes).
    #[arg(long, default_value = "6m", value_parser = parse_duration)]
    poll_for: Duration,
}

#[derive(Debug, Args)]
struct ChatArgs {
    #[command(flatten)]
    bot: BotArgs,
    /// The customer's UserID to start with.
    #[arg(long, default_value = "zhangsan")]
    user: String,
    /// The zone of `/time`.
    #[arg(long, default_value = "Asia/Shanghai")]
    zone: String,
    /// A `wecom-sim serve` address for `/tags`.
    #[arg(long)]
    api: Option<String>,
    /// Send AI-bot JSON callbacks for this aibotid (then `/group` works).
    #[arg(long)]
    aibot: Option<String>,
}

/// `10s`, `250ms`, `2m`, `1h`, or plain seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (10s, 250ms, 2m)"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{s:?}: unit must be ms, s, m or h")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Crypto(cmd) = cli.command {
        return crypto_cmd::run(cmd);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Send(args) => send(args).await,
        Command::Load(args) => load(args).await,
        Command::Chat(args) => chat_cmd(args).await,
        Command::Aibot(args) => aibot(args).await,
        Command::Crypto(cmd) => Ok(crypto_cmd::run(cmd)),
    }
}

async fn aibot(args: AibotArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let wecom = FakeAiBot::start(AiBotSimConfig::new("wecom-sim", "unused")).await?;
    let caller = wecom
        .caller(&args.url, &args.token, &args.aes_key)?
        .poll_every(args.poll_every)
        .poll_for(args.poll_for);
    let mut message = if args.enter_chat {
        AiBotInbound::enter_chat(&args.user)
    } else {
        AiBotInbound::text(&args.user, args.text.as_deref().unwrap_or("你好"))
    };
    if let Some(name) = &args.mention {
        message = message.mention(name);
    }
    if let Some(group) = &args.group {
        message = message.group(group);
    }
    let talk = caller.converse(&message).await;
    if talk.attempts.is_empty() || talk.first().is_none() {
        println!("no reply (attempts: {:?})", talk.attempts);
        return Ok(ExitCode::FAILURE);
    }
    let mut shown = None;
    for (i, reply) in talk.replies.iter().enumerate() {
        let line = reply
            .as_ref()
            .map_or_else(|| "(empty)".to_owned(), ToString::to_string);
        if shown.as_ref() != Some(&line) {
            println!("{} {line}", if i == 0 { "reply" } else { "poll " });
            shown = Some(line);
        }
    }
    println!(
        "{} refresh polls; finished: {}; response_url posts: {}",
        talk.polls(),
        talk.finished,
        wecom.response_posts().len()
    );
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: ServeArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut config = FakeConfig::new(&args.corp_id)
        .port(args.port)
        .expires_in(args.expires_in);
    for s in &args.secret {
        config = config.secret(s);
    }
    for a in &args.agent {
        config = config.agent(*a);
    }
    for k in &args.webhook_key {
        config = config.webhook_key(k);
    }
    for k in &args.kf_account {
        config = config.kf_account(k);
    }
    let fake = FakeWeCom::start(config).await?;
    println!(
        "wecom-sim: fake WeCom API on {} (corp {}); control routes: GET /__sim/calls, GET /__sim/messages, POST /__sim/faults; Ctrl-C stops",
        fake.base_url(),
        args.corp_id
    );
    tokio::select! {
        r = fake.wait() => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(ExitCode::SUCCESS)
}

async fn send(args: SendArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut sender = args
        .bot
        .sender()?
        .timeout(args.timeout)
        .redeliveries(args.redeliveries);
    if let Some(agent) = args.agent_id {
        sender = sender.agent(agent);
    }
    if let Some(aibot) = &args.aibot {
        sender = sender.aibot(aibot);
    }
    if args.verify {
        sender.verify_url().await?;
        println!("URL verification: ok");
    }
    if let Some(path) = &args.script {
        let script = Script::from_file(path)?;
        let transcript = match &args.api {
            Some(api) => script.play_against(&sender, api).await?,
            None => script.play(&sender, None).await?,
        };
        println!("{transcript}");
        return Ok(if transcript.failed() == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let inbound = match (&args.text, &args.event) {
        (Some(text), _) => Inbound::text(&args.user, text),
        (None, Some(event)) => Inbound::event(&args.user, event)
            .field("EventKey", args.key.as_deref().unwrap_or_default()),
        (None, None) => return Err("give --text, --event or --script".into()),
    };
    let delivery = sender.send(&inbound).await;
    for (i, a) in delivery.attempts.iter().enumerate() {
        println!("attempt {}: {:?} after {:?}", i + 1, a.outcome, a.elapsed);
    }
    println!("{}", chat::render(&delivery));
    Ok(if delivery.delivered() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn load(args: LoadArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let stop = match (args.duration, args.count) {
        (_, Some(n)) => Stop::Count(n),
        (Some(d), None) => Stop::Duration(d),
        (None, None) => Stop::Duration(Duration::from_secs(10)),
    };
    let (url, a) = (&args.bot.url, &args.bot.app);
    let config = LoadConfig::new(url, &a.token, &a.aes_key, &a.receive_id)
        .customers(args.customers)
        .stop(stop)
        .messages(args.message.clone())
        .expect_reply(!args.no_reply_expected)
        .progress(!args.json);
    let config = match args.rate {
        Some(rate) => config.rate(rate),
        None => config,
    };
    let report = wecom_sdk_sim::load::run(&config, None).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn chat_cmd(args: ChatArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut sender = args.bot.sender()?;
    if let Some(aibot) = &args.aibot {
        sender = sender.aibot(aibot);
    }
    let state = chat::ChatState {
        user: args.user,
        zone: args.zone,
        api: args.api,
        ..chat::ChatState::default()
    };
    let input = tokio::io::BufReader::new(tokio::io::stdin());
    let mut output = std::io::stdout();
    chat::run(&sender, state, input, &mut output).await?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
    }
}
