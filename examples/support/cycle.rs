//! One auto-reply step, shared by the `callback_cycle` example and benchmark: an
//! encrypted WeCom callback in, an encrypted passive reply out.

use wecom_sdk::crypto::CallbackCrypto;
use wecom_sdk::matcher::{Engine, Hit, Incoming};
use wecom_sdk::message::callback::Message;

/// Everything one callback went through.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The decrypted callback XML.
    pub(crate) plaintext: String,
    /// The typed message.
    pub(crate) message: Message,
    /// The rule that fired.
    pub(crate) hit: Option<Hit>,
    /// The passive reply XML, before encryption.
    pub(crate) reply_xml: Option<String>,
    /// The encrypted, signed reply: the HTTP 200 body (empty body when `None`).
    pub(crate) envelope: Option<String>,
}

/// A bot's crypto and rules.
#[derive(Debug)]
pub(crate) struct AutoReply {
    pub(crate) crypto: CallbackCrypto,
    pub(crate) engine: Engine,
}

impl AutoReply {
    /// Handles one callback POST: verify and decrypt, parse, match, reply, encrypt.
    ///
    /// # Errors
    /// A crypto or parse error, with its type.
    pub(crate) fn handle(
        &self,
        signature: &str,
        timestamp: &str,
        nonce: &str,
        body: &str,
    ) -> Result<Outcome, Box<dyn std::error::Error>> {
        let plaintext = self
            .crypto
            .decrypt_message(signature, timestamp, nonce, body)?;
        let message = Message::from_xml(&plaintext)?;
        let hit = message.text().and_then(|text| {
            let incoming = Incoming::new(message.header.from.as_str(), text)
                .at_unix(message.header.create_time);
            self.engine.find(&incoming)
        });
        let reply_xml = hit
            .as_ref()
            .and_then(wecom_sdk::passive_reply)
            .map(|reply| message.reply_xml(&reply, message.header.create_time));
        let envelope = reply_xml
            .as_deref()
            .map(|xml| self.crypto.encrypt_reply(xml, timestamp, nonce))
            .transpose()?;
        Ok(Outcome {
            plaintext,
            message,
            hit,
            reply_xml,
            envelope,
        })
    }
}
