//! The plan: ordered changes, orphans and conflicts, with a stable hash.

use bosun_stackfile::{
    ClusterSpec, DiscoverySpec, DnsRecordSpec, HookSpec, ListenerSpec, LoadBalancerSpec, LogGroupSpec, NamespaceSpec,
    RuleSpec, ScheduledActionSpec, ServiceSpec, TargetGroupSpec, TargetTrackingSpec, TaskDefinitionSpec,
};
use serde::{Deserialize, Serialize};

use crate::fields::{ClusterField, Field, ServiceField};

/// Settings that shape a plan but do not come from the stackfile's resources.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Delete owned resources that the stackfile no longer mentions. Without it they
    /// are listed as orphans and left in place.
    pub prune: bool,
    /// Services removed on purpose (the API's `DELETE .../services/{s}`): what bosun
    /// owns for them is deleted even without `prune`, while other orphans stay orphans.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub prune_services: std::collections::BTreeSet<String>,
}

impl Policy {
    /// The policy a stackfile asks for.
    pub fn from_desired(desired: &bosun_stackfile::Desired) -> Self {
        Self { prune: desired.prune, prune_services: Default::default() }
    }

    /// Whether to delete an owned orphan that belongs to `service` (if any).
    pub fn prunes(&self, service: Option<&str>) -> bool {
        self.prune || service.is_some_and(|s| self.prune_services.contains(s))
    }
}

/// The kinds of resource a plan touches, in the order their creates must run.
/// Deletes run in the reverse order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The ECS cluster.
    Cluster,
    /// The Cloud Map namespace.
    Namespace,
    /// A Cloud Map service.
    DiscoveryService,
    /// An ELBv2 target group.
    TargetGroup,
    /// An application load balancer.
    LoadBalancer,
    /// A listener.
    Listener,
    /// A listener rule.
    Rule,
    /// A Route53 alias record.
    Record,
    /// A CloudWatch Logs group (`logging.create_group`): it exists before the tasks that
    /// log to it run.
    LogGroup,
    /// An ECS task definition revision.
    TaskDefinition,
    /// A one-off task run before services change.
    PreHook,
    /// An ECS service.
    Service,
    /// A one-off task run after a rollout succeeded.
    PostHook,
    /// An Application Auto Scaling target: a service's task count and its bounds.
    /// Registered after the service exists, deregistered before it is deleted.
    ScalableTarget,
    /// A target-tracking scaling policy of a scalable target.
    ScalingPolicy,
    /// A scheduled action of a scalable target.
    ScheduledAction,
}

impl Kind {
    /// Human name used in rendering.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Cluster => "cluster",
            Kind::Namespace => "namespace",
            Kind::DiscoveryService => "discovery service",
            Kind::TargetGroup => "target group",
            Kind::LoadBalancer => "load balancer",
            Kind::Listener => "listener",
            Kind::Rule => "listener rule",
            Kind::Record => "dns record",
            Kind::LogGroup => "log group",
            Kind::TaskDefinition => "task definition",
            Kind::PreHook => "pre-deploy hook",
            Kind::Service => "service",
            Kind::PostHook => "post-deploy hook",
            Kind::ScalableTarget => "scalable target",
            Kind::ScalingPolicy => "scaling policy",
            Kind::ScheduledAction => "scheduled action",
        }
    }
}

/// What a change does to its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Create a resource that does not exist.
    Create,
    /// Change a resource in place.
    Update,
    /// Take over an existing resource bosun does not own yet (tag it), and update it.
    Adopt,
    /// Delete and create again (a field cannot change in place).
    Replace,
    /// Delete an owned resource that the stackfile no longer mentions (`prune: true`).
    Delete,
    /// Run a one-off task.
    Run,
}

impl Action {
    /// The marker used in text rendering.
    pub fn marker(self) -> &'static str {
        match self {
            Action::Create | Action::Run => "+",
            Action::Update | Action::Adopt => "~",
            Action::Replace => "±",
            Action::Delete => "-",
        }
    }

    /// Whether deletes of this action run in reverse dependency order.
    pub fn is_delete(self) -> bool {
        matches!(self, Action::Delete)
    }
}

