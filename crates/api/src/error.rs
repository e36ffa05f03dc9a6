//! Every error the API returns: a status and a JSON body
//! `{"error": CODE, "message": TEXT, "details": [...]}`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use bosun_aws::AwsError;
use bosun_aws::store::StoreError;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

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
}

impl ApiError {
    /// An error with no details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// Attach details.
    pub fn with_details(mut self, details: Vec<serde_json::Value>) -> Self {
        self.details = details;
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

    /// A stackfile that does not validate: 400 with every error.
    pub fn invalid_stackfile(diags: &bosun_stackfile::Diagnostics) -> Self {
        let details = diags
            .0
            .iter()
            .map(|d| serde_json::json!({ "path": d.path, "line": d.line, "column": d.column, "message": d.message }))
            .collect();
        Self::bad_request(
            "invalid_stackfile",
            format!(
                "the stackfile is invalid ({} error(s)); nothing was stored",
                diags.0.len()
            ),
        )
        .with_details(details)
    }

    /// AWS failed: 502, naming the operation and resource (never credentials).
    pub fn aws(e: &AwsError) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "aws_error", e.to_string())
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
            StoreError::Corrupt { .. } => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "corrupt_record",
                e.to_string(),
            ),
            StoreError::Aws(e) => Self::aws(&e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let unauthorized = self.status == StatusCode::UNAUTHORIZED;
        let body = ErrorBody {
            error: self.code.to_owned(),
            message: self.message,
            details: self.details,
        };
        let mut resp = (self.status, Json(body)).into_response();
        if unauthorized {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}
