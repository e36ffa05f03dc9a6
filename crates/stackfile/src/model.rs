//! The desired state of one cluster: what a valid stackfile normalises into.
//!
//! Every value here is resolved: defaults are merged, AWS names are computed, and
//! references between resources are by the AWS name of the target. The planner
//! compares these types against the observed state field by field, so two stackfiles
//! that mean the same thing normalise to equal values.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The whole desired state of one ECS cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Desired {
    /// The ECS cluster name; also the prefix of every derived AWS name.
    pub cluster: String,
    /// Where the cluster lives, when the stackfile says (`aws:`): the clients that
    /// observe and change it are made for this account and region.
    #[serde(default, skip_serializing_if = "AwsTarget::is_home")]
    pub aws: AwsTarget,
    /// The settings of the ECS cluster (`cluster:`), when the stackfile gives any; bosun
    /// leaves the cluster's settings as they are otherwise. Left out of the JSON when
    /// unset, so plans and their hashes read as before the key existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_settings: Option<ClusterSpec>,
    /// Delete owned resources that the stackfile no longer mentions.
    pub prune: bool,
    /// What the scheduler's periodic check does with drift.
    pub drift: Drift,
    /// Where the scheduler announces this cluster's reconciles; these URLs are
    /// credentials, so they are never logged nor shown in a plan.
    #[serde(default, skip_serializing_if = "Notifications::is_empty")]
    pub notifications: Notifications,
    /// How changes asked for in chat are approved.
    #[serde(default, skip_serializing_if = "ChatPolicy::is_default")]
    pub chat: ChatPolicy,
    /// The Cloud Map private DNS namespace that `dns_discovery` services register in.
    pub namespace: Option<NamespaceSpec>,
    /// Application load balancers, keyed by their AWS name. Holds both the shared
    /// `load_balancers:` and nysa's one-ALB-per-service `elb:` blocks.
    pub load_balancers: BTreeMap<String, LoadBalancerSpec>,
    /// Services and one-off task types, keyed by service name.
    pub services: BTreeMap<String, ServiceSpec>,
    /// CloudWatch Logs groups bosun creates (`logging.create_group`), keyed by name.
    /// Left out of the JSON when empty, so that stacks without it read as before.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub log_groups: BTreeMap<String, LogGroupSpec>,
}

/// A CloudWatch Logs group that bosun creates, tags as its own and keeps the retention of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogGroupSpec {
    /// The group's name (the `awslogs-group` option).
    pub name: String,
    /// Days the events are kept; `None` keeps them forever (CloudWatch's default).
    pub retention_days: Option<i32>,
    /// The services that log to it, sorted: the plan shows the first as its owner.
    pub services: Vec<String>,
}

/// The account and region a cluster lives in: a region, and a role bosun assumes there.
/// Everything unset means where bosun itself runs, with its own credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AwsTarget {
    /// The region; `None` for bosun's own.
    pub region: Option<String>,
    /// The role to assume; `None` for bosun's own credentials.
    pub role_arn: Option<String>,
    /// The external id the role's trust policy asks for. Not a secret (AWS documents it
    /// as an identifier), but it is not shown in plans either.
    pub external_id: Option<String>,
}

impl AwsTarget {
    /// Whether this is bosun's own account and region.
    pub fn is_home(&self) -> bool {
        self.region.is_none() && self.role_arn.is_none()
    }

    /// The account id of the role, if a role is assumed.
    pub fn account(&self) -> Option<&str> {
        self.role_arn.as_deref().and_then(|arn| arn.split(':').nth(4)).filter(|a| !a.is_empty())
    }
}

/// The settings of the ECS cluster that bosun keeps. A `None` is left as it is live.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSpec {
    /// The capacity providers the cluster may use, sorted, and the default strategy
    /// (empty for none), which ECS sets together (`PutClusterCapacityProviders`).
    pub capacity_providers: Option<ClusterCapacity>,
    /// Container Insights: `enabled`, `enhanced` or `disabled`.
    pub container_insights: Option<String>,
}

