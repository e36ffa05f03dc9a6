//! The container and its task definition: ports, CPU and memory (Fargate sizes),
//! environment and secrets, volumes, logging and the container health check; the
//! process settings and the platform come from `runtime`, the other containers from
//! `sidecars`.

use std::collections::BTreeMap;

use super::names::{NameKind, Names};
use super::network::Network;
use super::{Entry, Normaliser};
use crate::limits::{MAX_ECS_NAME, MAX_TASK_DEFINITION_BYTES, thousands};
use crate::model::*;
use crate::raw::*;
use crate::references::ReferenceKind;
use crate::validate::*;
use crate::walk::join;

/// The length of a value's JSON in bytes and in characters, without building it.
pub(super) fn json_len(value: &impl serde::Serialize) -> (usize, usize) {
    #[derive(Default)]
    struct Count {
        bytes: usize,
        chars: usize,
    }
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.bytes += buf.len();
            // Every character has exactly one byte that is not a continuation byte.
            self.chars += buf.iter().filter(|&&b| (b as i8) >= -0x40).count();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count::default();
    serde_json::to_writer(&mut count, value).expect("specs of strings and numbers always serialise");
    (count.bytes, count.chars)
}

/// Default container memory on EC2 when neither the service nor `defaults` sets one (nysa).
const DEFAULT_EC2_MEMORY: i64 = 1024;

/// A service's task definition, with what load balancing needs to know of its ports.
pub(super) struct TaskDefinition {
    /// The task definition the service runs.
    pub(super) spec: TaskDefinitionSpec,
    /// The first container port in document order (the mappings are sorted): the
    /// default of `routing.container_port`.
    pub(super) first_port: Option<u16>,
}

impl TaskDefinition {
    /// Whether the container maps `port` over TCP, as a target group needs.
    pub(super) fn exposes(&self, port: u16) -> bool {
        self.spec.container.port_mappings.iter().any(|m| m.container_port == port && m.protocol == "tcp")
    }
}

/// CPU and memory: at the task level on Fargate, at the container level on EC2.
struct Sizes {
    /// Task CPU units (Fargate), as ECS stores them.
    task_cpu: Option<String>,
    /// Task memory in MiB (Fargate), as ECS stores it.
    task_memory: Option<String>,
    /// Container memory limit in MiB (EC2).
    container_memory: Option<i32>,
    /// Container CPU units (EC2).
    container_cpu: Option<i32>,
}

