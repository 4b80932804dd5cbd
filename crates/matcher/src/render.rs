//! Rendering a fired rule's reply: variables, sensitive-word masking, videos before news.

use std::borrow::Cow;
use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::compiled::{CompiledPart, RuleSet};
use crate::incoming::Incoming;
use crate::rule::Part;
use crate::template::Template;

impl RuleSet {
    /// Renders reply parts: variables, sensitive-word masking, videos before news.
    pub(crate) fn render(
        &self,
        parts: &[CompiledPart],
        incoming: &Incoming,
        now: Timestamp,
        extra: &BTreeMap<String, String>,
    ) -> Vec<Part> {
        // Variables: captures and entities, then the sender's attributes, then built-ins;
        // time and date are computed only when a template asks for them.
        let lookup = |name: &str| -> Option<Cow<'_, str>> {
            if let Some(v) = extra.get(name).or_else(|| incoming.attrs.get(name)) {
                return Some(Cow::Borrowed(v.as_str()));
            }
            match name {
                "user_id" => Some(Cow::Borrowed(incoming.user_id.as_str())),
                "nickname" => Some(Cow::Borrowed(
                    incoming.nickname.as_deref().unwrap_or(&incoming.user_id),
                )),
                "time" => {
                    let local = now.to_zoned_datetime(self.tz.clone());
                    Some(Cow::Owned(hh_mm(local.hour(), local.minute())))
                }
                "date" => Some(Cow::Owned(
                    now.to_zoned_datetime(self.tz.clone()).date().to_string(),
                )),
                _ => None,
            }
        };
        let render = |t: &Template| t.render_with(lookup);
        let text = |t: &Template| {
            let rendered = render(t);
            match self.filter.mask_cow(&rendered) {
                Cow::Borrowed(_) => rendered,
                Cow::Owned(masked) => masked,
            }
        };
        let opt = |t: &Option<Template>| t.as_ref().map(text);
        let mut out: Vec<Part> = parts
            .iter()
            .map(|p| match p {
                CompiledPart::Text(t) => Part::Text(text(t)),
                CompiledPart::Image { media_id } => Part::Image {
                    media_id: media_id.clone(),
                },
                CompiledPart::Video {
                    media_id,
                    title,
                    description,
                } => Part::Video {
                    media_id: media_id.clone(),
                    title: opt(title),
                    description: opt(description),
                },
                CompiledPart::News {
                    title,
                    description,
                    url,
                    pic_url,
                } => Part::News {
                    title: text(title),
                    description: opt(description),
                    url: render(url),
                    pic_url: pic_url.clone(),
                },
                CompiledPart::File { media_id, name } => Part::File {
                    media_id: media_id.clone(),
                    name: name.clone(),
                },
                CompiledPart::LocalFile { path, name } => Part::LocalFile {
                    path: path.clone(),
                    name: name.clone(),
                },
                CompiledPart::MiniProgram {
                    appid,
                    pagepath,
                    title,
                    thumb_media_id,
                } => Part::MiniProgram {
                    appid: appid.clone(),
                    pagepath: pagepath.clone(),
                    title: text(title),
                    thumb_media_id: thumb_media_id.clone(),
                },
            })
            .collect();
        videos_before_news(&mut out);
        out
    }
}

/// WeCom shows a video before news cards: move videos that follow the first news card to
/// just before it; everything else keeps its order.
fn videos_before_news(parts: &mut Vec<Part>) {
    let Some(first_news) = parts.iter().position(|p| matches!(p, Part::News { .. })) else {
        return;
    };
    let (mut before, mut moved, mut rest) = (Vec::new(), Vec::new(), Vec::new());
    for (i, p) in parts.drain(..).enumerate() {
        if i < first_news {
            before.push(p);
        } else if matches!(p, Part::Video { .. }) {
            moved.push(p);
        } else {
            rest.push(p);
        }
    }
    parts.extend(before);
    parts.extend(moved);
    parts.extend(rest);
}

/// `HH:MM` without the formatting machinery (a reply with `{time}` renders per message).
fn hh_mm(hour: i8, minute: i8) -> String {
    let digit = |n: i8| char::from(b'0' + u8::try_from(n.rem_euclid(10)).unwrap_or(0));
    let mut out = String::with_capacity(5);
    out.push(digit(hour / 10));
    out.push(digit(hour));
    out.push(':');
    out.push(digit(minute / 10));
    out.push(digit(minute));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn hh_mm_pads() {
        assert_eq!(super::hh_mm(9, 5), "09:05");
        assert_eq!(super::hh_mm(23, 59), "23:59");
        assert_eq!(super::hh_mm(0, 0), "00:00");
    }
}
