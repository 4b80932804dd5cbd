//! [`CallbackCrypto`]: the configured Token + EncodingAESKey + receive id, and every
//! operation a callback endpoint performs with them.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use aes::Aes256;
use aes::cipher::{Array, BlockModeDecrypt, BlockModeEncrypt, InnerIvInit};
use base64::Engine as _;
use base64::engine::GeneralPurposeConfig;
use base64::engine::simd::Simd;
use zeroize::Zeroizing;

use crate::clock::{Clock, SystemClock};
use crate::envelope::{self, RANDOM_LEN};
use crate::key::AesKey;
use crate::{CryptoError, json, padding, random, signature, xml};

/// How the receive id found inside a decrypted message is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReceiveIdPolicy {
    /// The receive id must equal the configured one (CorpID for self-built apps, SuiteID
    /// for third-party suites, empty for AI bots). The default.
    #[default]
    Exact,
    /// Any receive id is accepted. For senders whose receive id is not known in advance;
    /// the signature still authenticates the message.
    Skip,
}

/// The callback crypto of one WeCom app: signature checks, AES decryption of incoming
/// callbacks and encryption of passive replies (the WXBizMsgCrypt algorithm).
///
/// Build it once at start-up and share it (`Clone` is cheap enough, and it is
/// `Send + Sync`). Its `Debug` output never shows the token or the key.
///
/// ```
/// use wecom_sdk_crypto::CallbackCrypto;
///
/// let crypto = CallbackCrypto::new("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")?;
/// // GET ?msg_signature=…&timestamp=…&nonce=…&echostr=… (query already URL-decoded once):
/// let echo = crypto.verify_url(
///     "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
///     "1409659589",
///     "263014780",
///     "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
/// )?;
/// assert_eq!(echo, "1616140317555161061");
/// assert!(!format!("{crypto:?}").contains("QDG6eK"));
/// # Ok::<(), wecom_sdk_crypto::CryptoError>(())
/// ```
#[derive(Clone)]
pub struct CallbackCrypto {
    token: Zeroizing<String>,
    key: AesKey,
    receive_id: String,
    policy: ReceiveIdPolicy,
    /// Seconds either side of now a timestamp may be; `None` = no replay check.
    replay_window_secs: Option<u64>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for CallbackCrypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackCrypto")
            .field("token", &"<redacted>")
            .field("key", &"<redacted>")
            .field("receive_id", &self.receive_id)
            .field("receive_id_policy", &self.policy)
            .field("replay_window_secs", &self.replay_window_secs)
            .field("clock", &self.clock)
            .finish()
    }
}

impl CallbackCrypto {
    /// Creates the crypto for one app.
    ///
    /// - `token`: the Token from the app's callback settings (used for signatures only).
    /// - `encoding_aes_key`: the 43-character EncodingAESKey.
    /// - `receive_id`: the CorpID (self-built apps), SuiteID (third-party suites), or `""`
    ///   (AI bots, personal-entity third-party apps). It is checked exactly by default; see
    ///   [`receive_id_policy`](Self::receive_id_policy).
    ///
    /// # Errors
    /// [`CryptoError::IllegalAesKey`] (-40004) when the key is not 43 letters and digits
    /// decoding to 32 bytes (whitespace around it is named as such);
    /// [`CryptoError::IllegalSetting`] (-40004) when the Token is not 3–32 letters and
    /// digits, as WeCom's admin console requires, or the receive id has whitespace.
    pub fn new(
        token: impl Into<String>,
        encoding_aes_key: &str,
        receive_id: impl Into<String>,
    ) -> Result<Self, CryptoError> {
        let token = Zeroizing::new(token.into());
        let illegal = |setting, reason: String| CryptoError::IllegalSetting { setting, reason };
        let len = token.chars().count();
        if !(3..=32).contains(&len) {
            return Err(illegal(
                "Token",
                format!("it has {len} characters; WeCom's Token has 3 to 32"),
            ));
        }
        if let Some(pos) = token.chars().position(|c| !c.is_ascii_alphanumeric()) {
            return Err(illegal(
                "Token",
                format!("character {} is not a letter or digit", pos + 1),
            ));
        }
        let receive_id = receive_id.into();
        if let Some(pos) = receive_id.chars().position(char::is_whitespace) {
            return Err(illegal(
                "receive id",
                format!("character {} is whitespace", pos + 1),
            ));
        }
        Ok(Self {
            token,
            key: AesKey::from_encoding_aes_key(encoding_aes_key)?,
            receive_id,
            policy: ReceiveIdPolicy::Exact,
            replay_window_secs: None,
            clock: Arc::new(SystemClock),
        })
    }

