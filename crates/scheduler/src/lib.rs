//! The bosun scheduler: turns reconcile jobs from the SQS FIFO queue into reconciles of
//! ECS clusters through the engine, records every outcome in S3 and announces it.
//!
//! Many replicas can share one bucket and queue. SQS hands out one job per cluster at a
//! time (the message group is the cluster) and hides a job from other consumers while a
//! replica works on it (the visibility timeout, extended on a heartbeat). A per-cluster
//! lease in S3 (conditional writes, with an expiry) fences everything else: the resync
//! timer of every replica, and a replica that was paused past its message's visibility.
//! A replica that dies mid-reconcile leaves its message to reappear and its lease to
//! expire; the next attempt observes the live state again and converges without
//! duplicating anything.
//!
//! # Layout
//! - [`jobs`]: receiving jobs, heartbeats, stale and poison jobs, job records, and the
//!   `error_policy` that decides retries.
//! - [`dead_letters`]: the dead-letter queue: recording the jobs there, moving them
//!   back (`bosun jobs redrive`), its depth.
//! - [`reconcile`]: one reconcile: load, observe, plan, apply, wait; `ReconcileError`.
//! - [`heartbeat`]: the heartbeat's timing, apart from what a beat does.
//! - [`shutdown`]: the grace period and the hand-back at the end of a shutdown.
//! - [`resync`]: the periodic drift check (`drift: heal|report`), which also applies a
//!   stackfile version whose job failed without an outcome.
//! - [`notify`]: Slack and generic webhooks, off the reconcile path.
//! - [`status`]: the cluster status document.

pub mod dead_letters;
pub mod heartbeat;
pub mod jobs;
pub mod notify;
pub mod reconcile;
pub mod resync;
pub mod shutdown;
pub mod status;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use bosun_aws::Clients;
use bosun_aws::clients::ClusterClients;
use bosun_aws::queue::Queue;
use bosun_aws::store::Store;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

pub use notify::{Notifier, Retry, Sinks};

/// How the scheduler runs. The CLI fills it from flags and their `BOSUN_*` variables.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// The S3 bucket (stackfiles, job records, status, leases).
    pub bucket: String,
    /// The SQS FIFO job queue, a name or a URL.
    pub queue: String,
    /// Clusters reconciled at once.
    pub concurrency: usize,
    /// How long a received job stays hidden from other consumers; also the lease TTL.
    /// A crashed replica's job reappears after this long.
    pub visibility: Duration,
    /// How often a job's visibility and lease are extended while it runs. Must be well
    /// under `visibility`.
    pub heartbeat: Duration,
    /// How long one receive waits for jobs (SQS long polling, at most 20 s). Shutdown
    /// waits for the current poll to end, so this also bounds that.
    pub receive_wait: Duration,
    /// The longest time between polls of rollouts and hook tasks (they start faster and
    /// back off to it), and the time between polls of a lease held elsewhere (at most 5 s).
    pub poll_interval: Duration,
    /// How often every cluster is checked for drift; `None`: never.
    pub resync_interval: Option<Duration>,
    /// Overrides every service's `deployment.wait_timeout`.
    pub rollout_timeout: Option<Duration>,
    /// How long in-flight reconciles may run on after a shutdown signal.
    pub grace_period: Duration,
    /// AWS changes in flight at once within one reconcile.
    pub apply_concurrency: usize,
    /// Global notification sinks.
    pub sinks: Sinks,
    /// How notifications are retried.
    pub retry: Retry,
}

impl SchedulerConfig {
    /// The defaults, for `bucket` and `queue`.
    pub fn new(bucket: impl Into<String>, queue: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            queue: queue.into(),
            concurrency: 4,
            visibility: Duration::from_secs(60),
            heartbeat: Duration::from_secs(20),
            receive_wait: Duration::from_secs(10),
            poll_interval: Duration::from_secs(5),
            resync_interval: Some(Duration::from_secs(600)),
            rollout_timeout: None,
            grace_period: Duration::from_secs(30),
            apply_concurrency: 16,
            sinks: Sinks::default(),
            retry: Retry::default(),
        }
    }

    /// Check the settings against each other.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.concurrency > 0, "concurrency must be at least 1");
        anyhow::ensure!(self.apply_concurrency > 0, "apply concurrency must be at least 1");
        anyhow::ensure!(
            self.visibility >= Duration::from_secs(2) && self.visibility <= Duration::from_secs(12 * 3600),
            "the visibility timeout must be between 2 s and 12 h (SQS's limits, and a lease needs time to renew)"
        );
        anyhow::ensure!(
            self.heartbeat * 2 <= self.visibility && !self.heartbeat.is_zero(),
            "the heartbeat ({:?}) must be at most half the visibility timeout ({:?}), so a job never reappears while it runs",
            self.heartbeat,
            self.visibility
        );
        anyhow::ensure!(
            self.receive_wait <= Duration::from_secs(20),
            "the receive wait is at most 20 s (SQS long polling)"
        );
        Ok(())
    }
}