/// Identifies one resource in a plan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Resource {
    /// The kind of resource.
    pub kind: Kind,
    /// Its name: the AWS name, or `lb:port` for listeners, `lb:port#priority` for
    /// rules, the record name for records, `service/hook` for hooks.
    pub name: String,
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.label(), self.name)
    }
}

/// One field that changes, rendered for humans. Environment values are never put
/// here, nor anything computed from them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// The field, shown by name, e.g. `desired_count` or `health_check.path`.
    pub field: Field,
    /// Live value.
    pub before: String,
    /// Desired value.
    pub after: String,
}

impl FieldChange {
    pub(crate) fn new(field: impl Into<Field>, before: impl ToString, after: impl ToString) -> Self {
        Self { field: field.into(), before: before.to_string(), after: after.to_string() }
    }
}

/// Which hooks: before or after the rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookPhase {
    /// Before any service changes.
    Pre,
    /// After the service's rollout succeeded.
    Post,
}

/// The AWS work of one change, with everything the applier needs. ARNs come from
/// observation; resources created earlier in the same apply are found by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[allow(missing_docs)]
// A plan holds one step per change in a Vec that is built once; boxing the larger
// variants would add an allocation per change and buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Step {
    CreateCluster {
        name: String,
        /// The `cluster:` block's settings; left out of the JSON when the stackfile has
        /// none, so plans read as before the block existed.
        #[serde(skip_serializing_if = "Option::is_none")]
        settings: Option<ClusterSpec>,
    },
    UpdateCluster {
        name: String,
        settings: ClusterSpec,
        fields: Vec<ClusterField>,
    },
    CreateNamespace {
        spec: NamespaceSpec,
    },
    CreateDiscoveryService {
        service: String,
        namespace: String,
        spec: DiscoverySpec,
    },
    UpdateDiscoveryService {
        id: String,
        spec: DiscoverySpec,
        adopt_service: Option<String>,
    },
    DeleteDiscoveryService {
        id: String,
    },
    CreateTargetGroup {
        service: String,
        spec: TargetGroupSpec,
    },
    ModifyTargetGroup {
        arn: String,
        spec: TargetGroupSpec,
        adopt_service: Option<String>,
    },
    DeleteTargetGroup {
        arn: String,
    },
    CreateLoadBalancer {
        spec: LoadBalancerSpec,
    },
    UpdateLoadBalancer {
        arn: String,
        spec: LoadBalancerSpec,
    },
    DeleteLoadBalancer {
        arn: String,
    },
    CreateListener {
        load_balancer: String,
        spec: ListenerSpec,
    },
    ModifyListener {
        arn: String,
        spec: ListenerSpec,
    },
    DeleteListener {
        arn: String,
    },
    CreateRule {
        service: String,
        spec: RuleSpec,
    },
    ModifyRule {
        arn: String,
        service: String,
        spec: RuleSpec,
    },
    DeleteRule {
        arn: String,
    },
    UpsertRecord {
        service: String,
        spec: DnsRecordSpec,
    },
    DeleteRecord {
        zone_id: String,
        name: String,
    },
    RegisterTaskDefinition {
        service: String,
        spec: TaskDefinitionSpec,
        spec_hash: String,
    },
    RunHook {
        service: String,
        phase: HookPhase,
        hook: HookSpec,
        family: String,
    },
    CreateService {
        spec: Box<ServiceSpec>,
        spec_hash: String,
    },
    UpdateService {
        spec: Box<ServiceSpec>,
        spec_hash: String,
        /// Fields of the ECS service to send, in the order the plan shows them.
        fields: Vec<ServiceField>,
        /// Tag the service as bosun's (adoption).
        adopt: bool,
    },
    DeleteService {
        name: String,
        arn: String,
    },
    /// RegisterScalableTarget of `service/<cluster>/<service>`: creates the target
    /// (with bosun's tags) or sets its bounds.
    RegisterScalableTarget {
        service: String,
        min: i32,
        max: i32,
        /// The target does not exist yet: tag it as bosun's.
        create: bool,
    },
    /// CreateLogGroup with bosun's tags, then its retention.
    CreateLogGroup {
        spec: LogGroupSpec,
    },
    /// PutRetentionPolicy, or DeleteRetentionPolicy for `None` (kept forever).
    PutRetentionPolicy {
        name: String,
        retention_days: Option<i32>,
    },
    /// DeregisterScalableTarget, which deletes its policies and scheduled actions too.
    DeregisterScalableTarget {
        service: String,
    },
    PutScalingPolicy {
        service: String,
        spec: TargetTrackingSpec,
    },
    DeleteScalingPolicy {
        service: String,
        name: String,
    },
    PutScheduledAction {
        service: String,
        spec: ScheduledActionSpec,
    },
    DeleteScheduledAction {
        service: String,
        name: String,
    },
}