    /// Sets how the receive id inside incoming messages is checked.
    #[must_use]
    pub fn receive_id_policy(mut self, policy: ReceiveIdPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Rejects callbacks whose timestamp is more than `max_skew` away from now, as
    /// [`CryptoError::StaleTimestamp`] (replay protection; off by default).
    ///
    /// WeCom re-delivers an unanswered callback with its original timestamp over several
    /// seconds, so keep the window generous (minutes). Time comes from the system clock
    /// unless [`clock`](Self::clock) sets another.
    #[must_use]
    pub fn replay_window(mut self, max_skew: Duration) -> Self {
        self.replay_window_secs = Some(max_skew.as_secs());
        self
    }

    /// Sets the clock the replay window reads (tests use a [`ManualClock`](crate::ManualClock)).
    /// Without a replay window the clock is not read.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The key of an AI bot's media downloads in callback mode (the EncodingAESKey).
    pub fn media_key(&self) -> crate::MediaKey {
        crate::MediaKey::of(&self.key)
    }

    /// The configured receive id.
    pub fn receive_id(&self) -> &str {
        &self.receive_id
    }

    /// URL verification (the GET WeCom sends when the callback URL is saved): checks
    /// `msg_signature` over `echostr`, decrypts it and returns the plain echo, which the
    /// endpoint must answer verbatim within one second.
    ///
    /// Pass the query values URL-decoded exactly once (`%2B` → `+`; a `+` must not become
    /// a space).
    ///
    /// # Errors
    /// -40001 for a wrong signature (or a stale timestamp), -40010 for bad base64, -40007
    /// for a ciphertext that does not decrypt with this key, -40008 for a malformed
    /// plaintext or non-UTF-8 echo, -40005 for a foreign receive id.
    pub fn verify_url(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        echostr: &str,
    ) -> Result<String, CryptoError> {
        self.verify_signature(msg_signature, timestamp, nonce, echostr)?;
        self.decrypt_to_string(echostr)
    }

    /// Decrypts a callback POST: reads `<Encrypt>` from the XML envelope, checks the
    /// signature, decrypts, checks the receive id, and returns the plaintext message XML.
    ///
    /// # Errors
    /// -40002 for a malformed envelope, then as [`verify_url`](Self::verify_url).
    pub fn decrypt_message(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        body: &str,
    ) -> Result<String, CryptoError> {
        let encrypted = xml::read_encrypt(body)?;
        self.verify_signature(msg_signature, timestamp, nonce, &encrypted)?;
        self.decrypt_to_string(&encrypted)
    }

    /// Decrypts a JSON callback POST (`{"encrypt": …}`, also `Encrypt`; the AI-bot and
    /// JSON-callback format) and returns the plaintext message JSON.
    ///
    /// # Errors
    /// -40002 for a malformed envelope, then as [`verify_url`](Self::verify_url).
    pub fn decrypt_json_message(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        body: &str,
    ) -> Result<String, CryptoError> {
        let encrypted = json::read_encrypt(body)?;
        self.verify_signature(msg_signature, timestamp, nonce, &encrypted)?;
        self.decrypt_to_string(&encrypted)
    }

    /// Encrypts a passive reply and returns the signed envelope XML
    /// (`<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>`) to send as the body of
    /// the callback's HTTP 200. Reusing the request's timestamp and nonce is what the
    /// official samples do.
    ///
    /// # Errors
    /// -40011 when the timestamp is not decimal digits or the nonce is not 1–64 printable
    /// ASCII characters without `]]>`; -40006 as [`encrypt`](Self::encrypt).
    pub fn encrypt_reply(
        &self,
        plaintext: &str,
        timestamp: &str,
        nonce: &str,
    ) -> Result<String, CryptoError> {
        self.encrypt_reply_with_random(plaintext, timestamp, nonce, random::prefix()?)
    }

    /// [`encrypt_reply`](Self::encrypt_reply) with a fixed random prefix, for tests and
    /// reproducible fixtures. Never use a fixed prefix in production.
    ///
    /// # Errors
    /// As [`encrypt_reply`](Self::encrypt_reply).
    pub fn encrypt_reply_with_random(
        &self,
        plaintext: &str,
        timestamp: &str,
        nonce: &str,
        random: [u8; RANDOM_LEN],
    ) -> Result<String, CryptoError> {
        xml::check_reply_fields(timestamp, nonce)?;
        let frame = self.seal(plaintext.as_bytes(), &random)?;
        let mut out = String::with_capacity(
            base64::encoded_len(frame.len(), true).unwrap_or(0)
                + xml::reply_overhead(timestamp, nonce),
        );
        out.push_str(xml::REPLY_HEAD);
        let start = out.len();
        base64().encode_string(&frame, &mut out);
        let sig = signature::compute(&self.token, timestamp, nonce, &out[start..]);
        xml::finish_reply(&mut out, &sig, timestamp, nonce);
        Ok(out)
    }

    /// Encrypts a reply for a JSON callback and returns
    /// `{"encrypt","msgsignature","timestamp","nonce"}`.
    ///
    /// # Errors
    /// As [`encrypt_reply`](Self::encrypt_reply).
    pub fn encrypt_json_reply(
        &self,
        plaintext: &str,
        timestamp: &str,
        nonce: &str,
    ) -> Result<String, CryptoError> {
        xml::check_reply_fields(timestamp, nonce)?;
        let encrypted = self.encrypt(plaintext.as_bytes())?;
        let sig = self.signature(timestamp, nonce, &encrypted);
        json::Reply {
            encrypt: &encrypted,
            msgsignature: &sig,
            timestamp,
            nonce,
        }
        .to_json()
    }

    /// `msg_signature` over this app's token and the given values.
    pub fn signature(&self, timestamp: &str, nonce: &str, encrypted: &str) -> String {
        signature::sign(&self.token, timestamp, nonce, encrypted)
    }

    /// Checks `msg_signature` (in constant time) and, when configured, the replay window.
    ///
    /// # Errors
    /// [`CryptoError::InvalidSignature`] or [`CryptoError::StaleTimestamp`] (-40001).
    pub fn verify_signature(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypted: &str,
    ) -> Result<(), CryptoError> {
        if !signature::verify(msg_signature, &self.token, timestamp, nonce, encrypted) {
            return Err(CryptoError::InvalidSignature);
        }
        if let Some(max_skew_secs) = self.replay_window_secs {
            let now = match self.clock.now().duration_since(std::time::UNIX_EPOCH) {
                Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
                Err(_) => 0,
            };
            let fresh = timestamp
                .parse::<i64>()
                .is_ok_and(|ts| now.abs_diff(ts) <= max_skew_secs);
            if !fresh {
                return Err(CryptoError::StaleTimestamp {
                    timestamp: timestamp.to_owned(),
                    max_skew_secs,
                });
            }
        }
        Ok(())
    }

    /// Encrypts `plaintext` with a random prefix from the operating system's CSPRNG and
    /// returns the base64 ciphertext (the `Encrypt` value).
    ///
    /// # Errors
    /// [`CryptoError::EncryptAes`] (-40006) when the plaintext is 4 GiB or longer, or the
    /// system random source fails.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<String, CryptoError> {
        self.encrypt_with_random(plaintext, random::prefix()?)
    }

