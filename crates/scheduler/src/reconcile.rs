//! One reconcile of one cluster: load the stackfile version, observe, plan, apply and
//! wait for the rollouts, through the engine ([`bosun_aws`], [`bosun_plan`]).
//!
//! The result is an [`Outcome`] (the reconcile ran to its end: succeeded, rolled back
//! or failed) or a [`ReconcileError`] (it could not: S3 or AWS failed, the stored
//! stackfile is unreadable). Outcomes are recorded and the job is done; errors are
//! retried through the queue. Every run reads the stackfile and the live state anew, so
//! running one twice is always safe.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bosun_aws::progress::{Progress, ProgressEvent};
use bosun_aws::jobs::JobStatus;
use bosun_aws::rollout::{Watch, wait_rollouts};
use bosun_aws::{ApplyFailure, ApplyOptions, AwsTime, RolloutOutcome};
use bosun_plan::{Observed, Plan, Policy};
use bosun_stackfile::Desired;
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

/// Why a reconcile could not run to its end. It is retried.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ReconcileError {
    /// What went wrong.
    pub message: String,
    /// Whether a retry cannot help (an unreadable stored stackfile): retried at once,
    /// so that the job reaches the dead-letter queue quickly.
    pub permanent: bool,
}

impl ReconcileError {
    fn transient(message: impl Into<String>) -> Self {
        Self { message: message.into(), permanent: false }
    }

    fn permanent(message: impl Into<String>) -> Self {
        Self { message: message.into(), permanent: true }
    }
}

/// Read and validate a cluster's stackfile at `version`.
pub async fn load(ctx: &Ctx, cluster: &str, version: &str) -> Result<Desired, ReconcileError> {
    let stored = ctx
        .store
        .get_stackfile(cluster, Some(version))
        .await
        .map_err(|e| ReconcileError::transient(format!("could not read stackfile version {version}: {e}")))?
        .ok_or_else(|| {
            ReconcileError::permanent(format!("cluster {cluster} has no stackfile version {version}"))
        })?;
    bosun_stackfile::load(&stored.text, cluster).map_err(|diags| {
        // Locations only: a diagnostic's message may quote a value from the stackfile.
        let first = diags.0.first().map(|d| {
            let at = format!("; first at line {}, column {}", d.line, d.column);
            if d.path.is_empty() { at } else { format!("{at} ({})", d.path) }
        });
        ReconcileError::permanent(format!(
            "stored stackfile version {version} is not valid ({} error(s){})",
            diags.0.len(),
            first.unwrap_or_default()
        ))
    })
}

/// Observe the cluster and plan against `desired`.
pub async fn plan(ctx: &Ctx, desired: &Desired, policy: &Policy) -> Result<(Observed, Plan), ReconcileError> {
    let observed = bosun_aws::observe(&ctx.clients, desired).await.map_err(|e| {
        ReconcileError::transient(format!("could not read the live state of cluster {}: {e}", desired.cluster))
    })?;
    let plan = bosun_plan::plan(desired, &observed, policy);
    Ok((observed, plan))
}

/// `<action> <resource>` for each change.
pub fn change_lines(plan: &Plan) -> Vec<String> {
    plan.changes.iter().map(|c| format!("{:?} {}", c.action, c.resource).to_lowercase()).collect()
}

/// `2 to create, 1 to update`, or `no changes`.
pub fn summary_line(plan: &Plan) -> String {
    let s = plan.summary();
    let parts: Vec<String> = [
        (s.create, "to create"),
        (s.update, "to update"),
        (s.replace, "to replace"),
        (s.delete, "to delete"),
        (s.run, "hook(s) to run"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if parts.is_empty() { "no changes".to_owned() } else { parts.join(", ") }
}

/// Bring the cluster to `desired`: observe, plan with `policy`, apply, wait for the
/// rollouts.
pub async fn converge(ctx: &Ctx, desired: &Desired, policy: &Policy) -> Result<Outcome, ReconcileError> {
    let started = Instant::now();
    let aws = AwsTime::default();
    aws.scope(converge_timed(ctx, desired, policy, started)).await.map(|mut o| {
        o.result["timings_ms"]["aws"] = json!(aws.elapsed().as_millis());
        o
    })
}

async fn converge_timed(
    ctx: &Ctx,
    desired: &Desired,
    policy: &Policy,
    started: Instant,
) -> Result<Outcome, ReconcileError> {
    let (observed, plan) = plan(ctx, desired, policy).await?;
    let planned = started.elapsed();
    let changes = change_lines(&plan);
    let summary = summary_line(&plan);
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
    let applied = bosun_aws::apply(&ctx.clients, desired, &observed, &plan, &opts, &progress).await;
    result["resources"] = json!(progress.into_results());
    result["timings_ms"]["apply"] = json!((started.elapsed() - planned).as_millis());
    result["timings_ms"]["total"] = json!(started.elapsed().as_millis());

    let report = match applied {
        Ok(report) => report,
        Err(e) => {
            let message = format!("{e}: {}", e.failure);
            let half_done = if e.completed.is_empty() {
                "nothing was changed".to_owned()
            } else {
                format!("already changed: {}", e.completed.join(", "))
            };
            result["completed"] = json!(e.completed);
            let status = match &e.failure {
                ApplyFailure::Aws(aws) if aws.is_retryable() => {
                    return Err(ReconcileError::transient(format!("{message} ({half_done})")));
                }
                // The live state changed under the plan: observing again fixes it.
                ApplyFailure::MissingPrerequisite { .. } => {
                    return Err(ReconcileError::transient(format!("{message} ({half_done})")));
                }
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
            return Ok(Outcome { status, error: Some(format!("{message} ({half_done})")), summary: message, changes, result });
        }
    };
    Ok(rollout_outcome(report.rollouts, summary, changes, result))
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
    let live = bosun_aws::live::live_services(&ctx.clients, &desired.cluster).await.map_err(|e| {
        ReconcileError::transient(format!("could not read the rollouts of cluster {}: {e}", desired.cluster))
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
    wait_rollouts(&ctx.clients, &desired.cluster, watches, ctx.config.poll_interval, Duration::ZERO, &Recorder::default())
        .await
        .map_err(|e| ReconcileError::transient(format!("could not follow the rollouts of cluster {}: {e}", desired.cluster)))
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
