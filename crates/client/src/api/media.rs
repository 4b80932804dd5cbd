//! Media ([doc 90253](https://developer.work.weixin.qq.com/document/path/90253)):
//! uploads checked for type and size before sending, permanent images, downloads.

use serde::Deserialize;

use crate::Client;
use crate::error::{ClientError, Kind};

/// The kind of a temporary upload, with WeCom's size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaType {
    /// JPG or PNG, at most 10 MB.
    Image,
    /// AMR, at most 2 MB (and 60 s).
    Voice,
    /// MP4, at most 10 MB.
    Video,
    /// Any file, at most 20 MB.
    File,
}

impl MediaType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Voice => "voice",
            Self::Video => "video",
            Self::File => "file",
        }
    }

    /// The largest upload of this type, in bytes.
    pub fn max_bytes(self) -> usize {
        match self {
            Self::Voice => 2 << 20,
            Self::Image | Self::Video => 10 << 20,
            Self::File => 20 << 20,
        }
    }

    pub(crate) fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Image => &["jpg", "jpeg", "png"],
            Self::Voice => &["amr"],
            Self::Video => &["mp4"],
            Self::File => &[],
        }
    }
}

/// An uploaded temporary media.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Uploaded {
    /// `media_id`: valid 3 days, usable by every app of the corp.
    pub media_id: String,
    /// `created_at`: Unix seconds (WeCom sends it as a string).
    #[serde(default)]
    pub created_at: String,
}

/// The `media/*` endpoints.
#[derive(Debug, Clone, Copy)]
pub struct MediaApi<'a> {
    pub(crate) client: &'a Client,
}

/// Checks a file against WeCom's rules: more than 5 bytes, at most `max`, an extension of
/// `extensions` (any when empty).
pub(crate) fn check(
    path: &str,
    filename: &str,
    len: usize,
    max: usize,
    extensions: &[&str],
) -> Result<(), ClientError> {
    let invalid = |msg: String| Err(ClientError::new(Kind::Invalid, None, msg, path));
    if len <= 5 {
        return invalid(format!("{filename}: {len} bytes; WeCom needs more than 5"));
    }
    if len > max {
        return invalid(format!("{filename}: {len} bytes, at most {max} allowed"));
    }
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if !extensions.is_empty() && !extensions.contains(&ext.as_str()) {
        return invalid(format!("{filename}: must be {}", extensions.join(", ")));
    }
    Ok(())
}

impl MediaApi<'_> {
    /// Uploads temporary media (multipart part `media`), after checking its type and size.
    ///
    /// # Errors
    /// [`Kind::Invalid`] before any request for a file that is too small, too large or of
    /// the wrong type; API errors (40004–40011, 45001).
    pub async fn upload(
        &self,
        kind: MediaType,
        filename: &str,
        bytes: Vec<u8>,
    ) -> Result<Uploaded, ClientError> {
        const PATH: &str = "/cgi-bin/media/upload";
        check(
            PATH,
            filename,
            bytes.len(),
            kind.max_bytes(),
            kind.extensions(),
        )?;
        self.client
            .upload(PATH, &[("type", kind.as_str())], filename, bytes)
            .await
    }

    /// Uploads an image for use inside WeCom content and returns its permanent URL
    /// (JPG or PNG, 5 B to 2 MB; 1000 a day per corp).
    ///
    /// # Errors
    /// As [`upload`](Self::upload).
    pub async fn uploadimg(&self, filename: &str, bytes: Vec<u8>) -> Result<String, ClientError> {
        const PATH: &str = "/cgi-bin/media/uploadimg";
        #[derive(Deserialize)]
        struct Answer {
            url: String,
        }
        check(
            PATH,
            filename,
            bytes.len(),
            2 << 20,
            &["jpg", "jpeg", "png"],
        )?;
        let answer: Answer = self.client.upload(PATH, &[], filename, bytes).await?;
        Ok(answer.url)
    }

    /// Downloads temporary media.
    ///
    /// # Errors
    /// Transport errors, or the API's error when WeCom answers JSON instead of the file.
    pub async fn get(&self, media_id: &str) -> Result<Vec<u8>, ClientError> {
        self.client
            .download("/cgi-bin/media/get", &[("media_id", media_id)])
            .await
    }
}
