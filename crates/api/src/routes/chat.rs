//! The platform-neutral chat endpoint: any chat adapter (Mattermost, Teams, hubot)
//! posts what a user said, or which button they clicked, and renders the structured
//! reply. The Slack endpoints ([`crate::slack`]) are one adapter on the same core
//! ([`crate::chat`]).
//!
//! The adapter's token vouches for the user ids it sends, and caps them: a user gets
//! the lower of the role the chat access file grants them and the token's role, so a
//! viewer token cannot speak for a deployer.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use bosun_chat::{Action, Reply};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::{Auth, Caller, Role, VIEWER};
use crate::body::{self, Body};
use crate::chat;
use crate::error::{ApiError, ErrorBody};
use crate::names::check_job_id;

/// The chat routes.
pub fn router() -> Router<crate::State> {
    Router::new()
        .route("/api/v1/chat", post(say))
        .route("/api/v1/chat/actions", post(act))
        .route("/api/v1/chat/proposals/{id}", get(proposal))
}

/// The longest user or channel id taken.
const MAX_ID: usize = 64;
/// The longest message taken.
const MAX_TEXT: usize = 4_000;

/// `POST /api/v1/chat`: what a user said.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Said {
    /// The chat platform's user id; the chat access file grants it a role per cluster.
    pub user: String,
    /// The channel it was said in (the access file may allow only some).
    pub channel: String,
    /// The command, as typed after `/bosun` or `@bosun`.
    pub text: String,
}

/// `POST /api/v1/chat/actions`: a button a user clicked.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Clicked {
    /// The chat platform's user id.
    pub user: String,
    /// The channel of the message the button was on.
    pub channel: String,
    /// `approve`, `cancel` or `run`.
    pub action: String,
    /// The button's value: a proposal id, or the command text of a `run` button.
    pub value: String,
}

fn check_id(kind: &str, id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > MAX_ID || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            "invalid_id",
            format!("{kind} must be 1-{MAX_ID} printable ASCII characters without spaces"),
        ));
    }
    Ok(())
}

fn check_text(text: &str) -> Result<(), ApiError> {
    if text.chars().count() > MAX_TEXT {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_long",
            format!("text is longer than {MAX_TEXT} characters"),
        ));
    }
    Ok(())
}

fn configured(state: &crate::State) -> Result<(), ApiError> {
    if state.chat.is_none() {
        return Err(ApiError::not_found("chat is not configured on this server (--chat-access-file)"));
    }
    Ok(())
}

fn cap(caller: &Caller) -> bosun_chat::Role {
    match caller.role {
        Role::Viewer => bosun_chat::Role::Viewer,
        Role::Deployer => bosun_chat::Role::Deployer,
        Role::Admin => bosun_chat::Role::Admin,
    }
}

/// Run what a chat user said, as that user (capped by the token's role), and return
/// the structured reply: `text`, `body`, `card` (a proposal), `buttons`. A refusal is a
/// reply too (`private: true`), with status 200: the request itself was fine.
#[utoipa::path(post, path = "/api/v1/chat", tag = "chat", security(("bearer" = [])), request_body = Said,
    responses((status = 200, description = "The reply", body = Object), (status = 400, body = ErrorBody),
        (status = 404, description = "Chat is not configured", body = ErrorBody)))]
pub async fn say(
    Auth(caller): Auth<VIEWER>,
    State(state): State<crate::State>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Json<Reply>, ApiError> {
    configured(&state)?;
    let said: Said = body::json(&headers, &body)?;
    check_id("user", &said.user)?;
    check_id("channel", &said.channel)?;
    check_text(&said.text)?;
    let req = chat::Request { user: said.user, channel: said.channel, text: said.text, role_cap: Some(cap(&caller)) };
    Ok(Json(chat::handle(&state, req, None).await))
}

/// Click a button of a reply, as that user: approve or cancel a proposal, or run a
/// button's command.
#[utoipa::path(post, path = "/api/v1/chat/actions", tag = "chat", security(("bearer" = [])), request_body = Clicked,
    responses((status = 200, description = "The reply", body = Object), (status = 400, body = ErrorBody),
        (status = 404, description = "Chat is not configured", body = ErrorBody)))]
pub async fn act(
    Auth(caller): Auth<VIEWER>,
    State(state): State<crate::State>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Json<Reply>, ApiError> {
    configured(&state)?;
    let clicked: Clicked = body::json(&headers, &body)?;
    check_id("user", &clicked.user)?;
    check_id("channel", &clicked.channel)?;
    check_text(&clicked.value)?;
    let action = Action::from_id(&clicked.action)
        .ok_or_else(|| ApiError::bad_request("invalid_action", "action must be approve, cancel or run".to_owned()))?;
    let reply =
        chat::click_as(&state, &clicked.user, &clicked.channel, Some(cap(&caller)), action, &clicked.value, None).await;
    Ok(Json(reply))
}

/// A proposal's card: its state, who asked and decided, the changes, the plan hash
/// and excerpt, and its job once approved. Never the candidate stackfile (it holds
/// environment values).
#[utoipa::path(get, path = "/api/v1/chat/proposals/{id}", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn proposal(
    _: Auth<VIEWER>,
    State(state): State<crate::State>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<bosun_chat::Card>, ApiError> {
    let Path(id) =
        id.map_err(|e| ApiError::bad_request("invalid_path", format!("the path is not valid: {}", e.body_text())))?;
    check_job_id(&id)?;
    let (p, _) =
        state.store.get_proposal(&id).await?.ok_or_else(|| ApiError::not_found(format!("no proposal {id}")))?;
    Ok(Json(p.card(None)))
}