/// A cluster's capacity providers and its default strategy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterCapacity {
    /// Provider names, sorted.
    pub providers: Vec<String>,
    /// The strategy of services that name none, in the stackfile's order.
    pub default_strategy: Vec<CapacityProviderItem>,
}

impl ClusterCapacity {
    /// The providers as plan text shows them.
    pub fn show_providers(&self) -> String {
        if self.providers.is_empty() { "(none)".to_owned() } else { self.providers.join(", ") }
    }
}

/// What the scheduler's periodic check does when live AWS differs from the stackfile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Drift {
    /// Apply the plan (the default).
    #[default]
    Heal,
    /// Only record and announce the plan.
    Report,
}

/// How changes asked for in chat are approved (`chat:`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatPolicy {
    /// The approver of a proposal must not be its requester.
    pub require_second_approver: bool,
}

impl ChatPolicy {
    /// Whether it is the default (one person may ask and approve).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// A cluster's own notification sinks, used in addition to the scheduler's global ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notifications {
    /// Slack incoming-webhook URL.
    pub slack_webhook: Option<String>,
    /// Generic JSON webhook URL.
    pub webhook: Option<String>,
}

impl Notifications {
    /// Whether no sink is set.
    pub fn is_empty(&self) -> bool {
        self.slack_webhook.is_none() && self.webhook.is_none()
    }
}

/// A Cloud Map private DNS namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceSpec {
    /// DNS name of the namespace, e.g. `example.sd`.
    pub name: String,
    /// The VPC the private hosted zone is attached to.
    pub vpc_id: String,
}

/// Whether a load balancer faces the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// `internal`: placed in the private subnets (nysa `type: private`).
    Internal,
    /// `internet-facing`: placed in the public subnets (nysa `type: public`).
    InternetFacing,
}

impl Scheme {
    /// The value ELBv2 uses for this scheme.
    pub fn as_aws(self) -> &'static str {
        match self {
            Scheme::Internal => "internal",
            Scheme::InternetFacing => "internet-facing",
        }
    }
}

/// Listener and target-group protocols bosun manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    /// Plain HTTP.
    Http,
    /// HTTPS; listeners need a certificate.
    Https,
}

impl Protocol {
    /// The value ELBv2 uses for this protocol.
    pub fn as_aws(self) -> &'static str {
        match self {
            Protocol::Http => "HTTP",
            Protocol::Https => "HTTPS",
        }
    }
}

/// An application load balancer and its listeners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadBalancerSpec {
    /// AWS name (at most 32 characters).
    pub name: String,
    /// Internal or internet-facing.
    pub scheme: Scheme,
    /// Subnet ids, sorted.
    pub subnets: Vec<String>,
    /// Security group ids, sorted.
    pub security_groups: Vec<String>,
    /// Listeners keyed by port.
    pub listeners: BTreeMap<u16, ListenerSpec>,
    /// For nysa's per-service ALBs, the service that owns it (tagged `bosun:service`).
    /// `None` for a shared load balancer.
    pub service: Option<String>,
    /// Take over a same-named load balancer bosun did not create (a shared one's own
    /// `adopt: true`; a service's ALB follows the service's `adopt`). Left out of the
    /// JSON when false, so plans and their hashes read as before the key existed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopt: bool,
}

/// One listener of a load balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerSpec {
    /// Port the load balancer listens on.
    pub port: u16,
    /// HTTP or HTTPS.
    pub protocol: Protocol,
    /// ACM certificate ARNs (HTTPS only), sorted.
    pub certificates: Vec<String>,
    /// What the listener does when no rule matches.
    pub default_action: DefaultAction,
}

/// A listener's default action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DefaultAction {
    /// Forward to the named target group (nysa's per-service ALB).
    Forward {
        /// AWS name of the target group.
        target_group: String,
    },
    /// Answer with a fixed status code (shared ALBs route through rules instead).
    FixedResponse {
        /// HTTP status code, e.g. 404.
        status_code: u16,
    },
}

