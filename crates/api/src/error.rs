//! Every error the API returns: a status and a JSON body
//! `{"error": CODE, "message": TEXT, "details": [...]}`.
//!
//! A 4xx says what the caller must fix. A 5xx says only that something went wrong
//! (with any advice the caller can act on) and adds the request's id as `request_id`:
//! its cause, which may name buckets, keys, ARNs or carry AWS's own error text, goes
//! to the log under that id and never into the body.

use std::fmt;

use axum::Json;
use axum::response::{IntoResponse, Response};
use bosun_aws::AwsError;
use bosun_aws::store::StoreError;
use http::{HeaderName, HeaderValue, StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

use crate::request_id::RequestId;

/// The message of a 5xx without advice for the caller.
const SOMETHING_WENT_WRONG: &str = "something went wrong on the server; its log has the cause under this request_id";

/// An error response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable, machine-readable code, e.g. `invalid_stackfile`.
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
    /// Structured details, e.g. one entry per validation error.
    pub details: Vec<serde_json::Value>,
    /// What went wrong inside, for a 5xx: logged with the request id, never sent, as
    /// it can name the bucket, keys and ARNs, and quote AWS.
    cause: Option<String>,
    /// Headers the answer needs besides the body (`Retry-After` on a 429, `Connection:
    /// close` when the rest of the request will not be read).
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable code.
    pub error: String,
    /// What went wrong.
    pub message: String,
    /// Structured details (validation errors carry `path`, `line`, `column`, `message`).
    #[schema(value_type = Vec<Object>)]
    pub details: Vec<serde_json::Value>,
    /// On a 5xx only: the request's id (as in the `x-request-id` header), under which
    /// the server logged the cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ApiError {
    /// An error with no details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: Vec::new(), cause: None, headers: Vec::new() }
    }

    /// A failure on the server's side (a 5xx `status`). The body says only that
    /// something went wrong, plus `advice`: what the caller can do, a fixed text with
    /// no internal detail. `cause` is logged under the request's id.
    pub fn internal(
        status: StatusCode,
        code: &'static str,
        advice: Option<&'static str>,
        cause: impl fmt::Display,
    ) -> Self {
        debug_assert!(status.is_server_error(), "{status} is not a server error");
        let message = match advice {
            None => SOMETHING_WENT_WRONG.to_owned(),
            Some(advice) => {
                format!("something went wrong on the server: {advice}; its log has the cause under this request_id")
            }
        };
        Self { cause: Some(cause.to_string()), ..Self::new(status, code, message) }
    }

    /// What went wrong inside, for a 5xx made with [`ApiError::internal`].
    pub(crate) fn cause(&self) -> Option<&str> {
        self.cause.as_deref()
    }

    /// Attach details.
    pub fn with_details(mut self, details: Vec<serde_json::Value>) -> Self {
        self.details = details;
        self
    }

    /// Send this header with the answer.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// 400.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// A stackfile that does not validate: 422 with every error, located (a limit it
    /// is over is named in its message).
    pub fn invalid_stackfile(diags: &bosun_stackfile::Diagnostics) -> Self {
        let details = diags
            .0
            .iter()
            .map(|d| serde_json::json!({ "path": d.path, "line": d.line, "column": d.column, "message": d.message }))
            .collect();
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_stackfile",
            format!("the stackfile is invalid ({} error(s)); nothing was stored", diags.0.len()),
        )
        .with_details(details)
    }

    /// AWS failed: 502 `aws_error`; the log names the operation and resource.
    pub fn aws(e: &AwsError) -> Self {
        Self::internal(StatusCode::BAD_GATEWAY, "aws_error", None, e)
    }

    /// A stored record (a stackfile, a job record, a status) that cannot be read:
    /// 500 `corrupt_record`; `cause` says which and why.
    pub fn corrupt(cause: impl fmt::Display) -> Self {
        Self::internal(StatusCode::INTERNAL_SERVER_ERROR, "corrupt_record", None, cause)
    }
}

impl From<AwsError> for ApiError {
    fn from(e: AwsError) -> Self {
        Self::aws(&e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::PreconditionFailed => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "the stackfile changed since it was read (stale ETag); GET it again and retry",
            ),
            StoreError::Corrupt { .. } => Self::corrupt(&e),
            StoreError::Aws(e) => Self::aws(&e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (message, request_id) = if self.status.is_server_error() {
            // A 5xx made without `internal` keeps its text for the log only.
            let (message, cause) = match self.cause {
                Some(cause) => (self.message, cause),
                None => (SOMETHING_WENT_WRONG.to_owned(), self.message),
            };
            let id = RequestId::current();
            tracing::error!(request_id = %id, status = self.status.as_u16(), code = self.code, cause = %cause, "request failed");
            (message, Some(id.to_string()))
        } else {
            (self.message, None)
        };
        let body = ErrorBody { error: self.code.to_owned(), message, details: self.details, request_id };
        let mut resp = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp.headers_mut().extend(self.headers);
        resp
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;

    use super::*;

    async fn body_of(e: ApiError) -> serde_json::Value {
        let bytes = e.into_response().into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_4xx_says_what_to_fix_and_has_no_request_id() {
        let resp = ApiError::not_found("no job x").into_response();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], br#"{"error":"not_found","message":"no job x","details":[]}"#);
    }

    #[tokio::test]
    async fn a_5xx_sends_its_advice_and_request_id_but_not_its_cause() {
        let id = RequestId::new();
        let e = ApiError::internal(
            StatusCode::SERVICE_UNAVAILABLE,
            "enqueue_failed",
            Some("the stackfile version is stored, but its job could not be queued (POST .../deploy queues it again)"),
            "SendMessage on queue https://sqs.example/1234/jobs.fifo failed",
        );
        assert_eq!(
            id.scope(body_of(e)).await,
            serde_json::json!({
                "error": "enqueue_failed",
                "message": "something went wrong on the server: the stackfile version is stored, but its job could not be queued (POST .../deploy queues it again); its log has the cause under this request_id",
                "details": [],
                "request_id": id.to_string(),
            })
        );
    }

    #[tokio::test]
    async fn a_5xx_made_with_new_keeps_its_text_for_the_log() {
        let e = ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt_record", "jobs/x.json holds invalid JSON");
        let body = body_of(e).await;
        assert_eq!(body["message"], SOMETHING_WENT_WRONG);
        assert!(body["request_id"].as_str().is_some_and(|id| uuid::Uuid::try_parse(id).is_ok()), "{body}");
    }
}
