//! The task's other containers (`containers:`): each sidecar's image, ports,
//! environment and secrets, logging, health check, size, command and FireLens log
//! router; `depends_on` of every container; and the rules that span the task's
//! containers (names, ports, dependencies, sizes, the log router), each error with its
//! path, line and column.

use std::collections::BTreeMap;

use super::network::Network;
use super::{Entry, Normaliser};
use crate::limits::MAX_ECS_NAME;
use crate::model::*;
use crate::raw::*;
use crate::validate::*;
use crate::walk::join;

/// The log driver that sends a container's logs to the task's FireLens log router.
const FIRELENS_DRIVER: &str = "awsfirelens";
/// The `firelensConfiguration.options` ECS knows.
const FIRELENS_OPTIONS: [&str; 3] = ["enable-ecs-log-metadata", "config-file-type", "config-file-value"];

/// One container of the task as the rules that span the containers see it.
struct Member<'s> {
    /// The container's name.
    name: &'s str,
    /// Where an error about the container as a whole goes (its entry; the service's key
    /// for the main container).
    path: String,
    /// Where its `depends_on` list is.
    depends_path: String,
    /// Its `depends_on` entries as written.
    depends_on: &'s [RawDependsOn],
    /// Where its `logging` is, when it sets one: a FireLens error about its driver goes
    /// there.
    logging_path: Option<String>,
}

