//! The error type of the crate, mapped to the official WXBizMsgCrypt codes.

use std::fmt;

/// Everything that can go wrong while verifying, decrypting or encrypting a WeCom callback.
///
/// Each variant maps to one of the official library codes -40001 … -40011 (see
/// [`code`](Self::code)), so logs and support tickets can quote the number WeCom's own
/// documentation uses. [`hint`](Self::hint) gives a one-line suggestion for the fix.
///
/// The error never carries the token, the EncodingAESKey or decrypted content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// `msg_signature` does not match SHA1 over the sorted token, timestamp, nonce and
    /// ciphertext (-40001).
    #[error("msg_signature does not match the message")]
    InvalidSignature,
    /// The timestamp lies outside the configured replay window (-40001: the signature is
    /// not valid *now*).
    #[error("timestamp {timestamp:?} is outside the replay window of {max_skew_secs} s")]
    StaleTimestamp {
        /// The timestamp the request carried.
        timestamp: String,
        /// The configured window, in seconds either side of now.
        max_skew_secs: u64,
    },
    /// The XML envelope could not be read, or has no `<Encrypt>` element (-40002).
    #[error("invalid XML envelope: {reason}")]
    ParseXml {
        /// What was wrong.
        reason: String,
    },
    /// The JSON envelope could not be read, or has no `encrypt` field (-40002).
    #[error("invalid JSON envelope: {reason}")]
    ParseJson {
        /// What was wrong.
        reason: String,
    },
    /// The EncodingAESKey is not 43 characters of `[A-Za-z0-9]` that decode to 32 bytes
    /// (-40004).
    #[error("illegal EncodingAESKey: {reason}")]
    IllegalAesKey {
        /// What was wrong (never the key itself).
        reason: String,
    },
    /// The Token (3–32 letters and digits, as WeCom's admin console requires) or the
    /// receive id (no whitespace) is malformed. Reported at construction, under the one
    /// official code for a bad callback setting (-40004).
    #[error("illegal {setting}: {reason}")]
    IllegalSetting {
        /// `"Token"` or `"receive id"`.
        setting: &'static str,
        /// What was wrong (never the value itself).
        reason: String,
    },
    /// The receive id inside the message (CorpID, SuiteID, or empty for AI bots) is not the
    /// configured one (-40005).
    #[error("receive id mismatch: expected {expected:?}, message carries {actual:?}")]
    ReceiveIdMismatch {
        /// The configured receive id.
        expected: String,
        /// The receive id found in the decrypted message (lossily decoded).
        actual: String,
    },
    /// Encryption was impossible: the plaintext is too long for the 32-bit length prefix,
    /// or the system random source failed (-40006).
    #[error("encryption failed: {reason}")]
    EncryptAes {
        /// What was wrong.
        reason: &'static str,
    },
    /// The ciphertext is not whole AES blocks, or its PKCS#7 (block 32) padding is invalid
    /// (-40007).
    #[error("decryption failed: {reason}")]
    DecryptAes {
        /// What was wrong.
        reason: &'static str,
    },
    /// The decrypted buffer is shorter than its 20-byte header or its length prefix points
    /// past the end (-40008).
    #[error("illegal buffer: {reason}")]
    IllegalBuffer {
        /// What was wrong.
        reason: &'static str,
    },
    /// The decrypted message is not valid UTF-8 (-40008).
    #[error("decrypted message is not valid UTF-8 (at byte {valid_up_to})")]
    InvalidUtf8 {
        /// Length of the valid UTF-8 prefix.
        valid_up_to: usize,
    },
    /// The ciphertext (`echostr`, `Encrypt`) is not valid base64 (-40010).
    #[error("ciphertext is not valid base64: {reason}")]
    DecodeBase64 {
        /// What the decoder reported.
        reason: String,
    },
    /// The reply envelope cannot be built from these values: a timestamp that is not
    /// decimal digits, or a nonce that would break the XML (-40011).
    #[error("cannot build the reply envelope: {reason}")]
    GenReturnXml {
        /// What was wrong.
        reason: &'static str,
    },
}

impl CryptoError {
    /// The official WXBizMsgCrypt error code, -40001 … -40011.
    ///
    /// ```
    /// use wecom_sdk_crypto::CryptoError;
    /// assert_eq!(CryptoError::InvalidSignature.code(), -40001);
    /// ```
    pub fn code(&self) -> i32 {
        match self {
            Self::InvalidSignature | Self::StaleTimestamp { .. } => -40001,
            Self::ParseXml { .. } | Self::ParseJson { .. } => -40002,
            Self::IllegalAesKey { .. } | Self::IllegalSetting { .. } => -40004,
            Self::ReceiveIdMismatch { .. } => -40005,
            Self::EncryptAes { .. } => -40006,
            Self::DecryptAes { .. } => -40007,
            Self::IllegalBuffer { .. } | Self::InvalidUtf8 { .. } => -40008,
            Self::DecodeBase64 { .. } => -40010,
            Self::GenReturnXml { .. } => -40011,
        }
    }