/// The per-service target group behind a load balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetGroupSpec {
    /// AWS name (at most 32 characters).
    pub name: String,
    /// Protocol the load balancer uses to reach targets.
    pub protocol: Protocol,
    /// Container port the targets receive traffic on.
    pub port: u16,
    /// VPC of the targets.
    pub vpc_id: String,
    /// `ip` for awsvpc tasks, `instance` for bridge/host networking.
    pub target_type: TargetType,
    /// The target-group health check.
    pub health_check: TargetHealthCheck,
}

impl TargetGroupSpec {
    /// Visits each field that ELBv2 fixes when it creates a target group, by name,
    /// with its value as plan text shows it. The destructuring is exhaustive: a field
    /// added to the spec does not compile until it is listed here or under
    /// [`TargetHealthCheck::fields`], and the planner then compares it with no change
    /// of its own.
    pub fn fixed_fields(&self, visit: &mut dyn FnMut(&'static str, String)) {
        let TargetGroupSpec { name: _, protocol, port, vpc_id, target_type, health_check: _ } = self;
        visit("port", port.to_string());
        visit("protocol", protocol.as_aws().to_owned());
        visit("vpc_id", vpc_id.clone());
        visit("target_type", target_type.as_aws().to_owned());
    }
}

/// Target type of a target group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetType {
    /// Register task ENIs (awsvpc network mode).
    Ip,
    /// Register container instances (bridge/host network mode).
    Instance,
}

impl TargetType {
    /// The value ELBv2 uses for this target type.
    pub fn as_aws(self) -> &'static str {
        match self {
            TargetType::Ip => "ip",
            TargetType::Instance => "instance",
        }
    }
}

/// A target-group health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetHealthCheck {
    /// Protocol of the probe.
    pub protocol: Protocol,
    /// Port of the probe: a number, or `traffic-port`.
    pub port: String,
    /// Path of the probe.
    pub path: String,
    /// Seconds between probes.
    pub interval_seconds: i32,
    /// Seconds before a probe times out.
    pub timeout_seconds: i32,
    /// Consecutive successes before a target is healthy.
    pub healthy_threshold: i32,
    /// Consecutive failures before a target is unhealthy.
    pub unhealthy_threshold: i32,
    /// HTTP codes that count as healthy, e.g. `200` or `200-399`.
    pub matcher: String,
}

impl TargetHealthCheck {
    /// Visits each field, which ModifyTargetGroup can change, by name, with its value
    /// as plan text shows it (exhaustive, as [`TargetGroupSpec::fixed_fields`]).
    pub fn fields(&self, visit: &mut dyn FnMut(&'static str, String)) {
        let TargetHealthCheck {
            protocol,
            port,
            path,
            interval_seconds,
            timeout_seconds,
            healthy_threshold,
            unhealthy_threshold,
            matcher,
        } = self;
        visit("protocol", protocol.as_aws().to_owned());
        visit("port", port.clone());
        visit("path", path.clone());
        visit("interval_seconds", interval_seconds.to_string());
        visit("timeout_seconds", timeout_seconds.to_string());
        visit("healthy_threshold", healthy_threshold.to_string());
        visit("unhealthy_threshold", unhealthy_threshold.to_string());
        visit("matcher", matcher.clone());
    }
}

/// A listener rule that routes a host and/or path to a service's target group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSpec {
    /// AWS name of the load balancer.
    pub load_balancer: String,
    /// Port of the listener the rule belongs to.
    pub listener_port: u16,
    /// Rule priority, unique per listener.
    pub priority: u32,
    /// Host header patterns, sorted.
    pub hosts: Vec<String>,
    /// Path patterns, sorted.
    pub paths: Vec<String>,
    /// AWS name of the target group the rule forwards to.
    pub target_group: String,
}

/// A Route53 alias record that points at a load balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecordSpec {
    /// Hosted zone id, without the `/hostedzone/` prefix.
    pub zone_id: String,
    /// Fully qualified record name, lower case, with the trailing dot.
    pub name: String,
    /// AWS name of the load balancer the alias points at.
    pub load_balancer: String,
}

/// A Cloud Map service that ECS registers the tasks of a service in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoverySpec {
    /// Service name inside the namespace (`user.staging` in `user.staging.example.sd`).
    pub name: String,
    /// TTL of the A records, in seconds.
    pub dns_ttl: i64,
    /// Consecutive failed custom health checks before an instance is unhealthy.
    pub failure_threshold: i32,
}

