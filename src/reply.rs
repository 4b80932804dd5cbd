//! From a rule's hit to WeCom messages (features `matcher` and `message`).

use wecom_sdk_matcher::{Hit, Part};
use wecom_sdk_message::reply::{Article, Reply};

/// WeCom shows at most this many articles in one news reply.
const MAX_ARTICLES: usize = 8;

/// The passive reply for a hit: its text (all text parts, joined), or else its first
/// image or video, or else its news cards (up to 8 in one news reply). `None` when the
/// hit has nothing a passive reply can carry (files and mini-programs go through the
/// active API) — never an empty text.
///
/// ```
/// use wecom_sdk::matcher::{Engine, Incoming, Part, Rule, RuleSet};
/// use wecom_sdk::message::reply::Reply;
/// let rules = RuleSet::new([Rule::new("menu", "菜单").contains("菜单").reply_parts(vec![
///     Part::News { title: "本周菜单".into(), description: None, url: "https://shop.example/menu".into(), pic_url: None },
/// ])])?;
/// let hit = Engine::new(rules).find(&Incoming::new("u", "菜单")).expect("fires");
/// let Some(Reply::News { articles }) = wecom_sdk::passive_reply(&hit) else { panic!("a news reply") };
/// assert_eq!(articles[0].title, "本周菜单");
/// # Ok::<(), wecom_sdk::matcher::RuleSetError>(())
/// ```
pub fn passive_reply(hit: &Hit) -> Option<Reply> {
    if let Some(text) = hit.text() {
        return Some(Reply::text(text));
    }
    let media = hit.parts.iter().find_map(|part| match part {
        Part::Image { media_id } => Some(Reply::image(media_id.clone())),
        Part::Video {
            media_id,
            title,
            description,
        } => Some(Reply::Video {
            media_id: media_id.clone(),
            title: title.clone(),
            description: description.clone(),
        }),
        _ => None,
    });
    if media.is_some() {
        return media;
    }
    let articles: Vec<Article> = hit
        .parts
        .iter()
        .filter_map(|part| match part {
            Part::News {
                title,
                description,
                url,
                pic_url,
            } => Some(Article {
                title: title.clone(),
                description: description.clone().unwrap_or_default(),
                pic_url: pic_url.clone().unwrap_or_default(),
                url: url.clone(),
            }),
            _ => None,
        })
        .take(MAX_ARTICLES)
        .collect();
    (!articles.is_empty()).then(|| Reply::news(articles))
}
