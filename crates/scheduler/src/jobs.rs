//! Consuming jobs: long-poll the queue, and run each job under the cluster's lease with
//! a heartbeat, recording every stage in the job record.
//!
//! A job's life, for one receive of its message:
//! 1. A record that is already final means the message is a duplicate (the last
//!    holder recorded the outcome but died before deleting it): delete it.
//! 2. Take this process's lock of the cluster, then the cluster's lease in S3. The
//!    message's visibility is extended on every heartbeat meanwhile.
//! 3. A job for a stackfile version older than the current one is *superseded* when a
//!    job for the current version has run or will run; otherwise it applies the
//!    current version, so an older stackfile is never applied after a newer one.
//! 4. Record `running`, reconcile, record the outcome and the cluster status, announce
//!    it, and only then delete the message.
//!
//! A reconcile that cannot run to its end (S3 or AWS failing, an unreadable stored
//! stackfile) is retried through the queue with backoff: the message is made visible
//! again after a delay. On the queue's last allowed receive the record says `failed`
//! with the reason before the message goes to the dead-letter queue.

use std::sync::Arc;
use std::time::Duration;

use bosun_aws::backoff;
use bosun_aws::jobs::{JobMessage, JobRecord, JobStatus, now_rfc3339};
use bosun_aws::lease::{Lease, LeaseError};
use bosun_aws::queue::{MAX_RECEIVE_COUNT, Received};
use bosun_plan::Policy;
use bosun_stackfile::{Desired, Notifications};
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument as _, debug, error, info, info_span, warn};

use crate::Ctx;
use crate::heartbeat::{Beat, Interrupted, heartbeat};
use crate::notify::{Event, EventKind};
use crate::reconcile::{self, Outcome, ReconcileError, StoreOp};
use crate::status::{ClusterStatus, LastJob, Location};

/// Receive jobs while there are free slots, until `stop`.
pub(crate) async fn receive_loop(
    ctx: Arc<Ctx>,
    slots: Arc<Semaphore>,
    tracker: TaskTracker,
    stop: CancellationToken,
    abort: CancellationToken,
) {
    // Failed receives in a row, for the backoff.
    let mut failures: u32 = 0;
    loop {
        let first = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            () = stop.cancelled() => break,
        };
        let mut permits = vec![first];
        while permits.len() < 10 {
            match slots.clone().try_acquire_owned() {
                Ok(p) => permits.push(p),
                Err(_) => break,
            }
        }
        let max = i32::try_from(permits.len()).unwrap_or(10);
        // Not cancelled on shutdown: a poll cut short could lose the messages SQS
        // handed out to it until their visibility times out.
        match ctx.queue.receive(max, ctx.config.receive_wait, ctx.config.visibility).await {
            Ok(messages) => {
                failures = 0;
                if stop.is_cancelled() {
                    for m in &messages {
                        info!(message_id = %m.message_id, "shutting down: handing a just-received job back");
                        let _ = ctx.queue.set_visibility(&m.receipt, Duration::ZERO).await;
                    }
                    break;
                }
                for m in messages {
                    let permit = permits.pop().expect("no more messages than permits");
                    tracker.spawn(handle(ctx.clone(), m, permit, abort.clone()));
                }
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                let backoff = receive_backoff(failures, rand::random());
                warn!(error = %e, retry_in = ?backoff, "could not receive jobs");
                drop(permits);
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stop.cancelled() => break,
                }
            }
        }
    }
    debug!("receiver stopped");
}

/// The wait after the `failures`-th failed receive in a row: 0.5 s doubling to 30 s,
/// with `jitter` in `[0, 1)`.
fn receive_backoff(failures: u32, jitter: f64) -> Duration {
    backoff::jittered(backoff::exponential(Duration::from_millis(500), failures, Duration::from_secs(30)), jitter)
}

