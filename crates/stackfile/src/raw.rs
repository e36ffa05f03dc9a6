//! The accepted stackfile syntax as serde types: the single source of the JSON schema.
//!
//! These types say what may be written, not what it means. Every field is optional
//! unless the syntax itself needs it, integers are wide (`i64`) so that range errors are
//! reported by the semantic pass with a useful message, and scalars whose source text
//! matters (environment values, ports) are kept as text. `deny_unknown_fields` puts
//! `additionalProperties: false` into the schema, which the structural walker turns into
//! "unknown key" diagnostics.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

use crate::limits::{MAX_ECS_NAME, MAX_SERVICES};

/// EC2 ids (`vpc-`, `subnet-`, `sg-` and up to 17 hex digits: at most 24 characters);
/// bosun allows 64.
const MAX_EC2_ID: usize = 64;
/// Subnets of an awsvpc configuration (ECS: "up to 16").
const MAX_SUBNETS: usize = 16;
/// ARNs: IAM roles, ACM certificates, Secrets Manager secrets and SSM parameters are at
/// most 2048 characters.
const MAX_ARN: usize = 2048;
/// Load balancer and target group names (ELBv2: 32).
const MAX_ELB_NAME: usize = 32;
/// Host and path patterns of a listener rule (ELBv2: "the maximum length of each
/// string is 128 characters").
const MAX_PATTERN: usize = 128;
/// A target-group health check path (ELBv2 `HealthCheckPath`: 1024).
const MAX_HEALTH_CHECK_PATH: usize = 1024;
/// A Route53 record name (`ResourceRecordSet.Name`: 1024).
const MAX_RECORD_NAME: usize = 1024;
/// A hosted zone id (Route53 `HostedZone.Id`: 32) with its optional `/hostedzone/`.
const MAX_ZONE_ID: usize = 32 + "/hostedzone/".len();
/// A Cloud Map namespace (a DNS name: 253).
const MAX_NAMESPACE: usize = 253;
/// A Cloud Map service name (Cloud Map `ServiceName`: 127).
const MAX_DISCOVERY_NAME: usize = 127;
/// A placement constraint expression (ECS: "a maximum length of 2000 characters").
const MAX_EXPRESSION: usize = 2000;
/// Placement strategy rules per service (ECS: 5).
const MAX_STRATEGIES: usize = 5;
/// Placement constraints per task (ECS: 10, task definition and service together).
const MAX_CONSTRAINTS: usize = 10;
/// Certificates per listener (ELBv2 quota "certificates per Application Load Balancer": 25).
const MAX_CERTIFICATES: usize = 25;
/// Listeners per load balancer (ELBv2 quota: 50).
const MAX_LISTENERS: usize = 50;
/// Application load balancers per region (ELBv2 quota: 50).
const MAX_LOAD_BALANCERS: usize = 50;
/// Durations such as `10m`, webhook URLs, log drivers, matchers, port texts and
/// placement fields have no AWS limit of their own: bosun's.
const MAX_DURATION: usize = 64;
const MAX_URL: usize = 2048;
const MAX_WORD: usize = 255;
/// A volume: a name (255), a host path and a container path (PATH_MAX, 4096 each),
/// separators and a mode.
const MAX_VOLUME: usize = MAX_ECS_NAME + 2 * 4096 + 5;
/// An image reference: 255 before an `@`, then `@sha256:` and 64 hex digits (ECS).
const MAX_IMAGE: usize = MAX_ECS_NAME + "@sha256:".len() + 64;
/// Hooks per phase: bosun's limit (each runs one task in turn).
const MAX_HOOKS: usize = 20;
/// Ulimits of a container: one per ulimit name ECS knows (15).
const MAX_ULIMITS: usize = 15;
/// A working directory or a user: bosun's limit (a path, `uid:gid` or a name).
const MAX_PATH: usize = 4096;
/// Port mappings of one container: bosun's limit (ECS documents none; a task of 100
/// ports is already far past what its ENI or a host can usefully expose).
const MAX_PORTS: usize = 100;
/// A port mapping's name and a Service Connect discovery name (ECS: up to 64
/// characters).
const MAX_PORT_NAME: usize = 64;
/// A Service Connect client alias's DNS name (ECS: up to 127 characters).
const MAX_ALIAS_DNS: usize = 127;
/// Service Connect services of one ECS service: bosun's limit (one per named port).
const MAX_CONNECT_SERVICES: usize = MAX_PORTS;
/// Client aliases of one Service Connect service (ECS: "the maximum number of client
/// aliases that you can have in this list is 1").
const MAX_CLIENT_ALIASES: usize = 1;
/// Capacity provider strategy entries of a service (ECS: "a maximum of 6 capacity providers").
const MAX_CAPACITY_PROVIDERS: usize = 6;
/// Capacity providers of a cluster: bosun's limit (ECS's quota is 20 per cluster).
const MAX_CLUSTER_PROVIDERS: usize = 20;
/// A capacity provider name (ECS: up to 255 letters, numbers, underscores and hyphens).
const MAX_PROVIDER_NAME: usize = 255;
/// Tags of a task definition: ECS allows 50 per resource, and bosun adds its own 4
/// (`bosun:managed-by`, `bosun:cluster`, `bosun:service`, `bosun:spec-hash`).
pub(crate) const MAX_TAGS: usize = 50 - 4;
/// Sidecars of a service: ECS allows 10 containers per task definition, the main one
/// included.
const MAX_SIDECARS: usize = 9;
/// `depends_on` entries of a container: one per other container of the task.
const MAX_DEPENDS_ON: usize = 9;
/// Scheduled actions per scalable target (Application Auto Scaling quota: 200).
const MAX_SCHEDULED_ACTIONS: usize = 200;
/// A scheduled action's own name: bosun's limit (the AWS name, `<cluster>-<service>-<name>`,
/// may have 256 characters).
const MAX_SCHEDULED_NAME: usize = 64;
/// A schedule expression: bosun's limit (Application Auto Scaling: 1600).
const MAX_SCHEDULE: usize = 256;
/// An IANA time zone name (the longest is 32 characters).
const MAX_TIMEZONE: usize = 64;

