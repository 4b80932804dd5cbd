//! The fake WeCom API: every endpoint `wecom-sdk-client` calls, validated with WeCom's
//! codes, every call recorded, faults injected at run time.

mod app;
mod config;
mod contact;
mod faults;
mod kf;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::Value;
use tokio::task::JoinHandle;

pub use config::{Customer, FakeConfig, GroupChat, Staff, TagGroup};
pub use faults::Fault;
pub use kf::KfNotice;

use crate::SimError;
use state::State;

/// One API call the fake received, as recorded (secrets redacted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    /// The path, e.g. `/cgi-bin/message/send`.
    pub path: String,
    /// The query, with `access_token`, `corpsecret` and `key` values redacted.
    pub query: Vec<(String, String)>,
    /// The JSON body (`null` for GET; for uploads `{"filename", "size", "content_type"}`).
    pub body: Value,
    /// When it arrived (the fake's clock).
    #[serde(serialize_with = "unix_ms")]
    pub at: SystemTime,
    /// The errcode answered (0 = served).
    pub errcode: i64,
}

/// A message the fake accepted for delivery: app messages, app chats, 微信客服 sends,
/// robot messages and customer group-send tasks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentMessage {
    /// The API path it came through.
    pub path: String,
    /// The recipient: `touser` (app, 微信客服), `chatid` (app chat), `code:…`
    /// (`send_msg_on_event`), `robot:…` (webhook, key prefix), or the customers of a
    /// group-send joined with `|`.
    pub to: String,
    /// `msgtype`.
    pub msgtype: String,
    /// The whole JSON body.
    pub body: Value,
    /// When it was accepted (the fake's clock).
    #[serde(serialize_with = "unix_ms")]
    pub at: SystemTime,
}

impl SentMessage {
    /// The text a recipient reads: `text.content` or `markdown.content`, the titles of
    /// news, a text card's title and description.
    pub fn text(&self) -> Option<String> {
        let object = self.body.get(&self.msgtype)?;
        if let Some(content) = object.get("content").and_then(Value::as_str) {
            return Some(content.to_owned());
        }
        if let Some(articles) = object.get("articles").and_then(Value::as_array) {
            let titles: Vec<&str> = articles
                .iter()
                .filter_map(|a| a.get("title").and_then(Value::as_str))
                .collect();
            return Some(titles.join("\n"));
        }
        let title = object.get("title").and_then(Value::as_str)?;
        let description = object
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Some(format!("{title}\n{description}").trim_end().to_owned())
    }
}

/// A [`SentMessage`] read back from `GET /__sim/messages`.
pub(crate) fn sent_from_json(v: &Value) -> Option<SentMessage> {
    let ms = v.get("at").and_then(Value::as_u64)?;
    Some(SentMessage {
        path: v.get("path")?.as_str()?.to_owned(),
        to: v.get("to")?.as_str()?.to_owned(),
        msgtype: v.get("msgtype")?.as_str()?.to_owned(),
        body: v.get("body")?.clone(),
        at: SystemTime::UNIX_EPOCH + Duration::from_millis(ms),
    })
}

fn unix_ms<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    let ms = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    s.serialize_u64(ms)
}

/// A file part of a multipart upload.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub(crate) filename: String,
    pub(crate) content_type: String,
    pub(crate) bytes: bytes::Bytes,
}

/// What an endpoint sees of a request.
#[derive(Debug)]
pub(crate) struct ApiRequest {
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body: Value,
    pub(crate) upload: Option<Upload>,
    pub(crate) base_url: String,
}

