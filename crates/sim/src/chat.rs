//! Chat mode: type as a customer, read the bot's replies — the way operators try rules
//! before going live. Reads lines from any input, so it works in a terminal and under a
//! pipe (one message per line).
//!
//! Commands: `/user ID`, `/time HH:MM` (`/time now`), `/group ID` (`/group` to leave),
//! `/tags a,b` (sets the customer's tags in a `wecom-sim serve` given with `--api`),
//! `/click KEY`, `/enter`, `/help`, `/quit`. Any other line is a text message.

use std::io::Write;

use tokio::io::{AsyncBufRead, AsyncBufReadExt as _};
use wecom_sdk_message::reply::Reply;

use crate::{Answer, CallbackSender, Delivery, Inbound, SimError};

const HELP: &str =
    "commands: /user ID  /time HH:MM|now  /group [ID]  /tags a,b  /click KEY  /enter  /help  /quit";

/// Who the customer is right now.
#[derive(Debug, Clone)]
pub struct ChatState {
    /// The UserID messages come from.
    pub user: String,
    /// The group chat, if any (AI-bot callbacks).
    pub chat: Option<String>,
    /// Time of day `(hour, minute)`; `None` = now.
    pub time: Option<(i8, i8)>,
    /// The IANA zone of `time`.
    pub zone: String,
    /// A `wecom-sim serve` address (`http://127.0.0.1:PORT`) for `/tags`.
    pub api: Option<String>,
}

impl Default for ChatState {
    fn default() -> Self {
        Self {
            user: "zhangsan".to_owned(),
            chat: None,
            time: None,
            zone: "Asia/Shanghai".to_owned(),
            api: None,
        }
    }
}

/// Renders an answer as a customer's WeCom client would show it, one item a line.
pub fn render(delivery: &Delivery) -> String {
    let tries = match delivery.redeliveries() {
        0 => String::new(),
        n => format!(" (after {n} re-deliveries)"),
    };
    let body = match &delivery.answer {
        None => format!(
            "(not delivered: {:?})",
            delivery.attempts.last().map(|a| &a.outcome)
        ),
        Some(Answer::Empty) => "(no passive reply: empty 200)".to_owned(),
        Some(Answer::Invalid { reason, .. }) => {
            format!("(WeCom would reject this reply: {reason})")
        }
        Some(Answer::AiBot(v)) => match (Answer::AiBot(v.clone())).text() {
            Some(t) => t,
            None => v.to_string(),
        },
        Some(Answer::Passive(doc)) => match &doc.reply {
            Some(Reply::Text { content }) => content.clone(),
            Some(Reply::News { articles }) => articles
                .iter()
                .map(|a| format!("[news] {} — {}", a.title, a.url))
                .collect::<Vec<_>>()
                .join("\n"),
            Some(Reply::Image { media_id }) => format!("[image {media_id}]"),
            Some(Reply::Voice { media_id }) => format!("[voice {media_id}]"),
            Some(Reply::Video {
                media_id, title, ..
            }) => {
                format!(
                    "[video {media_id}] {}",
                    title.as_deref().unwrap_or_default()
                )
            }
            Some(Reply::UpdateButton { replace_name }) => format!("[button → {replace_name}]"),
            _ => format!("[{}]", doc.msg_type),
        },
    };
    let mut lines = body.lines();
    let mut out = format!("bot: {}{tries}", lines.next().unwrap_or_default());
    for line in lines {
        out.push_str("\n     ");
        out.push_str(line);
    }
    out
}

/// The `CreateTime` for a time of day today in `zone`.
fn unix_at(zone: &str, (h, m): (i8, i8)) -> Result<i64, String> {
    let tz = jiff::tz::TimeZone::get(zone).map_err(|e| e.to_string())?;
    let today = jiff::Timestamp::now().to_zoned_datetime(tz.clone()).date();
    today
        .at(h, m, 0, 0)
        .to_zoned_datetime(tz)
        .map(|z| z.timestamp().as_second())
        .map_err(|e| e.to_string())
}

fn parse_hhmm(s: &str) -> Option<(i8, i8)> {
    let (h, m) = s.split_once(':')?;
    let h: i8 = h.parse().ok().filter(|h| (0..24).contains(h))?;
    let m: i8 = m.parse().ok().filter(|m| (0..60).contains(m))?;
    Some((h, m))
}

