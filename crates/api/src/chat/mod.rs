//! ChatOps: commands from chat users, executed with the API's own rules and write path.
//! Platform adapters (Slack in [`crate::slack`], any client through `POST /api/v1/chat`)
//! turn their requests into a [`Request`] and render the [`Reply`].
//!
//! Who may do what comes from the chat access file ([`bosun_chat::Access`]): a chat
//! user's role per cluster. Reads answer at once; a change (deploy, scale, rollback)
//! becomes a **proposal**: the candidate stackfile, validated and planned against live
//! AWS, stored with its plan hash ([`propose`]). Approving it writes the candidate only
//! if the stackfile is still the version it was made from and the plan still has that
//! hash, and the job it queues carries the hash, so the scheduler applies that plan or
//! nothing ([`decide`]).
//!
//! # Layout
//! - [`read`]: help, clusters, status, history, plan, and a service's tags.
//! - [`propose`]: deploy, scale and rollback, as proposals.
//! - [`decide`]: approve and cancel, and the card's updates while the job runs.

// A refusal is a reply, by design (`Result<Reply, Reply>`): one is made per chat
// message, so its size does not matter.
#![allow(clippy::result_large_err)]

mod decide;
mod propose;
mod read;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use bosun_chat::grammar::{self, Command, ParseError};
use bosun_chat::{Access, Role};
pub use bosun_chat::{Action, Reply};

use crate::error::ApiError;

/// A message from a chat user.
#[derive(Debug, Clone)]
pub struct Request {
    /// The platform's user id (Slack `U024BE7LH`): the access file grants roles to it.
    pub user: String,
    /// The channel it was said in.
    pub channel: String,
    /// What was said, after `/bosun` or `@bosun`.
    pub text: String,
    /// The most the request may do whatever the access file grants: the role of the
    /// API token a chat client presents (`POST /api/v1/chat`), so that a viewer's token
    /// cannot speak for a deployer. `None`: the platform itself vouches for the user
    /// (a signed Slack request).
    pub role_cap: Option<Role>,
}

/// Where later updates of a reply go (a proposal card moving to approved, running,
/// succeeded): Slack's `response_url` or `chat.update`. Delivery is best effort and
/// never blocks the job.
pub trait Followup: Send + Sync + 'static {
    /// Replace the reply this follow-up belongs to with `reply`.
    fn update(&self, reply: Reply) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
}

/// The chat settings of a server.
#[derive(Debug, Clone, Default)]
pub struct ChatConfig {
    /// The access file's grants; replaced whole when the file is read again (SIGHUP).
    pub access: SharedAccess,
}

/// The access file's grants, replaceable while the server runs.
#[derive(Debug, Clone, Default)]
pub struct SharedAccess(Arc<RwLock<Arc<Access>>>);

impl SharedAccess {
    /// These grants.
    pub fn new(access: Access) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(access))))
    }

    /// The grants in force.
    pub fn current(&self) -> Arc<Access> {
        self.0.read().expect("the access lock is never poisoned").clone()
    }

    /// Replace the grants (a reload).
    pub fn replace(&self, access: Access) {
        *self.0.write().expect("the access lock is never poisoned") = Arc::new(access);
    }
}

/// One request being answered: who asks, with what grants.
pub(crate) struct Ctx<'a> {
    pub state: &'a crate::State,
    pub access: Arc<Access>,
    pub user: &'a str,
    pub channel: &'a str,
    pub role_cap: Option<Role>,
}

/// What a command answers: a reply, or a refusal (also a reply, private).
pub(crate) type Answer = Result<Reply, Reply>;

impl Ctx<'_> {
    /// The user's role on `cluster`, capped by the presented token's.
    pub fn role(&self, cluster: &str) -> Option<Role> {
        let granted = self.access.role(self.user, cluster)?;
        Some(self.role_cap.map_or(granted, |cap| granted.min(cap)))
    }

    /// Refuse unless the user has at least `needed` on `cluster`.
    pub fn require(&self, cluster: &str, needed: Role, doing: &str) -> Result<Role, Reply> {
        match self.role(cluster) {
            Some(role) if role >= needed => Ok(role),
            Some(role) => Err(Reply::private(format!(
                "Sorry, {doing} on cluster `{}` needs the {needed} role; you have {role}.",
                shown(cluster)
            ))),
            None => Err(Reply::private(format!("Sorry, you have no access to cluster `{}`.", shown(cluster)))),
        }
    }
}

/// Answer a message. The returned reply is the first answer; later changes of a
/// proposal's card go to `followup`.
pub async fn handle(state: &crate::State, req: Request, followup: Option<Arc<dyn Followup>>) -> Reply {
    let ctx = match context(state, &req.user, &req.channel, req.role_cap) {
        Ok(ctx) => ctx,
        Err(refused) => return refused,
    };
    let command = match grammar::parse(&req.text) {
        Ok(command) => command,
        Err(e) => return parse_error(&e),
    };
    let _ = followup;
    let answer = match command {
        Command::Help => Ok(Reply::private(grammar::help_text())),
        Command::HelpOn { command } => Ok(Reply::private(grammar::usage(command).unwrap_or_else(grammar::help_text))),
        Command::Clusters => read::clusters(&ctx).await,
        Command::Status { cluster, service } => read::status(&ctx, &cluster, service.as_deref()).await,
        Command::History { cluster } => read::history(&ctx, &cluster).await,
        Command::Plan { cluster } => read::plan(&ctx, &cluster).await,
        Command::Tags { cluster, service } => read::tags(&ctx, &cluster, &service).await,
        Command::Deploy { .. } | Command::Scale { .. } | Command::Rollback { .. } => {
            propose::propose(&ctx, &command).await
        }
        Command::Lock { cluster, ttl, reason } => decide::lock(&ctx, &cluster, ttl, reason).await,
        Command::Unlock { cluster } => decide::unlock(&ctx, &cluster).await,
    };
    answer.unwrap_or_else(|refused| refused)
}

