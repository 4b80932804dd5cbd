//! Template cards (模板卡片): one JSON shape shared by app messages, card updates, AI-bot
//! replies and group robots. Five card types; WeCom's list limits are checked by
//! [`TemplateCard::validate`].

use serde::Serialize;

use crate::error::{Limit, LimitError};
use crate::limits;

/// `card_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CardType {
    /// 文本通知: text notice (needs `card_action`).
    #[default]
    TextNotice,
    /// 图文展示: news notice (needs `card_action`).
    NewsNotice,
    /// 按钮交互: buttons (needs `task_id`).
    ButtonInteraction,
    /// 投票选择: vote (needs `task_id`, `checkbox`, `submit_button`).
    VoteInteraction,
    /// 多项选择: multiple selects (needs `task_id`, `select_list`, `submit_button`).
    MultipleInteraction,
}

impl CardType {
    fn interactive(self) -> bool {
        matches!(
            self,
            Self::ButtonInteraction | Self::VoteInteraction | Self::MultipleInteraction
        )
    }
}

/// A template card. Build it with a constructor ([`text_notice`](Self::text_notice),
/// [`news_notice`](Self::news_notice), [`button_interaction`](Self::button_interaction),
/// [`vote_interaction`](Self::vote_interaction),
/// [`multiple_interaction`](Self::multiple_interaction)) and set the optional fields.
///
/// ```
/// use wecom_sdk_message::send::{CardAction, TemplateCard};
/// let card = TemplateCard::text_notice("订单已发货", CardAction::url("https://example.com/o/1"))
///     .sub_title("预计明天送达");
/// card.validate()?;
/// let json = serde_json::to_value(&card)?;
/// assert_eq!(json["card_type"], "text_notice");
/// assert_eq!(json["main_title"]["title"], "订单已发货");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[non_exhaustive]
pub struct TemplateCard {
    /// `card_type`.
    pub card_type: CardType,
    /// `source`: the app icon and name line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<CardSource>,
    /// `action_menu`: the "…" menu (needs `task_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_menu: Option<ActionMenu>,
    /// `main_title`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main_title: Option<MainTitle>,
    /// `emphasis_content`: the big number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emphasis_content: Option<MainTitle>,
    /// `quote_area`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote_area: Option<QuoteArea>,
    /// `sub_title_text`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_title_text: Option<String>,
    /// `horizontal_content_list` (≤ 6).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub horizontal_content_list: Vec<HorizontalContent>,
    /// `jump_list` (≤ 3).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub jump_list: Vec<Jump>,
    /// `card_action`: where a tap on the card goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_action: Option<CardAction>,
    /// `card_image` (news notice).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_image: Option<CardImage>,
    /// `image_text_area` (news notice).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_text_area: Option<ImageTextArea>,
    /// `vertical_content_list` (≤ 4, news notice).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vertical_content_list: Vec<MainTitle>,
    /// `button_selection` (button interaction).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub button_selection: Option<SelectQuestion>,
    /// `button_list` (≤ 6, button interaction).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub button_list: Vec<Button>,
    /// `checkbox` (vote interaction).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkbox: Option<Checkbox>,
    /// `select_list` (≤ 3, multiple interaction).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub select_list: Vec<SelectQuestion>,
    /// `submit_button` (vote and multiple interaction).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submit_button: Option<SubmitButton>,
    /// `task_id`: ≤ 128 bytes of `[0-9A-Za-z_-@]`, unique per app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// `replace_text`: the grey label shown after a click (updates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace_text: Option<String>,
}

/// `source`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct CardSource {
    /// `icon_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    /// `desc`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    /// `desc_color`: 0 grey, 1 black, 2 red, 3 green.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desc_color: Option<u8>,
}

/// `action_menu`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ActionMenu {
    /// `desc`.
    pub desc: String,
    /// `action_list[{text, key}]` (1–3).
    pub action_list: Vec<Button>,
}

/// A title with an optional description (`main_title`, `emphasis_content`,
/// `vertical_content_list` items).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct MainTitle {
    /// `title`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `desc`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
}

/// `quote_area`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct QuoteArea {
    /// `type`: 0 none, 1 URL, 2 mini-program.
    #[serde(rename = "type")]
    pub kind: u8,
    /// `url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `appid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// `pagepath`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagepath: Option<String>,
    /// `title`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `quote_text`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote_text: Option<String>,
}

