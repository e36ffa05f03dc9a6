//! The observed state of one cluster, as the AWS adapter reads it.
//!
//! These are domain types, not SDK output types: the adapter converts what AWS returns
//! into them, and the planner compares them with [`Desired`](bosun_stackfile::Desired).
//! Everything is keyed by the name the stackfile uses, so planning needs no ARNs.

use std::collections::{BTreeMap, BTreeSet};

use bosun_stackfile::{
    CapacityProviderItem, ClusterCapacity, DefaultAction, NetworkSpec, PlacementConstraint, PlacementStrategy,
    PropagateTags, Protocol, ScheduledActionSpec, Scheme, ServiceConnectSpec, TargetGroupSpec, TargetTrackingSpec,
    TaskDefinitionSpec,
};
use serde::{Deserialize, Serialize};

/// Tag keys bosun writes on everything it creates.
pub mod tags {
    /// Marks a resource as bosun's; the value is always [`MANAGED_BY_VALUE`].
    pub const MANAGED_BY: &str = "bosun:managed-by";
    /// The value of [`MANAGED_BY`].
    pub const MANAGED_BY_VALUE: &str = "bosun";
    /// The cluster a resource belongs to.
    pub const CLUSTER: &str = "bosun:cluster";
    /// The service a resource belongs to, when it belongs to one.
    pub const SERVICE: &str = "bosun:service";
    /// Hash of the normalised task-definition spec (task definitions and services).
    pub const SPEC_HASH: &str = "bosun:spec-hash";
    /// `family:revision` of the task definition bosun last deployed to a service.
    /// Lets the observer tell an out-of-band task-definition change without a
    /// DescribeTaskDefinition call.
    pub const TASK_DEFINITION: &str = "bosun:task-definition";
}

/// Who owns a resource, read from its tags (or, for Route53 records, from the TXT
/// record bosun writes beside them, since records cannot carry tags).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// `bosun:managed-by=bosun` is present.
    pub managed: bool,
    /// Value of `bosun:cluster`.
    pub cluster: Option<String>,
    /// Value of `bosun:service`.
    pub service: Option<String>,
}

impl Owner {
    /// Ownership tags for a resource of `cluster`, optionally of one service.
    pub fn bosun(cluster: &str, service: Option<&str>) -> Self {
        Self { managed: true, cluster: Some(cluster.to_owned()), service: service.map(str::to_owned) }
    }

    /// Read ownership from tag pairs.
    pub fn from_tags<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut owner = Owner::default();
        for (k, v) in tags {
            match k {
                tags::MANAGED_BY => owner.managed = v == tags::MANAGED_BY_VALUE,
                tags::CLUSTER => owner.cluster = Some(v.to_owned()),
                tags::SERVICE => owner.service = Some(v.to_owned()),
                _ => {}
            }
        }
        owner
    }

    /// Whether bosun manages this resource on behalf of `cluster`.
    pub fn is_owned_by(&self, cluster: &str) -> bool {
        self.managed && self.cluster.as_deref() == Some(cluster)
    }

    /// The tag pairs that express this ownership.
    pub fn to_tags(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.managed {
            out.push((tags::MANAGED_BY.to_owned(), tags::MANAGED_BY_VALUE.to_owned()));
        }
        if let Some(c) = &self.cluster {
            out.push((tags::CLUSTER.to_owned(), c.clone()));
        }
        if let Some(s) = &self.service {
            out.push((tags::SERVICE.to_owned(), s.clone()));
        }
        out
    }
}

/// Everything the planner needs to know about the live state of one cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// The ECS cluster, `None` when it does not exist (or is INACTIVE).
    pub cluster: Option<ObservedCluster>,
    /// ACTIVE and DRAINING services of the cluster, keyed by name.
    pub services: BTreeMap<String, ObservedService>,
    /// Live task definitions the observer had to read (a service whose recorded spec
    /// hash does not match the desired one, or that drifted), keyed by ARN.
    pub task_definitions: BTreeMap<String, ObservedTaskDefinition>,
    /// The latest ACTIVE revision of each family the plan may register a revision
    /// of, keyed by family: every `type: task` entry (these have no service to carry
    /// the spec hash), and each service that does not exist yet or whose recorded spec
    /// hash differs (or that drifted). A family missing here had no ACTIVE revision.
    /// Applying reuses a revision found here that already has the desired spec.
    pub task_families: BTreeMap<String, ObservedTaskDefinition>,
    /// Load balancers that matter to this cluster (desired names, or owned), by name.
    pub load_balancers: BTreeMap<String, ObservedLoadBalancer>,
    /// Target groups that matter to this cluster, by name.
    pub target_groups: BTreeMap<String, ObservedTargetGroup>,
    /// The Cloud Map namespace named by the stackfile, if it exists.
    pub namespace: Option<ObservedNamespace>,
    /// Cloud Map services in that namespace, by name.
    pub discovery_services: BTreeMap<String, ObservedDiscoveryService>,
    /// Route53 A records in the zones the stackfile names, by (zone id, record name).
    pub records: BTreeMap<RecordKey, ObservedRecord>,
    /// Hosted zones the stackfile names that Route53 does not have. The observer reads
    /// every named zone anyway, so this is how the preflight check learns of them
    /// without a call of its own; the planner does not look at it.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub missing_zones: BTreeSet<String>,
    /// Application Auto Scaling targets of the cluster's services (desired or live),
    /// keyed by service name, whoever owns them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scalable_targets: BTreeMap<String, ObservedScalableTarget>,
    /// The CloudWatch Logs groups the stackfile asks bosun to create that exist, by name
    /// (only those: a stack without `create_group` reads none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub log_groups: BTreeMap<String, ObservedLogGroup>,
}

