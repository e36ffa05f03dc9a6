//! One reconcile of one cluster: load the stackfile version, observe (and check that
//! everything the stackfile names exists), plan, apply and wait for the rollouts,
//! through the engine ([`bosun_aws`], [`bosun_plan`]).
//!
//! The result is an [`Outcome`] (the reconcile ran to its end: succeeded, rolled back
//! or failed; a stackfile that names something missing fails, with every missing
//! reference in the job record, and nothing is changed) or a [`ReconcileError`] (it could not: S3 or AWS failed, the stored
//! stackfile is unreadable). Outcomes are recorded and the job is done; errors are
//! retried through the queue. Every run reads the stackfile and the live state anew, so
//! running one twice is always safe.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bosun_aws::error::ErrorKind;
use bosun_aws::jobs::JobStatus;
use bosun_aws::lease::LeaseError;
use bosun_aws::progress::{Progress, ProgressEvent};
use bosun_aws::rollout::{Watch, wait_rollouts};
use bosun_aws::store::StoreError;
use bosun_aws::{ApplyError, ApplyFailure, ApplyOptions, AwsError, AwsTime, Clients, PreflightError, RolloutOutcome};
use bosun_plan::{Observed, Plan, Policy};
use bosun_stackfile::{Desired, Diagnostics, References};
use serde_json::{Value, json};
use tracing::{debug, info};

use crate::Ctx;

/// How a reconcile that ran to its end came out.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `succeeded`, `rolled_back` or `failed`.
    pub status: JobStatus,
    /// Why it did not succeed.
    pub error: Option<String>,
    /// One line: counts by action, or what went wrong.
    pub summary: String,
    /// The plan's changes, as `<action> <resource>` lines.
    pub changes: Vec<String>,
    /// Plan summary, per-resource results, rollouts and timings, for the job record.
    pub result: Value,
}

/// Why a reconcile could not run to its end. It is retried through the queue (see
/// `jobs::error_policy`); the permanent ones at once, so that the job reaches the
/// dead-letter queue quickly.
///
/// The texts are written into job records, the cluster status and notifications, which
/// clients read: they are part of the API.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The cluster has no stackfile at all (it was deleted since the job was queued).
    #[error("cluster {cluster} has no stackfile")]
    NoStackfile {
        /// The cluster.
        cluster: String,
    },
    /// The job's stackfile version does not exist (nor could it: a malformed id).
    #[error("cluster {cluster} has no stackfile version {version}")]
    NoSuchVersion {
        /// The cluster.
        cluster: String,
        /// The version asked for.
        version: String,
    },
    /// The stored stackfile does not validate: someone wrote the bucket past the API.
    /// Only locations are kept, since a diagnostic's message may quote a value from the
    /// stackfile.
    #[error("stored stackfile version {version} is not valid ({errors} error(s){})", first_at(.first))]
    InvalidStackfile {
        /// The version.
        version: String,
        /// How many errors validation found.
        errors: usize,
        /// Where the first one is, if validation found any.
        first: Option<Location>,
    },
    /// An S3 call of the store failed.
    #[error("{}", store_text(.doing, .source))]
    Store {
        /// What was being done.
        doing: StoreOp,
        /// The failure.
        #[source]
        source: StoreError,
    },
    /// The live state of the cluster could not be read or followed.
    #[error("{doing} of cluster {cluster}: {source}")]
    Live {
        /// What was being done.
        doing: LiveOp,
        /// The cluster.
        cluster: String,
        /// The failed AWS call.
        #[source]
        source: AwsError,
    },
    /// An apply stopped part-way in a way that observing and planning again can get
    /// past: a retryable AWS failure, or a prerequisite that vanished.
    #[error("{source}: {} ({})", .source.failure, half_done(&.source.completed))]
    ApplyStopped {
        /// Why it stopped, and what it had already changed.
        #[source]
        source: ApplyError,
    },
    /// The cluster's lease could not be taken (S3 failed).
    #[error("could not take the cluster lease: {0}")]
    Lease(#[source] LeaseError),
    /// Another scheduler took the lease over while this one reconciled.
    #[error("the cluster lease was lost mid-reconcile")]
    LeaseLost,
}

