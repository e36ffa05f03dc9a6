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
//! - Plans (`GET`/`POST .../plan`): a task definition's `env NAME: ...` lines show
//!   [`REDACTED`] in place of the value's digest, so a plan still says which variables
//!   change, but gives nothing to test a guess against offline.
//!
//! A stackfile sent back with [`REDACTED`] as a value (a redacted read edited and
//! PUT) is refused with 422 `redacted_value`, so a marker is never stored as a value.

use bosun_plan::Plan;
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

/// Redact the environment values' digests in the task-definition diffs of `plan`. The
/// plan's hash is left as it is: it is what `bosun apply --plan-hash` takes.
pub fn plan(plan: &mut Plan) {
    for change in &mut plan.changes {
        if let Some(diff) = &mut change.diff {
            *diff = diff_lines(diff);
        }
    }
}

/// A unified diff of task-definition renderings with every `env NAME: VALUE` line's
/// value replaced (`-  env A: (sha256:...)` -> `-  env A: <redacted>`).
fn diff_lines(diff: &str) -> String {
    let mut out = String::with_capacity(diff.len());
    for line in diff.split_inclusive('\n') {
        let (body, newline) = line.strip_suffix('\n').map_or((line, ""), |b| (b, "\n"));
        // A diff line is a one-character marker and the rendering's line, where the
        // container's fields are indented by two spaces.
        let env = body.get(1..).and_then(|rest| rest.strip_prefix("  env "));
        match env.and_then(|e| e.find(": ").map(|i| body.len() - e.len() + i + 2)) {
            Some(value_at) => {
                out.push_str(&body[..value_at]);
                out.push_str(REDACTED);
            }
            None => out.push_str(body),
        }
        out.push_str(newline);
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_lines_of_a_diff_lose_their_values_and_nothing_else() {
        let diff = "\
--- live arn:td:1
+++ desired
@@ -3,4 +3,4 @@
 container web:
   image: nginx:1
-  env DB_PASSWORD: (sha256:1a2b3c4d)
+  env DB_PASSWORD: (sha256:5e6f7a8b)
   env PLAIN: (sha256:00000000)
   secret API: arn:aws:secretsmanager:x
";
        assert_eq!(
            diff_lines(diff),
            "\
--- live arn:td:1
+++ desired
@@ -3,4 +3,4 @@
 container web:
   image: nginx:1
-  env DB_PASSWORD: <redacted>
+  env DB_PASSWORD: <redacted>
   env PLAIN: <redacted>
   secret API: arn:aws:secretsmanager:x
"
        );
        // No trailing newline, and a name with `: ` in it: the rest is hidden.
        assert_eq!(diff_lines("+  env A: B: c"), "+  env A: <redacted>");
        assert_eq!(diff_lines("+  image: env x: y"), "+  image: env x: y");
    }
}