/// What every job and resync shares.
#[derive(Debug)]
pub struct Ctx {
    /// AWS clients of bosun's own account and region, where its bucket and queue are.
    pub clients: Clients,
    /// The clients of each cluster, in the account and region its stackfile names
    /// (`aws:`); [`Ctx::clients`] for the clusters that name none.
    pub clusters: ClusterClients,
    /// The S3 store.
    pub store: Store,
    /// The job queue.
    pub queue: Queue,
    /// Settings.
    pub config: SchedulerConfig,
    /// Notifications.
    pub notifier: Notifier,
    /// The queue's `maxReceiveCount`, read at start: the attempt that may not fail
    /// without recording `failed`. `None`: the queue has no dead-letter queue.
    pub max_receive: Option<u32>,
    /// The dead-letter queue (`<queue>-dlq.fifo`, as `bosun init` makes it), if there
    /// is one: the drift check records the jobs that reach it.
    pub dead_letters: Option<Queue>,
    /// This process's name in leases and job records: host, PID and a random suffix.
    pub holder: String,
    /// One lock per cluster: this process never runs two reconciles of one cluster.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Ctx {
    /// This process's lock for `cluster`.
    fn lock(&self, cluster: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().expect("the lock map is never poisoned");
        locks.entry(cluster.to_owned()).or_default().clone()
    }
}

/// A name for this process in leases and records.
fn holder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let suffix: u32 = rand::random();
    format!("{host}-{}-{suffix:08x}", std::process::id())
}

/// Connect to the bucket and queue and read the queue's redrive policy.
pub async fn connect(clients: Clients, config: SchedulerConfig) -> anyhow::Result<Arc<Ctx>> {
    config.check()?;
    let (store, queue) = bosun_aws::queue::connect(&clients, &config.bucket, &config.queue).await?;
    let max_receive = queue.max_receive_count().await.context("could not read the queue's redrive policy")?;
    if max_receive.is_none() {
        warn!(queue = %config.queue, "the queue has no dead-letter queue: a job that keeps failing is recorded failed and deleted after {} attempts", bosun_aws::queue::MAX_RECEIVE_COUNT);
    }
    let dead_letters = match queue.dead_letters().await {
        Ok(dlq) => dlq,
        Err(e) => {
            warn!(error = %e, "could not find the dead-letter queue; jobs that reach it are recorded by `bosun jobs redrive` only");
            None
        }
    };
    let (notifier, _delivery) = Notifier::start(config.sinks.clone(), config.retry);
    Ok(Arc::new(Ctx {
        clusters: ClusterClients::new(clients.clone()),
        clients,
        store,
        queue,
        config,
        notifier,
        max_receive,
        dead_letters,
        holder: holder_id(),
        locks: Mutex::default(),
    }))
}

/// How long jobs still running at the end of the grace period have to hand themselves
/// back: a few S3 and SQS calls per job.
const HAND_BACK_WITHIN: Duration = Duration::from_secs(15);

/// Run until `shutdown` resolves: consume jobs, and check for drift on a timer. Then
/// stop receiving, let in-flight reconciles finish for up to the grace period, hand
/// the jobs of those still running back to the queue, and return.
pub async fn run(ctx: Arc<Ctx>, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let stop = CancellationToken::new();
    let abort = CancellationToken::new();
    let tracker = TaskTracker::new();
    info!(
        holder = %ctx.holder,
        queue = %ctx.queue.url(),
        concurrency = ctx.config.concurrency,
        resync = ?ctx.config.resync_interval,
        "scheduler started"
    );
    let slots = Arc::new(tokio::sync::Semaphore::new(ctx.config.concurrency));
    let receiver =
        tokio::spawn(jobs::receive_loop(ctx.clone(), slots.clone(), tracker.clone(), stop.clone(), abort.clone()));
    let resyncer = ctx.config.resync_interval.map(|every| {
        tokio::spawn(resync::resync_loop(
            ctx.clone(),
            every,
            slots.clone(),
            tracker.clone(),
            stop.clone(),
            abort.clone(),
        ))
    });

    let depth = tokio::spawn(dead_letters::watch_depth(ctx.clone(), stop.clone()));

    shutdown.await;
    info!(grace = ?ctx.config.grace_period, "shutting down: no new jobs; letting reconciles in flight finish");
    stop.cancel();
    // The receiver finishes its current poll and hands back what it got.
    let _ = receiver.await;
    if let Some(r) = resyncer {
        let _ = r.await;
    }
    let _ = depth.await;
    shutdown::drain(&tracker, &abort, ctx.config.grace_period, HAND_BACK_WITHIN).await;
    // Outcomes of the last jobs are worth a moment.
    ctx.notifier.flush(Duration::from_secs(5)).await;
    info!("scheduler stopped");
    Ok(())
}
