//! The callback sender: WeCom's side of a callback — encrypt, sign, POST, wait 5 s,
//! re-deliver, then decrypt and verify what the bot answered.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::Value;
use wecom_sdk_crypto::{CallbackCrypto, ReceiveIdPolicy};
use wecom_sdk_message::reply::ReplyDocument;

use crate::http::{Conn, Target};
use crate::{Inbound, SimError};

/// Which envelope the bot expects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// App callbacks: XML, `receive_id` = CorpID.
    Xml,
    /// AI-bot (智能机器人) callbacks: JSON, empty receive id, JSON replies.
    AiBot {
        /// The bot's `aibotid`.
        aibotid: String,
    },
}

/// What the bot answered, decrypted and verified.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Answer {
    /// HTTP 200 with an empty body: "no passive reply" (the bot may answer actively).
    Empty,
    /// A passive reply, signature checked and decrypted.
    Passive(ReplyDocument),
    /// An AI-bot reply (JSON), signature checked and decrypted.
    AiBot(Value),
    /// An answer WeCom would reject: a wrong signature, undecryptable or unreadable.
    Invalid {
        /// Why.
        reason: String,
        /// The body received (cut to 512 bytes).
        body: String,
    },
}

impl Answer {
    /// The text a customer would read, if any.
    pub fn text(&self) -> Option<String> {
        match self {
            Self::Passive(doc) => doc.text(),
            Self::AiBot(v) => {
                let kind = v.get("msgtype").and_then(Value::as_str)?;
                let object = v.get(kind)?;
                object
                    .get("content")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }
            Self::Empty | Self::Invalid { .. } => None,
        }
    }
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// HTTP 200: WeCom counts the callback as received.
    Ok,
    /// Another status: WeCom counts it as a failure and re-delivers.
    Status(u16),
    /// No answer within the timeout (WeCom: 5 s): the connection is dropped.
    Timeout,
    /// The connection failed.
    Connection(String),
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// How long it took.
    pub elapsed: Duration,
    /// How it ended.
    pub outcome: AttemptOutcome,
}

/// What happened to one callback: every attempt and the final answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The callback as sent (time and `MsgId` filled in).
    pub inbound: Inbound,
    /// Every attempt, the first and the re-deliveries.
    pub attempts: Vec<Attempt>,
    /// The answer of the attempt that got HTTP 200; `None` when every attempt failed.
    pub answer: Option<Answer>,
}

impl Delivery {
    /// Re-deliveries made (attempts after the first).
    pub fn redeliveries(&self) -> usize {
        self.attempts.len().saturating_sub(1)
    }

    /// Whether an attempt got HTTP 200.
    pub fn delivered(&self) -> bool {
        self.answer.is_some()
    }

    /// The reply text, if the bot answered passively with text or news.
    pub fn reply_text(&self) -> Option<String> {
        self.answer.as_ref().and_then(Answer::text)
    }
}

/// Sends callbacks to a bot the way WeCom does.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use wecom_sdk_sim::{CallbackSender, Inbound};
/// let sender = CallbackSender::new(
///     "http://127.0.0.1:8080/wecom/callback",
///     "QDG6eK",
///     "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
///     "wx5823bf96d3bd56c7",
/// )?;
/// sender.verify_url().await?;
/// let delivery = sender.send(&Inbound::text("zhangsan", "几点下班？")).await;
/// println!("{:?} after {} re-deliveries", delivery.reply_text(), delivery.redeliveries());
/// # Ok(()) }
/// ```
pub struct CallbackSender {
    target: Target,
    crypto: CallbackCrypto,
    receive_id: String,
    format: Format,
    timeout: Duration,
    redeliveries: u32,
    redelivery_delay: Duration,
    agent_id: Option<u64>,
}

impl std::fmt::Debug for CallbackSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackSender")
            .field("target", &self.target)
            .field("receive_id", &self.receive_id)
            .field("format", &self.format)
            .field("timeout", &self.timeout)
            .field("redeliveries", &self.redeliveries)
            .finish_non_exhaustive()
    }
}

impl CallbackSender {
    /// A sender for the bot at `url` (`http://…`), with the app's callback Token,
    /// EncodingAESKey and receive id (the CorpID). WeCom's timing: a 5-second timeout and
    /// up to 3 re-deliveries.
    ///
    /// # Errors
    /// [`SimError::Config`] for a URL that is not `http://host[:port]/path`;
    /// [`SimError::Crypto`] for a malformed EncodingAESKey.
    pub fn new(url: &str, token: &str, aes_key: &str, receive_id: &str) -> Result<Self, SimError> {
        Ok(Self {
            target: Target::parse(url)?,
            crypto: CallbackCrypto::new(token, aes_key, receive_id)?
                .receive_id_policy(ReceiveIdPolicy::Exact),
            receive_id: receive_id.to_owned(),
            format: Format::Xml,
            timeout: Duration::from_secs(5),
            redeliveries: 3,
            redelivery_delay: Duration::ZERO,
            agent_id: None,
        })
    }

