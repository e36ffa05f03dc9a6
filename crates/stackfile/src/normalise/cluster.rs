//! The cluster's own settings (`cluster:`): its capacity providers, their default
//! strategy, and Container Insights.
//!
//! ECS sets a cluster's providers and default strategy together
//! (`PutClusterCapacityProviders`), so a strategy needs its providers listed. When the
//! stackfile lists providers, every service's strategy may name only those: ECS would
//! refuse the service at create time, after the changes before it were made.

use super::{Normaliser, is_provider_name};
use crate::model::*;
use crate::walk::join;

impl Normaliser<'_> {
    /// `cluster:`, checked; `None` when the stackfile has no such block.
    pub(super) fn cluster_settings(&mut self) -> Option<ClusterSpec> {
        let raw = self.raw.cluster.clone()?;
        let capacity = match (&raw.capacity_providers, &raw.default_strategy) {
            (None, None) => None,
            (None, Some(_)) => {
                self.err_key(
                    "cluster.default_strategy",
                    "a default strategy needs the cluster's `capacity_providers`: ECS sets them together",
                );
                None
            }
            (Some(list), strategy) => {
                let mut providers: Vec<String> = Vec::with_capacity(list.len());
                for (i, p) in list.iter().enumerate() {
                    let path = self.locs.item("cluster.capacity_providers", i);
                    let p = p.trim();
                    if !is_provider_name(p) {
                        self.err(
                            &path,
                            format!("`{p}` is not a capacity provider name (letters, digits, `_` and `-`)"),
                        );
                    } else if providers.iter().any(|q| q == p) {
                        self.err(&path, format!("capacity provider `{p}` is listed twice"));
                    } else {
                        providers.push(p.to_owned());
                    }
                }
                let default_strategy = match strategy {
                    Some(items) => self.strategy(items, "cluster.default_strategy"),
                    None => Vec::new(),
                };
                for (i, item) in default_strategy.iter().enumerate() {
                    if !providers.contains(&item.provider) {
                        let path = join(&self.locs.item("cluster.default_strategy", i), "provider");
                        self.err(&path, format!("`{}` is not among the cluster's `capacity_providers`", item.provider));
                    }
                }
                providers.sort();
                Some(ClusterCapacity { providers, default_strategy })
            }
        };
        Some(ClusterSpec {
            capacity_providers: capacity,
            container_insights: raw.container_insights.map(|c| c.as_aws().to_owned()),
        })
    }

    /// Reports each provider of a service's strategy that the cluster block does not list.
    pub(super) fn strategy_in_cluster(&mut self, strategy: &[CapacityProviderItem], path: &str) {
        let Some(listed) = self.raw.cluster.as_ref().and_then(|c| c.capacity_providers.as_ref()) else { return };
        for (i, item) in strategy.iter().enumerate() {
            if !listed.iter().any(|p| p.trim() == item.provider) {
                let at = join(&self.locs.item(path, i), "provider");
                self.err(
                    &at,
                    format!(
                        "capacity provider `{}` is not among the cluster's `capacity_providers` ({})",
                        item.provider,
                        listed.join(", ")
                    ),
                );
            }
        }
    }
}