/// One planned change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// What is changed.
    pub resource: Resource,
    /// How.
    pub action: Action,
    /// The service this change belongs to, for progress and errors.
    pub service: Option<String>,
    /// Field-level before/after.
    pub fields: Vec<FieldChange>,
    /// Unified diff of a changed task definition, live against desired.
    pub diff: Option<String>,
    /// The AWS work.
    pub step: Step,
}

/// An owned resource the stackfile no longer mentions, left in place because prune
/// is off.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Orphan {
    /// The resource.
    pub resource: Resource,
}

/// A desired resource whose name is taken by something bosun does not own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Conflict {
    /// The resource.
    pub resource: Resource,
    /// Why nothing will be done, and how to resolve it.
    pub reason: String,
}

/// Counts of changes by action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Creates.
    pub create: usize,
    /// Updates and adoptions.
    pub update: usize,
    /// Replacements.
    pub replace: usize,
    /// Deletes.
    pub delete: usize,
    /// Hook runs.
    pub run: usize,
}

/// A change as the plan hash sees it: service steps leave out their task definition,
/// which its `spec_hash` (and the register step before them) already covers. Hashing
/// each task definition once instead of twice keeps planning fast.
struct HashedChange<'a>(&'a Change);

impl Serialize for HashedChange<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let Change { resource, action, service, fields, diff, step } = self.0;
        let mut st = s.serialize_struct("Change", 6)?;
        st.serialize_field("resource", resource)?;
        st.serialize_field("action", action)?;
        st.serialize_field("service", service)?;
        st.serialize_field("fields", fields)?;
        st.serialize_field("diff", diff)?;
        match step {
            Step::CreateService { spec, spec_hash } => {
                st.serialize_field("step", &("create_service", ServiceWithoutTaskDefinition(spec), spec_hash))?
            }
            Step::UpdateService { spec, spec_hash, fields, adopt } => st.serialize_field(
                "step",
                &("update_service", ServiceWithoutTaskDefinition(spec), spec_hash, fields, adopt),
            )?,
            other => st.serialize_field("step", other)?,
        }
        st.end()
    }
}

/// Every field of a service spec but its task definition. The destructuring is
/// exhaustive, so a field added to `ServiceSpec` fails to compile here until it is
/// hashed too.
struct ServiceWithoutTaskDefinition<'a>(&'a ServiceSpec);

impl Serialize for ServiceWithoutTaskDefinition<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple as _;
        let ServiceSpec {
            name,
            kind,
            task_definition: _,
            desired_count,
            initial_count,
            launch_type,
            network,
            target_group,
            container_port,
            rules,
            dns,
            discovery,
            deployment,
            placement_strategy,
            placement_constraints,
            hooks,
            adopt,
            capacity_provider_strategy,
            propagate_tags,
            enable_execute_command,
            health_check_grace_period,
            enable_ecs_managed_tags,
            // Its own steps carry it (and the plan hash covers them).
            autoscaling: _,
            service_connect,
        } = self.0;
        // The settings added later are one more element, and only when one is set: the
        // hash of a plan that does not use them is what it was before they existed.
        let settings = (
            capacity_provider_strategy,
            propagate_tags,
            enable_execute_command,
            health_check_grace_period,
            enable_ecs_managed_tags,
        );
        let has_settings = !capacity_provider_strategy.is_empty()
            || propagate_tags.is_some()
            || *enable_execute_command
            || health_check_grace_period.is_some()
            || *enable_ecs_managed_tags;
        let len = 16 + usize::from(has_settings) + usize::from(service_connect.is_some());
        let mut t = s.serialize_tuple(len)?;
        t.serialize_element(name)?;
        t.serialize_element(kind)?;
        t.serialize_element(desired_count)?;
        t.serialize_element(initial_count)?;
        t.serialize_element(launch_type)?;
        t.serialize_element(network)?;
        t.serialize_element(target_group)?;
        t.serialize_element(container_port)?;
        t.serialize_element(rules)?;
        t.serialize_element(dns)?;
        t.serialize_element(discovery)?;
        t.serialize_element(deployment)?;
        t.serialize_element(placement_strategy)?;
        t.serialize_element(placement_constraints)?;
        t.serialize_element(hooks)?;
        t.serialize_element(adopt)?;
        if has_settings {
            t.serialize_element(&settings)?;
        }
        // Service Connect came later still: one more element, only when set.
        if let Some(sc) = service_connect {
            t.serialize_element(sc)?;
        }
        t.end()
    }
}

