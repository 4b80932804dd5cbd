//! Producing a streamed answer: reading the handler's pieces into the cumulative state,
//! writing it to the stream store (callback mode: WeCom's polls read it) or pushing it
//! as frames (WebSocket mode), and — past the stream window — finishing through the
//! message's `response_url`.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use futures_util::StreamExt as _;
use md5::Digest as _;
use wecom_sdk_message::aibot::{AiBotMessage, STREAM_MAX_BYTES};

use super::AiBotChannel;
use super::stream::{StreamPiece, StreamState, TextStream};
use crate::Bot;
use crate::bot::unix_ms;
use crate::metrics::Metrics;

/// Images a finished stream carries at most.
const MAX_IMAGES: usize = 10;
/// The largest image (before base64).
const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;

/// Where a stream's states go besides the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outlet {
    /// Only the store: WeCom polls (callback mode).
    Store,
    /// Also pushed as `aibot_respond_msg` frames over the WebSocket.
    Ws,
}

/// `text` cut to at most `max` bytes, on a character boundary.
pub(crate) fn cut_to(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

impl Bot {
    /// Stores `state` of stream `id` (a failing store is counted and logged).
    pub(crate) async fn ai_put(&self, ai: &AiBotChannel, id: &str, state: &StreamState) {
        if let Err(e) = ai
            .streams
            .put(&self.stream_key(id), state, ai.stream_ttl())
            .await
        {
            Metrics::incr(&self.inner.metrics.store_errors);
            tracing::warn!(stream = id, error = %e, "stream store failed: this state is not stored");
        }
    }

    /// Reads `pieces` into `state` until they end, writing it every `flush` (and
    /// sending the first state to `first`); past the window, the whole answer goes to
    /// `response_url` instead.
    pub(crate) async fn produce(
        &self,
        ai: &AiBotChannel,
        message: &Arc<AiBotMessage>,
        pieces: TextStream,
        mut state: StreamState,
        outlet: Outlet,
        first: Option<tokio::sync::oneshot::Sender<StreamState>>,
    ) -> StreamState {
        let id = message.msgid.as_str();
        let mut first = first;
        let Some(mut pieces) = pieces.take() else {
            tracing::warn!(
                stream = id,
                "a stream answered twice: its pieces were already read"
            );
            return state;
        };
        let metrics = &self.inner.metrics;
        let mut images = Vec::new();
        let mut truncated = false;
        let mut last_flush = Instant::now();
        let mut dirty = false;
        // Written once so that a poll (or a re-delivery) finds the stream at once.
        self.ai_put(ai, id, &state).await;
        loop {
            // While a first state is owed, or the state changed, wake at the next flush.
            let next = if first.is_some() || dirty {
                let wait = ai.flush.saturating_sub(last_flush.elapsed());
                tokio::time::timeout(wait, pieces.next()).await.ok()
            } else {
                Some(pieces.next().await)
            };
            match next {
                Some(None) => break,
                Some(Some(StreamPiece::Text(text))) => {
                    state.content.push_str(&text);
                    if state.content.len() > STREAM_MAX_BYTES {
                        if !truncated {
                            truncated = true;
                            metrics.count_ai("stream_truncated");
                            tracing::warn!(
                                stream = id,
                                "the answer is over WeCom's 20 480 bytes: the rest is cut"
                            );
                        }
                        state.content =
                            cut_to(std::mem::take(&mut state.content), STREAM_MAX_BYTES);
                    }
                    dirty = true;
                }
                Some(Some(StreamPiece::Image(bytes))) => {
                    if images.len() >= MAX_IMAGES || bytes.len() > MAX_IMAGE_BYTES {
                        metrics.count_ai("image_dropped");
                        tracing::warn!(
                            stream = id,
                            bytes = bytes.len(),
                            "an image over WeCom's limits (10 images of 10 MB) is dropped"
                        );
                    } else {
                        images.push(bytes);
                    }
                }
                // The flush time came.
                None => {}
            }
            if last_flush.elapsed() >= ai.flush && (dirty || first.is_some()) {
                // The first state goes out as the first reply; stored first, so that no
                // poll reads an older one.
                let handed = match first.take() {
                    Some(tx) => {
                        self.ai_put(ai, id, &state).await;
                        tx.send(state.clone()).is_ok()
                    }
                    None => false,
                };
                if !handed && dirty && self.in_window(ai, &state) {
                    self.ai_flush(ai, message, &state, outlet).await;
                }
                last_flush = Instant::now();
                dirty = false;
            }
        }
        state.finish = true;
        state.images = images
            .iter()
            .map(|img| {
                (
                    base64::engine::general_purpose::STANDARD.encode(img),
                    hex::encode(md5::Md5::digest(img)),
                )
            })
            .collect();
        if let Some(tx) = first.take() {
            self.ai_put(ai, id, &state).await;
            if tx.send(state.clone()).is_ok() {
                // Done before the first reply went: the first reply is the whole answer.
                self.ai_finished(ai, message, &state, outlet).await;
                return state;
            }
        }
        if self.in_window(ai, &state) {
            self.ai_flush(ai, message, &state, outlet).await;
        } else {
            state.via_response_url = true;
            self.ai_put(ai, id, &state).await;
            self.respond_late(ai, message, &state.content).await;
        }
        self.ai_finished(ai, message, &state, outlet).await;
        state
    }

    /// Whether WeCom still polls the stream of `state`.
    fn in_window(&self, ai: &AiBotChannel, state: &StreamState) -> bool {
        let window = u64::try_from(ai.window.as_millis()).unwrap_or(u64::MAX);
        unix_ms(self.inner.clock.now()).saturating_sub(state.started_ms) < window
    }

    /// Writes the state to the store and, over the WebSocket, pushes it.
    async fn ai_flush(
        &self,
        ai: &AiBotChannel,
        message: &AiBotMessage,
        state: &StreamState,
        outlet: Outlet,
    ) {
        self.ai_put(ai, &message.msgid, state).await;
        if outlet == Outlet::Ws {
            ai.outlets.push_stream(&message.msgid, state);
        }
    }

    /// The stream ended: the dedup record keeps its last frame (a WebSocket re-delivery
    /// gets it again).
    async fn ai_finished(
        &self,
        ai: &AiBotChannel,
        message: &AiBotMessage,
        state: &StreamState,
        outlet: Outlet,
    ) {
        self.inner.metrics.count_ai("stream_finished");
        if outlet == Outlet::Ws {
            let reply = wecom_sdk_message::aibot::AiBotReply::Stream(super::stream_reply(
                &message.msgid,
                state,
            ));
            let key = format!("{}:aibot:{}", self.inner.app, message.msgid);
            self.complete(
                &key,
                &crate::dedup::Answered::Passive(bytes::Bytes::from(reply.to_json())),
            )
            .await;
            ai.outlets.unbind(&message.msgid);
        }
    }

    /// Posts `content` to the message's `response_url` (single use, one hour): the
    /// stream window closed before the answer was complete.
    async fn respond_late(&self, ai: &AiBotChannel, message: &AiBotMessage, content: &str) {
        let metrics = &self.inner.metrics;
        let Some(url) = message.response_url.as_deref().filter(|u| !u.is_empty()) else {
            metrics.count_ai("response_url_missing");
            tracing::warn!(msgid = %message.msgid, "the stream window closed and the message has no response_url: the rest of the answer is lost");
            return;
        };
        let body = serde_json::json!({ "msgtype": "markdown", "markdown": { "content": content } });
        match ai.http.post(url).json(&body).send().await {
            Ok(r) if r.status().is_success() => {
                let errcode = r
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|v| v.get("errcode").and_then(serde_json::Value::as_i64))
                    .unwrap_or(0);
                if errcode == 0 {
                    metrics.count_ai("response_url_sent");
                } else {
                    metrics.count_ai("response_url_failed");
                    tracing::warn!(msgid = %message.msgid, errcode, "response_url refused the answer");
                }
            }
            Ok(r) => {
                metrics.count_ai("response_url_failed");
                tracing::warn!(msgid = %message.msgid, status = r.status().as_u16(), "response_url refused the answer");
            }
            Err(e) => {
                metrics.count_ai("response_url_failed");
                tracing::warn!(msgid = %message.msgid, error = %e.without_url(), "response_url unreachable");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cut_to;

    #[test]
    fn cuts_on_char_boundaries() {
        assert_eq!(cut_to("你好".to_owned(), 4), "你");
        assert_eq!(cut_to("abc".to_owned(), 10), "abc");
        assert_eq!(cut_to("abc".to_owned(), 0), "");
    }
}
