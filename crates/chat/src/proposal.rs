//! A proposal: a change asked for in chat, validated and planned against live AWS,
//! waiting for approval. The API stores it (`proposals/<id>.json`) and changes its
//! state only by conditional writes, so of two approvals exactly one wins. An approval
//! applies the candidate exactly when the stackfile is still the base version and the
//! plan still has the proposal's hash.

use serde::{Deserialize, Serialize};

use crate::reply::{Card, CardState};

/// The longest a proposal waits for approval.
pub const MAX_TTL_SECS: u64 = 30 * 60;

/// One proposal, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Its id (a UUID): the only thing its buttons carry.
    pub id: String,
    /// The cluster it changes.
    pub cluster: String,
    /// The command that asked for it, in canonical form (`deploy demo web:1.28`).
    pub command: String,
    /// The job reason its approval queues: `chat_deploy`, `chat_scale`, `chat_rollback`.
    pub reason: String,
    /// The stackfile version the candidate was made from: the approval writes only if
    /// it is still the current one.
    pub base_version: String,
    /// That version's ETag: the approval's write is conditional on it.
    pub base_etag: String,
    /// The stackfile to write on approval.
    pub candidate: String,
    /// The hash of the plan the requester was shown: what the approval applies.
    pub plan_hash: String,
    /// The plan's summary line.
    pub summary: String,
    /// The start of the rendered plan.
    pub plan_excerpt: String,
    /// One line per service it changes.
    pub changes: Vec<String>,
    /// The chat user who asked.
    pub requester: String,
    /// The channel it was asked in.
    pub channel: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC: at most [`MAX_TTL_SECS`] after `created_at`.
    pub expires_at: String,
    /// Where it stands.
    pub state: CardState,
    /// Who approved or cancelled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// The job its approval queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Why it failed, went stale or expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Proposal {
    /// Whether it waits for approval past its expiry. `now` is RFC 3339 UTC, as
    /// `expires_at` is; both have the same format, so they compare as text.
    pub fn is_expired(&self, now: &str) -> bool {
        self.state == CardState::Proposed && now >= self.expires_at.as_str()
    }

    /// The card that shows it.
    pub fn card(&self, plan_url: Option<String>) -> Card {
        Card {
            proposal_id: self.id.clone(),
            cluster: self.cluster.clone(),
            state: self.state,
            requester: self.requester.clone(),
            decided_by: self.decided_by.clone(),
            changes: self.changes.clone(),
            summary: self.summary.clone(),
            plan_hash: self.plan_hash.clone(),
            plan_excerpt: self.plan_excerpt.clone(),
            plan_url,
            job_id: self.job_id.clone(),
            detail: self.detail.clone(),
            expires_at: self.expires_at.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal() -> Proposal {
        Proposal {
            id: "0190c6e2-7b8a-7c3d-9e4f-123456789abc".into(),
            cluster: "demo".into(),
            command: "deploy demo web:1.28".into(),
            reason: "chat_deploy".into(),
            base_version: "v1".into(),
            base_etag: "\"e1\"".into(),
            candidate: "services: {}".into(),
            plan_hash: "ab".repeat(32),
            summary: "1 to update".into(),
            plan_excerpt: "~ service web".into(),
            changes: vec!["web: nginx:1.27 -> nginx:1.28".into()],
            requester: "U1".into(),
            channel: "C1".into(),
            created_at: "2026-11-27T10:00:00.000Z".into(),
            expires_at: "2026-11-27T10:30:00.000Z".into(),
            state: CardState::Proposed,
            decided_by: None,
            job_id: None,
            detail: None,
        }
    }

    #[test]
    fn a_waiting_proposal_expires_at_its_time_and_a_decided_one_never() {
        let mut p = proposal();
        assert!(!p.is_expired("2026-11-27T10:29:59.999Z"));
        assert!(p.is_expired("2026-11-27T10:30:00.000Z"));
        p.state = CardState::Approved;
        assert!(!p.is_expired("2026-11-28T00:00:00.000Z"));
    }

    #[test]
    fn round_trips_as_json() {
        let p = proposal();
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["state"], "proposed");
        assert!(v.get("job_id").is_none());
        assert_eq!(serde_json::from_value::<Proposal>(v).unwrap(), p);
    }
}