impl ReconcileError {
    /// Whether retrying cannot help: the stackfile is missing or does not validate,
    /// and only a new stackfile version changes that.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::NoStackfile { .. } | Self::NoSuchVersion { .. } | Self::InvalidStackfile { .. } => true,
            // A role that refuses bosun does not change its mind within a job's retries;
            // the drift check tries again later.
            Self::Live { doing: LiveOp::Reach, source, .. } => source.kind() == ErrorKind::AccessDenied,
            _ => false,
        }
    }

    /// A store failure while doing `doing`.
    pub(crate) fn store(doing: StoreOp) -> impl FnOnce(StoreError) -> Self {
        move |source| Self::Store { doing, source }
    }

    /// A store failure of an S3 call that returns a plain [`AwsError`].
    pub(crate) fn s3(doing: StoreOp) -> impl FnOnce(AwsError) -> Self {
        move |source| Self::Store { doing, source: source.into() }
    }
}

/// Where in a stackfile an error is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based line (0: not located in the document).
    pub line: usize,
    /// 1-based column (0: not located in the document).
    pub column: usize,
    /// The field path; may be empty.
    pub path: String,
}

/// `; first at line 4, column 1 (services[0].x)`, or nothing.
fn first_at(first: &Option<Location>) -> String {
    let Some(Location { line, column, path }) = first else {
        return String::new();
    };
    let at = format!("; first at line {line}, column {column}");
    if path.is_empty() { at } else { format!("{at} ({path})") }
}

/// What a store call was doing when it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    /// Reading the job record.
    ReadJobRecord,
    /// Writing the job record.
    WriteJobRecord,
    /// Finding the current stackfile version.
    ReadCurrentVersion,
    /// Finding the job queued for the current version.
    FindVersionJob,
    /// Reading a stackfile version.
    ReadStackfile {
        /// The version.
        version: String,
    },
    /// Reading the cluster's lock in a drift check.
    ReadLock,
    /// Writing the cluster status in a drift check.
    WriteDriftStatus,
    /// Writing the record of a drift-healing job.
    WriteDriftJobRecord,
}

/// `<what was being done>: <failure>`. The drift check's writes show the failure alone,
/// as their log lines always have.
fn store_text(doing: &StoreOp, source: &StoreError) -> String {
    match doing {
        StoreOp::ReadJobRecord => format!("could not read the job record: {source}"),
        StoreOp::WriteJobRecord => format!("could not write the job record: {source}"),
        StoreOp::ReadCurrentVersion => format!("could not read the current stackfile version: {source}"),
        StoreOp::FindVersionJob => format!("could not look up the current version's job: {source}"),
        StoreOp::ReadLock => format!("could not read the cluster's lock, so nothing is healed: {source}"),
        StoreOp::ReadStackfile { version } => format!("could not read stackfile version {version}: {source}"),
        StoreOp::WriteDriftStatus | StoreOp::WriteDriftJobRecord => source.to_string(),
    }
}

/// What a read of the live state was doing when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveOp {
    /// Reaching the cluster's account and region (assuming the role its stackfile names).
    Reach,
    /// Observing the cluster for a plan.
    Observe,
    /// Finding the rollouts an earlier attempt started.
    ReadRollouts,
    /// Waiting for those rollouts.
    FollowRollouts,
    /// Checking that what the stackfile names exists (preflight).
    CheckReferences,
}

impl std::fmt::Display for LiveOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Reach => "could not reach the account",
            Self::Observe => "could not read the live state",
            Self::ReadRollouts => "could not read the rollouts",
            Self::FollowRollouts => "could not follow the rollouts",
            Self::CheckReferences => "could not check the references",
        })
    }
}

/// `nothing was changed`, or `already changed: <changes>`.
fn half_done(completed: &[String]) -> String {
    if completed.is_empty() {
        "nothing was changed".to_owned()
    } else {
        format!("already changed: {}", completed.join(", "))
    }
}

/// Read and validate a cluster's stackfile at `version`; also what it names that must
/// exist in AWS.
pub async fn load(ctx: &Ctx, cluster: &str, version: &str) -> Result<(Desired, References), ReconcileError> {
    let stored = ctx
        .store
        .get_stackfile(cluster, Some(version))
        .await
        .map_err(ReconcileError::s3(StoreOp::ReadStackfile { version: version.to_owned() }))?
        .ok_or_else(|| ReconcileError::NoSuchVersion { cluster: cluster.to_owned(), version: version.to_owned() })?;
    bosun_stackfile::load_with_references(&stored.text, cluster).map_err(|diags| ReconcileError::InvalidStackfile {
        version: version.to_owned(),
        errors: diags.0.len(),
        first: diags.0.first().map(|d| Location { line: d.line, column: d.column, path: d.path.clone() }),
    })
}

