//! The drift check: every resync interval, plan each cluster against its current
//! stackfile. A plan that is not empty means live AWS drifted (someone changed it out
//! of band, or an earlier job never ran). Under `drift: heal` (the default) the
//! scheduler applies the plan as a job with reason `drift`; under `drift: report` it
//! only records the drift in the cluster status and announces it.
//!
//! Drift is not healed when the last reconcile of the current stackfile version rolled
//! back or failed: healing would redeploy what just failed, on every interval. It is
//! reported as `held` instead, until a new version or an explicit deploy.
//!
//! A job that failed *without an outcome* (`incomplete`: AWS or S3 kept failing until
//! the queue gave up, or its message reached the dead-letter queue) is different: its
//! version was never applied, and retrying can help. The check applies that version
//! as a job with reason `retry`, under `drift: report` too, so once the faults stop
//! the newest version is live within one interval. A job of the current version that
//! a drift or retry job applied in its place, and that is still not final, is recorded
//! `superseded` by it.
//!
//! While the cluster is locked (a freeze, see [`bosun_aws::locks`]), drift is reported
//! and not healed, whatever the stackfile's `drift:` says: the status's drift carries
//! the lock, and the announcement says who locked the cluster, until when and why. The
//! retry of a version whose job failed without an outcome waits for the unlock too: a
//! locked cluster gets no change the scheduler starts on its own. Jobs that were
//! queued before the lock was taken still run: the lock refuses new writes in the API,
//! it does not cancel what was accepted. The lock is read only when there is drift.
//!
//! Each check takes the cluster's lease (skipping clusters another scheduler is
//! working on), so a check never overlaps a job, on any replica.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bosun_aws::jobs::{JobMessage, JobRecord, JobStatus, now_rfc3339};
use bosun_aws::lease::LeaseError;
use bosun_aws::locks::Lock;
use bosun_plan::Policy;
use bosun_stackfile::Drift as DriftPolicy;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument as _, debug, info, info_span, warn};

use crate::Ctx;
use crate::dead_letters;
use crate::jobs::{beating, record_outcome, release};
use crate::notify::{Event, EventKind};
use crate::reconcile::{self, ReconcileError, StoreOp, change_lines};
use crate::status::{ClusterStatus, Drift, Location};

/// Check every cluster each `every`, until `stop`.
pub(crate) async fn resync_loop(
    ctx: Arc<Ctx>,
    every: Duration,
    slots: Arc<Semaphore>,
    tracker: TaskTracker,
    stop: CancellationToken,
    abort: CancellationToken,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        // First the jobs that died without an outcome, so that the checks below see
        // them failed and apply their versions again.
        if let Some(dead) = &ctx.dead_letters {
            tokio::select! {
                _ = dead_letters::sweep(&ctx, dead) => {}
                () = stop.cancelled() => return,
            }
        }
        let clusters = match ctx.store.list_clusters().await {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "drift check skipped: could not list the clusters");
                continue;
            }
        };
        debug!(clusters = clusters.len(), "drift check");
        for cluster in clusters {
            let permit = tokio::select! {
                p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
                () = stop.cancelled() => return,
            };
            let span = info_span!("resync", cluster = %cluster);
            tracker.spawn(check(ctx.clone(), cluster, permit, abort.clone()).instrument(span));
        }
    }
}

async fn check(ctx: Arc<Ctx>, cluster: String, _permit: OwnedSemaphorePermit, abort: CancellationToken) {
    let local = ctx.lock(&cluster);
    let Ok(_local) = local.try_lock_owned() else {
        debug!("a job is running on this cluster; skipping the drift check");
        return;
    };
    let mut lease = match ctx.store.acquire_lease(&cluster, &ctx.holder, "resync", ctx.config.visibility).await {
        Ok(lease) => lease,
        Err(LeaseError::Held { .. }) => {
            debug!("another scheduler is working on this cluster; skipping the drift check");
            return;
        }
        Err(e) => {
            warn!(error = %e, "drift check skipped: could not take the cluster lease");
            return;
        }
    };
    match beating(&ctx, None, Some(&mut lease), &abort, drift_check(&ctx, &cluster)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warn!(error = %e, "drift check failed"),
        Err(interrupted) => warn!(?interrupted, "drift check interrupted"),
    }
    release(&ctx, lease).await;
}

