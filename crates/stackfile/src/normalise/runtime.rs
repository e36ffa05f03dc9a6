//! How the container's process runs and on what: command, entry point, working
//! directory, user, stop timeout, read-only root, ulimits, Docker labels, the init
//! process, and the task's runtime platform and ephemeral storage, with the
//! combinations ECS refuses (Linux-only settings on Windows, Fargate-only storage).

use std::collections::BTreeMap;

use super::network::Network;
use super::{Entry, Normaliser};
use crate::model::*;
use crate::raw::*;
use crate::walk::join;

/// Fargate's longest stop timeout (ECS: "the max stop timeout value is 120 seconds").
const MAX_FARGATE_STOP_TIMEOUT: i64 = 120;
/// Fargate ephemeral storage in GiB (ECS: "the minimum supported value is 21 GiB and the
/// maximum supported value is 200 GiB").
const MIN_EPHEMERAL_STORAGE: i64 = 21;
const MAX_EPHEMERAL_STORAGE: i64 = 200;
/// Task CPU units a Windows task on Fargate needs at least (Fargate runs Windows
/// containers on 1 vCPU and up).
const MIN_FARGATE_WINDOWS_CPU: i64 = 1024;

/// The process settings of the container, resolved against `defaults`.
#[derive(Default)]
pub(super) struct Process {
    pub(super) command: Vec<String>,
    pub(super) entry_point: Vec<String>,
    pub(super) working_directory: Option<String>,
    pub(super) user: Option<String>,
    pub(super) stop_timeout: Option<i32>,
    pub(super) readonly_root_filesystem: bool,
    pub(super) ulimits: Vec<Ulimit>,
    pub(super) docker_labels: BTreeMap<String, String>,
    pub(super) init_process_enabled: bool,
}

/// The task-level platform settings.
pub(super) struct Platform {
    pub(super) runtime_platform: Option<RuntimePlatform>,
    pub(super) ephemeral_storage: Option<i32>,
}

