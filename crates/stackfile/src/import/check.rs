//! The round trip: the imported document, loaded by the stackfile loader, against the
//! live cluster. Each difference is what the plan of the imported file would still
//! change beyond adopting, named by field and never by value (environment values
//! included).

use std::collections::BTreeMap;

use serde_json::Value;

use super::compose::{Composed, Lb, lb_key};
use super::{LiveAction, LiveCluster, LiveService};
use crate::model::{DefaultAction, Desired, LaunchType, ServiceSpec};

/// Differences by service name, or by [`lb_key`] for a shared load balancer.
pub(super) fn differences(
    live: &LiveCluster,
    composed: &Composed<'_>,
    desired: &Desired,
) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in &composed.services {
        let Some(want) = desired.services.get(&p.live.name) else { continue };
        let mut diffs = service(p.live, want, live);
        if let (Some(tg), Some(want_tg)) = (p.lb.target_group(), &want.target_group) {
            if tg.spec.name != want_tg.name {
                diffs.push(format!("a new target group `{}` (the live one is `{}`)", want_tg.name, tg.spec.name));
            } else {
                let fields = json_differences(&tg.spec, want_tg);
                if !fields.is_empty() {
                    diffs.push(format!("target group `{}`: {}", tg.spec.name, fields.join(", ")));
                }
            }
        }
        if let Lb::Elb { lb, .. } = &p.lb {
            let own = desired.load_balancers.values().find(|l| l.service.as_deref() == Some(&p.live.name));
            diffs.extend(load_balancer(lb, own, live));
        }
        if !diffs.is_empty() {
            out.insert(p.live.name.clone(), diffs);
        }
    }
    for sh in &composed.shared {
        let want = desired.load_balancers.get(&sh.lb.name);
        let diffs = load_balancer(sh.lb, want, live);
        if !diffs.is_empty() {
            out.insert(lb_key(&sh.key), diffs);
        }
    }
    out
}

/// What the plan would change on a service, or register as its task definition.
fn service(s: &LiveService, want: &ServiceSpec, live: &LiveCluster) -> Vec<String> {
    let mut d = Vec::new();
    let td = json_differences(&s.task_definition, &want.task_definition);
    if !td.is_empty() {
        d.push(format!(
            "a new task definition revision, and a redeploy of the service: it differs in {}",
            td.join(", ")
        ));
    }
    // `None`: the count is the scaler's, and `desired_count` only seeds a new service.
    if want.desired_count.is_some_and(|n| n != s.desired_count) {
        d.push("desired_count".into());
    }
    d.extend(scaling(s, want));
    if let Some(l) = s.launch_type
        && l != want.launch_type
    {
        let name = |l: LaunchType| l.as_aws();
        d.push(format!(
            "the launch type ({} -> {}), which needs the service recreated",
            name(l),
            name(want.launch_type)
        ));
    }
    let dep = &want.deployment;
    for (field, differs) in [
        ("deployment.circuit_breaker", s.circuit_breaker != dep.circuit_breaker || s.rollback != dep.rollback),
        ("deployment.min_healthy_percent", s.min_healthy_percent != dep.min_healthy_percent),
        ("deployment.max_percent", s.max_percent != dep.max_percent),
        ("network", want.network.is_some() && want.network != s.network),
        ("placement_strategy", s.placement_strategy != want.placement_strategy),
        ("placement_constraints", s.placement_constraints != want.placement_constraints),
        ("capacity_provider_strategy", live_strategy(s, live) != want.capacity_provider_strategy.as_slice()),
        ("enable_execute_command", s.settings.enable_execute_command != want.enable_execute_command),
        (
            "health_check_grace_period",
            s.settings.health_check_grace_period != want.health_check_grace_period.unwrap_or(0),
        ),
        ("enable_ecs_managed_tags", s.settings.enable_ecs_managed_tags != want.enable_ecs_managed_tags),
        ("propagate_tags", s.settings.propagate_tags != want.propagate_tags),
        ("service_connect", s.settings.service_connect != want.service_connect),
    ] {
        if differs {
            d.push(field.into());
        }
    }
    let live_lbs: Vec<(String, u16)> = s
        .load_balancers
        .iter()
        .map(|a| {
            let name = live.target_groups.get(&a.target_group_arn).map_or(&a.target_group_arn, |t| &t.spec.name);
            (name.clone(), a.container_port)
        })
        .collect();
    let want_lbs: Vec<(String, u16)> =
        want.target_group.iter().map(|tg| (tg.name.clone(), want.container_port.unwrap_or(tg.port))).collect();
    if live_lbs != want_lbs {
        d.push("load_balancers (the target groups it registers in)".into());
    }
    let live_reg: Vec<&str> =
        s.registries.iter().map(|r| live.discovery.get(r).map_or(r.as_str(), |x| x.name.as_str())).collect();
    let want_reg: Vec<&str> = want.discovery.iter().map(|x| x.name.as_str()).collect();
    if live_reg != want_reg {
        d.push("service_registries (its Cloud Map registration)".into());
    }
    if let Some(ds) = want.discovery.as_ref()
        && let Some(live_ds) = s.registries.first().and_then(|r| live.discovery.get(r))
        && live_ds.dns_ttl != Some(ds.dns_ttl)
    {
        d.push(format!("Cloud Map service `{}`: its TTL", live_ds.name));
    }
    d
}

