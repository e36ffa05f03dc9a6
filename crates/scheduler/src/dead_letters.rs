//! The dead-letter queue: jobs the job queue gave up on after its `maxReceiveCount`
//! receives.
//!
//! A job's record must be final when its message gets there, and the scheduler writes
//! it so before it lets the message go (`jobs::give_up`). When that was not possible (S3
//! kept failing on the last attempt, the scheduler died during it, or the responses to
//! the last receives were lost on the way), the drift check's [`sweep`] records the job
//! `failed` and `incomplete` once S3 answers. [`redrive`] (`bosun jobs redrive`) moves
//! the jobs back to the job queue, reopening their records, so they run again.
//!
//! A FIFO queue hands out the messages of one group (a cluster) in order, and no more
//! of that group while some are in flight. So a sweep, which must hold what it reads
//! until it is done (or it would read the same messages again), sees the oldest dead
//! jobs of each cluster only, up to ten per cluster. The job of a cluster's current
//! stackfile version is also covered by the drift check itself, and a redrive moves
//! every job.

use std::time::Duration;

use bosun_aws::jobs::{JobMessage, JobRecord, JobStatus, now_rfc3339};
use bosun_aws::queue::{Queue, Received};
use bosun_aws::store::{Store, StoreError};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::Ctx;

/// How long a sweep or a redrive keeps the messages it read hidden: long enough for
/// its S3 and SQS calls.
const HOLD: Duration = Duration::from_secs(60);
/// Receives of one sweep, ten messages each at most.
const SWEEP_RECEIVES: usize = 10;
/// How often the queues' depths are read into the metrics.
const DEPTH_EVERY: Duration = Duration::from_secs(30);

/// Record every job in the dead-letter queue (that the sweep can see) whose record is
/// not final, as `failed` and `incomplete`. Returns how many it recorded. Failures are
/// logged: the next drift check sweeps again.
pub(crate) async fn sweep(ctx: &Ctx, dead: &Queue) -> usize {
    let mut held: Vec<Received> = Vec::new();
    let mut recorded = 0;
    for _ in 0..SWEEP_RECEIVES {
        let messages = match dead.receive(10, Duration::from_secs(1), HOLD).await {
            Ok(m) if m.is_empty() => break,
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, "dead-letter sweep: could not read the dead-letter queue");
                break;
            }
        };
        for m in messages {
            if let Ok(job) = serde_json::from_str::<JobMessage>(&m.body) {
                match record_dead(&ctx.store, &job).await {
                    Ok(true) => recorded += 1,
                    Ok(false) => {}
                    Err(e) => warn!(job_id = %job.job_id, error = %e, "dead-letter sweep: could not record the job"),
                }
            }
            held.push(m);
        }
    }
    // Back to visible: they stay for `bosun jobs redrive` or an operator to look at.
    for m in &held {
        if let Err(e) = dead.set_visibility(&m.receipt, Duration::ZERO).await {
            debug!(error = %e, "dead-letter sweep: could not release a message; it reappears by itself");
        }
    }
    if recorded > 0 {
        info!(recorded, seen = held.len(), "dead-letter sweep: recorded jobs that had no outcome");
    }
    recorded
}

/// Record a dead job `failed` and `incomplete` unless its record is final; whether it
/// wrote.
async fn record_dead(store: &Store, job: &JobMessage) -> Result<bool, StoreError> {
    let mut record = store.get_job(&job.job_id).await?.unwrap_or_else(|| JobRecord::queued(job.clone()));
    if record.status.is_final() {
        return Ok(false);
    }
    warn!(job_id = %job.job_id, cluster = %job.cluster, status = ?record.status,
        "a job reached the dead-letter queue with no outcome recorded: recording it failed");
    let last = record.error.take().map(|e| format!(" (last: {e})")).unwrap_or_default();
    record.status = JobStatus::Failed;
    record.incomplete = true;
    record.error = Some(format!(
        "its message reached the dead-letter queue after the job queue's last receive, with no outcome recorded{last}; `bosun jobs redrive` runs it again"
    ));
    record.finished_at = Some(now_rfc3339());
    record.updated_at = now_rfc3339();
    store.put_job(&record).await?;
    metrics::counter!("bosun_jobs_total", "status" => "failed").increment(1);
    Ok(true)
}