/// A bosun stackfile: the desired state of one ECS cluster.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "bosun stackfile")]
pub struct RawStackfile {
    /// Dialect: omit for a nysa stackfile, `1` for the bosun dialect (allows `services` as a mapping).
    pub version: Option<i64>,
    /// Where the cluster lives when not in the account and region bosun runs in: its region, and a role bosun assumes there.
    pub aws: Option<RawAws>,
    /// Settings of the ECS cluster bosun creates and owns: its capacity providers, their default strategy, Container Insights. Unset settings are left as they are.
    pub cluster: Option<RawCluster>,
    /// The VPC that load balancers, awsvpc tasks and the Cloud Map namespace live in.
    pub vpc: Option<RawVpc>,
    /// Cluster-wide container log configuration; services inherit and may override it.
    pub logging: Option<RawLogging>,
    /// Cloud Map settings for services with `dns_discovery`.
    pub service_discovery: Option<RawServiceDiscovery>,
    /// Values every service inherits unless it sets its own.
    pub defaults: Option<RawDefaults>,
    /// Delete bosun-owned resources that this stackfile no longer mentions (default false).
    pub prune: Option<bool>,
    /// What the scheduler's periodic check does when live AWS differs from this stackfile: `heal` (default) applies the plan, `report` only records and announces it.
    pub drift: Option<RawDrift>,
    /// Where the scheduler announces this cluster's reconciles, in addition to its global webhooks.
    pub notifications: Option<RawNotifications>,
    /// How changes asked for in chat are approved.
    pub chat: Option<RawChat>,
    /// Shared application load balancers, keyed by a short name that `routing.load_balancer` refers to.
    #[schemars(extend("maxProperties" = MAX_LOAD_BALANCERS))]
    pub load_balancers: Option<BTreeMap<String, RawLoadBalancer>>,
    /// The services: a list of `- name: {...}` entries (nysa), or with `version: 1` also a mapping name -> service.
    pub services: Option<RawServices>,
}

/// `services:` in either dialect.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawServices {
    /// nysa: a list of single-key mappings `- name: {...}`.
    List(#[schemars(length(max = MAX_SERVICES))] Vec<RawServiceEntry>),
    /// bosun (`version: 1`): a mapping service name -> service.
    Map(#[schemars(extend("maxProperties" = MAX_SERVICES))] BTreeMap<String, RawService>),
}

/// One `- name: {...}` entry of a nysa service list.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(transparent)]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct RawServiceEntry(pub BTreeMap<String, RawService>);

/// The VPC of the cluster.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVpc {
    /// VPC id, e.g. `vpc-0123abcd`.
    #[schemars(length(max = MAX_EC2_ID))]
    pub id: Option<String>,
    /// Subnet ids by placement: `public` for internet-facing load balancers, `private` for the rest.
    pub subnets: Option<RawPublicPrivate>,
    /// Security group ids by placement, like `subnets`.
    pub security_groups: Option<RawPublicPrivate>,
}

/// Lists of ids split into public and private.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPublicPrivate {
    /// Ids used by internet-facing load balancers.
    #[schemars(length(max = MAX_SUBNETS), inner(length(max = MAX_EC2_ID)))]
    pub public: Option<Vec<String>>,
    /// Ids used by internal load balancers and awsvpc tasks.
    #[schemars(length(max = MAX_SUBNETS), inner(length(max = MAX_EC2_ID)))]
    pub private: Option<Vec<String>>,
}

/// A container log configuration.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLogging {
    /// Docker log driver, e.g. `awslogs`; a different driver than the inherited one replaces it.
    #[schemars(length(max = MAX_WORD))]
    pub log_driver: Option<String>,
    /// Driver options; merged over the inherited ones when the driver is the same.
    pub options: Option<BTreeMap<String, ScalarText>>,
    /// Create the `awslogs-group` log group, tagged as bosun's, and keep its retention (awslogs only; inherited like `options`; default false). A group bosun did not create is never changed.
    pub create_group: Option<bool>,
    /// Days CloudWatch Logs keeps the group's events (needs `create_group`): 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653; default: kept forever.
    pub retention_days: Option<i64>,
}

/// Cloud Map settings.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawServiceDiscovery {
    /// Private DNS namespace that `dns_discovery` services register in, e.g. `staging.sd`.
    #[schemars(length(max = MAX_NAMESPACE))]
    pub namespace: String,
}

/// Values that every service inherits.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    /// Container memory limit in MiB (task memory for Fargate).
    pub memory: Option<i64>,
    /// CPU units (container CPU on EC2, task CPU on Fargate).
    pub cpu: Option<i64>,
    /// Launch type of services that do not set one.
    pub launch_type: Option<RawLaunchType>,
    /// Environment merged under every service's environment.
    pub environment: Option<RawEnvironment>,
    /// Container health check of services that have none.
    pub healthcheck: Option<RawHealthcheck>,
    /// Rollout settings merged under every service's `deployment`.
    pub deployment: Option<RawDeployment>,
    /// nysa rollout percentages of services that set none.
    pub deployment_configuration: Option<RawDeploymentConfiguration>,
    /// Log configuration merged over the cluster-wide `logging`.
    pub logging: Option<RawLogging>,
    /// The user the container runs as, of services that set none.
    #[schemars(length(max = MAX_PATH))]
    pub user: Option<String>,
    /// Seconds ECS waits after SIGTERM before it kills the container, of services that set none.
    pub stop_timeout: Option<i64>,
    /// Mount the container's root file system read-only, for services that do not say.
    pub readonly_root_filesystem: Option<bool>,
    /// Ulimits merged under every service's `ulimits` (by name; the service's win).
    #[schemars(length(max = MAX_ULIMITS))]
    pub ulimits: Option<Vec<RawUlimit>>,
    /// Docker labels merged under every service's `docker_labels`.
    pub docker_labels: Option<BTreeMap<String, ScalarText>>,
    /// Run an init process as PID 1 in the containers of services that do not say.
    pub init_process_enabled: Option<bool>,
    /// CPU architecture and operating system of services that set none.
    pub runtime_platform: Option<RawRuntimePlatform>,
    /// Capacity provider strategy of services that set neither `launch_type` nor their own strategy; excludes `defaults.launch_type`.
    #[schemars(length(min = 1, max = MAX_CAPACITY_PROVIDERS))]
    pub capacity_provider_strategy: Option<Vec<RawCapacityProviderItem>>,
}

