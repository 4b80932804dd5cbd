//! Members (通讯录, [doc 90196](https://developer.work.weixin.qq.com/document/path/90196)):
//! `user/get`.

use serde::Deserialize;

use crate::Client;
use crate::error::ClientError;

/// A member as `user/get` returns them (newer apps may not receive sensitive fields:
/// every field but the id is optional).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[non_exhaustive]
pub struct User {
    /// `userid`.
    pub userid: String,
    /// `name`.
    #[serde(default)]
    pub name: String,
    /// `department`: department ids.
    #[serde(default)]
    pub department: Vec<u64>,
    /// `position`.
    #[serde(default)]
    pub position: String,
    /// `status`: 1 active, 2 disabled, 4 not activated, 5 quit.
    #[serde(default)]
    pub status: u8,
}

/// The `user/*` endpoints.
#[derive(Debug, Clone, Copy)]
pub struct UserApi<'a> {
    pub(crate) client: &'a Client,
}

impl UserApi<'_> {
    /// A member by user id.
    ///
    /// # Errors
    /// API errors (60111 when the user id does not exist).
    pub async fn get(&self, userid: &str) -> Result<User, ClientError> {
        self.client
            .get("/cgi-bin/user/get", &[("userid", userid)])
            .await
    }
}
