//! The plaintext frame: `random(16) ‖ msg_len (u32 BE) ‖ msg ‖ receive id`, then padding.

use crate::CryptoError;
use crate::padding;

/// Size of the random prefix.
pub(crate) const RANDOM_LEN: usize = 16;
/// Size of the random prefix plus the length field.
pub(crate) const HEADER_LEN: usize = RANDOM_LEN + 4;

/// Builds the padded frame, ready for AES-CBC, in one allocation.
///
/// # Errors
/// [`CryptoError::EncryptAes`] when `msg` is too long for the 32-bit length prefix.
pub(crate) fn seal(
    random: &[u8; RANDOM_LEN],
    msg: &[u8],
    receive_id: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let msg_len = u32::try_from(msg.len()).map_err(|_| CryptoError::EncryptAes {
        reason: "plaintext longer than 4 GiB",
    })?;
    let framed = HEADER_LEN + msg.len() + receive_id.len();
    let mut buf = Vec::with_capacity(framed + padding::pad_len(framed));
    buf.extend_from_slice(random);
    buf.extend_from_slice(&msg_len.to_be_bytes());
    buf.extend_from_slice(msg);
    buf.extend_from_slice(receive_id);
    padding::pad(&mut buf);
    Ok(buf)
}

/// Splits an unpadded frame into the message range and the receive id.
///
/// # Errors
/// [`CryptoError::IllegalBuffer`] when the frame is shorter than its header or the
/// length prefix points past its end.
pub(crate) fn open(frame: &[u8]) -> Result<(std::ops::Range<usize>, &[u8]), CryptoError> {
    let Some((header, rest)) = frame.split_first_chunk::<HEADER_LEN>() else {
        return Err(CryptoError::IllegalBuffer {
            reason: "shorter than the 20-byte header",
        });
    };
    let mut len_bytes = [0u8; 4];
    len_bytes.copy_from_slice(&header[RANDOM_LEN..]);
    let msg_len = u32::from_be_bytes(len_bytes) as usize;
    if msg_len > rest.len() {
        return Err(CryptoError::IllegalBuffer {
            reason: "length prefix points past the end",
        });
    }
    Ok((HEADER_LEN..HEADER_LEN + msg_len, &rest[msg_len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open() {
        let frame = seal(&[b'a'; 16], b"hello", b"corp").unwrap_or_default();
        let len = padding::unpadded_len(&frame).unwrap_or_default();
        let (msg, id) = open(&frame[..len]).unwrap_or((0..0, b""));
        assert_eq!(&frame[msg], b"hello");
        assert_eq!(id, b"corp");
    }

    #[test]
    fn short_or_overlong_frames_are_illegal_buffers() {
        assert_eq!(
            open(&[0; 19]).map(|_| ()).map_err(|e| e.code()),
            Err(-40008)
        );
        let mut frame = vec![0u8; 24];
        frame[19] = 5; // claims 5 bytes, has 4
        assert_eq!(open(&frame).map(|_| ()).map_err(|e| e.code()), Err(-40008));
        frame[19] = 4;
        assert!(open(&frame).is_ok());
    }
}