/// ECS launch type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LaunchType {
    /// Container instances managed by the operator.
    Ec2,
    /// Serverless.
    Fargate,
}

impl LaunchType {
    /// The value ECS uses for this launch type.
    pub fn as_aws(self) -> &'static str {
        match self {
            LaunchType::Ec2 => "EC2",
            LaunchType::Fargate => "FARGATE",
        }
    }
}

/// Whether an entry of `services:` is a long-running service or a one-off task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// An ECS service (nysa `type: service`, the default).
    Service,
    /// A task definition only; nysa ran these with RunTask on every deploy. bosun keeps
    /// the task definition current and runs nothing by itself.
    Task,
}

/// One service of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// Service name, unique in the cluster.
    pub name: String,
    /// Service or one-off task.
    pub kind: ServiceKind,
    /// The task definition the service runs.
    pub task_definition: TaskDefinitionSpec,
    /// Number of tasks; `None` when `ignore: [desired_count]` leaves it to an autoscaler
    /// (a new service then starts with `initial_count`).
    pub desired_count: Option<i32>,
    /// Count used when creating a service whose count is ignored.
    pub initial_count: i32,
    /// EC2 or Fargate.
    pub launch_type: LaunchType,
    /// awsvpc networking; required for Fargate and for Cloud Map A records.
    pub network: Option<NetworkSpec>,
    /// The target group the service registers in, if it is behind a load balancer.
    pub target_group: Option<TargetGroupSpec>,
    /// Container port registered in the target group.
    pub container_port: Option<u16>,
    /// Listener rules that route to this service (shared load balancers).
    pub rules: Vec<RuleSpec>,
    /// A Route53 alias to the service's load balancer.
    pub dns: Option<DnsRecordSpec>,
    /// Cloud Map registration.
    pub discovery: Option<DiscoverySpec>,
    /// Rollout settings.
    pub deployment: DeploymentSpec,
    /// ECS placement strategy, in order.
    pub placement_strategy: Vec<PlacementStrategy>,
    /// ECS service placement constraints.
    pub placement_constraints: Vec<PlacementConstraint>,
    /// One-off tasks around a rollout.
    pub hooks: Hooks,
    /// Take over a same-named service that bosun did not create.
    pub adopt: bool,
    // The fields below were added after the first release: each is left out of the JSON
    // when unset, so plans of stackfiles that do not use them read as before.
    /// The capacity provider strategy, in the order written; empty for a service
    /// launched with `launch_type` (which ECS then takes instead).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity_provider_strategy: Vec<CapacityProviderItem>,
    /// Which tags ECS copies onto the tasks; `None` for ECS's `NONE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagate_tags: Option<PropagateTags>,
    /// ECS Exec (`enableExecuteCommand`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enable_execute_command: bool,
    /// Seconds ECS ignores failing health checks of a new task
    /// (`healthCheckGracePeriodSeconds`); `None` for ECS's 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period: Option<i32>,
    /// ECS-managed `aws:ecs:*` tags on the tasks (`enableECSManagedTags`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enable_ecs_managed_tags: bool,
    /// Application Auto Scaling of the task count (`autoscaling:`): the scalable target,
    /// its target-tracking policies and scheduled actions. The count is then the
    /// scaler's (`desired_count` is `None`). Left out of the JSON when unset, so plans
    /// and their hashes read as before the key existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingSpec>,
    /// ECS Service Connect (`service_connect:`), which UpdateService sends. Left out of
    /// the JSON when unset, so plans and their hashes read as before the key existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_connect: Option<ServiceConnectSpec>,
}

/// A service's ECS Service Connect configuration, as ECS reports it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceConnectSpec {
    /// The Cloud Map namespace, a name or an ARN as written.
    pub namespace: String,
    /// The ports the service offers, in the stackfile's order; empty for a service
    /// that only connects to others.
    pub services: Vec<ConnectService>,
}

