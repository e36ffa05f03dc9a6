//! The write path: store a stackfile version then queue its job, and the conditional
//! read-modify-write (one writer at a time per cluster, jittered back-off on lost races).

use std::time::{Duration, Instant};

use axum::response::{IntoResponse as _, Response};
use bosun_aws::jobs::{JobMessage, JobRecord, JobStatus, now_rfc3339};
use bosun_aws::store::{Condition, Stackfile, StoreError, WriteMeta};
use bosun_stackfile::Desired;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::ApiError;

/// The answer to a write that queued a job (202).
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// What happened.
    pub message: String,
    /// The job that applies it.
    pub job_id: String,
    /// Where to follow the job: `/api/v1/jobs/{id}`.
    pub status_url: String,
    /// The stackfile version the job applies.
    pub version_id: String,
}

/// A queued job, as the write path reports it.
pub(crate) struct Queued {
    pub body: Accepted,
    pub etag: Option<String>,
}

impl Queued {
    pub(crate) fn response(self, status: StatusCode) -> Response {
        let mut resp = (status, axum::Json(self.body)).into_response();
        if let Some(v) = self.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
            resp.headers_mut().insert(header::ETAG, v);
        }
        resp
    }
}

/// What a write is, for the job it queues.
pub(crate) struct JobRequest<'a> {
    pub cluster: &'a str,
    pub reason: &'a str,
    pub caller: &'a Caller,
    pub delete_services: Vec<String>,
    /// The plan the caller saw (`X-Bosun-Plan-Hash`): the scheduler applies exactly
    /// that plan, or nothing.
    pub plan_hash: Option<String>,
}

impl<'a> JobRequest<'a> {
    /// A job for `reason`, asked for by `caller`, pinned to the plan in `headers` if
    /// they name one ([`pinned_plan`]).
    pub(crate) fn new(
        cluster: &'a str,
        reason: &'a str,
        caller: &'a Caller,
        headers: &HeaderMap,
    ) -> Result<Self, ApiError> {
        Ok(Self { cluster, reason, caller, delete_services: Vec::new(), plan_hash: pinned_plan(headers)? })
    }
}

/// The header that pins a write's job to the plan its caller previewed.
pub const PLAN_HASH_HEADER: &str = "x-bosun-plan-hash";

/// The plan a write is pinned to: `X-Bosun-Plan-Hash`, 16 to 64 hex digits of a plan's
/// hash (what a plan preview returns in the same header). Its job plans first and
/// fails, changing nothing, when the plan is not that one.
pub(crate) fn pinned_plan(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(PLAN_HASH_HEADER) else { return Ok(None) };
    value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|h| (16..=64).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|h| Some(h.to_ascii_lowercase()))
        .ok_or_else(|| {
            ApiError::bad_request("invalid_plan_hash", "X-Bosun-Plan-Hash must be 16 to 64 hex digits of a plan's hash")
        })
}

/// The ETag a write is conditional on (`If-Match`); `None` without one or with `*`.
pub(crate) fn if_match(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get(header::IF_MATCH).map(|v| v.to_str().map(str::trim)) {
        None | Some(Ok("*")) => Ok(None),
        Some(Ok(etag)) if !etag.is_empty() && etag.len() <= 256 => Ok(Some(etag.to_owned())),
        Some(_) => Err(ApiError::bad_request("invalid_header", "If-Match is not a valid ETag")),
    }
}

/// Record a job as queued (in S3, first) and send it. When the send fails, the record
/// says so and the caller gets 503: the stackfile version is stored, and the next
/// deploy, or the scheduler's resync, applies it.
pub(crate) async fn enqueue(
    state: &crate::State,
    req: JobRequest<'_>,
    version_id: &str,
    message: String,
) -> Result<Accepted, ApiError> {
    let mut job = JobMessage::new(req.cluster, req.reason, &req.caller.name, version_id);
    job.delete_services = req.delete_services;
    job.plan_hash = req.plan_hash;
    enqueue_job(state, job, message).await
}

/// Record `job` as queued (in S3, first) and send it; see [`enqueue`].
pub(crate) async fn enqueue_job(state: &crate::State, job: JobMessage, message: String) -> Result<Accepted, ApiError> {
    let version_id = job.stackfile_version.clone();
    let cluster = job.cluster.clone();
    let mut record = JobRecord::queued(job.clone());
    // The version's job index lets the scheduler tell a stale job (one for an older
    // version, with a job for the current one queued) from the only job of a version.
    let (put, index) =
        tokio::join!(state.store.put_job(&record), state.store.put_version_job(&cluster, &version_id, &job.job_id));
    put?;
    index?;
    if let Err(e) = state.queue.send(&job).await {
        record.status = JobStatus::Failed;
        record.error = Some(format!("could not enqueue: {e}"));
        record.updated_at = now_rfc3339();
        // Best effort: the 503 below tells the caller either way.
        let _ = state.store.put_job(&record).await;
        return Err(ApiError::internal(
            StatusCode::SERVICE_UNAVAILABLE,
            "enqueue_failed",
            Some("the stackfile version is stored, but its job could not be queued (POST .../deploy queues it again)"),
            format!(
                "stackfile version {version_id} of cluster {cluster} is stored, but job {} could not be sent to {}: {e}",
                job.job_id,
                state.queue.url()
            ),
        ));
    }
    Ok(Accepted { message, status_url: format!("/api/v1/jobs/{}", job.job_id), job_id: job.job_id, version_id })
}

