//! Cluster locks (freezes): while a cluster is locked, the API refuses new writes to it
//! (HTTP 423, unless an admin overrides) and the drift check reports drift instead of
//! healing it.
//!
//! A lock is `clusters/<name>/lock.json`: the reason, who took it, and when it was
//! taken and ends. It expires by itself: [`Store::get_lock`] reads an expired lock as
//! no lock, so nothing has to delete it. Taking a lock replaces any lock in place (an
//! admin extends or rewords a freeze the same way). Expiry is compared against the
//! local clock, as the leases' is ([`crate::lease`]).
//!
//! A lock refuses *new* writes; it is checked, not fenced. Jobs already queued when it
//! was taken still run, and a write that passed the check just before the lock was
//! written still lands.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::AwsError;
use crate::store::{Store, StoreError};

/// The longest reason, in characters.
pub const MAX_REASON_CHARS: usize = 200;
/// The shortest lock a user may take. (The API's tests may lower it: see
/// `bosun_api::Limits::lock_min_ttl`.)
pub const MIN_TTL: Duration = Duration::from_secs(60);
/// The longest lock: a week. A longer freeze is taken again.
pub const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// A lock's TTL when none is given.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// A cluster's lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lock {
    /// The cluster.
    pub cluster: String,
    /// Why, for everyone whose write it refuses; may be empty.
    pub reason: String,
    /// Who took it: a token's name, or a chat user.
    pub locked_by: String,
    /// When, RFC 3339 UTC (whole seconds).
    #[serde(with = "rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: SystemTime,
    /// When it ends by itself, RFC 3339 UTC (whole seconds).
    #[serde(with = "rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: SystemTime,
}

/// Why a lock cannot be taken as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidLock {
    /// The reason is too long.
    #[error("the reason has {0} characters; at most {MAX_REASON_CHARS} are allowed")]
    ReasonTooLong(usize),
    /// The reason has a control character (a newline, a tab, an escape).
    #[error("the reason must be one line of text, without control characters")]
    ReasonControl,
    /// The TTL is below the minimum.
    #[error("a lock lasts at least {}; {} is too short", humantime::format_duration(*.min), humantime::format_duration(*.ttl))]
    TtlTooShort {
        /// What was asked.
        ttl: Duration,
        /// The minimum.
        min: Duration,
    },
    /// The TTL is over [`MAX_TTL`].
    #[error("a lock lasts at most {}; {} is too long", humantime::format_duration(MAX_TTL), humantime::format_duration(*.0))]
    TtlTooLong(Duration),
}

impl Lock {
    /// A lock of `cluster` by `locked_by` for `reason` (trimmed), from `now` (whole
    /// seconds) for `ttl`, which must be from `min_ttl` ([`MIN_TTL`] outside tests) to
    /// [`MAX_TTL`].
    pub fn new(
        cluster: &str,
        locked_by: &str,
        reason: &str,
        ttl: Duration,
        now: SystemTime,
        min_ttl: Duration,
    ) -> Result<Self, InvalidLock> {
        let reason = check_reason(reason)?;
        if ttl < min_ttl {
            return Err(InvalidLock::TtlTooShort { ttl, min: min_ttl });
        }
        if ttl > MAX_TTL {
            return Err(InvalidLock::TtlTooLong(ttl));
        }
        let created_at = whole_seconds(now);
        Ok(Self {
            cluster: cluster.to_owned(),
            reason,
            locked_by: locked_by.to_owned(),
            created_at,
            expires_at: created_at + ttl,
        })
    }

    /// Whether it still holds at `now`.
    pub fn holds_at(&self, now: SystemTime) -> bool {
        now < self.expires_at
    }

    /// `locked by alice until 2025-06-01T12:00:00Z: release freeze` (or `(no reason
    /// given)`), for messages.
    pub fn describe(&self) -> String {
        let reason = if self.reason.is_empty() { "(no reason given)" } else { &self.reason };
        format!("locked by {} until {}: {reason}", self.locked_by, humantime::format_rfc3339_seconds(self.expires_at))
    }
}

