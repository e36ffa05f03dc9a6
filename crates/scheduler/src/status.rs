//! The cluster status document (`clusters/<name>/status.json`), which the API serves at
//! `GET /api/v1/clusters/{c}/status`: the last reconcile's outcome, and the last drift
//! check.

use bosun_aws::jobs::{JobRecord, JobStatus, now_rfc3339};
use bosun_aws::locks::Lock;
use serde::{Deserialize, Serialize};

/// The status of one cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// The cluster.
    pub cluster: String,
    /// The last job that ran to an end (or gave up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_job: Option<LastJob>,
    /// The last drift check that found a difference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
    /// RFC 3339: the last drift check, whatever it found (the web UI's system page
    /// shows it, so that a scheduler that stopped checking is seen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_checked_at: Option<String>,
    /// Where the cluster lives, as its stackfile said at the last job or drift check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// RFC 3339: the last change of this document.
    pub updated_at: String,
}

/// The account and region of a cluster (the cluster list shows them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// The account of the role bosun assumes for it; `None`: bosun's own account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Its region (bosun's own, when the stackfile names none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl Location {
    /// Where a cluster with this `aws:` lives, `home_region` being bosun's own.
    pub fn of(target: &bosun_stackfile::AwsTarget, home_region: Option<&str>) -> Self {
        Self {
            account: target.account().map(str::to_owned),
            region: target.region.as_deref().or(home_region).map(str::to_owned),
        }
    }
}

/// A finished job, as the status shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastJob {
    /// The job id (`GET /api/v1/jobs/{id}` has the whole record).
    pub job_id: String,
    /// How it ended.
    pub status: JobStatus,
    /// Why the job existed.
    pub reason: String,
    /// Who asked.
    pub requested_by: String,
    /// The stackfile version it applied.
    pub stackfile_version: String,
    /// When it started and ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// A one-line summary.
    pub summary: String,
    /// Why it did not succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Rollout outcomes by service.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub rollouts: serde_json::Value,
    /// It failed without an outcome (see [`JobRecord::incomplete`]): the drift check
    /// applies its version again rather than holding it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
}

/// What a drift check found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    /// When.
    pub detected_at: String,
    /// The stackfile version compared against.
    pub stackfile_version: String,
    /// `healed` (a job applied the plan), `reported` (`drift: report`, or the cluster
    /// is locked: then `lock` is set) or `held` (not healed because the last reconcile
    /// of this version did not succeed).
    pub action: String,
    /// The plan's changes.
    pub changes: Vec<String>,
    /// The lock that held healing back: the drift is only reported while it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<Lock>,
    /// The job that healed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

impl LastJob {
    /// The status entry of a finished job record.
    pub fn from_record(record: &JobRecord, summary: &str, stackfile_version: &str) -> Self {
        Self {
            job_id: record.job.job_id.clone(),
            status: record.status,
            reason: record.job.reason.clone(),
            requested_by: record.job.requested_by.clone(),
            stackfile_version: stackfile_version.to_owned(),
            started_at: record.started_at.clone(),
            finished_at: record.finished_at.clone(),
            summary: summary.to_owned(),
            error: record.error.clone(),
            rollouts: record.result.as_ref().map(|r| r["rollouts"].clone()).unwrap_or_default(),
            incomplete: record.incomplete,
        }
    }
}

impl ClusterStatus {
    /// Read a cluster's status (a missing or unreadable one starts afresh).
    pub async fn load(store: &bosun_aws::store::Store, cluster: &str) -> Self {
        let existing = store.get_status(cluster).await.ok().flatten();
        existing
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_else(|| Self { cluster: cluster.to_owned(), ..Self::default() })
    }

    /// Write it back. The status is written only under the cluster's lease, so there
    /// is one writer at a time.
    pub async fn save(mut self, store: &bosun_aws::store::Store) -> Result<(), bosun_aws::AwsError> {
        self.updated_at = now_rfc3339();
        let value = serde_json::to_value(&self).expect("a status always serialises");
        store.put_status(&self.cluster, &value).await
    }
}
