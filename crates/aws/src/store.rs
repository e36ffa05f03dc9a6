//! The S3 store: each cluster's stackfile (versioned), job records and cluster status.
//!
//! Keys, in one versioned bucket:
//! - `clusters/<name>/stackfile.yaml`: the desired state; every write is a new version;
//! - `clusters/<name>/status.json`: the last reconcile result, written by the scheduler;
//! - `clusters/<name>/versions/<version-id>.json`: the latest job queued for that
//!   stackfile version, so the scheduler can tell a stale job from the only one;
//! - `jobs/<id>.json`: one record per job;
//! - `clusters/<name>/lock.json`: the cluster's lock (freeze): reason, who, until when
//!   (see [`crate::locks`]);
//! - `proposals/<id>.json`: chat proposals waiting for approval, and decided (see
//!   [`crate::proposals`]);
//! - `leases/<name>.json`: which scheduler reconciles the cluster, until when (see
//!   [`crate::lease`]).
//!
//! Writers never lose updates: creation is `If-None-Match: *` and updates may carry
//! `If-Match: <etag>`, so S3 itself refuses a write based on a stale read. Callers
//! validate names before they reach this module (they become key segments).

use aws_sdk_s3::primitives::ByteStream;
use futures::{StreamExt, TryStreamExt, stream};

use crate::error::{AwsError, ErrorKind};
use crate::jobs::JobRecord;
use crate::stats::reading_body;

/// Metadata key of the token name that wrote a stackfile version.
const META_AUTHOR: &str = "author";
/// Metadata key of the free-text change message (`X-Bosun-Message`).
const META_MESSAGE: &str = "message";
/// Versions shown by [`Store::history`] at most.
pub const HISTORY_LIMIT: usize = 50;

/// The S3 bucket that holds bosun's state.
#[derive(Debug, Clone)]
pub struct Store {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

/// One version of a cluster's stackfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stackfile {
    /// The stored text (YAML).
    pub text: String,
    /// The S3 ETag, quoted, as HTTP sends it.
    pub etag: String,
    /// The S3 version id.
    pub version_id: String,
    /// Who wrote it.
    pub author: Option<String>,
    /// Why.
    pub message: Option<String>,
}

/// Who writes, and why; stored as object metadata.
#[derive(Debug, Clone, Default)]
pub struct WriteMeta {
    /// The caller's token name.
    pub author: String,
    /// The change message, if any.
    pub message: Option<String>,
}

/// The condition a stackfile write is made under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The object must not exist (`If-None-Match: *`).
    Absent,
    /// The current version must have this ETag (`If-Match`).
    Matches(String),
}

/// What a stackfile write produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The new ETag, quoted.
    pub etag: String,
    /// The new version id.
    pub version_id: String,
}

