//! [`CallbackRequest`] and [`CallbackResponse`]: the callback endpoint without a web
//! framework, and the exact query decoding WeCom's signatures need.

use bytes::Bytes;
use percent_encoding::percent_decode_str;

/// The HTTP method of a callback request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// URL verification (`echostr`).
    Get,
    /// A message or event.
    Post,
    /// Anything else (answered 405).
    Other,
}

/// One request to the callback endpoint, as any HTTP server sees it.
///
/// ```
/// use wecom_sdk_bot::CallbackRequest;
/// let req = CallbackRequest::post("msg_signature=a%2Bb&timestamp=1&nonce=2", "<xml/>");
/// assert_eq!(req.query_value("msg_signature").as_deref(), Some("a+b"));
/// ```
#[derive(Debug, Clone)]
pub struct CallbackRequest {
    /// The method.
    pub method: Method,
    /// The raw query string (without `?`), exactly as received.
    pub query: String,
    /// The body.
    pub body: Bytes,
}

impl CallbackRequest {
    /// A GET (URL verification) with this raw query.
    pub fn get(query: impl Into<String>) -> Self {
        Self {
            method: Method::Get,
            query: query.into(),
            body: Bytes::new(),
        }
    }

    /// A POST with this raw query and body.
    pub fn post(query: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Self {
            method: Method::Post,
            query: query.into(),
            body: body.into(),
        }
    }

    /// The query value of `name`, percent-decoded exactly once. A literal `+` stays
    /// `+` (WeCom does not form-encode: its base64 `echostr` and signatures may hold a
    /// `+`, which form decoding — axum's `Query` — would turn into a space). `None` when
    /// absent or not UTF-8 after decoding.
    pub fn query_value(&self, name: &str) -> Option<String> {
        query_value(&self.query, name)
    }
}

/// What to answer: a status, a body and its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackResponse {
    /// The HTTP status: 200 for everything WeCom should count as received; 4xx for
    /// requests that are not WeCom's; 500 only when a handler failed (so WeCom
    /// re-delivers and the message is processed again).
    pub status: u16,
    /// The body: empty, the `echostr` plaintext, or the encrypted passive reply.
    pub body: Bytes,
    /// `Content-Type` of the body.
    pub content_type: &'static str,
}

impl CallbackResponse {
    /// HTTP 200 with an empty body: "received, no passive reply".
    pub fn empty() -> Self {
        Self {
            status: 200,
            body: Bytes::new(),
            content_type: "text/plain; charset=utf-8",
        }
    }

    /// HTTP 200 with an XML body (an encrypted passive reply).
    pub fn xml(body: impl Into<Bytes>) -> Self {
        Self {
            status: 200,
            body: body.into(),
            content_type: "application/xml; charset=utf-8",
        }
    }

    /// HTTP 200 with a JSON body (an AI bot's encrypted reply; sent as `text/plain` as
    /// WeCom's reference implementation does).
    pub fn json(body: impl Into<Bytes>) -> Self {
        Self {
            status: 200,
            body: body.into(),
            content_type: "text/plain; charset=utf-8",
        }
    }

    /// A plain-text answer with `status`.
    pub fn text(status: u16, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            body: body.into(),
            content_type: "text/plain; charset=utf-8",
        }
    }

    /// Whether WeCom counts this answer as received.
    pub fn is_ok(&self) -> bool {
        self.status == 200
    }
}

/// The value of `name` in a raw query: percent-decoded once, `+` kept.
pub(crate) fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode_str(key).decode_utf8().ok()?;
        (key == name).then(|| {
            percent_decode_str(value)
                .decode_utf8()
                .ok()
                .map(std::borrow::Cow::into_owned)
        })?
    })
}

#[cfg(test)]
mod tests {
    use super::query_value;

    #[test]
    fn plus_stays_plus_and_percent_escapes_decode_once() {
        let q = "echostr=ab+c%2Bd%3D%3D&msg_signature=x%252B&timestamp=1";
        assert_eq!(query_value(q, "echostr").as_deref(), Some("ab+c+d=="));
        // Decoded once: `%252B` is `%2B`, not `+`.
        assert_eq!(query_value(q, "msg_signature").as_deref(), Some("x%2B"));
        assert_eq!(query_value(q, "timestamp").as_deref(), Some("1"));
        assert_eq!(query_value(q, "nonce"), None);
        assert_eq!(query_value("nonce", "nonce").as_deref(), Some(""));
        // Bytes that are not UTF-8 after decoding are absent, not a panic.
        assert_eq!(query_value("nonce=%FF", "nonce"), None);
    }
}
