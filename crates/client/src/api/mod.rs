//! Typed endpoint groups, named as WeCom's documentation groups them.

pub mod appchat;
pub mod external_contact;
pub mod kf;
pub mod media;
pub mod message;
pub mod user;

use crate::Client;

impl Client {
    /// App messages: `message/send`, `message/recall`, `message/update_template_card`.
    pub fn message(&self) -> message::MessageApi<'_> {
        message::MessageApi { client: self }
    }

    /// Group chats created by the app: `appchat/send`.
    pub fn appchat(&self) -> appchat::AppChatApi<'_> {
        appchat::AppChatApi { client: self }
    }

    /// Customer contact: contact ways (活码), tags, customer groups, group-send templates.
    pub fn external_contact(&self) -> external_contact::ExternalContactApi<'_> {
        external_contact::ExternalContactApi { client: self }
    }

    /// Media: uploads (checked first), permanent images, downloads.
    pub fn media(&self) -> media::MediaApi<'_> {
        media::MediaApi { client: self }
    }

    /// Members: `user/get`.
    pub fn user(&self) -> user::UserApi<'_> {
        user::UserApi { client: self }
    }

    /// 微信客服: `kf/sync_msg`, `kf/send_msg`, `kf/send_msg_on_event`, `kf/service_state/*`.
    pub fn kf(&self) -> kf::KfApi<'_> {
        kf::KfApi { client: self }
    }
}
