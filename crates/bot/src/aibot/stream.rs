//! Streamed answers: what a handler returns ([`TextStream`], fed by a [`StreamWriter`]
//! or any `Stream` of text), and where a stream's state lives while WeCom polls for it
//! ([`StreamStore`]: this process's memory, or Redis when several instances serve one
//! bot).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::{Stream, StreamExt as _};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::error::StoreError;

/// One piece of a streamed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamPiece {
    /// More text, appended to what came before.
    Text(String),
    /// An image (JPG or PNG, at most 10 MB), shown when the stream finishes.
    Image(Vec<u8>),
}

type Pieces = Pin<Box<dyn Stream<Item = StreamPiece> + Send>>;

/// An answer that arrives in pieces: returned by a handler as
/// [`Flow::Stream`](crate::Flow::Stream).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use wecom_sdk_bot::{Flow, TextStream};
/// let (writer, stream) = TextStream::channel(16);
/// tokio::spawn(async move {
///     writer.text("您的快递").await;
///     writer.text("已到达【上海转运中心】").await;
/// });
/// let flow = Flow::Stream(stream);
/// # let _ = flow;
/// # }
/// ```
#[derive(Clone)]
pub struct TextStream(Arc<Mutex<Option<Pieces>>>);

impl std::fmt::Debug for TextStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TextStream")
    }
}

/// Two handles are equal when they are the same stream.
impl PartialEq for TextStream {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl TextStream {
    /// A stream of text pieces (e.g. an LLM client's tokens), each appended to the last.
    pub fn new<S>(pieces: S) -> Self
    where
        S: Stream<Item = String> + Send + 'static,
    {
        Self::of_pieces(pieces.map(StreamPiece::Text))
    }

    /// A stream of [`StreamPiece`]s: text, and images for the end.
    pub fn of_pieces<S>(pieces: S) -> Self
    where
        S: Stream<Item = StreamPiece> + Send + 'static,
    {
        Self(Arc::new(Mutex::new(Some(Box::pin(pieces)))))
    }

    /// A stream fed through the returned writer; it ends when the writer is dropped.
    /// `capacity` pieces wait at most before [`StreamWriter::text`] waits.
    pub fn channel(capacity: usize) -> (StreamWriter, Self) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let pieces = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|piece| (piece, rx))
        });
        (StreamWriter(tx), Self::of_pieces(pieces))
    }

    /// The pieces, once (a clone of a taken stream has none).
    pub(crate) fn take(&self) -> Option<Pieces> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// The whole text, for channels that send whole messages (images are dropped).
    pub(crate) async fn collect(self) -> String {
        let Some(mut pieces) = self.take() else {
            return String::new();
        };
        let mut text = String::new();
        while let Some(piece) = pieces.next().await {
            if let StreamPiece::Text(t) = piece {
                text.push_str(&t);
            }
        }
        text
    }
}

/// Feeds a [`TextStream`] made by [`TextStream::channel`].
#[derive(Debug, Clone)]
pub struct StreamWriter(mpsc::Sender<StreamPiece>);

impl StreamWriter {
    /// Appends text. `false` when nobody reads any more (the bot stopped).
    pub async fn text(&self, text: impl Into<String>) -> bool {
        self.0.send(StreamPiece::Text(text.into())).await.is_ok()
    }

    /// Adds an image shown with the finished answer (JPG or PNG, at most 10 MB; at most
    /// ten). `false` when nobody reads any more.
    pub async fn image(&self, bytes: impl Into<Vec<u8>>) -> bool {
        self.0.send(StreamPiece::Image(bytes.into())).await.is_ok()
    }
}

/// Where a streamed answer stands: what WeCom's next refresh poll gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub struct StreamState {
    /// All the text so far (markdown, at most 20 480 bytes).
    pub content: String,
    /// The answer is complete.
    pub finish: bool,
    /// The images of the finished answer: `(base64, md5 hex)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<(String, String)>,
    /// When the first answer went out (unix ms): WeCom polls for about six minutes.
    pub started_ms: u64,
    /// The stream window closed before the answer was complete: the rest went (or goes)
    /// through the message's `response_url`.
    #[serde(default)]
    pub via_response_url: bool,
}

impl StreamState {
    /// A state begun at `started_ms`.
    pub fn new(started_ms: u64) -> Self {
        Self {
            started_ms,
            ..Self::default()
        }
    }
}

/// Where stream states live between WeCom's refresh polls, by stream id. A poll may
/// reach another instance than the one producing the answer: share a Redis store
/// ([`RedisStreamStore`](crate::RedisStreamStore)) between instances.
#[async_trait]
pub trait StreamStore: Send + Sync + std::fmt::Debug {
    /// Stores `state` for `ttl`.
    ///
    /// # Errors
    /// The store is unreachable.
    async fn put(&self, id: &str, state: &StreamState, ttl: Duration) -> Result<(), StoreError>;

    /// The state of stream `id`, if it is known and not expired.
    ///
    /// # Errors
    /// The store is unreachable.
    async fn get(&self, id: &str) -> Result<Option<StreamState>, StoreError>;
}

/// Stream states in this process's memory (one instance, or tests).
#[derive(Debug, Default)]
pub struct MemoryStreamStore {
    states: Mutex<HashMap<String, (StreamState, Instant)>>,
}

/// Past this many states, expired ones are dropped on the next write.
const PRUNE_AT: usize = 4096;

#[async_trait]
impl StreamStore for MemoryStreamStore {
    async fn put(&self, id: &str, state: &StreamState, ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        if states.len() >= PRUNE_AT {
            states.retain(|_, (_, until)| *until > now);
        }
        states.insert(id.to_owned(), (state.clone(), now + ttl));
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<StreamState>, StoreError> {
        let states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(states
            .get(id)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(state, _)| state.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_channel_stream_collects_its_text_once() {
        let (writer, stream) = TextStream::channel(2);
        let again = stream.clone();
        assert_eq!(stream, again);
        tokio::spawn(async move {
            assert!(writer.text("a").await);
            assert!(writer.image(vec![1, 2]).await);
            assert!(writer.text("b").await);
        });
        assert_eq!(stream.collect().await, "ab");
        assert_eq!(again.collect().await, "", "a stream is read once");
    }

    #[tokio::test]
    async fn memory_states_expire() {
        let store = MemoryStreamStore::default();
        let mut state = StreamState::new(1);
        state.content = "x".to_owned();
        store
            .put("s", &state, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(store.get("s").await.unwrap(), Some(state.clone()));
        store.put("t", &state, Duration::ZERO).await.unwrap();
        assert_eq!(store.get("t").await.unwrap(), None);
        assert_eq!(store.get("nope").await.unwrap(), None);
    }

    #[test]
    fn states_round_trip_as_json() {
        let mut state = StreamState::new(7);
        state.images.push((
            "aGk=".to_owned(),
            "49f68a5c8493ec2c0bf489821c21fc3b".to_owned(),
        ));
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<StreamState>(&json).unwrap(), state);
    }
}
