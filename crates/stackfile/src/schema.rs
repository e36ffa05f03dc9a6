//! The JSON Schema of the stackfile, generated from the [`raw`](crate::raw) types.

use std::sync::OnceLock;

use serde_json::Value;

use crate::raw::RawStackfile;

/// Identifies the schema for editors that cache schemas by id.
const SCHEMA_ID: &str = "https://bosun.invalid/schemas/stackfile.json";

/// The schema as generated, shared by the structural walker.
pub(crate) fn raw_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| schemars::schema_for!(RawStackfile).to_value())
}

/// JSON Schema (draft 2020-12) of the stackfile, for editors (`bosun schema`).
///
/// Descriptions come from the doc comments of the raw types. The schema describes the
/// syntax; the rules that span fields (Fargate sizes, references between load balancers
/// and services, unique priorities, ...) are checked by [`validate`](crate::validate) only.
pub fn json_schema() -> Value {
    let mut schema = raw_schema().clone();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("$id".into(), Value::String(SCHEMA_ID.into()));
        obj.insert("title".into(), Value::String("bosun stackfile".into()));
    }
    schema
}
