//! 微信客服 ([doc 94670](https://developer.work.weixin.qq.com/document/path/94670)):
//! pulling messages with `sync_msg`, replying, and the session states.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use serde::Deserialize;
use wecom_sdk_message::kf::{KfSyncedMessage, SyncMsgResponse};
use wecom_sdk_message::send::{KfEventMessage, KfMessage, SyncMsgRequest};

use crate::Client;
use crate::error::{ClientError, Kind};

/// Where `sync_msg` cursors are persisted, per customer-service account.
#[async_trait]
pub trait CursorStore: Send + Sync + std::fmt::Debug {
    /// The saved cursor of `open_kfid`.
    ///
    /// # Errors
    /// The store failed.
    async fn load(&self, open_kfid: &str) -> Result<Option<String>, ClientError>;

    /// Saves the cursor of `open_kfid`.
    ///
    /// # Errors
    /// The store failed.
    async fn save(&self, open_kfid: &str, cursor: &str) -> Result<(), ClientError>;
}

/// Cursors in this process's memory.
#[derive(Debug, Default)]
pub struct MemoryCursorStore(Mutex<HashMap<String, String>>);

#[async_trait]
impl CursorStore for MemoryCursorStore {
    async fn load(&self, open_kfid: &str) -> Result<Option<String>, ClientError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(open_kfid)
            .cloned())
    }

    async fn save(&self, open_kfid: &str, cursor: &str) -> Result<(), ClientError> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(open_kfid.to_owned(), cursor.to_owned());
        Ok(())
    }
}

/// The answer of `send_msg` / `send_msg_on_event`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SentKf {
    /// `msgid`.
    #[serde(default)]
    pub msgid: String,
}

/// A session's state (`service_state/get`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServiceState {
    /// 0 new, 1 smart assistant, 2 queue, 3 human servicer, 4 ended.
    pub service_state: u8,
    /// The servicer (state 3).
    #[serde(default)]
    pub servicer_userid: String,
}

/// The `kf/*` endpoints.
#[derive(Debug, Clone, Copy)]
pub struct KfApi<'a> {
    pub(crate) client: &'a Client,
}

fn invalid(e: &wecom_sdk_message::LimitError, path: &str) -> ClientError {
    ClientError::new(Kind::Invalid, None, e.to_string(), path)
}

impl KfApi<'_> {
    /// One `sync_msg` page.
    ///
    /// # Errors
    /// API errors (95007: the callback token expired; sync without it).
    pub async fn sync_msg(&self, request: &SyncMsgRequest) -> Result<SyncMsgResponse, ClientError> {
        self.client
            .post_idempotent("/cgi-bin/kf/sync_msg", request)
            .await
    }

    /// Every new message of `open_kfid`: pages through `sync_msg` while `has_more` is 1
    /// (a page can be empty and still have more), from the saved cursor, saving the
    /// cursor after each page.
    ///
    /// # Errors
    /// API or cursor-store errors; the cursor of the pages already read is saved.
    pub async fn sync_all(
        &self,
        open_kfid: &str,
        token: Option<&str>,
        cursors: &dyn CursorStore,
    ) -> Result<Vec<KfSyncedMessage>, ClientError> {
        let mut all = Vec::new();
        let mut cursor = cursors.load(open_kfid).await?;
        loop {
            let page = self
                .sync_msg(&SyncMsgRequest {
                    cursor: cursor.clone(),
                    token: token.map(str::to_owned),
                    limit: Some(1000),
                    voice_format: None,
                    open_kfid: Some(open_kfid.to_owned()),
                })
                .await?;
            if !page.next_cursor.is_empty() {
                cursors.save(open_kfid, &page.next_cursor).await?;
                cursor = Some(page.next_cursor.clone());
            }
            let more = page.more();
            all.extend(page.msg_list);
            if !more {
                return Ok(all);
            }
        }
    }

    /// Replies to a customer (limits checked first).
    ///
    /// # Errors
    /// [`Kind::Invalid`] before any request; API errors (95001/95002: too many replies, or
    /// outside the 48-hour window).
    pub async fn send_msg(&self, message: &KfMessage) -> Result<SentKf, ClientError> {
        const PATH: &str = "/cgi-bin/kf/send_msg";
        message.validate().map_err(|e| invalid(&e, PATH))?;
        self.client.post(PATH, message).await
    }

    /// Sends a welcome or closing message with an event's code.
    ///
    /// # Errors
    /// [`Kind::Invalid`] before any request; API errors.
    pub async fn send_msg_on_event(&self, message: &KfEventMessage) -> Result<SentKf, ClientError> {
        const PATH: &str = "/cgi-bin/kf/send_msg_on_event";
        message.validate().map_err(|e| invalid(&e, PATH))?;
        self.client.post(PATH, message).await
    }

    /// A session's state.
    ///
    /// # Errors
    /// API errors.
    pub async fn service_state(
        &self,
        open_kfid: &str,
        external_userid: &str,
    ) -> Result<ServiceState, ClientError> {
        self.client
            .post_idempotent(
                "/cgi-bin/kf/service_state/get",
                &serde_json::json!({ "open_kfid": open_kfid, "external_userid": external_userid }),
            )
            .await
    }

    /// Moves a session to another state (to a human servicer: state 3 with its UserID);
    /// returns the `msg_code` for a closing message.
    ///
    /// # Errors
    /// API errors (95016: a transition WeCom forbids).
    pub async fn transfer(
        &self,
        open_kfid: &str,
        external_userid: &str,
        service_state: u8,
        servicer_userid: Option<&str>,
    ) -> Result<String, ClientError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            msg_code: String,
        }
        let mut body = serde_json::json!({
            "open_kfid": open_kfid, "external_userid": external_userid, "service_state": service_state
        });
        if let Some(servicer) = servicer_userid {
            body["servicer_userid"] = servicer.into();
        }
        let answer: Answer = self
            .client
            .post("/cgi-bin/kf/service_state/trans", &body)
            .await?;
        Ok(answer.msg_code)
    }
}
