//! What rules do besides answering: tag the customer (`mark_tag`, tag names resolved to
//! ids through the corp's tag list) and escalate to a human (a notice to a staff group
//! robot and/or an [`EscalationHook`]). Each outcome goes to the event log.

use std::collections::HashMap;

use async_trait::async_trait;
use wecom_sdk_client::{Client, WebhookClient};
use wecom_sdk_matcher::Action;
use wecom_sdk_message::send::WebhookMessage;

use crate::deliver::describe;
use crate::error::HandlerError;

/// A conversation handed to a human.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Escalation {
    /// The app.
    pub app: String,
    /// The queue the rule named.
    pub queue: String,
    /// Priority in the queue (higher first).
    pub priority: u8,
    /// The customer or member.
    pub user: String,
    /// Their nickname, when known.
    pub nickname: Option<String>,
    /// What they wrote.
    pub text: String,
    /// The rule that escalated.
    pub rule: String,
}

/// Your queue: a ticket system, a CRM, a kf transfer.
#[async_trait]
pub trait EscalationHook: Send + Sync + std::fmt::Debug {
    /// Takes one escalation.
    ///
    /// # Errors
    /// It could not be taken (logged and counted).
    async fn escalate(&self, escalation: &Escalation) -> Result<(), HandlerError>;
}

/// Where actions go.
#[derive(Debug, Default)]
pub(crate) struct Actions {
    pub(crate) robot: Option<WebhookClient>,
    pub(crate) hook: Option<std::sync::Arc<dyn EscalationHook>>,
    /// Tag name → id, from `get_corp_tag_list` (read once, again on an unknown name).
    tag_ids: tokio::sync::Mutex<HashMap<String, String>>,
}

/// Who the actions are about.
pub(crate) struct Subject<'a> {
    pub(crate) user: &'a str,
    pub(crate) staff: Option<&'a str>,
    pub(crate) escalation: Escalation,
}

impl<'a> Subject<'a> {
    /// The customer `user` (with `staff`, the member who has them) of a message that
    /// fired `rule`, for the actions and the escalation notice.
    pub(crate) fn new(
        app: &str,
        user: &'a str,
        staff: Option<&'a str>,
        nickname: Option<&String>,
        text: Option<&str>,
        rule: Option<&str>,
    ) -> Self {
        let escalation = Escalation {
            app: app.to_owned(),
            queue: String::new(),
            priority: 0,
            user: user.to_owned(),
            nickname: nickname.cloned(),
            text: text.unwrap_or_default().to_owned(),
            rule: rule.unwrap_or_default().to_owned(),
        };
        Self {
            user,
            staff,
            escalation,
        }
    }
}

impl Actions {
    pub(crate) fn new(
        robot: Option<WebhookClient>,
        hook: Option<std::sync::Arc<dyn EscalationHook>>,
    ) -> Self {
        Self {
            robot,
            hook,
            tag_ids: tokio::sync::Mutex::default(),
        }
    }

    /// Performs `actions`; returns one line per action for the event log, and whether
    /// any failed.
    pub(crate) async fn perform(
        &self,
        client: Option<&Client>,
        actions: &[Action],
        subject: &Subject<'_>,
    ) -> (Vec<String>, usize) {
        let mut lines = Vec::with_capacity(actions.len());
        let mut failed = 0;
        for action in actions {
            let (line, ok) = match action {
                Action::AddTags(tags) => self.tag(client, subject, tags, true).await,
                Action::RemoveTags(tags) => self.tag(client, subject, tags, false).await,
                Action::Escalate { queue, priority } => {
                    let mut e = subject.escalation.clone();
                    e.queue.clone_from(queue);
                    e.priority = *priority;
                    self.escalate(&e).await
                }
                other => (format!("{other:?}: not supported"), false),
            };
            if !ok {
                failed += 1;
            }
            lines.push(line);
        }
        (lines, failed)
    }

    async fn tag(
        &self,
        client: Option<&Client>,
        subject: &Subject<'_>,
        tags: &[String],
        add: bool,
    ) -> (String, bool) {
        let verb = if add { "add_tags" } else { "remove_tags" };
        let Some(client) = client else {
            return (format!("{verb}: skipped (no client)"), false);
        };
        if !crate::profile::is_external(subject.user) {
            return (
                format!(
                    "{verb}: skipped ({} is a member, not a customer)",
                    subject.user
                ),
                true,
            );
        }
        let Some(staff) = subject.staff else {
            return (
                format!("{verb}: skipped (no member has this customer)"),
                false,
            );
        };
        let ids = match self.tag_ids(client, tags).await {
            Ok(ids) => ids,
            Err(e) => return (format!("{verb}: {e}"), false),
        };
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let (add_ids, remove_ids): (&[&str], &[&str]) = if add { (&ids, &[]) } else { (&[], &ids) };
        match client
            .external_contact()
            .mark_tag(staff, subject.user, add_ids, remove_ids)
            .await
        {
            Ok(()) => (format!("{verb} {}: ok", tags.join(",")), true),
            Err(e) => (format!("{verb}: {}", describe(&e)), false),
        }
    }

    /// The ids of tag names (a name that is already an id passes through).
    async fn tag_ids(&self, client: &Client, names: &[String]) -> Result<Vec<String>, String> {
        let mut known = self.tag_ids.lock().await;
        if names.iter().any(|n| !known.contains_key(n)) {
            let groups = client
                .external_contact()
                .get_corp_tag_list(&[], &[])
                .await
                .map_err(|e| describe(&e))?;
            for tag in groups.iter().flat_map(|g| &g.tag) {
                known.insert(tag.name.clone(), tag.id.clone());
                known.insert(tag.id.clone(), tag.id.clone());
            }
        }
        names
            .iter()
            .map(|n| {
                known
                    .get(n)
                    .cloned()
                    .ok_or_else(|| format!("no corp tag named {n:?}"))
            })
            .collect()
    }

    async fn escalate(&self, e: &Escalation) -> (String, bool) {
        let mut done = Vec::new();
        let mut ok = true;
        if let Some(robot) = &self.robot {
            let who = e
                .nickname
                .as_deref()
                .map_or_else(|| e.user.clone(), |n| format!("{n}（{}）", e.user));
            let notice = WebhookMessage::text(format!(
                "【转人工】队列 {} · 优先级 {}\n客户：{who}\n消息：{}\n规则：{}",
                e.queue, e.priority, e.text, e.rule
            ));
            match robot.send(&notice).await {
                Ok(()) => done.push("notified".to_owned()),
                Err(err) => {
                    ok = false;
                    done.push(format!("notice failed ({})", describe(&err)));
                }
            }
        }
        if let Some(hook) = &self.hook {
            match hook.escalate(e).await {
                Ok(()) => done.push("hook ok".to_owned()),
                Err(err) => {
                    ok = false;
                    done.push(format!("hook failed ({err})"));
                }
            }
        }
        if done.is_empty() {
            done.push("queued nowhere (no robot or hook configured)".to_owned());
        }
        (format!("escalate {}: {}", e.queue, done.join(", ")), ok)
    }
}
