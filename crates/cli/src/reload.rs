//! SIGHUP: the servers read the tokens file, the chat access file and the webhook files again, and put
//! what they now say in force without a restart.
//!
//! A file that cannot be read or does not parse leaves what is in force as it was, and
//! the error is logged: a broken edit never locks everyone out, nor silences the
//! notifications. A tokens file with no tokens counts as broken here (an editor that
//! truncates before it writes would otherwise lock everyone out for a moment). No log
//! line ever holds a token or a webhook URL: both are credentials.

use std::path::{Path, PathBuf};

use bosun_api::chat::SharedAccess;
use bosun_api::{SharedTokens, Tokens};
use bosun_chat::Access;
use bosun_scheduler::{Notifier, Sinks};

/// Where a global webhook URL comes from.
#[derive(Debug, Clone)]
pub enum SinkSource {
    /// A flag or variable (`--slack-webhook`): fixed for the process's life.
    Fixed(Option<String>),
    /// A file (`--slack-webhook-file`), read at start and on each SIGHUP.
    File(PathBuf),
}

impl SinkSource {
    /// The flag's value, or else the file, when one is given.
    pub fn new(url: Option<String>, file: Option<PathBuf>) -> Self {
        match file {
            Some(path) => Self::File(path),
            None => Self::Fixed(url.filter(|u| !u.is_empty())),
        }
    }

    /// The URL now. A file holds one `http(s)://` URL; blank: no sink. The error never
    /// quotes the file.
    pub fn read(&self) -> Result<Option<String>, String> {
        let path = match self {
            Self::Fixed(url) => return Ok(url.clone()),
            Self::File(path) => path,
        };
        let text = std::fs::read_to_string(path).map_err(|e| format!("could not read {}: {e}", path.display()))?;
        let url = text.trim();
        if url.is_empty() {
            return Ok(None);
        }
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(char::is_whitespace) {
            return Err(format!("{} does not hold one http:// or https:// URL", path.display()));
        }
        Ok(Some(url.to_owned()))
    }
}

/// The global sinks from their sources.
pub fn read_sinks(slack: &SinkSource, webhook: &SinkSource) -> Result<Sinks, String> {
    Ok(Sinks { slack: slack.read()?, webhook: webhook.read()? })
}

/// Why a tokens file was not taken: a summary, and one message per bad line (which
/// never quote the line).
#[derive(Debug)]
pub struct TokensError {
    /// What is wrong, naming the file.
    pub summary: String,
    /// `LINE: message`, one per bad line.
    pub lines: Vec<String>,
}

/// Read and parse a tokens file.
pub fn read_tokens(path: &Path) -> Result<Tokens, TokensError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| TokensError { summary: format!("could not read {}: {e}", path.display()), lines: Vec::new() })?;
    parse_tokens(&text, &path.display().to_string())
}

/// Parse the content of a tokens file that came from `origin` (a path, or `BOSUN_TOKENS`).
pub fn parse_tokens(text: &str, origin: &str) -> Result<Tokens, TokensError> {
    Tokens::parse(text)
        .map_err(|lines| TokensError { summary: format!("{origin} has {} invalid line(s)", lines.len()), lines })
}

/// Read and parse a chat access file. Its errors are the same shape as a tokens
/// file's: a summary, and `LINE:COL: message` per bad line.
pub fn read_access(path: &Path) -> Result<Access, TokensError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| TokensError { summary: format!("could not read {}: {e}", path.display()), lines: Vec::new() })?;
    Access::parse(&text).map_err(|errors| TokensError {
        summary: format!("{} has {} invalid line(s)", path.display(), errors.len()),
        lines: errors.iter().map(ToString::to_string).collect(),
    })
}

/// What this process reloads on SIGHUP.
#[derive(Debug, Default)]
pub struct Reloadable {
    /// The API's tokens file and the tokens in force.
    pub tokens: Option<(PathBuf, SharedTokens)>,
    /// The API's chat access file and the grants in force.
    pub chat: Option<(PathBuf, SharedAccess)>,
    /// The scheduler's webhook sources and its notifier.
    pub sinks: Option<(SinkSource, SinkSource, Notifier)>,
}

impl Reloadable {
    /// Read everything again; put in force what reads well, keep the rest.
    pub fn reload(&self) {
        if let Some((path, shared)) = &self.tokens {
            match read_tokens(path) {
                Ok(tokens) if tokens.is_empty() => tracing::error!(
                    file = %path.display(),
                    kept = shared.current().len(),
                    "the tokens file has no tokens; the tokens loaded before stay in force"
                ),
                Ok(tokens) => {
                    let count = tokens.len();
                    shared.replace(tokens);
                    tracing::info!(file = %path.display(), tokens = count, "tokens file reloaded");
                }
                Err(e) => tracing::error!(
                    cause = %e.summary,
                    lines = ?e.lines,
                    kept = shared.current().len(),
                    "the tokens file was not reloaded; the tokens loaded before stay in force"
                ),
            }
        }
        if let Some((path, shared)) = &self.chat {
            match read_access(path) {
                Ok(access) => {
                    shared.replace(access);
                    tracing::info!(file = %path.display(), "chat access file reloaded");
                }
                Err(e) => tracing::error!(
                    cause = %e.summary,
                    lines = ?e.lines,
                    "the chat access file was not reloaded; the grants loaded before stay in force"
                ),
            }
        }
        if let Some((slack, webhook, notifier)) = &self.sinks {
            match read_sinks(slack, webhook) {
                Ok(sinks) => {
                    let (slack, webhook) = (sinks.slack.is_some(), sinks.webhook.is_some());
                    notifier.set_sinks(sinks);
                    tracing::info!(slack, webhook, "webhook settings reloaded");
                }
                Err(cause) => tracing::error!(
                    %cause,
                    "the webhook settings were not reloaded; the ones loaded before stay in force"
                ),
            }
        }
    }
}

/// SIGHUP, registered now so that a hang-up from here on is caught (instead of
/// ending the process, its default); `None` where there is no such signal.
#[cfg(unix)]
pub type Hangups = Option<tokio::signal::unix::Signal>;
/// No SIGHUP off Unix.
#[cfg(not(unix))]
pub type Hangups = Option<()>;

/// Catch SIGHUP from now on.
pub fn hangups() -> Hangups {
    #[cfg(unix)]
    {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Reload `what` on every SIGHUP, in the background, for the rest of the process.
pub fn spawn(hangups: Hangups, what: Reloadable) {
    #[cfg(unix)]
    if let Some(mut signal) = hangups {
        tokio::spawn(async move {
            while signal.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading the tokens file and webhook settings");
                what.reload();
            }
        });
    }
    #[cfg(not(unix))]
    let _ = (hangups, what);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_files_hold_one_url_and_errors_do_not_quote_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("slack");
        let source = SinkSource::File(file.clone());
        assert!(source.read().unwrap_err().starts_with("could not read"));
        std::fs::write(&file, "  https://hooks.slack.com/services/T/B/x\n").unwrap();
        assert_eq!(source.read().unwrap().as_deref(), Some("https://hooks.slack.com/services/T/B/x"));
        std::fs::write(&file, "\n").unwrap();
        assert_eq!(source.read().unwrap(), None);
        std::fs::write(&file, "hooks.slack.com/secret-part").unwrap();
        let err = source.read().unwrap_err();
        assert!(!err.contains("secret-part"), "{err}");
        std::fs::write(&file, "https://a/secret-part https://b").unwrap();
        assert!(!source.read().unwrap_err().contains("secret-part"));
        assert_eq!(SinkSource::new(Some(String::new()), None).read().unwrap(), None);
    }
}
