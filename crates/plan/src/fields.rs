//! The fields a plan changes, as enums: one per resource kind, shared by the planner
//! (which finds the changed fields), the renderer (which names them), the simulator and
//! the AWS adapter (which act on them).
//!
//! A field's name (its `Display`) is what plan text and plan JSON show, and what the
//! plan hash covers. Matching on these enums is exhaustive: a field added here does not
//! compile until every consumer handles it, where a misspelt string would have
//! silently dropped an update. Target-group fields are named by the spec itself, as
//! apply sends a target group whole.

use std::fmt;

use serde::{Serialize, Serializer};

/// Declares a field enum with the name of each variant, `Display` and `Serialize` as
/// that name, and a conversion into [`Field`].
macro_rules! fields {
    (
        $(#[$meta:meta])*
        $name:ident => Field::$wrap:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// The name shown in plan text and JSON.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl From<$name> for Field {
            fn from(f: $name) -> Self {
                Field::$wrap(f)
            }
        }
    };
}

fields! {
    /// A field of an ECS service that `UpdateService` sends.
    ServiceField => Field::Service {
        /// The task definition revision the service runs.
        TaskDefinition => "task_definition",
        /// The number of tasks.
        DesiredCount => "desired_count",
        /// The deployment circuit breaker and its rollback switch.
        CircuitBreaker => "deployment.circuit_breaker",
        /// `minimumHealthyPercent`.
        MinHealthyPercent => "deployment.min_healthy_percent",
        /// `maximumPercent`.
        MaxPercent => "deployment.max_percent",
        /// The awsvpc network configuration.
        Network => "network",
        /// The target group the service registers in.
        LoadBalancers => "load_balancers",
        /// The Cloud Map service the service registers in.
        ServiceRegistries => "service_registries",
        /// The placement strategy.
        PlacementStrategy => "placement_strategy",
        /// The service's placement constraints.
        PlacementConstraints => "placement_constraints",
        /// The capacity provider strategy (a move from a launch type forces a new
        /// deployment).
        CapacityProviderStrategy => "capacity",
        /// ECS Exec.
        EnableExecuteCommand => "enable_execute_command",
        /// `healthCheckGracePeriodSeconds`.
        HealthCheckGracePeriod => "health_check_grace_period",
        /// ECS-managed tags on the tasks.
        EnableEcsManagedTags => "enable_ecs_managed_tags",
        /// Which tags ECS copies onto the tasks.
        PropagateTags => "propagate_tags",
        /// ECS Service Connect: the namespace, the ports offered and their aliases.
        ServiceConnect => "service_connect",
    }
}

impl ServiceField {
    /// Whether the field is part of the deployment configuration, which ECS takes as
    /// one value.
    pub const fn is_deployment(self) -> bool {
        matches!(self, Self::CircuitBreaker | Self::MinHealthyPercent | Self::MaxPercent)
    }
}

/// A field of a target group, named by the spec itself
/// ([`TargetGroupSpec::fixed_fields`](bosun_stackfile::TargetGroupSpec::fixed_fields),
/// [`TargetHealthCheck::fields`](bosun_stackfile::TargetHealthCheck::fields)): a field
/// added to the spec is compared and shown without a change here or in the planner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetGroupField {
    /// A field ELBv2 fixes at creation (`port`, `protocol`, `vpc_id`, `target_type`):
    /// a change is a conflict, not an update.
    Fixed(&'static str),
    /// A field of the health check, which ModifyTargetGroup changes
    /// (`health_check.<field>`).
    HealthCheck(&'static str),
}

impl TargetGroupField {
    /// Whether ELBv2 cannot change the field of an existing target group.
    pub const fn is_immutable(self) -> bool {
        matches!(self, Self::Fixed(_))
    }
}

impl fmt::Display for TargetGroupField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Field::TargetGroup(*self).fmt(f)
    }
}

impl From<TargetGroupField> for Field {
    fn from(f: TargetGroupField) -> Self {
        Field::TargetGroup(f)
    }
}

fields! {
    /// A setting of the ECS cluster (`cluster:`).
    ClusterField => Field::Cluster {
        /// The capacity providers the cluster may use.
        CapacityProviders => "capacity_providers",
        /// The strategy of services that name none.
        DefaultStrategy => "default_strategy",
        /// CloudWatch Container Insights.
        ContainerInsights => "container_insights",
    }
}

impl ClusterField {
    /// Whether ECS sets the field with `PutClusterCapacityProviders` (else
    /// `UpdateCluster`'s settings).
    pub const fn is_capacity(self) -> bool {
        matches!(self, Self::CapacityProviders | Self::DefaultStrategy)
    }
}

fields! {
    /// A field of a load balancer.
    LoadBalancerField => Field::LoadBalancer {
        /// Its subnets.
        Subnets => "subnets",
        /// Its security groups.
        SecurityGroups => "security_groups",
    }
}

fields! {
    /// A field of a listener.
    ListenerField => Field::Listener {
        /// HTTP or HTTPS.
        Protocol => "protocol",
        /// The certificates of an HTTPS listener.
        Certificates => "certificates",
        /// What the listener does when no rule matches.
        DefaultAction => "default_action",
    }
}

