//! ECS Service Connect: a service's `service_connect`, checked against the task's named
//! ports, its network mode and `dns_discovery`, with the namespace of
//! `service_discovery` as its default.

use std::collections::BTreeMap;

use super::{Entry, Normaliser, Stack};
use crate::model::*;
use crate::raw::*;
use crate::suggest::did_you_mean;
use crate::validate::{check_alias_dns_name, check_connect_name};
use crate::walk::join;

/// A name that is unique in a Cloud Map namespace across the stackfile's services.
pub(super) struct NamespaceName {
    /// The namespace, as the stackfile names it.
    namespace: String,
    /// `Cloud Map service` or `client alias`.
    kind: &'static str,
    /// The name (an alias with its port).
    name: String,
    /// The service that claimed it, named in the later one's error.
    service: String,
}

/// What a named port of the task is, for the services that refer to it.
struct NamedPort<'s> {
    /// `tcp` or `udp`.
    protocol: &'s str,
    /// The container that maps it.
    container: &'s str,
}

impl Normaliser<'_> {
    /// Claims `name` in `namespace` for `service`; reports at `path` a name another
    /// service claimed first.
    pub(super) fn claim_in_namespace(
        &mut self,
        namespace: &str,
        kind: &'static str,
        name: String,
        service: &str,
        path: &str,
    ) {
        if namespace.is_empty() {
            return;
        }
        let taken = self.namespace_names.iter().find(|n| n.namespace == namespace && n.kind == kind && n.name == name);
        match taken {
            Some(first) if first.service != service => {
                let msg = format!(
                    "{kind} `{name}` is already used in namespace `{namespace}` by service `{}`; it is unique in the namespace",
                    first.service
                );
                self.err(path, msg);
            }
            Some(_) => {}
            None => self.namespace_names.push(NamespaceName {
                namespace: namespace.to_owned(),
                kind,
                name,
                service: service.to_owned(),
            }),
        }
    }

    /// The Service Connect configuration of a service; `None` when it has none or
    /// cannot have one (a one-off task).
    pub(super) fn service_connect(
        &mut self,
        e: &Entry,
        stack: &Stack,
        mode: RawNetworkMode,
        td: &TaskDefinitionSpec,
    ) -> Option<ServiceConnectSpec> {
        let sc = e.raw.service_connect.as_ref()?;
        let path = e.at("service_connect");
        if e.kind == ServiceKind::Task {
            self.err_key(&path, "`service_connect` needs a service; a `type: task` entry only keeps a task definition");
            return None;
        }
        if e.raw.dns_discovery.is_some() {
            self.err_key(
                &path,
                "`service_connect` and `dns_discovery` exclude each other: Service Connect registers the service in Cloud Map itself; keep one",
            );
        }
        if mode == RawNetworkMode::Host {
            self.err_key(
                &path,
                "Service Connect needs `network_mode: awsvpc` or `bridge`; ECS refuses it in host network mode",
            );
        }
        let namespace = match sc.namespace.as_deref().map(str::trim) {
            Some("") => {
                self.err(&join(&path, "namespace"), "the namespace must not be empty");
                String::new()
            }
            Some(n) => n.to_owned(),
            None => match &stack.namespace {
                Some(n) => n.clone(),
                None => {
                    if !self.locs.dropped_under("service_discovery") && !self.locs.dropped_under("vpc") {
                        self.err_key(
                            &path,
                            "`service_connect` needs a namespace: set `service_connect.namespace`, or `service_discovery.namespace` for the stackfile",
                        );
                    }
                    String::new()
                }
            },
        };
        let ports: BTreeMap<&str, NamedPort> = std::iter::once(&td.container)
            .chain(&td.sidecars)
            .flat_map(|c| {
                c.port_mappings
                    .iter()
                    .filter_map(|m| Some((m.name.as_deref()?, NamedPort { protocol: &m.protocol, container: &c.name })))
            })
            .collect();
        let services = self.connect_services(e, sc.services.as_deref().unwrap_or_default(), &path, &ports);
        let list = join(&path, "services");
        for (i, s) in services.iter().enumerate() {
            let ipath = self.locs.item(&list, i);
            let raw = &sc.services.as_deref().unwrap_or_default()[i];
            let dpath = join(&ipath, if raw.discovery_name.is_some() { "discovery_name" } else { "port_name" });
            self.claim_in_namespace(&namespace, "Cloud Map service", s.discovery_name.clone(), e.name, &dpath);
            for (j, a) in s.client_aliases.iter().enumerate() {
                let apath = self.locs.item(&join(&ipath, "client_aliases"), j);
                let alias = format!("{}:{}", a.dns_name, a.port);
                self.claim_in_namespace(&namespace, "client alias", alias, e.name, &apath);
            }
        }
        Some(ServiceConnectSpec { namespace, services })
    }

    /// The ports a service offers, each checked, and unique in the service by port,
    /// discovery name and alias.
    fn connect_services(
        &mut self,
        e: &Entry,
        raw: &[RawConnectService],
        path: &str,
        ports: &BTreeMap<&str, NamedPort>,
    ) -> Vec<ConnectService> {
        let list = join(path, "services");
        let mut out: Vec<ConnectService> = Vec::new();
        for (i, s) in raw.iter().enumerate() {
            let ipath = self.locs.item(&list, i);
            let ppath = join(&ipath, "port_name");
            match ports.get(s.port_name.as_str()) {
                None if !self.locs.dropped_under(&e.at("ports")) && !self.locs.dropped_under(&e.at("containers")) => {
                    let mut msg = if ports.is_empty() {
                        format!(
                            "no port of the task is named `{}`; name one in `ports`, e.g. `{{port: 8080, name: {}}}`",
                            s.port_name, s.port_name
                        )
                    } else {
                        let names: Vec<String> = ports.keys().map(|n| format!("`{n}`")).collect();
                        format!(
                            "no port of the task is named `{}`; the named ports are {}",
                            s.port_name,
                            names.join(", ")
                        )
                    };
                    if let Some(near) = did_you_mean(&s.port_name, ports.keys().copied()) {
                        msg.push_str(&format!("; did you mean `{near}`?"));
                    }
                    self.err(&ppath, msg);
                }
                Some(p) if p.protocol != "tcp" => self.err(
                    &ppath,
                    format!(
                        "port `{}` of container `{}` is {}; Service Connect proxies TCP only",
                        s.port_name, p.container, p.protocol
                    ),
                ),
                _ => {}
            }
            if out.iter().any(|o| o.port_name == s.port_name) {
                self.err(&ppath, format!("port `{}` is offered twice", s.port_name));
            }
            let discovery_name = s.discovery_name.clone().unwrap_or_else(|| s.port_name.clone());
            let dpath = if s.discovery_name.is_some() { join(&ipath, "discovery_name") } else { ppath.clone() };
            if s.discovery_name.is_some()
                && let Err(msg) = check_connect_name("a discovery name", &discovery_name)
            {
                self.err(&dpath, msg);
            } else if out.iter().any(|o| o.discovery_name == discovery_name) {
                self.err(&dpath, format!("discovery name `{discovery_name}` is used twice in the service"));
            }
            let client_aliases = self.client_aliases(s, &ipath, &out);
            out.push(ConnectService { port_name: s.port_name.clone(), discovery_name, client_aliases });
        }
        out
    }

    /// The client aliases of one offered port, unique across the service's.
    fn client_aliases(&mut self, s: &RawConnectService, ipath: &str, before: &[ConnectService]) -> Vec<ClientAlias> {
        let list = join(ipath, "client_aliases");
        let mut out: Vec<ClientAlias> = Vec::new();
        for (i, a) in s.client_aliases.as_deref().unwrap_or_default().iter().enumerate() {
            let apath = self.locs.item(&list, i);
            let port_ok = self.in_range(a.port, 1, 65535, &join(&apath, "port"), "a client alias port");
            let npath = join(&apath, "dns_name");
            if let Err(msg) = check_alias_dns_name(&a.dns_name) {
                self.err(&npath, msg);
            } else if before.iter().flat_map(|o| &o.client_aliases).chain(&out).any(|o| o.dns_name == a.dns_name) {
                self.err(&npath, format!("client alias `{}` is used twice in the service", a.dns_name));
            }
            out.push(ClientAlias { port: if port_ok { a.port as u16 } else { 0 }, dns_name: a.dns_name.clone() });
        }
        out
    }
}