async fn drift_check(ctx: &Ctx, cluster: &str) -> Result<(), ReconcileError> {
    let Some(version) =
        ctx.store.current_version(cluster).await.map_err(ReconcileError::s3(StoreOp::ReadCurrentVersion))?
    else {
        return Ok(());
    };
    let (desired, references) = reconcile::load(ctx, cluster, &version).await?;
    let policy = Policy::from_desired(&desired);
    let (_, plan) = reconcile::plan(ctx, &desired, &policy).await?;
    let mut status = ClusterStatus::load(&ctx.store, cluster).await;
    status.drift_checked_at = Some(bosun_aws::jobs::now_rfc3339());
    status.location = Some(Location::of(&desired.aws, ctx.clients.region.as_deref()));
    if plan.is_empty() {
        if status.drift.take().is_some() {
            info!("no drift any more");
        }
        status.save(&ctx.store).await.map_err(ReconcileError::s3(StoreOp::WriteDriftStatus))?;
        return Ok(());
    }

    let changes = change_lines(&plan);
    let version_job = version_job(ctx, cluster, &version).await;
    let lock =
        ctx.store.get_lock(cluster, SystemTime::now()).await.map_err(ReconcileError::store(StoreOp::ReadLock))?;
    let (action, note) =
        decide(&status, version_job.as_ref(), &version, plan.conflicts.len(), desired.drift, lock.as_ref());
    metrics::counter!("bosun_drift_checks_total", "action" => action).increment(1);
    if action == "retried" {
        info!(
            changes = changes.len(),
            "the current stackfile version's job failed without an outcome: applying it again"
        );
        return fix(ctx, &desired, &references, &version, "retry", version_job, None).await;
    }
    let summary = format!("{} change(s) needed to match stackfile version {version}; {note}", changes.len());
    // Announce a drift once, not on every interval while it lasts.
    let known = status.drift.as_ref().is_some_and(|d| {
        d.stackfile_version == version
            && d.changes == changes
            && d.action == action
            && d.lock.is_some() == lock.is_some()
            && action != "healed"
    });
    info!(changes = changes.len(), action, "drift detected");
    if !known {
        ctx.notifier.send(
            Event {
                event: EventKind::DriftDetected,
                cluster: cluster.to_owned(),
                job_id: None,
                reason: Some("drift".into()),
                requested_by: None,
                stackfile_version: Some(version.clone()),
                summary,
                changes: changes.clone(),
                time: now_rfc3339(),
            },
            &desired.notifications,
        );
    }
    let drift = Drift {
        detected_at: now_rfc3339(),
        stackfile_version: version.clone(),
        action: action.to_owned(),
        changes,
        lock,
        job_id: None,
    };
    if action != "healed" {
        if !known {
            status.drift = Some(drift);
        }
        // Saved either way: `drift_checked_at` moved.
        status.save(&ctx.store).await.map_err(ReconcileError::s3(StoreOp::WriteDriftStatus))?;
        return Ok(());
    }
    fix(ctx, &desired, &references, &version, "drift", version_job, Some((status, drift))).await
}

/// What to do about a non-empty plan (with `conflicts`) for `version`: `held`,
/// `retried`, `reported` or `healed`, and the note the announcement ends with.
/// `version_job` is the record of the job the API queued for the version; `lock`, the
/// cluster's lock, turns a heal or a retry into a report.
fn decide(
    status: &ClusterStatus,
    version_job: Option<&JobRecord>,
    version: &str,
    conflicts: usize,
    policy: DriftPolicy,
    lock: Option<&Lock>,
) -> (&'static str, String) {
    let last = status.last_job.as_ref().filter(|j| j.stackfile_version == version);
    let held_by = last.filter(|j| matches!(j.status, JobStatus::RolledBack | JobStatus::Failed) && !j.incomplete);
    let incomplete = version_job.is_some_and(|r| r.status == JobStatus::Failed && r.incomplete)
        || last.is_some_and(|j| j.status == JobStatus::Failed && j.incomplete);
    if let Some(last) = held_by {
        let why =
            format!("not healed: the last reconcile of this version ({}) {}", last.job_id, status_word(last.status));
        ("held", why)
    } else if conflicts > 0 {
        ("held", format!("not healed: {conflicts} conflict(s) with resources bosun does not own"))
    } else if let Some(lock) = lock {
        ("reported", format!("reported only: the cluster is {}", lock.describe()))
    } else if incomplete {
        ("retried", "its job failed without an outcome; applying it again".to_owned())
    } else if policy == DriftPolicy::Report {
        ("reported", "reported only (drift: report)".to_owned())
    } else {
        ("healed", "healing now".to_owned())
    }
}