    /// The official name of [`code`](Self::code), as the WeCom sample libraries spell it.
    pub fn code_name(&self) -> &'static str {
        match self.code() {
            -40001 => "ValidateSignature_Error",
            -40002 => "ParseXml_Error",
            -40004 => "IllegalAesKey",
            -40005 => "ValidateCorpid_Error",
            -40006 => "EncryptAES_Error",
            -40007 => "DecryptAES_Error",
            -40008 => "IllegalBuffer",
            -40010 => "DecodeBase64_Error",
            _ => "GenReturnXml_Error",
        }
    }

    /// The error for display with its official code and name:
    /// `error -40001 ValidateSignature_Error: …`.
    pub fn with_code(&self) -> DisplayWithCode<'_> {
        DisplayWithCode(self)
    }

    /// A one-line suggestion for the most common cause of this error.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::InvalidSignature => {
                "check that the Token matches the one on the app's callback page, and that timestamp, nonce and the ciphertext are passed exactly as received"
            }
            Self::StaleTimestamp { .. } => {
                "the request is older (or newer) than the replay window: check the server clock (NTP) or widen the window"
            }
            Self::ParseXml { .. } => {
                "the POST body must be the XML envelope with an <Encrypt> element, passed unchanged"
            }
            Self::ParseJson { .. } => {
                "the POST body must be the JSON envelope with an \"encrypt\" field, passed unchanged"
            }
            Self::IllegalAesKey { .. } => {
                "copy the EncodingAESKey again from the app's callback page: exactly 43 letters and digits"
            }
            Self::IllegalSetting { .. } => {
                "copy the Token (3–32 letters and digits) and the CorpID again from the app's callback page, without spaces"
            }
            Self::ReceiveIdMismatch { .. } => {
                "use the CorpID for self-built apps, the SuiteID for third-party suites, or an empty receive id (policy Skip) for AI bots"
            }
            Self::EncryptAes { .. } => "the plaintext must be shorter than 4 GiB",
            Self::DecryptAes { .. } | Self::IllegalBuffer { .. } | Self::InvalidUtf8 { .. } => {
                "the EncodingAESKey is probably not the one this callback was encrypted with"
            }
            Self::DecodeBase64 { .. } => {
                "the ciphertext was altered in transit: URL-decode the query exactly once, and do not turn '+' into a space"
            }
            Self::GenReturnXml { .. } => {
                "pass the request's timestamp (decimal digits) and a nonce without control characters or ']]>'"
            }
        }
    }
}

/// A display wrapper (as `Path::display` returns one): shows the error as
/// `error -40001 ValidateSignature_Error: <message>`, for tools that report an error with
/// its official code. Made by [`CryptoError::with_code`].
#[derive(Debug, Clone, Copy)]
pub struct DisplayWithCode<'a>(pub &'a CryptoError);

impl fmt::Display for DisplayWithCode<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error {} {}: {}",
            self.0.code(),
            self.0.code_name(),
            self.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_official_code_and_a_hint() {
        let all = [
            (CryptoError::InvalidSignature, -40001),
            (
                CryptoError::StaleTimestamp {
                    timestamp: "1".into(),
                    max_skew_secs: 300,
                },
                -40001,
            ),
            (CryptoError::ParseXml { reason: "x".into() }, -40002),
            (CryptoError::ParseJson { reason: "x".into() }, -40002),
            (CryptoError::IllegalAesKey { reason: "x".into() }, -40004),
            (
                CryptoError::ReceiveIdMismatch {
                    expected: "a".into(),
                    actual: "b".into(),
                },
                -40005,
            ),
            (CryptoError::EncryptAes { reason: "x" }, -40006),
            (CryptoError::DecryptAes { reason: "x" }, -40007),
            (CryptoError::IllegalBuffer { reason: "x" }, -40008),
            (CryptoError::InvalidUtf8 { valid_up_to: 3 }, -40008),
            (CryptoError::DecodeBase64 { reason: "x".into() }, -40010),
            (CryptoError::GenReturnXml { reason: "x" }, -40011),
        ];
        for (err, code) in all {
            assert_eq!(err.code(), code, "{err:?}");
            assert!(!err.hint().is_empty());
            let shown = DisplayWithCode(&err).to_string();
            assert!(
                shown.starts_with(&format!("error {code} {}: ", err.code_name())),
                "{shown}"
            );
        }
    }

    #[test]
    fn error_is_send_sync_static() {
        fn assert_bounds<T: Send + Sync + 'static + std::error::Error>() {}
        assert_bounds::<CryptoError>();
    }
}