async fn handle(ctx: Arc<Ctx>, msg: Received, _permit: OwnedSemaphorePermit, abort: CancellationToken) {
    let job: JobMessage = match serde_json::from_str(&msg.body) {
        Ok(job) => job,
        Err(e) => {
            error!(message_id = %msg.message_id, receive_count = msg.receive_count, error = %e,
                "not a bosun job message; it goes to the dead-letter queue after the queue's last receive");
            let _ = ctx.queue.set_visibility(&msg.receipt, Duration::ZERO).await;
            return;
        }
    };
    let span = info_span!("job", job_id = %job.job_id, cluster = %job.cluster, reason = %job.reason, attempt = msg.receive_count);
    run_job(&ctx, &job, &msg, &abort).instrument(span).await;
}

/// Run `work`, extending the message's visibility and renewing the lease (when given)
/// on every heartbeat.
pub(crate) async fn beating<F: Future>(
    ctx: &Ctx,
    receipt: Option<&str>,
    lease: Option<&mut Lease>,
    abort: &CancellationToken,
    work: F,
) -> Result<F::Output, Interrupted> {
    heartbeat(ctx.config.heartbeat, abort, work, &mut Renewal { ctx, receipt, lease }).await
}

/// A job's heartbeat: extend its message's visibility, renew the cluster lease.
struct Renewal<'a> {
    ctx: &'a Ctx,
    /// The message to keep hidden; `None` for a drift check, which has none.
    receipt: Option<&'a str>,
    /// The lease to renew; `None` while the lease is still being taken.
    lease: Option<&'a mut Lease>,
}

impl Beat for Renewal<'_> {
    async fn beat(&mut self) -> bool {
        let ctx = self.ctx;
        if let Some(receipt) = self.receipt
            && let Err(e) = ctx.queue.set_visibility(receipt, ctx.config.visibility).await
        {
            warn!(error = %e, "could not extend the job's visibility");
        }
        let Some(lease) = self.lease.as_deref_mut() else { return true };
        match ctx.store.renew_lease(lease).await {
            Ok(()) => true,
            Err(LeaseError::Lost(_)) => {
                error!("the cluster lease was taken over by another scheduler; stopping this reconcile");
                false
            }
            Err(e) => {
                warn!(error = %e, "could not renew the cluster lease; retrying on the next heartbeat");
                true
            }
        }
    }
}