/// A `horizontal_content_list` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct HorizontalContent {
    /// `type`: absent plain text, 1 URL, 2 media file, 3 member.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<u8>,
    /// `keyname`.
    pub keyname: String,
    /// `value`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `url` (type 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `media_id` (type 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// `userid` (type 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userid: Option<String>,
}

/// A `jump_list` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Jump {
    /// `type`: 1 URL, 2 mini-program.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<u8>,
    /// `title`.
    pub title: String,
    /// `url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `appid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// `pagepath`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagepath: Option<String>,
}

/// `card_action`: 1 opens a URL, 2 a mini-program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct CardAction {
    /// `type`.
    #[serde(rename = "type")]
    pub kind: u8,
    /// `url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `appid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// `pagepath`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagepath: Option<String>,
}

impl CardAction {
    /// Opens `url`.
    pub fn url(url: impl Into<String>) -> Self {
        Self {
            kind: 1,
            url: Some(url.into()),
            ..Self::default()
        }
    }

    /// Opens a mini-program page.
    pub fn miniprogram(appid: impl Into<String>, pagepath: impl Into<String>) -> Self {
        Self {
            kind: 2,
            appid: Some(appid.into()),
            pagepath: Some(pagepath.into()),
            ..Self::default()
        }
    }
}

/// `card_image`.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct CardImage {
    /// `url`.
    pub url: String,
    /// `aspect_ratio`: 1.3 to 2.25.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aspect_ratio: Option<f32>,
}

/// `image_text_area`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ImageTextArea {
    /// `type`: 0 none, 1 URL, 2 mini-program.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<u8>,
    /// `url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `title`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `desc`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    /// `image_url`.
    pub image_url: String,
}

/// A button (`button_list`, `action_menu.action_list`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Button {
    /// `text`.
    pub text: String,
    /// `style`: 1–4.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style: Option<u8>,
    /// `key`: returned in `template_card_event`.
    pub key: String,
}

impl Button {
    /// A button with a label and a callback key.
    pub fn new(text: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            style: None,
            key: key.into(),
        }
    }
}

/// A select question (`button_selection`, `select_list` items).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SelectQuestion {
    /// `question_key`.
    pub question_key: String,
    /// `title`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `selected_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected_id: Option<String>,
    /// `option_list` (1–10).
    pub option_list: Vec<SelectOption>,
}

/// An option of a select or checkbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SelectOption {
    /// `id`.
    pub id: String,
    /// `text`.
    pub text: String,
    /// `is_checked` (checkbox only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_checked: Option<bool>,
}

/// `checkbox` of a vote card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Checkbox {
    /// `question_key`.
    pub question_key: String,
    /// `option_list` (1–20).
    pub option_list: Vec<SelectOption>,
    /// `mode`: 0 single choice, 1 multiple choice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<u8>,
}

/// `submit_button`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SubmitButton {
    /// `text`.
    pub text: String,
    /// `key`.
    pub key: String,
}

impl TemplateCard {
    fn new(card_type: CardType, title: impl Into<String>) -> Self {
        Self {
            card_type,
            main_title: Some(MainTitle {
                title: Some(title.into()),
                desc: None,
            }),
            ..Self::default()
        }
    }

    /// A text-notice card.
    pub fn text_notice(title: impl Into<String>, action: CardAction) -> Self {
        Self {
            card_action: Some(action),
            ..Self::new(CardType::TextNotice, title)
        }
    }

    /// A news-notice card with a picture.
    pub fn news_notice(
        title: impl Into<String>,
        image_url: impl Into<String>,
        action: CardAction,
    ) -> Self {
        Self {
            card_action: Some(action),
            card_image: Some(CardImage {
                url: image_url.into(),
                aspect_ratio: None,
            }),
            ..Self::new(CardType::NewsNotice, title)
        }
    }

    /// A card with buttons.
    pub fn button_interaction(
        title: impl Into<String>,
        task_id: impl Into<String>,
        buttons: Vec<Button>,
    ) -> Self {
        Self {
            task_id: Some(task_id.into()),
            button_list: buttons,
            ..Self::new(CardType::ButtonInteraction, title)
        }
    }

    /// A vote card.
    pub fn vote_interaction(
        title: impl Into<String>,
        task_id: impl Into<String>,
        checkbox: Checkbox,
        submit: SubmitButton,
    ) -> Self {
        Self {
            task_id: Some(task_id.into()),
            checkbox: Some(checkbox),
            submit_button: Some(submit),
            ..Self::new(CardType::VoteInteraction, title)
        }
    }

