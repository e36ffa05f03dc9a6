//! Placement: a service's `placement_strategy` and `placement_constraints`.

use super::{Entry, Normaliser};
use crate::model::*;
use crate::raw::*;
use crate::walk::join;

/// Where ECS may place a service's tasks.
pub(super) struct Placement {
    /// The placement strategy, in order.
    pub(super) strategy: Vec<PlacementStrategy>,
    /// Constraints of the ECS service; empty for a one-off task.
    pub(super) service_constraints: Vec<PlacementConstraint>,
    /// Constraints of the task definition: a one-off task has no service to carry them.
    pub(super) task_constraints: Vec<PlacementConstraint>,
}

impl Normaliser<'_> {
    /// The placement strategy and constraints of a service; Fargate takes neither.
    pub(super) fn placement(&mut self, e: &Entry, fargate: bool) -> Placement {
        let s = e.raw;
        if fargate {
            if s.placement_strategy.as_ref().is_some_and(|v| !v.is_empty()) {
                self.err(&e.at("placement_strategy"), "placement strategies apply to the EC2 launch type only");
            }
            if s.placement_constraints.as_ref().is_some_and(|v| !v.is_empty()) {
                self.err(&e.at("placement_constraints"), "placement constraints apply to the EC2 launch type only");
            }
        }
        let strategy = self.placement_strategy(e);
        let constraints = self.placement_constraints(e);
        // A service carries its constraints; a task definition only has its own.
        let (service_constraints, task_constraints) = match e.kind {
            ServiceKind::Service => (constraints, Vec::new()),
            ServiceKind::Task => (Vec::new(), constraints),
        };
        Placement { strategy, service_constraints, task_constraints }
    }

    fn placement_strategy(&mut self, e: &Entry) -> Vec<PlacementStrategy> {
        let mut placement_strategy = Vec::new();
        for (i, ps) in e.raw.placement_strategy.iter().flatten().enumerate() {
            let ipath = self.locs.item(&e.at("placement_strategy"), i);
            let (kind_name, needs_field) = match ps.kind {
                RawStrategyKind::Random => ("random", false),
                RawStrategyKind::Spread => ("spread", true),
                RawStrategyKind::Binpack => ("binpack", true),
            };
            match (&ps.field, needs_field) {
                (None, true) => self.err(&ipath, format!("`{kind_name}` needs a `field`")),
                (Some(_), false) => self.err(&join(&ipath, "field"), "`random` takes no `field`"),
                (Some(f), true) if ps.kind == RawStrategyKind::Binpack && f != "cpu" && f != "memory" => {
                    self.err(&join(&ipath, "field"), format!("`binpack` works on `cpu` or `memory`, found `{f}`"));
                }
                _ => {}
            }
            placement_strategy.push(PlacementStrategy { kind: kind_name.to_string(), field: ps.field.clone() });
        }
        placement_strategy
    }

    fn placement_constraints(&mut self, e: &Entry) -> Vec<PlacementConstraint> {
        let mut constraints = Vec::new();
        for (i, pc) in e.raw.placement_constraints.iter().flatten().enumerate() {
            let ipath = self.locs.item(&e.at("placement_constraints"), i);
            let kind_name = match pc.kind {
                RawConstraintKind::MemberOf => "memberOf",
                RawConstraintKind::DistinctInstance => "distinctInstance",
            };
            match (pc.kind, &pc.expression) {
                (RawConstraintKind::MemberOf, None) => self.err(&ipath, "`memberOf` needs an `expression`"),
                (RawConstraintKind::DistinctInstance, Some(_)) => {
                    self.err(&join(&ipath, "expression"), "`distinctInstance` takes no `expression`")
                }
                (RawConstraintKind::DistinctInstance, None) if e.kind == ServiceKind::Task => {
                    self.err(&ipath, "a task definition only takes `memberOf` constraints")
                }
                _ => {}
            }
            constraints.push(PlacementConstraint { kind: kind_name.to_string(), expression: pc.expression.clone() });
        }
        constraints
    }
}
