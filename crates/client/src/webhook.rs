//! [`WebhookClient`]: group robots (群机器人), which need no access token — the webhook
//! key is the credential.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use wecom_sdk_message::send::WebhookMessage;

use crate::api::media::{MediaType, Uploaded, check};
use crate::client::exchange;
use crate::clock::{Clock, SystemClock};
use crate::error::{ClientError, Kind};

/// WeCom's limit: messages per minute per robot.
pub const ROBOT_MESSAGES_PER_MINUTE: usize = 20;

const PATH: &str = "/cgi-bin/webhook/send";
const UPLOAD: &str = "/cgi-bin/webhook/upload_media";

/// Sends group-robot messages, keeping under 20 messages a minute per robot on the client
/// side (WeCom answers 45009 beyond). Cheap to clone; clones share the limit.
#[derive(Clone)]
pub struct WebhookClient {
    key: Arc<str>,
    base_url: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    sent: Arc<Mutex<VecDeque<i64>>>,
}

impl fmt::Debug for WebhookClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookClient")
            .field("key", &"<redacted>")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl WebhookClient {
    /// A client for the robot with webhook key `key` (the `key=` of its URL).
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into().into(),
            base_url: crate::DEFAULT_BASE_URL.to_owned(),
            http: crate::builder::fallback_http(),
            clock: Arc::new(SystemClock),
            sent: Arc::new(Mutex::new(VecDeque::new())),
        }
    }

    /// Another host (tests, the simulator).
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        url.into()
            .trim_end_matches('/')
            .clone_into(&mut self.base_url);
        self
    }

    /// Time for the rate limit (tests use a `ManualClock`).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sends a message after checking its limits and the per-minute budget.
    ///
    /// # Errors
    /// [`Kind::Invalid`] for a message over WeCom's limits and [`Kind::RateLimited`] past 20
    /// messages in the last minute (nothing sent either way); transport and API errors
    /// (93000: the webhook was removed).
    pub async fn send(&self, message: &WebhookMessage) -> Result<(), ClientError> {
        message
            .validate()
            .map_err(|e| ClientError::new(Kind::Invalid, None, e.to_string(), PATH))?;
        {
            let now = crate::clock::unix_ms(self.clock.now());
            let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
            while sent.front().is_some_and(|&t| t <= now - 60_000) {
                sent.pop_front();
            }
            if sent.len() >= ROBOT_MESSAGES_PER_MINUTE {
                return Err(ClientError::new(
                    Kind::RateLimited,
                    None,
                    "20 messages a minute per robot",
                    PATH,
                ));
            }
            sent.push_back(now);
        }
        let request = self
            .http
            .post(format!("{}{PATH}", self.base_url))
            .query(&[("key", &*self.key)])
            .json(message);
        exchange::<serde_json::Value>(request, PATH)
            .await
            .map(|_| ())
    }

    /// Uploads a file or voice for `file` / `voice` robot messages (multipart `media`;
    /// file ≤ 20 MB, voice AMR ≤ 2 MB; more than 5 bytes).
    ///
    /// # Errors
    /// [`Kind::Invalid`] before any request for another type or a size over the limit;
    /// transport and API errors.
    pub async fn upload_media(
        &self,
        kind: MediaType,
        filename: &str,
        bytes: Vec<u8>,
    ) -> Result<Uploaded, ClientError> {
        if !matches!(kind, MediaType::File | MediaType::Voice) {
            return Err(ClientError::new(
                Kind::Invalid,
                None,
                "robots take file and voice uploads only",
                UPLOAD,
            ));
        }
        check(
            UPLOAD,
            filename,
            bytes.len(),
            kind.max_bytes(),
            kind.extensions(),
        )?;
        let part = reqwest::multipart::Part::bytes(bytes).file_name(filename.to_owned());
        let request = self
            .http
            .post(format!("{}{UPLOAD}", self.base_url))
            .query(&[("key", &*self.key), ("type", kind.as_str())])
            .multipart(reqwest::multipart::Form::new().part("media", part));
        exchange(request, UPLOAD).await
    }
}
