//! Tracked links: URLs in a rule's reply are rewritten to the bot's short redirect
//! route (`/l/{code}`), which counts the first click of each as a conversion of the
//! rule and its A/B variant before redirecting. Codes are 128 random bits and map only
//! to the URLs the bot itself sent: the route is no open redirect.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use wecom_sdk_matcher::{Channel, Hit, Part};

use crate::Bot;
use crate::error::StoreError;
use crate::metrics::Metrics;

/// What a shared variant store counts.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(
    not(feature = "redis"),
    allow(dead_code, reason = "counted with feature redis")
)]
pub(crate) enum Count {
    Impression,
    Conversion,
}

#[cfg(not(feature = "redis"))]
impl Bot {
    /// Without feature `redis` there is no shared variant store: nothing to count.
    #[allow(clippy::unused_self, reason = "the same call as with feature redis")]
    pub(crate) fn share_variant(&self, _rule: &str, _variant: &str, _what: Count) {}
}

/// How long a tracked link works by default.
pub const DEFAULT_LINK_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// What a code stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TrackedLink {
    /// Where the click goes.
    pub url: String,
    /// The rule whose reply carried it.
    pub rule: String,
    /// Its variant.
    pub variant: Option<String>,
    /// The customer it was sent to.
    pub user: String,
    /// Where it was sent (links stored before this field existed count as app links).
    #[serde(default)]
    pub channel: Channel,
}

/// Where tracked links live: this process's memory ([`MemoryLinkStore`]) or Redis
/// ([`RedisLinkStore`](crate::RedisLinkStore)) when several instances serve the bot.
#[async_trait]
pub trait LinkStore: Send + Sync + std::fmt::Debug {
    /// Stores `link` under `code` for `ttl`.
    ///
    /// # Errors
    /// The store is unreachable.
    async fn put(&self, code: &str, link: &TrackedLink, ttl: Duration) -> Result<(), StoreError>;

    /// The link of `code`, and whether this is its first click (the click is noted).
    ///
    /// # Errors
    /// The store is unreachable.
    async fn click(&self, code: &str) -> Result<Option<(TrackedLink, bool)>, StoreError>;
}

/// Tracked links in memory.
#[derive(Debug, Default)]
pub struct MemoryLinkStore {
    links: Mutex<HashMap<String, (TrackedLink, Instant, bool)>>,
}

#[async_trait]
impl LinkStore for MemoryLinkStore {
    async fn put(&self, code: &str, link: &TrackedLink, ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut links = self.links.lock().unwrap_or_else(PoisonError::into_inner);
        if links.len() >= 100_000 {
            links.retain(|_, (_, until, _)| *until > now);
        }
        links.insert(code.to_owned(), (link.clone(), now + ttl, false));
        Ok(())
    }

    async fn click(&self, code: &str) -> Result<Option<(TrackedLink, bool)>, StoreError> {
        let mut links = self.links.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(links
            .get_mut(code)
            .filter(|(_, until, _)| *until > Instant::now())
            .map(|(link, _, clicked)| {
                let first = !*clicked;
                *clicked = true;
                (link.clone(), first)
            }))
    }
}

/// The tracked-links settings of a bot: the public base URL of its router (the
/// redirect route is `{base}/l/{code}`) and where links are kept.
#[derive(Debug, Clone)]
pub(crate) struct Links {
    pub(crate) base: String,
    pub(crate) store: Arc<dyn LinkStore>,
    pub(crate) ttl: Duration,
}

/// A fresh unguessable code: 128 bits from the operating system, base64url.
fn code() -> Option<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The `http(s)://…` URLs in `text`: byte ranges, ending at whitespace, a quote, a
/// bracket or full-width punctuation.
fn urls(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("http").map(|i| from + i) {
        let rest = &text[at..];
        if !(rest.starts_with("http://") || rest.starts_with("https://")) {
            from = at + 4;
            continue;
        }
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                c.is_whitespace()
                    || !c.is_ascii()
                    || matches!(c, '"' | '\'' | '<' | '>' | ')' | ']')
            })
            .map_or(text.len(), |(i, _)| at + i);
        found.push(at..end);
        from = end;
    }
    found
}