/// What to do about drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawDrift {
    /// Apply the plan, so the cluster matches the stackfile again (the default).
    Heal,
    /// Only record the plan in the cluster status and announce it.
    Report,
}

/// The account and region of a cluster.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAws {
    /// The region of the cluster and of everything it uses, e.g. `eu-west-1` (default: the region bosun runs in).
    #[schemars(length(max = 32))]
    pub region: Option<String>,
    /// An IAM role bosun assumes to manage this cluster, e.g. `arn:aws:iam::123456789012:role/bosun` in another account.
    #[schemars(length(max = MAX_ARN))]
    pub role_arn: Option<String>,
    /// The external id the role's trust policy asks for (`sts:ExternalId`); needs `role_arn`.
    #[schemars(length(min = 2, max = 1224))]
    pub external_id: Option<String>,
}

/// Chat approval rules of the cluster.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawChat {
    /// A change proposed in chat must be approved by someone other than who asked for it (default false).
    pub require_second_approver: Option<bool>,
}

/// Per-cluster notification sinks.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNotifications {
    /// A Slack incoming-webhook URL (`https://hooks.slack.com/services/...`).
    #[schemars(length(max = MAX_URL))]
    pub slack_webhook: Option<String>,
    /// A URL that receives every event as a JSON POST.
    #[schemars(length(max = MAX_URL))]
    pub webhook: Option<String>,
}

/// ECS launch type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawLaunchType {
    /// Container instances managed by the operator (the default).
    Ec2,
    /// Serverless; needs `cpu` and `memory` from the Fargate table.
    Fargate,
}

/// Service or one-off task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawKind {
    /// A long-running ECS service (the default).
    Service,
    /// A task definition only.
    Task,
}

/// Docker network mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawNetworkMode {
    /// One ENI per task in the private subnets (forced by Fargate and `dns_discovery`).
    Awsvpc,
    /// Docker bridge; host ports may differ from container ports.
    Bridge,
    /// The host's network stack (nysa's default); host port equals container port.
    Host,
}

/// Public or private placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawLbType {
    /// Internet-facing, in the public subnets.
    Public,
    /// Internal, in the private subnets.
    Private,
}

/// Listener protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum RawProtocol {
    /// Plain HTTP (the default).
    #[serde(rename = "HTTP")]
    Http,
    /// HTTPS; needs at least one certificate.
    #[serde(rename = "HTTPS")]
    Https,
}

/// Fields that bosun leaves to someone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawIgnore {
    /// The task count belongs to an autoscaler; `desired_count` only seeds a new service.
    DesiredCount,
}

