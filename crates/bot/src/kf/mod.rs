//! 微信客服 (the `kf` API): the channel where external customers on personal WeChat talk
//! to a company.
//!
//! A `kf_msg_or_event` callback only says that an account has something to read: the
//! bot answers it with an empty 200 at once and, on a task, reads the account's new
//! entries with `kf/sync_msg` — from the saved cursor, page after page while `has_more`
//! is 1 (a page may be empty and still have more), saving the cursor after each page. A
//! callback that arrives while that account's sync runs makes it run once more, never
//! twice at the same time. Each entry is claimed by its `msgid` in the bot's dedup store
//! before it is answered, so an entry read twice (overlapping pages, a restart before the
//! cursor was saved, another instance sharing the Redis dedup store) is answered once.
//!
//! Across instances sharing a dedup store (Redis), one instance syncs an account at a
//! time; a callback that reaches another one makes the syncing instance run once more.
//!
//! What an entry gets (profile, handlers and rules as `Channel::Kf`, `kf/send_msg` with
//! WeCom's limits, the welcome on `enter_session`, the hand-over to a human, the
//! conversation step, the event record) is in [`answer`]; the guide is the crate's
//! `docs/kf.md`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use tracing::Instrument as _;
use wecom_sdk_client::api::kf::CursorStore;
use wecom_sdk_client::{Client, ClientError};
use wecom_sdk_message::callback::Message;
use wecom_sdk_message::send::SyncMsgRequest;

use crate::Bot;
use crate::dedup::Claim;

mod answer;

/// `kf/sync_msg`: the callback's token expired (it serves 10 minutes).
const TOKEN_EXPIRED: i64 = 95_007;

/// The channel's state: where each account's sync stands, and which run.
#[derive(Debug)]
pub(crate) struct KfChannel {
    client: Client,
    cursors: Arc<dyn CursorStore>,
    /// Accounts whose sync runs here: whether another callback came meanwhile, and its
    /// token.
    runs: Mutex<HashMap<String, Rerun>>,
    /// Customers a human answers now, by `(open_kfid, external_userid)`: the bot stays
    /// silent for them until their session ends.
    with_human: Mutex<HashSet<(String, String)>>,
}

/// A callback that came while the account's sync ran.
#[derive(Debug, Default)]
struct Rerun {
    again: Option<Notice>,
}

impl KfChannel {
    pub(crate) fn new(client: Client, cursors: Arc<dyn CursorStore>) -> Self {
        Self {
            client,
            cursors,
            runs: Mutex::new(HashMap::new()),
            with_human: Mutex::new(HashSet::new()),
        }
    }

    /// Whether a human answers `customer` of `open_kfid` now.
    fn is_with_human(&self, open_kfid: &str, customer: &str) -> bool {
        self.with_human
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&(open_kfid.to_owned(), customer.to_owned()))
    }

    /// Records that a human answers `customer` (`true`) or that the bot does again.
    fn set_with_human(&self, open_kfid: &str, customer: &str, human: bool) {
        let mut set = self
            .with_human
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let key = (open_kfid.to_owned(), customer.to_owned());
        if human {
            set.insert(key);
        } else {
            set.remove(&key);
        }
    }

    /// Marks `open_kfid` as syncing; `false` (with a rerun noted) when it already is.
    fn start(&self, open_kfid: &str, notice: &Notice) -> bool {
        let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(rerun) = runs.get_mut(open_kfid) {
            rerun.again = Some(notice.clone());
            return false;
        }
        runs.insert(open_kfid.to_owned(), Rerun::default());
        true
    }

    /// The callback to run again for, or `None` (and the account no longer syncing).
    fn next_run(&self, open_kfid: &str) -> Option<Notice> {
        let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        let again = runs.get_mut(open_kfid).and_then(|r| r.again.take());
        if again.is_none() {
            runs.remove(open_kfid);
        }
        again
    }
}

/// The `kf_msg_or_event` callback a sync runs for.
#[derive(Debug, Clone)]
struct Notice {
    /// Its `Token` (valid 10 minutes for `sync_msg`).
    token: String,
    /// The callback itself (what handlers see as `Context::message`).
    callback: Arc<Message>,
}

impl Bot {
    /// A `kf_msg_or_event` callback: starts the sync of `open_kfid` on a task, or has
    /// the running one run once more. `false` when the bot has no 微信客服 channel.
    pub(crate) fn kf_notify(&self, callback: &Arc<Message>, open_kfid: &str, token: &str) -> bool {
        let Some(kf) = &self.inner.kf else {
            return false;
        };
        let notice = Notice {
            token: token.to_owned(),
            callback: Arc::clone(callback),
        };
        if !kf.start(open_kfid, &notice) {
            self.inner.metrics.count_kf("rerun_requested");
            return true;
        }
        let bot = self.clone();
        let open_kfid = open_kfid.to_owned();
        self.inner.tracker.spawn(
            async move { bot.kf_sync(&open_kfid, notice).await }
                .instrument(tracing::info_span!("kf_sync")),
        );
        true
    }