/// One named port a service offers through Service Connect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectService {
    /// The name of a port mapping of the task definition.
    pub port_name: String,
    /// The Cloud Map service ECS creates for it (the port name unless given).
    pub discovery_name: String,
    /// The names and ports clients connect to.
    pub client_aliases: Vec<ClientAlias>,
}

/// A name and port clients of a Service Connect service connect to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientAlias {
    /// The port the clients' proxy listens on.
    pub port: u16,
    /// The DNS name the clients use.
    pub dns_name: String,
}

impl ServiceConnectSpec {
    /// As plan text shows it: `namespace staging.sd: http -> api (api.internal:80)`, or
    /// `(none)`.
    pub fn show(sc: Option<&ServiceConnectSpec>) -> String {
        let Some(sc) = sc else { return "(none)".to_owned() };
        let mut out = format!("namespace {}", sc.namespace);
        if sc.services.is_empty() {
            out.push_str(" (client only)");
            return out;
        }
        out.push(':');
        let items: Vec<String> = sc
            .services
            .iter()
            .map(|s| {
                let aliases: Vec<String> =
                    s.client_aliases.iter().map(|a| format!("{}:{}", a.dns_name, a.port)).collect();
                if aliases.is_empty() {
                    format!(" {} -> {}", s.port_name, s.discovery_name)
                } else {
                    format!(" {} -> {} ({})", s.port_name, s.discovery_name, aliases.join(", "))
                }
            })
            .collect();
        out.push_str(&items.join(","));
        out
    }
}

/// One entry of a capacity provider strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapacityProviderItem {
    /// The capacity provider, e.g. `FARGATE_SPOT`.
    pub provider: String,
    /// Relative share of the tasks beyond the bases.
    pub weight: i32,
    /// Tasks placed on this provider first.
    pub base: i32,
}

impl CapacityProviderItem {
    /// Whether the provider is one of Fargate's own (`FARGATE`, `FARGATE_SPOT`).
    pub fn is_fargate(&self) -> bool {
        matches!(self.provider.as_str(), "FARGATE" | "FARGATE_SPOT")
    }

    /// A strategy as plan text shows it: `FARGATE_SPOT weight 3, FARGATE base 1 weight 1`,
    /// or `(none)`.
    pub fn show(strategy: &[CapacityProviderItem]) -> String {
        if strategy.is_empty() {
            return "(none)".to_owned();
        }
        let items: Vec<String> = strategy
            .iter()
            .map(|i| match i.base {
                0 => format!("{} weight {}", i.provider, i.weight),
                base => format!("{} base {base} weight {}", i.provider, i.weight),
            })
            .collect();
        items.join(", ")
    }
}

/// Which tags ECS copies onto a service's tasks (`propagateTags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropagateTags {
    /// The task definition's tags.
    TaskDefinition,
    /// The service's tags.
    Service,
}

impl PropagateTags {
    /// The value ECS uses.
    pub fn as_aws(self) -> &'static str {
        match self {
            PropagateTags::TaskDefinition => "TASK_DEFINITION",
            PropagateTags::Service => "SERVICE",
        }
    }

    /// From ECS's value; `NONE`, unset or unknown are `None`.
    pub fn from_aws(s: Option<&str>) -> Option<Self> {
        match s {
            Some("TASK_DEFINITION") => Some(PropagateTags::TaskDefinition),
            Some("SERVICE") => Some(PropagateTags::Service),
            _ => None,
        }
    }

    /// As plan text shows a value: ECS's spelling, `NONE` for `None`.
    pub fn show(p: Option<Self>) -> &'static str {
        p.map_or("NONE", Self::as_aws)
    }
}

impl ServiceSpec {
    /// Whether the count is left to someone else (an autoscaler).
    pub fn ignores_desired_count(&self) -> bool {
        self.desired_count.is_none()
    }
}

/// awsvpc network configuration of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// Subnet ids, sorted.
    pub subnets: Vec<String>,
    /// Security group ids, sorted.
    pub security_groups: Vec<String>,
    /// Give tasks a public IP (Fargate tasks in public subnets).
    pub assign_public_ip: bool,
}