async fn set_tags(api: &str, user: &str, tags: &[&str]) -> Result<(), String> {
    let body = serde_json::json!({ "tags": tags });
    crate::http::post_json(api, &format!("/__sim/customers/{user}/tags"), &body)
        .await
        .map(|_| ())
}

/// Runs a chat session: reads lines from `input` until EOF or `/quit`, writes the
/// conversation to `output`.
///
/// # Errors
/// [`SimError::Io`] when reading input or writing output fails.
pub async fn run<R, W>(
    sender: &CallbackSender,
    mut state: ChatState,
    input: R,
    output: &mut W,
) -> Result<(), SimError>
where
    R: AsyncBufRead + Unpin,
    W: Write,
{
    let io = |e| SimError::io("chat", e);
    writeln!(output, "chatting as {} — {HELP}", state.user).map_err(io)?;
    let mut lines = input.lines();
    while let Some(line) = lines.next_line().await.map_err(io)? {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (command, arg) = line.split_once(' ').unwrap_or((line, ""));
        let arg = arg.trim();
        let inbound = match command {
            "/quit" | "/exit" => break,
            "/help" => {
                writeln!(output, "{HELP}").map_err(io)?;
                continue;
            }
            "/user" if !arg.is_empty() => {
                state.user = arg.to_owned();
                writeln!(output, "now {}", state.user).map_err(io)?;
                continue;
            }
            "/group" => {
                state.chat = (!arg.is_empty()).then(|| arg.to_owned());
                let note = state
                    .chat
                    .as_deref()
                    .map_or("left the group".to_owned(), |c| format!("in group {c}"));
                writeln!(output, "{note}").map_err(io)?;
                continue;
            }
            "/time" => {
                if arg == "now" {
                    state.time = None;
                    writeln!(output, "time: now").map_err(io)?;
                } else if let Some(t) = parse_hhmm(arg) {
                    state.time = Some(t);
                    writeln!(output, "time: {:02}:{:02} ({})", t.0, t.1, state.zone).map_err(io)?;
                } else {
                    writeln!(output, "usage: /time HH:MM or /time now").map_err(io)?;
                }
                continue;
            }
            "/tags" => {
                let tags: Vec<&str> = arg
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .collect();
                let note = match &state.api {
                    None => "tags need the simulator's API: start with --api http://127.0.0.1:PORT (wecom-sim serve)".to_owned(),
                    Some(api) => match set_tags(api, &state.user, &tags).await {
                        Ok(()) => format!("tags of {}: {}", state.user, tags.join(", ")),
                        Err(e) => format!("could not set tags: {e}"),
                    },
                };
                writeln!(output, "{note}").map_err(io)?;
                continue;
            }
            "/click" if !arg.is_empty() => Inbound::menu_click(&state.user, arg),
            "/enter" => Inbound::enter_agent(&state.user),
            c if c.starts_with('/') => {
                writeln!(output, "unknown command {c:?}; {HELP}").map_err(io)?;
                continue;
            }
            _ => Inbound::text(&state.user, line),
        };
        let mut inbound = match &state.chat {
            Some(chat) => inbound.in_chat(chat),
            None => inbound,
        };
        if let Some(t) = state.time {
            match unix_at(&state.zone, t) {
                Ok(unix) => inbound = inbound.at_unix(unix),
                Err(e) => writeln!(output, "time ignored: {e}").map_err(io)?,
            }
        }
        let when = state
            .time
            .map_or("now".to_owned(), |(h, m)| format!("{h:02}:{m:02}"));
        let place = state
            .chat
            .as_deref()
            .map_or(String::new(), |c| format!(" in {c}"));
        let said = match command {
            "/click" => format!("[click {arg}]"),
            "/enter" => "[enter_agent]".to_owned(),
            _ => line.to_owned(),
        };
        writeln!(output, "{} ({when}{place}): {said}", state.user).map_err(io)?;
        let delivery = sender.send(&inbound).await;
        writeln!(output, "{}", render(&delivery)).map_err(io)?;
        output.flush().map_err(io)?;
    }
    Ok(())
}