/// A CloudWatch Logs group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedLogGroup {
    /// ARN (without the `:*` suffix DescribeLogGroups adds): what its tags are read by.
    pub arn: String,
    /// Days its events are kept; `None` for forever.
    pub retention_days: Option<i32>,
    /// Ownership tags.
    pub owner: Owner,
}

/// The scalable target of one ECS service (`service/<cluster>/<service>`), with the
/// policies and scheduled actions on it in the desired shapes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedScalableTarget {
    /// ARN: what its tags are read and written by.
    pub arn: String,
    /// `MinCapacity`.
    pub min: i32,
    /// `MaxCapacity`.
    pub max: i32,
    /// Ownership tags.
    pub owner: Owner,
    /// Scaling policies by name; `None` for one bosun cannot express (step scaling, a
    /// custom metric), which a policy of bosun's name is then planned to replace.
    pub policies: BTreeMap<String, Option<TargetTrackingSpec>>,
    /// Scheduled actions by name.
    pub scheduled: BTreeMap<String, ScheduledActionSpec>,
}

/// Key of a Route53 record: hosted zone id and fully qualified name with trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordKey {
    /// Hosted zone id, without `/hostedzone/`.
    pub zone_id: String,
    /// Record name, lower case, with the trailing dot.
    pub name: String,
}

/// The ECS cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedCluster {
    /// Cluster ARN.
    pub arn: String,
    /// Ownership tags.
    pub owner: Owner,
    /// Its capacity providers and default strategy, as the stackfile's `cluster:` block
    /// says them (providers sorted).
    #[serde(default)]
    pub capacity: ClusterCapacity,
    /// Its `containerInsights` setting, when ECS reports one.
    #[serde(default)]
    pub container_insights: Option<String>,
}

/// One ECS service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedService {
    /// Service name.
    pub name: String,
    /// Service ARN.
    pub arn: String,
    /// `ACTIVE` or `DRAINING`.
    pub status: String,
    /// Ownership tags.
    pub owner: Owner,
    /// Full ARN of the task definition the service runs.
    pub task_definition_arn: String,
    /// `bosun:spec-hash` of the service: the spec bosun last deployed.
    pub spec_hash: Option<String>,
    /// `bosun:task-definition`: `family:revision` bosun last deployed.
    pub deployed_task_definition: Option<String>,
    /// Desired task count.
    pub desired_count: i32,
    /// Running task count.
    pub running_count: i32,
    /// Pending task count.
    pub pending_count: i32,
    /// `EC2`, `FARGATE`, or `None` for a capacity-provider service.
    pub launch_type: Option<String>,
    /// awsvpc configuration, if any.
    pub network: Option<NetworkSpec>,
    /// Target group names (resolved from ARNs) with container name and port.
    pub load_balancers: Vec<ServiceLoadBalancer>,
    /// Cloud Map service registry ARNs; the planner resolves them to names through
    /// [`Observed::discovery_services`].
    pub registries: Vec<String>,
    /// Deployment circuit breaker enabled.
    pub circuit_breaker: bool,
    /// Rollback on circuit-breaker failure.
    pub rollback: bool,
    /// `minimumHealthyPercent`.
    pub min_healthy_percent: i32,
    /// `maximumPercent`.
    pub max_percent: i32,
    /// Placement strategy.
    pub placement_strategy: Vec<PlacementStrategy>,
    /// Placement constraints.
    pub placement_constraints: Vec<PlacementConstraint>,
    /// Capacity, ECS Exec, grace period and tag settings. Left out of the JSON while
    /// all are ECS's defaults, so observations recorded before they existed still read.
    #[serde(default, skip_serializing_if = "ServiceSettings::is_default")]
    pub settings: ServiceSettings,
}

/// The settings of a live service that issue 15 added to the stackfile, each as ECS
/// reports it (unset is ECS's default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSettings {
    /// The capacity provider strategy; empty for a service with a launch type.
    pub capacity_provider_strategy: Vec<CapacityProviderItem>,
    /// `propagateTags`; `None` for `NONE`.
    pub propagate_tags: Option<PropagateTags>,
    /// `enableExecuteCommand`.
    pub enable_execute_command: bool,
    /// `healthCheckGracePeriodSeconds` (0 when unset).
    pub health_check_grace_period: i32,
    /// `enableECSManagedTags`.
    pub enable_ecs_managed_tags: bool,
    /// Service Connect, as the PRIMARY deployment reports it (ECS keeps it there, not
    /// on the service); `None` when it is off. Left out of the JSON while off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_connect: Option<ServiceConnectSpec>,
}