    /// Syncs `open_kfid` until no callback came during the last run.
    async fn kf_sync(&self, open_kfid: &str, mut notice: Notice) {
        let Some(kf) = &self.inner.kf else {
            return;
        };
        loop {
            if self.kf_lead(open_kfid).await {
                loop {
                    if let Err(e) = self.kf_read(kf, open_kfid, &notice).await {
                        self.inner.metrics.count_kf("sync_failed");
                        tracing::warn!(open_kfid, error = %e, "kf/sync_msg failed: the next callback reads on from the saved cursor");
                    }
                    if !self.kf_hand_over(open_kfid).await {
                        break;
                    }
                }
            }
            match kf.next_run(open_kfid) {
                Some(next) => notice = next,
                None => return,
            }
        }
    }

    /// Across instances (with a shared dedup store): whether this instance syncs
    /// `open_kfid` now. The store holds `kfsync:{open_kfid}` while one instance syncs the
    /// account; another that gets a callback meanwhile leaves `kfsync-again:{open_kfid}`
    /// for the syncing one, which then runs once more, instead of syncing in parallel.
    async fn kf_lead(&self, open_kfid: &str) -> bool {
        if !self.has_shared_dedup() {
            return true;
        }
        match self.claim(&format!("kfsync:{open_kfid}")).await {
            Claim::InFlight => {
                let _ = self.claim(&format!("kfsync-again:{open_kfid}")).await;
                self.inner.metrics.count_kf("rerun_requested");
                false
            }
            _ => true,
        }
    }

    /// The end of a sync across instances: `true` when a callback came meanwhile (run
    /// again); else the account is released — and re-taken if a callback slipped in
    /// between.
    async fn kf_hand_over(&self, open_kfid: &str) -> bool {
        if !self.has_shared_dedup() {
            return false;
        }
        let (run, again) = (
            format!("kfsync:{open_kfid}"),
            format!("kfsync-again:{open_kfid}"),
        );
        if self.peek(&again).await.is_some() {
            self.release(&again).await;
            return true;
        }
        self.release(&run).await;
        if self.peek(&again).await.is_some() && matches!(self.claim(&run).await, Claim::Fresh) {
            self.release(&again).await;
            return true;
        }
        false
    }

    /// Reads and answers every new entry of `open_kfid`, saving the cursor after each
    /// page.
    async fn kf_read(
        &self,
        kf: &KfChannel,
        open_kfid: &str,
        notice: &Notice,
    ) -> Result<(), ClientError> {
        let mut cursor = kf.cursors.load(open_kfid).await?;
        let mut token = Some(notice.token.as_str());
        loop {
            let request = |token: Option<&str>| SyncMsgRequest {
                cursor: cursor.clone(),
                token: token.map(str::to_owned),
                limit: Some(1000),
                voice_format: None,
                open_kfid: Some(open_kfid.to_owned()),
            };
            let page = match kf.client.kf().sync_msg(&request(token)).await {
                // The callback's token serves 10 minutes: read on without it.
                Err(e) if e.errcode() == Some(TOKEN_EXPIRED) && token.is_some() => {
                    self.inner.metrics.count_kf("token_expired");
                    token = None;
                    kf.client.kf().sync_msg(&request(None)).await?
                }
                page => page?,
            };
            for entry in &page.msg_list {
                self.inner.metrics.count_kf("read");
                let handled = self.kf_entry(kf, entry, &notice.callback).await;
                self.inner.metrics.count_kf(handled.name());
            }
            let more = page.more();
            if !page.next_cursor.is_empty() {
                kf.cursors.save(open_kfid, &page.next_cursor).await?;
                cursor = Some(page.next_cursor);
            }
            if !more {
                return Ok(());
            }
        }
    }

    /// Claims an entry: `false` when it is answered (or being answered) elsewhere. An
    /// entry another instance is answering is waited for — up to the claim's lease — and
    /// taken over if that instance let it go or died, so it is never skipped.
    async fn kf_claim(&self, key: &str) -> bool {
        match self.claim(key).await {
            Claim::Fresh => true,
            Claim::InFlight => {
                let deadline = std::time::Instant::now() + self.inner.lease;
                match self.wait_for(key, deadline).await {
                    None => matches!(self.claim(key).await, Claim::Fresh),
                    Some(_) => false,
                }
            }
            _ => false,
        }
    }
}
