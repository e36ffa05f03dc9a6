//! Calls to Slack: the Web API (`chat.postMessage`, `chat.update`,
//! `chat.postEphemeral`) with the bot token, and a request's `response_url`.
//!
//! Each call has a time limit and a few retries on 429 (after its `Retry-After`) and
//! on 5xx or a failed connection; a failure is logged and given up, as chat delivery
//! never holds a job back. A `response_url` is followed only when it starts with the
//! allowed prefix (`https://hooks.slack.com/`): a request is signed by Slack, but even
//! a leaked signing secret must not turn bosun into a proxy to any URL. Redirects are
//! not followed, for the same reason. Neither the token nor a `response_url` (a
//! credential for 30 minutes) is ever logged.

use std::time::Duration;

use serde_json::Value;

use super::Secret;

/// Attempts per call.
const ATTEMPTS: u32 = 3;
/// The wait after a first failure; doubled after each further one.
const BACKOFF: Duration = Duration::from_millis(500);
/// The longest `Retry-After` honoured; a longer one gives the call up.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// Time limit of one attempt.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Time limit to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No bot token is configured.
    #[error("no Slack bot token is configured")]
    NoToken,
    /// The `response_url` does not start with the allowed prefix.
    #[error("the response_url does not start with the allowed prefix")]
    Disallowed,
    /// Slack answered `{"ok": false, "error": CODE}`.
    #[error("Slack refused the call: {0}")]
    Refused(String),
    /// No good answer after the retries.
    #[error("{0}")]
    Failed(String),
}

/// A Slack client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Web {
    http: reqwest::Client,
    /// `https://slack.com/api`, or a test's sink.
    api_url: String,
    /// For the Web API; without it only `response_url`s are used.
    bot_token: Option<Secret>,
    /// What a `response_url` must start with.
    response_url_prefix: String,
}

impl Web {
    /// A client for this API base URL, token and `response_url` prefix.
    pub fn new(api_url: &str, bot_token: Option<Secret>, response_url_prefix: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            api_url: api_url.trim_end_matches('/').to_owned(),
            bot_token,
            response_url_prefix: response_url_prefix.to_owned(),
        })
    }

    /// Whether a bot token is configured.
    pub fn has_token(&self) -> bool {
        self.bot_token.is_some()
    }

    /// Whether `url` may be posted to as a `response_url`.
    pub fn allows(&self, url: &str) -> bool {
        url.starts_with(&self.response_url_prefix)
    }

    /// POST `message` to a `response_url`.
    pub async fn respond(&self, url: &str, message: &Value) -> Result<(), CallError> {
        if !self.allows(url) {
            return Err(CallError::Disallowed);
        }
        self.post(self.http.post(url).json(message)).await.map(drop)
    }

    /// Call a Web API method (`chat.postMessage`) with `args`; Slack's answer.
    pub async fn call(&self, method: &str, args: &Value) -> Result<Value, CallError> {
        let token = self.bot_token.as_ref().ok_or(CallError::NoToken)?;
        let req = self.http.post(format!("{}/{method}", self.api_url)).bearer_auth(token.expose()).json(args);
        let body = self.post(req).await?;
        let answer: Value =
            serde_json::from_slice(&body).map_err(|e| CallError::Failed(format!("Slack's answer is not JSON: {e}")))?;
        if answer["ok"] == true {
            Ok(answer)
        } else {
            Err(CallError::Refused(answer["error"].as_str().unwrap_or("no error code").to_owned()))
        }
    }

    /// Send `req`, retrying; the body of the first 2xx answer.
    async fn post(&self, req: reqwest::RequestBuilder) -> Result<bytes::Bytes, CallError> {
        let mut wait = BACKOFF;
        let mut cause = String::new();
        for attempt in 1..=ATTEMPTS {
            let Some(this) = req.try_clone() else { break };
            let retry_after = match this.send().await {
                Ok(r) if r.status().is_success() => {
                    return r.bytes().await.map_err(|e| CallError::Failed(e.without_url().to_string()));
                }
                Ok(r) if r.status() == http::StatusCode::TOO_MANY_REQUESTS || r.status().is_server_error() => {
                    cause = format!("HTTP {}", r.status());
                    retry_after(r.headers())
                }
                Ok(r) => return Err(CallError::Failed(format!("HTTP {}", r.status()))),
                Err(e) => {
                    cause = e.without_url().to_string();
                    None
                }
            };
            if attempt == ATTEMPTS {
                break;
            }
            let pause = retry_after.unwrap_or(wait);
            if pause > MAX_RETRY_AFTER {
                cause.push_str(&format!(" (Retry-After {}s is too long to wait)", pause.as_secs()));
                break;
            }
            tracing::debug!(attempt, cause = %cause, "Slack call failed; retrying");
            tokio::time::sleep(pause).await;
            wait = wait.saturating_mul(2);
        }
        Err(CallError::Failed(cause))
    }
}

/// A `Retry-After` of seconds.
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_prefix_is_followed() {
        let web = Web::new("https://slack.com/api/", None, "https://hooks.slack.com/").unwrap();
        assert!(web.allows("https://hooks.slack.com/commands/T1/2/abc"));
        for url in [
            "https://hooks.slack.com.evil.example/commands",
            "http://hooks.slack.com/commands",
            "https://169.254.169.254/latest/meta-data",
            "",
        ] {
            assert!(!web.allows(url), "{url}");
        }
        assert_eq!(web.api_url, "https://slack.com/api");
        assert!(!web.has_token());
    }

    #[test]
    fn retry_after_is_seconds() {
        let mut h = http::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(http::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(http::header::RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