/// The clients of the cluster's own account and region.
pub async fn clients(ctx: &Ctx, desired: &Desired) -> Result<Clients, ReconcileError> {
    ctx.clusters.get(&desired.cluster, &desired.aws).await.map_err(|source| ReconcileError::Live {
        doing: LiveOp::Reach,
        cluster: desired.cluster.clone(),
        source,
    })
}

/// Observe the cluster and plan against `desired`.
pub async fn plan(ctx: &Ctx, desired: &Desired, policy: &Policy) -> Result<(Observed, Plan), ReconcileError> {
    let observed = bosun_aws::observe(&clients(ctx, desired).await?, desired)
        .await
        .map_err(|source| ReconcileError::Live { doing: LiveOp::Observe, cluster: desired.cluster.clone(), source })?;
    let plan = bosun_plan::plan(desired, &observed, policy);
    Ok((observed, plan))
}

/// The outcome of a job whose approved plan (`approved`, a hash prefix) is not `plan`:
/// failed, with nothing applied. `None` when `plan` is the approved one.
pub fn refuse_unapproved(plan: &Plan, approved: &str) -> Option<Outcome> {
    if plan.matches_hash(approved) {
        return None;
    }
    let error = format!(
        "the plan changed since it was approved: it now has hash {}, not {approved}; nothing was changed",
        plan.short_hash()
    );
    Some(Outcome {
        status: JobStatus::Failed,
        summary: error.clone(),
        error: Some(error),
        changes: change_lines(plan),
        result: json!({ "plan": { "hash": plan.hash, "summary": plan.summary(), "approved_hash": approved } }),
    })
}

/// `<action> <resource>` for each change.
pub fn change_lines(plan: &Plan) -> Vec<String> {
    plan.changes.iter().map(|c| format!("{:?} {}", c.action, c.resource).to_lowercase()).collect()
}

/// The outcome of a reconcile whose stackfile names things AWS does not have (or that
/// cannot be used): failed, nothing changed, every one of them in the error and the
/// record's `preflight`.
fn missing_references(diags: &Diagnostics) -> Outcome {
    let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
    let summary = PreflightError::Missing(diags.clone()).to_string();
    let missing: Vec<Value> = diags
        .iter()
        .map(|d| json!({ "path": d.path, "line": d.line, "column": d.column, "message": d.message }))
        .collect();
    Outcome {
        status: JobStatus::Failed,
        error: Some(format!("{summary}: {}", lines.join("; "))),
        summary,
        changes: vec![],
        result: json!({ "preflight": { "missing": missing } }),
    }
}

/// Bring the cluster to `desired`: observe and check the references, plan with
/// `policy`, apply, wait for the rollouts.
pub async fn converge(
    ctx: &Ctx,
    desired: &Desired,
    references: &References,
    policy: &Policy,
) -> Result<Outcome, ReconcileError> {
    let started = Instant::now();
    let aws = AwsTime::default();
    // Boxed: see `jobs::run_job`.
    let converged =
        aws.scope(Box::pin(converge_timed(ctx, desired, references, policy, started))).await.map(|mut o| {
            o.result["timings_ms"]["aws"] = json!(aws.elapsed().as_millis());
            o
        });
    metrics::histogram!("bosun_reconcile_duration_seconds").record(started.elapsed().as_secs_f64());
    converged
}