impl ApiRequest {
    pub(crate) fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// State shared by the server's tasks and the [`FakeWeCom`] handle.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// WeCom's API on 127.0.0.1: start it, point a client's `base_url` at
/// [`base_url`](Self::base_url), read what arrived with [`calls`](Self::calls) and
/// [`sent_messages`](Self::sent_messages).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use wecom_sdk_sim::{FakeConfig, FakeWeCom, Fault};
/// let fake = FakeWeCom::start(FakeConfig::new("ww1").secret("s3cret")).await?;
/// // Any HTTP client works; this is what `wecom-sdk-client` does under the hood.
/// let url = format!("{}/cgi-bin/gettoken?corpid=ww1&corpsecret=s3cret", fake.base_url());
/// # let _ = url;
/// fake.inject(&Fault::errcode(-1, 1)); // the next API call gets "system busy"
/// assert!(fake.calls().is_empty());
/// # Ok(()) }
/// ```
///
/// Dropping the handle stops the server.
#[derive(Debug)]
pub struct FakeWeCom {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for FakeWeCom {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeWeCom {
    /// Binds 127.0.0.1 (the config's port; 0 takes a free one) and serves.
    ///
    /// # Errors
    /// [`SimError::Io`] when the port cannot be bound.
    pub async fn start(config: FakeConfig) -> Result<Self, SimError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|e| SimError::io("bind the fake WeCom", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| SimError::io("read the bound address", e))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(config)),
        });
        let task = tokio::spawn(server::serve(listener, Arc::clone(&shared), addr));
        Ok(Self { shared, addr, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the `base_url` for a client.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The CorpID `gettoken` accepts.
    pub fn corp_id(&self) -> String {
        self.shared.lock().config.corp_id.clone()
    }

    /// Every API call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    /// The calls to one path (`/cgi-bin/message/send`).
    pub fn calls_to(&self, path: &str) -> Vec<Call> {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|c| c.path == path)
            .cloned()
            .collect()
    }

    /// Requests whose connection a [`Fault::DropConnections`] closed unanswered (they
    /// are not among the [`calls`](Self::calls)).
    pub fn dropped_connections(&self) -> u64 {
        self.shared.lock().dropped
    }

    /// Every message accepted for delivery, in order.
    pub fn sent_messages(&self) -> Vec<SentMessage> {
        self.shared.lock().sent.clone()
    }

    /// Forgets the recorded calls and messages (tokens, customers and queues stay).
    pub fn clear_record(&self) {
        let mut state = self.shared.lock();
        state.calls.clear();
        state.sent.clear();
    }

    /// Injects a fault.
    pub fn inject(&self, fault: &Fault) {
        self.shared.lock().apply(fault);
    }

    /// The fake's clock (the system clock plus [`advance`](Self::advance)).
    pub fn now(&self) -> SystemTime {
        self.shared.lock().now()
    }

    /// Moves the fake's clock forward: tokens expire, the 48-hour window closes, robot
    /// minutes pass.
    pub fn advance(&self, by: Duration) {
        self.shared.lock().offset += by;
    }

    /// A customer writes `text` to 微信客服 account `open_kfid`: the message is queued for
    /// `sync_msg`, the 48-hour window opens. Send the bot the `kf_msg_or_event` callback
    /// with [`Inbound::kf_msg_or_event`](crate::Inbound::kf_msg_or_event) and the notice.
    pub fn kf_customer_says(&self, open_kfid: &str, external_userid: &str, text: &str) -> KfNotice {
        self.shared
            .lock()
            .kf_customer_text(open_kfid, external_userid, text)
    }

    /// A customer opens the 微信客服 chat: an `enter_session` event with a welcome code.
    pub fn kf_enter_session(
        &self,
        open_kfid: &str,
        external_userid: &str,
        scene: &str,
    ) -> KfNotice {
        self.shared
            .lock()
            .kf_enter_session(open_kfid, external_userid, scene)
    }

    /// Queues any `msg_list` entry (an image, an event …); `msgid`, `open_kfid` and
    /// `send_time` are filled in. An entry with `origin: 3` opens the 48-hour window.
    pub fn kf_push(&self, open_kfid: &str, entry: Value) -> KfNotice {
        self.shared.lock().kf_push(open_kfid, entry)
    }

    /// The servicer ends a customer's session: its state becomes 4 (ended) and a
    /// `session_status_change` event (`change_type` 3) is queued; send the bot the
    /// notice's `kf_msg_or_event`.
    pub fn kf_end_session(&self, open_kfid: &str, external_userid: &str) -> KfNotice {
        self.shared
            .lock()
            .kf_end_session(open_kfid, external_userid)
    }

    /// A customer's session state and servicer, as `service_state/get` answers.
    pub fn kf_service_state(&self, open_kfid: &str, external_userid: &str) -> (u8, String) {
        self.shared.lock().kf_state(open_kfid, external_userid)
    }

    /// The customers as they are now (tags changed by `mark_tag` included).
    pub fn customers(&self) -> Vec<Customer> {
        self.shared.lock().customers.clone()
    }

    /// Replaces a customer's tags; `false` when no such customer.
    pub fn set_customer_tags(&self, external_userid: &str, tags: &[&str]) -> bool {
        let mut state = self.shared.lock();
        match state
            .customers
            .iter_mut()
            .find(|c| c.external_userid == external_userid)
        {
            Some(c) => {
                c.tags = tags.iter().map(|t| (*t).to_owned()).collect();
                true
            }
            None => false,
        }
    }

    /// Adds a customer followed by `staff` (a new friend), created now.
    pub fn add_customer(&self, staff: &str, external_userid: &str, name: &str) {
        let mut state = self.shared.lock();
        let add_time = state.unix();
        if state.staff_member(staff).is_none() {
            state.staff.push(Staff {
                userid: staff.to_owned(),
                name: staff.to_owned(),
                department: vec![1],
            });
        }
        state.customers.push(Customer {
            external_userid: external_userid.to_owned(),
            name: name.to_owned(),
            staff: staff.to_owned(),
            tags: Vec::new(),
            add_time,
        });
    }

    /// Serves until the task ends (for the `wecom-sim serve` command).
    ///
    /// # Errors
    /// [`SimError::Io`] when the server task failed.
    pub async fn wait(mut self) -> Result<(), SimError> {
        (&mut self.task)
            .await
            .map_err(|e| SimError::io("serve", std::io::Error::other(e)))
    }
}