/// One service (or one-off task type).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    /// Container image, e.g. `public.ecr.aws/nginx/nginx:1.27`.
    #[schemars(length(max = MAX_IMAGE))]
    pub image: String,
    /// `service` (default) or `task` (a task definition only).
    #[serde(rename = "type")]
    pub kind: Option<RawKind>,
    /// Container hard memory limit in MiB (task memory on Fargate); default `defaults.memory`, else 1024 on EC2.
    pub memory: Option<i64>,
    /// CPU units: container CPU on EC2, task CPU on Fargate; default `defaults.cpu`.
    pub cpu: Option<i64>,
    /// Number of tasks to keep running (default 1).
    #[schemars(range(min = 0))]
    pub desired_count: Option<i64>,
    /// Environment variables: a mapping, or a list of single-key mappings (nysa); values are kept as written.
    pub environment: Option<RawEnvironment>,
    /// Secrets injected as environment variables: NAME -> Secrets Manager secret or SSM parameter ARN.
    #[schemars(extend("additionalProperties" = {"type": "string", "maxLength": MAX_ARN}))]
    pub secrets: Option<BTreeMap<String, String>>,
    /// Run the container privileged (EC2 only).
    pub privileged: Option<bool>,
    /// Port mappings: `"HOST:CONTAINER"`, `"CONTAINER"` or a number, optionally with `/tcp` or `/udp`; or `{port, name, app_protocol}` for a port Service Connect names (at most 100).
    #[schemars(length(max = MAX_PORTS))]
    pub ports: Option<Vec<RawPort>>,
    /// Host volumes: `"name:/host/path:/container/path"`, optionally with `:ro` or `:rw`.
    #[schemars(inner(length(max = MAX_VOLUME)))]
    pub volumes: Option<Vec<String>>,
    /// Log configuration; merged with the cluster's when the driver is the same, else replaces it.
    pub logging: Option<RawLogging>,
    /// nysa's own application load balancer for this service.
    pub elb: Option<RawElb>,
    /// Register the tasks in Cloud Map (needs `service_discovery.namespace`; forces awsvpc).
    pub dns_discovery: Option<RawDnsDiscovery>,
    /// ECS Service Connect: the named ports this service offers to the namespace's other services, and their aliases; `{}` only consumes others. Excludes `dns_discovery`.
    pub service_connect: Option<RawServiceConnect>,
    /// ECS placement strategy, applied in order.
    #[schemars(length(max = MAX_STRATEGIES))]
    pub placement_strategy: Option<Vec<RawPlacementStrategy>>,
    /// ECS placement constraints.
    #[schemars(length(max = MAX_CONSTRAINTS))]
    pub placement_constraints: Option<Vec<RawPlacementConstraint>>,
    /// Docker health check of the container (default `defaults.healthcheck`).
    pub healthcheck: Option<RawHealthcheck>,
    /// nysa rollout percentages.
    pub deployment_configuration: Option<RawDeploymentConfiguration>,
    /// Rollout settings: circuit breaker, rollback, percentages and how long to wait.
    pub deployment: Option<RawDeployment>,
    /// IAM role ARN the task's containers assume.
    #[schemars(length(max = MAX_ARN))]
    pub task_role_arn: Option<String>,
    /// IAM role ARN ECS uses to pull the image, write logs and fetch secrets.
    #[schemars(length(max = MAX_ARN))]
    pub task_execution_role_arn: Option<String>,
    /// Number of GPUs to reserve (EC2 only).
    #[schemars(range(min = 1))]
    pub gpus: Option<i64>,
    /// `ec2` (default) or `fargate`; default `defaults.launch_type`.
    pub launch_type: Option<RawLaunchType>,
    /// `awsvpc`, `bridge` or `host` (default `host`, or `awsvpc` for Fargate and `dns_discovery`).
    pub network_mode: Option<RawNetworkMode>,
    /// One-off tasks run from this service's task definition around a rollout.
    pub hooks: Option<RawHooks>,
    /// Fields bosun leaves alone on an existing service; only `desired_count` is allowed.
    pub ignore: Option<Vec<RawIgnore>>,
    /// Take over a same-named service that bosun did not create.
    pub adopt: Option<bool>,
    /// A rule on a shared load balancer (`load_balancers:`) that routes hosts/paths to this service.
    pub routing: Option<RawRouting>,
    /// The container's command, replacing the image's `CMD`: a list of arguments.
    #[schemars(length(min = 1))]
    pub command: Option<Vec<String>>,
    /// The container's entry point, replacing the image's `ENTRYPOINT`: a list of arguments.
    #[schemars(length(min = 1))]
    pub entrypoint: Option<Vec<String>>,
    /// The directory the command runs in (an absolute path), replacing the image's `WORKDIR`.
    #[schemars(length(max = MAX_PATH))]
    pub working_directory: Option<String>,
    /// The user the container runs as: `user`, `uid`, `user:group`, `uid:gid`, ... (Linux only); default `defaults.user`.
    #[schemars(length(max = MAX_PATH))]
    pub user: Option<String>,
    /// Seconds ECS waits after SIGTERM before it kills the container (Fargate: 0-120, default 30); default `defaults.stop_timeout`.
    pub stop_timeout: Option<i64>,
    /// Mount the container's root file system read-only (Linux only, default false).
    pub readonly_root_filesystem: Option<bool>,
    /// Resource limits of the container, one per name, merged over `defaults.ulimits` (Linux only).
    #[schemars(length(max = MAX_ULIMITS))]
    pub ulimits: Option<Vec<RawUlimit>>,
    /// Docker labels of the container: NAME -> value, merged over `defaults.docker_labels`.
    pub docker_labels: Option<BTreeMap<String, ScalarText>>,
    /// Run an init process as PID 1 that forwards signals and reaps zombies (`linuxParameters.initProcessEnabled`; Linux only).
    pub init_process_enabled: Option<bool>,
    /// CPU architecture and operating system the task needs (default: ECS's, x86_64 Linux); default `defaults.runtime_platform`.
    pub runtime_platform: Option<RawRuntimePlatform>,
    /// Ephemeral storage of the task in GiB, 21-200 (Fargate only; default 20).
    pub ephemeral_storage: Option<i64>,
    /// Tags of the task definition: KEY -> value (at most 46, as bosun adds 4 of its own to ECS's 50; keys up to 128 characters, values up to 256; no `aws:` or `bosun:` keys).
    #[schemars(extend("maxProperties" = MAX_TAGS))]
    pub tags: Option<BTreeMap<String, ScalarText>>,
    /// Which tags ECS copies onto the service's tasks: `task_definition`, `service` or `none` (default).
    pub propagate_tags: Option<RawPropagateTags>,
    /// Allow `aws ecs execute-command` into the service's containers (ECS Exec; default false).
    pub enable_execute_command: Option<bool>,
    /// Seconds ECS ignores failing load balancer and container health checks of a new task, 0-2147483647; needs a load balancer or a `healthcheck`.
    pub health_check_grace_period: Option<i64>,
    /// Let ECS tag the service's tasks with the cluster and service names (`aws:ecs:*`; default false).
    pub enable_ecs_managed_tags: Option<bool>,
    /// Capacity providers the tasks run on, e.g. `[{provider: FARGATE_SPOT, weight: 3}, {provider: FARGATE, base: 1, weight: 1}]`; excludes `launch_type`; default `defaults.capacity_provider_strategy`.
    #[schemars(length(min = 1, max = MAX_CAPACITY_PROVIDERS))]
    pub capacity_provider_strategy: Option<Vec<RawCapacityProviderItem>>,
    /// Extra containers of the task (log routers, proxies, agents), after the main container, which stays named after the service; at most 9.
    #[schemars(length(max = MAX_SIDECARS))]
    pub containers: Option<Vec<RawContainer>>,
    /// Containers of the task (`containers[].name`) that the main container waits for, and for what.
    #[schemars(length(max = MAX_DEPENDS_ON))]
    pub depends_on: Option<Vec<RawDependsOn>>,
    /// Application Auto Scaling of the task count: bounds, target-tracking policies and scheduled actions. The count is then the scaler's: `desired_count` (default `min`) only seeds a new service.
    pub autoscaling: Option<RawAutoscaling>,
}

/// Settings of the ECS cluster (`cluster:`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    /// Capacity providers the cluster may use, e.g. `[FARGATE, FARGATE_SPOT]` or Auto Scaling group providers; services' strategies may name only these.
    #[schemars(length(max = MAX_CLUSTER_PROVIDERS), inner(length(max = MAX_PROVIDER_NAME)))]
    pub capacity_providers: Option<Vec<String>>,
    /// The strategy of services that set neither `launch_type` nor `capacity_provider_strategy` (needs `capacity_providers`; default none).
    #[schemars(length(min = 1, max = MAX_CAPACITY_PROVIDERS))]
    pub default_strategy: Option<Vec<RawCapacityProviderItem>>,
    /// CloudWatch Container Insights: `enabled`, `enhanced` or `disabled`.
    pub container_insights: Option<RawContainerInsights>,
}

/// CloudWatch Container Insights of a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawContainerInsights {
    /// Metrics per cluster and service.
    Enabled,
    /// Metrics per task and container as well (Container Insights with enhanced observability).
    Enhanced,
    /// No Container Insights.
    Disabled,
}

impl RawContainerInsights {
    /// The value of ECS's `containerInsights` setting.
    pub fn as_aws(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Enhanced => "enhanced",
            Self::Disabled => "disabled",
        }
    }
}

