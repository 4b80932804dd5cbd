//! Checks of WeCom's limits, shared by every outgoing message type.
//!
//! WeCom counts text lengths in UTF-8 bytes (a Chinese character is 3), except where a
//! limit is stated in characters.

use crate::error::{Limit, LimitError};

/// Fails when `value` is longer than `max` UTF-8 bytes.
pub(crate) fn max_bytes(field: &str, value: &str, max: usize) -> Result<(), LimitError> {
    if value.len() > max {
        return Err(LimitError::new(
            field,
            Limit::TooManyBytes {
                max,
                actual: value.len(),
            },
        ));
    }
    Ok(())
}

/// Fails when `value` is empty or longer than `max` UTF-8 bytes.
pub(crate) fn required_bytes(field: &str, value: &str, max: usize) -> Result<(), LimitError> {
    if value.is_empty() {
        return Err(LimitError::new(field, Limit::Empty));
    }
    max_bytes(field, value, max)
}

/// Like [`max_bytes`] for an optional value.
pub(crate) fn opt_bytes(field: &str, value: Option<&str>, max: usize) -> Result<(), LimitError> {
    value.map_or(Ok(()), |v| max_bytes(field, v, max))
}

/// Fails when `value` has more than `max` characters.
pub(crate) fn max_chars(field: &str, value: &str, max: usize) -> Result<(), LimitError> {
    let actual = value.chars().count();
    if actual > max {
        return Err(LimitError::new(field, Limit::TooManyChars { max, actual }));
    }
    Ok(())
}

/// Fails when a list has fewer than `min` or more than `max` items.
pub(crate) fn count(field: &str, actual: usize, min: usize, max: usize) -> Result<(), LimitError> {
    if actual < min || actual > max {
        return Err(LimitError::new(
            field,
            Limit::ItemCount { min, max, actual },
        ));
    }
    Ok(())
}

/// Fails when `value` is empty.
pub(crate) fn non_empty(field: &str, value: &str) -> Result<(), LimitError> {
    if value.is_empty() {
        return Err(LimitError::new(field, Limit::Empty));
    }
    Ok(())
}

/// Fails unless `value` is 1 to `max` bytes of `[0-9A-Za-z]` and the bytes in `extra`.
pub(crate) fn charset(
    field: &str,
    value: &str,
    max: usize,
    extra: &[u8],
    what: &'static str,
) -> Result<(), LimitError> {
    required_bytes(field, value, max)?;
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
    {
        return Err(LimitError::new(field, Limit::Invalid(what)));
    }
    Ok(())
}
