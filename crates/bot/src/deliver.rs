//! Active delivery: the pieces a passive reply could not carry go through
//! `message/send`, in order; a customer's welcome through
//! `externalcontact/send_welcome_msg`; local files uploaded once and their `media_id`
//! reused until it expires.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use wecom_sdk_client::api::media::MediaType;
use wecom_sdk_client::{Client, ClientError};
use wecom_sdk_message::send::{
    AppMessage, Attachment, AttachmentImage, Content, MediaRef, Recipients, WelcomeMsg,
};

use crate::inbound::Target;
use crate::render::Piece;

/// WeCom keeps an uploaded medium 3 days; the cache renews it an hour earlier.
const MEDIA_LIFETIME: Duration = Duration::from_secs(3 * 24 * 3600 - 3600);

/// `media_id`s of uploaded local files, by path, with when they expire.
#[derive(Debug, Default)]
pub(crate) struct MediaCache {
    entries: tokio::sync::Mutex<HashMap<PathBuf, (String, SystemTime)>>,
}

impl MediaCache {
    /// The `media_id` of `path` (read from `dir` when relative): uploaded at most once
    /// per lifetime, however many messages want it at the same moment.
    pub(crate) async fn media_id(
        &self,
        client: &Client,
        dir: &Path,
        path: &str,
        name: Option<&str>,
        now: SystemTime,
    ) -> Result<String, String> {
        let full = dir.join(path);
        // Held across the upload: concurrent senders of one file wait for one upload.
        let mut entries = self.entries.lock().await;
        if let Some((id, until)) = entries.get(&full)
            && *until > now
        {
            return Ok(id.clone());
        }
        let bytes = tokio::fs::read(&full)
            .await
            .map_err(|e| format!("reading {}: {e}", full.display()))?;
        let filename = name
            .map(str::to_owned)
            .or_else(|| full.file_name().map(|f| f.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "file".to_owned());
        let uploaded = client
            .media()
            .upload(MediaType::File, &filename, bytes)
            .await
            .map_err(|e| describe(&e))?;
        entries.insert(full, (uploaded.media_id.clone(), now + MEDIA_LIFETIME));
        Ok(uploaded.media_id)
    }
}

/// A client error as the event log shows it: WeCom's code first.
pub(crate) fn describe(e: &ClientError) -> String {
    match e.errcode() {
        Some(code) => format!("errcode {code}: {e}"),
        None => e.to_string(),
    }
}

/// What one active delivery did.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    pub(crate) ok: usize,
    pub(crate) errors: Vec<String>,
}

/// Sends `pieces` to `target` in order, one message each; a failed piece is recorded
/// and the next still goes (the client already repeated what was safe to repeat).
pub(crate) async fn send_active(
    client: &Client,
    media: &MediaCache,
    media_dir: &Path,
    target: &Target,
    pieces: &[Piece],
    now: SystemTime,
) -> Sent {
    let mut sent = Sent::default();
    let Target::User(user) = target;
    for piece in pieces {
        let content = match piece {
            Piece::LocalFile { path, name } => {
                match media
                    .media_id(client, media_dir, path, name.as_deref(), now)
                    .await
                {
                    Ok(id) => Content::file(id),
                    Err(e) => {
                        sent.errors.push(format!("file {path}: {e}"));
                        continue;
                    }
                }
            }
            other => match other.content() {
                Some(c) => c,
                None => continue,
            },
        };
        let message = AppMessage::new(0, Recipients::users([user.as_str()]), content);
        match client.message().send(&message).await {
            Ok(_) => sent.ok += 1,
            Err(e) => sent
                .errors
                .push(format!("{}: {}", piece.kind(), describe(&e))),
        }
    }
    sent
}

/// Sends the welcome message for `code`: the texts joined (≤ 4000 bytes), the rest as
/// attachments (news as links, images, videos, files; at most 9). Sent once: a
/// welcome code is single use.
pub(crate) async fn send_welcome(
    client: &Client,
    media: &MediaCache,
    media_dir: &Path,
    code: &str,
    pieces: &[Piece],
    now: SystemTime,
) -> Sent {
    let mut sent = Sent::default();
    let mut welcome = WelcomeMsg::new(code);
    let texts: Vec<&str> = pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    if !texts.is_empty() {
        welcome = welcome.text(cut(&texts.concat(), 4000));
    }
    for piece in pieces {
        let attachment = match piece {
            Piece::Text(_) => continue,
            Piece::Image { media_id } => Attachment::Image {
                image: AttachmentImage {
                    media_id: Some(media_id.clone()),
                    pic_url: None,
                },
            },
            Piece::Video { media_id, .. } => Attachment::Video {
                video: MediaRef {
                    media_id: media_id.clone(),
                },
            },
            Piece::File { media_id } => Attachment::File {
                file: MediaRef {
                    media_id: media_id.clone(),
                },
            },
            Piece::LocalFile { path, name } => {
                match media
                    .media_id(client, media_dir, path, name.as_deref(), now)
                    .await
                {
                    Ok(media_id) => Attachment::File {
                        file: MediaRef { media_id },
                    },
                    Err(e) => {
                        sent.errors.push(format!("file {path}: {e}"));
                        continue;
                    }
                }
            }
            Piece::News(items) => {
                for n in items {
                    welcome = welcome.attachment(Attachment::link(n.title.clone(), n.url.clone()));
                }
                continue;
            }
            Piece::MiniProgram { .. } => {
                sent.errors
                    .push("miniprogram: a welcome needs its picture's media_id".to_owned());
                continue;
            }
        };
        welcome = welcome.attachment(attachment);
    }
    welcome.attachments.truncate(9);
    match client.external_contact().send_welcome_msg(&welcome).await {
        Ok(()) => sent.ok += 1,
        Err(e) => sent.errors.push(format!("welcome: {}", describe(&e))),
    }
    sent
}

/// `text` cut to at most `max` bytes on a character boundary.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
