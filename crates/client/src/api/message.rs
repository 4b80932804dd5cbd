//! App messages ([doc 90236](https://developer.work.weixin.qq.com/document/path/90236)).

use std::borrow::Cow;

use serde::Deserialize;
use wecom_sdk_message::send::{AppMessage, UpdateTemplateCard};

use crate::Client;
use crate::client::Repeat;
use crate::error::{ClientError, Kind};

/// The `message/send` answer: who did not get it, and the ids to recall or update it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[non_exhaustive]
pub struct SendResult {
    /// `invaliduser`: `|`-joined ids that do not exist or cannot see the app.
    #[serde(default)]
    pub invaliduser: String,
    /// `invalidparty`.
    #[serde(default)]
    pub invalidparty: String,
    /// `invalidtag`.
    #[serde(default)]
    pub invalidtag: String,
    /// `unlicenseduser`.
    #[serde(default)]
    pub unlicenseduser: String,
    /// `msgid`: for `message/recall` (24 h).
    #[serde(default)]
    pub msgid: String,
    /// `response_code`: for `update_template_card` (72 h, single use).
    #[serde(default)]
    pub response_code: String,
}

/// The `message/*` endpoints.
#[derive(Debug, Clone, Copy)]
pub struct MessageApi<'a> {
    pub(crate) client: &'a Client,
}

fn invalid(e: &wecom_sdk_message::LimitError, path: &str) -> ClientError {
    ClientError::new(Kind::Invalid, None, e.to_string(), path)
}

impl MessageApi<'_> {
    /// Sends an app message after checking its limits. A message with agent 0 goes
    /// from the client's [`agent_id`](crate::ClientBuilder::agent_id). A failed attempt
    /// (system busy, transport) is repeated within the retry policy, with backoff and
    /// with `enable_duplicate_check` set, so WeCom drops a copy that did arrive.
    ///
    /// # Errors
    /// [`Kind::Invalid`] before any request when a limit is broken or the message names
    /// another agent than the client's; API errors (81013 when every recipient is
    /// invalid).
    pub async fn send(&self, message: &AppMessage) -> Result<SendResult, ClientError> {
        const PATH: &str = "/cgi-bin/message/send";
        message.validate().map_err(|e| invalid(&e, PATH))?;
        // The client's agent is the default; another app's agent is refused (this
        // app's token cannot send for it).
        let message = match self.client.agent_id() {
            Some(agent) if message.agent_id == 0 => {
                let mut defaulted = message.clone();
                defaulted.agent_id = agent;
                Cow::Owned(defaulted)
            }
            Some(agent) if message.agent_id != agent => {
                return Err(ClientError::new(
                    Kind::Invalid,
                    None,
                    format!(
                        "agentid {} is not this client's app (agent {agent})",
                        message.agent_id
                    ),
                    PATH,
                ));
            }
            _ => Cow::Borrowed(message),
        };
        // The first attempt goes as given; repeats carry `enable_duplicate_check`.
        let checked = AppMessage::clone(&message)
            .duplicate_check(message.duplicate_check_interval.unwrap_or(1800));
        self.client
            .call(
                reqwest::Method::POST,
                PATH,
                &[],
                Some(message.as_ref()),
                Repeat::With(&checked),
            )
            .await
    }

    /// Recalls a message sent in the last 24 hours.
    ///
    /// # Errors
    /// API errors.
    pub async fn recall(&self, msgid: &str) -> Result<(), ClientError> {
        let _: serde_json::Value = self
            .client
            .post(
                "/cgi-bin/message/recall",
                &serde_json::json!({ "msgid": msgid }),
            )
            .await?;
        Ok(())
    }

    /// Updates a sent template card for the users who clicked it.
    ///
    /// # Errors
    /// [`Kind::Invalid`] before any request; API errors.
    pub async fn update_template_card(
        &self,
        update: &UpdateTemplateCard,
    ) -> Result<SendResult, ClientError> {
        const PATH: &str = "/cgi-bin/message/update_template_card";
        update.validate().map_err(|e| invalid(&e, PATH))?;
        self.client.post(PATH, update).await
    }
}
