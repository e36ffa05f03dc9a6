//! The three endpoints. Each verifies the request first (`verified`), answers at
//! once, and runs the command in a task of its own (`spawn`) that delivers the reply.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bosun_chat::{Action, Reply, slack as blocks};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::followup::{Message, PostedCard, ResponseUrl};
use super::{Slack, verify};
use crate::chat::{self, Followup, Request as ChatRequest};
use crate::error::ApiError;

/// The largest body taken: Slack's requests are a few KiB.
pub const MAX_BODY: usize = 64 << 10;
/// How long a command may run before its asker is told it took too long.
const CHAT_TIMEOUT: Duration = Duration::from_secs(120);
/// The header of a retried event.
const RETRY_NUM: &str = "x-slack-retry-num";

/// The Slack app and the request's verified body; or the answer that refuses it.
async fn verified(state: &crate::State, req: Request) -> Result<(Arc<Slack>, HeaderMap, Bytes), Response> {
    let Some(slack) = state.slack.clone() else {
        return Err(ApiError::not_found("no such endpoint").into_response());
    };
    let headers = req.headers().clone();
    let body =
        crate::body::read(req, MAX_BODY, state.limits.body_timeout).await.map_err(IntoResponse::into_response)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if let Err(refusal) = verify::verify(slack.signing_secret.expose().as_bytes(), &headers, &body, now) {
        tracing::info!(reason = refusal.code(), "Slack request refused");
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, refusal.code(), refusal.to_string()).into_response());
    }
    Ok((slack, headers, body))
}

/// A form body (`application/x-www-form-urlencoded`) as `T`; 400 if it is not one.
fn form<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|e| ApiError::bad_request("malformed_body", format!("the body is not the form Slack sends: {e}")))
}

/// A short private answer to the asker, in the body of the 200.
fn ephemeral(text: &str) -> Response {
    Json(json!({ "response_type": "ephemeral", "text": text })).into_response()
}

/// The form of a slash command (other fields are ignored).
#[derive(Debug, Deserialize)]
struct Command {
    #[serde(default)]
    text: String,
    user_id: String,
    channel_id: String,
    response_url: String,
}

