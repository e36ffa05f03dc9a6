//! Errors of the AWS adapter: which resource, which AWS error code, and what was
//! already changed when it happened.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// An AWS call that failed.
#[derive(Debug, thiserror::Error)]
#[error("{operation} on {resource} failed: {code}: {message}")]
pub struct AwsError {
    /// The resource the call was about, e.g. `service web`.
    pub resource: String,
    /// AWS operation, e.g. `CreateService`.
    pub operation: &'static str,
    /// AWS error code, e.g. `InvalidParameterException`, or the transport failure.
    pub code: String,
    /// AWS error message.
    pub message: String,
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
}

impl AwsError {
    /// Build from an SDK error. Uses the error metadata (the modelled code and
    /// message) so that callers never match on message strings.
    pub fn from_sdk<E, R>(operation: &'static str, resource: impl Into<String>, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + HasStatus,
    {
        let status = err.raw_response().and_then(HasStatus::status);
        let (code, message) = match &err {
            SdkError::ServiceError(se) => (
                se.err().code().unwrap_or("Unknown").to_owned(),
                se.err().message().unwrap_or_default().to_owned(),
            ),
            SdkError::TimeoutError(_) => ("Timeout".to_owned(), "the request timed out".to_owned()),
            SdkError::DispatchFailure(_) => {
                ("DispatchFailure".to_owned(), aws_smithy_types::error::display::DisplayErrorContext(&err).to_string())
            }
            other => ("Unknown".to_owned(), aws_smithy_types::error::display::DisplayErrorContext(other).to_string()),
        };
        Self { resource: resource.into(), operation, code, message, status }
    }

    /// Throttling errors: the SDK already retried them with backoff.
    pub fn is_throttling(&self) -> bool {
        matches!(
            self.code.as_str(),
            "Throttling" | "ThrottlingException" | "ThrottledException" | "RequestLimitExceeded" | "TooManyRequestsException"
                | "PriorRequestNotComplete" | "RequestThrottled" | "Throttled"
        )
    }

    /// Whether running again later may succeed: throttling, 5xx and transport errors.
    pub fn is_retryable(&self) -> bool {
        self.is_throttling()
            || self.status.is_some_and(|s| s >= 500)
            || matches!(self.code.as_str(), "Timeout" | "DispatchFailure")
    }
}

/// Access to the HTTP status of a raw response, whatever its type.
pub trait HasStatus {
    /// The status code.
    fn status(&self) -> Option<u16>;
}

impl HasStatus for aws_smithy_runtime_api::http::Response {
    fn status(&self) -> Option<u16> {
        Some(self.status().as_u16())
    }
}

/// Why an apply stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApplyFailure {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// A hook task did not exit 0.
    #[error("{phase}-deploy hook {hook} of service {service} failed: {reason}")]
    Hook {
        /// Service the hook belongs to.
        service: String,
        /// `pre` or `post`.
        phase: &'static str,
        /// Hook name.
        hook: String,
        /// Exit code or stop reason.
        reason: String,
    },
    /// Something the plan relied on is missing (it changed since observation).
    #[error("{0}")]
    Missing(String),
}

/// An apply that stopped part-way, with what it had already changed. Running the
/// same apply again converges: every step looks its resource up first.
#[derive(Debug, thiserror::Error)]
#[error("apply stopped{}", if completed.is_empty() { " before changing anything" } else { " part-way" })]
pub struct ApplyError {
    /// What went wrong.
    #[source]
    pub failure: ApplyFailure,
    /// Changes that completed before the failure, as `<action> <resource>` lines.
    pub completed: Vec<String>,
}

impl ApplyError {
    /// Whether running again later may succeed without changing the stackfile.
    pub fn is_retryable(&self) -> bool {
        matches!(&self.failure, ApplyFailure::Aws(e) if e.is_retryable())
    }
}