    /// Encrypts with a fixed 16-byte random prefix: deterministic, for tests and official
    /// vectors. Never use a fixed prefix in production.
    ///
    /// # Errors
    /// [`CryptoError::EncryptAes`] (-40006) when the plaintext is 4 GiB or longer.
    pub fn encrypt_with_random(
        &self,
        plaintext: &[u8],
        random: [u8; RANDOM_LEN],
    ) -> Result<String, CryptoError> {
        let frame = self.seal(plaintext, &random)?;
        Ok(base64().encode(&frame))
    }

    /// Decrypts a base64 ciphertext and returns the message bytes (without the random
    /// prefix, length and receive id), after checking the receive id. The signature is
    /// not checked here; use [`verify_url`](Self::verify_url) or
    /// [`decrypt_message`](Self::decrypt_message) for callbacks.
    ///
    /// # Errors
    /// -40010 for bad base64, -40007 for a ciphertext that is not whole AES blocks or has
    /// bad padding, -40008 for a malformed plaintext, -40005 for a foreign receive id.
    pub fn decrypt(&self, encrypted: &str) -> Result<Vec<u8>, CryptoError> {
        let (mut buf, msg) = self.open(encrypted)?;
        buf.truncate(msg.end);
        buf.drain(..msg.start);
        Ok(buf)
    }