/// `POST /slack/commands`: `/bosun TEXT`. Answered at once with a private "working on
/// it"; the reply goes to the `response_url`, to the channel or (refusals, help,
/// errors) to the asker only.
pub async fn commands(State(state): State<crate::State>, req: Request) -> Response {
    let (slack, _, body) = match verified(&state, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let cmd: Command = match form(&body) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if !slack.web.allows(&cmd.response_url) {
        tracing::warn!(user = %cmd.user_id, "a Slack command's response_url is not under the allowed prefix; not run");
        return ephemeral("bosun cannot answer this request: its response_url is not one bosun may post to.");
    }
    let followup = ResponseUrl::new(slack.web.clone(), cmd.response_url.clone(), None);
    let request = ChatRequest { user: cmd.user_id, channel: cmd.channel_id, text: cmd.text, role_cap: None };
    let url = cmd.response_url;
    let (state, web) = (state.clone(), slack.web.clone());
    let started = spawn(&slack, async move {
        let followup: Arc<dyn Followup> = Arc::new(followup);
        let reply = run(chat::handle(&state, request, Some(followup))).await;
        let mut message = blocks::message(&reply);
        message["response_type"] = response_type(&reply).into();
        if let Err(e) = web.respond(&url, &message).await {
            tracing::warn!(cause = %e, "could not deliver a Slack command's reply");
        }
    });
    if started { ephemeral(":hourglass_flowing_sand: working on it…") } else { ephemeral(BUSY) }
}

/// What a busy server answers.
const BUSY: &str = "bosun is busy with other chat requests: try again in a moment.";

/// The `payload` of an interaction.
#[derive(Debug, Deserialize)]
struct InteractionForm {
    payload: String,
}

/// A `block_actions` payload (what bosun reads of it).
#[derive(Debug, Deserialize)]
struct Interaction {
    #[serde(rename = "type")]
    kind: String,
    user: Id,
    channel: Option<Id>,
    #[serde(default)]
    actions: Vec<Clicked>,
    response_url: Option<String>,
    container: Option<Container>,
}

#[derive(Debug, Deserialize)]
struct Id {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Clicked {
    action_id: String,
    #[serde(default)]
    value: String,
}

#[derive(Debug, Deserialize)]
struct Container {
    message_ts: Option<String>,
    channel_id: Option<String>,
}

/// `POST /slack/interactions`: a button click. Answered at once with an empty 200;
/// the reply replaces the clicked message when it carries the card, and is otherwise
/// a private message to the clicker.
pub async fn interactions(State(state): State<crate::State>, req: Request) -> Response {
    let (slack, _, body) = match verified(&state, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let payload: Interaction = match form::<InteractionForm>(&body)
        .and_then(|f| serde_json::from_str(&f.payload).map_err(|e| crate::body::malformed_json(&e)))
    {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let clicked = payload.actions.first();
    // The action id is `approve`, or `run:1` for a second `run` button in one block.
    let action = clicked.and_then(|a| Action::from_id(a.action_id.split(':').next().unwrap_or_default()));
    let (Some(action), Some(clicked)) = (action, clicked) else {
        tracing::debug!(kind = %payload.kind, "a Slack interaction bosun does not act on");
        return StatusCode::OK.into_response();
    };
    let Some(url) = payload.response_url.filter(|u| slack.web.allows(u)) else {
        tracing::warn!(user = %payload.user.id, "a Slack click has no response_url under the allowed prefix; not run");
        return StatusCode::OK.into_response();
    };
    let channel = payload.channel.map(|c| c.id).or_else(|| payload.container.as_ref()?.channel_id.clone());
    let card =
        payload.container.and_then(|c| c.message_ts).zip(channel.clone()).map(|(ts, channel)| Message { channel, ts });
    let followup = ResponseUrl::new(slack.web.clone(), url.clone(), card);
    let (user, value) = (payload.user.id, clicked.value.clone());
    let channel = channel.unwrap_or_default();
    let (state, web) = (state.clone(), slack.web.clone());
    let started = spawn(&slack, async move {
        let updates: Arc<dyn Followup> = Arc::new(followup.clone());
        let reply = run(chat::click(&state, &user, &channel, action, &value, Some(updates))).await;
        let mut message = blocks::message(&reply);
        message["response_type"] = response_type(&reply).into();
        message["replace_original"] = (reply.card.is_some() && !reply.private).into();
        if let Err(e) = web.respond(&url, &message).await {
            tracing::warn!(cause = %e, "could not deliver a Slack click's reply");
        }
        if let Some(card) = reply.card.as_ref().filter(|_| !reply.private) {
            followup.progress(card).await;
        }
    });
    if started { StatusCode::OK.into_response() } else { ephemeral(BUSY) }
}

/// An Events API envelope (what bosun reads of it).
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    challenge: Option<String>,
    event_id: Option<String>,
    event: Option<Event>,
}

#[derive(Debug, Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    user: Option<String>,
    bot_id: Option<String>,
    #[serde(default)]
    text: String,
    channel: Option<String>,
    ts: Option<String>,
    thread_ts: Option<String>,
}

/// `POST /slack/events`: the `url_verification` challenge, and `app_mention`. Answered
/// at once with an empty 200; an event seen before (Slack's retries) runs once.
pub async fn events(State(state): State<crate::State>, req: Request) -> Response {
    let (slack, headers, body) = match verified(&state, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let envelope: Envelope = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => return crate::body::malformed_json(&e).into_response(),
    };
    match envelope.kind.as_str() {
        "url_verification" => {
            return Json(json!({ "challenge": envelope.challenge.unwrap_or_default() })).into_response();
        }
        "event_callback" => {}
        other => {
            tracing::debug!(kind = other, "a Slack event envelope bosun does not act on");
            return StatusCode::OK.into_response();
        }
    }
    let Some(event) = envelope.event.filter(|e| e.kind == "app_mention" && e.bot_id.is_none()) else {
        return StatusCode::OK.into_response();
    };
    let (Some(user), Some(channel), Some(ts)) = (event.user, event.channel, event.ts) else {
        return StatusCode::OK.into_response();
    };
    if !slack.web.has_token() {
        tracing::warn!("an app mention cannot be answered: no Slack bot token is configured");
        return StatusCode::OK.into_response();
    }
    // A slot first: an event refused as busy is not remembered, so Slack's retry runs.
    let Ok(permit) = slack.tasks.clone().try_acquire_owned() else {
        return ApiError::internal(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            Some("bosun is busy with other chat requests; Slack sends the event again"),
            "every Slack task slot is taken",
        )
        .into_response();
    };
    let id = envelope.event_id.unwrap_or_else(|| format!("{channel}/{ts}"));
    if !slack.seen.first_time(&id, Instant::now()) {
        let retry = headers.get(RETRY_NUM).and_then(|v| v.to_str().ok()).unwrap_or("-");
        tracing::info!(event_id = %id, retry, "Slack event already taken; ignored");
        return StatusCode::OK.into_response();
    }
    let thread = event.thread_ts.unwrap_or(ts);
    let request = ChatRequest {
        user: user.clone(),
        channel: channel.clone(),
        text: strip_mention(&event.text).to_owned(),
        role_cap: None,
    };
    let (state, slack2) = (state.clone(), slack.clone());
    tokio::spawn(async move {
        let _permit = permit;
        let (followup, card_ts) = PostedCard::new(slack2.web.clone(), channel.clone());
        let followup: Arc<dyn Followup> = Arc::new(followup);
        let reply = run(chat::handle(&state, request, Some(followup))).await;
        let mut message = blocks::message(&reply);
        message["channel"] = channel.into();
        message["thread_ts"] = thread.into();
        let posted = if reply.private {
            message["user"] = user.into();
            slack2.web.call("chat.postEphemeral", &message).await
        } else {
            slack2.web.call("chat.postMessage", &message).await
        };
        match posted {
            Ok(answer) => {
                if let Some(ts) = answer["ts"].as_str() {
                    card_ts.set(ts.to_owned());
                }
            }
            Err(e) => tracing::warn!(cause = %e, "could not answer a Slack app mention"),
        }
    });
    StatusCode::OK.into_response()
}

/// The text after the leading `<@BOT>` mention.
fn strip_mention(text: &str) -> &str {
    let text = text.trim_start();
    match text.strip_prefix("<@").and_then(|rest| rest.split_once('>')) {
        Some((_, after)) => after.trim(),
        None => text.trim(),
    }
}

/// `in_channel` for a public reply, `ephemeral` for a private one.
fn response_type(reply: &Reply) -> &'static str {
    if reply.private { "ephemeral" } else { "in_channel" }
}

/// Run a command's work with [`CHAT_TIMEOUT`].
async fn run(work: impl Future<Output = Reply>) -> Reply {
    tokio::time::timeout(CHAT_TIMEOUT, work).await.unwrap_or_else(|_| {
        tracing::warn!(limit = ?CHAT_TIMEOUT, "a chat command ran out of time");
        Reply::private("That took too long and was stopped; nothing more will happen. Try again.")
    })
}

/// Start `work` in a task with one of the Slack task slots; false (nothing started)
/// when every slot is taken.
fn spawn(slack: &Slack, work: impl Future<Output = ()> + Send + 'static) -> bool {
    let Ok(permit) = slack.tasks.clone().try_acquire_owned() else {
        tracing::warn!(slots = super::MAX_TASKS, "a Slack request was refused: every task slot is taken");
        return false;
    };
    tokio::spawn(async move {
        work.await;
        drop(permit);
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mention_is_stripped() {
        assert_eq!(strip_mention("<@U0LAN0Z89> deploy demo web:1.28"), "deploy demo web:1.28");
        assert_eq!(strip_mention("  <@U0LAN0Z89>   help  "), "help");
        assert_eq!(strip_mention("help"), "help");
        assert_eq!(strip_mention("<@U0LAN0Z89>"), "");
    }
}
