//! A service's Application Auto Scaling, as `autoscaling:` when the plan can keep it as
//! it is, else as a note and `ignore: [desired_count]`.
//!
//! The planner takes a scalable target as bosun's by its tags, and never adopts one: a
//! target bosun did not create is a conflict when a stackfile names it. So only a target
//! tagged for the cluster is written; any other leaves the count to its scaler. On an
//! owned target, bosun owns the policies and scheduled actions by their names
//! (`<cluster>-<service>-<metric>`, `<cluster>-<service>-<name>`): those are written,
//! the others are left alone (a note says so), and one of bosun's names that a stackfile
//! cannot say is a note that the plan would delete it.

use super::LiveScaling;
use super::yaml::{Map, Node};
use crate::model::{ScalingMetric, ScheduledActionSpec, TargetTrackingSpec};

/// Application Auto Scaling's cooldown when a policy has none; the stackfile's default.
const DEFAULT_COOLDOWN: i32 = 300;
/// The cooldowns a stackfile takes (bosun's limit of a day).
const MAX_COOLDOWN: i32 = 86_400;
/// The longest scheduled action name a stackfile takes (after bosun's prefix).
const MAX_SCHEDULED_NAME: usize = 64;

/// What the document says about a service's count and its scaler.
#[derive(Default)]
pub(super) enum Scaling<'a> {
    /// No scalable target: `desired_count` is the count.
    #[default]
    None,
    /// An owned target, written as `autoscaling:`.
    Written {
        target: &'a LiveScaling,
        policies: Vec<&'a TargetTrackingSpec>,
        /// With the name the stackfile gives them (bosun's prefix taken off).
        scheduled: Vec<(&'a str, &'a ScheduledActionSpec)>,
    },
    /// A target the plan cannot take over: the count is left to it.
    Ignored,
}

/// Picks the form of `target`, the scalable target of `service` in `cluster`, with notes.
/// `routed`: the service's load balancing is written, which an `alb_requests` policy
/// needs.
pub(super) fn pick<'a>(
    cluster: &str,
    service: &str,
    target: Option<&'a LiveScaling>,
    routed: bool,
    notes: &mut Vec<String>,
) -> Scaling<'a> {
    let Some(t) = target else { return Scaling::None };
    let id = format!("service/{cluster}/{service}");
    if !t.owned {
        notes.push(format!(
            "its count is scaled by Application Auto Scaling target `{id}` (min {}, max {}, {} policies, {} scheduled actions), which bosun did not create; the plan cannot take a scalable target over (naming it under `autoscaling` would be a conflict), so `autoscaling` is left out and `ignore: [desired_count]` leaves the count to the scaler",
            t.min,
            t.max,
            t.policies.len(),
            t.scheduled.len()
        ));
        return Scaling::Ignored;
    }
    let prefix = format!("{cluster}-{service}-");
    let mut policies = Vec::new();
    for (name, p) in &t.policies {
        let Some(rest) = name.strip_prefix(&prefix) else {
            notes.push(format!(
                "scaling policy `{name}` on its target is not named bosun's way (`{prefix}<metric>`); bosun leaves it alone"
            ));
            continue;
        };
        match p {
            Some(p) if p.metric.as_str() == rest && expressible(p) && (routed || p.alb.is_none()) => policies.push(p),
            _ => notes.push(format!(
                "scaling policy `{name}` has bosun's name but a form a stackfile cannot say (step scaling, a custom metric, a target or cooldown out of range, requests through load balancing left out); the plan would delete it"
            )),
        }
    }
    let mut scheduled = Vec::new();
    for (name, a) in &t.scheduled {
        let Some(rest) = name.strip_prefix(&prefix) else {
            notes.push(format!(
                "scheduled action `{name}` on its target is not named bosun's way (`{prefix}<name>`); bosun leaves it alone"
            ));
            continue;
        };
        let name_ok = !rest.is_empty()
            && rest.len() <= MAX_SCHEDULED_NAME
            && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if name_ok && (a.min.is_some() || a.max.is_some()) {
            scheduled.push((rest, a));
        } else {
            notes.push(format!(
                "scheduled action `{name}` has bosun's name but a name or bounds a stackfile cannot say; the plan would delete it"
            ));
        }
    }
    Scaling::Written { target: t, policies, scheduled }
}

/// Whether a stackfile takes the policy's target and cooldowns.
fn expressible(p: &TargetTrackingSpec) -> bool {
    let target_max = match p.metric {
        ScalingMetric::Cpu | ScalingMetric::Memory => 100,
        ScalingMetric::AlbRequests => 1_000_000,
    };
    (1..=target_max).contains(&p.target)
        && (0..=MAX_COOLDOWN).contains(&p.scale_in_cooldown)
        && (0..=MAX_COOLDOWN).contains(&p.scale_out_cooldown)
}

/// The `autoscaling:` block, for an owned target.
pub(super) fn node(s: &Scaling<'_>) -> Option<Node> {
    let Scaling::Written { target, policies, scheduled } = s else { return None };
    let mut m = Map::default();
    m.set("min", Node::Int(target.min.into())).set("max", Node::Int(target.max.into()));
    let tracking: Vec<Node> = policies
        .iter()
        .map(|p| {
            let mut pm = Map::default();
            pm.set("metric", Node::str(p.metric.as_str())).set("target", Node::Int(p.target.into()));
            if p.scale_in_cooldown != DEFAULT_COOLDOWN {
                pm.set("scale_in_cooldown", Node::Int(p.scale_in_cooldown.into()));
            }
            if p.scale_out_cooldown != DEFAULT_COOLDOWN {
                pm.set("scale_out_cooldown", Node::Int(p.scale_out_cooldown.into()));
            }
            Node::Map(pm)
        })
        .collect();
    if !tracking.is_empty() {
        m.set("target_tracking", Node::Seq(tracking));
    }
    let actions: Vec<Node> = scheduled
        .iter()
        .map(|(name, a)| {
            let mut am = Map::default();
            am.set("name", Node::str(*name)).set("schedule", Node::str(a.schedule.clone()));
            am.opt("min", a.min.map(|v| Node::Int(v.into()))).opt("max", a.max.map(|v| Node::Int(v.into())));
            if a.timezone != "UTC" {
                am.set("timezone", Node::str(a.timezone.clone()));
            }
            Node::Map(am)
        })
        .collect();
    if !actions.is_empty() {
        m.set("scheduled", Node::Seq(actions));
    }
    Some(Node::Map(m))
}