/// Rollout settings of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentSpec {
    /// Enable the ECS deployment circuit breaker.
    pub circuit_breaker: bool,
    /// Roll back automatically when the circuit breaker trips.
    pub rollback: bool,
    /// `minimumHealthyPercent`.
    pub min_healthy_percent: i32,
    /// `maximumPercent`.
    pub max_percent: i32,
    /// How long `apply` waits for this service's rollout.
    #[serde(with = "duration_secs")]
    pub wait_timeout: Duration,
}

/// One ECS placement strategy entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacementStrategy {
    /// `random`, `spread` or `binpack`.
    pub kind: String,
    /// The field, e.g. `attribute:ecs.availability-zone` or `memory`.
    pub field: Option<String>,
}

/// One ECS placement constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacementConstraint {
    /// `memberOf` or `distinctInstance`.
    pub kind: String,
    /// Cluster query language expression for `memberOf`.
    pub expression: Option<String>,
}

/// Pre- and post-deploy one-off tasks of a service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hooks {
    /// Run, in order, before the service changes; each must exit 0.
    pub pre: Vec<HookSpec>,
    /// Run, in order, after the rollout succeeded; each must exit 0.
    pub post: Vec<HookSpec>,
}

impl Hooks {
    /// Whether there are no hooks at all.
    pub fn is_empty(&self) -> bool {
        self.pre.is_empty() && self.post.is_empty()
    }
}

/// A one-off task run from the service's task definition with a command override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookSpec {
    /// Name shown in the plan and in errors, e.g. `migrate`.
    pub name: String,
    /// Command override of the service's container.
    pub command: Vec<String>,
    /// How long to wait for the task to stop.
    #[serde(with = "duration_secs")]
    pub timeout: Duration,
}

/// An ECS task definition with its main container and any sidecars, normalised so
/// that two specs that register the same thing compare equal. Its
/// [`spec_hash`](crate::spec_hash) is the ownership tag that lets bosun skip
/// DescribeTaskDefinition when nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDefinitionSpec {
    /// Family: `<cluster>-<service>`.
    pub family: String,
    /// `awsvpc`, `bridge` or `host`.
    pub network_mode: String,
    /// `["EC2"]` or `["FARGATE"]`.
    pub requires_compatibilities: Vec<String>,
    /// Task-level CPU units (Fargate), as ECS stores it.
    pub cpu: Option<String>,
    /// Task-level memory in MiB (Fargate), as ECS stores it.
    pub memory: Option<String>,
    /// IAM role of the task.
    pub task_role_arn: Option<String>,
    /// IAM role ECS uses to pull images and fetch secrets.
    pub execution_role_arn: Option<String>,
    /// Host volumes.
    pub volumes: Vec<VolumeSpec>,
    /// Task placement constraints.
    pub placement_constraints: Vec<PlacementConstraint>,
    /// The main container, named after the service: the one image bumps change.
    pub container: ContainerSpec,
    /// The CPU architecture and OS the task needs (`runtimePlatform`), when the
    /// stackfile says; `None` leaves it to ECS (x86_64 Linux). Left out of the JSON when
    /// unset, as every field added after the first release is, so that the spec hash of
    /// a stackfile that does not use it is what it was before the field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_platform: Option<RuntimePlatform>,
    /// Fargate ephemeral storage in GiB (`ephemeralStorage.sizeInGiB`); `None` for
    /// Fargate's default of 20 GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<i32>,
    /// The stackfile's tags of the task definition (bosun's own `bosun:` tags are not
    /// among them: they are added when it is registered).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The extra containers (`containers:`), in the stackfile's order, registered after
    /// the main one; empty for a task of one container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<ContainerSpec>,
}

/// ECS `runtimePlatform`, in ECS's spelling, both fields resolved: an unset
/// architecture is `X86_64` and an unset OS `LINUX`, as ECS assumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimePlatform {
    /// `X86_64` or `ARM64`.
    pub cpu_architecture: String,
    /// `LINUX` or a `WINDOWS_SERVER_...` edition.
    pub os_family: String,
}

impl RuntimePlatform {
    /// Whether the OS is a Windows Server edition, where Linux-only container settings
    /// (a user, ulimits, Linux parameters, a read-only root) are refused.
    pub fn is_windows(&self) -> bool {
        self.os_family.starts_with("WINDOWS")
    }
}