async fn converge_timed(
    ctx: &Ctx,
    desired: &Desired,
    references: &References,
    policy: &Policy,
    started: Instant,
) -> Result<Outcome, ReconcileError> {
    let live = |doing: LiveOp| move |source| ReconcileError::Live { doing, cluster: desired.cluster.clone(), source };
    // The cluster's own account and region: its references are checked where it lives.
    let clients = clients(ctx, desired).await?;
    let observed = match bosun_aws::observe_checked(&clients, desired, references).await {
        Ok(observed) => observed,
        Err(PreflightError::Missing(diags)) => {
            info!(missing = diags.len(), "the stackfile names what does not exist: nothing is applied");
            return Ok(missing_references(&diags));
        }
        Err(PreflightError::Check(source)) => return Err(live(LiveOp::CheckReferences)(source)),
        Err(PreflightError::Observe(source)) => return Err(live(LiveOp::Observe)(source)),
    };
    let plan = bosun_plan::plan(desired, &observed, policy);
    let planned = started.elapsed();
    let changes = change_lines(&plan);
    let summary = plan.summary_line();
    let mut result = json!({
        "plan": {
            "hash": plan.hash,
            "summary": plan.summary(),
            "changes": changes,
            "orphans": plan.orphans.iter().map(|o| o.resource.to_string()).collect::<Vec<_>>(),
        },
        "timings_ms": { "plan": planned.as_millis() },
    });
    if !plan.conflicts.is_empty() {
        let reasons: Vec<String> = plan.conflicts.iter().map(|c| format!("{}: {}", c.resource, c.reason)).collect();
        result["conflicts"] = json!(reasons);
        let error = format!(
            "{} conflict(s) with resources bosun does not own; nothing was changed: {}",
            reasons.len(),
            reasons[0]
        );
        return Ok(Outcome { status: JobStatus::Failed, summary: error.clone(), error: Some(error), changes, result });
    }
    if plan.is_empty() {
        // Nothing to change, but an interrupted attempt (a crash, a hand-back at
        // shutdown) may have left rollouts running: their outcome is this job's.
        let rollouts = resume_rollouts(ctx, desired).await?;
        result["timings_ms"]["total"] = json!(started.elapsed().as_millis());
        return Ok(rollout_outcome(rollouts, summary, changes, result));
    }

    info!(changes = plan.changes.len(), hash = plan.short_hash(), "applying");
    let opts = ApplyOptions {
        wait: true,
        timeout: ctx.config.rollout_timeout,
        poll_interval: ctx.config.poll_interval,
        concurrency: ctx.config.apply_concurrency,
    };
    let progress = Recorder::default();
    let applied = bosun_aws::apply(&clients, desired, &observed, &plan, &opts, &progress).await;
    result["resources"] = json!(progress.into_results());
    result["timings_ms"]["apply"] = json!((started.elapsed() - planned).as_millis());
    result["timings_ms"]["total"] = json!(started.elapsed().as_millis());

    match applied {
        Ok(report) => Ok(rollout_outcome(report.rollouts, summary, changes, result)),
        Err(e) => apply_stopped(e, changes, result),
    }
}

/// An apply that stopped: an error to retry when observing and planning again can get
/// past it, otherwise the outcome (failed, or rolled back).
#[allow(clippy::result_large_err, reason = "one error per reconcile at most; its AwsError is what makes it large")]
fn apply_stopped(e: ApplyError, changes: Vec<String>, mut result: Value) -> Result<Outcome, ReconcileError> {
    let status = match &e.failure {
        ApplyFailure::Aws(aws) if aws.is_retryable() => return Err(ReconcileError::ApplyStopped { source: e }),
        // The live state changed under the plan: observing again fixes it.
        ApplyFailure::MissingPrerequisite { .. } => return Err(ReconcileError::ApplyStopped { source: e }),
        ApplyFailure::Rollout { service, outcome } => {
            result["rollouts"] = json!({ service: outcome });
            match outcome {
                RolloutOutcome::RolledBack { .. } => JobStatus::RolledBack,
                _ => JobStatus::Failed,
            }
        }
        ApplyFailure::Aws(_) | ApplyFailure::Hook { .. } | ApplyFailure::Conflict { .. } | ApplyFailure::Request(_) => {
            JobStatus::Failed
        }
    };
    let message = format!("{e}: {}", e.failure);
    let error = format!("{message} ({})", half_done(&e.completed));
    result["completed"] = json!(e.completed);
    Ok(Outcome { status, error: Some(error), summary: message, changes, result })
}

/// The outcome of a reconcile whose rollouts ended as `rollouts`.
fn rollout_outcome(
    rollouts: BTreeMap<String, RolloutOutcome>,
    summary: String,
    changes: Vec<String>,
    mut result: Value,
) -> Outcome {
    let rolled_back: Vec<String> = failed_rollouts(&rollouts, true);
    let failed: Vec<String> = failed_rollouts(&rollouts, false);
    result["rollouts"] = json!(rollouts);
    let (status, error) = if !rolled_back.is_empty() {
        (JobStatus::RolledBack, Some(rolled_back.join("; ")))
    } else if !failed.is_empty() {
        (JobStatus::Failed, Some(failed.join("; ")))
    } else {
        (JobStatus::Succeeded, None)
    };
    let summary = match &error {
        Some(e) => e.clone(),
        None => summary,
    };
    Outcome { status, error, summary, changes, result }
}

