//! Networking: the `vpc` block, and a service's launch type and network mode lowered
//! into its [`NetworkSpec`] and target type.

use super::{Entry, Normaliser, Vpc};
use crate::model::*;
use crate::raw::*;
use crate::references::ReferenceKind;

/// Security groups of an awsvpc configuration and of a load balancer (ECS and ELBv2: 5).
const MAX_SECURITY_GROUPS: usize = 5;

/// How a service's tasks are launched and networked.
pub(super) struct Network {
    /// EC2 or Fargate, resolved against `defaults.launch_type`.
    pub(super) launch_type: LaunchType,
    /// The network mode, resolved: Fargate and `dns_discovery` force `awsvpc`. Decides
    /// which host ports the container's port mappings may have.
    pub(super) mode: RawNetworkMode,
    /// Subnets and security groups of an awsvpc service; `None` for bridge and host.
    pub(super) spec: Option<NetworkSpec>,
    /// The capacity provider strategy (see `capacity`), which decides the launch type
    /// when the service has one; empty for a launch type.
    pub(super) strategy: Vec<CapacityProviderItem>,
}

impl Network {
    /// Whether the tasks run on Fargate, which limits sizes, volumes and placement.
    pub(super) fn fargate(&self) -> bool {
        self.launch_type == LaunchType::Fargate
    }

    /// The network mode as ECS writes it.
    pub(super) fn mode_name(&self) -> &'static str {
        match self.mode {
            RawNetworkMode::Awsvpc => "awsvpc",
            RawNetworkMode::Bridge => "bridge",
            RawNetworkMode::Host => "host",
        }
    }

    /// How the service's target group registers targets: task ENIs in awsvpc mode,
    /// container instances otherwise.
    pub(super) fn target_type(&self) -> TargetType {
        if self.mode == RawNetworkMode::Awsvpc { TargetType::Ip } else { TargetType::Instance }
    }
}

impl Normaliser<'_> {
    pub(super) fn vpc(&mut self) -> Vpc {
        let Some(v) = &self.raw.vpc else {
            return Vpc::default();
        };
        let pp = |x: &Option<RawPublicPrivate>| match x {
            Some(p) => (sorted(&p.public), sorted(&p.private)),
            None => (vec![], vec![]),
        };
        let (public_subnets, private_subnets) = pp(&v.subnets);
        let (public_sgs, private_sgs) = pp(&v.security_groups);
        for (which, sgs) in [("public", &public_sgs), ("private", &private_sgs)] {
            if sgs.len() > MAX_SECURITY_GROUPS {
                self.err(
                    &format!("vpc.security_groups.{which}"),
                    format!(
                        "{} security groups; AWS allows at most {MAX_SECURITY_GROUPS} on a load balancer or an awsvpc task",
                        sgs.len()
                    ),
                );
            }
        }
        if let Some(id) = &v.id
            && id.trim().is_empty()
        {
            self.err("vpc.id", "the VPC id must not be empty");
        }
        self.vpc_references(v);
        Vpc {
            id: v.id.clone().filter(|s| !s.trim().is_empty()),
            public_subnets,
            private_subnets,
            public_sgs,
            private_sgs,
        }
    }

    /// Notes the VPC, subnets and security groups `vpc` names, each where it is written.
    fn vpc_references(&mut self, v: &RawVpc) {
        if let Some(id) = v.id.as_deref().filter(|id| !id.trim().is_empty()) {
            self.reference(ReferenceKind::Vpc, id, "vpc.id");
        }
        for (key, kind, lists) in [
            ("subnets", ReferenceKind::Subnet, &v.subnets),
            ("security_groups", ReferenceKind::SecurityGroup, &v.security_groups),
        ] {
            let Some(lists) = lists else { continue };
            for (which, list) in [("public", &lists.public), ("private", &lists.private)] {
                let path = format!("vpc.{key}.{which}");
                for (i, id) in list.iter().flatten().enumerate() {
                    let item = self.locs.item(&path, i);
                    self.reference(kind, id, &item);
                }
            }
        }
    }

    /// The launch type and network mode of a service, and its awsvpc configuration.
    pub(super) fn network(&mut self, e: &Entry, vpc: &Vpc) -> Network {
        let (s, d) = (e.raw, e.defaults);
        let capacity = self.capacity(e);
        let (launch_type, launch_path) = match (s.launch_type, capacity.implies, d.launch_type) {
            (Some(l), _, _) => (l, e.at("launch_type")),
            (None, Some(implied), _) => implied,
            (None, None, Some(l)) => (l, "defaults.launch_type".to_string()),
            (None, None, None) => (RawLaunchType::Ec2, e.path.to_string()),
        };
        let fargate = launch_type == RawLaunchType::Fargate;
        let forced = if fargate {
            Some(("Fargate", launch_path))
        } else if s.dns_discovery.is_some() && e.kind == ServiceKind::Service {
            Some(("`dns_discovery`", e.at("dns_discovery")))
        } else {
            None
        };
        let mode = match (s.network_mode, &forced) {
            (Some(m @ (RawNetworkMode::Bridge | RawNetworkMode::Host)), Some((why, _))) => {
                let m = if m == RawNetworkMode::Bridge { "bridge" } else { "host" };
                self.err(
                    &e.at("network_mode"),
                    format!("network_mode `{m}` conflicts with {why}, which needs `awsvpc`"),
                );
                RawNetworkMode::Awsvpc
            }
            (_, Some(_)) | (Some(RawNetworkMode::Awsvpc), None) => RawNetworkMode::Awsvpc,
            (Some(m), None) => m,
            (None, None) => RawNetworkMode::Host,
        };
        let spec = if mode == RawNetworkMode::Awsvpc {
            if vpc.private_subnets.is_empty() && !self.locs.dropped_under("vpc") {
                let at = match &forced {
                    Some((_, at)) => at.clone(),
                    None => e.at("network_mode"),
                };
                self.err(&at, "awsvpc networking needs subnets in `vpc.subnets.private`");
            }
            Some(NetworkSpec {
                subnets: vpc.private_subnets.clone(),
                security_groups: vpc.private_sgs.clone(),
                assign_public_ip: false,
            })
        } else {
            None
        };
        Network { launch_type: launch_type_aws(launch_type), mode, spec, strategy: capacity.strategy }
    }
}

fn sorted(v: &Option<Vec<String>>) -> Vec<String> {
    let mut v = v.clone().unwrap_or_default();
    v.sort();
    v.dedup();
    v
}

fn launch_type_aws(l: RawLaunchType) -> LaunchType {
    match l {
        RawLaunchType::Ec2 => LaunchType::Ec2,
        RawLaunchType::Fargate => LaunchType::Fargate,
    }
}