fields! {
    /// A field of a listener rule.
    RuleField => Field::Rule {
        /// Host header conditions.
        Hosts => "hosts",
        /// Path pattern conditions.
        Paths => "paths",
        /// The target group the rule forwards to.
        TargetGroup => "target_group",
    }
}

fields! {
    /// A field of a Route53 record.
    RecordField => Field::Record {
        /// The load balancer the alias points at.
        Alias => "alias",
    }
}

fields! {
    /// A field of a Cloud Map service.
    DiscoveryField => Field::Discovery {
        /// TTL of the A records.
        DnsTtl => "dns_ttl",
    }
}

fields! {
    /// What a hook run shows.
    HookField => Field::Hook {
        /// The command the one-off task runs.
        Command => "command",
    }
}

fields! {
    /// What a service change shows of its new task definition.
    TaskDefinitionField => Field::TaskDefinition {
        /// The container image. Shown for review only: the service's `task_definition`
        /// field is what deploys it.
        Image => "image",
    }
}

fields! {
    /// A field of a scalable target, a scaling policy or a scheduled action.
    ScalingField => Field::Scaling {
        /// `MinCapacity` (of the target, or the one a scheduled action sets).
        Min => "min",
        /// `MaxCapacity`.
        Max => "max",
        /// The metric a policy tracks.
        Metric => "metric",
        /// The value a policy keeps its metric at.
        Target => "target",
        /// The target group whose requests an `alb_requests` policy counts.
        TargetGroup => "target_group",
        /// Seconds between scale-ins.
        ScaleInCooldown => "scale_in_cooldown",
        /// Seconds between scale-outs.
        ScaleOutCooldown => "scale_out_cooldown",
        /// When a scheduled action runs.
        Schedule => "schedule",
        /// The time zone of its schedule.
        Timezone => "timezone",
    }
}

fields! {
    /// A field of a CloudWatch Logs group.
    LogGroupField => Field::LogGroup {
        /// Days its events are kept.
        RetentionDays => "retention_days",
    }
}

/// Any field a [`FieldChange`](crate::FieldChange) names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)]
pub enum Field {
    Cluster(ClusterField),
    Service(ServiceField),
    TargetGroup(TargetGroupField),
    LoadBalancer(LoadBalancerField),
    Listener(ListenerField),
    Rule(RuleField),
    Record(RecordField),
    Discovery(DiscoveryField),
    Hook(HookField),
    TaskDefinition(TaskDefinitionField),
    Scaling(ScalingField),
    LogGroup(LogGroupField),
}

impl Field {
    /// The service field, when this is one.
    pub const fn as_service(self) -> Option<ServiceField> {
        match self {
            Field::Service(f) => Some(f),
            _ => None,
        }
    }
}

impl Field {
    /// The name shown in plan text and JSON, in two parts: a prefix (`health_check.` for
    /// a target group's health check, else empty) and the field's own name. Two parts
    /// keep the name `'static`, so comparing and serialising it allocates nothing.
    const fn parts(self) -> (&'static str, &'static str) {
        match self {
            Field::Cluster(x) => ("", x.name()),
            Field::Service(x) => ("", x.name()),
            Field::TargetGroup(TargetGroupField::Fixed(name)) => ("", name),
            Field::TargetGroup(TargetGroupField::HealthCheck(name)) => ("health_check.", name),
            Field::LoadBalancer(x) => ("", x.name()),
            Field::Listener(x) => ("", x.name()),
            Field::Rule(x) => ("", x.name()),
            Field::Record(x) => ("", x.name()),
            Field::Discovery(x) => ("", x.name()),
            Field::Hook(x) => ("", x.name()),
            Field::TaskDefinition(x) => ("", x.name()),
            Field::Scaling(x) => ("", x.name()),
            Field::LogGroup(x) => ("", x.name()),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (prefix, name) = self.parts();
        f.write_str(prefix)?;
        f.write_str(name)
    }
}

/// A field equals its name, so tests and callers can write `field == "desired_count"`.
impl PartialEq<&str> for Field {
    fn eq(&self, other: &&str) -> bool {
        let (prefix, name) = self.parts();
        other.strip_prefix(prefix) == Some(name)
    }
}

impl Serialize for Field {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.parts() {
            ("", name) => s.serialize_str(name),
            _ => s.collect_str(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_serialise_as_their_names() {
        let fields = [
            Field::from(ServiceField::CircuitBreaker),
            TargetGroupField::HealthCheck("interval_seconds").into(),
            TaskDefinitionField::Image.into(),
        ];
        assert_eq!(
            serde_json::to_string(&fields).unwrap(),
            r#"["deployment.circuit_breaker","health_check.interval_seconds","image"]"#
        );
        assert_eq!(ServiceField::DesiredCount.to_string(), "desired_count");
    }

    #[test]
    fn a_field_equals_its_name_and_nothing_else() {
        let health = Field::from(TargetGroupField::HealthCheck("path"));
        assert!(health == "health_check.path");
        assert!(health != "path" && health != "health_check.port" && health != "health_check.");
        let port = Field::from(TargetGroupField::Fixed("port"));
        assert!(port == "port" && port != "health_check.port");
        assert!(Field::from(ServiceField::DesiredCount) == "desired_count");
        assert_eq!(TargetGroupField::HealthCheck("path").to_string(), "health_check.path");
    }
}
