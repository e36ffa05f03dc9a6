//! Errors of the AWS adapter: which call failed on which resource, what kind of failure
//! it was, and what an apply had already changed when it stopped.
//!
//! An [`AwsError`] keeps the SDK's error as its source and sorts it into an
//! [`ErrorKind`] from the service's modelled error variants, so callers decide on the
//! kind (`not found`, `throttled`, ...) and no code outside this crate matches AWS
//! error codes. An error code decides only for errors the service does not model.

use std::error::Error as StdError;
use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::progress::RolloutOutcome;

type BoxError = Box<dyn StdError + Send + Sync>;

/// What kind of failure an AWS call had: what callers decide on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The resource (or its parent: a cluster, a bucket, a queue) does not exist.
    NotFound,
    /// AWS throttled the call; the SDK already retried it with backoff.
    Throttled,
    /// The resource's state does not allow the call: a conditional write lost its
    /// race, a name is taken, the resource is in use.
    Conflict,
    /// The credentials may not make the call.
    AccessDenied,
    /// The call may or may not have taken effect: no answer arrived (a timeout, a
    /// connection that failed or was dropped, a response that could not be read) or AWS
    /// failed on its side (5xx), after the SDK's retries. A create that failed this way
    /// is looked up before it counts as failed.
    Ambiguous,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// The kind of an error the service does not model, by its code and HTTP status.
    fn from_code(code: &str, status: Option<u16>) -> Self {
        match code {
            "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "Throttled"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "PriorRequestNotComplete"
            | "SlowDown" => ErrorKind::Throttled,
            "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "AuthorizationError" => {
                ErrorKind::AccessDenied
            }
            "NoSuchKey" | "NoSuchVersion" | "NoSuchBucket" | "NotFound" | "ResourceNotFoundException" => {
                ErrorKind::NotFound
            }
            "PreconditionFailed" | "ConditionalRequestConflict" | "ConflictException" | "OperationAborted" => {
                ErrorKind::Conflict
            }
            _ => match status {
                Some(404) => ErrorKind::NotFound,
                Some(409 | 412) => ErrorKind::Conflict,
                Some(429) => ErrorKind::Throttled,
                Some(403) => ErrorKind::AccessDenied,
                Some(500..=599) => ErrorKind::Ambiguous,
                _ => ErrorKind::Other,
            },
        }
    }
}

/// A service's error enum (`aws_sdk_ecs::Error`, ...), which every operation's
/// error of that service converts into.
trait ServiceError: StdError + Send + Sync + 'static {
    /// The kind of a modelled error; `None` leaves it to the error's code (errors the
    /// service does not model, and modelled ones this match does not name, whose
    /// codes are then `Other`).
    fn modelled_kind(&self) -> Option<ErrorKind>;
}

impl ServiceError for aws_sdk_ecs::Error {
    fn modelled_kind(&self) -> Option<ErrorKind> {
        use aws_sdk_ecs::Error as E;
        match self {
            E::ClusterNotFoundException(_)
            | E::ServiceNotFoundException(_)
            | E::ServiceNotActiveException(_)
            | E::NamespaceNotFoundException(_)
            | E::TargetNotFoundException(_)
            | E::ResourceNotFoundException(_) => Some(ErrorKind::NotFound),
            E::AccessDeniedException(_) => Some(ErrorKind::AccessDenied),
            E::ConflictException(_) | E::ResourceInUseException(_) | E::UpdateInProgressException(_) => {
                Some(ErrorKind::Conflict)
            }
            _ => None,
        }
    }
}

impl ServiceError for aws_sdk_elasticloadbalancingv2::Error {
    fn modelled_kind(&self) -> Option<ErrorKind> {
        use aws_sdk_elasticloadbalancingv2::Error as E;
        match self {
            E::LoadBalancerNotFoundException(_)
            | E::TargetGroupNotFoundException(_)
            | E::ListenerNotFoundException(_)
            | E::RuleNotFoundException(_)
            | E::ResourceNotFoundException(_) => Some(ErrorKind::NotFound),
            E::DuplicateLoadBalancerNameException(_)
            | E::DuplicateTargetGroupNameException(_)
            | E::DuplicateListenerException(_)
            | E::PriorityInUseException(_)
            | E::ResourceInUseException(_) => Some(ErrorKind::Conflict),
            E::PriorRequestNotCompleteException(_) => Some(ErrorKind::Throttled),
            _ => None,
        }
    }
}

