//! [`MediaFetcher`]: downloads and decrypts the images and files of AI-bot messages.

use std::sync::Arc;
use std::time::Duration;

use wecom_sdk_crypto::{CryptoError, MediaKey};
use wecom_sdk_message::aibot::AiBotMedia;

use crate::Clock;

/// How long WeCom's media URLs work after the message was sent.
pub const MEDIA_URL_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// The largest download accepted by default (WeCom's files go up to 20 MB).
pub const DEFAULT_MAX_MEDIA: usize = 20 * 1024 * 1024;

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The URL is past its five minutes (by the message's `create_time`, or WeCom said
    /// so with 403/404/410): ask the customer to send it again.
    #[error("the media URL expired ({age_secs} s after the message; WeCom's URLs live 300 s)")]
    Expired {
        /// Seconds since the message was sent (0 when WeCom refused before that was known).
        age_secs: u64,
    },
    /// The file is larger than the configured limit.
    #[error("the file is over the {limit}-byte limit")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// WeCom answered another HTTP status.
    #[error("the download answered HTTP {status}")]
    Status {
        /// The status.
        status: u16,
    },
    /// The connection failed.
    #[error("the download failed: {0}")]
    Transport(String),
    /// The file does not decrypt with its key (a wrong key or a truncated download).
    #[error("the file does not decrypt: {0}")]
    Decrypt(#[from] CryptoError),
    /// The message has no `url`, or (WebSocket mode) no `aeskey` and the bot has no key.
    #[error("the message carries no {0}")]
    Missing(&'static str),
}

/// Downloads an AI-bot message's image or file and decrypts it: with the item's own
/// `aeskey` (WebSocket mode) or the bot's EncodingAESKey (callback mode). Handlers get
/// one in [`Context::media`](crate::Context::media).
#[derive(Clone)]
pub struct MediaFetcher {
    http: reqwest::Client,
    key: Option<MediaKey>,
    max_bytes: usize,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MediaFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaFetcher")
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl MediaFetcher {
    /// A fetcher with the bot's key (callback mode; `None` over the WebSocket).
    pub(crate) fn new(
        http: reqwest::Client,
        key: Option<MediaKey>,
        max_bytes: usize,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            http,
            key,
            max_bytes,
            clock,
        }
    }

    /// The largest file accepted.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Downloads and decrypts `media`, sent at `sent_at` (the message's `create_time`,
    /// unix seconds, when known).
    ///
    /// # Errors
    /// [`MediaError::Expired`] past the URL's five minutes; [`MediaError::TooLarge`]
    /// over the limit (the download stops there); the others as named.
    pub async fn fetch(
        &self,
        media: &AiBotMedia,
        sent_at: Option<i64>,
    ) -> Result<Vec<u8>, MediaError> {
        if media.url.is_empty() {
            return Err(MediaError::Missing("url"));
        }
        let own;
        let key = match &media.aeskey {
            Some(k) => {
                own = MediaKey::from_base64(k)?;
                &own
            }
            None => self.key.as_ref().ok_or(MediaError::Missing("aeskey"))?,
        };
        if let Some(sent) = sent_at {
            let age = crate::bot::unix_secs(self.clock.now()).saturating_sub(sent);
            let age = u64::try_from(age).unwrap_or(0);
            if age > MEDIA_URL_LIFETIME.as_secs() {
                return Err(MediaError::Expired { age_secs: age });
            }
        }
        let mut response = self
            .http
            .get(&media.url)
            .send()
            .await
            .map_err(|e| MediaError::Transport(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        match status {
            200 => {}
            403 | 404 | 410 => return Err(MediaError::Expired { age_secs: 0 }),
            _ => return Err(MediaError::Status { status }),
        }
        // AES adds at most 32 bytes of padding.
        let limit = self.max_bytes.saturating_add(32);
        if response
            .content_length()
            .is_some_and(|n| usize::try_from(n).unwrap_or(usize::MAX) > limit)
        {
            return Err(MediaError::TooLarge {
                limit: self.max_bytes,
            });
        }
        let mut data = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| MediaError::Transport(e.without_url().to_string()))?
        {
            if data.len() + chunk.len() > limit {
                return Err(MediaError::TooLarge {
                    limit: self.max_bytes,
                });
            }
            data.extend_from_slice(&chunk);
        }
        let plain = key.decrypt(&data)?;
        if plain.len() > self.max_bytes {
            return Err(MediaError::TooLarge {
                limit: self.max_bytes,
            });
        }
        Ok(plain)
    }
}