/// Wait for the rollouts of the stackfile's services that are still in progress.
async fn resume_rollouts(ctx: &Ctx, desired: &Desired) -> Result<BTreeMap<String, RolloutOutcome>, ReconcileError> {
    let clients = clients(ctx, desired).await?;
    let live = bosun_aws::live::live_services(&clients, &desired.cluster).await.map_err(|source| {
        ReconcileError::Live { doing: LiveOp::ReadRollouts, cluster: desired.cluster.clone(), source }
    })?;
    let watches: Vec<Watch> = desired
        .services
        .values()
        .filter_map(|svc| {
            let l = live.get(&svc.name).filter(|l| l.rollout_state.as_deref() == Some("IN_PROGRESS"))?;
            Some(Watch {
                service: svc.name.clone(),
                deployment_id: l.deployment_id.clone()?,
                task_definition: l.task_definition_arn.clone(),
                timeout: ctx.config.rollout_timeout.unwrap_or(svc.deployment.wait_timeout),
            })
        })
        .collect();
    if watches.is_empty() {
        return Ok(BTreeMap::new());
    }
    info!(rollouts = watches.len(), "waiting for rollouts an earlier attempt started");
    wait_rollouts(&clients, &desired.cluster, watches, ctx.config.poll_interval, Duration::ZERO, &Recorder::default())
        .await
        .map_err(|source| ReconcileError::Live {
            doing: LiveOp::FollowRollouts,
            cluster: desired.cluster.clone(),
            source,
        })
}

fn failed_rollouts(rollouts: &BTreeMap<String, RolloutOutcome>, rolled_back: bool) -> Vec<String> {
    rollouts
        .iter()
        .filter(|(_, o)| !o.is_success() && matches!(o, RolloutOutcome::RolledBack { .. }) == rolled_back)
        .map(|(s, o)| format!("service {s}: {o}"))
        .collect()
}

/// Per-change timings and rollout progress, as the job record shows them; progress
/// goes to the log as well.
#[derive(Default)]
struct Recorder {
    inner: Mutex<RecorderState>,
}

#[derive(Default)]
struct RecorderState {
    started: BTreeMap<String, Instant>,
    done: Vec<Value>,
}

impl Recorder {
    fn into_results(self) -> Vec<Value> {
        let state = self.inner.into_inner().expect("the recorder lock is never poisoned");
        let mut done = state.done;
        // Changes that started but did not finish: the apply stopped in them.
        for (change, _) in state.started {
            done.push(json!({ "change": change, "result": "not finished" }));
        }
        done
    }
}