/// The record of the latest job queued for `version` (the API notes it), if it can be
/// read.
async fn version_job(ctx: &Ctx, cluster: &str, version: &str) -> Option<JobRecord> {
    let id = match ctx.store.version_job(cluster, version).await {
        Ok(id) => id?,
        Err(e) => {
            debug!(error = %e, "could not read the current version's job");
            return None;
        }
    };
    ctx.store.get_job(&id).await.unwrap_or_else(|e| {
        debug!(error = %e, "could not read the current version's job record");
        None
    })
}

/// Apply `version` as a job of its own with `reason`, recorded like any other, under
/// the lease the check holds. With a drift, the status says which job heals it. When
/// the job succeeds, the version's own job (`version_job`), if it is still not final,
/// is superseded by it.
async fn fix(
    ctx: &Ctx,
    desired: &bosun_stackfile::Desired,
    references: &bosun_stackfile::References,
    version: &str,
    reason: &str,
    version_job: Option<JobRecord>,
    drift: Option<(ClusterStatus, Drift)>,
) -> Result<(), ReconcileError> {
    let cluster = &desired.cluster;
    let mut record = JobRecord::queued(JobMessage::new(cluster, reason, "scheduler", version));
    record.status = JobStatus::Running;
    record.attempts = 1;
    record.started_at = Some(now_rfc3339());
    record.scheduler = Some(ctx.holder.clone());
    ctx.store.put_job(&record).await.map_err(ReconcileError::s3(StoreOp::WriteDriftJobRecord))?;
    if let Some((mut status, mut drift)) = drift {
        drift.job_id = Some(record.job.job_id.clone());
        status.drift = Some(drift);
        status.save(&ctx.store).await.map_err(ReconcileError::s3(StoreOp::WriteDriftStatus))?;
    }

    let outcome = match reconcile::converge(ctx, desired, references, &Policy::from_desired(desired)).await {
        Ok(outcome) => outcome,
        // No queue retries this job: the next interval checks again, and applies the
        // version again (the job is incomplete, not held).
        Err(e) => {
            record.incomplete = true;
            reconcile::Outcome {
                status: JobStatus::Failed,
                error: Some(e.to_string()),
                summary: e.to_string(),
                changes: vec![],
                result: serde_json::json!({}),
            }
        }
    };
    let succeeded = outcome.status == JobStatus::Succeeded;
    record_outcome(ctx, &mut record, outcome, version, desired).await?;
    if let Some(mut pending) = version_job.filter(|r| succeeded && !r.status.is_final()) {
        info!(job_id = %pending.job.job_id, by = %record.job.job_id, "the version's own job is superseded by the one that applied it");
        pending.status = JobStatus::Superseded;
        pending.finished_at = Some(now_rfc3339());
        pending.updated_at = now_rfc3339();
        pending.error = None;
        pending.result = Some(serde_json::json!({ "superseded_by": record.job.job_id, "current_version": version }));
        ctx.store.put_job(&pending).await.map_err(ReconcileError::s3(StoreOp::WriteDriftJobRecord))?;
    }
    Ok(())
}

