//! The EncodingAESKey: 43 characters of base64 that decode to the 32-byte AES-256 key.

use aes::Aes256;
use aes::cipher::KeyInit;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use zeroize::Zeroizing;

use crate::CryptoError;

/// Length of an EncodingAESKey in characters.
pub(crate) const ENCODING_AES_KEY_LEN: usize = 43;

/// WeCom's keys are non-canonical base64: the 43rd character often has non-zero low
/// bits, which a strict decoder rejects although WeCom accepts the key.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The decoded key: the AES-256 key schedule and the IV (the key's first 16 bytes).
///
/// Both are wiped from memory on drop (`aes` with its `zeroize` feature, and
/// [`Zeroizing`] for the IV).
#[derive(Clone)]
pub(crate) struct AesKey {
    pub(crate) cipher: Aes256,
    pub(crate) iv: Zeroizing<[u8; 16]>,
}

impl AesKey {
    /// Validates and decodes an EncodingAESKey.
    pub(crate) fn from_encoding_aes_key(encoding_aes_key: &str) -> Result<Self, CryptoError> {
        let illegal = |reason: String| CryptoError::IllegalAesKey { reason };
        let chars = encoding_aes_key.chars().count();
        if encoding_aes_key.trim().len() != encoding_aes_key.len() {
            return Err(illegal(format!(
                "it has whitespace around it ({chars} characters); remove it, the key is exactly {ENCODING_AES_KEY_LEN} letters and digits"
            )));
        }
        if chars != ENCODING_AES_KEY_LEN {
            return Err(illegal(format!(
                "it must be {ENCODING_AES_KEY_LEN} characters long, got {chars}"
            )));
        }
        if let Some(pos) = encoding_aes_key
            .bytes()
            .position(|b| !b.is_ascii_alphanumeric())
        {
            return Err(illegal(format!(
                "character {} is not a letter or digit",
                pos + 1
            )));
        }
        Self::decode(encoding_aes_key)
    }

    /// Decodes base64 of 32 bytes (non-canonical trailing bits allowed, as WeCom's keys
    /// have them) into the key schedule and the IV.
    pub(crate) fn decode(text: &str) -> Result<Self, CryptoError> {
        let illegal = |reason: String| CryptoError::IllegalAesKey { reason };
        let mut key = Zeroizing::new([0u8; 33]);
        let len = LENIENT
            .decode_slice(text.as_bytes(), &mut key[..])
            .map_err(|e| illegal(format!("not valid base64: {e}")))?;
        if len != 32 {
            return Err(illegal(format!("decodes to {len} bytes, not 32")));
        }
        let cipher = Aes256::new_from_slice(&key[..32])
            .map_err(|_| illegal("decodes to a key of the wrong size".to_owned()))?;
        let mut iv = Zeroizing::new([0u8; 16]);
        iv.copy_from_slice(&key[..16]);
        Ok(Self { cipher, iv })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_non_canonical_key_is_accepted() {
        // Rejected by a strict base64 decoder ("Invalid last symbol"), accepted by WeCom.
        assert!(
            AesKey::from_encoding_aes_key("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C").is_ok()
        );
        assert!(
            AesKey::from_encoding_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").is_ok()
        );
    }

    #[test]
    fn bad_keys_are_typed_errors() {
        for bad in [
            "",
            "short",
            "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2", // 42
            "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2CC", // 44
            "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2+", // '+' is not in WeCom's alphabet
            "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2=",
            "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2中",
        ] {
            let err = AesKey::from_encoding_aes_key(bad).err().map(|e| e.code());
            assert_eq!(err, Some(-40004), "{bad:?}");
        }
    }

    #[test]
    fn error_never_contains_the_key() {
        let key = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2+";
        let err = AesKey::from_encoding_aes_key(key)
            .err()
            .map(|e| format!("{e} {e:?}"));
        assert!(err.is_some_and(|s| !s.contains("jWmYm7qr")));
    }
}