impl Progress for Recorder {
    fn event(&self, event: ProgressEvent<'_>) {
        let mut state = self.inner.lock().expect("the recorder lock is never poisoned");
        match event {
            ProgressEvent::Started(change) => {
                let line = format!("{:?} {}", change.action, change.resource).to_lowercase();
                state.started.insert(line, Instant::now());
            }
            ProgressEvent::Done(change) => {
                let line = format!("{:?} {}", change.action, change.resource).to_lowercase();
                let ms = state.started.remove(&line).map(|t| t.elapsed().as_millis());
                info!(change = %line, "done");
                state.done.push(json!({ "change": line, "result": "done", "ms": ms }));
            }
            ProgressEvent::RolloutStarted { service } => {
                debug!(service, "rollout started");
            }
            ProgressEvent::Rollout { service, running, desired, state: rollout } => {
                debug!(service, running, desired, state = rollout, "rollout in progress");
            }
            ProgressEvent::ServiceEvent { service, message } => {
                debug!(service, message, "service event");
            }
            ProgressEvent::RolloutDone { service, outcome } => {
                info!(service, outcome = %outcome, "rollout ended");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    fn stale() -> StoreError {
        StoreError::PreconditionFailed
    }

    #[test]
    fn error_texts_are_the_ones_job_records_have_always_shown() {
        let cases: Vec<(ReconcileError, &str)> = vec![
            (ReconcileError::NoStackfile { cluster: "prod".into() }, "cluster prod has no stackfile"),
            (
                ReconcileError::NoSuchVersion { cluster: "prod".into(), version: "v9".into() },
                "cluster prod has no stackfile version v9",
            ),
            (
                ReconcileError::InvalidStackfile {
                    version: "v2".into(),
                    errors: 1,
                    first: Some(Location { line: 4, column: 1, path: String::new() }),
                },
                "stored stackfile version v2 is not valid (1 error(s); first at line 4, column 1)",
            ),
            (
                ReconcileError::InvalidStackfile {
                    version: "v2".into(),
                    errors: 3,
                    first: Some(Location { line: 2, column: 7, path: "services[0].web.image".into() }),
                },
                "stored stackfile version v2 is not valid (3 error(s); first at line 2, column 7 (services[0].web.image))",
            ),
            (
                ReconcileError::InvalidStackfile { version: "v2".into(), errors: 0, first: None },
                "stored stackfile version v2 is not valid (0 error(s))",
            ),
            (
                ReconcileError::store(StoreOp::ReadJobRecord)(stale()),
                "could not read the job record: the stored object changed or already exists",
            ),
            (
                ReconcileError::store(StoreOp::WriteJobRecord)(stale()),
                "could not write the job record: the stored object changed or already exists",
            ),
            (
                ReconcileError::store(StoreOp::ReadCurrentVersion)(stale()),
                "could not read the current stackfile version: the stored object changed or already exists",
            ),
            (
                ReconcileError::store(StoreOp::FindVersionJob)(stale()),
                "could not look up the current version's job: the stored object changed or already exists",
            ),
            (
                ReconcileError::store(StoreOp::ReadStackfile { version: "v3".into() })(stale()),
                "could not read stackfile version v3: the stored object changed or already exists",
            ),
            (ReconcileError::store(StoreOp::WriteDriftStatus)(stale()), "the stored object changed or already exists"),
            (
                ReconcileError::store(StoreOp::WriteDriftJobRecord)(stale()),
                "the stored object changed or already exists",
            ),
            (
                ReconcileError::ApplyStopped {
                    source: ApplyError {
                        failure: ApplyFailure::MissingPrerequisite { what: "target group demo-web-lb".into() },
                        completed: vec![],
                    },
                },
                "apply stopped before changing anything: target group demo-web-lb does not exist; run plan again (nothing was changed)",
            ),
            (
                ReconcileError::ApplyStopped {
                    source: ApplyError {
                        failure: ApplyFailure::MissingPrerequisite { what: "target group demo-web-lb".into() },
                        completed: vec!["create service web".into(), "update service api".into()],
                    },
                },
                "apply stopped part-way: target group demo-web-lb does not exist; run plan again \
                 (already changed: create service web, update service api)",
            ),
            (
                ReconcileError::Lease(LeaseError::Lost("prod".into())),
                "could not take the cluster lease: the lease on cluster prod was lost to another scheduler",
            ),
            (ReconcileError::LeaseLost, "the cluster lease was lost mid-reconcile"),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), text, "{err:?}");
        }
    }

    #[test]
    fn only_stackfile_errors_are_permanent() {
        assert!(ReconcileError::NoStackfile { cluster: "prod".into() }.is_permanent());
        assert!(ReconcileError::NoSuchVersion { cluster: "prod".into(), version: "v9".into() }.is_permanent());
        assert!(ReconcileError::InvalidStackfile { version: "v2".into(), errors: 1, first: None }.is_permanent());
        assert!(!ReconcileError::store(StoreOp::ReadStackfile { version: "v2".into() })(stale()).is_permanent());
        assert!(!ReconcileError::Lease(LeaseError::Lost("prod".into())).is_permanent());
        assert!(!ReconcileError::LeaseLost.is_permanent());
        let stopped = ApplyError { failure: ApplyFailure::MissingPrerequisite { what: "x".into() }, completed: vec![] };
        assert!(!ReconcileError::ApplyStopped { source: stopped }.is_permanent());
    }

    #[test]
    fn causes_are_kept_as_sources() {
        let err = ReconcileError::store(StoreOp::ReadJobRecord)(stale());
        assert!(err.source().and_then(|s| s.downcast_ref::<StoreError>()).is_some());
        let err = ReconcileError::Lease(LeaseError::Lost("prod".into()));
        assert!(err.source().and_then(|s| s.downcast_ref::<LeaseError>()).is_some());
        let stopped = ApplyError { failure: ApplyFailure::MissingPrerequisite { what: "x".into() }, completed: vec![] };
        let err = ReconcileError::ApplyStopped { source: stopped };
        assert!(err.source().and_then(|s| s.downcast_ref::<ApplyError>()).is_some());
    }
}
