//! The structured answer to a chat message or a button click. `POST /api/v1/chat`
//! returns it as JSON; each platform adapter renders it ([`crate::slack`]).

use serde::Serialize;

/// One answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply {
    /// Shown only to the user who asked (refusals, help, errors): a chat platform that
    /// can (Slack's ephemeral messages) keeps it out of the channel.
    pub private: bool,
    /// The answer in one or a few lines of plain text (Slack's mrkdwn subset: `*bold*`,
    /// `` `code` ``).
    pub text: String,
    /// A preformatted block (a status table, a plan), already cut to a chat message's size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The proposal card, for a change that waits for approval or has been decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<Card>,
    /// Buttons (a tag to deploy, a fresh plan); the card's own buttons are in `card`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
}

impl Reply {
    /// A reply to everyone in the channel.
    pub fn public(text: impl Into<String>) -> Self {
        Self { private: false, text: text.into(), body: None, card: None, buttons: Vec::new() }
    }

    /// A reply to the asker only: refusals, errors, help.
    pub fn private(text: impl Into<String>) -> Self {
        Self { private: true, ..Self::public(text) }
    }

    /// With this preformatted body.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }
}

/// A proposed change: what it does, where it stands, and (while it waits) its buttons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Card {
    /// The proposal's id; the only thing its buttons carry.
    pub proposal_id: String,
    /// The cluster it changes.
    pub cluster: String,
    /// Where it stands.
    pub state: CardState,
    /// The chat user who asked for it.
    pub requester: String,
    /// The chat user who approved (or cancelled) it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// What changes, one line per service: `web: nginx:1.27 -> nginx:1.28`, `web: 2 -> 4 tasks`.
    pub changes: Vec<String>,
    /// The plan's summary line: counts to create, update, replace and delete.
    pub summary: String,
    /// The plan hash the approval applies, and nothing else.
    pub plan_hash: String,
    /// The start of the rendered plan, cut to fit a message.
    pub plan_excerpt: String,
    /// Where the whole plan can be read, when a UI URL is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_url: Option<String>,
    /// The job that applies it, once approved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Why it failed, was refused as stale, or expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// When it expires, RFC 3339 (while it waits).
    pub expires_at: String,
}

/// Where a proposal stands. Every state after `Proposed` but `Approved` and `Running` is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardState {
    /// Waiting for approval.
    Proposed,
    /// Approved; its job is queued.
    Approved,
    /// Its job is running.
    Running,
    /// Applied, and every rollout succeeded.
    Succeeded,
    /// The circuit breaker rolled a deployment back.
    RolledBack,
    /// The job failed.
    Failed,
    /// Cancelled by a user.
    Cancelled,
    /// Nobody approved it in time.
    Expired,
    /// The stackfile or the plan changed after the proposal: nothing was written.
    Stale,
}

impl CardState {
    /// Whether nothing more happens to the proposal.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Proposed | Self::Approved | Self::Running)
    }
}

/// A button. Its `value` is all the click sends back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Button {
    /// The label.
    pub label: String,
    /// What a click does.
    pub action: Action,
    /// A proposal id (approve, cancel), or the command text a click runs (`run`).
    pub value: String,
    /// How it looks.
    pub style: ButtonStyle,
    /// A confirmation dialog's question, when the click changes something.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm: Option<String>,
}

/// What a button click does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Approve the proposal in `value`.
    Approve,
    /// Cancel the proposal in `value`.
    Cancel,
    /// Run the command text in `value` as the clicker (a tag to deploy, a fresh plan).
    Run,
}

impl Action {
    /// The action id adapters use on the wire (`approve`, `cancel`, `run`).
    pub fn id(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Cancel => "cancel",
            Self::Run => "run",
        }
    }

    /// The action with this wire id.
    pub fn from_id(id: &str) -> Option<Self> {
        [Self::Approve, Self::Cancel, Self::Run].into_iter().find(|a| a.id() == id)
    }
}

/// How a button looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonStyle {
    /// The platform's default.
    Default,
    /// The action the message is for (Approve).
    Primary,
    /// A destructive or cancelling action.
    Danger,
}
