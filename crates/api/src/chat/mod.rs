//! ChatOps: commands from chat users, executed with the API's own rules and write path.
//! Platform adapters (Slack in [`crate::slack`], any client through `POST /api/v1/chat`)
//! turn their requests into a [`Request`] and render the [`Reply`].
//! (Skeleton: the lead fills this in.)

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use bosun_chat::{Action, Reply};

/// A message from a chat user.
#[derive(Debug, Clone)]
pub struct Request {
    /// The platform's user id (Slack `U024BE7LH`): the access file grants roles to it.
    pub user: String,
    /// The channel it was said in.
    pub channel: String,
    /// What was said, after `/bosun` or `@bosun`.
    pub text: String,
}

/// Where later updates of a reply go (a proposal card moving to approved, running,
/// succeeded): Slack's `response_url` or `chat.update`. Delivery is best effort and
/// never blocks the job.
pub trait Followup: Send + Sync + 'static {
    /// Replace the reply this follow-up belongs to with `reply`.
    fn update(&self, reply: Reply) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
}

/// Answer a message. The returned reply is the first answer; later changes of a
/// proposal's card go to `followup`.
pub async fn handle(state: &crate::State, req: Request, followup: Option<Arc<dyn Followup>>) -> Reply {
    let _ = (state, followup);
    Reply::private(format!("not implemented yet: {}", req.text))
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
    let _ = (state, user, channel, followup);
    Reply::private(format!("not implemented yet: {} {value}", action.id()))
}
