//! `wecom-bot-archive`: the nightly job of the conversation archive.
//!
//! ```text
//! wecom-bot-archive export  [--day YYYY-MM-DD] [--dir ./archive]
//! wecom-bot-archive report  [--day YYYY-MM-DD] [--fallback RULE]...
//! wecom-bot-archive alerts  [--day YYYY-MM-DD] [--share 0.5] [--min-hits 5]
//!                           [--fallback RULE]... [--robot-key KEY] [--robot-url URL]
//! common: [--database-url URL] (or DATABASE_URL) [--schema wecom]
//!         [--rules rules.toml] [--tz Asia/Shanghai]
//! ```
//!
//! With `--rules` (the bot's rules file, TOML or JSON), days are counted in the rule
//! set's time zone and its `fallback = true` rules are the fallbacks; `--tz` and
//! `--fallback` override. The day defaults to yesterday in that zone. `export` writes the
//! day's rows as gzip JSON lines, once per day; `report` prints the rule report and the
//! top unanswered questions; `alerts` prints keyword rules whose trigger rate fell and,
//! with `--robot-key`, posts them to a group robot. Exit status 1 on an error, 2 on bad
//! arguments.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use wecom_sdk_bot::Archive;
use wecom_sdk_client::WebhookClient;
use wecom_sdk_matcher::RuleSet;

/// Flags given: each name with its values in order.
struct Args {
    command: String,
    flags: HashMap<String, Vec<String>>,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut it = std::env::args().skip(1);
        let command = it.next().ok_or("a command: export, report or alerts")?;
        let mut flags: HashMap<String, Vec<String>> = HashMap::new();
        while let Some(flag) = it.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {flag:?}"))?
                .to_owned();
            let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            flags.entry(name).or_default().push(value);
        }
        Ok(Self { command, flags })
    }

    fn one(&self, name: &str) -> Option<&str> {
        self.flags
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.flags
            .get(name)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    fn number(&self, name: &str, default: f64) -> Result<f64, String> {
        self.one(name).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("--{name} {v:?} is not a number"))
        })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match Args::parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "error: {e}\nusage: wecom-bot-archive export|report|alerts [--day YYYY-MM-DD] [--tz ZONE] …"
            );
            return ExitCode::from(2);
        }
    };
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), String> {
    let url = args
        .one("database-url")
        .map(str::to_owned)
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let schema = args.one("schema").unwrap_or(wecom_sdk_bot::DEFAULT_SCHEMA);
    let rules = match args.one("rules") {
        Some(path) => Some(rule_set(path)?),
        None => None,
    };
    let tz_name = args
        .one("tz")
        .or(rules.as_ref().map(RuleSet::timezone))
        .unwrap_or("Asia/Shanghai");
    let tz = TimeZone::get(tz_name).map_err(|e| format!("--tz {tz_name:?}: {e}"))?;
    let day: Date = match args.one("day") {
        Some(d) => d.parse().map_err(|e| format!("--day {d:?}: {e}"))?,
        None => jiff::Timestamp::now()
            .to_zoned_datetime(tz)
            .date()
            .yesterday()
            .map_err(|e| e.to_string())?,
    };
    let mut fallbacks = args.all("fallback");
    if fallbacks.is_empty()
        && let Some(rules) = &rules
    {
        fallbacks = rules.fallback_ids().collect();
    }
    let archive = Archive::connect(&url, schema)
        .await
        .map_err(|e| e.to_string())?;
    match args.command.as_str() {
        "export" => {
            let dir = PathBuf::from(args.one("dir").unwrap_or("archive"));
            let export = archive
                .export_day(day, tz_name, &dir)
                .await
                .map_err(|e| e.to_string())?;
            if export.skipped {
                println!("{day}: {} exists, skipped", export.path.display());
            } else {
                println!("{day}: {} rows → {}", export.rows, export.path.display());
            }
        }
        "report" => report(&archive, day, tz_name, &fallbacks).await?,
        "alerts" => alerts(args, &archive, day, tz_name, &fallbacks).await?,
        other => {
            return Err(format!(
                "unknown command {other:?} (export, report, alerts)"
            ));
        }
    }
    Ok(())
}

/// Prints the rule report of `day` and the top unanswered questions since.
async fn report(
    archive: &Archive,
    day: Date,
    tz_name: &str,
    fallbacks: &[&str],
) -> Result<(), String> {
    let report = archive
        .rule_report(day, tz_name, fallbacks)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "{day}: {} messages — keyword rules {:.1}%, fallback {:.1}%, unanswered {:.1}%",
        report.messages,
        report.keyword_share * 100.0,
        report.fallback_share * 100.0,
        report.unanswered_share * 100.0
    );
    for (rule, hits) in &report.by_rule {
        println!("  {hits:>6}  {rule}");
    }
    let since = day.in_tz(tz_name).map_err(|e| e.to_string())?.timestamp();
    let open = archive
        .unanswered(since, fallbacks, 10)
        .await
        .map_err(|e| e.to_string())?;
    println!("top unanswered questions since {day}:");
    for q in open {
        println!("  {:>6}  {}", q.count, q.text);
    }
    Ok(())
}

/// Prints the trigger-rate alerts of `day` and posts them to the group robot if asked.
async fn alerts(
    args: &Args,
    archive: &Archive,
    day: Date,
    tz_name: &str,
    fallbacks: &[&str],
) -> Result<(), String> {
    let alerts = archive
        .trigger_alerts(
            day,
            tz_name,
            args.number("share", 0.5)?,
            args.number("min-hits", 5.0)?,
            fallbacks,
        )
        .await
        .map_err(|e| e.to_string())?;
    if alerts.is_empty() {
        println!("{day}: no keyword rule lost its customers");
    }
    for alert in &alerts {
        println!("{day}: {}", alert.notice());
    }
    if let (Some(key), false) = (args.one("robot-key"), alerts.is_empty()) {
        let mut robot = WebhookClient::new(key);
        if let Some(base) = args.one("robot-url") {
            robot = robot.base_url(base);
        }
        robot
            .send(&wecom_sdk_bot::TriggerRate::message(&alerts))
            .await
            .map_err(|e| format!("group robot: {e}"))?;
        println!("posted {} alerts to the group robot", alerts.len());
    }
    Ok(())
}

/// The rule set in `path` (TOML, or JSON by its extension).
fn rule_set(path: &str) -> Result<RuleSet, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--rules {path}: {e}"))?;
    let json = std::path::Path::new(path)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let parsed = if json {
        RuleSet::from_json_str(&text)
    } else {
        RuleSet::from_toml_str(&text)
    };
    parsed.map_err(|e| format!("--rules {path}: {e}"))
}