/// Answer a button click by `user` in `channel`: approve or cancel the proposal in
/// `value`, or run the command text in `value`.
pub async fn click(
    state: &crate::State,
    user: &str,
    channel: &str,
    action: Action,
    value: &str,
    followup: Option<Arc<dyn Followup>>,
) -> Reply {
    click_as(state, user, channel, None, action, value, followup).await
}

/// [`click`], capped by the role of the token a chat client presents.
pub(crate) async fn click_as(
    state: &crate::State,
    user: &str,
    channel: &str,
    role_cap: Option<Role>,
    action: Action,
    value: &str,
    followup: Option<Arc<dyn Followup>>,
) -> Reply {
    if action == Action::Run {
        let req = Request { user: user.to_owned(), channel: channel.to_owned(), text: value.to_owned(), role_cap };
        return Box::pin(handle(state, req, followup)).await;
    }
    let ctx = match context(state, user, channel, role_cap) {
        Ok(ctx) => ctx,
        Err(refused) => return refused,
    };
    let answer = match action {
        Action::Approve => decide::approve(&ctx, value, followup).await,
        Action::Cancel => decide::cancel(&ctx, value).await,
        Action::Run => unreachable!("handled above"),
    };
    answer.unwrap_or_else(|refused| refused)
}

/// The context of a request from `user` in `channel`, or the refusal of a server
/// without chat, a channel not allowed, or a user the access file does not know.
fn context<'a>(
    state: &'a crate::State,
    user: &'a str,
    channel: &'a str,
    role_cap: Option<Role>,
) -> Result<Ctx<'a>, Reply> {
    let Some(chat) = &state.chat else {
        return Err(Reply::private(
            "bosun's chat is not configured on this server (start it with --chat-access-file).",
        ));
    };
    let access = chat.access.current();
    if !access.channel_allowed(channel) {
        return Err(Reply::private("Sorry, bosun does not take commands in this channel."));
    }
    if !access.knows(user) {
        return Err(Reply::private(format!(
            "Sorry, you are not allowed to use bosun. An admin can grant your user id (`{}`) a role in the chat access file.",
            shown(user)
        )));
    }
    Ok(Ctx { state, access, user, channel, role_cap })
}

/// The cluster's current stackfile and what it loads to (cached per version), or the
/// refusal for a cluster that does not exist.
pub(crate) async fn current(
    ctx: &Ctx<'_>,
    cluster: &str,
) -> Result<(bosun_aws::store::Stackfile, Arc<bosun_stackfile::Desired>), Reply> {
    let current = crate::write::current(ctx.state, cluster).await.map_err(failed)?;
    let desired = ctx.state.derived.desired(cluster, &current.text).map_err(|d| {
        failed(crate::ApiError::corrupt(format_args!("the stored stackfile of {cluster} no longer validates: {d}")))
    })?;
    Ok((current, desired))
}

/// Refuse a change to a locked cluster. Chat has no override: an admin unlocks first.
pub(crate) async fn ensure_unlocked(ctx: &Ctx<'_>, cluster: &str) -> Result<(), Reply> {
    match ctx.state.store.get_lock(cluster, std::time::SystemTime::now()).await {
        Ok(None) => Ok(()),
        Ok(Some(lock)) => Err(Reply::private(format!(
            ":lock: Cluster `{}` is {}. Nothing was changed; an admin can `unlock {}`.",
            shown(cluster),
            shown(&lock.describe()),
            shown(cluster)
        ))),
        Err(e) => Err(failed(e.into())),
    }
}

fn parse_error(e: &ParseError) -> Reply {
    let mut text = format!("I did not understand that (column {}): {}", e.column, e.message);
    if let Some(hint) = &e.hint {
        text.push('\n');
        text.push_str(hint);
    }
    Reply::private(text)
}

/// A refusal from an API error: a 4xx says what is wrong; a 5xx only that something
/// failed, and its cause goes to the log.
pub(crate) fn failed(e: ApiError) -> Reply {
    if e.status.is_server_error() {
        tracing::error!(status = e.status.as_u16(), code = e.code, cause = %e.cause().unwrap_or(&e.message), "chat command failed");
        Reply::private("Something went wrong on the server; its log has the cause. Try again in a moment.")
    } else {
        Reply::private(e.message)
    }
}

/// `text` without control characters, for a reply: a name or a reason cannot break a
/// reply's lines. Replies are plain text with `*bold*` and `` `code` ``; each adapter
/// escapes what its platform reads as markup (Slack: `&`, `<`, `>`), so that nothing
/// quoted can become a mention or a link.
pub(crate) fn shown(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

/// At most `max` bytes of `text`, cut at a line end where there is one, with a note.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text[..end].rfind('\n').filter(|&i| i > max / 2).unwrap_or(end);
    format!("{}\n... ({} more bytes)", &text[..cut], text.len() - cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_text_loses_its_control_characters() {
        assert_eq!(shown("web\u{7}\nx\u{1b}[31m"), "webx[31m");
    }

    #[test]
    fn excerpts_cut_at_a_line_and_say_how_much_is_left() {
        let text = "line one\nline two\nline three\n";
        assert_eq!(excerpt(text, 100), text);
        let cut = excerpt(text, 20);
        assert_eq!(cut, "line one\nline two\n... (12 more bytes)");
        let wide = "é".repeat(20);
        assert!(excerpt(&wide, 7).starts_with("ééé\n"));
    }
}
