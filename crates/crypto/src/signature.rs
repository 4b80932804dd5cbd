//! `msg_signature`: lowercase hex SHA1 over the sorted token, timestamp, nonce and ciphertext.

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// Length of a signature in hex characters.
const SIGNATURE_HEX_LEN: usize = 40;

/// Computes `msg_signature` for a token, timestamp, nonce and ciphertext.
///
/// The four strings are sorted byte-wise and hashed in that order without building the
/// concatenation. This is the whole algorithm; it needs only the Token, so tools that
/// have no EncodingAESKey (a signature checker, a proxy) can use it alone.
///
/// ```
/// // The worked example of WeCom's encryption document (doc 91144).
/// let sig = wecom_sdk_crypto::sign(
///     "QDG6eK",
///     "1409659813",
///     "1372623149",
///     "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==",
/// );
/// assert_eq!(sig, "477715d11cdb4164915debcba66cb864d751f3e6");
/// ```
pub fn sign(token: &str, timestamp: &str, nonce: &str, encrypted: &str) -> String {
    let hex = compute(token, timestamp, nonce, encrypted);
    // Hex digits are ASCII.
    hex.iter().map(|&b| char::from(b)).collect()
}

/// SHA1 over the byte-wise sorted parts, without building their concatenation.
fn digest(token: &str, timestamp: &str, nonce: &str, encrypted: &str) -> [u8; 20] {
    let mut parts = [
        token.as_bytes(),
        timestamp.as_bytes(),
        nonce.as_bytes(),
        encrypted.as_bytes(),
    ];
    parts.sort_unstable();
    let mut sha = Sha1::new();
    for part in parts {
        sha.update(part);
    }
    sha.finalize().into()
}

/// The signature as 40 lowercase hex bytes, without allocating.
pub(crate) fn compute(
    token: &str,
    timestamp: &str,
    nonce: &str,
    encrypted: &str,
) -> [u8; SIGNATURE_HEX_LEN] {
    let mut hex = [0u8; SIGNATURE_HEX_LEN];
    // 20 digest bytes always fit 40 hex bytes.
    let _ = hex::encode_to_slice(digest(token, timestamp, nonce, encrypted), &mut hex);
    hex
}

/// Checks a received signature (hex, either case). The digests are compared in
/// constant time; only the parsing of the caller's own hex string depends on its value.
pub(crate) fn verify(
    msg_signature: &str,
    token: &str,
    timestamp: &str,
    nonce: &str,
    encrypted: &str,
) -> bool {
    let mut given = [0u8; 20];
    if msg_signature.len() != SIGNATURE_HEX_LEN
        || hex::decode_to_slice(msg_signature, &mut given).is_err()
    {
        return false;
    }
    let expected = digest(token, timestamp, nonce, encrypted);
    // An OR-fold has no early exit; `subtle` keeps the final test branch-free.
    let diff = expected
        .iter()
        .zip(given)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    bool::from(diff.ct_eq(&0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wechatpy_verify_vector() {
        let sig = sign(
            "123456",
            "1411443780",
            "437374425",
            "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==",
        );
        assert_eq!(sig, "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96");
    }

    #[test]
    fn verify_ignores_hex_case_and_rejects_other_lengths() {
        let enc = "abc";
        let sig = sign("t", "1", "2", enc);
        assert!(verify(&sig, "t", "1", "2", enc));
        assert!(verify(&sig.to_ascii_uppercase(), "t", "1", "2", enc));
        assert!(!verify(&sig[..39], "t", "1", "2", enc));
        assert!(!verify("", "t", "1", "2", enc));
        assert!(!verify(&format!("{}zz", &sig[..38]), "t", "1", "2", enc));
        assert!(!verify(&sig, "t", "1", "3", enc));
    }

    #[test]
    fn order_of_arguments_does_not_matter_only_their_sorted_order() {
        // The algorithm sorts, so swapping timestamp and nonce gives the same signature.
        assert_eq!(sign("t", "1", "2", "x"), sign("t", "2", "1", "x"));
    }
}