/// A host-path volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeSpec {
    /// Volume name.
    pub name: String,
    /// Path on the host.
    pub host_path: String,
}

/// The container of a task definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// Named after the service.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// Hard memory limit in MiB.
    pub memory: Option<i32>,
    /// CPU units reserved for the container.
    pub cpu: Option<i32>,
    /// Run privileged.
    pub privileged: bool,
    /// Environment, defaults merged under service values. Values are never logged.
    pub environment: BTreeMap<String, String>,
    /// Secrets: variable name -> Secrets Manager or SSM parameter ARN.
    pub secrets: BTreeMap<String, String>,
    /// Port mappings, sorted by container port and protocol.
    pub port_mappings: Vec<PortMapping>,
    /// Mount points of host volumes.
    pub mount_points: Vec<MountPoint>,
    /// Log configuration after merging cluster and service logging.
    pub log_configuration: Option<LogConfiguration>,
    /// Docker health check.
    pub health_check: Option<ContainerHealthCheck>,
    /// Number of GPUs reserved.
    pub gpus: Option<u32>,
    // The fields below were added after the first release: each is left out of the JSON
    // when unset, so a stackfile that does not use them keeps its spec hash.
    /// Command replacing the image's `CMD`; empty for the image's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Entry point replacing the image's `ENTRYPOINT`; empty for the image's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry_point: Vec<String>,
    /// Working directory replacing the image's `WORKDIR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// The user the container runs as, replacing the image's `USER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Seconds between SIGTERM and SIGKILL when the task stops; `None` for ECS's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i32>,
    /// Mount the root file system read-only (hardening: the container writes only to
    /// its volumes).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub readonly_root_filesystem: bool,
    /// Resource limits, sorted by name, one per name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ulimits: Vec<Ulimit>,
    /// Docker labels, defaults merged under service values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub docker_labels: BTreeMap<String, String>,
    /// Run an init process as PID 1 (`linuxParameters.initProcessEnabled`), which
    /// forwards signals and reaps zombies for commands that do not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub init_process_enabled: bool,
    /// Whether the task stops when this container stops. Always true for the main
    /// container; a sidecar may say false (an init job, say). Left out of the JSON
    /// while true.
    #[serde(default = "essential_default", skip_serializing_if = "is_essential_default")]
    pub essential: bool,
    /// The containers of the task this one waits for, in the stackfile's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ContainerDependency>,
    /// Set on the task's FireLens log router (`firelensConfiguration`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firelens: Option<Firelens>,
}

/// ECS's default for `essential`.
fn essential_default() -> bool {
    true
}

fn is_essential_default(essential: &bool) -> bool {
    *essential
}

/// A container's dependency on another container of the same task (`dependsOn`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerDependency {
    /// The container waited for.
    pub container: String,
    /// `START`, `COMPLETE`, `SUCCESS` or `HEALTHY`, as ECS spells it.
    pub condition: String,
}

/// A FireLens log router's configuration (`firelensConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firelens {
    /// `fluentbit` or `fluentd`, as ECS spells it.
    pub kind: String,
    /// Router options (`enable-ecs-log-metadata`, `config-file-type`, `config-file-value`).
    pub options: BTreeMap<String, String>,
}

/// One resource limit of a container.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ulimit {
    /// The ulimit name, e.g. `nofile`.
    pub name: String,
    /// The soft limit.
    pub soft_limit: i32,
    /// The hard limit, at least the soft one.
    pub hard_limit: i32,
}

/// A container port mapping.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortMapping {
    /// Port inside the container.
    pub container_port: u16,
    /// Port on the host; equals the container port in awsvpc mode.
    pub host_port: Option<u16>,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// The mapping's name, which Service Connect refers to (`service_connect.services[].port_name`).
    /// Left out of the JSON while unset, so an unnamed port keeps its spec hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `http`, `http2` or `grpc`, as ECS spells it; `None` for plain TCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
}

/// A container mount point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountPoint {
    /// Volume name.
    pub source_volume: String,
    /// Path inside the container.
    pub container_path: String,
    /// Mount read-only.
    pub read_only: bool,
}

