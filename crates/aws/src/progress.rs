//! What an apply reports while it runs ([`ProgressEvent`], to a [`Progress`]) and how
//! each rollout ends ([`RolloutOutcome`]).

use std::time::Duration;

use bosun_plan::Change;
use serde::Serialize;

/// What happened while applying, for live progress output.
#[derive(Debug)]
pub enum ProgressEvent<'a> {
    /// A change is starting.
    Started(&'a Change),
    /// A change is done.
    Done(&'a Change),
    /// A service change started a deployment that the apply will wait for (unless
    /// `--no-wait`). Sent during the change, before its [`Done`](Self::Done): a live
    /// view needs it to tell a service that is now rolling out from one whose change
    /// (a tag-only update, a delete) is finished with it.
    RolloutStarted {
        /// Service.
        service: &'a str,
    },
    /// A rollout is still going.
    Rollout {
        /// Service.
        service: &'a str,
        /// Running tasks of the new deployment.
        running: i32,
        /// Desired tasks of the new deployment.
        desired: i32,
        /// ECS rollout state.
        state: &'a str,
    },
    /// A new ECS service event.
    ServiceEvent {
        /// Service.
        service: &'a str,
        /// ECS's message.
        message: &'a str,
    },
    /// A rollout ended.
    RolloutDone {
        /// Service.
        service: &'a str,
        /// Outcome.
        outcome: &'a RolloutOutcome,
    },
}

/// Receives progress while applying.
pub trait Progress: Send + Sync {
    /// Called for each event.
    fn event(&self, event: ProgressEvent<'_>);
}

/// Discards progress.
impl Progress for () {
    fn event(&self, _event: ProgressEvent<'_>) {}
}

/// How a rollout ended. A circuit-breaker rollback is never a success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RolloutOutcome {
    /// The new deployment completed and is the primary one.
    Succeeded,
    /// The deployment failed and ECS rolled the service back to the previous revision.
    RolledBack {
        /// ECS's reason.
        reason: String,
    },
    /// The deployment failed and nothing was rolled back.
    Failed {
        /// ECS's reason.
        reason: String,
    },
    /// The deployment did not finish in time; it may still finish.
    TimedOut {
        /// How long bosun waited.
        #[serde(with = "secs")]
        after: Duration,
    },
}

impl RolloutOutcome {
    /// Whether the rollout succeeded.
    pub fn is_success(&self) -> bool {
        matches!(self, RolloutOutcome::Succeeded)
    }
}

impl std::fmt::Display for RolloutOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RolloutOutcome::Succeeded => write!(f, "succeeded"),
            RolloutOutcome::RolledBack { reason } => write!(f, "rolled back by the circuit breaker: {reason}"),
            RolloutOutcome::Failed { reason } => write!(f, "failed: {reason}"),
            RolloutOutcome::TimedOut { after } => {
                write!(f, "timed out after {}s (the deployment may still finish)", after.as_secs())
            }
        }
    }
}

mod secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}