/// Read the job queue's and the dead-letter queue's depths into the gauges
/// `bosun_queue_jobs` and `bosun_dead_letter_jobs` every 30 s, until `stop`.
pub(crate) async fn watch_depth(ctx: std::sync::Arc<Ctx>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(DEPTH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        match ctx.queue.depth().await {
            Ok(n) => metrics::gauge!("bosun_queue_jobs").set(n as f64),
            Err(e) => debug!(error = %e, "could not read the job queue's depth"),
        }
        if let Some(dead) = &ctx.dead_letters {
            match dead.depth().await {
                Ok(n) => metrics::gauge!("bosun_dead_letter_jobs").set(n as f64),
                Err(e) => debug!(error = %e, "could not read the dead-letter queue's depth"),
            }
        }
    }
}

/// What [`redrive`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Redriven {
    /// The jobs moved back to the job queue, in the order they were moved.
    pub moved: Vec<Moved>,
    /// Message ids of what is not a bosun job: left in the dead-letter queue.
    pub left: Vec<String>,
    /// Whether the limit stopped the redrive before the dead-letter queue was empty.
    pub limited: bool,
}

/// A job [`redrive`] moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    /// The job.
    pub job_id: String,
    /// Its cluster.
    pub cluster: String,
    /// Its record's status before the move (`None`: there was no record).
    pub was: Option<JobStatus>,
    /// Whether its record was reopened (`queued`), so the job runs again. A record
    /// with an outcome is left alone, and the scheduler drops the job unread.
    pub reopened: bool,
}

/// Why a redrive stopped part-way.
#[derive(Debug, thiserror::Error)]
#[error("the redrive stopped after moving {} job(s): {source}", .done.moved.len())]
pub struct RedriveError {
    /// What it did before it stopped. Running it again is safe: a job moved twice
    /// within five minutes is deduplicated by SQS, and the scheduler runs a job once.
    pub done: Redriven,
    /// The failed call.
    #[source]
    pub source: StoreError,
}

/// Move up to `limit` messages from `dead` back to `queue`: each job's record is
/// reopened (`queued`) unless it has an outcome, the job is sent again (deduplicated by
/// its dead-letter message id, so a redrive that stopped part-way and runs again moves
/// nothing twice), and only then deleted from `dead`. Messages that are not bosun jobs
/// stay in `dead`.
pub async fn redrive(store: &Store, queue: &Queue, dead: &Queue, limit: usize) -> Result<Redriven, RedriveError> {
    let mut done = Redriven::default();
    let mut left: Vec<Received> = Vec::new();
    let outcome = redrive_into(store, queue, dead, limit, &mut done, &mut left).await;
    for m in &left {
        let _ = dead.set_visibility(&m.receipt, Duration::ZERO).await;
    }
    match outcome {
        Ok(()) => Ok(done),
        Err(source) => Err(RedriveError { done, source }),
    }
}

async fn redrive_into(
    store: &Store,
    queue: &Queue,
    dead: &Queue,
    limit: usize,
    done: &mut Redriven,
    left: &mut Vec<Received>,
) -> Result<(), StoreError> {
    loop {
        let seen = done.moved.len() + done.left.len();
        if seen >= limit {
            done.limited = true;
            return Ok(());
        }
        let max = i32::try_from((limit - seen).min(10)).unwrap_or(10);
        let messages = dead.receive(max, Duration::from_secs(1), HOLD).await?;
        if messages.is_empty() {
            return Ok(());
        }
        for m in messages {
            let Ok(job) = serde_json::from_str::<JobMessage>(&m.body) else {
                done.left.push(m.message_id.clone());
                left.push(m);
                continue;
            };
            let moved = move_back(store, queue, dead, &job, &m).await;
            if moved.is_err() {
                // Released at the end, for the next redrive.
                left.push(m);
            }
            done.moved.push(moved?);
        }
    }
}

/// Reopen one job's record, send the job again, delete its dead letter.
async fn move_back(
    store: &Store,
    queue: &Queue,
    dead: &Queue,
    job: &JobMessage,
    m: &Received,
) -> Result<Moved, StoreError> {
    let record = store.get_job(&job.job_id).await?;
    let was = record.as_ref().map(|r| r.status);
    let reopen = record.as_ref().is_none_or(|r| !r.status.is_final() || r.incomplete);
    if reopen {
        let mut record = record.unwrap_or_else(|| JobRecord::queued(job.clone()));
        let before = record.error.take().map(|e| format!(" (it said: {e})")).unwrap_or_default();
        record.status = JobStatus::Queued;
        record.incomplete = false;
        record.finished_at = None;
        record.error = Some(format!("moved back from the dead-letter queue{before}"));
        record.updated_at = now_rfc3339();
        store.put_job(&record).await?;
    }
    queue.send_deduplicated(job, &format!("redrive-{}", m.message_id)).await?;
    dead.delete(&m.receipt).await?;
    Ok(Moved { job_id: job.job_id.clone(), cluster: job.cluster.clone(), was, reopened: reopen })
}
