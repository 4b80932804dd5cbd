//! From a rule's reply parts to WeCom messages: consecutive texts joined and cut at
//! WeCom's 2048-byte limit, news cards grouped eight to a message, the sensitive-word
//! filter applied on the way out; then each piece as a passive reply or an active
//! message.

use wecom_sdk_matcher::{Hit, Part, SensitiveFilter};
use wecom_sdk_message::reply::{Article, Reply};
use wecom_sdk_message::send::{Content, Media, NewsArticle, TEXT_MAX_BYTES, Video};
use wecom_sdk_message::split_text;

/// WeCom shows at most this many articles in one news message.
pub const MAX_ARTICLES: usize = 8;

/// One message to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Piece {
    /// A text of at most 2048 bytes.
    Text(String),
    /// An uploaded image.
    Image {
        /// `media_id`.
        media_id: String,
    },
    /// An uploaded video.
    Video {
        /// `media_id`.
        media_id: String,
        /// Title.
        title: Option<String>,
        /// Description.
        description: Option<String>,
    },
    /// 1–8 news cards.
    News(Vec<NewsItem>),
    /// An uploaded file.
    File {
        /// `media_id`.
        media_id: String,
    },
    /// A local file, uploaded before it is sent.
    LocalFile {
        /// Its path.
        path: String,
        /// Display name.
        name: Option<String>,
    },
    /// A mini-program card (active only: sent as a news card that opens the page).
    MiniProgram {
        /// `appid`.
        appid: String,
        /// Page path.
        pagepath: String,
        /// Title.
        title: String,
    },
}

/// One news card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewsItem {
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Link.
    pub url: String,
    /// Picture.
    pub pic_url: Option<String>,
}

/// The words of `pieces` joined by `sep`: texts as they are, news cards as markdown
/// links, mini-programs by title; media (images, videos, files) has no words.
pub(crate) fn words(pieces: &[Piece], sep: &str) -> String {
    let mut out = String::new();
    let mut push = |s: &str| {
        if !out.is_empty() {
            out.push_str(sep);
        }
        out.push_str(s);
    };
    for piece in pieces {
        match piece {
            Piece::Text(t) => push(t),
            Piece::News(items) => {
                for item in items {
                    push(&format!("[{}]({})", item.title, item.url));
                }
            }
            Piece::MiniProgram { title, .. } => push(title),
            _ => {}
        }
    }
    out
}

impl Piece {
    /// A short name for logs and the event log.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Image { .. } => "image",
            Self::Video { .. } => "video",
            Self::News(_) => "news",
            Self::File { .. } | Self::LocalFile { .. } => "file",
            Self::MiniProgram { .. } => "miniprogram",
        }
    }

    /// This piece as a passive reply; `None` for files and mini-programs, which only
    /// the active API carries.
    pub fn passive(&self) -> Option<Reply> {
        self.clone().into_passive()
    }

    /// [`passive`](Self::passive), moving the piece's strings into the reply.
    pub fn into_passive(self) -> Option<Reply> {
        match self {
            Self::Text(t) => Some(Reply::text(t)),
            Self::Image { media_id } => Some(Reply::image(media_id)),
            Self::Video {
                media_id,
                title,
                description,
            } => Some(Reply::Video {
                media_id,
                title,
                description,
            }),
            Self::News(items) => Some(Reply::news(
                items
                    .into_iter()
                    .map(|n| Article {
                        title: n.title,
                        description: n.description.unwrap_or_default(),
                        pic_url: n.pic_url.unwrap_or_default(),
                        url: n.url,
                    })
                    .collect(),
            )),
            Self::File { .. } | Self::LocalFile { .. } | Self::MiniProgram { .. } => None,
        }
    }

    /// This piece as the content of an app message; `None` for a local file not yet
    /// uploaded (see [`Piece::File`]).
    pub fn content(&self) -> Option<Content> {
        Some(match self {
            Self::Text(t) => Content::text(t.clone()),
            Self::Image { media_id } => Content::image(media_id.clone()),
            Self::Video {
                media_id,
                title,
                description,
            } => Content::Video(Video {
                media_id: media_id.clone(),
                title: title.clone(),
                description: description.clone(),
            }),
            Self::News(items) => Content::news(
                items
                    .iter()
                    .map(|n| NewsArticle {
                        description: n.description.clone(),
                        picurl: n.pic_url.clone(),
                        ..NewsArticle::new(n.title.clone(), n.url.clone())
                    })
                    .collect(),
            ),
            Self::File { media_id } => Content::File(Media {
                media_id: media_id.clone(),
            }),
            Self::MiniProgram {
                appid,
                pagepath,
                title,
            } => Content::news(vec![NewsArticle {
                title: title.clone(),
                appid: Some(appid.clone()),
                pagepath: Some(pagepath.clone()),
                ..NewsArticle::default()
            }]),
            Self::LocalFile { .. } => return None,
        })
    }
}