    /// A card with up to three select questions.
    pub fn multiple_interaction(
        title: impl Into<String>,
        task_id: impl Into<String>,
        selects: Vec<SelectQuestion>,
        submit: SubmitButton,
    ) -> Self {
        Self {
            task_id: Some(task_id.into()),
            select_list: selects,
            submit_button: Some(submit),
            ..Self::new(CardType::MultipleInteraction, title)
        }
    }

    /// Sets `sub_title_text`.
    #[must_use]
    pub fn sub_title(mut self, text: impl Into<String>) -> Self {
        self.sub_title_text = Some(text.into());
        self
    }

    /// Sets `task_id`.
    #[must_use]
    pub fn task_id(mut self, task_id: impl Into<String>) -> Self {
        self.task_id = Some(task_id.into());
        self
    }

    /// Checks the card against WeCom's rules.
    ///
    /// # Errors
    /// The first broken rule: a missing `card_action` on notice cards, a missing or
    /// malformed `task_id` on interactive cards (or with `action_menu`), list lengths
    /// (horizontal ≤ 6, jump ≤ 3, vertical ≤ 4, buttons ≤ 6, selects ≤ 3, options ≤ 10 /
    /// 20, menu actions 1–3), `aspect_ratio` outside 1.3–2.25.
    pub fn validate(&self) -> Result<(), LimitError> {
        self.validate_at("template_card")
    }

    pub(crate) fn validate_at(&self, path: &str) -> Result<(), LimitError> {
        let f = |name: &str| format!("{path}.{name}");
        let notice = matches!(self.card_type, CardType::TextNotice | CardType::NewsNotice);
        if notice && self.card_action.is_none() {
            return Err(LimitError::new(f("card_action"), Limit::Empty));
        }
        if self.card_type.interactive() || self.action_menu.is_some() {
            let task_id = self.task_id.as_deref().unwrap_or_default();
            limits::charset(&f("task_id"), task_id, 128, b"_-@", "only [0-9A-Za-z_-@]")?;
        } else if let Some(task_id) = &self.task_id {
            limits::charset(&f("task_id"), task_id, 128, b"_-@", "only [0-9A-Za-z_-@]")?;
        }
        if let Some(menu) = &self.action_menu {
            limits::count(&f("action_menu.action_list"), menu.action_list.len(), 1, 3)?;
        }
        limits::count(
            &f("horizontal_content_list"),
            self.horizontal_content_list.len(),
            0,
            6,
        )?;
        limits::count(&f("jump_list"), self.jump_list.len(), 0, 3)?;
        limits::count(
            &f("vertical_content_list"),
            self.vertical_content_list.len(),
            0,
            4,
        )?;
        limits::count(&f("button_list"), self.button_list.len(), 0, 6)?;
        limits::count(&f("select_list"), self.select_list.len(), 0, 3)?;
        for (i, q) in self
            .select_list
            .iter()
            .chain(&self.button_selection)
            .enumerate()
        {
            limits::count(
                &f(&format!("select_list[{i}].option_list")),
                q.option_list.len(),
                1,
                10,
            )?;
        }
        if let Some(checkbox) = &self.checkbox {
            limits::count(
                &f("checkbox.option_list"),
                checkbox.option_list.len(),
                1,
                20,
            )?;
        }
        match self.card_type {
            CardType::ButtonInteraction if self.button_list.is_empty() => {
                return Err(LimitError::new(f("button_list"), Limit::Empty));
            }
            CardType::VoteInteraction if self.checkbox.is_none() => {
                return Err(LimitError::new(f("checkbox"), Limit::Empty));
            }
            CardType::MultipleInteraction if self.select_list.is_empty() => {
                return Err(LimitError::new(f("select_list"), Limit::Empty));
            }
            CardType::VoteInteraction | CardType::MultipleInteraction
                if self.submit_button.is_none() =>
            {
                return Err(LimitError::new(f("submit_button"), Limit::Empty));
            }
            _ => {}
        }
        if let Some(ratio) = self.card_image.as_ref().and_then(|i| i.aspect_ratio)
            && !(1.3..=2.25).contains(&ratio)
        {
            return Err(LimitError::new(
                f("card_image.aspect_ratio"),
                Limit::Invalid("must be between 1.3 and 2.25"),
            ));
        }
        Ok(())
    }
}
