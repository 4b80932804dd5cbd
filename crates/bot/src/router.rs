//! The callback endpoint as an axum [`Router`] (feature `axum`): one app at its path,
//! or several apps under `/wecom/callback/{app}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

use crate::error::Rejection;
use crate::request::{CallbackRequest, CallbackResponse, Method};
use crate::{Bot, DEFAULT_PATH};

impl Bot {
    /// A router serving this bot at its path (default `/wecom/callback`; GET verifies
    /// the URL, POST delivers messages) and, when configured, metrics. Mount it in your
    /// own service with `Router::merge`, next to your routes and tower middleware.
    pub fn router(&self) -> Router {
        let mut router = Router::new();
        if self.inner.crypto.is_some() {
            router = router.route(self.path(), any(single));
        }
        if let Some(ai) = self.inner.aibot.as_ref().filter(|ai| ai.serves_callbacks()) {
            router = router.route(&ai.path, any(ai_bot));
        }
        if self.inner.links.is_some() {
            router = router.route("/l/{code}", get(link));
        }
        if let Some(path) = &self.inner.metrics_path {
            router = router.route(path, get(metrics));
        }
        router.with_state(self.clone())
    }
}

/// Several apps (agents, or corps) in one process behind one router:
/// `/wecom/callback/{app}` by each bot's [`app`](crate::BotBuilder::app) name.
///
/// ```
/// # fn demo(sales: wecom_sdk_bot::Bot, support: wecom_sdk_bot::Bot) {
/// let router = wecom_sdk_bot::MultiApp::new().app(sales).app(support).router();
/// # let _ = router; }
/// ```
#[derive(Debug, Clone, Default)]
pub struct MultiApp {
    apps: HashMap<String, Bot>,
    prefix: Option<String>,
}

impl MultiApp {
    /// No apps yet; the prefix is `/wecom/callback`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a bot under its app name (a later bot of the same name replaces it).
    #[must_use]
    pub fn app(mut self, bot: Bot) -> Self {
        self.apps.insert(bot.app().to_owned(), bot);
        self
    }

    /// Another prefix than `/wecom/callback`.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// The router.
    pub fn router(self) -> Router {
        let prefix = self.prefix.unwrap_or_else(|| DEFAULT_PATH.to_owned());
        let prefix = prefix.trim_end_matches('/');
        let apps = Arc::new(self.apps);
        Router::new()
            .route(&format!("{prefix}/{{app}}"), any(multi))
            .with_state(apps)
    }
}

async fn single(State(bot): State<Bot>, RawQuery(query): RawQuery, request: Request) -> Response {
    serve(&bot, query, request).await
}

async fn ai_bot(State(bot): State<Bot>, RawQuery(query): RawQuery, request: Request) -> Response {
    into_response(match read(&bot, query, request).await {
        Ok(request) => bot.handle_ai_bot(request).await,
        Err(too_large) => too_large,
    })
}

async fn multi(
    State(apps): State<Arc<HashMap<String, Bot>>>,
    Path(app): Path<String>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    if let Some(bot) = apps.get(&app) {
        serve(bot, query, request).await
    } else {
        tracing::warn!(app = %app, "callback for an unknown app");
        (StatusCode::NOT_FOUND, "unknown app").into_response()
    }
}

async fn serve(bot: &Bot, query: Option<String>, request: Request) -> Response {
    into_response(match read(bot, query, request).await {
        Ok(request) => bot.handle(request).await,
        Err(too_large) => too_large,
    })
}

/// The request as the bot takes it, or the answer to a body over the bot's limit.
async fn read(
    bot: &Bot,
    query: Option<String>,
    request: Request,
) -> Result<CallbackRequest, CallbackResponse> {
    let method = method_of(&request);
    let limit = bot.inner.max_body;
    let body: Body = request.into_body();
    // The raw query as sent: `Query` would form-decode a `+` into a space.
    let query = query.unwrap_or_default();
    match to_bytes(body, limit).await {
        Ok(body) => Ok(CallbackRequest {
            method,
            query,
            body,
        }),
        Err(_) => Err(too_large(bot, limit)),
    }
}

fn method_of(request: &Request) -> Method {
    match *request.method() {
        axum::http::Method::GET => Method::Get,
        axum::http::Method::POST => Method::Post,
        _ => Method::Other,
    }
}

/// The answer to a body over `limit` bytes (or one that could not be read).
fn too_large(bot: &Bot, limit: usize) -> CallbackResponse {
    let rejection = Rejection::TooLarge {
        size: limit + 1,
        limit,
    };
    tracing::warn!(app = %bot.app(), reason = rejection.reason(), "callback refused: body over {limit} bytes (or unreadable)");
    bot.inner.metrics.outcome("rejected_too_large");
    CallbackResponse::text(rejection.status(), rejection.to_string())
}

fn into_response(answer: CallbackResponse) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        [(header::CONTENT_TYPE, answer.content_type)],
        answer.body,
    )
        .into_response()
}

/// A tracked link: counted, then redirected (404 for a code the bot never sent).
async fn link(State(bot): State<Bot>, Path(code): Path<String>) -> Response {
    match bot.follow_link(&code).await {
        Some(url) => match axum::http::HeaderValue::from_str(&url) {
            Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
            Err(_) => (StatusCode::NOT_FOUND, "no such link").into_response(),
        },
        None => (StatusCode::NOT_FOUND, "no such link").into_response(),
    }
}

async fn metrics(State(bot): State<Bot>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        bot.metrics().prometheus(),
    )
        .into_response()
}
