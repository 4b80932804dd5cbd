//! PKCS#7 padding with WeCom's 32-byte block (pad values 1..=32), checked strictly.

use crate::CryptoError;

/// WeCom pads to a multiple of 32 bytes, not AES's 16.
pub(crate) const PAD_BLOCK: usize = 32;

/// Number of padding bytes to append to `len` bytes of data.
pub(crate) fn pad_len(len: usize) -> usize {
    PAD_BLOCK - len % PAD_BLOCK
}

/// Appends the padding to `buf`.
pub(crate) fn pad(buf: &mut Vec<u8>) {
    let n = pad_len(buf.len());
    // n is in 1..=32, so it fits a byte.
    let byte = u8::try_from(n).unwrap_or(u8::MAX);
    buf.resize(buf.len() + n, byte);
}

/// Returns the length of `buf` without its padding.
///
/// # Errors
/// [`CryptoError::DecryptAes`] when the last byte is not in 1..=32, is longer than the
/// buffer, or the padding bytes are not all equal to it.
pub(crate) fn unpadded_len(buf: &[u8]) -> Result<usize, CryptoError> {
    let bad = |reason| Err(CryptoError::DecryptAes { reason });
    let Some(&last) = buf.last() else {
        return bad("empty plaintext");
    };
    let n = usize::from(last);
    if n == 0 || n > PAD_BLOCK {
        return bad("padding value out of range 1..=32");
    }
    if n > buf.len() {
        return bad("padding longer than the plaintext");
    }
    let body = buf.len() - n;
    if buf[body..].iter().any(|&b| b != last) {
        return bad("inconsistent padding bytes");
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_multiples_of_32_with_a_full_block_when_aligned() {
        for len in 0..=100 {
            let mut buf = vec![7u8; len];
            pad(&mut buf);
            assert_eq!(buf.len() % PAD_BLOCK, 0);
            assert!(buf.len() > len && buf.len() <= len + PAD_BLOCK);
            assert_eq!(unpadded_len(&buf), Ok(len));
        }
        let mut aligned = vec![1u8; 32];
        pad(&mut aligned);
        assert_eq!(&aligned[32..], &[32u8; 32]);
    }

    #[test]
    fn rejects_bad_padding() {
        assert!(unpadded_len(&[]).is_err());
        assert!(unpadded_len(&[1, 2, 0]).is_err());
        assert!(unpadded_len(&[33; 64]).is_err());
        assert!(unpadded_len(&[5, 5, 5]).is_err());
        assert!(unpadded_len(&[1, 4, 3, 3]).is_err());
        assert_eq!(unpadded_len(&[9, 3, 3, 3]), Ok(1));
    }
}