/// The messages that carry `parts`, in order: consecutive texts joined by a blank line,
/// masked by `filter` and cut at 2048 bytes; consecutive news cards eight to a message
/// (their titles and descriptions masked too); every other part a message of its own.
pub fn plan(parts: &[Part], filter: &SensitiveFilter) -> Vec<Piece> {
    let mask = |s: &str| {
        if filter.is_empty() {
            s.to_owned()
        } else {
            filter.mask(s)
        }
    };
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut news: Vec<NewsItem> = Vec::new();
    let flush = |pieces: &mut Vec<Piece>, text: &mut String, news: &mut Vec<NewsItem>| {
        if !text.is_empty() {
            // The joined text moves into its piece: no copy unless masked or split.
            let masked = if filter.is_empty() {
                std::mem::take(text)
            } else {
                let masked = filter.mask(text);
                text.clear();
                masked
            };
            if masked.len() <= TEXT_MAX_BYTES {
                pieces.push(Piece::Text(masked));
            } else {
                pieces.extend(
                    split_text(&masked, TEXT_MAX_BYTES)
                        .into_iter()
                        .map(Piece::Text),
                );
            }
        }
        for chunk in news.chunks(MAX_ARTICLES) {
            pieces.push(Piece::News(chunk.to_vec()));
        }
        news.clear();
    };
    for part in parts {
        match part {
            Part::Text(t) if t.is_empty() => {}
            Part::Text(t) => {
                if !news.is_empty() {
                    flush(&mut pieces, &mut text, &mut news);
                }
                if !text.is_empty() {
                    text.push_str("\n\n");
                }
                text.push_str(t);
            }
            Part::News {
                title,
                description,
                url,
                pic_url,
            } => {
                if !text.is_empty() {
                    flush(&mut pieces, &mut text, &mut news);
                }
                news.push(NewsItem {
                    title: mask(title),
                    description: description.as_deref().map(mask),
                    url: url.clone(),
                    pic_url: pic_url.clone(),
                });
            }
            other => {
                flush(&mut pieces, &mut text, &mut news);
                if let Some(piece) = single(other) {
                    pieces.push(piece);
                }
            }
        }
    }
    flush(&mut pieces, &mut text, &mut news);
    pieces
}

fn single(part: &Part) -> Option<Piece> {
    Some(match part {
        Part::Image { media_id } => Piece::Image {
            media_id: media_id.clone(),
        },
        Part::Video {
            media_id,
            title,
            description,
        } => Piece::Video {
            media_id: media_id.clone(),
            title: title.clone(),
            description: description.clone(),
        },
        Part::File { media_id, .. } => Piece::File {
            media_id: media_id.clone(),
        },
        Part::LocalFile { path, name } => Piece::LocalFile {
            path: path.clone(),
            name: name.clone(),
        },
        Part::MiniProgram {
            appid,
            pagepath,
            title,
            ..
        } => Piece::MiniProgram {
            appid: appid.clone(),
            pagepath: pagepath.clone(),
            title: title.clone(),
        },
        _ => return None,
    })
}

/// The passive reply for a hit: the first message of its [`plan`] when a passive reply
/// can carry it (text, image, video, news); `None` otherwise — never an empty text. The
/// rest of a multi-part reply goes through the active API (the bot does that).
///
/// ```
/// use wecom_sdk_matcher::{Engine, Incoming, Part, Rule, RuleSet};
/// use wecom_sdk_message::reply::Reply;
/// let rules = RuleSet::new([Rule::new("menu", "菜单").contains("菜单").reply_parts(vec![
///     Part::News { title: "本周菜单".into(), description: None, url: "https://shop.example/menu".into(), pic_url: None },
/// ])])?;
/// let hit = Engine::new(rules).find(&Incoming::new("u", "菜单")).expect("fires");
/// let Some(Reply::News { articles }) = wecom_sdk_bot::passive_reply(&hit) else { panic!("a news reply") };
/// assert_eq!(articles[0].title, "本周菜单");
/// # Ok::<(), wecom_sdk_matcher::RuleSetError>(())
/// ```
pub fn passive_reply(hit: &Hit) -> Option<Reply> {
    plan(&hit.parts, &SensitiveFilter::default())
        .into_iter()
        .next()
        .and_then(Piece::into_passive)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn news(title: &str) -> Part {
        Part::News {
            title: title.into(),
            description: None,
            url: "https://e.example".into(),
            pic_url: None,
        }
    }

    #[test]
    fn texts_join_and_split_news_group_by_eight() {
        let long = "很长的说明。".repeat(200); // 3 600 bytes
        let mut parts = vec![Part::Text("第一段".into()), Part::Text(long)];
        parts.extend((0..10).map(|i| news(&format!("卡片{i}"))));
        parts.push(Part::File {
            media_id: "M".into(),
            name: None,
        });
        let pieces = plan(&parts, &SensitiveFilter::default());
        let kinds: Vec<&str> = pieces.iter().map(Piece::kind).collect();
        let texts = kinds.iter().filter(|k| **k == "text").count();
        assert_eq!(&kinds[texts..], ["news", "news", "file"]);
        let joined: String = pieces[..texts]
            .iter()
            .map(|p| match p {
                Piece::Text(t) => {
                    assert!(t.len() <= 2048);
                    t.as_str()
                }
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(joined, format!("第一段\n\n{}", "很长的说明。".repeat(200)));
        assert!(matches!(&pieces[texts], Piece::News(n) if n.len() == 8));
        assert!(matches!(&pieces[texts + 1], Piece::News(n) if n.len() == 2));
        assert!(pieces[texts + 2].passive().is_none());
    }

    #[test]
    fn the_filter_masks_what_goes_out() {
        let filter = SensitiveFilter::new(["刷单"]);
        let pieces = plan(&[Part::Text("不要刷单".into()), news("刷单卡片")], &filter);
        assert_eq!(pieces[0], Piece::Text(filter.mask("不要刷单")));
        assert!(matches!(&pieces[1], Piece::News(n) if !n[0].title.contains("刷单")));
    }

    #[test]
    fn nothing_renders_nothing() {
        assert!(plan(&[Part::Text(String::new())], &SensitiveFilter::default()).is_empty());
    }
}
