//! Chat proposals in the state bucket, at `proposals/<id>.json`. Each change of state is
//! a write conditional on the ETag that was read, so of two approvals exactly one wins.

use bosun_chat::Proposal;

use crate::store::{Condition, Store, StoreError};

fn proposal_key(id: &str) -> String {
    format!("proposals/{id}.json")
}

impl Store {
    /// A proposal and its ETag, if it exists. Callers check the id is a UUID first.
    pub async fn get_proposal(&self, id: &str) -> Result<Option<(Proposal, String)>, StoreError> {
        self.get_json_tagged(&proposal_key(id)).await
    }

    /// Write a proposal under `condition` (absent to create it, its ETag to change
    /// it); returns the new ETag. [`StoreError::PreconditionFailed`]: someone else
    /// changed it first.
    pub async fn put_proposal(&self, proposal: &Proposal, condition: &Condition) -> Result<String, StoreError> {
        let body = serde_json::to_vec(proposal).expect("a proposal always serialises");
        self.put_json_if(&proposal_key(&proposal.id), body, condition).await
    }
}
