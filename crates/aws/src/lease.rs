//! Per-cluster leases in S3: at most one scheduler reconciles a cluster at a time.
//!
//! The SQS FIFO queue already hands out one job per cluster at a time, but the
//! resync timer reconciles without a message, and a replica paused past its message's
//! visibility can wake up next to the one that took the job over. The lease fences
//! all of them: `leases/<cluster>.json` names the holder and an expiry, and every
//! change to it is a conditional write (`If-None-Match: *` to create, `If-Match` on
//! the ETag that was read to take over or renew), so two schedulers can never both
//! believe they hold it. A crashed holder's lease simply expires.
//!
//! A conditional write whose answer is lost is retried by the SDK, and the retry fails
//! its condition against the write it retries. So a failed condition is checked: when
//! the lease holds exactly what was written, the write stands (a lost answer must not
//! make a holder think its lease was taken, and stop a reconcile).
//!
//! Expiry is compared against the local clock, so replicas' clocks must agree to well
//! within the TTL (NTP does that; the default TTL is a minute).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::store::{Condition, Store, StoreError};

/// The stored lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stored {
    /// The scheduler that holds it.
    holder: String,
    /// What the holder is doing (a job id, or `resync`), for operators.
    purpose: String,
    /// Milliseconds since the Unix epoch after which anyone may take the lease.
    expires_at_ms: u64,
}

/// A lease this process holds.
#[derive(Debug, Clone)]
pub struct Lease {
    /// The cluster.
    pub cluster: String,
    /// The ETag of the lease object as this holder last wrote it; the next write is
    /// conditional on it.
    etag: String,
    stored: Stored,
    ttl: Duration,
}

/// Why a lease could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Someone else holds it.
    #[error("cluster {cluster} is being reconciled by {holder} ({purpose}) for up to {remaining:?} more")]
    Held {
        /// The cluster.
        cluster: String,
        /// Who.
        holder: String,
        /// Doing what.
        purpose: String,
        /// Until the lease expires, unless renewed.
        remaining: Duration,
    },
    /// The lease was taken over since this holder last wrote it (it had expired).
    #[error("the lease on cluster {0} was lost to another scheduler")]
    Lost(String),
    /// S3 failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn key(cluster: &str) -> String {
    format!("leases/{cluster}.json")
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn expiry(ttl: Duration) -> u64 {
    now_ms().saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
}

impl Store {
    /// Take the lease on `cluster` for `ttl`: create it, or take it over when it has
    /// expired or is already this holder's.
    pub async fn acquire_lease(
        &self,
        cluster: &str,
        holder: &str,
        purpose: &str,
        ttl: Duration,
    ) -> Result<Lease, LeaseError> {
        let key = key(cluster);
        let current: Option<(Stored, String)> = self.get_json_tagged(&key).await?;
        let condition = match &current {
            None => Condition::Absent,
            Some((s, etag)) if s.holder == holder || s.expires_at_ms <= now_ms() => Condition::Matches(etag.clone()),
            Some((s, _)) => {
                return Err(LeaseError::Held {
                    cluster: cluster.to_owned(),
                    holder: s.holder.clone(),
                    purpose: s.purpose.clone(),
                    remaining: Duration::from_millis(s.expires_at_ms.saturating_sub(now_ms())),
                });
            }
        };
        let stored = Stored { holder: holder.to_owned(), purpose: purpose.to_owned(), expires_at_ms: expiry(ttl) };
        match self.put_json_if(&key, body(&stored), &condition).await {
            Ok(etag) => Ok(Lease { cluster: cluster.to_owned(), etag, stored, ttl }),
            Err(StoreError::PreconditionFailed) => match self.written_anyway(cluster, &stored).await? {
                Some(etag) => Ok(Lease { cluster: cluster.to_owned(), etag, stored, ttl }),
                // Someone else created or took it between our read and our write.
                None => Err(LeaseError::Held {
                    cluster: cluster.to_owned(),
                    holder: "another scheduler".to_owned(),
                    purpose: "just taken".to_owned(),
                    remaining: ttl,
                }),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Extend a held lease by its TTL from now. Fails with [`LeaseError::Lost`] when
    /// another scheduler took it over: the caller must stop changing the cluster.
    pub async fn renew_lease(&self, lease: &mut Lease) -> Result<(), LeaseError> {
        let stored = Stored { expires_at_ms: expiry(lease.ttl), ..lease.stored.clone() };
        match self.put_json_if(&key(&lease.cluster), body(&stored), &Condition::Matches(lease.etag.clone())).await {
            Ok(etag) => {
                lease.etag = etag;
                lease.stored = stored;
                Ok(())
            }
            Err(StoreError::PreconditionFailed) => match self.written_anyway(&lease.cluster, &stored).await? {
                Some(etag) => {
                    lease.etag = etag;
                    lease.stored = stored;
                    Ok(())
                }
                None => Err(LeaseError::Lost(lease.cluster.clone())),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Give a lease up, so the next reconcile of the cluster need not wait for it to
    /// expire. Writes an expired lease, conditional on still holding it.
    pub async fn release_lease(&self, lease: Lease) -> Result<(), LeaseError> {
        let stored = Stored { expires_at_ms: 0, ..lease.stored };
        match self.put_json_if(&key(&lease.cluster), body(&stored), &Condition::Matches(lease.etag)).await {
            Ok(_) => Ok(()),
            Err(StoreError::PreconditionFailed) => match self.written_anyway(&lease.cluster, &stored).await? {
                Some(_) => Ok(()),
                None => Err(LeaseError::Lost(lease.cluster)),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// After a conditional write of `wrote` failed its condition: the lease object's ETag
    /// if it holds exactly `wrote`. Then the write took effect and only its answer was
    /// lost, so the SDK's retry met the new ETag; no one else writes this holder's name
    /// with this expiry to the millisecond.
    async fn written_anyway(&self, cluster: &str, wrote: &Stored) -> Result<Option<String>, StoreError> {
        let current: Option<(Stored, String)> = self.get_json_tagged(&key(cluster)).await?;
        Ok(current.and_then(|(s, etag)| (s == *wrote).then_some(etag)))
    }
}

fn body(stored: &Stored) -> Vec<u8> {
    serde_json::to_vec(stored).expect("a lease always serialises")
}