/// One entry of a capacity provider strategy.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCapacityProviderItem {
    /// The capacity provider: `FARGATE`, `FARGATE_SPOT`, or an Auto Scaling group provider of the cluster.
    #[schemars(length(max = MAX_PROVIDER_NAME))]
    pub provider: String,
    /// Relative share of the tasks placed beyond the bases, 0-1000 (default 0, as ECS; at least one entry needs a weight above 0).
    pub weight: Option<i64>,
    /// Tasks placed on this provider before the weights apply, 0-100000; at most one entry has a base (default 0).
    pub base: Option<i64>,
}

/// Which tags ECS copies onto a service's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawPropagateTags {
    /// The task definition's `tags`.
    TaskDefinition,
    /// The service's tags (bosun's ownership tags among them).
    Service,
    /// None (the default).
    None,
}

/// A sidecar: an extra container of the service's task.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawContainer {
    /// Container name, unique in the task and not the service's (the main container's) name: letters, digits, `-` and `_`.
    #[schemars(length(max = MAX_ECS_NAME))]
    pub name: String,
    /// Container image, e.g. `public.ecr.aws/aws-observability/aws-for-fluent-bit:stable`.
    #[schemars(length(max = MAX_IMAGE))]
    pub image: String,
    /// Whether the task stops when this container stops (default true, as ECS).
    pub essential: Option<bool>,
    /// Containers of the task this one waits for, and for what.
    #[schemars(length(max = MAX_DEPENDS_ON))]
    pub depends_on: Option<Vec<RawDependsOn>>,
    /// Port mappings, as the service's `ports` (named ports too); a port is used by one container of the task only.
    #[schemars(length(max = MAX_PORTS))]
    pub ports: Option<Vec<RawPort>>,
    /// Environment variables: a mapping, or a list of single-key mappings; `defaults.environment` does not apply.
    pub environment: Option<RawEnvironment>,
    /// Secrets injected as environment variables: NAME -> Secrets Manager secret or SSM parameter ARN (needs the service's `task_execution_role_arn`).
    #[schemars(extend("additionalProperties" = {"type": "string", "maxLength": MAX_ARN}))]
    pub secrets: Option<BTreeMap<String, String>>,
    /// Log configuration; merged with the cluster's (`logging`, `defaults.logging`) when the driver is the same, else replaces it.
    pub logging: Option<RawLogging>,
    /// Docker health check of this container (none unless set).
    pub healthcheck: Option<RawHealthcheck>,
    /// Hard memory limit of this container in MiB (needed on EC2); with the other containers', at most the task's memory.
    pub memory: Option<i64>,
    /// CPU units reserved for this container; with the other containers', at most the task's CPU.
    pub cpu: Option<i64>,
    /// The container's command, replacing the image's `CMD`: a list of arguments.
    #[schemars(length(min = 1))]
    pub command: Option<Vec<String>>,
    /// The container's entry point, replacing the image's `ENTRYPOINT`: a list of arguments.
    #[schemars(length(min = 1))]
    pub entrypoint: Option<Vec<String>>,
    /// Make this container the task's FireLens log router (one per task), which containers logging with `log_driver: awsfirelens` send to.
    pub firelens: Option<RawFirelens>,
}

/// A dependency of one container on another of the same task (ECS `dependsOn`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDependsOn {
    /// The container waited for: a sidecar's name, or the service's name for the main container.
    #[schemars(length(max = MAX_ECS_NAME))]
    pub container: String,
    /// `START`, `COMPLETE` (exited), `SUCCESS` (exited 0) or `HEALTHY` (its health check passes).
    pub condition: RawDependsCondition,
}

/// What a container waits for in another (ECS `ContainerCondition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum RawDependsCondition {
    /// The other container has started.
    Start,
    /// The other container ran to completion (any exit code); it must not be essential.
    Complete,
    /// The other container exited with status 0; it must not be essential.
    Success,
    /// The other container's health check passes; it must have one.
    Healthy,
}

impl RawDependsCondition {
    /// The value ECS uses.
    pub fn as_aws(self) -> &'static str {
        match self {
            Self::Start => "START",
            Self::Complete => "COMPLETE",
            Self::Success => "SUCCESS",
            Self::Healthy => "HEALTHY",
        }
    }
}

/// A FireLens log router (ECS `firelensConfiguration`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFirelens {
    /// `fluentbit` or `fluentd`.
    #[serde(rename = "type")]
    pub kind: RawFirelensType,
    /// Router options: `enable-ecs-log-metadata` (`true`/`false`), `config-file-type` (`file`, or `s3` on EC2) with `config-file-value`.
    pub options: Option<BTreeMap<String, ScalarText>>,
}

/// The log router's software.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawFirelensType {
    /// Fluent Bit (e.g. the `aws-for-fluent-bit` image).
    Fluentbit,
    /// Fluentd.
    Fluentd,
}

impl RawFirelensType {
    /// The value ECS uses.
    pub fn as_aws(self) -> &'static str {
        match self {
            Self::Fluentbit => "fluentbit",
            Self::Fluentd => "fluentd",
        }
    }
}

/// Application Auto Scaling of a service's task count.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAutoscaling {
    /// The fewest tasks the scaler keeps (0 or more, at most `max`).
    pub min: i64,
    /// The most tasks the scaler starts (at most 5000, ECS's tasks per service).
    pub max: i64,
    /// Policies that keep a metric at a target, at most one per metric.
    #[schemars(length(max = 3))]
    pub target_tracking: Option<Vec<RawTargetTracking>>,
    /// Actions that change `min` and `max` on a schedule.
    #[schemars(length(max = MAX_SCHEDULED_ACTIONS))]
    pub scheduled: Option<Vec<RawScheduledAction>>,
}

/// A target-tracking scaling policy.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTargetTracking {
    /// `cpu` or `memory` (average utilisation, percent), or `alb_requests` (requests per task and minute; needs the service behind a load balancer).
    pub metric: RawScalingMetric,
    /// The value to keep the metric at: a whole number, 1-100 for `cpu` and `memory`.
    pub target: i64,
    /// Seconds after a scale-in before the next one (default 300).
    pub scale_in_cooldown: Option<i64>,
    /// Seconds after a scale-out before the next one (default 300).
    pub scale_out_cooldown: Option<i64>,
}

