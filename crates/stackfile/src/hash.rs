//! The stable hash of a normalised task-definition spec (the `bosun:spec-hash` tag).

use crate::model::TaskDefinitionSpec;

/// Hex digits kept from the BLAKE3 digest: 64 bits is plenty to tell revisions of one
/// family apart, and keeps the tag readable.
const SPEC_HASH_LEN: usize = 16;

/// The hash of a normalised task definition.
///
/// Serialisation is canonical (struct fields in declaration order, maps sorted), so equal
/// specs hash equally across runs and machines. Environment values take part in the hash
/// but are never rendered from it.
pub fn spec_hash(spec: &TaskDefinitionSpec) -> String {
    // One buffer, one update: BLAKE3 is fastest fed large chunks.
    let canonical = serde_json::to_vec(spec).expect("a spec of strings and numbers always serialises");
    let mut hex = blake3::hash(&canonical).to_hex().to_string();
    hex.truncate(SPEC_HASH_LEN);
    hex
}