fn status_word(status: JobStatus) -> &'static str {
    match status {
        JobStatus::RolledBack => "rolled back",
        JobStatus::Failed => "failed",
        _ => "did not succeed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::LastJob;

    fn job(version: &str, status: JobStatus, incomplete: bool) -> JobRecord {
        let mut record = JobRecord::queued(JobMessage::new("prod", "config_updated", "alice", version));
        record.status = status;
        record.incomplete = incomplete;
        record
    }

    fn status_after(record: &JobRecord) -> ClusterStatus {
        let last = LastJob::from_record(record, "summary", &record.job.stackfile_version);
        ClusterStatus {
            cluster: "prod".into(),
            last_job: Some(last),
            drift: None,
            drift_checked_at: None,
            location: None,
            updated_at: String::new(),
        }
    }

    fn action(status: &ClusterStatus, version_job: Option<&JobRecord>, policy: DriftPolicy) -> &'static str {
        decide(status, version_job, "v2", 0, policy, None).0
    }

    #[test]
    fn a_version_whose_reconcile_failed_or_rolled_back_is_held() {
        for outcome in [JobStatus::Failed, JobStatus::RolledBack] {
            let last = job("v2", outcome, false);
            let (action, note) = decide(&status_after(&last), Some(&last), "v2", 0, DriftPolicy::Heal, None);
            assert_eq!(action, "held");
            assert!(note.starts_with(&format!("not healed: the last reconcile of this version ({})", last.job.job_id)));
        }
    }

    #[test]
    fn a_version_whose_job_failed_without_an_outcome_is_applied_again_under_heal_and_report() {
        let gave_up = job("v2", JobStatus::Failed, true);
        for policy in [DriftPolicy::Heal, DriftPolicy::Report] {
            // Known from the status, from the version's job record, or from both.
            assert_eq!(action(&status_after(&gave_up), Some(&gave_up), policy), "retried");
            assert_eq!(action(&status_after(&gave_up), None, policy), "retried");
            let earlier = job("v1", JobStatus::Succeeded, false);
            assert_eq!(action(&status_after(&earlier), Some(&gave_up), policy), "retried");
        }
    }

    #[test]
    fn conflicts_hold_even_a_retry() {
        let gave_up = job("v2", JobStatus::Failed, true);
        let (action, note) = decide(&status_after(&gave_up), Some(&gave_up), "v2", 2, DriftPolicy::Heal, None);
        assert_eq!((action, note.as_str()), ("held", "not healed: 2 conflict(s) with resources bosun does not own"));
    }

    #[test]
    fn other_drift_follows_the_stackfile_s_policy() {
        let earlier = job("v1", JobStatus::Succeeded, false);
        // The version's job is still queued (retrying, or waiting its turn): drift.
        let queued = job("v2", JobStatus::Queued, false);
        assert_eq!(action(&status_after(&earlier), Some(&queued), DriftPolicy::Heal), "healed");
        assert_eq!(action(&status_after(&earlier), Some(&queued), DriftPolicy::Report), "reported");
        // An older version's failure holds nothing back.
        let old_failure = job("v1", JobStatus::Failed, false);
        assert_eq!(action(&status_after(&old_failure), None, DriftPolicy::Heal), "healed");
        assert_eq!(action(&ClusterStatus::default(), None, DriftPolicy::Report), "reported");
    }

    fn lock() -> Lock {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_750_000_000);
        Lock::new("prod", "alice", "release freeze", Duration::from_secs(3600), now, bosun_aws::locks::MIN_TTL).unwrap()
    }

    #[test]
    fn a_lock_turns_healing_and_retrying_into_a_report_that_names_it() {
        let earlier = status_after(&job("v1", JobStatus::Succeeded, false));
        let gave_up = job("v2", JobStatus::Failed, true);
        let lock = lock();
        for (policy, version_job) in
            [(DriftPolicy::Heal, None), (DriftPolicy::Report, None), (DriftPolicy::Heal, Some(&gave_up))]
        {
            let (action, note) = decide(&earlier, version_job, "v2", 0, policy, Some(&lock));
            assert_eq!(action, "reported", "{policy:?}");
            assert_eq!(
                note,
                "reported only: the cluster is locked by alice until 2025-06-15T16:06:40Z: release freeze"
            );
        }
        // A failed reconcile or a conflict holds as before: that reason comes first.
        let failed = job("v2", JobStatus::RolledBack, false);
        assert_eq!(decide(&status_after(&failed), None, "v2", 0, DriftPolicy::Heal, Some(&lock)).0, "held");
        assert_eq!(decide(&earlier, None, "v2", 1, DriftPolicy::Heal, Some(&lock)).0, "held");
    }
}
