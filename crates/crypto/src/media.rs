//! [`MediaKey`]: the AES key of an AI bot's (智能机器人) encrypted images and files.

use aes::Aes256;
use aes::cipher::{Array, BlockModeDecrypt, BlockModeEncrypt, InnerIvInit};

use crate::key::AesKey;
use crate::{CryptoError, padding};

/// The key that decrypts an AI bot's media downloads: AES-256-CBC with the key's first
/// 16 bytes as IV and PKCS#7 padding to 32 bytes (as callbacks, without the framing).
///
/// In callback mode it is the bot's EncodingAESKey
/// ([`CallbackCrypto::media_key`](crate::CallbackCrypto::media_key)); over the WebSocket
/// connection each image or file carries its own base64 `aeskey`
/// ([`from_base64`](Self::from_base64)). `Debug` never shows the key.
///
/// ```
/// use wecom_sdk_crypto::MediaKey;
/// let key = MediaKey::from_base64("kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aQ")?;
/// let sealed = key.encrypt(b"\x89PNG...");
/// assert_eq!(key.decrypt(&sealed)?, b"\x89PNG...");
/// # Ok::<(), wecom_sdk_crypto::CryptoError>(())
/// ```
#[derive(Clone)]
pub struct MediaKey(AesKey);

impl std::fmt::Debug for MediaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MediaKey(…)")
    }
}

impl MediaKey {
    /// A key from base64 of 32 bytes: an EncodingAESKey (43 characters) or a file's
    /// `aeskey` (with or without its `=`; `+` and `/` allowed).
    ///
    /// # Errors
    /// [`CryptoError::IllegalAesKey`] (-40004) when it is not base64 of 32 bytes.
    pub fn from_base64(key: &str) -> Result<Self, CryptoError> {
        let trimmed = key.trim_end_matches('=');
        if trimmed.len() != 43 {
            return Err(CryptoError::IllegalAesKey {
                reason: format!(
                    "a media key is 43 base64 characters (32 bytes), got {}",
                    trimmed.chars().count()
                ),
            });
        }
        AesKey::decode(trimmed).map(Self)
    }

    pub(crate) fn of(key: &AesKey) -> Self {
        Self(key.clone())
    }

    /// Decrypts a downloaded file.
    ///
    /// # Errors
    /// [`CryptoError::DecryptAes`] (-40007) when the data is not whole AES blocks or its
    /// padding is wrong (a wrong key, or a truncated download).
    pub fn decrypt(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if data.is_empty() || !data.len().is_multiple_of(16) {
            return Err(CryptoError::DecryptAes {
                reason: "the file is not a whole number of AES blocks",
            });
        }
        let mut buf = data.to_vec();
        let mut cbc = cbc::Decryptor::<Aes256>::inner_iv_init(self.0.cipher.clone(), &self.iv());
        let (blocks, _tail) = Array::slice_as_chunks_mut(&mut buf);
        cbc.decrypt_blocks(blocks);
        let len = padding::unpadded_len(&buf)?;
        buf.truncate(len);
        Ok(buf)
    }

    /// Encrypts a file as WeCom does (for simulators and tests).
    pub fn encrypt(&self, plain: &[u8]) -> Vec<u8> {
        let mut buf = plain.to_vec();
        padding::pad(&mut buf);
        let mut cbc = cbc::Encryptor::<Aes256>::inner_iv_init(self.0.cipher.clone(), &self.iv());
        let (blocks, _tail) = Array::slice_as_chunks_mut(&mut buf);
        cbc.encrypt_blocks(blocks);
        buf
    }

    fn iv(&self) -> Array<u8, aes::cipher::consts::U16> {
        Array::from(*self.0.iv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aQ";

    proptest! {
        #[test]
        fn encrypt_then_decrypt_is_identity(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let key = MediaKey::from_base64(KEY).unwrap();
            let sealed = key.encrypt(&data);
            prop_assert_eq!(sealed.len() % 32, 0);
            prop_assert_eq!(key.decrypt(&sealed).unwrap(), data);
        }

        #[test]
        fn decrypting_junk_never_panics(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = MediaKey::from_base64(KEY).unwrap().decrypt(&data);
        }
    }

    #[test]
    fn keys_with_padding_and_symbols_are_read_and_bad_ones_refused() {
        let padded = format!("{KEY}=");
        assert!(MediaKey::from_base64(&padded).is_ok());
        assert!(MediaKey::from_base64("+/+/EV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aQ").is_ok());
        for bad in ["", "short", "!WxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aQ"] {
            assert_eq!(
                MediaKey::from_base64(bad).unwrap_err().code(),
                -40004,
                "{bad}"
            );
        }
        let key = MediaKey::from_base64(KEY).unwrap();
        assert_eq!(key.decrypt(&[0; 15]).unwrap_err().code(), -40007);
        assert_eq!(format!("{key:?}"), "MediaKey(…)");
    }

    #[test]
    fn the_callback_key_decrypts_what_the_media_key_encrypts() {
        let crypto = crate::CallbackCrypto::new("token", KEY, "").unwrap();
        let sealed = MediaKey::from_base64(KEY).unwrap().encrypt(b"file");
        assert_eq!(crypto.media_key().decrypt(&sealed).unwrap(), b"file");
    }
}
