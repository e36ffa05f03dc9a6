//! Capacity: a service's capacity provider strategy (Fargate Spot, Auto Scaling group
//! providers), resolved against `launch_type` and `defaults`, with ECS's ranges.
//!
//! A strategy and a launch type exclude each other on one service. The service's own key
//! wins over a default: a service with `launch_type` ignores
//! `defaults.capacity_provider_strategy`, and a service with its own strategy ignores
//! `defaults.launch_type`. Both defaults at once are an error. The strategy's providers
//! decide the task definition's compatibility: Fargate's own providers make it a
//! Fargate task, any other provider an EC2 one (ECS refuses a mix). A service with
//! neither, in a stackfile whose `cluster:` block has a default strategy, runs on that
//! strategy, as ECS would place it.

use super::{Entry, Normaliser, is_provider_name};
use crate::model::*;
use crate::raw::*;
use crate::walk::join;

/// Entries of a strategy with a `base` (ECS: "only one capacity provider in a capacity
/// provider strategy can have a base defined").
const MAX_BASES: usize = 1;
/// ECS's ranges of `weight` and `base`.
const MAX_WEIGHT: i64 = 1000;
const MAX_BASE: i64 = 100_000;

/// The capacity a service's tasks run on.
#[derive(Default)]
pub(super) struct Capacity {
    /// The strategy, in the order written; empty for a launch type.
    pub(super) strategy: Vec<CapacityProviderItem>,
    /// The launch type the strategy's providers imply, and the path of the strategy.
    pub(super) implies: Option<(RawLaunchType, String)>,
}

impl Normaliser<'_> {
    /// The service's capacity provider strategy, resolved against `launch_type` and
    /// `defaults`.
    pub(super) fn capacity(&mut self, e: &Entry) -> Capacity {
        let (s, d) = (e.raw, e.defaults);
        let defaults_path = "defaults.capacity_provider_strategy";
        if d.capacity_provider_strategy.is_some()
            && d.launch_type.is_some()
            && !self.diags.iter().any(|x| x.path == defaults_path)
        {
            self.err_key(
                defaults_path,
                "`defaults.capacity_provider_strategy` and `defaults.launch_type` exclude each other: ECS takes one or the other",
            );
        }
        let (list, path) = match (&s.capacity_provider_strategy, s.launch_type, &d.capacity_provider_strategy) {
            (Some(list), launch, _) => {
                if launch.is_some() {
                    self.err_key(
                        &e.at("launch_type"),
                        "`launch_type` and `capacity_provider_strategy` exclude each other: ECS takes one or the other; the strategy's providers decide Fargate or EC2",
                    );
                    return Capacity::default();
                }
                (list, e.at("capacity_provider_strategy"))
            }
            (None, Some(_), _) => return Capacity::default(),
            (None, None, None) => return self.cluster_default_capacity(e),
            (None, None, Some(list)) => {
                if d.launch_type.is_some() {
                    return Capacity::default();
                }
                (list, defaults_path.to_string())
            }
        };
        if e.kind == ServiceKind::Task {
            if s.capacity_provider_strategy.is_some() {
                self.err_key(
                    &path,
                    "`capacity_provider_strategy` needs a service; a `type: task` entry only keeps a task definition",
                );
            }
            return Capacity::default();
        }
        let strategy = self.strategy(list, &path);
        self.strategy_in_cluster(&strategy, &path);
        let fargate = strategy.iter().filter(|i| i.is_fargate()).count();
        let implies = if fargate == strategy.len() { RawLaunchType::Fargate } else { RawLaunchType::Ec2 };
        if fargate > 0 && fargate < strategy.len() {
            self.err(
                &path,
                "a strategy cannot mix Fargate's providers (FARGATE, FARGATE_SPOT) with Auto Scaling group providers",
            );
        }
        Capacity { strategy, implies: Some((implies, path)) }
    }

    /// The cluster's default strategy (`cluster.default_strategy`) for a service that
    /// names no launch type and no strategy, as ECS would place it. Checked once, where
    /// the cluster's block is normalised.
    fn cluster_default_capacity(&mut self, e: &Entry) -> Capacity {
        let Some(list) = self.raw.cluster.as_ref().and_then(|c| c.default_strategy.as_ref()) else {
            return Capacity::default();
        };
        if e.kind == ServiceKind::Task || e.defaults.launch_type.is_some() {
            return Capacity::default();
        }
        let strategy: Vec<CapacityProviderItem> = list
            .iter()
            .map(|i| CapacityProviderItem {
                provider: i.provider.trim().to_owned(),
                weight: i.weight.unwrap_or(0).clamp(0, MAX_WEIGHT) as i32,
                base: i.base.unwrap_or(0).clamp(0, MAX_BASE) as i32,
            })
            .collect();
        let fargate = strategy.iter().filter(|i| i.is_fargate()).count();
        let implies = if fargate == strategy.len() { RawLaunchType::Fargate } else { RawLaunchType::Ec2 };
        Capacity { strategy, implies: Some((implies, "cluster.default_strategy".to_owned())) }
    }

    /// A strategy as written, checked against ECS's rules; each error at its entry.
    pub(super) fn strategy(&mut self, list: &[RawCapacityProviderItem], path: &str) -> Vec<CapacityProviderItem> {
        let mut out: Vec<CapacityProviderItem> = Vec::new();
        let mut bases = 0;
        // As written: a weight out of range is its own error, not also "no weight".
        let weighted = list.iter().any(|i| i.weight.unwrap_or(0) > 0);
        for (i, item) in list.iter().enumerate() {
            let ipath = self.locs.item(path, i);
            let provider = item.provider.trim();
            if !is_provider_name(provider) {
                self.err(
                    &join(&ipath, "provider"),
                    format!("`{provider}` is not a capacity provider name (letters, digits, `_` and `-`)"),
                );
            }
            if out.iter().any(|o| o.provider == provider) {
                self.err(&join(&ipath, "provider"), format!("capacity provider `{provider}` is listed twice"));
                continue;
            }
            let weight = item.weight.unwrap_or(0);
            let base = item.base.unwrap_or(0);
            let weight_ok = self.in_range(weight, 0, MAX_WEIGHT, &join(&ipath, "weight"), "a capacity provider weight");
            let base_ok = self.in_range(base, 0, MAX_BASE, &join(&ipath, "base"), "a capacity provider base");
            if base > 0 {
                bases += 1;
                if bases > MAX_BASES {
                    self.err(&join(&ipath, "base"), "only one capacity provider of a strategy can have a base");
                }
            }
            out.push(CapacityProviderItem {
                provider: provider.to_owned(),
                weight: if weight_ok { weight as i32 } else { 0 },
                base: if base_ok { base as i32 } else { 0 },
            });
        }
        if !list.is_empty() && !weighted {
            self.err(path, "at least one capacity provider of the strategy needs a weight above 0");
        }
        out
    }
}
