//! The JSON envelopes of JSON callbacks and AI-bot (智能机器人) webhooks.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::CryptoError;

#[derive(Deserialize)]
struct Incoming<'a> {
    /// Official samples spell it `encrypt`; an older one and some AI-bot senders `Encrypt`.
    #[serde(alias = "Encrypt", borrow)]
    encrypt: Cow<'a, str>,
}

/// Reads the `encrypt` (or `Encrypt`) field of a JSON callback body.
///
/// # Errors
/// [`CryptoError::ParseJson`] for invalid JSON, a missing or empty field, or both casings.
pub(crate) fn read_encrypt(body: &str) -> Result<Cow<'_, str>, CryptoError> {
    let parsed: Incoming<'_> = serde_json::from_str(body).map_err(|e| CryptoError::ParseJson {
        reason: e.to_string(),
    })?;
    if parsed.encrypt.is_empty() {
        return Err(CryptoError::ParseJson {
            reason: "\"encrypt\" is empty".to_owned(),
        });
    }
    Ok(parsed.encrypt)
}

/// The signed JSON reply: `{"encrypt","msgsignature","timestamp","nonce"}`, all strings.
#[derive(Serialize)]
pub(crate) struct Reply<'a> {
    pub(crate) encrypt: &'a str,
    pub(crate) msgsignature: &'a str,
    pub(crate) timestamp: &'a str,
    pub(crate) nonce: &'a str,
}

impl Reply<'_> {
    /// Renders the reply.
    ///
    /// # Errors
    /// [`CryptoError::GenReturnXml`] (-40011, "GenJson" in the JSON sample) if serde fails.
    pub(crate) fn to_json(&self) -> Result<String, CryptoError> {
        serde_json::to_string(self).map_err(|_| CryptoError::GenReturnXml {
            reason: "cannot serialize the JSON reply",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_casings_and_extra_fields() {
        let read = |s| read_encrypt(s).map(Cow::into_owned).map_err(|e| e.code());
        assert_eq!(
            read(r#"{"tousername":"x","encrypt":"abc","agentid":218}"#),
            Ok("abc".into())
        );
        assert_eq!(
            read(r#"{"ToUserName":"x","Encrypt":"abc","AgentID":"218"}"#),
            Ok("abc".into())
        );
        assert_eq!(read(r#"{"encrypt":"a\/bc"}"#), Ok("a/bc".into()));
        for bad in [
            "",
            "{}",
            "[]",
            r#"{"encrypt":""}"#,
            r#"{"encrypt":1}"#,
            r#"{"encrypt":"a","Encrypt":"b"}"#,
            "{\"encrypt\":\"a\"",
        ] {
            assert_eq!(read(bad), Err(-40002), "{bad:?}");
        }
    }
}
