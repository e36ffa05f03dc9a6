//! Reconcile jobs: the SQS message the API sends and the record kept in S3.
//!
//! The API writes the record (`jobs/<id>.json`, status `queued`) *before* it sends the
//! message, so a job a consumer receives always has a record to update. The scheduler
//! moves the record through `running` to one of the final states.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// The SQS message body of a reconcile job. Its `MessageGroupId` is the cluster (one
/// reconcile per cluster at a time) and its `MessageDeduplicationId` the job id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobMessage {
    /// Time-ordered unique id (UUIDv7).
    pub job_id: String,
    /// The cluster to reconcile.
    pub cluster: String,
    /// Why: `config_updated`, `service_updated`, `service_deleted`, `deploy`, `rollback`, `cluster_created`;
    /// `chat_deploy`, `chat_scale`, `chat_rollback` (an approved chat proposal); the scheduler's own jobs: `drift` (healing drift), `retry` (applying a version whose job failed without an
    /// outcome).
    pub reason: String,
    /// The token name of the caller.
    pub requested_by: String,
    /// The S3 version id of the stackfile to apply.
    pub stackfile_version: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// Services removed from the stackfile by this job's request, whose owned resources
    /// the reconcile deletes even when the stackfile does not set `prune: true`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete_services: Vec<String>,
    /// The hash of the plan that was approved (a chat proposal): the scheduler applies
    /// that plan or nothing, and fails the job when the plan it computes differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_hash: Option<String>,
    /// Who approved the change, when it went through a proposal (`requested_by` asked for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// The chat proposal the job applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal_id: Option<String>,
}

impl JobMessage {
    /// A new job for `cluster` at `stackfile_version`, created now.
    pub fn new(cluster: &str, reason: &str, requested_by: &str, stackfile_version: &str) -> Self {
        Self {
            job_id: uuid::Uuid::now_v7().to_string(),
            cluster: cluster.to_owned(),
            reason: reason.to_owned(),
            requested_by: requested_by.to_owned(),
            stackfile_version: stackfile_version.to_owned(),
            created_at: now_rfc3339(),
            delete_services: Vec::new(),
            plan_hash: None,
            approved_by: None,
            proposal_id: None,
        }
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Stored and enqueued; no consumer has started it.
    Queued,
    /// A scheduler is reconciling it.
    Running,
    /// Applied, and every rollout succeeded.
    Succeeded,
    /// The circuit breaker rolled a deployment back.
    RolledBack,
    /// Could not be applied; `error` says why.
    Failed,
    /// A newer stackfile version was queued or applied first; nothing was done.
    Superseded,
}

impl JobStatus {
    /// Whether the job has ended.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Queued | Self::Running)
    }
}

/// The job record at `jobs/<id>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobRecord {
    /// The message, as sent.
    #[serde(flatten)]
    pub job: JobMessage,
    /// Where the job is.
    pub status: JobStatus,
    /// RFC 3339, UTC: the last change of this record.
    pub updated_at: String,
    /// When a scheduler started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Why it failed (or, while it is retried, why the last attempt failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Attempts a scheduler has started.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// The scheduler that ran the last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<String>,
    /// The job failed without an outcome: its reconcile could not run to its end (AWS
    /// or S3 kept failing, or its message reached the dead-letter queue). Retrying can
    /// help, unlike after a failed rollout: the scheduler's drift check applies the
    /// version again, and `bosun jobs redrive` reopens the job.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
    /// The plan an attempt computed matched the approved `plan_hash`, and applying
    /// began: later attempts continue it (their plan is what is left of it) rather
    /// than compare its hash again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub plan_checked: bool,
    /// The reconcile result (plan summary, per-resource results, timings), written by
    /// the scheduler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub result: Option<serde_json::Value>,
}

impl JobRecord {
    /// The record of a job that has just been queued.
    pub fn queued(job: JobMessage) -> Self {
        Self {
            updated_at: job.created_at.clone(),
            job,
            status: JobStatus::Queued,
            started_at: None,
            finished_at: None,
            error: None,
            attempts: 0,
            scheduler: None,
            incomplete: false,
            plan_checked: false,
            result: None,
        }
    }

    /// Whether the job has been run, or still will be: it is queued, running, or a
    /// scheduler finished it. A job whose message never reached the queue (failed
    /// before any attempt) will not run.
    pub fn ran_or_will_run(&self) -> bool {
        match self.status {
            JobStatus::Queued | JobStatus::Running => true,
            JobStatus::Failed => self.attempts > 0,
            JobStatus::Succeeded | JobStatus::RolledBack | JobStatus::Superseded => true,
        }
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Now, as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_has_the_documented_fields() {
        let m = JobMessage::new("prod", "deploy", "alice", "v1");
        let v = serde_json::to_value(&m).unwrap();
        let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["cluster", "created_at", "job_id", "reason", "requested_by", "stackfile_version"]);
        assert!(m.created_at.ends_with('Z'), "{}", m.created_at);
    }

    #[test]
    fn ids_sort_by_creation_time() {
        let a = JobMessage::new("c", "deploy", "x", "v");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = JobMessage::new("c", "deploy", "x", "v");
        assert!(a.job_id < b.job_id);
    }

    #[test]
    fn a_job_that_never_reached_the_queue_will_not_run() {
        let mut r = JobRecord::queued(JobMessage::new("c", "deploy", "x", "v"));
        assert!(r.ran_or_will_run());
        r.status = JobStatus::Failed;
        assert!(!r.ran_or_will_run(), "failed before any attempt: the send failed");
        r.attempts = 5;
        assert!(r.ran_or_will_run(), "failed after attempts: it ran");
        r.status = JobStatus::Succeeded;
        assert!(r.ran_or_will_run());
    }

    #[test]
    fn record_round_trips_with_snake_case_status() {
        let mut r = JobRecord::queued(JobMessage::new("c", "deploy", "x", "v"));
        r.status = JobStatus::RolledBack;
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["status"], "rolled_back");
        assert_eq!(v["cluster"], "c");
        let back: JobRecord = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }
}