/// The plan for one cluster.
///
/// `changes` are in execution order: creates and updates in dependency order (cluster,
/// namespace, discovery services, target groups, load balancers, listeners, rules,
/// records, log groups, task definitions, pre-hooks, services, post-hooks, scalable targets,
/// scaling policies, scheduled actions), then deletes in the reverse order. [`Plan::stages`] says which of them run at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The cluster planned.
    pub cluster: String,
    /// Ordered changes.
    pub changes: Vec<Change>,
    /// Owned resources left in place because prune is off.
    pub orphans: Vec<Orphan>,
    /// Desired resources that collide with resources bosun does not own.
    pub conflicts: Vec<Conflict>,
    /// Stable hash of the changes (see [`Plan::compute_hash`]).
    pub hash: String,
}

impl Plan {
    /// Whether applying the plan would make no change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The summary as one line: `2 to create, 1 to update`, or `no changes`.
    pub fn summary_line(&self) -> String {
        let s = self.summary();
        let parts: Vec<String> = [
            (s.create, "to create"),
            (s.update, "to update"),
            (s.replace, "to replace"),
            (s.delete, "to delete"),
            (s.run, "hook(s) to run"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if parts.is_empty() { "no changes".to_owned() } else { parts.join(", ") }
    }

    /// Counts by action.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update | Action::Adopt => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.delete += 1,
                Action::Run => s.run += 1,
            }
        }
        s
    }

    /// BLAKE3 over the canonical JSON of the cluster, the changes and the conflicts.
    /// (BLAKE3 rather than SHA-256: it is as collision-resistant and several times
    /// faster where the CPU has no SHA extensions; hashing was 3/4 of planning time.)
    /// Two plans with the same hash do the same AWS work, so a plan that was reviewed
    /// can be applied exactly (`bosun apply --plan-hash`). Orphans are excluded: they
    /// do no work.
    pub fn compute_hash(cluster: &str, changes: &[Change], conflicts: &[Conflict]) -> String {
        #[derive(Serialize)]
        struct Hashed<'a> {
            cluster: &'a str,
            changes: Vec<HashedChange<'a>>,
            conflicts: &'a [Conflict],
        }
        let hashed = Hashed { cluster, changes: changes.iter().map(HashedChange).collect(), conflicts };
        let mut hasher = blake3::Hasher::new();
        {
            // serde_json writes in small pieces; BLAKE3 is fastest fed large chunks.
            let mut buffered = std::io::BufWriter::with_capacity(64 * 1024, &mut hasher);
            serde_json::to_writer(&mut buffered, &hashed).expect("plan types always serialise");
            std::io::Write::flush(&mut buffered).expect("writing to a hasher cannot fail");
        }
        hasher.finalize().to_hex().to_string()
    }

    /// The short form of the hash shown to users (16 hex digits). `--plan-hash`
    /// accepts it or any longer prefix of the full hash.
    pub fn short_hash(&self) -> &str {
        &self.hash[..16]
    }

    /// Whether `given` names this plan: a prefix of at least 16 hex digits.
    pub fn matches_hash(&self, given: &str) -> bool {
        given.len() >= 16 && self.hash.starts_with(&given.to_ascii_lowercase())
    }
}