impl Normaliser<'_> {
    /// The runtime platform and ephemeral storage of the task.
    pub(super) fn platform(&mut self, e: &Entry, net: &Network) -> Platform {
        let (s, d) = (e.raw, e.defaults);
        let runtime_platform = match (&s.runtime_platform, &d.runtime_platform) {
            (Some(p), _) => Some((p, e.at("runtime_platform"))),
            (None, Some(p)) => Some((p, "defaults.runtime_platform".to_string())),
            (None, None) => None,
        }
        .map(|(p, path)| {
            let arch = p.cpu_architecture.unwrap_or(RawCpuArchitecture::X86_64);
            let os = p.os_family.unwrap_or(RawOsFamily::Linux);
            let platform = RuntimePlatform {
                cpu_architecture: match arch {
                    RawCpuArchitecture::X86_64 => "X86_64",
                    RawCpuArchitecture::Arm64 => "ARM64",
                }
                .to_string(),
                os_family: os.as_aws().to_string(),
            };
            if platform.is_windows() {
                if net.fargate() && arch == RawCpuArchitecture::Arm64 {
                    self.err(
                        &join(&path, "cpu_architecture"),
                        "Fargate runs Windows containers on x86_64 only; use `cpu_architecture: x86_64`",
                    );
                }
                if net.mode != RawNetworkMode::Awsvpc {
                    self.err(
                        &join(&path, "os_family"),
                        format!(
                            "Windows tasks cannot use the `{}` network mode; set `network_mode: awsvpc`",
                            net.mode_name()
                        ),
                    );
                }
                let cpu = s.cpu.or(d.cpu);
                if net.fargate()
                    && let Some(c) = cpu.filter(|&c| c < MIN_FARGATE_WINDOWS_CPU)
                {
                    self.err(
                        &join(&path, "os_family"),
                        format!(
                            "Fargate runs Windows tasks with at least {MIN_FARGATE_WINDOWS_CPU} cpu units, found {c}"
                        ),
                    );
                }
            }
            platform
        });
        let ephemeral_storage = s.ephemeral_storage.and_then(|gib| {
            let path = e.at("ephemeral_storage");
            if !net.fargate() {
                self.err(
                    &path,
                    "`ephemeral_storage` is for Fargate tasks only; EC2 tasks use the container instance's disk",
                );
                return None;
            }
            self.in_range(gib, MIN_EPHEMERAL_STORAGE, MAX_EPHEMERAL_STORAGE, &path, "ephemeral storage (GiB)")
                .then_some(gib as i32)
        });
        Platform { runtime_platform, ephemeral_storage }
    }

    /// The container's process settings. `platform` is the task's, for the Linux-only
    /// settings a Windows task refuses.
    pub(super) fn process(&mut self, e: &Entry, net: &Network, platform: Option<&RuntimePlatform>) -> Process {
        let (s, d) = (e.raw, e.defaults);
        let windows = platform.is_some_and(RuntimePlatform::is_windows);
        // An empty list is a structural error (`minItems`): empty means the image's own.
        let mut p = Process {
            command: s.command.clone().unwrap_or_default(),
            entry_point: s.entrypoint.clone().unwrap_or_default(),
            ..Process::default()
        };

        if let Some(dir) = &s.working_directory {
            let path = e.at("working_directory");
            if dir.is_empty() {
                self.err(&path, "the working directory must not be empty");
            } else if !windows && !dir.starts_with('/') {
                self.err(&path, format!("the working directory must be an absolute path, found `{dir}`"));
            }
            p.working_directory = Some(dir.clone());
        }

        let linux_only = |n: &mut Self, path: &str, what: &str| {
            if windows {
                n.err(path, format!("{what} is not supported for Windows containers"));
            }
        };

        if let Some((user, path)) = pick(&s.user, &d.user, e, "user") {
            if user.trim().is_empty() {
                self.err(&path, "the user must not be empty");
            }
            linux_only(self, &path, "`user`");
            p.user = Some(user.clone());
        }

        if let Some((&secs, path)) = pick(&s.stop_timeout, &d.stop_timeout, e, "stop_timeout") {
            let ok = if net.fargate() {
                self.in_range(secs, 0, MAX_FARGATE_STOP_TIMEOUT, &path, "the stop timeout on Fargate (seconds)")
            } else {
                self.in_range(secs, 0, i64::from(i32::MAX), &path, "the stop timeout (seconds)")
            };
            p.stop_timeout = ok.then_some(secs as i32);
        }

        if let Some((&on, path)) =
            pick(&s.readonly_root_filesystem, &d.readonly_root_filesystem, e, "readonly_root_filesystem")
        {
            if on {
                linux_only(self, &path, "a read-only root file system");
            }
            p.readonly_root_filesystem = on;
        }

        if let Some((&on, path)) = pick(&s.init_process_enabled, &d.init_process_enabled, e, "init_process_enabled") {
            if on {
                linux_only(self, &path, "`init_process_enabled` (a Linux parameter)");
            }
            p.init_process_enabled = on;
        }

        p.ulimits = self.ulimits(e, windows);
        p.docker_labels = self.docker_labels(e);
        p
    }

    /// `defaults.ulimits` with the service's merged over them by name, sorted by name.
    fn ulimits(&mut self, e: &Entry, windows: bool) -> Vec<Ulimit> {
        let mut by_name: BTreeMap<RawUlimitName, Ulimit> = BTreeMap::new();
        for (list, path) in [(&e.defaults.ulimits, "defaults.ulimits".to_string()), (&e.raw.ulimits, e.at("ulimits"))] {
            let Some(list) = list else { continue };
            if windows && !list.is_empty() {
                self.err(&path, "ulimits are not supported for Windows containers");
            }
            let mut seen = Vec::new();
            for (i, u) in list.iter().enumerate() {
                let ipath = self.locs.item(&path, i);
                if seen.contains(&u.name) {
                    self.err(&join(&ipath, "name"), format!("ulimit `{}` is set twice", u.name.as_str()));
                    continue;
                }
                seen.push(u.name);
                let max = i64::from(i32::MAX);
                let soft_ok = self.in_range(u.soft, 0, max, &join(&ipath, "soft"), "a ulimit");
                let hard_ok = self.in_range(u.hard, 0, max, &join(&ipath, "hard"), "a ulimit");
                if soft_ok && hard_ok && u.soft > u.hard {
                    self.err(
                        &join(&ipath, "soft"),
                        format!(
                            "the soft limit of `{}` ({}) is above its hard limit ({})",
                            u.name.as_str(),
                            u.soft,
                            u.hard
                        ),
                    );
                }
                by_name.insert(
                    u.name,
                    Ulimit { name: u.name.as_str().to_string(), soft_limit: u.soft as i32, hard_limit: u.hard as i32 },
                );
            }
        }
        by_name.into_values().collect()
    }

    /// `defaults.docker_labels` with the service's merged over them.
    fn docker_labels(&mut self, e: &Entry) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::new();
        for (map, path) in [
            (&e.defaults.docker_labels, "defaults.docker_labels".to_string()),
            (&e.raw.docker_labels, e.at("docker_labels")),
        ] {
            for (k, v) in map.iter().flatten() {
                if k.trim().is_empty() {
                    self.err_key(&join(&path, k), "a Docker label name must not be empty");
                }
                labels.insert(k.clone(), v.0.clone());
            }
        }
        labels
    }
}

/// The service's value, else the default's, with the path of the one that was taken.
fn pick<'v, T>(own: &'v Option<T>, default: &'v Option<T>, e: &Entry, key: &str) -> Option<(&'v T, String)> {
    match (own, default) {
        (Some(v), _) => Some((v, e.at(key))),
        (None, Some(v)) => Some((v, join("defaults", key))),
        (None, None) => None,
    }
}