impl Normaliser<'_> {
    /// The task definition of a service. `placement_constraints` are the task-level
    /// ones (see `placement`).
    pub(super) fn task_definition(
        &mut self,
        e: &Entry,
        net: &Network,
        base_logging: &Option<LogConfiguration>,
        placement_constraints: Vec<PlacementConstraint>,
    ) -> TaskDefinition {
        let s = e.raw;
        if s.image.trim().is_empty() {
            self.err(&e.at("image"), "the image must not be empty");
        }
        let repository = s.image.split_once('@').map_or(s.image.as_str(), |(r, _)| r);
        if repository.chars().count() > MAX_ECS_NAME {
            self.err(
                &e.at("image"),
                format!(
                    "the image name is {} characters; ECS allows at most {MAX_ECS_NAME} (before an `@sha256:` digest)",
                    repository.chars().count()
                ),
            );
        }
        if net.fargate() {
            if s.privileged == Some(true) {
                self.err(&e.at("privileged"), "Fargate does not run privileged containers");
            }
            if s.gpus.is_some() {
                self.err(&e.at("gpus"), "Fargate has no GPUs; use `launch_type: ec2`");
            }
        }
        let (port_mappings, first_port) = self.port_mappings(e, net.mode);
        let sizes = self.sizes(e, net.fargate());
        let (environment, secrets) = self.environment_and_secrets(e);
        self.check_roles(e);
        let (volumes, mount_points) = self.volumes(e, net.fargate());
        let log_configuration = self.merge_logging(base_logging.clone(), s.logging.as_ref(), &e.at("logging"));
        let health_check = match (&s.healthcheck, &e.defaults.healthcheck) {
            (Some(h), _) => self.container_health_check(h, &e.at("healthcheck")),
            (None, Some(h)) => self.container_health_check(h, "defaults.healthcheck"),
            (None, None) => None,
        };
        let platform = self.platform(e, net);
        let process = self.process(e, net, platform.runtime_platform.as_ref());
        let mut spec = TaskDefinitionSpec {
            family: format!("{}-{}", self.cluster, e.name),
            network_mode: net.mode_name().to_string(),
            requires_compatibilities: vec![net.launch_type.as_aws().to_string()],
            cpu: sizes.task_cpu,
            memory: sizes.task_memory,
            task_role_arn: s.task_role_arn.clone(),
            execution_role_arn: s.task_execution_role_arn.clone(),
            volumes,
            placement_constraints,
            container: ContainerSpec {
                name: e.name.to_string(),
                image: s.image.trim().to_string(),
                memory: sizes.container_memory,
                cpu: sizes.container_cpu,
                privileged: s.privileged.unwrap_or(false),
                environment,
                secrets,
                port_mappings,
                mount_points,
                log_configuration,
                health_check,
                gpus: s.gpus.and_then(|g| u32::try_from(g).ok()),
                command: process.command,
                entry_point: process.entry_point,
                working_directory: process.working_directory,
                user: process.user,
                stop_timeout: process.stop_timeout,
                readonly_root_filesystem: process.readonly_root_filesystem,
                ulimits: process.ulimits,
                docker_labels: process.docker_labels,
                init_process_enabled: process.init_process_enabled,
                essential: true,
                depends_on: Vec::new(),
                firelens: None,
            },
            runtime_platform: platform.runtime_platform,
            ephemeral_storage: platform.ephemeral_storage,
            tags: self.task_tags(e),
            sidecars: Vec::new(),
        };
        self.sidecars(e, net, base_logging, &mut spec);
        self.task_definition_size(e, &spec);
        TaskDefinition { spec, first_port }
    }

    /// Reports a task definition that AWS would refuse as too large, or whose family
    /// name is too long (only with the cluster name known: the family is
    /// `<cluster>-<service>`).
    fn task_definition_size(&mut self, e: &Entry, spec: &TaskDefinitionSpec) {
        if self.check_names && spec.family.chars().count() > MAX_ECS_NAME {
            self.err_key(
                e.path,
                format!(
                    "the task definition family `{}` is {} characters; ECS allows at most {MAX_ECS_NAME} \
                     (it is `<cluster>-<service>`: use a shorter cluster or service name)",
                    spec.family,
                    spec.family.chars().count()
                ),
            );
        }
        let (bytes, _) = json_len(spec);
        if bytes > MAX_TASK_DEFINITION_BYTES {
            self.err_key(
                e.path,
                format!(
                    "the task definition is {} bytes as JSON; the ECS limit is {} bytes (64 KiB): \
                     move large environment values to `secrets`",
                    thousands(bytes),
                    thousands(MAX_TASK_DEFINITION_BYTES)
                ),
            );
        }
    }

    /// The port mappings, sorted, and the first container port in document order.
    fn port_mappings(&mut self, e: &Entry, mode: RawNetworkMode) -> (Vec<PortMapping>, Option<u16>) {
        self.ports(e.raw.ports.as_deref(), &e.at("ports"), mode)
    }

    /// The port mappings of one container's `ports` list at `ports_path`, sorted, and
    /// the first container port in document order.
    pub(super) fn ports(
        &mut self,
        ports: Option<&[RawPort]>,
        ports_path: &str,
        mode: RawNetworkMode,
    ) -> (Vec<PortMapping>, Option<u16>) {
        let mut port_mappings: Vec<PortMapping> = Vec::new();
        let mut first_container_port = None;
        for (i, raw) in ports.into_iter().flatten().enumerate() {
            let ipath = self.locs.item(ports_path, i);
            // A named port's errors about the port itself point at its `port`.
            let ppath = match raw {
                RawPort::Text(_) => ipath.clone(),
                RawPort::Named(_) => join(&ipath, "port"),
            };
            let entry = match parse_port(raw.text()) {
                Ok(e) => e,
                Err(msg) => {
                    self.err(&ppath, msg);
                    continue;
                }
            };
            let (name, app_protocol) = match raw {
                RawPort::Text(_) => (None, None),
                RawPort::Named(n) => self.port_name(n, entry.protocol, &ipath, &port_mappings),
            };
            let host_port = match (mode, entry.host) {
                (RawNetworkMode::Bridge, h) => h,
                (RawNetworkMode::Host, Some(h)) if h != entry.container => {
                    self.err(
                        &ppath,
                        format!(
                            "in host network mode the host port must equal the container port ({h} != {}); \
                             set `network_mode: bridge` to map one onto the other",
                            entry.container
                        ),
                    );
                    continue;
                }
                (RawNetworkMode::Awsvpc, Some(h)) if h != entry.container => {
                    self.err(
                        &ppath,
                        format!(
                            "in awsvpc network mode the host port must equal the container port ({h} != {}); write `{}`",
                            entry.container, entry.container
                        ),
                    );
                    continue;
                }
                _ => Some(entry.container),
            };
            if port_mappings.iter().any(|m| m.container_port == entry.container && m.protocol == entry.protocol) {
                self.err(&ipath, format!("container port {}/{} is mapped twice", entry.container, entry.protocol));
                continue;
            }
            first_container_port.get_or_insert(entry.container);
            port_mappings.push(PortMapping {
                container_port: entry.container,
                host_port,
                protocol: entry.protocol.to_string(),
                name,
                app_protocol,
            });
        }
        port_mappings.sort();
        (port_mappings, first_container_port)
    }

    /// The name and application protocol of a named port at `ipath`, checked as ECS
    /// checks them and against the container's ports before it (`seen`).
    fn port_name(
        &mut self,
        n: &RawNamedPort,
        protocol: &str,
        ipath: &str,
        seen: &[PortMapping],
    ) -> (Option<String>, Option<String>) {
        let npath = join(ipath, "name");
        // A name ECS would refuse is reported here and left out, so that Service
        // Connect does not list it among the names there are.
        let valid = match check_connect_name("a port name", &n.name) {
            Err(msg) => {
                self.err(&npath, msg);
                false
            }
            Ok(()) => true,
        };
        if valid && seen.iter().any(|m| m.name.as_deref() == Some(n.name.as_str())) {
            self.err(&npath, format!("port name `{}` is used twice; a port name is unique in the task", n.name));
        }
        let app_protocol = n.app_protocol.map(|p| match p {
            RawAppProtocol::Http => "http",
            RawAppProtocol::Http2 => "http2",
            RawAppProtocol::Grpc => "grpc",
        });
        if app_protocol.is_some() && protocol != "tcp" {
            self.err(
                &join(ipath, "app_protocol"),
                format!("`app_protocol` needs a tcp port; ECS refuses it on a {protocol} port"),
            );
        }
        (valid.then(|| n.name.clone()), app_protocol.map(str::to_owned))
    }

    /// CPU and memory, from the service or `defaults`: a valid Fargate size, or EC2
    /// container limits.
    fn sizes(&mut self, e: &Entry, fargate: bool) -> Sizes {
        let (s, d, path) = (e.raw, e.defaults, e.path);
        let (memory, memory_path) = match (s.memory, d.memory) {
            (Some(m), _) => (Some(m), e.at("memory")),
            (None, Some(m)) => (Some(m), "defaults.memory".to_string()),
            (None, None) => (None, path.to_string()),
        };
        let (cpu, cpu_path) = match (s.cpu, d.cpu) {
            (Some(c), _) => (Some(c), e.at("cpu")),
            (None, Some(c)) => (Some(c), "defaults.cpu".to_string()),
            (None, None) => (None, path.to_string()),
        };
        if fargate {
            if cpu.is_none() && !self.locs.dropped_under("defaults.cpu") {
                self.err(
                    path,
                    "Fargate needs `cpu` (task CPU units: 256, 512, 1024, ...); set it here or in `defaults.cpu`",
                );
            }
            if memory.is_none() && !self.locs.dropped_under("defaults.memory") {
                self.err(path, "Fargate needs `memory` (task memory in MiB); set it here or in `defaults.memory`");
            }
            if let (Some(c), Some(m)) = (cpu, memory)
                && let Err((is_cpu, msg)) = check_fargate_size(c, m)
            {
                self.err(if is_cpu { &cpu_path } else { &memory_path }, msg);
            }
            Sizes {
                task_cpu: cpu.map(|c| c.to_string()),
                task_memory: memory.map(|m| m.to_string()),
                container_memory: None,
                container_cpu: None,
            }
        } else {
            let m = memory.unwrap_or(DEFAULT_EC2_MEMORY);
            self.in_range(m, MIN_CONTAINER_MEMORY, MAX_CONTAINER_MEMORY, &memory_path, "container memory (MiB)");
            if let Some(c) = cpu {
                self.in_range(c, 0, MAX_CONTAINER_CPU, &cpu_path, "container cpu units");
            }
            Sizes {
                task_cpu: None,
                task_memory: None,
                container_memory: i32::try_from(m).ok(),
                container_cpu: cpu.and_then(|c| i32::try_from(c).ok()),
            }
        }
    }

    /// The secrets at `path` (`NAME: ARN` of a Secrets Manager secret or an SSM
    /// parameter), each recorded as a reference for preflight; a name may not also be one
    /// of the container's `environment` variables.
    pub(super) fn secrets(
        &mut self,
        raw: Option<&BTreeMap<String, String>>,
        path: &str,
        environment: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let mut secrets = BTreeMap::new();
        for (k, arn) in raw.into_iter().flatten() {
            let spath = join(path, k);
            if let Err(msg) = check_env_name(k) {
                self.err_key(&spath, msg);
            }
            match check_secret_arn(arn) {
                Ok(()) => {
                    let kind = match Arn::parse(arn) {
                        Some(a) if a.service == "ssm" => ReferenceKind::Parameter,
                        _ => ReferenceKind::Secret,
                    };
                    self.reference(kind, arn, &spath);
                }
                Err(msg) => self.err(&spath, msg),
            }
            if environment.contains_key(k) {
                self.err_key(&spath, format!("`{k}` is both an environment variable and a secret"));
            }
            secrets.insert(k.clone(), arn.clone());
        }
        secrets
    }

    /// The environment (the service's over `defaults.environment`) and the secrets.
    fn environment_and_secrets(&mut self, e: &Entry) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
        let s = e.raw;
        let mut environment = BTreeMap::new();
        for (_, k, v) in self.environment(&e.defaults.environment, "defaults.environment") {
            environment.insert(k, v);
        }
        for (_, k, v) in self.environment(&s.environment, &e.at("environment")) {
            environment.insert(k, v);
        }
        let secrets = self.secrets(s.secrets.as_ref(), &e.at("secrets"), &environment);
        if !secrets.is_empty()
            && s.task_execution_role_arn.is_none()
            && !self.locs.has(&e.at("task_execution_role_arn"))
        {
            self.err_key(&e.at("secrets"), "secrets need `task_execution_role_arn`, the role ECS uses to fetch them");
        }
        (environment, secrets)
    }

    /// Environment entries as `(path of the value, name, value)`.
    pub(super) fn environment(&mut self, env: &Option<RawEnvironment>, path: &str) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        match env {
            None => {}
            Some(RawEnvironment::Map(m)) => {
                for (k, v) in m {
                    out.push((join(path, k), k.clone(), v.0.clone()));
                }
            }
            Some(RawEnvironment::List(list)) => {
                for (i, entry) in list.iter().enumerate() {
                    let item = self.locs.item(path, i);
                    for (k, v) in &entry.0 {
                        out.push((join(&item, k), k.clone(), v.0.clone()));
                    }
                }
            }
        }
        let mut seen = Names::default();
        let mut unique = Vec::new();
        for (p, k, v) in out {
            if let Err(msg) = check_env_name(&k) {
                self.err_key(&p, msg);
            }
            if let Err(dup) = seen.claim(NameKind::EnvVar, &k, &p) {
                self.duplicate(dup);
                continue;
            }
            unique.push((p, k, v));
        }
        unique
    }

    /// Checks the ARNs of the task role and the task execution role.
    fn check_roles(&mut self, e: &Entry) {
        let s = e.raw;
        for field in ["task_role_arn", "task_execution_role_arn"] {
            let value = if field == "task_role_arn" { &s.task_role_arn } else { &s.task_execution_role_arn };
            if let Some(arn) = value {
                match check_role_arn(arn) {
                    Ok(()) => self.reference(ReferenceKind::Role, arn, &e.at(field)),
                    Err(msg) => self.err(&e.at(field), msg),
                }
            }
        }
    }

    /// The host volumes, sorted by name, and the container's mount points; Fargate
    /// mounts no host paths.
    fn volumes(&mut self, e: &Entry, fargate: bool) -> (Vec<VolumeSpec>, Vec<MountPoint>) {
        let mut volumes: Vec<VolumeSpec> = Vec::new();
        let mut mount_points = Vec::new();
        let vpath = e.at("volumes");
        for (i, text) in e.raw.volumes.iter().flatten().enumerate() {
            let ipath = self.locs.item(&vpath, i);
            let v = match parse_volume(text) {
                Ok(v) => v,
                Err(msg) => {
                    self.err(&ipath, msg);
                    continue;
                }
            };
            if fargate {
                self.err(&ipath, "Fargate tasks cannot mount host paths");
            }
            match volumes.iter().find(|x| x.name == v.name) {
                Some(x) if x.host_path != v.host_path => {
                    self.err(&ipath, format!("volume `{}` is already bound to host path `{}`", v.name, x.host_path));
                }
                Some(_) => {}
                None => volumes.push(VolumeSpec { name: v.name.clone(), host_path: v.host_path }),
            }
            mount_points.push(MountPoint {
                source_volume: v.name,
                container_path: v.container_path,
                read_only: v.read_only,
            });
        }
        volumes.sort_by(|a, b| a.name.cmp(&b.name));
        mount_points.sort_by(|a, b| (&a.container_path, &a.source_volume).cmp(&(&b.container_path, &b.source_volume)));
        (volumes, mount_points)
    }

    /// Top-level `logging`, with `defaults.logging` merged over it.
    pub(super) fn cluster_logging(&mut self) -> Option<LogConfiguration> {
        let top = self.merge_logging(None, self.raw.logging.as_ref(), "logging");
        let defaults = self.raw.defaults.as_ref().and_then(|d| d.logging.as_ref());
        self.merge_logging(top, defaults, "defaults.logging")
    }

    /// Merges `over` onto `base`: a different driver replaces the base entirely (its
    /// options never leak into another driver); the same driver, or none, merges the
    /// options with `over` winning.
    pub(super) fn merge_logging(
        &mut self,
        base: Option<LogConfiguration>,
        over: Option<&RawLogging>,
        path: &str,
    ) -> Option<LogConfiguration> {
        match merge_logging(base, over) {
            Ok(l) => l,
            Err(msg) => {
                self.err(path, msg);
                None
            }
        }
    }

    pub(super) fn container_health_check(&mut self, h: &RawHealthcheck, path: &str) -> Option<ContainerHealthCheck> {
        let cpath = join(path, "command");
        let command = match &h.command {
            RawCommand::Shell(s) => vec!["CMD-SHELL".to_string(), s.clone()],
            RawCommand::Args(a) => a.clone(),
        };
        match command.first().map(String::as_str) {
            None => self.err(&cpath, "the health check command must not be empty"),
            Some("CMD" | "CMD-SHELL" | "NONE") => {}
            Some(other) => self.err(
                &cpath,
                format!("a health check command starts with `CMD` or `CMD-SHELL`, found `{other}`; or write the command as one string"),
            ),
        }
        if command.len() == 1 && command[0] != "NONE" {
            self.err(&cpath, "the health check command has nothing to run");
        }
        let mut field = |v: Option<i64>, default: i64, lo: i64, hi: i64, name: &str| -> i32 {
            let v = v.unwrap_or(default);
            self.in_range(v, lo, hi, &join(path, name), name);
            v.clamp(lo, hi) as i32
        };
        Some(ContainerHealthCheck {
            interval: field(h.interval, 30, 5, 300, "interval"),
            timeout: field(h.timeout, 5, 2, 60, "timeout"),
            retries: field(h.retries, 3, 1, 10, "retries"),
            start_period: field(h.start_period, 0, 0, 300, "start_period"),
            command,
        })
    }
}