/// Store a stackfile version (`text`, which loads to `desired`), then queue its job.
pub(crate) async fn store_and_enqueue(
    state: &crate::State,
    req: JobRequest<'_>,
    text: &str,
    desired: Desired,
    condition: Option<&Condition>,
    headers: &HeaderMap,
) -> Result<Queued, ApiError> {
    let meta = WriteMeta { author: req.caller.name.clone(), message: change_message(headers) };
    let written = state.store.put_stackfile(req.cluster, text, condition, &meta).await?;
    state.derived.wrote(req.cluster, text, desired);
    let message = format!("stackfile of cluster {} stored; reconcile queued", req.cluster);
    let body = enqueue(state, req, &written.version_id, message).await?;
    Ok(Queued { body, etag: Some(written.etag) })
}

/// The `X-Bosun-Message` header: why a change was made; kept with the version.
pub(crate) fn change_message(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("x-bosun-message")?;
    let text = String::from_utf8_lossy(v.as_bytes());
    let text: String = text.trim().chars().take(512).collect();
    (!text.is_empty()).then_some(text)
}

/// Attempts of a read-modify-write before giving up with 409.
const RMW_ATTEMPTS: u32 = 20;

/// Read the current stackfile, change it with `edit`, validate the result and write it
/// back conditionally on the ETag that was read; on a lost race, read again. With
/// `If-Match` in `headers`, the edit applies to that version only: 412 when the current
/// one is another, and no retry. Returns the
/// new text's version id and ETag, or the current ones when `edit` changed nothing.
pub(crate) async fn read_modify_write(
    state: &crate::State,
    cluster: &str,
    caller: &Caller,
    headers: &HeaderMap,
    edit: &(dyn Fn(&str) -> Result<String, ApiError> + Send + Sync),
) -> Result<Written, ApiError> {
    let meta = WriteMeta { author: caller.name.clone(), message: change_message(headers) };
    let expected = if_match(headers)?;
    // Writers in this process take turns per cluster, so they never make each other
    // retry; the conditional write still fences writers in other replicas.
    let queued = Instant::now();
    let lock = state.write_lock(cluster);
    let _turn = lock.lock().await;
    crate::telemetry::add_wait(queued.elapsed());
    for attempt in 0..RMW_ATTEMPTS {
        let current = current(state, cluster).await?;
        if expected.as_ref().is_some_and(|e| *e != current.etag) {
            return Err(StoreError::PreconditionFailed.into());
        }
        let text = edit(&current.text)?;
        if text == current.text {
            return Ok(Written { version_id: current.version_id, etag: current.etag, changed: false });
        }
        let desired = bosun_stackfile::load(&text, cluster).map_err(|d| ApiError::invalid_stackfile(&d))?;
        match state.store.put_stackfile(cluster, &text, Some(&Condition::Matches(current.etag)), &meta).await {
            Ok(w) => {
                state.derived.wrote(cluster, &text, desired);
                return Ok(Written { version_id: w.version_id, etag: w.etag, changed: true });
            }
            Err(StoreError::PreconditionFailed) if expected.is_some() => {
                return Err(StoreError::PreconditionFailed.into());
            }
            Err(StoreError::PreconditionFailed) => {
                // Another writer won; back off a little (with jitter) and read again.
                let ms = 5 + u64::from(attempt) * 5 + rand::random_range(0..10u64);
                let slept = Instant::now();
                tokio::time::sleep(Duration::from_millis(ms)).await;
                // What the sleep took, which the timer's granularity and the runtime
                // make longer than asked.
                crate::telemetry::add_wait(slept.elapsed());
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "too_much_contention",
        format!("the stackfile of cluster {cluster} kept changing during {RMW_ATTEMPTS} attempts; retry"),
    ))
}

/// What [`read_modify_write`] wrote.
pub(crate) struct Written {
    pub version_id: String,
    pub etag: String,
    pub changed: bool,
}

/// The current stackfile of a cluster; 404 when there is none. The first step of
/// every write, and of the reads that need the cluster to exist.
pub(crate) async fn current(state: &crate::State, cluster: &str) -> Result<Stackfile, ApiError> {
    state.store.get_stackfile(cluster, None).await?.ok_or_else(|| no_cluster(cluster))
}

/// 404 for a cluster without a stackfile.
pub(crate) fn no_cluster(cluster: &str) -> ApiError {
    ApiError::not_found(format!("cluster {cluster} does not exist"))
}