impl ServiceError for aws_sdk_route53::Error {
    fn modelled_kind(&self) -> Option<ErrorKind> {
        use aws_sdk_route53::Error as E;
        match self {
            E::NoSuchHostedZone(_) | E::HostedZoneNotFound(_) => Some(ErrorKind::NotFound),
            E::ThrottlingException(_) | E::PriorRequestNotComplete(_) => Some(ErrorKind::Throttled),
            E::ConcurrentModification(_) => Some(ErrorKind::Conflict),
            E::NotAuthorizedException(_) => Some(ErrorKind::AccessDenied),
            _ => None,
        }
    }
}

impl ServiceError for aws_sdk_cloudwatchlogs::Error {
    fn modelled_kind(&self) -> Option<ErrorKind> {
        use aws_sdk_cloudwatchlogs::Error as E;
        match self {
            E::ResourceNotFoundException(_) => Some(ErrorKind::NotFound),
            E::ResourceAlreadyExistsException(_) | E::OperationAbortedException(_) => Some(ErrorKind::Conflict),
            E::ServiceUnavailableException(_) => Some(ErrorKind::Ambiguous),
            E::ThrottlingException(_) => Some(ErrorKind::Throttled),
            E::AccessDeniedException(_) => Some(ErrorKind::AccessDenied),
            _ => None,
        }
    }
}

impl ServiceError for aws_sdk_applicationautoscaling::Error {
    fn modelled_kind(&self) -> Option<ErrorKind> {
        use aws_sdk_applicationautoscaling::Error as E;
        match self {
            E::ObjectNotFoundException(_) | E::ResourceNotFoundException(_) => Some(ErrorKind::NotFound),
            E::ConcurrentUpdateException(_) => Some(ErrorKind::Conflict),
            E::FailedResourceAccessException(_) => Some(ErrorKind::AccessDenied),
            E::InternalServiceException(_) => Some(ErrorKind::Ambiguous),
            _ => None,
        }
    }
}

impl ServiceError for aws_sdk_servicediscovery::Error {
    fn modelled_kind(&self) -> Option<ErrorKind> {
        use aws_sdk_servicediscovery::Error as E;
        match self {
            E::NamespaceNotFound(_)
            | E::ServiceNotFound(_)
            | E::OperationNotFound(_)
            | E::ResourceNotFoundException(_) => Some(ErrorKind::NotFound),
            E::NamespaceAlreadyExists(_)
            | E::ServiceAlreadyExists(_)
            | E::ResourceInUse(_)
            | E::DuplicateRequest(_) => Some(ErrorKind::Conflict),
            E::RequestLimitExceeded(_) => Some(ErrorKind::Throttled),
            _ => None,
        }
    }
}

impl ServiceError for aws_sdk_s3::Error {
    fn modelled_kind(&self) -> Option<ErrorKind> {
        use aws_sdk_s3::Error as E;
        match self {
            E::NoSuchKey(_) | E::NoSuchBucket(_) | E::NotFound(_) => Some(ErrorKind::NotFound),
            E::BucketAlreadyExists(_) | E::BucketAlreadyOwnedByYou(_) => Some(ErrorKind::Conflict),
            E::AccessDenied(_) => Some(ErrorKind::AccessDenied),
            _ => None,
        }
    }
}

impl ServiceError for aws_sdk_sqs::Error {
    fn modelled_kind(&self) -> Option<ErrorKind> {
        use aws_sdk_sqs::Error as E;
        match self {
            E::QueueDoesNotExist(_) | E::ResourceNotFoundException(_) => Some(ErrorKind::NotFound),
            E::RequestThrottled(_) | E::KmsThrottled(_) => Some(ErrorKind::Throttled),
            E::QueueNameExists(_) | E::QueueDeletedRecently(_) => Some(ErrorKind::Conflict),
            E::KmsAccessDenied(_) => Some(ErrorKind::AccessDenied),
            _ => None,
        }
    }
}

