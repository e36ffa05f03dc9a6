//! The AWS adapter of bosun, on the official `aws-sdk-*` crates.
//!
//! It exposes two seams that speak in domain types: [`observe()`] reads a cluster's
//! live state into a [`bosun_plan::Observed`], and [`apply()`] executes a
//! [`bosun_plan::Plan`] and waits for the rollouts. Pagination, batching, caching of
//! immutable task definitions and bounded concurrency all stay in here.
//!
//! # Layout
//! - [`clients`]: the SDK clients of one region, with call counting and retries.
//! - [`stats`]: AWS calls by operation, read and mutating.
//! - [`observe`](mod@observe): cluster state -> `Observed`.
//! - [`preflight`]: before the first change, every VPC, subnet, security group,
//!   certificate, hosted zone, role, secret and parameter the stackfile names is looked
//!   up (reads only, batched, concurrently with the observation).
//! - [`convert`]: SDK shapes <-> domain shapes.
//! - [`apply`](mod@apply): plan steps -> AWS calls, stage by stage, one module per
//!   AWS service.
//! - [`import`](mod@import): a cluster bosun does not manage yet -> the live cluster
//!   `bosun import` writes a stackfile for (reads only).
//! - [`progress`]: what an apply reports while it runs, and how rollouts end.
//! - `log_groups`: the CloudWatch Logs groups of `logging.create_group`, read.
//! - `scaling`: Application Auto Scaling targets of services, read and converted.
//! - [`rollout`]: waiting for deployments and one-off tasks, with four outcomes, on
//!   an adaptive poll schedule.
//! - [`backoff`]: capped exponential backoff with jitter.
//! - [`error`]: errors that name the resource and the kind of failure (with the SDK's
//!   error as their source), and what an apply had changed when it stopped.
//! - [`store`]: the S3 store of stackfiles (versioned, conditional writes), job
//!   records and cluster status.
//! - [`queue`]: the SQS FIFO job queue; `init` (bucket, queue, dead-letter queue) and
//!   `connect`, which opens them for the API and the scheduler.
//! - [`jobs`]: the job message and record.
//! - [`lease`]: per-cluster leases in S3 that fence concurrent reconciles.
//! - [`locks`]: cluster locks (freezes) in S3, which expire by themselves.
//! - [`proposals`]: chat proposals in S3, changed only by conditional writes.
//! - [`ecr`]: recent image tags of a repository.
//! - [`live`]: the live state of a cluster's services (counts, image, rollout).
//! - [`policy`]: the IAM policy bosun needs (`bosun iam-policy`), split into managed
//!   policies within IAM's size limit, and the actions each SDK operation needs.

pub mod apply;
pub mod backoff;
pub mod clients;
pub mod convert;
pub mod ecr;
pub mod error;
pub mod import;
pub mod jobs;
pub mod lease;
pub mod live;
pub mod locks;
mod log_groups;
pub mod observe;
pub mod policy;
pub mod preflight;
pub mod progress;
pub mod proposals;
pub mod queue;
pub mod rollout;
mod scaling;
pub mod stats;
pub mod store;

pub use apply::{ApplyOptions, ApplyReport, apply};
pub use clients::Clients;
pub use error::{ApplyError, ApplyFailure, AwsError, ErrorKind};
pub use observe::observe;
pub use preflight::{PreflightError, observe_checked};
pub use progress::{Progress, ProgressEvent, RolloutOutcome};
pub use stats::{AwsTime, CallStats};

/// The engine's futures must be `Send`: the API and the scheduler run them on a
/// multi-threaded runtime. This fails to compile when a change breaks that.
#[cfg(test)]
#[allow(dead_code)]
mod send_check {
    use bosun_plan::{Observed, Plan};
    use bosun_stackfile::Desired;

    use super::*;

    fn is_send<T: Send>(_: T) {}

    fn observe_is_send(c: &Clients, d: &Desired) {
        is_send(observe(c, d));
    }

    fn apply_is_send(c: &Clients, d: &Desired, o: &Observed, p: &Plan, opts: &ApplyOptions, progress: &dyn Progress) {
        is_send(apply(c, d, o, p, opts, progress));
    }
}
