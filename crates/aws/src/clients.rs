//! The SDK clients bosun uses, built from one `SdkConfig`, and the clients of a cluster
//! that lives in another account or region (a stackfile's `aws:`), through a role bosun
//! assumes there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::{ProvideCredentials, future};
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
use bosun_plan::observed::ObservedTaskDefinition;
use bosun_stackfile::AwsTarget;

use crate::error::AwsError;
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
    /// Application Auto Scaling: the scalable targets of services with `autoscaling:`.
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
    /// CloudWatch Logs: the log groups of `logging.create_group`.
    pub logs: aws_sdk_cloudwatchlogs::Client,
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
    /// What these clients were made from, so that a cluster's own clients (another
    /// region, an assumed role) keep the endpoint, retries and base credentials.
    config: SdkConfig,
    retry: RetryConfig,
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
            autoscaling: client!(aws_sdk_applicationautoscaling),
            logs: client!(aws_sdk_cloudwatchlogs),
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
            config: config.clone(),
            retry,
        }
    }

    /// The clients of `cluster`, which lives where `target` says: these clients when it
    /// names neither a region nor a role; otherwise new ones, in its region, signed with
    /// the credentials of its role (assumed here, once, so that a role that cannot be
    /// assumed fails now with an error that says so, and kept until they expire).
    /// Each call makes clients of their own: callers that serve many clusters keep them
    /// per cluster ([`ClusterClients`]), so one cluster's credentials never sign another's calls.
    pub async fn for_target(&self, cluster: &str, target: &AwsTarget) -> Result<Clients, AwsError> {
        if target.is_home() {
            return Ok(self.clone());
        }
        let mut config = self.config.to_builder();
        if let Some(region) = &target.region {
            config = config.region(Region::new(region.clone()));
        }
        if let Some(role_arn) = &target.role_arn {
            let mut role =
                AssumeRoleProvider::builder(role_arn).session_name(session_name(cluster)).configure(&self.config);
            if let Some(id) = &target.external_id {
                role = role.external_id(id);
            }
            let role = AssumedRole { role: role.build().await, cached: tokio::sync::Mutex::default() };
            role.provide_credentials().await.map_err(|e| AwsError::assume_role(role_arn, cluster, e))?;
            config = config.credentials_provider(SharedCredentialsProvider::new(role));
        }
        Ok(Self::with_retry(&config.build(), self.retry.clone()))
    }

    /// Load the standard AWS configuration from the environment and build clients.
    pub async fn from_env() -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
        Self::new(&config)
    }
}

/// `bosun-CLUSTER`, as STS allows a session name: at most 64 of `[\w+=,.@-]`. It shows
/// in the target account's CloudTrail as who made each call.
fn session_name(cluster: &str) -> String {
    let name: String = format!("bosun-{cluster}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) { c } else { '-' })
        .collect();
    name.chars().take(64).collect()
}

/// How long before they expire assumed credentials are renewed: longer than any single
/// AWS call, shorter than the one-hour session STS gives by default.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// The credentials of an assumed role, kept until [`RENEW_BEFORE`] their expiry, so that
/// one AssumeRole serves every call of the session, however many clients share it.
#[derive(Debug)]
struct AssumedRole {
    role: AssumeRoleProvider,
    cached: tokio::sync::Mutex<Option<Credentials>>,
}

impl ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let mut cached = self.cached.lock().await;
            let fresh = |c: &Credentials| c.expiry().is_none_or(|at| at > SystemTime::now() + RENEW_BEFORE);
            if let Some(c) = cached.as_ref().filter(|c| fresh(c)) {
                return Ok(c.clone());
            }
            let credentials = self.role.provide_credentials().await?;
            *cached = Some(credentials.clone());
            Ok(credentials)
        })
    }
}

/// The clients of each cluster a server works on, made once per cluster and place
/// ([`Clients::for_target`]) and kept. Keyed by cluster, so that two clusters that name
/// the same role still never share credentials, clients or their caches; a stackfile
/// that moves its cluster (another region or role) gets new ones.
#[derive(Debug, Clone)]
pub struct ClusterClients {
    home: Clients,
    by_cluster: Arc<tokio::sync::Mutex<HashMap<String, (AwsTarget, Clients)>>>,
}

impl ClusterClients {
    /// Clusters that name no place get `home`.
    pub fn new(home: Clients) -> Self {
        Self { home, by_cluster: Arc::default() }
    }

    /// The clients of bosun's own account and region (its bucket and queue live there).
    pub fn home(&self) -> &Clients {
        &self.home
    }

    /// The clients of `cluster`, which lives where `target` says.
    pub async fn get(&self, cluster: &str, target: &AwsTarget) -> Result<Clients, AwsError> {
        if target.is_home() {
            return Ok(self.home.clone());
        }
        // Held across the AssumeRole: a second caller for the same cluster waits for these
        // clients instead of assuming the role again.
        let mut by_cluster = self.by_cluster.lock().await;
        if let Some((t, clients)) = by_cluster.get(cluster)
            && t == target
        {
            return Ok(clients.clone());
        }
        let clients = self.home.for_target(cluster, target).await?;
        by_cluster.insert(cluster.to_owned(), (target.clone(), clients.clone()));
        Ok(clients)
    }
}