/// The metric of a target-tracking policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawScalingMetric {
    /// Average CPU utilisation of the service's tasks, in percent.
    Cpu,
    /// Average memory utilisation of the service's tasks, in percent.
    Memory,
    /// Requests per task and minute through the service's target group.
    AlbRequests,
}

/// A scheduled change of the scaling bounds.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScheduledAction {
    /// A name unique in the service: letters, digits, `-` and `_`.
    #[schemars(length(min = 1, max = MAX_SCHEDULED_NAME))]
    pub name: String,
    /// When: `at(2026-12-24T18:00:00)`, `rate(6 hours)` or `cron(0 8 ? * MON-FRI *)`.
    #[schemars(length(min = 1, max = MAX_SCHEDULE))]
    pub schedule: String,
    /// The new `min` (at least one of `min` and `max`).
    pub min: Option<i64>,
    /// The new `max`.
    pub max: Option<i64>,
    /// The schedule's time zone, an IANA name such as `Europe/Berlin` (default UTC).
    #[schemars(length(min = 1, max = MAX_TIMEZONE))]
    pub timezone: Option<String>,
}

/// One resource limit of the container.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUlimit {
    /// Which limit, e.g. `nofile`.
    pub name: RawUlimitName,
    /// The soft limit (at most `hard`).
    pub soft: i64,
    /// The hard limit.
    pub hard: i64,
}

/// The ulimit names ECS accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawUlimitName {
    Core,
    Cpu,
    Data,
    Fsize,
    Locks,
    Memlock,
    Msgqueue,
    Nice,
    Nofile,
    Nproc,
    Rss,
    Rtprio,
    Rttime,
    Sigpending,
    Stack,
}

impl RawUlimitName {
    /// The name as ECS and the stackfile spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Core => "core",
            Self::Cpu => "cpu",
            Self::Data => "data",
            Self::Fsize => "fsize",
            Self::Locks => "locks",
            Self::Memlock => "memlock",
            Self::Msgqueue => "msgqueue",
            Self::Nice => "nice",
            Self::Nofile => "nofile",
            Self::Nproc => "nproc",
            Self::Rss => "rss",
            Self::Rtprio => "rtprio",
            Self::Rttime => "rttime",
            Self::Sigpending => "sigpending",
            Self::Stack => "stack",
        }
    }
}

/// The platform a task runs on (ECS `runtimePlatform`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRuntimePlatform {
    /// `x86_64` (default) or `arm64` (Graviton).
    pub cpu_architecture: Option<RawCpuArchitecture>,
    /// `linux` (default) or a Windows Server edition, e.g. `windows_server_2022_core`.
    pub os_family: Option<RawOsFamily>,
}

/// CPU architecture of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawCpuArchitecture {
    /// 64-bit x86 (ECS `X86_64`).
    #[serde(rename = "x86_64")]
    X86_64,
    /// 64-bit ARM, AWS Graviton (ECS `ARM64`).
    Arm64,
}

/// Operating system family of a task: ECS's `operatingSystemFamily` in lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawOsFamily {
    Linux,
    #[serde(rename = "windows_server_2016_full")]
    WindowsServer2016Full,
    #[serde(rename = "windows_server_2019_full")]
    WindowsServer2019Full,
    #[serde(rename = "windows_server_2019_core")]
    WindowsServer2019Core,
    #[serde(rename = "windows_server_2022_full")]
    WindowsServer2022Full,
    #[serde(rename = "windows_server_2022_core")]
    WindowsServer2022Core,
    #[serde(rename = "windows_server_2025_full")]
    WindowsServer2025Full,
    #[serde(rename = "windows_server_2025_core")]
    WindowsServer2025Core,
    #[serde(rename = "windows_server_2004_core")]
    WindowsServer2004Core,
    #[serde(rename = "windows_server_20h2_core")]
    WindowsServer20H2Core,
}

impl RawOsFamily {
    /// The value ECS uses (`LINUX`, `WINDOWS_SERVER_2022_CORE`, ...).
    pub fn as_aws(self) -> &'static str {
        match self {
            Self::Linux => "LINUX",
            Self::WindowsServer2016Full => "WINDOWS_SERVER_2016_FULL",
            Self::WindowsServer2019Full => "WINDOWS_SERVER_2019_FULL",
            Self::WindowsServer2019Core => "WINDOWS_SERVER_2019_CORE",
            Self::WindowsServer2022Full => "WINDOWS_SERVER_2022_FULL",
            Self::WindowsServer2022Core => "WINDOWS_SERVER_2022_CORE",
            Self::WindowsServer2025Full => "WINDOWS_SERVER_2025_FULL",
            Self::WindowsServer2025Core => "WINDOWS_SERVER_2025_CORE",
            Self::WindowsServer2004Core => "WINDOWS_SERVER_2004_CORE",
            Self::WindowsServer20H2Core => "WINDOWS_SERVER_20H2_CORE",
        }
    }
}

/// Environment in either form. Values may span lines (a PEM key, say): they are
/// never shown in a plan.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(extend("x-bosun-multiline" = true))]
pub enum RawEnvironment {
    /// A mapping NAME -> value.
    Map(BTreeMap<String, ScalarText>),
    /// nysa: a list of single-key mappings `- NAME: value`.
    List(Vec<RawEnvEntry>),
}

/// One `- NAME: value` entry of a nysa environment list.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(transparent)]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct RawEnvEntry(pub BTreeMap<String, ScalarText>);

/// nysa's per-service application load balancer.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawElb {
    /// Optional suffix: the ALB is named `<cluster>-<service>[-<name>]-lb`.
    #[schemars(length(max = MAX_ELB_NAME))]
    pub name: Option<String>,
    /// `public` (internet-facing) or `private` (internal).
    #[serde(rename = "type")]
    pub kind: RawLbType,
    /// Listener protocol (default HTTP).
    pub protocol: Option<RawProtocol>,
    /// The listener port and the container port it forwards to.
    pub ports: RawElbPorts,
    /// ACM certificate ARNs for HTTPS.
    #[schemars(length(max = MAX_CERTIFICATES), inner(length(max = MAX_ARN)))]
    pub certificates: Option<Vec<String>>,
    /// A Route53 alias record pointing at the ALB.
    pub dns: Option<RawDns>,
    /// Target-group health check.
    pub healthcheck: Option<RawTargetHealthcheck>,
}