    /// How long to wait for an answer before dropping the connection (WeCom: 5 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many times a failed delivery is repeated (WeCom: 3).
    #[must_use]
    pub fn redeliveries(mut self, n: u32) -> Self {
        self.redeliveries = n;
        self
    }

    /// A pause before each re-delivery (default none).
    #[must_use]
    pub fn redelivery_delay(mut self, delay: Duration) -> Self {
        self.redelivery_delay = delay;
        self
    }

    /// The `AgentID` of messages that set none.
    #[must_use]
    pub fn agent(mut self, agent_id: u64) -> Self {
        self.agent_id = Some(agent_id);
        self
    }

    /// Sends AI-bot JSON callbacks instead of app XML (the receive id should be `""`).
    #[must_use]
    pub fn aibot(mut self, aibotid: &str) -> Self {
        self.format = Format::AiBot {
            aibotid: aibotid.to_owned(),
        };
        self
    }

    /// The receive id (CorpID) written as `ToUserName`.
    pub fn receive_id(&self) -> &str {
        &self.receive_id
    }

    /// URL verification, as WeCom does when the callback URL is saved: a GET with an
    /// encrypted `echostr`; the bot must answer 200 with the decrypted echo.
    ///
    /// # Errors
    /// [`SimError::Verification`] naming what the bot answered instead.
    pub async fn verify_url(&self) -> Result<(), SimError> {
        let echo = format!("sim-echo-{}", nonce());
        let echostr = self.crypto.encrypt(echo.as_bytes())?;
        let (timestamp, nonce) = (unix_now().to_string(), nonce());
        let signature = self.crypto.signature(&timestamp, &nonce, &echostr);
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("msg_signature", &signature)
            .append_pair("timestamp", &timestamp)
            .append_pair("nonce", &nonce)
            .append_pair("echostr", &echostr)
            .finish();
        let result = tokio::time::timeout(self.timeout, async {
            let mut conn = Conn::connect(&self.target).await?;
            conn.exchange(
                hyper::Method::GET,
                &self.target.path_and_query(&query),
                None,
                Bytes::new(),
            )
            .await
        })
        .await;
        match result {
            Err(_) => Err(SimError::Verification(format!(
                "no answer within {:?}",
                self.timeout
            ))),
            Ok(Err(e)) => Err(SimError::Verification(e.to_string())),
            Ok(Ok((200, body))) if body == echo.as_bytes() => Ok(()),
            Ok(Ok((status, body))) => Err(SimError::Verification(format!(
                "HTTP {status} with {:?}, expected HTTP 200 with the decrypted echostr {echo:?}",
                cut(&body)
            ))),
        }
    }

    /// The encrypted request for a callback: `(query, body)`, signed like WeCom.
    ///
    /// # Errors
    /// [`SimError::Crypto`] when encryption fails (an OS random-source failure).
    pub fn encrypt(&self, inbound: &Inbound) -> Result<(String, String), SimError> {
        let plaintext = match &self.format {
            Format::Xml => inbound.to_xml(&self.receive_id, self.agent_id),
            Format::AiBot { aibotid } => inbound.to_aibot_json(aibotid),
        };
        self.encrypt_plaintext(&plaintext)
    }

    /// The encrypted request for a decrypted callback body: `(query, body)`.
    pub(crate) fn encrypt_plaintext(&self, plaintext: &str) -> Result<(String, String), SimError> {
        let (timestamp, nonce) = (unix_now().to_string(), nonce());
        let encrypted = self.crypto.encrypt(plaintext.as_bytes())?;
        let signature = self.crypto.signature(&timestamp, &nonce, &encrypted);
        let body = match &self.format {
            Format::Xml => format!(
                "<xml><ToUserName><![CDATA[{}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[{}]]></AgentID></xml>",
                self.receive_id,
                self.agent_id.map_or_else(String::new, |a| a.to_string())
            ),
            Format::AiBot { .. } => serde_json::json!({ "encrypt": encrypted }).to_string(),
        };
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("msg_signature", &signature)
            .append_pair("timestamp", &timestamp)
            .append_pair("nonce", &nonce)
            .finish();
        Ok((query, body))
    }

    /// Delivers one callback: POST, and on a timeout, a failed connection or a non-200
    /// status the identical request again, up to the re-delivery limit.
    pub async fn send(&self, inbound: &Inbound) -> Delivery {
        let inbound = inbound.clone().stamped();
        let (attempts, answer) = match self.encrypt(&inbound) {
            Ok((query, body)) => self.post(&query, body).await,
            Err(e) => (
                vec![Attempt {
                    elapsed: Duration::ZERO,
                    outcome: AttemptOutcome::Connection(e.to_string()),
                }],
                None,
            ),
        };
        Delivery {
            inbound,
            attempts,
            answer,
        }
    }

