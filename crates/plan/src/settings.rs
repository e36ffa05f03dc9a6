//! The service settings compared field by field (capacity provider strategy, ECS Exec,
//! the health check grace period, managed tags, tag propagation, Service Connect): what
//! the planner finds
//! changed and what the simulator stores, in one place, so the two cannot disagree.

use bosun_stackfile::{CapacityProviderItem, PropagateTags, ServiceConnectSpec, ServiceSpec};

use crate::fields::ServiceField;
use crate::observed::ServiceSettings;
use crate::types::FieldChange;

/// Every settings field, in the order plan text lists them.
pub(crate) const FIELDS: [ServiceField; 6] = [
    ServiceField::CapacityProviderStrategy,
    ServiceField::EnableExecuteCommand,
    ServiceField::HealthCheckGracePeriod,
    ServiceField::EnableEcsManagedTags,
    ServiceField::PropagateTags,
    ServiceField::ServiceConnect,
];

/// The settings a spec asks for, as ECS would report them.
pub(crate) fn wanted(spec: &ServiceSpec) -> ServiceSettings {
    ServiceSettings {
        capacity_provider_strategy: spec.capacity_provider_strategy.clone(),
        propagate_tags: spec.propagate_tags,
        enable_execute_command: spec.enable_execute_command,
        health_check_grace_period: spec.health_check_grace_period.unwrap_or(0),
        enable_ecs_managed_tags: spec.enable_ecs_managed_tags,
        service_connect: spec.service_connect.clone(),
    }
}

/// A setting's value as plan text shows it.
pub(crate) fn show(s: &ServiceSettings, field: ServiceField) -> String {
    match field {
        ServiceField::CapacityProviderStrategy => CapacityProviderItem::show(&s.capacity_provider_strategy),
        ServiceField::EnableExecuteCommand => s.enable_execute_command.to_string(),
        ServiceField::HealthCheckGracePeriod => format!("{}s", s.health_check_grace_period),
        ServiceField::EnableEcsManagedTags => s.enable_ecs_managed_tags.to_string(),
        ServiceField::PropagateTags => PropagateTags::show(s.propagate_tags).to_owned(),
        ServiceField::ServiceConnect => ServiceConnectSpec::show(s.service_connect.as_ref()),
        _ => unreachable!("not a settings field: {field}"),
    }
}

/// The settings fields that differ. A live service with no strategy and a spec without
/// one agree: the launch type is compared by the planner itself.
pub(crate) fn changes(live: &ServiceSettings, spec: &ServiceSpec) -> Vec<FieldChange> {
    let want = wanted(spec);
    FIELDS
        .into_iter()
        .filter(|&f| differs(live, &want, f))
        .map(|f| FieldChange::new(f, show(live, f), show(&want, f)))
        .collect()
}

fn differs(live: &ServiceSettings, want: &ServiceSettings, field: ServiceField) -> bool {
    match field {
        ServiceField::CapacityProviderStrategy => live.capacity_provider_strategy != want.capacity_provider_strategy,
        ServiceField::EnableExecuteCommand => live.enable_execute_command != want.enable_execute_command,
        ServiceField::HealthCheckGracePeriod => live.health_check_grace_period != want.health_check_grace_period,
        ServiceField::EnableEcsManagedTags => live.enable_ecs_managed_tags != want.enable_ecs_managed_tags,
        ServiceField::PropagateTags => live.propagate_tags != want.propagate_tags,
        ServiceField::ServiceConnect => live.service_connect != want.service_connect,
        _ => false,
    }
}

/// Stores one settings field of a spec, as UpdateService would.
pub(crate) fn set(live: &mut ServiceSettings, spec: &ServiceSpec, field: ServiceField) {
    let want = wanted(spec);
    match field {
        ServiceField::CapacityProviderStrategy => live.capacity_provider_strategy = want.capacity_provider_strategy,
        ServiceField::EnableExecuteCommand => live.enable_execute_command = want.enable_execute_command,
        ServiceField::HealthCheckGracePeriod => live.health_check_grace_period = want.health_check_grace_period,
        ServiceField::EnableEcsManagedTags => live.enable_ecs_managed_tags = want.enable_ecs_managed_tags,
        ServiceField::PropagateTags => live.propagate_tags = want.propagate_tags,
        ServiceField::ServiceConnect => live.service_connect = want.service_connect,
        _ => unreachable!("not a settings field: {field}"),
    }
}
