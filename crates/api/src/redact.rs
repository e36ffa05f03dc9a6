//! What a caller may read of environment values.
//!
//! A viewer never reads an environment value; a deployer does not either when the
//! server runs with `--redact-env`. Everywhere the API shows a stackfile or what was
//! derived from one, such a caller gets the same redaction:
//! - `GET .../config`, JSON and YAML: every environment value (of `defaults` and of each
//!   service) and the notification webhook URLs, which are credentials, read
//!   [`REDACTED`]. Names, images, secrets' ARNs and the rest stay. The redacted YAML is
//!   made from the redacted document, without the stored text's comments. The
//!   renderings are kept apart in [`crate::derived`], so one role's is never served to
//!   another.
//! - Plans never show an environment value, to anyone (`(hidden)`, `(value changed)`).
//!   A candidate such a caller previews (`POST .../plan`) is planned without comparing
//!   its values ([`bosun_plan::blind`]): whether a variable's value would change is the
//!   one thing a plan could still tell, and it would confirm a guessed value.
//!
//! A stackfile sent back with [`REDACTED`] as a value (a redacted read edited and
//! PUT) is refused with 422 `redacted_value`, so a marker is never stored as a value.

pub use bosun_stackfile::document::REDACTED;
use http::StatusCode;

use crate::auth::{Caller, Role};
use crate::error::ApiError;

/// Whether `caller` gets redacted views on this server.
pub fn hides_env(state: &crate::AppState, caller: &Caller) -> bool {
    match caller.role {
        Role::Viewer => true,
        Role::Deployer => state.redact_env,
        Role::Admin => false,
    }
}

/// 422 when a stackfile holds [`REDACTED`] where an environment value or a webhook
/// URL goes. A text that does not parse has none here; the validation that follows
/// reports it.
pub fn refuse_markers(text: &str) -> Result<(), ApiError> {
    let found = bosun_stackfile::document::redaction_markers(text).unwrap_or_default();
    if found.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "redacted_value",
        format!(
            "the stackfile has {} value(s) that read `{REDACTED}`, which a redacted read shows in place of a value; send the values; nothing was done",
            found.len()
        ),
    )
    .with_details(
        found
            .iter()
            .map(|d| serde_json::json!({ "path": d.path, "line": d.line, "column": d.column, "message": d.message }))
            .collect(),
    ))
}