    fn decrypt_to_string(&self, encrypted: &str) -> Result<String, CryptoError> {
        String::from_utf8(self.decrypt(encrypted)?).map_err(|e| CryptoError::InvalidUtf8 {
            valid_up_to: e.utf8_error().valid_up_to(),
        })
    }

    /// Frames, pads and encrypts in place.
    fn seal(&self, plaintext: &[u8], random: &[u8; RANDOM_LEN]) -> Result<Vec<u8>, CryptoError> {
        let mut frame = envelope::seal(random, plaintext, self.receive_id.as_bytes())?;
        let mut cbc =
            cbc::Encryptor::<Aes256>::inner_iv_init(self.key.cipher.clone(), &iv(&self.key));
        // The frame is padded to 32 bytes, so there is no tail.
        let (blocks, _tail) = Array::slice_as_chunks_mut(&mut frame);
        cbc.encrypt_blocks(blocks);
        Ok(frame)
    }

    /// Decodes and decrypts in place; returns the buffer and the range of the message.
    fn open(&self, encrypted: &str) -> Result<(Vec<u8>, Range<usize>), CryptoError> {
        let mut buf = base64()
            .decode(encrypted)
            .map_err(|e| CryptoError::DecodeBase64 {
                reason: e.to_string(),
            })?;
        if buf.is_empty() || buf.len() % 16 != 0 {
            return Err(CryptoError::DecryptAes {
                reason: "ciphertext is not a whole number of AES blocks",
            });
        }
        let mut cbc =
            cbc::Decryptor::<Aes256>::inner_iv_init(self.key.cipher.clone(), &iv(&self.key));
        let (blocks, _tail) = Array::slice_as_chunks_mut(&mut buf);
        cbc.decrypt_blocks(blocks);
        let len = padding::unpadded_len(&buf)?;
        let (msg, receive_id) = envelope::open(&buf[..len])?;
        if self.policy == ReceiveIdPolicy::Exact && receive_id != self.receive_id.as_bytes() {
            return Err(CryptoError::ReceiveIdMismatch {
                expected: self.receive_id.clone(),
                actual: String::from_utf8_lossy(receive_id).into_owned(),
            });
        }
        Ok((buf, msg))
    }
}

fn iv(key: &AesKey) -> Array<u8, aes::cipher::consts::U16> {
    Array::from(*key.iv)
}
/// Standard base64 (padded, canonical, as WeCom writes ciphertexts), with AVX2 or NEON
/// where the CPU has them: on callback-sized ciphertexts decoding takes a third of the
/// scalar engine's time and encoding half.
fn base64() -> &'static Simd {
    static ENGINE: std::sync::OnceLock<Simd> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| Simd::standard(GeneralPurposeConfig::new()))
}