/// Ports of a nysa `elb`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawElbPorts {
    /// Port the load balancer listens on.
    pub public: i64,
    /// Container port the load balancer forwards to.
    pub container: i64,
}

/// A Route53 alias record.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    /// Hosted zone id, with or without the `/hostedzone/` prefix.
    #[schemars(length(max = MAX_ZONE_ID))]
    pub hosted_zone_id: String,
    /// Record name, e.g. `www.example.com`.
    #[schemars(length(max = MAX_RECORD_NAME))]
    pub record_name: String,
}

/// A target-group health check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTargetHealthcheck {
    /// Probe protocol (default HTTP).
    pub protocol: Option<RawProtocol>,
    /// Probe port: a number or `traffic-port` (default).
    #[schemars(length(max = MAX_DURATION))]
    pub port: Option<PortText>,
    /// Probe path (default `/`).
    #[schemars(length(max = MAX_HEALTH_CHECK_PATH))]
    pub path: Option<String>,
    /// Seconds between probes (default 30).
    pub interval_seconds: Option<i64>,
    /// Seconds before a probe times out (default 5).
    pub timeout_seconds: Option<i64>,
    /// Successes before a target is healthy (default 2).
    pub healthy_threshold_count: Option<i64>,
    /// Failures before a target is unhealthy (default 10).
    pub unhealthy_threshold_count: Option<i64>,
    /// HTTP codes that count as healthy (default `200`).
    #[schemars(length(max = MAX_WORD))]
    pub matcher: Option<ScalarText>,
}

/// ECS Service Connect of a service.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawServiceConnect {
    /// Cloud Map namespace, a name or an ARN (default: `service_discovery.namespace`).
    #[schemars(length(max = MAX_ARN))]
    pub namespace: Option<String>,
    /// The named ports this service offers; none for a service that only connects to others.
    #[schemars(length(max = MAX_CONNECT_SERVICES))]
    pub services: Option<Vec<RawConnectService>>,
}

/// One port a service offers through Service Connect.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConnectService {
    /// The `name` of a port in the task's `ports` (the main container's or a sidecar's).
    #[schemars(length(max = MAX_PORT_NAME))]
    pub port_name: String,
    /// The Cloud Map service ECS creates for it: lowercase letters, digits, `_` and `-` (default: the port name).
    #[schemars(length(max = MAX_PORT_NAME))]
    pub discovery_name: Option<String>,
    /// The name and port clients connect to, e.g. `{port: 80, dns_name: api.internal}` (at most 1, as ECS).
    #[schemars(length(max = MAX_CLIENT_ALIASES))]
    pub client_aliases: Option<Vec<RawClientAlias>>,
}

/// A name and port the Service Connect proxy of client tasks listens on.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawClientAlias {
    /// Port clients connect to, 1-65535.
    pub port: i64,
    /// DNS name clients connect to: lowercase letters, digits, `_`, `-` and `.`, not starting with `-`.
    #[schemars(length(max = MAX_ALIAS_DNS))]
    pub dns_name: String,
}

/// One entry of `ports`: a text, or a named port.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawPort {
    /// `"HOST:CONTAINER"`, `"CONTAINER"` or a number, optionally with `/tcp` or `/udp`.
    Text(PortText),
    /// A named port mapping, which `service_connect` refers to.
    Named(RawNamedPort),
}

impl RawPort {
    /// The port as text (`"8080:80/udp"`), whichever form it was written in.
    pub fn text(&self) -> &str {
        match self {
            RawPort::Text(t) => &t.0,
            RawPort::Named(n) => &n.port.0,
        }
    }
}

/// A port mapping with a name (and an application protocol) for Service Connect.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNamedPort {
    /// The port, as a text entry of `ports`: `"HOST:CONTAINER"`, `"CONTAINER"` or a number.
    pub port: PortText,
    /// Name of the mapping, unique in the task: lowercase letters, digits, `_` and `-`, not starting with `-`.
    #[schemars(length(max = MAX_PORT_NAME))]
    pub name: String,
    /// What the port speaks, for Service Connect's proxy: `http`, `http2` or `grpc` (default: plain TCP).
    pub app_protocol: Option<RawAppProtocol>,
}

/// The application protocol of a named port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawAppProtocol {
    /// HTTP/1.1.
    Http,
    /// HTTP/2.
    Http2,
    /// gRPC.
    Grpc,
}

/// Cloud Map registration of a service.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDnsDiscovery {
    /// Name inside the namespace (default: the service name).
    #[schemars(length(max = MAX_DISCOVERY_NAME))]
    pub name: Option<String>,
    /// TTL of the A records in seconds (default 60).
    pub ttl: Option<i64>,
    /// Custom health check settings.
    pub healthcheck: Option<RawDiscoveryHealthcheck>,
}

/// Cloud Map custom health check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDiscoveryHealthcheck {
    /// Failed checks before an instance is unhealthy (default 1).
    pub failure_threshold: Option<i64>,
}

/// One ECS placement strategy entry.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPlacementStrategy {
    /// `random`, `spread` or `binpack`.
    #[serde(rename = "type")]
    pub kind: RawStrategyKind,
    /// What to spread or binpack on, e.g. `attribute:ecs.availability-zone` or `memory`.
    #[schemars(length(max = MAX_WORD))]
    pub field: Option<String>,
}

/// Placement strategy type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawStrategyKind {
    /// Place tasks randomly.
    Random,
    /// Spread tasks evenly over the values of `field`.
    Spread,
    /// Pack tasks by the least available `field` (`cpu` or `memory`).
    Binpack,
}

/// One ECS placement constraint.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPlacementConstraint {
    /// `memberOf` or `distinctInstance`.
    #[serde(rename = "type")]
    pub kind: RawConstraintKind,
    /// Cluster query language expression (`memberOf` only).
    #[schemars(length(max = MAX_EXPRESSION))]
    pub expression: Option<String>,
}

