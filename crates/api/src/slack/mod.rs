//! bosun's Slack app: the adapter between Slack and the chat core ([`crate::chat`]).
//!
//! Three endpoints, served only when a signing secret is configured (without one they
//! answer 404, as any unknown path does):
//! - `POST /slack/commands`: the slash command `/bosun ...`;
//! - `POST /slack/interactions`: button clicks (`block_actions`);
//! - `POST /slack/events`: the Events API: the `url_verification` challenge, and
//!   `app_mention`, so `@bosun ...` works too.
//!
//! Every request is verified before anything else ([`verify`]): its body is read (at
//! most [`MAX_BODY`], within the body timeout) and its signature checked over those
//! bytes, before any decoding. A request that fails gets 401 and nothing else happens.
//! Then it is answered at once, well within Slack's 3 seconds, and the command runs in
//! a task of its own, whose reply goes to the request's `response_url`, or for an app
//! mention to `chat.postMessage` in the mention's thread. Later states of a proposal's
//! card go through [`followup`].
//!
//! # Layout
//! - [`verify`]: the signature and timestamp check.
//! - [`endpoints`]: the three handlers and how each reply is delivered.
//! - [`web`]: the Web API and `response_url` client: time limits, retries, the
//!   `response_url` prefix.
//! - [`followup`]: card updates through `response_url`, `chat.update`, and progress
//!   lines in the card's thread.
//! - [`dedup`]: the bounded memory of event ids, for the Events API's retries.

pub mod dedup;
pub mod endpoints;
pub mod followup;
pub mod verify;
pub mod web;

use std::sync::Arc;

use axum::Router;
use axum::routing::post;
use tokio::sync::Semaphore;

pub use endpoints::MAX_BODY;

/// Slack's Web API.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";
/// Where Slack's `response_url`s point.
pub const DEFAULT_RESPONSE_URL_PREFIX: &str = "https://hooks.slack.com/";
/// Commands, clicks and mentions being worked on at once. Beyond it a command is
/// answered "busy" at once, and an event gets 503 (Slack sends it again later).
pub const MAX_TASKS: usize = 64;

/// A secret (the signing secret, the bot token): its `Debug` says only that it is set.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Keep `value` as a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, to sign or send with.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The Slack app's settings.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// The app's signing secret: every request's signature is checked with it.
    pub signing_secret: Secret,
    /// The bot token (`xoxb-...`), for `chat.postMessage` and `chat.update`: app
    /// mentions are answered with it, and progress is posted in card threads. Without
    /// it, slash commands and clicks still work through their `response_url`.
    pub bot_token: Option<Secret>,
    /// The Web API's base URL; tests point it at a local sink.
    pub api_url: String,
    /// What a `response_url` must start with to be followed (see [`web`]).
    pub response_url_prefix: String,
}

impl SlackConfig {
    /// Settings with this signing secret, no bot token, and Slack's own URLs.
    pub fn new(signing_secret: Secret) -> Self {
        Self {
            signing_secret,
            bot_token: None,
            api_url: DEFAULT_API_URL.to_owned(),
            response_url_prefix: DEFAULT_RESPONSE_URL_PREFIX.to_owned(),
        }
    }

    /// Whether the settings can work: a secret, and http(s) URLs, the prefix naming at
    /// least a host and ending in `/` (so `https://hooks.slack.com` cannot also allow
    /// `https://hooks.slack.com.example`).
    pub fn check(&self) -> Result<(), String> {
        if self.signing_secret.expose().trim().is_empty() {
            return Err("the Slack signing secret is empty".into());
        }
        if self.bot_token.as_ref().is_some_and(|t| t.expose().trim().is_empty()) {
            return Err("the Slack bot token is empty".into());
        }
        let http = |u: &str| u.starts_with("https://") || u.starts_with("http://");
        if !http(&self.api_url) {
            return Err(format!("the Slack API URL {:?} is not an http(s) URL", self.api_url));
        }
        let p = &self.response_url_prefix;
        let host = p.split_once("://").map_or("", |(_, rest)| rest.trim_end_matches('/'));
        if !http(p) || !p.ends_with('/') || host.is_empty() {
            return Err(format!(
                "the response_url prefix {p:?} must be an http(s) URL with a host, ending in `/` (as {DEFAULT_RESPONSE_URL_PREFIX})"
            ));
        }
        Ok(())
    }
}

/// The Slack app at run time: its settings, client, event memory and task slots.
#[derive(Debug)]
pub struct Slack {
    /// The signing secret.
    signing_secret: Secret,
    /// The Web API and `response_url` client.
    pub web: web::Web,
    /// Event ids seen, so a retried event runs once.
    pub seen: dedup::Seen,
    /// Task slots ([`MAX_TASKS`]), so a burst cannot start unbounded work.
    tasks: Arc<Semaphore>,
}

impl Slack {
    /// The app for these settings.
    pub fn new(config: &SlackConfig) -> anyhow::Result<Self> {
        config.check().map_err(anyhow::Error::msg)?;
        Ok(Self {
            signing_secret: config.signing_secret.clone(),
            web: web::Web::new(&config.api_url, config.bot_token.clone(), &config.response_url_prefix)?,
            seen: dedup::Seen::default(),
            tasks: Arc::new(Semaphore::new(MAX_TASKS)),
        })
    }
}

/// The Slack routes; [`crate::app`] adds them only when Slack is configured.
pub fn router() -> Router<crate::State> {
    Router::new()
        .route("/slack/commands", post(endpoints::commands))
        .route("/slack/interactions", post(endpoints::interactions))
        .route("/slack/events", post(endpoints::events))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_not_debug_printed() {
        let mut c = SlackConfig::new(Secret::new("8f742231b10e8888abcd99yyyzzz85a5"));
        c.bot_token = Some(Secret::new("xoxb-1234-abcd"));
        let text = format!("{c:?}");
        assert!(!text.contains("8f742231") && !text.contains("xoxb"), "{text}");
        let slack = Slack::new(&c).unwrap();
        let text = format!("{slack:?}");
        assert!(!text.contains("8f742231") && !text.contains("xoxb"), "{text}");
    }

    #[test]
    fn settings_are_checked() {
        let ok = SlackConfig::new(Secret::new("s"));
        assert_eq!(ok.check(), Ok(()));
        for prefix in ["https://hooks.slack.com", "https:///", "ftp://x/", "hooks.slack.com/"] {
            let c = SlackConfig { response_url_prefix: prefix.into(), ..ok.clone() };
            assert!(c.check().is_err(), "{prefix}");
        }
        assert!(SlackConfig { api_url: "slack.com/api".into(), ..ok.clone() }.check().is_err());
        assert!(SlackConfig::new(Secret::new(" ")).check().is_err());
        assert!(SlackConfig { bot_token: Some(Secret::new("")), ..ok }.check().is_err());
    }
}