/// Merges a logging block onto an inherited configuration (see
/// [`Normaliser::merge_logging`]). `Err` when options come without any driver.
fn merge_logging(
    base: Option<LogConfiguration>,
    over: Option<&RawLogging>,
) -> Result<Option<LogConfiguration>, String> {
    let Some(over) = over else { return Ok(base) };
    let options: BTreeMap<String, String> =
        over.options.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())).collect();
    match (base, &over.log_driver) {
        (Some(b), Some(driver)) if *driver != b.driver => {
            Ok(Some(LogConfiguration { driver: driver.clone(), options }))
        }
        (Some(mut b), _) => {
            b.options.extend(options);
            Ok(Some(b))
        }
        (None, Some(driver)) => Ok(Some(LogConfiguration { driver: driver.clone(), options })),
        (None, None) if options.is_empty() => Ok(None),
        (None, None) => Err("logging `options` need a `log_driver` (none is inherited)".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_logging(driver: Option<&str>, opts: &[(&str, &str)]) -> RawLogging {
        RawLogging {
            log_driver: driver.map(str::to_string),
            options: Some(opts.iter().map(|(k, v)| (k.to_string(), ScalarText(v.to_string()))).collect()),
            create_group: None,
            retention_days: None,
        }
    }

    fn cfg(driver: &str, opts: &[(&str, &str)]) -> LogConfiguration {
        LogConfiguration {
            driver: driver.to_string(),
            options: opts.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn logging_same_driver_merges_service_wins() {
        let base = cfg("awslogs", &[("awslogs-group", "/ecs/a"), ("awslogs-region", "eu-west-1")]);
        let over = raw_logging(Some("awslogs"), &[("awslogs-group", "/ecs/b")]);
        let got = merge_logging(Some(base.clone()), Some(&over)).unwrap();
        assert_eq!(got, Some(cfg("awslogs", &[("awslogs-group", "/ecs/b"), ("awslogs-region", "eu-west-1")])));
        // No driver at service level means the inherited one.
        let over = raw_logging(None, &[("awslogs-stream-prefix", "web")]);
        let got = merge_logging(Some(base), Some(&over)).unwrap().unwrap();
        assert_eq!(got.driver, "awslogs");
        assert_eq!(got.options.len(), 3);
    }

    #[test]
    fn logging_other_driver_replaces_without_leaking_options() {
        let base = cfg("awslogs", &[("awslogs-group", "/ecs/a")]);
        let over = raw_logging(Some("syslog"), &[("syslog-address", "udp://10.0.0.1:514")]);
        let got = merge_logging(Some(base), Some(&over)).unwrap();
        assert_eq!(got, Some(cfg("syslog", &[("syslog-address", "udp://10.0.0.1:514")])));
    }

    #[test]
    fn logging_options_without_any_driver_is_an_error() {
        let over = raw_logging(None, &[("a", "b")]);
        assert!(merge_logging(None, Some(&over)).is_err());
        assert_eq!(merge_logging(None, None), Ok(None));
    }
}
