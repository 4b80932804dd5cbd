//! Faults injected at run time: what a real WeCom does on a bad day.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A fault for [`FakeWeCom::inject`](super::FakeWeCom::inject), or the JSON body of
/// `POST /__sim/faults` on `wecom-sim serve`:
///
/// ```text
/// {"fault":"expire_tokens"}
/// {"fault":"errcode","errcode":-1,"count":3}
/// {"fault":"errcode","errcode":45009,"count":1,"path":"/cgi-bin/message/send"}
/// {"fault":"latency","ms":300}
/// {"fault":"drop_connections","count":2}
/// {"fault":"kf_empty_pages","count":2}
/// {"fault":"clear"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fault {
    /// Every token issued so far expires now: the next call with one gets 42001.
    ExpireTokens,
    /// The next `count` API calls (on `path` only, when given; never `gettoken` unless it
    /// is named) are answered with `errcode` instead of being served.
    Errcode {
        /// The code to answer, e.g. -1 (system busy) or 45009 (rate limit).
        errcode: i64,
        /// How many calls.
        count: u32,
        /// Only calls to this path (`/cgi-bin/message/send`).
        #[serde(default)]
        path: Option<String>,
    },
    /// Every answer waits this long first (0 removes the latency).
    Latency {
        /// Milliseconds.
        ms: u64,
    },
    /// The next `count` requests get their connection closed without an answer.
    DropConnections {
        /// How many requests.
        count: u32,
    },
    /// The next `count` `kf/sync_msg` pages come back empty with `has_more` 1 (the cursor
    /// unchanged), as WeCom sometimes answers: a reader must loop on `has_more`, never
    /// stop at an empty page.
    KfEmptyPages {
        /// How many pages.
        count: u32,
    },
    /// Removes every pending fault and the latency.
    Clear,
}

impl Fault {
    /// `errcode` for the next `count` calls on any path but `gettoken`.
    pub fn errcode(errcode: i64, count: u32) -> Self {
        Self::Errcode {
            errcode,
            count,
            path: None,
        }
    }

    /// `errcode` for the next `count` calls to `path`.
    pub fn errcode_on(path: impl Into<String>, errcode: i64, count: u32) -> Self {
        Self::Errcode {
            errcode,
            count,
            path: Some(path.into()),
        }
    }

    /// Latency on every answer.
    pub fn latency(latency: Duration) -> Self {
        Self::Latency {
            ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// The faults pending now.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    errcodes: Vec<(i64, u32, Option<String>)>,
    pub(crate) latency: Duration,
    drops: u32,
    kf_empty_pages: u32,
}

impl Faults {
    /// Adds a fault; `ExpireTokens` is applied by `State::apply` (it touches the tokens).
    pub(crate) fn add(&mut self, fault: &Fault) {
        match fault {
            Fault::Errcode {
                errcode,
                count,
                path,
            } => self.errcodes.push((*errcode, *count, path.clone())),
            Fault::Latency { ms } => self.latency = Duration::from_millis(*ms),
            Fault::DropConnections { count } => self.drops += count,
            Fault::KfEmptyPages { count } => self.kf_empty_pages += count,
            Fault::Clear => *self = Self::default(),
            Fault::ExpireTokens => {}
        }
    }

    /// Takes one injected errcode for a call to `path`, if one is pending.
    pub(crate) fn take_errcode(&mut self, path: &str) -> Option<i64> {
        let is_gettoken = path.ends_with("/gettoken");
        let i = self.errcodes.iter().position(|(_, _, p)| match p {
            Some(p) => p == path,
            None => !is_gettoken,
        })?;
        let (code, count, _) = &mut self.errcodes[i];
        let code = *code;
        *count -= 1;
        if *count == 0 {
            self.errcodes.remove(i);
        }
        Some(code)
    }

    /// Whether this `sync_msg` page is to come back empty (with `has_more` 1).
    pub(crate) fn take_kf_empty_page(&mut self) -> bool {
        if self.kf_empty_pages > 0 {
            self.kf_empty_pages -= 1;
            true
        } else {
            false
        }
    }

    /// Whether this request's connection is to be dropped.
    pub(crate) fn take_drop(&mut self) -> bool {
        if self.drops > 0 {
            self.drops -= 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errcodes_count_down_and_respect_paths() {
        let mut f = Faults::default();
        f.add(&Fault::errcode(-1, 2));
        f.add(&Fault::errcode_on("/cgi-bin/gettoken", 40001, 1));
        assert_eq!(f.take_errcode("/cgi-bin/gettoken"), Some(40001));
        assert_eq!(f.take_errcode("/cgi-bin/gettoken"), None);
        assert_eq!(f.take_errcode("/cgi-bin/message/send"), Some(-1));
        assert_eq!(f.take_errcode("/cgi-bin/kf/send_msg"), Some(-1));
        assert_eq!(f.take_errcode("/cgi-bin/kf/send_msg"), None);
        f.add(&Fault::DropConnections { count: 1 });
        assert!(f.take_drop());
        assert!(!f.take_drop());
    }

    #[test]
    fn faults_read_from_json() {
        let f: Fault =
            serde_json::from_str(r#"{"fault":"errcode","errcode":45009,"count":1}"#).expect("json");
        assert_eq!(f, Fault::errcode(45009, 1));
        let f: Fault = serde_json::from_str(r#"{"fault":"latency","ms":300}"#).expect("json");
        assert_eq!(f, Fault::latency(Duration::from_millis(300)));
    }
}
