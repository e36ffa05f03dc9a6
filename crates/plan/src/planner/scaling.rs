//! The Application Auto Scaling part of the plan: each service's scalable target, its
//! target-tracking policies and scheduled actions, compared field by field.
//!
//! bosun owns a target by its tags, and the policies and scheduled actions on an owned
//! target by their names (`<cluster>-<service>-...`). Removing `autoscaling` from a
//! service deregisters its target (which takes its policies and actions with it) with or
//! without `prune`: the count goes back to the stackfile, and a scaler left behind would
//! fight it. A target of a service that left the stackfile follows the service: deleted
//! under prune, an orphan otherwise. A target bosun does not own is never touched.

use bosun_stackfile::{AutoscalingSpec, ScheduledActionSpec, ServiceKind, ServiceSpec, TargetTrackingSpec};

use super::Planner;
use crate::fields::ScalingField;
use crate::observed::ObservedScalableTarget;
use crate::types::{Action, FieldChange, Kind, Orphan, Policy, Resource, Step};

/// The plan name of a service's scalable target: its Application Auto Scaling resource id.
pub fn scalable_target_name(cluster: &str, service: &str) -> String {
    format!("service/{cluster}/{service}")
}

impl Planner<'_> {
    pub(super) fn scaling(&mut self, policy: &Policy) {
        for svc in self.desired.services.values().filter(|s| s.kind == ServiceKind::Service) {
            let live = self.observed.scalable_targets.get(&svc.name);
            match (&svc.autoscaling, live) {
                (Some(want), None) => self.create_scaling(svc, want),
                (Some(_), Some(live)) if !live.owner.is_owned_by(self.cluster) => {
                    let name = scalable_target_name(self.cluster, &svc.name);
                    let reason = format!(
                        "scalable target {name} exists and is not managed by bosun for cluster {}; deregister it, or remove `autoscaling` from service {}",
                        self.cluster, svc.name
                    );
                    self.out.conflict(Kind::ScalableTarget, name, reason);
                }
                (Some(want), Some(live)) => self.update_scaling(svc, want, live),
                (None, Some(live)) if live.owner.is_owned_by(self.cluster) => {
                    self.out.push(
                        Kind::ScalableTarget,
                        scalable_target_name(self.cluster, &svc.name),
                        Action::Delete,
                        Some(&svc.name),
                        Step::DeregisterScalableTarget { service: svc.name.clone() },
                    );
                }
                (None, _) => {}
            }
        }
        // Targets of services that left the stackfile follow their service.
        for (service, live) in &self.observed.scalable_targets {
            let desired = self.desired.services.get(service).is_some_and(|s| s.kind == ServiceKind::Service);
            if desired || !live.owner.is_owned_by(self.cluster) {
                continue;
            }
            let name = scalable_target_name(self.cluster, service);
            if policy.prunes(Some(service)) {
                self.out.push(
                    Kind::ScalableTarget,
                    name,
                    Action::Delete,
                    Some(service),
                    Step::DeregisterScalableTarget { service: service.clone() },
                );
            } else {
                self.out.orphans.push(Orphan { resource: Resource { kind: Kind::ScalableTarget, name } });
            }
        }
    }

    fn create_scaling(&mut self, svc: &ServiceSpec, want: &AutoscalingSpec) {
        let change = self.out.push(
            Kind::ScalableTarget,
            scalable_target_name(self.cluster, &svc.name),
            Action::Create,
            Some(&svc.name),
            Step::RegisterScalableTarget { service: svc.name.clone(), min: want.min, max: want.max, create: true },
        );
        change.fields.push(FieldChange::new(ScalingField::Min, "", want.min));
        change.fields.push(FieldChange::new(ScalingField::Max, "", want.max));
        for p in &want.target_tracking {
            self.put_policy(svc, p, None);
        }
        for a in &want.scheduled {
            self.put_scheduled(svc, a, None);
        }
    }

    fn update_scaling(&mut self, svc: &ServiceSpec, want: &AutoscalingSpec, live: &ObservedScalableTarget) {
        let mut fields = Vec::new();
        if live.min != want.min {
            fields.push(FieldChange::new(ScalingField::Min, live.min, want.min));
        }
        if live.max != want.max {
            fields.push(FieldChange::new(ScalingField::Max, live.max, want.max));
        }
        if !fields.is_empty() {
            let change = self.out.push(
                Kind::ScalableTarget,
                scalable_target_name(self.cluster, &svc.name),
                Action::Update,
                Some(&svc.name),
                Step::RegisterScalableTarget { service: svc.name.clone(), min: want.min, max: want.max, create: false },
            );
            change.fields = fields;
        }
        for p in &want.target_tracking {
            match live.policies.get(&p.name) {
                None => self.put_policy(svc, p, None),
                Some(l) if l.as_ref() != Some(p) => self.put_policy(svc, p, Some(l.as_ref())),
                Some(_) => {}
            }
        }
        for a in &want.scheduled {
            match live.scheduled.get(&a.name) {
                None => self.put_scheduled(svc, a, None),
                Some(l) if l != a => self.put_scheduled(svc, a, Some(l)),
                Some(_) => {}
            }
        }
        // What bosun named on this target and the stackfile no longer has.
        let prefix = format!("{}-{}-", self.cluster, svc.name);
        let gone_policies = live
            .policies
            .keys()
            .filter(|n| n.starts_with(&prefix) && !want.target_tracking.iter().any(|p| &p.name == *n));
        for name in gone_policies {
            self.out.push(
                Kind::ScalingPolicy,
                name,
                Action::Delete,
                Some(&svc.name),
                Step::DeleteScalingPolicy { service: svc.name.clone(), name: name.clone() },
            );
        }
        let gone_actions =
            live.scheduled.keys().filter(|n| n.starts_with(&prefix) && !want.scheduled.iter().any(|a| &a.name == *n));
        for name in gone_actions {
            self.out.push(
                Kind::ScheduledAction,
                name,
                Action::Delete,
                Some(&svc.name),
                Step::DeleteScheduledAction { service: svc.name.clone(), name: name.clone() },
            );
        }
    }

    /// PutScalingPolicy; `live` is `None` for a create, `Some(None)` for a live policy of
    /// the same name that bosun cannot read.
    fn put_policy(&mut self, svc: &ServiceSpec, want: &TargetTrackingSpec, live: Option<Option<&TargetTrackingSpec>>) {
        let action = if live.is_some() { Action::Update } else { Action::Create };
        let change = self.out.push(
            Kind::ScalingPolicy,
            &want.name,
            action,
            Some(&svc.name),
            Step::PutScalingPolicy { service: svc.name.clone(), spec: want.clone() },
        );
        let show_alb = |alb: &Option<(String, String)>| match alb {
            Some((lb, tg)) => format!("{tg} ({lb})"),
            None => "(none)".to_owned(),
        };
        let before = live.flatten();
        let mut push = |field: ScalingField, before: Option<String>, after: String| {
            if before.as_ref() != Some(&after) {
                change.fields.push(FieldChange::new(field, before.unwrap_or_default(), after));
            }
        };
        let b = |f: &dyn Fn(&TargetTrackingSpec) -> String| before.map(f);
        push(ScalingField::Metric, b(&|p| p.metric.as_str().to_owned()), want.metric.as_str().to_owned());
        push(ScalingField::Target, b(&|p| p.target.to_string()), want.target.to_string());
        if want.alb.is_some() || before.is_some_and(|p| p.alb.is_some()) {
            push(ScalingField::TargetGroup, b(&|p| show_alb(&p.alb)), show_alb(&want.alb));
        }
        push(
            ScalingField::ScaleInCooldown,
            b(&|p| p.scale_in_cooldown.to_string()),
            want.scale_in_cooldown.to_string(),
        );
        push(
            ScalingField::ScaleOutCooldown,
            b(&|p| p.scale_out_cooldown.to_string()),
            want.scale_out_cooldown.to_string(),
        );
    }

    fn put_scheduled(&mut self, svc: &ServiceSpec, want: &ScheduledActionSpec, live: Option<&ScheduledActionSpec>) {
        let action = if live.is_some() { Action::Update } else { Action::Create };
        let change = self.out.push(
            Kind::ScheduledAction,
            &want.name,
            action,
            Some(&svc.name),
            Step::PutScheduledAction { service: svc.name.clone(), spec: want.clone() },
        );
        let bound = |v: Option<i32>| v.map_or_else(|| "(unchanged)".to_owned(), |n| n.to_string());
        let mut push = |field: ScalingField, before: Option<String>, after: String| {
            if before.as_ref() != Some(&after) {
                change.fields.push(FieldChange::new(field, before.unwrap_or_default(), after));
            }
        };
        push(ScalingField::Schedule, live.map(|l| l.schedule.clone()), want.schedule.clone());
        push(ScalingField::Min, live.map(|l| bound(l.min)), bound(want.min));
        push(ScalingField::Max, live.map(|l| bound(l.max)), bound(want.max));
        push(ScalingField::Timezone, live.map(|l| l.timezone.clone()), want.timezone.clone());
    }
}
