//! Service discovery: the Cloud Map namespace of `service_discovery` and each
//! service's `dns_discovery`.

use super::{Entry, Normaliser, Stack, Vpc};
use crate::model::*;
use crate::walk::join;

impl Normaliser<'_> {
    /// The Cloud Map private DNS namespace of `service_discovery`.
    pub(super) fn namespace(&mut self, vpc: &Vpc) -> Option<NamespaceSpec> {
        let sd = self.raw.service_discovery.as_ref()?;
        let name = sd.namespace.trim().trim_end_matches('.').to_lowercase();
        if name.is_empty() {
            self.err("service_discovery.namespace", "the namespace must not be empty");
            return None;
        }
        match &vpc.id {
            Some(id) => Some(NamespaceSpec { name, vpc_id: id.clone() }),
            None => {
                if !self.locs.was_dropped("vpc.id") {
                    self.err("service_discovery.namespace", "a private DNS namespace needs `vpc.id`");
                }
                None
            }
        }
    }

    /// The Cloud Map service of a service's `dns_discovery`; a one-off task has none.
    pub(super) fn discovery(&mut self, e: &Entry, stack: &Stack) -> Option<DiscoverySpec> {
        let (Some(dd), ServiceKind::Service) = (&e.raw.dns_discovery, e.kind) else {
            return None;
        };
        let dpath = e.at("dns_discovery");
        if !stack.has_namespace && self.raw.service_discovery.is_none() && !self.locs.dropped_under("service_discovery")
        {
            self.err_key(&dpath, "`dns_discovery` needs `service_discovery.namespace`");
        }
        if stack.vpc.id.is_none() && !self.locs.dropped_under("vpc") {
            self.err_key(&dpath, "`dns_discovery` needs `vpc.id` for the private DNS namespace");
        }
        let dname = dd.name.clone().unwrap_or_else(|| e.name.to_string()).to_lowercase();
        if dname.is_empty()
            || !dname
                .split('.')
                .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            self.err(&join(&dpath, "name"), format!("`{dname}` is not a valid DNS name"));
        }
        let ttl = dd.ttl.unwrap_or(60);
        self.in_range(ttl, 0, i64::from(i32::MAX), &join(&dpath, "ttl"), "ttl");
        if let Some(ns) = &stack.namespace {
            let npath = if dd.name.is_some() { join(&dpath, "name") } else { dpath.clone() };
            self.claim_in_namespace(ns, "Cloud Map service", dname.clone(), e.name, &npath);
        }
        let ft = dd.healthcheck.as_ref().and_then(|h| h.failure_threshold).unwrap_or(1);
        self.in_range(ft, 1, 10, &join(&dpath, "healthcheck.failure_threshold"), "failure_threshold");
        Some(DiscoverySpec { name: dname, dns_ttl: ttl, failure_threshold: ft.clamp(1, 10) as i32 })
    }
}
