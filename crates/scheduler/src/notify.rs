//! Notifications: a Slack incoming webhook and a generic JSON webhook.
//!
//! [`Notifier::send`] never waits: it queues the event for a background task, which
//! delivers each one with retries and exponential backoff. A sink that is down only
//! costs a warning in the log; it never delays nor fails a reconcile. Events carry the
//! cluster, job, outcome and a change summary (resource names and actions), never
//! stackfile contents such as environment values. Webhook URLs are credentials: they
//! are never logged. The global sinks can be replaced while the scheduler runs
//! ([`Notifier::set_sinks`], on SIGHUP); an event goes to the sinks in force when it is
//! sent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

/// Events waiting for delivery at most; beyond that new events are dropped (and
/// logged), so a dead sink cannot grow memory without bound.
const QUEUE: usize = 1024;
/// Deliveries in flight at once.
const IN_FLIGHT: usize = 8;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A scheduler started reconciling a job.
    Started,
    /// The cluster converged.
    Succeeded,
    /// The circuit breaker rolled a deployment back.
    RolledBack,
    /// The job failed.
    Failed,
    /// The periodic check found live state that differs from the stackfile.
    DriftDetected,
}

/// One notification. Serialised as is for the generic webhook.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// What happened.
    pub event: EventKind,
    /// The cluster.
    pub cluster: String,
    /// The job, if the event belongs to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Why the job exists (`config_updated`, `drift`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who asked for it (a token name, or `scheduler`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// The stackfile version concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stackfile_version: Option<String>,
    /// A one-line summary: counts by action, or what failed.
    pub summary: String,
    /// The changes, as `<action> <resource>` lines.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    /// RFC 3339, UTC.
    pub time: String,
}

impl Event {
    /// The Slack message text.
    fn slack_text(&self) -> String {
        let (icon, what) = match self.event {
            EventKind::Started => (":arrow_forward:", "reconcile started"),
            EventKind::Succeeded => (":white_check_mark:", "converged"),
            EventKind::RolledBack => (":rewind:", "rolled back"),
            EventKind::Failed => (":x:", "failed"),
            EventKind::DriftDetected => (":warning:", "drift detected"),
        };
        let mut text = format!("{icon} bosun: cluster *{}* {what}", self.cluster);
        if let Some(job) = &self.job_id {
            text.push_str(&format!(" (job `{job}`"));
            if let Some(by) = &self.requested_by {
                text.push_str(&format!(", requested by {by}"));
            }
            text.push(')');
        }
        text.push_str(&format!(": {}", self.summary));
        const SHOWN: usize = 10;
        for change in self.changes.iter().take(SHOWN) {
            text.push_str(&format!("\n• {change}"));
        }
        if self.changes.len() > SHOWN {
            text.push_str(&format!("\n• … and {} more", self.changes.len() - SHOWN));
        }
        text
    }
}

/// Where events go.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Sinks {
    /// Slack incoming-webhook URL.
    pub slack: Option<String>,
    /// Generic JSON webhook URL.
    pub webhook: Option<String>,
}