/// The strategy a service runs on, as the planner takes it: its own, or the cluster's
/// default for a service that reports neither a launch type nor a strategy.
fn live_strategy<'a>(s: &'a LiveService, live: &'a LiveCluster) -> &'a [crate::model::CapacityProviderItem] {
    let own = &s.settings.capacity_provider_strategy;
    if own.is_empty() && s.launch_type.is_none() { &live.capacity.default_strategy } else { own }
}

/// What the plan would change on the service's scalable target: only an owned one is
/// planned at all (the planner leaves any other alone, or calls it a conflict when the
/// stackfile names it).
fn scaling(s: &LiveService, want: &ServiceSpec) -> Vec<String> {
    let live = s.scaling.as_ref();
    match (live, &want.autoscaling) {
        (Some(l), Some(_)) if !l.owned => vec!["autoscaling: a conflict, the scalable target is not bosun's".into()],
        (Some(l), None) if l.owned => vec!["autoscaling: the scalable target would be deregistered".into()],
        (None, Some(_)) => vec!["autoscaling: a new scalable target".into()],
        (Some(l), Some(w)) => {
            let mut fields = Vec::new();
            if l.min != w.min || l.max != w.max {
                fields.push("min/max".to_owned());
            }
            for p in &w.target_tracking {
                if l.policies.get(&p.name) != Some(&Some(p.clone())) {
                    fields.push(format!("policy `{}`", p.name));
                }
            }
            for a in &w.scheduled {
                if l.scheduled.get(&a.name) != Some(a) {
                    fields.push(format!("scheduled action `{}`", a.name));
                }
            }
            if fields.is_empty() { Vec::new() } else { vec![format!("autoscaling: {}", fields.join(", "))] }
        }
        _ => Vec::new(),
    }
}

/// What the plan would change on a load balancer and its listeners.
fn load_balancer(
    lb: &super::LiveLoadBalancer,
    want: Option<&crate::model::LoadBalancerSpec>,
    live: &LiveCluster,
) -> Vec<String> {
    let Some(want) = want else {
        return vec![format!("a new load balancer (the live one is `{}`)", lb.name)];
    };
    if want.name != lb.name {
        return vec![format!("a new load balancer `{}` (the live one is `{}`)", want.name, lb.name)];
    }
    let mut d = Vec::new();
    if want.scheme != lb.scheme {
        d.push(format!("load balancer `{}`: its scheme, which needs it recreated", lb.name));
    }
    if want.subnets != lb.subnets {
        d.push(format!("load balancer `{}`: subnets", lb.name));
    }
    if want.security_groups != lb.security_groups {
        d.push(format!("load balancer `{}`: security_groups", lb.name));
    }
    for (port, l) in &want.listeners {
        let Some(live_l) = lb.listeners.iter().find(|x| x.port == *port) else {
            d.push(format!("a new listener on port {port} of `{}`", lb.name));
            continue;
        };
        let mut fields = Vec::new();
        if live_l.protocol != Some(l.protocol) {
            fields.push("protocol");
        }
        if live_l.certificates != l.certificates {
            fields.push("certificates");
        }
        let same_action = match (&live_l.default_action, &l.default_action) {
            (LiveAction::Forward { target_group_arn }, DefaultAction::Forward { target_group }) => {
                live.target_groups.get(target_group_arn).is_some_and(|t| t.spec.name == *target_group)
            }
            (LiveAction::FixedResponse { status_code: a }, DefaultAction::FixedResponse { status_code: b }) => a == b,
            _ => false,
        };
        if !same_action {
            fields.push("default_action");
        }
        if !fields.is_empty() {
            d.push(format!("the listener on port {port} of `{}`: {}", lb.name, fields.join(", ")));
        }
    }
    d
}

/// The paths of the fields that differ between two values of one type (`container.image`,
/// `health_check.path`): names only, never values.
fn json_differences<T: serde::Serialize>(live: &T, want: &T) -> Vec<String> {
    let (a, b) = (serde_json::to_value(live), serde_json::to_value(want));
    let (Ok(a), Ok(b)) = (a, b) else { return vec!["(not comparable)".into()] };
    let mut out = Vec::new();
    walk(&a, &b, "", &mut out);
    out
}

fn walk(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        // Into the spec's own structs; a map of names (environment, secrets, log
        // options) is one field, so that no variable's name is guessed at either.
        (Value::Object(x), Value::Object(y))
            if !matches!(path, "container.environment" | "container.secrets") && !path.ends_with("options") =>
        {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let sub = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                walk(x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null), &sub, out);
            }
        }
        _ if a != b => out.push(format!("`{path}`")),
        _ => {}
    }
}