    /// POSTs an encrypted callback like WeCom (re-delivering on failures): every attempt
    /// and the answer of the one that got HTTP 200.
    pub(crate) async fn post(&self, query: &str, body: String) -> (Vec<Attempt>, Option<Answer>) {
        let path = self.target.path_and_query(query);
        let content_type = match self.format {
            Format::Xml => "text/xml",
            Format::AiBot { .. } => "application/json",
        };
        let body = Bytes::from(body);
        let mut attempts = Vec::new();
        for attempt in 0..=self.redeliveries {
            if attempt > 0 && !self.redelivery_delay.is_zero() {
                tokio::time::sleep(self.redelivery_delay).await;
            }
            let started = Instant::now();
            let result = tokio::time::timeout(self.timeout, async {
                let mut conn = Conn::connect(&self.target).await?;
                conn.exchange(hyper::Method::POST, &path, Some(content_type), body.clone())
                    .await
            })
            .await;
            let elapsed = started.elapsed();
            let outcome = match result {
                Err(_) => AttemptOutcome::Timeout,
                Ok(Err(e)) => AttemptOutcome::Connection(e.to_string()),
                Ok(Ok((200, reply))) => {
                    attempts.push(Attempt {
                        elapsed,
                        outcome: AttemptOutcome::Ok,
                    });
                    return (attempts, Some(self.read_answer(&reply)));
                }
                Ok(Ok((status, _))) => AttemptOutcome::Status(status),
            };
            attempts.push(Attempt { elapsed, outcome });
        }
        (attempts, None)
    }

    /// Decrypts and verifies a 200's body.
    pub(crate) fn read_answer(&self, body: &[u8]) -> Answer {
        let invalid = |reason: String| Answer::Invalid {
            reason,
            body: cut(body),
        };
        let Ok(text) = std::str::from_utf8(body) else {
            return invalid("the body is not UTF-8".to_owned());
        };
        if text.trim().is_empty() {
            return Answer::Empty;
        }
        match &self.format {
            Format::Xml => {
                let (Some(sig), Some(ts), Some(nonce)) = (
                    xml_field(text, "MsgSignature"),
                    xml_field(text, "TimeStamp"),
                    xml_field(text, "Nonce"),
                ) else {
                    return invalid(
                        "not an encrypted reply: MsgSignature, TimeStamp or Nonce is missing"
                            .to_owned(),
                    );
                };
                match self.crypto.decrypt_message(sig, ts, nonce, text) {
                    Err(e) => invalid(format!("reply rejected ({}): {e}", e.code())),
                    Ok(plain) => match ReplyDocument::from_xml(&plain) {
                        Ok(doc) => Answer::Passive(doc),
                        Err(e) => invalid(format!("reply XML unreadable: {e}")),
                    },
                }
            }
            Format::AiBot { .. } => {
                let Ok(v) = serde_json::from_str::<Value>(text) else {
                    return invalid("not JSON".to_owned());
                };
                let field = |name: &str| match v.get(name) {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                };
                let (Some(sig), Some(ts), Some(nonce)) =
                    (field("msgsignature"), field("timestamp"), field("nonce"))
                else {
                    return invalid(
                        "not an encrypted reply: msgsignature, timestamp or nonce is missing"
                            .to_owned(),
                    );
                };
                match self.crypto.decrypt_json_message(&sig, &ts, &nonce, text) {
                    Err(e) => invalid(format!("reply rejected ({}): {e}", e.code())),
                    Ok(plain) => match serde_json::from_str(&plain) {
                        Ok(v) => Answer::AiBot(v),
                        Err(e) => invalid(format!("reply JSON unreadable: {e}")),
                    },
                }
            }
        }
    }
}

/// The text of `<name>` in a flat XML document, CDATA unwrapped.
fn xml_field<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    let value = xml[start..start + len].trim();
    Some(
        value
            .strip_prefix("<![CDATA[")
            .and_then(|v| v.strip_suffix("]]>"))
            .unwrap_or(value),
    )
}

fn cut(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(512)]);
    text.into_owned()
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A nonce of 10 digits, different on every call.
pub(crate) fn nonce() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    // A multiplicative hash spreads consecutive values over the digits.
    let mixed = (seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_mul(0x2545_F491_4F6C_DD1D);
    format!("{:010}", mixed % 10_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_fields_with_and_without_cdata() {
        let xml = "<xml>\n<Encrypt><![CDATA[abc]]></Encrypt>\n<MsgSignature><![CDATA[sig]]></MsgSignature>\n<TimeStamp>123</TimeStamp>\n</xml>";
        assert_eq!(xml_field(xml, "MsgSignature"), Some("sig"));
        assert_eq!(xml_field(xml, "TimeStamp"), Some("123"));
        assert_eq!(xml_field(xml, "Nonce"), None);
    }

    #[test]
    fn nonces_differ() {
        let a = nonce();
        let b = nonce();
        assert_ne!(a, b);
        assert_eq!(a.len(), 10);
    }
}
