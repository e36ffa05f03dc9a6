//! The SDK clients bosun uses, built from one `SdkConfig`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
use bosun_plan::observed::ObservedTaskDefinition;

use crate::stats::{CallStats, CountingInterceptor};

/// Attempts per call. The SDK's standard retry mode backs off exponentially with
/// jitter on throttling, 5xx and transport errors. A retried create whose first answer
/// was lost does not make its resource twice: see [`crate::apply`].
const MAX_ATTEMPTS: u32 = 5;

/// The SDK clients of one account and region, sharing call counters and a cache of
/// task definitions (immutable, so safe to keep for the life of the process).
#[derive(Clone, Debug)]
pub struct Clients {
    /// ECS.
    pub ecs: aws_sdk_ecs::Client,
    /// Elastic Load Balancing v2.
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    /// Route53.
    pub route53: aws_sdk_route53::Client,
    /// Cloud Map.
    pub discovery: aws_sdk_servicediscovery::Client,
    /// S3 (path-style addressing, which the emulator and every S3 endpoint accept).
    pub s3: aws_sdk_s3::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// ECR.
    pub ecr: aws_sdk_ecr::Client,
    /// EC2: preflight reads of the VPC, subnets and security groups.
    pub ec2: aws_sdk_ec2::Client,
    /// ACM: preflight reads of listener certificates.
    pub acm: aws_sdk_acm::Client,
    /// IAM: preflight reads of task and execution roles.
    pub iam: aws_sdk_iam::Client,
    /// Secrets Manager: preflight reads of secrets' metadata, never their values.
    pub secrets: aws_sdk_secretsmanager::Client,
    /// SSM: preflight reads of parameters' metadata, never their values.
    pub ssm: aws_sdk_ssm::Client,
    /// STS: the caller's account, which tells the roles and secrets preflight can read.
    pub sts: aws_sdk_sts::Client,
    /// The region, as configured.
    pub region: Option<String>,
    /// Calls made through these clients.
    pub stats: CallStats,
    /// Task definitions read so far, by ARN.
    pub(crate) td_cache: Arc<Mutex<HashMap<String, ObservedTaskDefinition>>>,
}

impl Clients {
    /// Build the clients from a loaded SDK configuration (region, credentials and
    /// `AWS_ENDPOINT_URL` come from the standard chain).
    pub fn new(config: &SdkConfig) -> Self {
        Self::with_retry(config, RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
    }

    /// Clients of the AWS API at `endpoint_url`, with fixed credentials and region and
    /// no retries, so that a call that cannot connect fails at once: for tests of what
    /// callers make of an AWS that does not answer (a closed port).
    pub fn unretried(endpoint_url: &str) -> Self {
        let credentials = Credentials::new("test", "test", None, None, "static");
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint_url)
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        Self::with_retry(&config, RetryConfig::disabled())
    }

    fn with_retry(config: &SdkConfig, retry: RetryConfig) -> Self {
        let stats = CallStats::default();
        macro_rules! client {
            ($krate:ident) => {{
                let conf = $krate::config::Builder::from(config)
                    .retry_config(retry.clone())
                    .interceptor(CountingInterceptor(stats.clone()))
                    .build();
                $krate::Client::from_conf(conf)
            }};
        }
        Self {
            ecs: client!(aws_sdk_ecs),
            elb: client!(aws_sdk_elasticloadbalancingv2),
            route53: client!(aws_sdk_route53),
            discovery: client!(aws_sdk_servicediscovery),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(config)
                    .retry_config(retry.clone())
                    .interceptor(CountingInterceptor(stats.clone()))
                    .force_path_style(true)
                    .build(),
            ),
            sqs: client!(aws_sdk_sqs),
            ecr: client!(aws_sdk_ecr),
            ec2: client!(aws_sdk_ec2),
            acm: client!(aws_sdk_acm),
            iam: client!(aws_sdk_iam),
            secrets: client!(aws_sdk_secretsmanager),
            ssm: client!(aws_sdk_ssm),
            sts: client!(aws_sdk_sts),
            region: config.region().map(|r| r.as_ref().to_owned()),
            stats,
            td_cache: Arc::default(),
        }
    }

    /// Load the standard AWS configuration from the environment and build clients.
    pub async fn from_env() -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
        Self::new(&config)
    }
}
