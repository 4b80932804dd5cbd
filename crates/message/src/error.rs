//! Errors: parsing what WeCom sends, and checking what we send against WeCom's limits.

/// A callback (XML) or AI-bot (JSON) message could not be read.
///
/// Only malformed documents and missing required header fields are errors; an unknown
/// message type, event or change type is never an error (it parses into an `Unknown`
/// variant).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The XML is malformed (or uses a DOCTYPE, an unknown entity, or nests too deeply).
    #[error("malformed XML at byte {position}: {reason}")]
    Xml {
        /// Byte offset of the problem.
        position: u64,
        /// What was wrong.
        reason: String,
    },
    /// The JSON is malformed or not an object.
    #[error("malformed JSON: {reason}")]
    Json {
        /// What was wrong.
        reason: String,
    },
    /// A required field is absent.
    #[error("missing field <{field}>")]
    MissingField {
        /// The field's name as WeCom spells it.
        field: &'static str,
    },
    /// A field has a value of the wrong shape (a number that is not one).
    #[error("field <{field}> has an invalid value {value:?}")]
    InvalidField {
        /// The field's name as WeCom spells it.
        field: &'static str,
        /// The value found (cut to 64 bytes).
        value: String,
    },
}

impl ParseError {
    pub(crate) fn invalid(field: &'static str, value: &str) -> Self {
        Self::InvalidField {
            field,
            value: prefix(value, 64).to_owned(),
        }
    }
}

/// The first `max` bytes of `text` (cut on a character boundary): errors quote input,
/// and hostile input must not make huge errors.
pub(crate) fn prefix(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// An outgoing message breaks one of WeCom's limits; found before any network call.
///
/// `field` is the JSON path as WeCom names it (`news.articles[2].title`), so the message
/// points at the exact value to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct LimitError {
    /// Path of the offending field.
    pub field: String,
    /// What is wrong with it.
    pub problem: Limit,
}

/// The kind of limit an outgoing value breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Limit {
    /// Longer than WeCom accepts, in UTF-8 bytes (WeCom counts bytes).
    #[error("{actual} bytes, at most {max} allowed")]
    TooManyBytes {
        /// The limit.
        max: usize,
        /// The length found.
        actual: usize,
    },
    /// Longer than WeCom accepts, in characters.
    #[error("{actual} characters, at most {max} allowed")]
    TooManyChars {
        /// The limit.
        max: usize,
        /// The length found.
        actual: usize,
    },
    /// A list with too many or too few items.
    #[error("{actual} items, {min} to {max} allowed")]
    ItemCount {
        /// Fewest items.
        min: usize,
        /// Most items.
        max: usize,
        /// Items found.
        actual: usize,
    },
    /// A required value is empty.
    #[error("must not be empty")]
    Empty,
    /// The value has characters or a shape WeCom refuses.
    #[error("invalid value: {0}")]
    Invalid(&'static str),
}

impl LimitError {
    pub(crate) fn new(field: impl Into<String>, problem: Limit) -> Self {
        Self {
            field: field.into(),
            problem,
        }
    }
}