/// Take the cluster's lease, waiting while another scheduler holds it.
pub(crate) async fn acquire(ctx: &Ctx, cluster: &str, purpose: &str) -> Result<Lease, LeaseError> {
    loop {
        match ctx.store.acquire_lease(cluster, &ctx.holder, purpose, ctx.config.visibility).await {
            Ok(lease) => return Ok(lease),
            Err(e @ LeaseError::Held { .. }) => {
                debug!(reason = %e, "waiting for the cluster lease");
                tokio::time::sleep(ctx.config.poll_interval.min(Duration::from_secs(5))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// What an attempt came to.
enum Done {
    /// The reconcile ran to an end and is recorded.
    Finished,
    /// A newer job covers the cluster; recorded as superseded.
    Superseded,
}

async fn run_job(ctx: &Ctx, job: &JobMessage, msg: &Received, abort: &CancellationToken) {
    let mut record = match ctx.store.get_job(&job.job_id).await {
        Ok(Some(record)) => record,
        // The API writes the record before it sends; a missing one is recreated.
        Ok(None) => JobRecord::queued(job.clone()),
        Err(e) => {
            let err = ReconcileError::Store { doing: StoreOp::ReadJobRecord, source: e };
            attempt_failed(ctx, msg, job, None, &err, &Notifications::default()).await;
            return;
        }
    };
    if record.status.is_final() {
        info!(status = ?record.status, "the job is already finished; deleting its duplicate message");
        delete(ctx, msg).await;
        return;
    }

    let local = ctx.lock(&job.cluster);
    let Ok(_local) = beating(ctx, Some(&msg.receipt), None, abort, local.lock_owned()).await else {
        hand_back(ctx, msg, &mut record, None).await;
        return;
    };
    let mut lease = match beating(ctx, Some(&msg.receipt), None, abort, acquire(ctx, &job.cluster, &job.job_id)).await {
        Ok(Ok(lease)) => lease,
        Ok(Err(e)) => {
            let err = ReconcileError::Lease(e);
            attempt_failed(ctx, msg, job, Some(&mut record), &err, &Notifications::default()).await;
            return;
        }
        Err(_) => {
            hand_back(ctx, msg, &mut record, None).await;
            return;
        }
    };

    // Boxed, as converge's work is: the nested futures of a reconcile are large, and
    // a debug build's poll frames of them came close to a worker thread's 2 MiB stack.
    let work = Box::pin(attempt(ctx, job, msg, &mut record));
    let attempt = beating(ctx, Some(&msg.receipt), Some(&mut lease), abort, work).await;
    match attempt {
        Ok(Ok(done)) => {
            delete(ctx, msg).await;
            release(ctx, lease).await;
            if matches!(done, Done::Finished) {
                info!(status = ?record.status, "job finished");
            }
        }
        Ok(Err((err, sinks))) => {
            attempt_failed(ctx, msg, job, Some(&mut record), &err, &sinks).await;
            release(ctx, lease).await;
        }
        Err(Interrupted::Aborted) => hand_back(ctx, msg, &mut record, Some(lease)).await,
        Err(Interrupted::LeaseLost) => {
            // Whoever holds the lease now reconciles the cluster; this message comes
            // back after its visibility timeout and is handled again from the start.
            let err = ReconcileError::LeaseLost;
            attempt_failed(ctx, msg, job, Some(&mut record), &err, &Notifications::default()).await;
        }
    }
}

/// One attempt, under the lease.
async fn attempt(
    ctx: &Ctx,
    job: &JobMessage,
    msg: &Received,
    record: &mut JobRecord,
) -> Result<Done, (ReconcileError, Notifications)> {
    let no_sinks = Notifications::default;
    let current = ctx
        .store
        .current_version(&job.cluster)
        .await
        .map_err(|e| (ReconcileError::Store { doing: StoreOp::ReadCurrentVersion, source: e.into() }, no_sinks()))?
        .ok_or_else(|| (ReconcileError::NoStackfile { cluster: job.cluster.clone() }, no_sinks()))?;

    let version = if current == job.stackfile_version {
        current
    } else if let Some(newer) = newer_job(ctx, &job.cluster, &current).await.map_err(|e| (e, no_sinks()))? {
        info!(superseded_by = %newer, "a job for the current stackfile version covers this one");
        record.status = JobStatus::Superseded;
        record.finished_at = Some(now_rfc3339());
        record.updated_at = now_rfc3339();
        record.error = None;
        record.result = Some(json!({ "superseded_by": newer, "current_version": current }));
        put_final_record(ctx, record).await.map_err(|e| (e, no_sinks()))?;
        return Ok(Done::Superseded);
    } else {
        info!(current = %current, "the job's stackfile version is stale and no job covers the current one: applying the current version");
        current
    };

    record.status = JobStatus::Running;
    record.attempts = record.attempts.max(msg.receive_count.saturating_sub(1)) + 1;
    record.started_at = Some(now_rfc3339());
    record.finished_at = None;
    record.scheduler = Some(ctx.holder.clone());
    record.error = None;
    record.updated_at = now_rfc3339();
    put_record(ctx, record).await.map_err(|e| (e, no_sinks()))?;

    let (desired, references) = reconcile::load(ctx, &job.cluster, &version).await.map_err(|e| (e, no_sinks()))?;
    if record.attempts == 1 {
        ctx.notifier.send(
            event(record, EventKind::Started, "reconcile started".into(), vec![], &version),
            &desired.notifications,
        );
    }
    let mut policy = Policy::from_desired(&desired);
    policy.prune_services = job.delete_services.iter().cloned().collect();
    if let Some(approved) = job.plan_hash.as_deref().filter(|_| !record.plan_checked) {
        let (_, plan) =
            reconcile::plan(ctx, &desired, &policy).await.map_err(|e| (e, desired.notifications.clone()))?;
        if let Some(refused) = reconcile::refuse_unapproved(&plan, approved) {
            warn!(approved, planned = plan.short_hash(), "the plan is not the approved one: nothing is applied");
            record_outcome(ctx, record, refused, &version, &desired)
                .await
                .map_err(|e| (e, desired.notifications.clone()))?;
            return Ok(Done::Finished);
        }
        // Kept before applying: a later attempt continues this plan, whose remainder
        // hashes differently.
        record.plan_checked = true;
        put_record(ctx, record).await.map_err(|e| (e, no_sinks()))?;
    }
    info!(version = %version, "reconciling");
    let outcome = reconcile::converge(ctx, &desired, &references, &policy)
        .await
        .map_err(|e| (e, desired.notifications.clone()))?;
    record_outcome(ctx, record, outcome, &version, &desired).await.map_err(|e| (e, desired.notifications.clone()))?;
    Ok(Done::Finished)
}

/// The job for `version` that has run or will run, if there is one.
async fn newer_job(ctx: &Ctx, cluster: &str, version: &str) -> Result<Option<String>, ReconcileError> {
    let Some(id) =
        ctx.store.version_job(cluster, version).await.map_err(ReconcileError::store(StoreOp::FindVersionJob))?
    else {
        return Ok(None);
    };
    let record = ctx.store.get_job(&id).await.map_err(ReconcileError::store(StoreOp::FindVersionJob))?;
    Ok(record.filter(JobRecord::ran_or_will_run).map(|_| id))
}

/// Record a finished reconcile: the job record, the cluster status, the announcement.
pub(crate) async fn record_outcome(
    ctx: &Ctx,
    record: &mut JobRecord,
    outcome: Outcome,
    version: &str,
    desired: &Desired,
) -> Result<(), ReconcileError> {
    let sinks = &desired.notifications;
    let Outcome { status, error, summary, changes, mut result } = outcome;
    result["stackfile_version"] = json!(version);
    result["summary"] = json!(summary);
    record.status = status;
    record.error = error;
    record.finished_at = Some(now_rfc3339());
    record.updated_at = now_rfc3339();
    record.result = Some(result);

    // The status first: a client that sees the job final also sees the status.
    let mut status_doc = ClusterStatus::load(&ctx.store, &record.job.cluster).await;
    status_doc.last_job = Some(LastJob::from_record(record, &summary, version));
    status_doc.location = Some(Location::of(&desired.aws, ctx.clients.region.as_deref()));
    // A job that converged the cluster ends a drift, except the drift job itself,
    // whose drift stays on record as healed.
    if status == JobStatus::Succeeded && record.job.reason != "drift" {
        status_doc.drift = None;
    }
    if let Err(e) = durably("the cluster status", || status_doc.clone().save(&ctx.store)).await {
        warn!(error = %e, "could not write the cluster status");
    }
    put_final_record(ctx, record).await?;
    metrics::counter!("bosun_jobs_total", "status" => format!("{status:?}").to_lowercase()).increment(1);
    let kind = match status {
        JobStatus::Succeeded => EventKind::Succeeded,
        JobStatus::RolledBack => EventKind::RolledBack,
        _ => EventKind::Failed,
    };
    ctx.notifier.send(event(record, kind, summary, changes, version), sinks);
    Ok(())
}

fn event(record: &JobRecord, kind: EventKind, summary: String, changes: Vec<String>, version: &str) -> Event {
    Event {
        event: kind,
        cluster: record.job.cluster.clone(),
        job_id: Some(record.job.job_id.clone()),
        reason: Some(record.job.reason.clone()),
        requested_by: Some(record.job.requested_by.clone()),
        stackfile_version: Some(version.to_owned()),
        summary,
        changes,
        time: now_rfc3339(),
    }
}

async fn put_record(ctx: &Ctx, record: &JobRecord) -> Result<(), ReconcileError> {
    ctx.store.put_job(record).await.map_err(ReconcileError::s3(StoreOp::WriteJobRecord))
}

/// Write a final job record, retrying (see [`durably`]): a job whose outcome is known
/// should not run again because one S3 call failed.
async fn put_final_record(ctx: &Ctx, record: &JobRecord) -> Result<(), ReconcileError> {
    durably("the job record", || ctx.store.put_job(record)).await.map_err(ReconcileError::s3(StoreOp::WriteJobRecord))
}

/// Attempts of a write that must not be lost to one failed S3 call (a final job record,
/// the cluster status), each itself retried by the SDK (5 attempts with backoff, about
/// 7 s when every one fails).
const DURABLE_ATTEMPTS: u32 = 4;

/// Run `op` until it succeeds, up to [`DURABLE_ATTEMPTS`] times, waiting 0.5, 1, 2 s
/// (jittered over the upper half of each) in between: 3.5 s of waiting at most, beside
/// the SDK's own retries. Callers run it under a heartbeat, which keeps the job's
/// message hidden meanwhile.
pub(crate) async fn durably<T, E, F>(what: &str, mut op: impl FnMut() -> F) -> Result<T, E>
where
    E: std::fmt::Display,
    F: Future<Output = Result<T, E>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(e) if attempt < DURABLE_ATTEMPTS => {
                let wait = durable_wait(attempt, rand::random());
                warn!(error = %e, attempt, retry_in = ?wait, "could not write {what}; retrying");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The wait after the `attempt`-th failed durable write: 0.5 s doubling, with `jitter`.
fn durable_wait(attempt: u32, jitter: f64) -> Duration {
    backoff::jittered(backoff::exponential(Duration::from_millis(500), attempt, Duration::from_secs(2)), jitter)
}

/// The attempt could not run to its end: retry later through the queue, or, on the
/// last attempt the queue allows, record `failed` and let the message go to the
/// dead-letter queue.
async fn attempt_failed(
    ctx: &Ctx,
    msg: &Received,
    job: &JobMessage,
    record: Option<&mut JobRecord>,
    err: &ReconcileError,
    sinks: &Notifications,
) {
    let limit = ctx.max_receive.unwrap_or(MAX_RECEIVE_COUNT);
    let n = msg.receive_count;
    let delay = match error_policy(err, n, limit, ctx.config.visibility, rand::random()) {
        Action::Retry(delay) => delay,
        Action::GiveUp => {
            // The message stays hidden while the outcome is written, which may take a
            // few retries; a shutdown does not cut that short (it is bounded). Boxed:
            // the rare path's retrying S3 calls would otherwise make every job's
            // future (and its stack frames) tens of kilobytes larger.
            let work = Box::pin(give_up(ctx, msg, job, record, err, sinks));
            let _ = beating(ctx, Some(&msg.receipt), None, &CancellationToken::new(), work).await;
            return;
        }
    };
    warn!(attempt = n, of = limit, retry_in = ?delay, error = %err, "attempt failed; the job will be retried");
    metrics::counter!("bosun_job_retries_total").increment(1);
    // When it was the record that could not be written, another write now would most
    // likely fail too, after the SDK's retries: only delay the retry.
    let record_failed = matches!(err, ReconcileError::Store { doing: StoreOp::WriteJobRecord, .. });
    if let Some(record) = record.filter(|_| !record_failed) {
        record.status = JobStatus::Queued;
        record.error = Some(format!("attempt {n} of {limit} failed: {err}; retrying in {}s", delay.as_secs()));
        record.updated_at = now_rfc3339();
        let _ = put_record(ctx, record).await;
    }
    let _ = ctx.queue.set_visibility(&msg.receipt, delay).await;
}

/// The last attempt the queue allows failed: record `failed` and announce it, then let
/// the message go to the dead-letter queue (or delete it, when there is none).
///
/// The record must say `failed` before the message leaves: a job stuck `queued` whose
/// message is dead would never end. So the record is read again when the attempt could
/// not read it, and the writes are retried ([`durably`]). Should S3 refuse all of that,
/// the dead-letter sweep of the drift check records the job once S3 answers
/// ([`crate::dead_letters`]).
async fn give_up(
    ctx: &Ctx,
    msg: &Received,
    job: &JobMessage,
    record: Option<&mut JobRecord>,
    err: &ReconcileError,
    sinks: &Notifications,
) {
    let n = msg.receive_count;
    error!(attempts = n, error = %err, "giving up on the job: recording it failed");
    let mut reread = None;
    let record = match record {
        Some(record) => record,
        None => {
            let stored = durably("the job record", || ctx.store.get_job(&job.job_id)).await.ok().flatten();
            reread.insert(stored.unwrap_or_else(|| JobRecord::queued(job.clone())))
        }
    };
    if record.status.is_final() {
        // Another scheduler finished it meanwhile.
        return delete(ctx, msg).await;
    }
    let reason = format!("gave up after {n} attempt(s): {err}");
    match record_gave_up(ctx, record, reason, n).await {
        Ok(()) => {
            metrics::counter!("bosun_jobs_total", "status" => "failed").increment(1);
            let version = record.job.stackfile_version.clone();
            let summary = record.error.clone().unwrap_or_default();
            ctx.notifier.send(event(record, EventKind::Failed, summary, vec![], &version), sinks);
        }
        Err(e) => {
            error!(error = %e, "could not record the job failed; the drift check's dead-letter sweep records it once S3 answers");
        }
    }
    if ctx.max_receive.is_some() {
        // Visible at once: the queue's next receive moves it to the dead-letter queue.
        let _ = ctx.queue.set_visibility(&msg.receipt, Duration::ZERO).await;
    } else {
        delete(ctx, msg).await;
    }
}

/// Record a job that ended without an outcome as `failed` and `incomplete`, with the
/// cluster status first, both written [`durably`].
pub(crate) async fn record_gave_up(
    ctx: &Ctx,
    record: &mut JobRecord,
    reason: String,
    attempts: u32,
) -> Result<(), ReconcileError> {
    record.status = JobStatus::Failed;
    record.incomplete = true;
    record.error = Some(reason);
    record.finished_at = Some(now_rfc3339());
    record.updated_at = now_rfc3339();
    record.attempts = record.attempts.max(attempts);
    let mut status_doc = ClusterStatus::load(&ctx.store, &record.job.cluster).await;
    let version = record.job.stackfile_version.clone();
    let summary = record.error.clone().unwrap_or_default();
    status_doc.last_job = Some(LastJob::from_record(record, &summary, &version));
    if let Err(e) = durably("the cluster status", || status_doc.clone().save(&ctx.store)).await {
        warn!(error = %e, "could not write the cluster status");
    }
    put_final_record(ctx, record).await
}

/// What to do with a job's message after an attempt failed: [`error_policy`]'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Make the message visible again after this long (whole seconds, as SQS takes
    /// it): the queue then hands the job out again.
    Retry(Duration),
    /// Record the job `failed`: this was the last receive the queue allows.
    GiveUp,
}

/// What a failed attempt leads to (kube-runtime's `error_policy`). `attempt` is the
/// message's receive count and `limit` the queue's `maxReceiveCount`: the last allowed
/// receive gives up. Otherwise the job is retried after [`retry_delay`] (permanent
/// errors: at once) spread by `jitter` (in `[0, 1)`, `rand::random()`) over its upper
/// half. SQS visibility is whole seconds, so the base is taken in whole seconds and the
/// jittered delay rounded to the nearest second: it lies in `[base / 2, base]`, never
/// above `cap` (the visibility timeout), and grows with the attempt in expectation.
pub(crate) fn error_policy(err: &ReconcileError, attempt: u32, limit: u32, cap: Duration, jitter: f64) -> Action {
    if attempt >= limit {
        return Action::GiveUp;
    }
    let base = Duration::from_secs(retry_delay(attempt, err.is_permanent(), cap).as_secs());
    let jittered = backoff::jittered(base, jitter);
    Action::Retry(Duration::from_secs((jittered + Duration::from_millis(500)).as_secs()))
}

/// How long a failed attempt waits before the queue hands the job out again.
/// Permanent errors come back at once, so the job reaches the dead-letter queue
/// quickly; others back off 2, 4, 8, 16 s ... capped at `cap` (the visibility timeout).
fn retry_delay(attempt: u32, permanent: bool, cap: Duration) -> Duration {
    if permanent {
        return Duration::ZERO;
    }
    backoff::exponential(Duration::from_secs(2), attempt, cap)
}

/// Shutdown grace is over: put the job back in the queue for another scheduler.
async fn hand_back(ctx: &Ctx, msg: &Received, record: &mut JobRecord, lease: Option<Lease>) {
    warn!("handing the job back to the queue: this scheduler is shutting down");
    record.status = JobStatus::Queued;
    record.error =
        Some(format!("interrupted: scheduler {} shut down; the job was handed back to the queue", ctx.holder));
    record.updated_at = now_rfc3339();
    let _ = put_record(ctx, record).await;
    if let Some(lease) = lease {
        release(ctx, lease).await;
    }
    let _ = ctx.queue.set_visibility(&msg.receipt, Duration::ZERO).await;
}

async fn delete(ctx: &Ctx, msg: &Received) {
    if let Err(e) = ctx.queue.delete(&msg.receipt).await {
        // The message reappears; its record is final, so it is then deleted unread.
        warn!(error = %e, "could not delete the finished job's message");
    }
}

pub(crate) async fn release(ctx: &Ctx, lease: Lease) {
    if let Err(e) = ctx.store.release_lease(lease).await {
        debug!(error = %e, "could not release the cluster lease; it expires by itself");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_attempts_back_off_exponentially_up_to_the_visibility_timeout() {
        let cap = Duration::from_secs(60);
        let delays: Vec<u64> = (1..=7).map(|n| retry_delay(n, false, cap).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(retry_delay(3, true, cap), Duration::ZERO);
        assert_eq!(retry_delay(u32::MAX, false, cap), cap);
    }

    const CAP: Duration = Duration::from_secs(60);
    const LIMIT: u32 = 5;

    /// Jitter values from 0 to just under 1.
    fn jitters() -> impl Iterator<Item = f64> {
        (0..100).map(|i| f64::from(i) / 100.0).chain([0.999_999])
    }

    fn transient() -> ReconcileError {
        ReconcileError::LeaseLost
    }

    fn delay(action: Action) -> Duration {
        match action {
            Action::Retry(d) => d,
            Action::GiveUp => panic!("gave up"),
        }
    }

    #[test]
    fn the_last_receive_the_queue_allows_gives_up_whatever_the_error() {
        assert_eq!(error_policy(&transient(), LIMIT, LIMIT, CAP, 0.5), Action::GiveUp);
        assert_eq!(error_policy(&transient(), LIMIT + 3, LIMIT, CAP, 0.5), Action::GiveUp);
        let permanent = ReconcileError::NoStackfile { cluster: "prod".into() };
        assert_eq!(error_policy(&permanent, LIMIT, LIMIT, CAP, 0.5), Action::GiveUp);
        assert!(matches!(error_policy(&transient(), LIMIT - 1, LIMIT, CAP, 0.5), Action::Retry(_)));
    }

    #[test]
    fn permanent_errors_are_retried_at_once() {
        let permanent = ReconcileError::NoStackfile { cluster: "prod".into() };
        assert!(permanent.is_permanent());
        for attempt in 1..LIMIT {
            for jitter in jitters() {
                assert_eq!(error_policy(&permanent, attempt, LIMIT, CAP, jitter), Action::Retry(Duration::ZERO));
            }
        }
    }

    #[test]
    fn jittered_delays_are_whole_seconds_between_half_the_base_and_the_base() {
        for cap in [CAP, Duration::from_millis(2500), Duration::from_secs(7)] {
            for attempt in 1..=12 {
                let base = retry_delay(attempt, false, cap).as_secs();
                for jitter in jitters() {
                    let d = delay(error_policy(&transient(), attempt, u32::MAX, cap, jitter));
                    assert_eq!(d.subsec_nanos(), 0, "whole seconds: {d:?}");
                    assert!(d <= cap, "attempt {attempt}, jitter {jitter}: {d:?} over the cap {cap:?}");
                    assert!(
                        d.as_secs() <= base && 2 * d.as_secs() >= base,
                        "attempt {attempt}, jitter {jitter}: {d:?}, base {base} s"
                    );
                }
            }
        }
    }

    #[test]
    fn jitter_spreads_each_delay_over_the_upper_half_of_its_base() {
        // Attempt 4: base 16 s.
        let at = |jitter| delay(error_policy(&transient(), 4, LIMIT + 10, CAP, jitter)).as_secs();
        assert_eq!(at(0.0), 8);
        assert_eq!(at(0.5), 12);
        assert_eq!(at(0.999_999), 16);
        // Rounded to the nearest second: base 2 s gives 1 s or 2 s.
        let first = |jitter| delay(error_policy(&transient(), 1, LIMIT, CAP, jitter)).as_secs();
        assert_eq!((first(0.0), first(0.49), first(0.5), first(0.99)), (1, 1, 2, 2));
    }

    #[test]
    fn the_expected_delay_grows_with_the_attempt_up_to_the_cap() {
        let mean = |attempt| {
            let delays: Vec<f64> =
                jitters().map(|j| delay(error_policy(&transient(), attempt, u32::MAX, CAP, j)).as_secs_f64()).collect();
            delays.iter().sum::<f64>() / delays.len() as f64
        };
        let means: Vec<f64> = (1..=10).map(mean).collect();
        assert!(means.windows(2).all(|w| w[0] <= w[1]), "{means:?}");
        assert!(means[0] < means[4] && means[4] < means[9], "{means:?}");
        // About three quarters of the base, well under the cap at the cap.
        assert!((44.0..=46.0).contains(&means[9]), "{means:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_durable_write_is_tried_four_times_with_backoff_then_gives_its_error() {
        let start = tokio::time::Instant::now();
        let mut calls = 0;
        let failed: Result<(), &str> = durably("the record", || {
            calls += 1;
            async { Err("S3 is down") }
        })
        .await;
        assert_eq!((failed, calls), (Err("S3 is down"), 4));
        // 0.5, 1 and 2 s, each jittered over its upper half.
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(1750) && waited <= Duration::from_millis(3500), "{waited:?}");

        let mut calls = 0;
        let written = durably("the record", || {
            calls += 1;
            let n = calls;
            async move { if n < 3 { Err("503") } else { Ok(n) } }
        })
        .await;
        assert_eq!(written, Ok(3), "the third attempt went through");
    }

    #[test]
    fn durable_waits_double_from_half_a_second() {
        let ms = |attempt, jitter| durable_wait(attempt, jitter).as_millis();
        assert_eq!((ms(1, 0.999_999), ms(2, 0.999_999), ms(3, 0.999_999)), (499, 999, 1999));
        assert_eq!((ms(1, 0.0), ms(3, 0.0), ms(9, 0.0)), (250, 1000, 1000));
    }

    #[test]
    fn a_failing_receive_backs_off_from_half_a_second_to_thirty_with_jitter() {
        let ms = |failures, jitter| receive_backoff(failures, jitter).as_millis();
        assert_eq!((ms(1, 0.0), ms(1, 0.999_999)), (250, 499));
        assert_eq!((ms(2, 0.0), ms(3, 0.0), ms(4, 0.0)), (500, 1000, 2000));
        for failures in [7, 8, 50, u32::MAX] {
            assert_eq!(ms(failures, 0.0), 15_000);
            assert!(ms(failures, 0.999_999) <= 30_000);
        }
    }
}
