//! bosun's ChatOps core, the part that knows nothing of any chat platform nor of AWS:
//! what a message asks for, who may ask it, and what the answer looks like. The API
//! crate executes commands (`bosun_api::chat`); each platform is an adapter that turns
//! its requests into text and a user id, and renders a [`Reply`].
//!
//! Pure: no I/O, no async, no clock (callers pass the time in).
//!
//! # Layout
//! - [`grammar`]: `deploy [to] CLUSTER SVC:TAG`, `scale`, `rollback`, `lock`, ... taken
//!   out of Slack's markup and parsed into a [`Command`] (which displays as its canonical
//!   text), with errors that point at the word that is wrong; the `help` text.
//! - [`access`]: the chat access file: which chat user has which role on which
//!   clusters, and the channels commands are taken in; the role each command needs.
//! - [`proposal`]: a change waiting for approval, as stored, and its card.
//! - [`reply`]: the structured answer: text, a preformatted body, a proposal card,
//!   buttons.
//! - [`slack`]: a [`Reply`] as Slack Block Kit.

pub mod access;
pub mod grammar;
pub mod proposal;
pub mod reply;
pub mod slack;

pub use access::{Access, AccessError, Role};
pub use grammar::{Command, DeployTarget, ParseError};
pub use proposal::Proposal;
pub use reply::{Action, Button, ButtonStyle, Card, CardState, Reply};