/// The reason, trimmed, when it is one line of at most [`MAX_REASON_CHARS`].
pub fn check_reason(reason: &str) -> Result<String, InvalidLock> {
    let reason = reason.trim();
    if reason.chars().any(char::is_control) {
        return Err(InvalidLock::ReasonControl);
    }
    let chars = reason.chars().count();
    if chars > MAX_REASON_CHARS {
        return Err(InvalidLock::ReasonTooLong(chars));
    }
    Ok(reason.to_owned())
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// The key of a cluster's lock.
pub fn lock_key(cluster: &str) -> String {
    format!("clusters/{cluster}/lock.json")
}

impl Store {
    /// The lock of `cluster` that holds at `now`; `None` when there is none, or it has
    /// expired.
    pub async fn get_lock(&self, cluster: &str, now: SystemTime) -> Result<Option<Lock>, StoreError> {
        let stored: Option<(Lock, String)> = self.get_json_tagged(&lock_key(cluster)).await?;
        Ok(stored.map(|(lock, _etag)| lock).filter(|lock| lock.holds_at(now)))
    }

    /// Write a lock, replacing any lock of its cluster.
    pub async fn put_lock(&self, lock: &Lock) -> Result<(), AwsError> {
        let body = serde_json::to_vec(lock).expect("a lock always serialises");
        self.put_json(&lock_key(&lock.cluster), body).await
    }

    /// Remove a cluster's lock (nothing happens when there is none).
    pub async fn delete_lock(&self, cluster: &str) -> Result<(), AwsError> {
        self.delete_key(&lock_key(cluster)).await
    }
}

/// RFC 3339 in UTC with whole seconds, `2025-06-01T12:00:00Z`.
mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_seconds(*t))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_lock_round_trips_as_rfc3339_utc_and_expires_by_itself() {
        let now = at(1_750_000_000) + Duration::from_millis(700);
        let lock = Lock::new("prod", "alice", "  release freeze ", Duration::from_secs(7200), now, MIN_TTL).unwrap();
        let json = serde_json::to_value(&lock).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "cluster": "prod",
                "reason": "release freeze",
                "locked_by": "alice",
                "created_at": "2025-06-15T15:06:40Z",
                "expires_at": "2025-06-15T17:06:40Z",
            })
        );
        assert_eq!(serde_json::from_value::<Lock>(json).unwrap(), lock);
        assert!(lock.holds_at(now));
        assert!(lock.holds_at(at(1_750_007_199)));
        assert!(!lock.holds_at(at(1_750_007_200)));
        assert_eq!(lock.describe(), "locked by alice until 2025-06-15T17:06:40Z: release freeze");
    }

    #[test]
    fn the_ttl_is_bounded() {
        let now = at(1_750_000_000);
        let lock = |ttl: u64, min: Duration| Lock::new("c", "a", "", Duration::from_secs(ttl), now, min);
        assert!(lock(60, MIN_TTL).is_ok());
        assert!(lock(7 * 24 * 3600, MIN_TTL).is_ok());
        assert_eq!(lock(59, MIN_TTL).unwrap_err().to_string(), "a lock lasts at least 1m; 59s is too short");
        assert_eq!(
            lock(7 * 24 * 3600 + 1, MIN_TTL).unwrap_err().to_string(),
            "a lock lasts at most 7days; 7days 1s is too long"
        );
        // Tests lower the minimum; the maximum stays.
        assert!(lock(2, Duration::from_secs(1)).is_ok());
        assert!(matches!(lock(0, Duration::from_secs(1)), Err(InvalidLock::TtlTooShort { .. })));
        assert_eq!(lock(60, MIN_TTL).unwrap().describe(), "locked by a until 2025-06-15T15:07:40Z: (no reason given)");
    }

    #[test]
    fn the_reason_is_one_short_line() {
        assert_eq!(check_reason("x".repeat(200).as_str()).unwrap().len(), 200);
        // Characters, not bytes.
        assert!(check_reason("é".repeat(200).as_str()).is_ok());
        assert_eq!(check_reason(&"x".repeat(201)), Err(InvalidLock::ReasonTooLong(201)));
        for bad in ["two\nlines", "tab\there", "esc\u{1b}[31m", "nul\0"] {
            assert_eq!(check_reason(bad), Err(InvalidLock::ReasonControl), "{bad:?}");
        }
        assert_eq!(check_reason("  \n").unwrap(), "");
    }

    #[test]
    fn key() {
        assert_eq!(lock_key("prod"), "clusters/prod/lock.json");
    }
}