impl ServiceError for aws_sdk_ecr::Error {
    fn modelled_kind(&self) -> Option<ErrorKind> {
        use aws_sdk_ecr::Error as E;
        match self {
            E::RepositoryNotFoundException(_) | E::ImageNotFoundException(_) => Some(ErrorKind::NotFound),
            _ => None,
        }
    }
}

impl ServiceError for aws_sdk_ec2::Error {
    fn modelled_kind(&self) -> Option<ErrorKind> {
        // EC2 models no errors: its codes (`UnauthorizedOperation`, ...) decide.
        None
    }
}

impl ServiceError for aws_sdk_acm::Error {
    fn modelled_kind(&self) -> Option<ErrorKind> {
        use aws_sdk_acm::Error as E;
        match self {
            E::ResourceNotFoundException(_) => Some(ErrorKind::NotFound),
            E::AccessDeniedException(_) => Some(ErrorKind::AccessDenied),
            E::ThrottlingException(_) => Some(ErrorKind::Throttled),
            E::ConflictException(_) | E::ResourceInUseException(_) => Some(ErrorKind::Conflict),
            _ => None,
        }
    }
}

impl ServiceError for aws_sdk_iam::Error {
    fn modelled_kind(&self) -> Option<ErrorKind> {
        use aws_sdk_iam::Error as E;
        match self {
            E::NoSuchEntityException(_) => Some(ErrorKind::NotFound),
            E::ConcurrentModificationException(_) | E::EntityAlreadyExistsException(_) => Some(ErrorKind::Conflict),
            _ => None,
        }
    }
}

impl ServiceError for aws_sdk_secretsmanager::Error {
    fn modelled_kind(&self) -> Option<ErrorKind> {
        use aws_sdk_secretsmanager::Error as E;
        match self {
            E::ResourceNotFoundException(_) => Some(ErrorKind::NotFound),
            E::ResourceExistsException(_) | E::PreconditionNotMetException(_) => Some(ErrorKind::Conflict),
            _ => None,
        }
    }
}

impl ServiceError for aws_sdk_ssm::Error {
    fn modelled_kind(&self) -> Option<ErrorKind> {
        use aws_sdk_ssm::Error as E;
        match self {
            E::ParameterNotFound(_) => Some(ErrorKind::NotFound),
            E::AccessDeniedException(_) => Some(ErrorKind::AccessDenied),
            E::ThrottlingException(_) => Some(ErrorKind::Throttled),
            _ => None,
        }
    }
}

impl ServiceError for aws_sdk_sts::Error {
    fn modelled_kind(&self) -> Option<ErrorKind> {
        use aws_sdk_sts::Error as E;
        match self {
            E::ExpiredTokenException(_) => Some(ErrorKind::AccessDenied),
            _ => None,
        }
    }
}

/// An AWS call that failed.
#[derive(Debug)]
pub struct AwsError {
    /// The resource the call was about, e.g. `service web`.
    resource: String,
    /// AWS operation, e.g. `CreateService`.
    operation: &'static str,
    /// What callers decide on.
    kind: ErrorKind,
    /// AWS error code, e.g. `InvalidParameterException`, or the transport failure.
    /// Shown, never matched outside this module.
    code: String,
    /// AWS error message.
    message: String,
    /// HTTP status, when a response arrived.
    status: Option<u16>,
    /// The call did not get an answer (timeout, connection failure, a body cut
    /// short): trying again may succeed.
    transient: bool,
    /// The SDK's error (or whatever else failed).
    source: Option<BoxError>,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {} failed: {}: {}", self.operation, self.resource, self.code, self.message)
    }
}

impl StdError for AwsError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}

