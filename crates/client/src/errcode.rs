//! The WeCom error codes the client acts on, with a hint each.
//!
//! Source: the global error code page (developer.work.weixin.qq.com/document/path/90313)
//! as crawled 2024-04-08 (xen0n/go-workwx `errcodes`), summarized in the team's protocol
//! reference §7. Copied by hand; nothing is scraped at build time.

/// What the client does about an error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryClass {
    /// Drop the access token if it is still the one that failed, fetch a new one, repeat
    /// the call once.
    RefreshToken,
    /// Back off; a repeat may succeed later (system busy, rate limits).
    BackOff,
    /// A repeat cannot succeed: the request or the configuration is wrong.
    Never,
}

/// One catalogued code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrCode {
    /// The code.
    pub code: i64,
    /// What it means.
    pub meaning: &'static str,
    /// How to fix it.
    pub hint: &'static str,
    /// What the client does.
    pub retry: RetryClass,
}

const fn e(code: i64, meaning: &'static str, hint: &'static str, retry: RetryClass) -> ErrCode {
    ErrCode {
        code,
        meaning,
        hint,
        retry,
    }
}

use RetryClass::{BackOff, Never, RefreshToken};

/// The catalogue, sorted by code.
pub const CATALOGUE: &[ErrCode] = &[
    e(-1, "system busy", "retry later with backoff", BackOff),
    e(
        40001,
        "invalid secret",
        "check the corp id / secret pair; the secret may have been reset or the app disabled",
        RefreshToken,
    ),
    e(40003, "invalid UserID", "check the member's UserID", Never),
    e(
        40013,
        "invalid CorpID",
        "check the corp id (starts with ww)",
        Never,
    ),
    e(
        40014,
        "invalid access_token",
        "the token was replaced or is malformed; the client refreshes it once",
        RefreshToken,
    ),
    e(
        40056,
        "invalid agentid",
        "use the AgentId of the app whose secret fetched the token",
        Never,
    ),
    e(
        40058,
        "invalid parameter",
        "the JSON body is malformed or a field is too long",
        Never,
    ),
    e(
        41001,
        "access_token missing",
        "the token must be in the URL query (a client bug)",
        Never,
    ),
    e(
        42001,
        "access_token expired",
        "the client refreshes it once and repeats the call",
        RefreshToken,
    ),
    e(
        42009,
        "suite_access_token expired",
        "refresh the suite token",
        RefreshToken,
    ),
    e(
        44004,
        "empty text content",
        "the message text is empty",
        Never,
    ),
    e(
        45002,
        "content too long",
        "text is at most 2048 bytes",
        Never,
    ),
    e(
        45009,
        "API frequency limit exceeded",
        "back off for the limit's window; do not spin",
        BackOff,
    ),
    e(
        45033,
        "concurrency limit on this API",
        "lower the concurrency",
        BackOff,
    ),
    e(
        48002,
        "API not permitted",
        "grant the app this API in the admin console",
        Never,
    ),
    e(
        60011,
        "no permission for the member, department or tag",
        "widen the app's visibility",
        Never,
    ),
    e(
        60020,
        "untrusted IP",
        "add the server's IP to the app's trusted IPs",
        Never,
    ),
    e(
        81013,
        "all recipients invalid",
        "check touser / toparty / totag and the app's visibility",
        Never,
    ),
    e(
        95001,
        "KF: too many messages for one customer message",
        "at most 5 replies per customer message",
        Never,
    ),
    e(
        95002,
        "KF: outside the 48 h window",
        "wait for the customer to write again",
        Never,
    ),
];

/// The catalogue entry of `code`, if catalogued.
pub fn lookup(code: i64) -> Option<&'static ErrCode> {
    CATALOGUE.iter().find(|e| e.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_unique() {
        assert!(CATALOGUE.windows(2).all(|w| w[0].code < w[1].code));
        assert_eq!(
            lookup(42001).map(|e| e.retry),
            Some(RetryClass::RefreshToken)
        );
        assert_eq!(lookup(12345), None);
    }
}
