//! Cluster locks (freezes), as the API and the chat commands use them: take one, clear
//! one, and refuse a write to a locked cluster with 423 `cluster_locked`.
//!
//! Every write to a cluster (`PUT .../config`, `PUT`/`DELETE .../services/{s}`,
//! `POST .../deploy`, `POST .../rollback`, and chat's changes) calls
//! [`ensure_unlocked`] after validating the request and before writing anything: a
//! refused write stores nothing in S3 and sends nothing to SQS. An admin may override a
//! lock with `X-Bosun-Override-Lock: true` (the header means nothing from another
//! role); an override is logged. The check costs one S3 `GetObject` per write.
//!
//! The lock is checked, not fenced: a write that passed the check just before a lock
//! was taken still lands, and jobs queued before the lock still run (see
//! [`bosun_aws::locks`]).

use std::time::{Duration, SystemTime};

use bosun_aws::locks::{DEFAULT_TTL, Lock};
use http::{HeaderMap, StatusCode};

use crate::auth::{Caller, Role};
use crate::error::ApiError;

/// The header with which an admin writes to a locked cluster.
pub const OVERRIDE_HEADER: &str = "x-bosun-override-lock";

/// Whether the request overrides a lock: `X-Bosun-Override-Lock: true` from an admin.
/// From any other role the header is ignored, and the write is refused like any other.
pub(crate) fn overrides(caller: &Caller, headers: &HeaderMap) -> bool {
    caller.role == Role::Admin && override_header(headers)
}

fn override_header(headers: &HeaderMap) -> bool {
    headers.get(OVERRIDE_HEADER).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// `Ok` when `cluster` is not locked, or `admin_override` is set (the caller is an admin
/// who asked to override: see [`overrides`]); else 423 `cluster_locked`, naming the
/// reason, who locked it and until when.
pub(crate) async fn ensure_unlocked(state: &crate::State, cluster: &str, admin_override: bool) -> Result<(), ApiError> {
    let Some(lock) = state.store.get_lock(cluster, SystemTime::now()).await? else {
        return Ok(());
    };
    if admin_override {
        tracing::warn!(cluster, lock = %lock.describe(), "a write overrides the cluster's lock");
        return Ok(());
    }
    Err(locked(&lock))
}

/// 423 for a write to a cluster under `lock`; `details` holds the lock.
pub(crate) fn locked(lock: &Lock) -> ApiError {
    ApiError::new(
        StatusCode::LOCKED,
        "cluster_locked",
        format!(
            "cluster {} is {}; nothing was changed (an admin may override with X-Bosun-Override-Lock: true)",
            lock.cluster,
            lock.describe()
        ),
    )
    .with_details(vec![serde_json::to_value(lock).expect("a lock always serialises")])
}

/// Lock `cluster`, which must exist, for `ttl` (`None`: an hour) with `reason` (may be
/// empty), replacing any lock in place. 400 for a reason or TTL out of bounds, 404 for
/// a cluster that does not exist.
pub(crate) async fn set_lock(
    state: &crate::State,
    cluster: &str,
    locked_by: &str,
    reason: &str,
    ttl: Option<Duration>,
) -> Result<Lock, ApiError> {
    let ttl = ttl.unwrap_or(DEFAULT_TTL);
    let lock = Lock::new(cluster, locked_by, reason, ttl, SystemTime::now(), state.limits.lock_min_ttl)
        .map_err(|e| ApiError::bad_request("invalid_lock", e.to_string()))?;
    exists(state, cluster).await?;
    state.store.put_lock(&lock).await?;
    tracing::info!(cluster, lock = %lock.describe(), "cluster locked");
    Ok(lock)
}

/// Unlock `cluster`, which must exist. `false` when it was not locked (nothing is
/// written then).
pub(crate) async fn clear_lock(state: &crate::State, cluster: &str) -> Result<bool, ApiError> {
    exists(state, cluster).await?;
    let Some(lock) = state.store.get_lock(cluster, SystemTime::now()).await? else {
        return Ok(false);
    };
    state.store.delete_lock(cluster).await?;
    tracing::info!(cluster, was = %lock.describe(), "cluster unlocked");
    Ok(true)
}

/// The lock of `cluster` (which must exist: 404 otherwise) that holds now, if any.
pub(crate) async fn current_lock(state: &crate::State, cluster: &str) -> Result<Option<Lock>, ApiError> {
    let lock = state.store.get_lock(cluster, SystemTime::now()).await?;
    if lock.is_none() {
        exists(state, cluster).await?;
    }
    Ok(lock)
}

/// 404 unless `cluster` has a stackfile (one `HeadObject`).
async fn exists(state: &crate::State, cluster: &str) -> Result<(), ApiError> {
    match state.store.current_version(cluster).await? {
        Some(_) => Ok(()),
        None => Err(crate::write::no_cluster(cluster)),
    }
}

/// A lock's TTL as a caller writes it: a humantime duration (`90m`, `2h`, `1d`).
pub(crate) fn parse_ttl(text: &str) -> Result<Duration, ApiError> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        let shown: String = text.chars().take(32).collect();
        ApiError::bad_request("invalid_lock", format!("ttl {shown:?} is not a duration such as 30m, 2h or 1d: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn caller(role: Role) -> Caller {
        Caller { name: "someone".into(), role }
    }

    #[test]
    fn only_an_admin_s_true_header_overrides() {
        let mut headers = HeaderMap::new();
        assert!(!overrides(&caller(Role::Admin), &headers));
        for yes in ["true", "TRUE", " true "] {
            headers.insert(OVERRIDE_HEADER, HeaderValue::from_str(yes).unwrap());
            assert!(overrides(&caller(Role::Admin), &headers), "{yes:?}");
            assert!(!overrides(&caller(Role::Deployer), &headers), "{yes:?}");
            assert!(!overrides(&caller(Role::Viewer), &headers), "{yes:?}");
        }
        for no in ["false", "1", "yes", ""] {
            headers.insert(OVERRIDE_HEADER, HeaderValue::from_str(no).unwrap());
            assert!(!overrides(&caller(Role::Admin), &headers), "{no:?}");
        }
    }

    #[test]
    fn a_refusal_names_the_reason_who_and_until_when() {
        let lock = Lock::new(
            "prod",
            "alice",
            "release freeze",
            Duration::from_secs(3600),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000),
            bosun_aws::locks::MIN_TTL,
        )
        .unwrap();
        let e = locked(&lock);
        assert_eq!(e.status, StatusCode::LOCKED);
        assert_eq!(e.code, "cluster_locked");
        assert_eq!(
            e.message,
            "cluster prod is locked by alice until 2025-06-15T16:06:40Z: release freeze; nothing was changed \
             (an admin may override with X-Bosun-Override-Lock: true)"
        );
        assert_eq!(e.details[0]["expires_at"], "2025-06-15T16:06:40Z");
    }

    #[test]
    fn ttls_are_humantime() {
        assert_eq!(parse_ttl("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_ttl(" 1h 30m ").unwrap(), Duration::from_secs(5400));
        let e = parse_ttl("soon").unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "invalid_lock"));
        assert!(e.message.starts_with("ttl \"soon\" is not a duration"), "{}", e.message);
    }
}