/// Constructors, one per AWS service: each sorts the service's modelled errors.
macro_rules! service_constructors {
    ($($(#[$doc:meta])* $name:ident => $service:ty;)+) => {
        impl AwsError {
            $(
                $(#[$doc])*
                pub(crate) fn $name<E>(operation: &'static str, resource: impl Into<String>, err: SdkError<E, HttpResponse>) -> Self
                where
                    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
                    $service: From<E>,
                {
                    Self::from_sdk::<E, $service>(operation, resource.into(), err)
                }
            )+
        }
    };
}

service_constructors! {
    /// A failed ECS call.
    ecs => aws_sdk_ecs::Error;
    /// A failed ELBv2 call.
    elb => aws_sdk_elasticloadbalancingv2::Error;
    /// A failed Route53 call.
    route53 => aws_sdk_route53::Error;
    /// A failed Cloud Map call.
    cloud_map => aws_sdk_servicediscovery::Error;
    /// A failed Application Auto Scaling call.
    autoscaling => aws_sdk_applicationautoscaling::Error;
    /// A failed CloudWatch Logs call.
    logs => aws_sdk_cloudwatchlogs::Error;
    /// A failed S3 call.
    s3 => aws_sdk_s3::Error;
    /// A failed SQS call.
    sqs => aws_sdk_sqs::Error;
    /// A failed ECR call.
    ecr => aws_sdk_ecr::Error;
    /// A failed EC2 call.
    ec2 => aws_sdk_ec2::Error;
    /// A failed ACM call.
    acm => aws_sdk_acm::Error;
    /// A failed IAM call.
    iam => aws_sdk_iam::Error;
    /// A failed Secrets Manager call.
    secrets_manager => aws_sdk_secretsmanager::Error;
    /// A failed SSM call.
    ssm => aws_sdk_ssm::Error;
    /// A failed STS call.
    sts => aws_sdk_sts::Error;
}

impl AwsError {
    fn from_sdk<E, S>(operation: &'static str, resource: String, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
        S: ServiceError + From<E>,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let fail = |kind, code: &str, message: String, transient, source: BoxError| Self {
            resource: resource.clone(),
            operation,
            kind,
            code: code.to_owned(),
            message,
            status,
            transient,
            source: Some(source),
        };
        match err {
            SdkError::ServiceError(context) => {
                let err = context.into_err();
                let code = err.code().unwrap_or("Unknown").to_owned();
                let message = err.message().unwrap_or_default().to_owned();
                let service = S::from(err);
                let kind = service.modelled_kind().unwrap_or_else(|| ErrorKind::from_code(&code, status));
                fail(kind, &code, message, false, Box::new(service))
            }
            // The request may have reached AWS: a connection can fail after it was sent.
            SdkError::TimeoutError(_) => {
                fail(ErrorKind::Ambiguous, "Timeout", "the request timed out".into(), true, Box::new(err))
            }
            SdkError::DispatchFailure(_) => {
                let message = DisplayErrorContext(&err).to_string();
                fail(ErrorKind::Ambiguous, "DispatchFailure", message, true, Box::new(err))
            }
            // A response arrived but could not be read: AWS did answer.
            SdkError::ResponseError(_) => {
                let message = DisplayErrorContext(&err).to_string();
                fail(ErrorKind::Ambiguous, "ResponseError", message, true, Box::new(err))
            }
            other => {
                let message = DisplayErrorContext(&other).to_string();
                let kind = ErrorKind::from_code("", status);
                fail(kind, "Unknown", message, false, Box::new(other))
            }
        }
    }

    /// A request that could not be built (a bug: the adapter left out a required
    /// field).
    pub(crate) fn build(
        operation: &'static str,
        resource: impl Into<String>,
        err: aws_smithy_types::error::operation::BuildError,
    ) -> Self {
        Self {
            resource: resource.into(),
            operation,
            kind: ErrorKind::Other,
            code: "BuildError".into(),
            message: err.to_string(),
            status: None,
            transient: false,
            source: Some(Box::new(err)),
        }
    }

    /// The body of a response could not be read to its end.
    pub(crate) fn read_body(
        operation: &'static str,
        resource: impl Into<String>,
        err: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self {
            resource: resource.into(),
            operation,
            kind: ErrorKind::Other,
            code: "ReadBody".into(),
            message: err.to_string(),
            status: None,
            transient: true,
            source: Some(Box::new(err)),
        }
    }

    /// A call bosun refuses to make, or an operation AWS reported as failed after it
    /// accepted it; `transient` when trying again later may succeed.
    pub(crate) fn failed(
        operation: &'static str,
        resource: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
        transient: bool,
    ) -> Self {
        Self {
            resource: resource.into(),
            operation,
            kind: ErrorKind::Other,
            code: code.into(),
            message: message.into(),
            status: None,
            transient,
            source: None,
        }
    }

    /// The role a cluster's stackfile names (`aws.role_arn`) could not be assumed.
    pub(crate) fn assume_role(
        role_arn: &str,
        cluster: &str,
        err: aws_credential_types::provider::error::CredentialsError,
    ) -> Self {
        use aws_credential_types::provider::error::CredentialsError as E;
        let transient = matches!(err, E::ProviderTimedOut(_));
        // The STS error (AccessDenied: the role does not exist, or its trust policy does not
        // let bosun in, or wants another external id) is the source of the provider's error.
        let mut message = err.to_string();
        let mut source = StdError::source(&err);
        while let Some(s) = source {
            message = format!("{message}: {s}");
            source = s.source();
        }
        Self {
            resource: format!("role {role_arn} of cluster {cluster}"),
            operation: "AssumeRole",
            kind: if transient { ErrorKind::Ambiguous } else { ErrorKind::AccessDenied },
            code: "AssumeRoleFailed".into(),
            message,
            status: None,
            transient,
            source: Some(Box::new(err)),
        }
    }

    /// What kind of failure it was.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The AWS operation, e.g. `CreateService`.
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// The resource the call was about, e.g. `service web`.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The HTTP status, when a response arrived.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Whether the resource (or its parent) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    /// Throttling errors: the SDK already retried them with backoff.
    pub fn is_throttling(&self) -> bool {
        self.kind == ErrorKind::Throttled
    }

    /// Whether running again later may succeed: throttling, 5xx and transport errors.
    pub fn is_retryable(&self) -> bool {
        self.is_throttling() || self.transient || self.status.is_some_and(|s| s >= 500)
    }
}

/// Why an apply stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApplyFailure {
    /// A desired resource collides with one bosun does not own. Nothing was changed:
    /// apply checks for conflicts before its first call.
    #[error("{resource}: {reason}")]
    Conflict {
        /// The resource, e.g. `service web`.
        resource: String,
        /// Why, and how to resolve it.
        reason: String,
    },
    /// Something the plan relied on is gone: the live state changed since it was
    /// observed. Observing and planning again resolves it.
    #[error("{what} does not exist; run plan again")]
    MissingPrerequisite {
        /// What is missing, e.g. `target group demo-web-lb`.
        what: String,
    },
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// A rollout that post-deploy hooks wait for did not succeed.
    #[error("rollout of service {service} {outcome}; post-deploy hooks not run")]
    Rollout {
        /// The service.
        service: String,
        /// How its rollout ended.
        outcome: RolloutOutcome,
    },
    /// A request could not be built: a bug in bosun (a required field left out),
    /// reported rather than panicking.
    #[error("internal error building an AWS request: {0}")]
    Request(#[source] aws_smithy_types::error::operation::BuildError),
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

#[cfg(test)]
mod tests {
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty())
    }

    fn service_error<E>(err: E, status: u16) -> SdkError<E, HttpResponse> {
        SdkError::service_error(err, response(status))
    }

    #[test]
    fn modelled_errors_are_sorted_by_their_variant() {
        use aws_sdk_ecs::operation::describe_services::DescribeServicesError;
        use aws_sdk_ecs::types::error::ClusterNotFoundException;
        let err = DescribeServicesError::ClusterNotFoundException(
            ClusterNotFoundException::builder()
                .message("Cluster not found.")
                .meta(ErrorMetadata::builder().code("ClusterNotFoundException").message("Cluster not found.").build())
                .build(),
        );
        let e = AwsError::ecs("DescribeServices", "cluster demo", service_error(err, 400));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_string(),
            "DescribeServices on cluster demo failed: ClusterNotFoundException: Cluster not found."
        );
        // The SDK's error is the source, for callers that need more.
        let source = e.source().expect("the SDK error is the source");
        assert!(
            source
                .downcast_ref::<aws_sdk_ecs::Error>()
                .is_some_and(|s| matches!(s, aws_sdk_ecs::Error::ClusterNotFoundException(_)))
        );
    }

    #[test]
    fn unmodelled_errors_are_sorted_by_their_code() {
        use aws_sdk_s3::operation::put_object::PutObjectError;
        let throttled = PutObjectError::generic(
            ErrorMetadata::builder().code("SlowDown").message("Please reduce your request rate.").build(),
        );
        let e = AwsError::s3("PutObject", "s3://b/k", service_error(throttled, 503));
        assert_eq!(e.kind(), ErrorKind::Throttled);
        assert!(e.is_throttling() && e.is_retryable());

        let stale = PutObjectError::generic(ErrorMetadata::builder().code("PreconditionFailed").build());
        let e = AwsError::s3("PutObject", "s3://b/k", service_error(stale, 412));
        assert_eq!(e.kind(), ErrorKind::Conflict);
        assert!(!e.is_retryable());

        use aws_sdk_ecs::operation::create_service::CreateServiceError;
        let denied = CreateServiceError::generic(ErrorMetadata::builder().code("AccessDeniedException").build());
        assert_eq!(
            AwsError::ecs("CreateService", "service web", service_error(denied, 400)).kind(),
            ErrorKind::AccessDenied
        );
        let bad = CreateServiceError::generic(ErrorMetadata::builder().code("InvalidParameterException").build());
        let e = AwsError::ecs("CreateService", "service web", service_error(bad, 400));
        assert_eq!(e.kind(), ErrorKind::Other);
        assert!(!e.is_retryable());
        let unavailable = CreateServiceError::generic(ErrorMetadata::builder().code("ServiceUnavailable").build());
        assert!(AwsError::ecs("CreateService", "service web", service_error(unavailable, 503)).is_retryable());
    }

    #[test]
    fn transport_failures_are_retryable() {
        use aws_sdk_sqs::operation::receive_message::ReceiveMessageError;
        let err: SdkError<ReceiveMessageError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io(Box::new(std::io::Error::other("connection refused"))));
        let e = AwsError::sqs("ReceiveMessage", "queue q", err);
        // The connection may have failed after the request was sent.
        assert_eq!(e.kind(), ErrorKind::Ambiguous);
        assert!(e.is_retryable());
        assert!(e.to_string().starts_with("ReceiveMessage on queue q failed: DispatchFailure: "), "{e}");
    }

    #[test]
    fn failures_that_may_have_taken_effect_are_ambiguous() {
        use aws_sdk_ecs::operation::create_service::CreateServiceError;
        use aws_sdk_ecs::types::error::ServerException;
        let server = CreateServiceError::ServerException(
            ServerException::builder().meta(ErrorMetadata::builder().code("ServerException").build()).build(),
        );
        assert_eq!(
            AwsError::ecs("CreateService", "service web", service_error(server, 500)).kind(),
            ErrorKind::Ambiguous
        );
        let internal = CreateServiceError::generic(ErrorMetadata::builder().code("InternalFailure").build());
        assert_eq!(
            AwsError::ecs("CreateService", "service web", service_error(internal, 500)).kind(),
            ErrorKind::Ambiguous
        );
        let timeout: SdkError<CreateServiceError, HttpResponse> = SdkError::timeout_error("operation timed out");
        assert_eq!(AwsError::ecs("CreateService", "service web", timeout).kind(), ErrorKind::Ambiguous);
        let unreadable: SdkError<CreateServiceError, HttpResponse> =
            SdkError::response_error("body cut short", response(200));
        let e = AwsError::ecs("CreateService", "service web", unreadable);
        assert_eq!(e.kind(), ErrorKind::Ambiguous);
        assert!(e.is_retryable());

        // Throttling and refusals are answers: AWS did not do it.
        let throttled = CreateServiceError::generic(ErrorMetadata::builder().code("ThrottlingException").build());
        assert_eq!(
            AwsError::ecs("CreateService", "service web", service_error(throttled, 400)).kind(),
            ErrorKind::Throttled
        );
        let slow_down = CreateServiceError::generic(ErrorMetadata::builder().code("SlowDown").build());
        assert_eq!(
            AwsError::ecs("CreateService", "service web", service_error(slow_down, 503)).kind(),
            ErrorKind::Throttled
        );
        let bad = CreateServiceError::generic(ErrorMetadata::builder().code("InvalidParameterException").build());
        assert_eq!(AwsError::ecs("CreateService", "service web", service_error(bad, 400)).kind(), ErrorKind::Other);
    }
}