impl Normaliser<'_> {
    /// Lowers `containers:` into `spec.sidecars` and the main container's `depends_on`
    /// into `spec.container`, and checks what spans the task's containers. `spec` is the
    /// task definition with its main container already lowered.
    pub(super) fn sidecars(
        &mut self,
        e: &Entry,
        net: &Network,
        base_logging: &Option<LogConfiguration>,
        spec: &mut TaskDefinitionSpec,
    ) {
        let list = e.raw.containers.as_deref().unwrap_or_default();
        let cpath = e.at("containers");
        let mut members = vec![Member {
            name: e.name,
            path: e.path.to_string(),
            depends_path: e.at("depends_on"),
            depends_on: e.raw.depends_on.as_deref().unwrap_or_default(),
            logging_path: e.raw.logging.as_ref().map(|_| e.at("logging")),
        }];
        for (i, raw) in list.iter().enumerate() {
            let ipath = self.locs.item(&cpath, i);
            let name_path = join(&ipath, "name");
            if let Err(msg) = check_ecs_name("container name", &raw.name) {
                self.err(&name_path, msg);
            }
            if raw.name == e.name {
                self.err(
                    &name_path,
                    format!("`{}` is the main container's name (the service's); give the sidecar another", raw.name),
                );
                continue;
            }
            if let Some(first) = members.iter().skip(1).find(|m| m.name == raw.name) {
                let (line, _) = self.locs.at(&first.path);
                self.err(&name_path, format!("container `{}` is defined twice (first on line {line})", raw.name));
                continue;
            }
            let sidecar = self.sidecar(e, net, base_logging, raw, &ipath);
            self.port_collisions(spec, &sidecar, &raw.name, &join(&ipath, "ports"));
            spec.sidecars.push(sidecar);
            members.push(Member {
                name: &raw.name,
                path: ipath.clone(),
                depends_path: join(&ipath, "depends_on"),
                depends_on: raw.depends_on.as_deref().unwrap_or_default(),
                logging_path: raw.logging.as_ref().map(|_| join(&ipath, "logging")),
            });
        }
        let depends_on = self.depends_on(&members, spec);
        for (i, deps) in depends_on.into_iter().enumerate() {
            match i {
                0 => spec.container.depends_on = deps,
                i => spec.sidecars[i - 1].depends_on = deps,
            }
        }
        self.dependency_cycle(&members, spec);
        self.container_sizes(e, net, spec, &cpath);
        self.log_router(&members, spec);
    }

    /// One sidecar, checked on its own.
    fn sidecar(
        &mut self,
        e: &Entry,
        net: &Network,
        base_logging: &Option<LogConfiguration>,
        raw: &RawContainer,
        path: &str,
    ) -> ContainerSpec {
        let image = raw.image.trim();
        let repository = image.split_once('@').map_or(image, |(r, _)| r);
        if image.is_empty() {
            self.err(&join(path, "image"), "the image must not be empty");
        } else if repository.chars().count() > MAX_ECS_NAME {
            self.err(
                &join(path, "image"),
                format!(
                    "the image name is {} characters; ECS allows at most {MAX_ECS_NAME} (before an `@sha256:` digest)",
                    repository.chars().count()
                ),
            );
        }
        let (port_mappings, _) = self.ports(raw.ports.as_deref(), &join(path, "ports"), net.mode);
        let (environment, secrets) = self.sidecar_environment(e, raw, path);
        let log_configuration = self.merge_logging(base_logging.clone(), raw.logging.as_ref(), &join(path, "logging"));
        let health_check =
            raw.healthcheck.as_ref().and_then(|h| self.container_health_check(h, &join(path, "healthcheck")));
        let memory = raw.memory.filter(|&m| {
            self.in_range(
                m,
                MIN_CONTAINER_MEMORY,
                MAX_CONTAINER_MEMORY,
                &join(path, "memory"),
                "container memory (MiB)",
            )
        });
        if memory.is_none() && raw.memory.is_none() && !net.fargate() {
            self.err_key(
                path,
                format!(
                    "on EC2 every container needs `memory` (MiB), as the task has no memory size of its own; \
                     `{}` has none",
                    raw.name
                ),
            );
        }
        let cpu =
            raw.cpu.filter(|&c| self.in_range(c, 0, MAX_CONTAINER_CPU, &join(path, "cpu"), "container cpu units"));
        let firelens = raw.firelens.as_ref().map(|f| self.firelens(f, net, &join(path, "firelens")));
        ContainerSpec {
            name: raw.name.clone(),
            image: image.to_string(),
            memory: memory.map(|m| m as i32),
            cpu: cpu.map(|c| c as i32),
            privileged: false,
            environment,
            secrets,
            port_mappings,
            mount_points: Vec::new(),
            log_configuration,
            health_check,
            gpus: None,
            command: raw.command.clone().unwrap_or_default(),
            entry_point: raw.entrypoint.clone().unwrap_or_default(),
            working_directory: None,
            user: None,
            stop_timeout: None,
            readonly_root_filesystem: false,
            ulimits: Vec::new(),
            docker_labels: BTreeMap::new(),
            init_process_enabled: false,
            essential: raw.essential.unwrap_or(true),
            depends_on: Vec::new(),
            firelens,
        }
    }

    /// A sidecar's environment (its own only: `defaults.environment` is the service's)
    /// and secrets.
    fn sidecar_environment(
        &mut self,
        e: &Entry,
        raw: &RawContainer,
        path: &str,
    ) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
        let environment: BTreeMap<String, String> = self
            .environment(&raw.environment, &join(path, "environment"))
            .into_iter()
            .map(|(_, k, v)| (k, v))
            .collect();
        let secrets_path = join(path, "secrets");
        let secrets = self.secrets(raw.secrets.as_ref(), &secrets_path, &environment);
        if !secrets.is_empty()
            && e.raw.task_execution_role_arn.is_none()
            && !self.locs.has(&e.at("task_execution_role_arn"))
        {
            self.err_key(
                &secrets_path,
                "secrets need the service's `task_execution_role_arn`, the role ECS uses to fetch them",
            );
        }
        (environment, secrets)
    }

    /// A log router's configuration, with the option combinations ECS refuses.
    fn firelens(&mut self, f: &RawFirelens, net: &Network, path: &str) -> Firelens {
        let opath = join(path, "options");
        let options: BTreeMap<String, String> =
            f.options.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())).collect();
        for (k, v) in &options {
            let kpath = join(&opath, k);
            match k.as_str() {
                "enable-ecs-log-metadata" if v != "true" && v != "false" => {
                    self.err(&kpath, format!("`enable-ecs-log-metadata` is `true` or `false`, found `{v}`"));
                }
                "config-file-type" if v != "file" && v != "s3" => {
                    self.err(&kpath, format!("`config-file-type` is `file` or `s3`, found `{v}`"));
                }
                "config-file-type" if v == "s3" && net.fargate() => self.err(
                    &kpath,
                    "Fargate reads a FireLens configuration from a file in the image only: use `config-file-type: file`",
                ),
                known if FIRELENS_OPTIONS.contains(&known) => {}
                other => self.err_key(
                    &kpath,
                    format!("`{other}` is not a FireLens option; ECS knows {}", FIRELENS_OPTIONS.join(", ")),
                ),
            }
        }
        match (options.contains_key("config-file-type"), options.contains_key("config-file-value")) {
            (true, false) => self.err_key(&opath, "`config-file-type` needs `config-file-value`, the file or S3 ARN"),
            (false, true) => self.err_key(&opath, "`config-file-value` needs `config-file-type` (`file` or `s3`)"),
            _ => {}
        }
        Firelens { kind: f.kind.as_aws().to_string(), options }
    }

    /// Reports a sidecar port another container of the task already uses: the
    /// containers of an awsvpc or host task share one network stack, and a bridge task
    /// one host port.
    fn port_collisions(&mut self, spec: &TaskDefinitionSpec, sidecar: &ContainerSpec, name: &str, path: &str) {
        let others = std::iter::once(&spec.container).chain(&spec.sidecars);
        let mut seen: Vec<(u16, &str, &str)> = others
            .flat_map(|c| {
                c.port_mappings.iter().filter_map(|m| Some((m.host_port?, m.protocol.as_str(), c.name.as_str())))
            })
            .collect();
        let others = std::iter::once(&spec.container).chain(&spec.sidecars);
        let names: Vec<(&str, &str)> = others
            .flat_map(|c| c.port_mappings.iter().filter_map(|m| Some((m.name.as_deref()?, c.name.as_str()))))
            .collect();
        for m in &sidecar.port_mappings {
            if let Some(pname) = m.name.as_deref()
                && let Some((_, owner)) = names.iter().find(|(n, _)| *n == pname)
            {
                self.err_key(
                    path,
                    format!(
                        "port name `{pname}` of `{name}` is already used by container `{owner}`; a port name is unique in the task"
                    ),
                );
            }
        }
        for m in &sidecar.port_mappings {
            let Some(port) = m.host_port else { continue };
            if let Some((_, _, owner)) = seen.iter().find(|(p, proto, _)| *p == port && *proto == m.protocol) {
                self.err_key(
                    path,
                    format!(
                        "port {port}/{} of `{name}` is already used by container `{owner}` of the task",
                        m.protocol
                    ),
                );
            } else {
                seen.push((port, &m.protocol, name));
            }
        }
    }

    /// Every container's `depends_on`, in the order of `members`, with the references
    /// ECS would refuse reported: an unknown container, itself, twice, `COMPLETE` or
    /// `SUCCESS` on an essential container, `HEALTHY` on one without a health check.
    fn depends_on(&mut self, members: &[Member], spec: &TaskDefinitionSpec) -> Vec<Vec<ContainerDependency>> {
        let containers: Vec<&ContainerSpec> = std::iter::once(&spec.container).chain(&spec.sidecars).collect();
        let mut all = Vec::new();
        for m in members {
            let mut deps: Vec<ContainerDependency> = Vec::new();
            for (i, d) in m.depends_on.iter().enumerate() {
                let ipath = self.locs.item(&m.depends_path, i);
                let tpath = join(&ipath, "container");
                let Some(target) = containers.iter().find(|c| c.name == d.container) else {
                    let known: Vec<String> = containers.iter().map(|c| format!("`{}`", c.name)).collect();
                    self.err(
                        &tpath,
                        format!("no container `{}` in this task; it has {}", d.container, known.join(", ")),
                    );
                    continue;
                };
                if d.container == m.name {
                    self.err(&tpath, format!("container `{}` cannot wait for itself", m.name));
                    continue;
                }
                if deps.iter().any(|x| x.container == d.container) {
                    self.err(&tpath, format!("`{}` waits for `{}` twice", m.name, d.container));
                    continue;
                }
                let cond_path = join(&ipath, "condition");
                match d.condition {
                    RawDependsCondition::Complete | RawDependsCondition::Success if target.essential => self.err(
                        &cond_path,
                        format!(
                            "`{}` on `{}` needs it to be `essential: false`: a task stops when an essential container exits",
                            d.condition.as_aws(),
                            d.container
                        ),
                    ),
                    RawDependsCondition::Healthy if target.health_check.is_none() => self.err(
                        &cond_path,
                        format!("`HEALTHY` needs a `healthcheck` on `{}`, and it has none", d.container),
                    ),
                    _ => {}
                }
                deps.push(ContainerDependency {
                    container: d.container.clone(),
                    condition: d.condition.as_aws().to_string(),
                });
            }
            all.push(deps);
        }
        all
    }

    /// Reports the first container (main first, then in order) that waits for itself
    /// through others: ECS would never start the task.
    fn dependency_cycle(&mut self, members: &[Member], spec: &TaskDefinitionSpec) {
        let containers: Vec<&ContainerSpec> = std::iter::once(&spec.container).chain(&spec.sidecars).collect();
        let next = |name: &str| -> Vec<&str> {
            containers
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.depends_on.iter().map(|d| d.container.as_str()).collect())
                .unwrap_or_default()
        };
        for m in members {
            // Depth-first from `m`, at most one visit per container (a task has 10).
            let mut stack: Vec<Vec<&str>> = vec![vec![m.name]];
            let mut visited: Vec<&str> = Vec::new();
            while let Some(route) = stack.pop() {
                let last = *route.last().expect("routes are never empty");
                for n in next(last) {
                    if n == m.name {
                        let mut cycle = route.clone();
                        cycle.push(n);
                        let shown: Vec<String> = cycle.iter().map(|c| format!("`{c}`")).collect();
                        self.err_key(
                            &m.depends_path,
                            format!(
                                "the containers wait for each other ({}): the task would never start",
                                shown.join(" -> ")
                            ),
                        );
                        return;
                    }
                    if !visited.contains(&n) {
                        visited.push(n);
                        let mut longer = route.clone();
                        longer.push(n);
                        stack.push(longer);
                    }
                }
            }
        }
    }

    /// Reports containers whose memory or CPU adds up to more than the task's (when the
    /// task has a size: Fargate).
    fn container_sizes(&mut self, e: &Entry, net: &Network, spec: &TaskDefinitionSpec, cpath: &str) {
        if spec.sidecars.is_empty() || !net.fargate() {
            return;
        }
        let containers = || std::iter::once(&spec.container).chain(&spec.sidecars);
        for (what, unit, task, sum) in [
            (
                "memory",
                " MiB",
                spec.memory.as_deref(),
                containers().filter_map(|c| c.memory).map(i64::from).sum::<i64>(),
            ),
            ("CPU", " units", spec.cpu.as_deref(), containers().filter_map(|c| c.cpu).map(i64::from).sum::<i64>()),
        ] {
            let Some(task) = task.and_then(|t| t.parse::<i64>().ok()) else { continue };
            if sum > task {
                self.err_key(
                    cpath,
                    format!(
                        "the {what} of the containers of `{}` adds up to {sum}{unit}, more than the task's {task}{unit}",
                        e.name
                    ),
                );
            }
        }
    }

    /// The FireLens rules: one log router per task, a router for every container that
    /// logs to it, and a router that logs elsewhere.
    fn log_router(&mut self, members: &[Member], spec: &TaskDefinitionSpec) {
        let containers: Vec<&ContainerSpec> = std::iter::once(&spec.container).chain(&spec.sidecars).collect();
        let mut router: Option<&str> = None;
        for (m, c) in members.iter().zip(&containers) {
            if c.firelens.is_some() {
                match router {
                    Some(first) => self.err_key(
                        &join(&m.path, "firelens"),
                        format!("a task has one FireLens log router, and `{first}` is one already"),
                    ),
                    None => router = Some(m.name),
                }
            }
        }
        for (m, c) in members.iter().zip(&containers) {
            if c.log_configuration.as_ref().is_none_or(|l| l.driver != FIRELENS_DRIVER) {
                continue;
            }
            let path = m.logging_path.clone().unwrap_or_else(|| m.path.clone());
            if c.firelens.is_some() {
                self.err_key(
                    &path,
                    format!(
                        "the log router `{}` cannot send its own logs to FireLens; give it another `log_driver`, \
                         e.g. `awslogs`",
                        m.name
                    ),
                );
            } else if router.is_none() {
                self.err_key(
                    &path,
                    format!(
                        "`{}` logs with `log_driver: {FIRELENS_DRIVER}`, which needs a FireLens log router in the task: \
                         add a sidecar under `containers` with `firelens: {{type: fluentbit}}`",
                        m.name
                    ),
                );
            }
        }
    }
}