/// One entry of [`Store::history`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Version {
    /// The S3 version id; `POST .../rollback` takes it.
    pub version_id: String,
    /// The version's ETag, quoted.
    pub etag: String,
    /// When it was written, RFC 3339.
    pub time: String,
    /// Who wrote it.
    pub author: Option<String>,
    /// Why.
    pub message: Option<String>,
    /// Size in bytes.
    pub size: i64,
    /// Whether this is the current version.
    pub is_latest: bool,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write's condition did not hold: the object exists (create) or changed (update).
    #[error("the stored object changed or already exists")]
    PreconditionFailed,
    /// The stored JSON could not be read.
    #[error("{key} holds invalid JSON: {source}")]
    Corrupt {
        /// The key.
        key: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// S3 failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// The key of a cluster's stackfile.
pub fn stackfile_key(cluster: &str) -> String {
    format!("clusters/{cluster}/stackfile.yaml")
}

fn status_key(cluster: &str) -> String {
    format!("clusters/{cluster}/status.json")
}

fn version_job_key(cluster: &str, version_id: &str) -> String {
    format!("clusters/{cluster}/versions/{version_id}.json")
}

fn job_key(id: &str) -> String {
    format!("jobs/{id}.json")
}

impl Store {
    /// The store in `bucket`.
    pub fn new(s3: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self { s3, bucket: bucket.into() }
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Whether the bucket answers (`HeadBucket`).
    pub async fn ping(&self) -> Result<(), AwsError> {
        self.s3
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::s3("HeadBucket", format!("bucket {}", self.bucket), e))
    }

    /// The names of the clusters that have a stackfile, sorted.
    pub async fn list_clusters(&self) -> Result<Vec<String>, AwsError> {
        let pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix("clusters/")
            .delimiter("/")
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::s3("ListObjectsV2", format!("bucket {}", self.bucket), e))?;
        let mut names: Vec<String> = pages
            .iter()
            .flat_map(|p| p.common_prefixes())
            .filter_map(|p| p.prefix())
            .filter_map(|p| p.strip_prefix("clusters/")?.strip_suffix('/'))
            .map(str::to_owned)
            .collect();
        names.sort();
        Ok(names)
    }

    /// A cluster's stackfile: the current version, or the given one. `None` when
    /// there is no such cluster or version (nor could there be: a malformed version id).
    pub async fn get_stackfile(&self, cluster: &str, version_id: Option<&str>) -> Result<Option<Stackfile>, AwsError> {
        let key = stackfile_key(cluster);
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .set_version_id(version_id.map(str::to_owned))
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                let err = AwsError::s3("GetObject", format!("s3://{}/{key}", self.bucket), e);
                // S3 answers 400 (InvalidArgument) for a version id that cannot exist.
                let bad_version = version_id.is_some() && err.status() == Some(400);
                return if is_missing(&err) || bad_version { Ok(None) } else { Err(err) };
            }
        };
        let etag = out.e_tag().unwrap_or_default().to_owned();
        let version = out.version_id().unwrap_or("null").to_owned();
        let meta = out.metadata().cloned().unwrap_or_default();
        let bytes = reading_body(out.body.collect())
            .await
            .map_err(|e| AwsError::read_body("GetObject", format!("s3://{}/{key}", self.bucket), e))?;
        Ok(Some(Stackfile {
            text: String::from_utf8_lossy(&bytes.into_bytes()).into_owned(),
            etag,
            version_id: version,
            author: meta.get(META_AUTHOR).map(|s| decode_meta(s)),
            message: meta.get(META_MESSAGE).map(|s| decode_meta(s)),
        }))
    }

    /// Write a new version of a cluster's stackfile under `condition` (none: last
    /// writer wins).
    pub async fn put_stackfile(
        &self,
        cluster: &str,
        text: &str,
        condition: Option<&Condition>,
        meta: &WriteMeta,
    ) -> Result<Written, StoreError> {
        let key = stackfile_key(cluster);
        let mut req = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/yaml")
            .body(ByteStream::from(text.as_bytes().to_vec()))
            .metadata(META_AUTHOR, encode_meta(&meta.author));
        if let Some(m) = &meta.message {
            req = req.metadata(META_MESSAGE, encode_meta(m));
        }
        req = match condition {
            Some(Condition::Absent) => req.if_none_match("*"),
            Some(Condition::Matches(etag)) => req.if_match(etag),
            None => req,
        };
        let out = req.send().await.map_err(|e| AwsError::s3("PutObject", format!("s3://{}/{key}", self.bucket), e));
        match out {
            Ok(out) => Ok(Written {
                etag: out.e_tag().unwrap_or_default().to_owned(),
                version_id: out.version_id().unwrap_or("null").to_owned(),
            }),
            Err(e) if is_precondition_failure(&e) => Err(StoreError::PreconditionFailed),
            Err(e) => Err(e.into()),
        }
    }

    /// The most recent versions of a cluster's stackfile (at most [`HISTORY_LIMIT`]),
    /// newest first, with who wrote them and why.
    pub async fn history(&self, cluster: &str) -> Result<Vec<Version>, AwsError> {
        let key = stackfile_key(cluster);
        let res = format!("s3://{}/{key}", self.bucket);
        let mut versions = Vec::new();
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            let page = self
                .s3
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(&key)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| AwsError::s3("ListObjectVersions", res.clone(), e))?;
            versions.extend(page.versions().iter().filter(|v| v.key() == Some(key.as_str())).cloned());
            if versions.len() >= HISTORY_LIMIT || !page.is_truncated().unwrap_or(false) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
        }
        versions.truncate(HISTORY_LIMIT);
        // Author and message are object metadata, which only HeadObject returns.
        stream::iter(versions)
            .map(|v| {
                let (key, res) = (&key, &res);
                async move {
                    let id = v.version_id().unwrap_or("null").to_owned();
                    let head = self
                        .s3
                        .head_object()
                        .bucket(&self.bucket)
                        .key(key)
                        .version_id(&id)
                        .send()
                        .await
                        .map_err(|e| AwsError::s3("HeadObject", res.clone(), e))?;
                    let meta = head.metadata().cloned().unwrap_or_default();
                    Ok(Version {
                        version_id: id,
                        etag: v.e_tag().unwrap_or_default().to_owned(),
                        time: v.last_modified().map(|t| t.to_string()).unwrap_or_default(),
                        author: meta.get(META_AUTHOR).map(|s| decode_meta(s)),
                        message: meta.get(META_MESSAGE).map(|s| decode_meta(s)),
                        size: v.size().unwrap_or_default(),
                        is_latest: v.is_latest().unwrap_or(false),
                    })
                }
            })
            .buffered(8)
            .try_collect()
            .await
    }

    /// The version id of a cluster's current stackfile (`HeadObject`), or `None`
    /// when the cluster has none.
    pub async fn current_version(&self, cluster: &str) -> Result<Option<String>, AwsError> {
        let key = stackfile_key(cluster);
        match self.s3.head_object().bucket(&self.bucket).key(&key).send().await {
            Ok(out) => Ok(Some(out.version_id().unwrap_or("null").to_owned())),
            Err(e) => {
                let err = AwsError::s3("HeadObject", format!("s3://{}/{key}", self.bucket), e);
                if is_missing(&err) { Ok(None) } else { Err(err) }
            }
        }
    }

    /// Note `job_id` as the latest job queued for a stackfile version.
    pub async fn put_version_job(&self, cluster: &str, version_id: &str, job_id: &str) -> Result<(), AwsError> {
        let body = serde_json::to_vec(&serde_json::json!({ "job_id": job_id })).expect("JSON values always serialise");
        self.put_json(&version_job_key(cluster, version_id), body).await
    }

    /// The latest job queued for a stackfile version, if any.
    pub async fn version_job(&self, cluster: &str, version_id: &str) -> Result<Option<String>, StoreError> {
        #[derive(serde::Deserialize)]
        struct Entry {
            job_id: String,
        }
        let entry: Option<Entry> = self.get_json(&version_job_key(cluster, version_id)).await?;
        Ok(entry.map(|e| e.job_id))
    }

    /// Write a job record.
    pub async fn put_job(&self, record: &JobRecord) -> Result<(), AwsError> {
        let body = serde_json::to_vec(record).expect("a job record always serialises");
        self.put_json(&job_key(&record.job.job_id), body).await
    }

    /// A job record, if it exists.
    pub async fn get_job(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        self.get_json(&job_key(id)).await
    }

    /// A cluster's last reconcile result, if one was recorded.
    pub async fn get_status(&self, cluster: &str) -> Result<Option<serde_json::Value>, StoreError> {
        self.get_json(&status_key(cluster)).await
    }

    /// Write a cluster's last reconcile result.
    pub async fn put_status(&self, cluster: &str, status: &serde_json::Value) -> Result<(), AwsError> {
        let body = serde_json::to_vec(status).expect("JSON values always serialise");
        self.put_json(&status_key(cluster), body).await
    }

    /// Write JSON under `condition`; returns the new ETag.
    pub(crate) async fn put_json_if(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: &Condition,
    ) -> Result<String, StoreError> {
        let req = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body));
        let req = match condition {
            Condition::Absent => req.if_none_match("*"),
            Condition::Matches(etag) => req.if_match(etag),
        };
        match req.send().await {
            Ok(out) => Ok(out.e_tag().unwrap_or_default().to_owned()),
            Err(e) => {
                let e = AwsError::s3("PutObject", format!("s3://{}/{key}", self.bucket), e);
                if is_precondition_failure(&e) { Err(StoreError::PreconditionFailed) } else { Err(e.into()) }
            }
        }
    }

    /// JSON at `key` with its ETag, if it exists.
    pub(crate) async fn get_json_tagged<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<(T, String)>, StoreError> {
        let res = format!("s3://{}/{key}", self.bucket);
        let out = match self.s3.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) => {
                let err = AwsError::s3("GetObject", res, e);
                return if is_missing(&err) { Ok(None) } else { Err(err.into()) };
            }
        };
        let etag = out.e_tag().unwrap_or_default().to_owned();
        let bytes = reading_body(out.body.collect()).await.map_err(|e| AwsError::read_body("GetObject", res, e))?;
        let value = serde_json::from_slice(&bytes.into_bytes())
            .map_err(|source| StoreError::Corrupt { key: key.to_owned(), source })?;
        Ok(Some((value, etag)))
    }

    pub(crate) async fn put_json(&self, key: &str, body: Vec<u8>) -> Result<(), AwsError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::s3("PutObject", format!("s3://{}/{key}", self.bucket), e))
    }

    /// Delete `key` (a delete marker, in the versioned bucket); a missing key is no error.
    pub(crate) async fn delete_key(&self, key: &str) -> Result<(), AwsError> {
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::s3("DeleteObject", format!("s3://{}/{key}", self.bucket), e))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        Ok(self.get_json_tagged(key).await?.map(|(value, _etag)| value))
    }
}

fn is_missing(e: &AwsError) -> bool {
    e.is_not_found()
}

/// 412 for a failed If-Match / If-None-Match; 409 when a concurrent conditional write
/// to the same key won the race.
fn is_precondition_failure(e: &AwsError) -> bool {
    e.kind() == ErrorKind::Conflict
}

/// S3 user metadata travels as HTTP headers, so it must be ASCII: percent-encode the
/// rest (and `%` itself).
fn encode_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode_meta(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_any_text() {
        for s in ["plain", "bump to 1.4.2 (ticket #12)", "déployé 100% ✓", "tab\tand\nnewline"] {
            let e = encode_meta(s);
            assert!(e.bytes().all(|b| (0x20..0x7f).contains(&b)), "{e}");
            assert_eq!(decode_meta(&e), s);
        }
    }

    #[test]
    fn keys() {
        assert_eq!(stackfile_key("prod"), "clusters/prod/stackfile.yaml");
        assert_eq!(job_key("0190"), "jobs/0190.json");
    }
}