impl std::fmt::Debug for Sinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Whether each is set, never the URL: it is a credential.
        f.debug_struct("Sinks")
            .field("slack", &self.slack.as_ref().map(|_| "<set>"))
            .field("webhook", &self.webhook.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Sinks {
    /// The global sinks and a cluster's own, without sending twice to one URL.
    fn with_cluster(&self, cluster: &bosun_stackfile::Notifications) -> Vec<(SinkKind, String)> {
        let mut out: Vec<(SinkKind, String)> = Vec::new();
        let all = [
            (SinkKind::Slack, &self.slack),
            (SinkKind::Slack, &cluster.slack_webhook),
            (SinkKind::Webhook, &self.webhook),
            (SinkKind::Webhook, &cluster.webhook),
        ];
        for (kind, url) in all {
            if let Some(url) = url
                && !out.iter().any(|(k, u)| *k == kind && u == url)
            {
                out.push((kind, url.clone()));
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SinkKind {
    Slack,
    Webhook,
}

impl SinkKind {
    fn name(self) -> &'static str {
        match self {
            SinkKind::Slack => "slack",
            SinkKind::Webhook => "webhook",
        }
    }
}

/// How deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts per delivery.
    pub attempts: u32,
    /// The wait after the first failure; doubled after each further one.
    pub backoff: Duration,
    /// Time limit of one attempt.
    pub timeout: Duration,
}

impl Default for Retry {
    /// 5 attempts over about 15 s: 1, 2, 4 and 8 s apart.
    fn default() -> Self {
        Self { attempts: 5, backoff: Duration::from_secs(1), timeout: Duration::from_secs(5) }
    }
}

struct Delivery {
    kind: SinkKind,
    url: String,
    event: Event,
}

/// Sends events in the background. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Notifier {
    /// The global sinks; shared by every clone, and replaced whole.
    sinks: Arc<RwLock<Arc<Sinks>>>,
    tx: mpsc::Sender<Delivery>,
    /// Deliveries queued or in progress, so shutdown can wait for them a little.
    pending: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No URL: it is a credential.
        f.debug_struct("Delivery").field("sink", &self.kind.name()).field("event", &self.event.event).finish()
    }
}

impl Notifier {
    /// Start the delivery task. It ends when every clone of the notifier is dropped
    /// and the queued events are delivered or given up.
    pub fn start(sinks: Sinks, retry: Retry) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let pending = Arc::new(AtomicUsize::new(0));
        let handle = tokio::spawn(deliver_all(rx, retry, pending.clone()));
        (Self { sinks: Arc::new(RwLock::new(Arc::new(sinks))), tx, pending }, handle)
    }

    /// Send every event from now on to `sinks` (and each cluster's own) instead.
    pub fn set_sinks(&self, sinks: Sinks) {
        *self.sinks.write().expect("the sinks lock is never poisoned") = Arc::new(sinks);
    }

    /// The global sinks in force.
    pub fn sinks(&self) -> Arc<Sinks> {
        self.sinks.read().expect("the sinks lock is never poisoned").clone()
    }

    /// Wait until every queued notification is delivered or given up, or `limit`
    /// passes.
    pub async fn flush(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.pending.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Queue `event` for the global sinks and the cluster's own. Never waits.
    pub fn send(&self, event: Event, cluster_sinks: &bosun_stackfile::Notifications) {
        for (kind, url) in self.sinks().with_cluster(cluster_sinks) {
            let delivery = Delivery { kind, url, event: event.clone() };
            self.pending.fetch_add(1, Ordering::AcqRel);
            if self.tx.try_send(delivery).is_err() {
                self.pending.fetch_sub(1, Ordering::AcqRel);
                warn!(sink = kind.name(), event = ?event.event, cluster = %event.cluster,
                    "notification dropped: too many undelivered notifications");
            }
        }
    }
}

async fn deliver_all(mut rx: mpsc::Receiver<Delivery>, retry: Retry, pending: Arc<AtomicUsize>) {
    let client = match reqwest::Client::builder().timeout(retry.timeout).build() {
        Ok(c) => c,
        Err(e) => {
            warn!(error = %e, "notifications are off: could not build an HTTP client");
            while rx.recv().await.is_some() {
                pending.fetch_sub(1, Ordering::AcqRel);
            }
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    while let Some(delivery) = rx.recv().await {
        let permit = slots.clone().acquire_owned().await.expect("the semaphore is never closed");
        let client = client.clone();
        let pending = pending.clone();
        tasks.spawn(async move {
            deliver(&client, &delivery, retry).await;
            pending.fetch_sub(1, Ordering::AcqRel);
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

async fn deliver(client: &reqwest::Client, d: &Delivery, retry: Retry) {
    let body = match d.kind {
        SinkKind::Slack => serde_json::json!({ "text": d.event.slack_text() }),
        SinkKind::Webhook => serde_json::to_value(&d.event).expect("an event always serialises"),
    };
    let mut wait = retry.backoff;
    for attempt in 1..=retry.attempts {
        let cause = match client.post(&d.url).json(&body).send().await {
            Ok(r) if r.status().is_success() => {
                debug!(sink = d.kind.name(), event = ?d.event.event, cluster = %d.event.cluster, attempt, "notification delivered");
                return;
            }
            Ok(r) => format!("HTTP {}", r.status()),
            // `without_url`: the URL is a credential.
            Err(e) => e.without_url().to_string(),
        };
        if attempt == retry.attempts {
            warn!(sink = d.kind.name(), event = ?d.event.event, cluster = %d.event.cluster,
                attempts = attempt, cause = %cause, "notification delivery failed; giving up");
            return;
        }
        debug!(sink = d.kind.name(), attempt, cause = %cause, "notification delivery failed; retrying");
        tokio::time::sleep(wait).await;
        wait = wait.saturating_mul(2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind, changes: usize) -> Event {
        Event {
            event: kind,
            cluster: "prod".into(),
            job_id: Some("0190".into()),
            reason: Some("service_updated".into()),
            requested_by: Some("ci".into()),
            stackfile_version: Some("v2".into()),
            summary: "1 to update".into(),
            changes: (0..changes).map(|i| format!("update service svc-{i}")).collect(),
            time: "2026-11-22T00:00:00.000Z".into(),
        }
    }

    #[test]
    fn slack_text_names_cluster_job_and_outcome_and_caps_the_list() {
        let text = event(EventKind::RolledBack, 12).slack_text();
        assert!(
            text.starts_with(":rewind: bosun: cluster *prod* rolled back (job `0190`, requested by ci): 1 to update"),
            "{text}"
        );
        assert_eq!(text.matches("\n• update service").count(), 10);
        assert!(text.ends_with("\n• … and 2 more"), "{text}");
    }

    #[test]
    fn webhook_body_has_the_documented_fields() {
        let v = serde_json::to_value(event(EventKind::DriftDetected, 1)).unwrap();
        assert_eq!(v["event"], "drift_detected");
        assert_eq!(v["cluster"], "prod");
        assert_eq!(v["changes"][0], "update service svc-0");
    }

    #[tokio::test]
    async fn replaced_sinks_take_effect_in_every_clone() {
        let (notifier, _task) = Notifier::start(Sinks::default(), Retry::default());
        let clone = notifier.clone();
        let new = Sinks { slack: None, webhook: Some("https://w/3".into()) };
        clone.set_sinks(new.clone());
        assert_eq!(*notifier.sinks(), new);
        assert_eq!(format!("{:?}", notifier.sinks()), r#"Sinks { slack: None, webhook: Some("<set>") }"#);
    }

    #[test]
    fn cluster_sinks_add_to_global_ones_without_duplicates() {
        let global = Sinks { slack: Some("https://s/1".into()), webhook: None };
        let cluster = bosun_stackfile::Notifications {
            slack_webhook: Some("https://s/1".into()),
            webhook: Some("https://w/2".into()),
        };
        let sinks = global.with_cluster(&cluster);
        assert_eq!(sinks, vec![(SinkKind::Slack, "https://s/1".into()), (SinkKind::Webhook, "https://w/2".into())]);
        assert!(Sinks::default().with_cluster(&Default::default()).is_empty());
    }
}