impl Bot {
    /// The parts of rule hit `hit` to send `user` on `channel`, their URLs rewritten
    /// to tracked links of the rule and its variant (unchanged without tracked links,
    /// or where the store fails — counted). Every channel's answer goes through here.
    pub(crate) async fn track(&self, hit: &Hit, user: &str, channel: Channel) -> Vec<Part> {
        let parts = hit.parts.clone();
        let Some(links) = &self.inner.links else {
            return parts;
        };
        let owner = TrackedLink {
            url: String::new(),
            rule: hit.rule_id().to_owned(),
            variant: hit.variant.clone(),
            user: user.to_owned(),
            channel,
        };
        let mut out = Vec::with_capacity(parts.len());
        for part in parts {
            out.push(match part {
                Part::Text(text) => {
                    let mut rewritten = String::with_capacity(text.len());
                    let mut last = 0;
                    for range in urls(&text) {
                        rewritten.push_str(&text[last..range.start]);
                        let url = &text[range.clone()];
                        rewritten.push_str(&self.tracked(links, url, &owner).await);
                        last = range.end;
                    }
                    rewritten.push_str(&text[last..]);
                    Part::Text(rewritten)
                }
                Part::News {
                    title,
                    description,
                    url,
                    pic_url,
                } => Part::News {
                    url: self.tracked(links, &url, &owner).await,
                    title,
                    description,
                    pic_url,
                },
                other => other,
            });
        }
        out
    }

    /// The tracked URL of `url` sent as `owner` says (or `url` itself when it cannot
    /// be stored).
    async fn tracked(&self, links: &Links, url: &str, owner: &TrackedLink) -> String {
        let Some(code) = code() else {
            return url.to_owned();
        };
        let link = TrackedLink {
            url: url.to_owned(),
            ..owner.clone()
        };
        match links.store.put(&code, &link, links.ttl).await {
            Ok(()) => format!("{}/l/{code}", links.base.trim_end_matches('/')),
            Err(e) => {
                Metrics::incr(&self.inner.metrics.store_errors);
                tracing::warn!(error = %e, "link store failed: the URL is sent untracked");
                url.to_owned()
            }
        }
    }

    /// A click on tracked link `code`: where to redirect (`None`: unknown or expired).
    /// The first click of a link is a conversion of its rule and variant.
    pub async fn follow_link(&self, code: &str) -> Option<String> {
        let links = self.inner.links.as_ref()?;
        match links.store.click(code).await {
            Ok(Some((link, first))) => {
                if first && let Some(variant) = &link.variant {
                    self.inner.engine.record_conversion(&link.rule, variant);
                    self.share_variant(&link.rule, variant, Count::Conversion);
                    self.conversion_record(&link, code);
                }
                self.inner
                    .metrics
                    .count_link(if first { "converted" } else { "clicked_again" });
                Some(link.url)
            }
            Ok(None) => {
                self.inner.metrics.count_link("unknown");
                None
            }
            Err(e) => {
                Metrics::incr(&self.inner.metrics.store_errors);
                tracing::warn!(error = %e, "link store failed: the click is not followed");
                None
            }
        }
    }

    /// The conversion in the event log (the archive counts it as the engine does).
    fn conversion_record(&self, link: &TrackedLink, code: &str) {
        let inner = &self.inner;
        let Some(sink) = &inner.sink else { return };
        let record = crate::event_log::EventRecord {
            at_ms: self.now_ms(),
            app: inner.app.clone(),
            channel: link.channel,
            user: link.user.clone(),
            chat: None,
            msg_type: "link_click".to_owned(),
            event: Some(format!("link_click:{}", link.url)),
            text: None,
            rule: Some(link.rule.clone()),
            variant: link.variant.clone(),
            reply: None,
            latency_ms: 0,
            delivery: "none".to_owned(),
            outcome: "converted".to_owned(),
            actions: Vec::new(),
            errors: Vec::new(),
            key: format!("click:{code}"),
        };
        sink.record_owned(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_end_where_the_text_goes_on() {
        let text = "详情见 https://shop.example.com/a?b=1，或 http://x.cn/p)。不是 httpx";
        let found: Vec<&str> = urls(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(found, ["https://shop.example.com/a?b=1", "http://x.cn/p"]);
        assert!(urls("没有链接 http").is_empty());
    }

    #[test]
    fn codes_are_long_and_different() {
        let (a, b) = (code().unwrap(), code().unwrap());
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn the_first_click_is_the_conversion() {
        let store = MemoryLinkStore::default();
        let link = TrackedLink {
            url: "https://x".into(),
            rule: "r".into(),
            variant: Some("b".into()),
            user: "u".into(),
            channel: Channel::Kf,
        };
        store
            .put("c", &link, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(store.click("c").await.unwrap(), Some((link.clone(), true)));
        assert_eq!(store.click("c").await.unwrap(), Some((link, false)));
        assert_eq!(store.click("nope").await.unwrap(), None);
    }
}