impl ServiceSettings {
    /// Whether every setting is ECS's default.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl ObservedService {
    /// `family:revision` of the task definition the service runs now.
    pub fn running_family_revision(&self) -> &str {
        self.task_definition_arn.rsplit_once('/').map_or(self.task_definition_arn.as_str(), |(_, fr)| fr)
    }

    /// Whether the service still runs the task definition bosun deployed to it.
    pub fn runs_deployed_revision(&self) -> bool {
        self.deployed_task_definition.as_deref() == Some(self.running_family_revision())
    }
}

/// A load balancer attachment of a service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServiceLoadBalancer {
    /// Target group name (or ARN when it could not be resolved).
    pub target_group: String,
    /// Container that receives traffic.
    pub container_name: String,
    /// Container port that receives traffic.
    pub container_port: u16,
}

/// A live task definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedTaskDefinition {
    /// Full ARN.
    pub arn: String,
    /// The definition converted back into the normalised spec shape.
    pub spec: TaskDefinitionSpec,
    /// `bosun:spec-hash` tag, if bosun registered it.
    pub spec_hash: Option<String>,
}

/// An application load balancer with its listeners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedLoadBalancer {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Scheme.
    pub scheme: Scheme,
    /// Subnets, sorted.
    pub subnets: Vec<String>,
    /// Security groups, sorted.
    pub security_groups: Vec<String>,
    /// DNS name, the target of alias records.
    pub dns_name: String,
    /// Canonical hosted zone id, the zone of alias records.
    pub canonical_zone_id: String,
    /// Ownership tags.
    pub owner: Owner,
    /// Listeners by port.
    pub listeners: BTreeMap<u16, ObservedListener>,
}

/// A listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedListener {
    /// ARN.
    pub arn: String,
    /// Port.
    pub port: u16,
    /// Protocol.
    pub protocol: Protocol,
    /// Certificate ARNs, sorted.
    pub certificates: Vec<String>,
    /// Default action, with target group names resolved.
    pub default_action: DefaultAction,
    /// Non-default rules by priority; `None` when the observer did not read them
    /// (listeners that no desired rule routes through).
    pub rules: Option<BTreeMap<u32, ObservedRule>>,
}

/// A listener rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedRule {
    /// ARN.
    pub arn: String,
    /// Priority.
    pub priority: u32,
    /// Host patterns, sorted.
    pub hosts: Vec<String>,
    /// Path patterns, sorted.
    pub paths: Vec<String>,
    /// Target group name the rule forwards to.
    pub target_group: String,
    /// Ownership tags.
    pub owner: Owner,
}

/// A target group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedTargetGroup {
    /// ARN.
    pub arn: String,
    /// The live settings in the desired shape.
    pub spec: TargetGroupSpec,
    /// Ownership tags.
    pub owner: Owner,
}

/// A Cloud Map namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedNamespace {
    /// Namespace id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// A Cloud Map service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedDiscoveryService {
    /// Service id.
    pub id: String,
    /// ARN (what ECS service registries reference).
    pub arn: String,
    /// Name inside the namespace.
    pub name: String,
    /// TTL of the A record.
    pub dns_ttl: i64,
    /// Ownership tags.
    pub owner: Owner,
}

/// A Route53 alias A record, with the ownership bosun records in a TXT record of the
/// same name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedRecord {
    /// Alias target DNS name, lower case, without trailing dot; `None` for a plain A
    /// record.
    pub alias_dns_name: Option<String>,
    /// Ownership from the companion TXT record.
    pub owner: Owner,
}

/// The TXT value bosun writes beside each record it owns.
pub fn record_owner_txt(cluster: &str, service: &str) -> String {
    format!("\"bosun:managed-by=bosun,bosun:cluster={cluster},bosun:service={service}\"")
}

/// Parse a TXT value written by [`record_owner_txt`].
pub fn parse_record_owner_txt(txt: &str) -> Owner {
    let inner = txt.trim().trim_matches('"');
    Owner::from_tags(inner.split(',').filter_map(|kv| kv.split_once('=')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_owner_round_trips() {
        let txt = record_owner_txt("prod", "web");
        assert_eq!(parse_record_owner_txt(&txt), Owner::bosun("prod", Some("web")));
        assert!(parse_record_owner_txt("\"v=spf1 -all\"").cluster.is_none());
    }

    #[test]
    fn ownership_needs_the_same_cluster() {
        let owner = Owner::bosun("prod", None);
        assert!(owner.is_owned_by("prod"));
        assert!(!owner.is_owned_by("staging"));
        assert!(!Owner::default().is_owned_by("prod"));
    }
}
