//! Group chats created by the app ([doc 90248](https://developer.work.weixin.qq.com/document/path/90248)).

use wecom_sdk_message::send::AppChatMessage;

use crate::Client;
use crate::error::{ClientError, Kind};

/// The `appchat/*` endpoints.
#[derive(Debug, Clone, Copy)]
pub struct AppChatApi<'a> {
    pub(crate) client: &'a Client,
}

impl AppChatApi<'_> {
    /// Sends a message to a chat the app created (limits checked first).
    ///
    /// # Errors
    /// [`Kind::Invalid`] before any request; API errors (86001/86003 for unknown chats).
    pub async fn send(&self, message: &AppChatMessage) -> Result<(), ClientError> {
        const PATH: &str = "/cgi-bin/appchat/send";
        message
            .validate()
            .map_err(|e| ClientError::new(Kind::Invalid, None, e.to_string(), PATH))?;
        let _: serde_json::Value = self.client.post(PATH, message).await?;
        Ok(())
    }
}
