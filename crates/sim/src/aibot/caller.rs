//! [`AiBotCaller`]: WeCom's side of AI-bot callbacks — encrypted JSON POSTs, and the
//! refresh polls of a streamed answer until `finish`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{AiBotInbound, AiShared};
use crate::sender::{Answer, Attempt};
use crate::{CallbackSender, SimError};

/// Sends AI-bot callbacks to a bot, as WeCom does in callback mode.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use wecom_sdk_sim::{AiBotInbound, AiBotSimConfig, FakeAiBot};
/// let wecom = FakeAiBot::start(AiBotSimConfig::new("aib_1", "s3cret")).await?;
/// let caller = wecom.caller("http://127.0.0.1:8080/wecom/aibot", "token", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C")?;
/// let talk = caller.converse(&AiBotInbound::text("zhangsan", "查快递 SF123")).await;
/// println!("{} after {} polls", talk.text(), talk.polls());
/// # Ok(()) }
/// ```
pub struct AiBotCaller {
    shared: Arc<AiShared>,
    sender: CallbackSender,
    poll_every: Duration,
    poll_for: Duration,
}

impl std::fmt::Debug for AiBotCaller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AiBotCaller")
            .field("poll_every", &self.poll_every)
            .field("poll_for", &self.poll_for)
            .finish_non_exhaustive()
    }
}

/// One message and everything WeCom got back for it: the first reply and each poll's.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AiBotConversation {
    /// The message as sent (`msgid`, `create_time`, `response_url` filled in).
    pub inbound: AiBotInbound,
    /// The first reply's attempts (re-deliveries included).
    pub attempts: Vec<Attempt>,
    /// The first reply, then each poll's, decrypted (`None`: an empty answer).
    pub replies: Vec<Option<Value>>,
    /// The stream reached `finish = true` while WeCom polled.
    pub finished: bool,
}

impl AiBotConversation {
    /// The text shown last: the latest stream content, a welcome's text.
    pub fn text(&self) -> String {
        self.replies
            .iter()
            .rev()
            .flatten()
            .find_map(|r| {
                let kind = r.get("msgtype")?.as_str()?;
                let object = if kind == "stream_with_template_card" {
                    r.get("stream")?
                } else {
                    r.get(kind)?
                };
                object.get("content")?.as_str().map(str::to_owned)
            })
            .unwrap_or_default()
    }

    /// The first reply.
    pub fn first(&self) -> Option<&Value> {
        self.replies.first().and_then(Option::as_ref)
    }

    /// Refresh polls made.
    pub fn polls(&self) -> usize {
        self.replies.len().saturating_sub(1)
    }

    /// The stream id of the first reply, if it was a stream.
    pub fn stream_id(&self) -> Option<&str> {
        self.first()?.pointer("/stream/id")?.as_str()
    }
}

impl AiBotCaller {
    pub(crate) fn new(
        shared: Arc<AiShared>,
        url: &str,
        token: &str,
        aes_key: &str,
    ) -> Result<Self, SimError> {
        let aibotid = shared.config.aibotid.clone();
        let sender = CallbackSender::new(url, token, aes_key, "")?.aibot(&aibotid);
        Ok(Self {
            shared,
            sender,
            poll_every: Duration::from_millis(300),
            poll_for: Duration::from_secs(6 * 60),
        })
    }

    /// How often WeCom polls an open stream (default 300 ms; WeCom's is about 1 s).
    #[must_use]
    pub fn poll_every(mut self, every: Duration) -> Self {
        self.poll_every = every;
        self
    }

    /// How long WeCom polls before giving up (default 6 minutes).
    #[must_use]
    pub fn poll_for(mut self, window: Duration) -> Self {
        self.poll_for = window;
        self
    }

    /// Re-deliveries of a callback that failed (default WeCom's 3).
    #[must_use]
    pub fn redeliveries(mut self, n: u32) -> Self {
        self.sender = self.sender.redeliveries(n);
        self
    }

    /// URL verification, as WeCom does when the bot's URL is saved.
    ///
    /// # Errors
    /// [`SimError::Verification`] naming what the bot answered instead.
    pub async fn verify_url(&self) -> Result<(), SimError> {
        self.sender.verify_url().await
    }

    /// Sends one callback: the attempts and the decrypted reply.
    pub async fn send(
        &self,
        inbound: &AiBotInbound,
    ) -> (AiBotInbound, Vec<Attempt>, Option<Value>) {
        let m = self.shared.stamp(inbound);
        let plain = m.to_json(&self.shared.config.aibotid);
        let (attempts, answer) = match self.sender.encrypt_plaintext(&plain) {
            Ok((query, body)) => self.sender.post(&query, body).await,
            Err(_) => (Vec::new(), None),
        };
        let reply = match answer {
            Some(Answer::AiBot(v)) => Some(v),
            _ => None,
        };
        (m, attempts, reply)
    }

    /// Sends `inbound`, then — when the answer is an open stream — polls like WeCom until
    /// `finish` or the poll window ends.
    pub async fn converse(&self, inbound: &AiBotInbound) -> AiBotConversation {
        let (inbound, attempts, first) = self.send(inbound).await;
        let stream = first
            .as_ref()
            .filter(|r| r.pointer("/stream/finish").and_then(Value::as_bool) == Some(false))
            .and_then(|r| r.pointer("/stream/id").and_then(Value::as_str))
            .map(str::to_owned);
        let mut finished = first
            .as_ref()
            .is_some_and(|r| r.pointer("/stream/finish").and_then(Value::as_bool) == Some(true));
        let mut replies = vec![first];
        if let Some(id) = stream {
            let until = Instant::now() + self.poll_for;
            while Instant::now() < until {
                tokio::time::sleep(self.poll_every).await;
                let poll = AiBotInbound::stream_poll(&inbound.from, &id);
                let poll = match &inbound.chat {
                    Some(chat) => poll.group(chat),
                    None => poll,
                };
                let (_, _, reply) = self.send(&poll).await;
                let done = reply.as_ref().is_some_and(|r| {
                    r.pointer("/stream/finish").and_then(Value::as_bool) == Some(true)
                });
                replies.push(reply);
                if done {
                    finished = true;
                    break;
                }
            }
        }
        AiBotConversation {
            inbound,
            attempts,
            replies,
            finished,
        }
    }
}