/// Placement constraint type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum RawConstraintKind {
    /// Only instances matching `expression`.
    #[serde(rename = "memberOf")]
    MemberOf,
    /// Every task on a different instance.
    #[serde(rename = "distinctInstance")]
    DistinctInstance,
}

/// Docker health check of the container.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHealthcheck {
    /// Command: a list (`["CMD-SHELL", "curl -f http://localhost/"]`) or a string run with `CMD-SHELL`.
    pub command: RawCommand,
    /// Seconds between checks, 5-300 (default 30).
    pub interval: Option<i64>,
    /// Seconds before a check times out, 2-60 (default 5).
    pub timeout: Option<i64>,
    /// Failures before the container is unhealthy, 1-10 (default 3).
    pub retries: Option<i64>,
    /// Grace period in seconds, 0-300 (default 0).
    pub start_period: Option<i64>,
}

/// A command as a list of arguments or a shell string. Commands may span lines (a
/// shell script); a plan shows their line breaks escaped.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(extend("x-bosun-multiline" = true))]
pub enum RawCommand {
    /// Arguments, run as they are.
    Args(Vec<String>),
    /// A shell command line.
    Shell(String),
}

/// nysa rollout percentages.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDeploymentConfiguration {
    /// Lower bound of running tasks during a rollout, 0-100 percent of desired (default 50).
    pub minimum_healthy_percent: Option<i64>,
    /// Upper bound of running tasks during a rollout, 100-200 percent of desired (default 200).
    pub maximum_percent: Option<i64>,
}

/// Rollout settings.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDeployment {
    /// Stop a rollout whose tasks keep failing (default true).
    pub circuit_breaker: Option<bool>,
    /// Roll back to the previous task definition when the circuit breaker trips (default true).
    pub rollback: Option<bool>,
    /// Lower bound of running tasks during a rollout, 0-100 (default from `deployment_configuration`, else 50).
    pub min_healthy_percent: Option<i64>,
    /// Upper bound of running tasks during a rollout, 100-200 (default from `deployment_configuration`, else 200).
    pub max_percent: Option<i64>,
    /// How long `apply` waits for the rollout, e.g. `90s` or `10m` (default 10m).
    #[schemars(length(max = MAX_DURATION))]
    pub wait_timeout: Option<String>,
}

/// Pre- and post-deploy one-off tasks.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHooks {
    /// Run in order before the service changes; each must exit 0.
    #[schemars(length(max = MAX_HOOKS))]
    pub pre: Option<Vec<RawHook>>,
    /// Run in order after the rollout succeeded; each must exit 0.
    #[schemars(length(max = MAX_HOOKS))]
    pub post: Option<Vec<RawHook>>,
}

/// One hook: the service's task definition run once with another command.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHook {
    /// Name shown in the plan, unique within the service.
    #[schemars(length(max = MAX_WORD))]
    pub name: String,
    /// Command override: a list of arguments, or a string run with `sh -c`.
    pub command: RawCommand,
    /// How long to wait for the task to stop, e.g. `5m` (default 10m).
    #[schemars(length(max = MAX_DURATION))]
    pub timeout: Option<String>,
}

/// A shared application load balancer.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLoadBalancer {
    /// AWS name (default `<cluster>-<key>`), at most 32 characters.
    #[schemars(length(max = MAX_ELB_NAME))]
    pub name: Option<String>,
    /// `public` (internet-facing) or `private` (internal).
    #[serde(rename = "type")]
    pub kind: RawLbType,
    /// Listeners; at least one, ports unique.
    #[schemars(length(max = MAX_LISTENERS))]
    pub listeners: Vec<RawListener>,
    /// Take over a same-named load balancer that bosun did not create (with its listeners).
    pub adopt: Option<bool>,
}

/// A listener of a shared load balancer; unmatched requests get a 404.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawListener {
    /// Port to listen on.
    pub port: i64,
    /// HTTP (default) or HTTPS.
    pub protocol: Option<RawProtocol>,
    /// ACM (or IAM server-certificate) ARNs; HTTPS needs at least one.
    #[schemars(length(max = MAX_CERTIFICATES), inner(length(max = MAX_ARN)))]
    pub certificates: Option<Vec<String>>,
}

/// A listener rule on a shared load balancer.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRouting {
    /// Key of the load balancer under `load_balancers:`.
    #[schemars(length(max = MAX_WORD))]
    pub load_balancer: String,
    /// Listener port; may be omitted when the load balancer has exactly one listener.
    pub listener: Option<i64>,
    /// Host header patterns, e.g. `api.example.com`.
    #[schemars(inner(length(max = MAX_PATTERN)))]
    pub hosts: Option<Vec<String>>,
    /// Path patterns, e.g. `/api/*`.
    #[schemars(inner(length(max = MAX_PATTERN)))]
    pub paths: Option<Vec<String>>,
    /// Rule priority, 1-50000, unique per listener.
    pub priority: i64,
    /// Container port to route to (default: the first port mapping's container port).
    pub container_port: Option<i64>,
    /// Target-group health check.
    pub healthcheck: Option<RawTargetHealthcheck>,
    /// A Route53 alias record pointing at the shared load balancer.
    pub dns: Option<RawDns>,
}

/// A scalar kept as its YAML source text (`true`, `1.0` and `010` stay as written);
/// null or empty reads as the empty string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScalarText(pub String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ScalarText(Option::<String>::deserialize(d)?.unwrap_or_default()))
    }
}

impl JsonSchema for ScalarText {
    fn schema_name() -> Cow<'static, str> {
        "ScalarText".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["string", "number", "boolean", "null"]
        })
    }
}

/// A port written as a number or a string such as `"8080:80/udp"`, kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortText(pub String);

impl<'de> Deserialize<'de> for PortText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(PortText(String::deserialize(d)?))
    }
}

impl JsonSchema for PortText {
    fn schema_name() -> Cow<'static, str> {
        "PortText".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["integer", "string"],
            "maxLength": MAX_DURATION
        })
    }
}