/// A container log configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogConfiguration {
    /// Log driver, e.g. `awslogs`.
    pub driver: String,
    /// Driver options.
    pub options: BTreeMap<String, String>,
}

/// A Docker health check of the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerHealthCheck {
    /// Command, e.g. `["CMD-SHELL", "curl -f http://localhost/ || exit 1"]`.
    pub command: Vec<String>,
    /// Seconds between checks.
    pub interval: i32,
    /// Seconds before a check times out.
    pub timeout: i32,
    /// Failures before the container is unhealthy.
    pub retries: i32,
    /// Grace period in seconds.
    pub start_period: i32,
}

/// Application Auto Scaling of one service's desired count: the scalable target
/// `service/<cluster>/<service>` and what scales it. bosun owns the target by its tags,
/// and the policies and scheduled actions on it by their names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoscalingSpec {
    /// `MinCapacity`: the fewest tasks the scaler keeps.
    pub min: i32,
    /// `MaxCapacity`: the most tasks the scaler starts.
    pub max: i32,
    /// Target-tracking policies, sorted by name (one per metric).
    pub target_tracking: Vec<TargetTrackingSpec>,
    /// Scheduled actions, sorted by name.
    pub scheduled: Vec<ScheduledActionSpec>,
}

/// The metric a target-tracking policy keeps at its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScalingMetric {
    /// `ECSServiceAverageCPUUtilization`, in percent.
    Cpu,
    /// `ECSServiceAverageMemoryUtilization`, in percent.
    Memory,
    /// `ALBRequestCountPerTarget`: requests per task and minute through the service's
    /// target group.
    AlbRequests,
}

impl ScalingMetric {
    /// The metric as the stackfile names it, and the suffix of the policy's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ScalingMetric::Cpu => "cpu",
            ScalingMetric::Memory => "memory",
            ScalingMetric::AlbRequests => "alb_requests",
        }
    }

    /// The predefined metric type Application Auto Scaling uses.
    pub fn as_aws(self) -> &'static str {
        match self {
            ScalingMetric::Cpu => "ECSServiceAverageCPUUtilization",
            ScalingMetric::Memory => "ECSServiceAverageMemoryUtilization",
            ScalingMetric::AlbRequests => "ALBRequestCountPerTarget",
        }
    }

    /// The metric of a predefined metric type, if bosun has one for it.
    pub fn from_aws(s: &str) -> Option<Self> {
        [ScalingMetric::Cpu, ScalingMetric::Memory, ScalingMetric::AlbRequests].into_iter().find(|m| m.as_aws() == s)
    }
}

/// A target-tracking scaling policy, in the shape the planner compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetTrackingSpec {
    /// Policy name: `<cluster>-<service>-<metric>`.
    pub name: String,
    /// What is tracked.
    pub metric: ScalingMetric,
    /// The value the scaler keeps the metric at (percent, or requests per target).
    pub target: i32,
    /// For `alb_requests`, the target group whose requests count, as
    /// `(load balancer, target group)` AWS names: apply builds the policy's resource
    /// label from their ARNs. `None` for the other metrics.
    pub alb: Option<(String, String)>,
    /// Seconds after a scale-in before another (Application Auto Scaling's default for
    /// ECS, 300, when the stackfile leaves it out).
    pub scale_in_cooldown: i32,
    /// Seconds after a scale-out before another (default 300).
    pub scale_out_cooldown: i32,
}

/// A scheduled action that changes the bounds at given times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledActionSpec {
    /// Action name: `<cluster>-<service>-<name>`.
    pub name: String,
    /// `at(...)`, `rate(...)` or `cron(...)`, as Application Auto Scaling takes it.
    pub schedule: String,
    /// New `MinCapacity`, if the action sets one.
    pub min: Option<i32>,
    /// New `MaxCapacity`, if the action sets one.
    pub max: Option<i32>,
    /// The time zone of the schedule (IANA name; `UTC` when the stackfile leaves it out,
    /// as Application Auto Scaling assumes).
    pub timezone: String,
}

mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}
