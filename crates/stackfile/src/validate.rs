//! Field-level rules: parsers and checks for ports, volumes, ARNs, names, durations and
//! Fargate sizes. Each returns a message suitable for a [`Diagnostic`](crate::Diagnostic).

use std::time::Duration;

/// Lower bound of a container's hard memory limit: ECS rejects less than 6 MiB.
pub(crate) const MIN_CONTAINER_MEMORY: i64 = 6;
/// Upper bound of a container's hard memory limit, in MiB (1 TiB). Larger values are
/// almost always a unit mistake (bytes or KiB instead of MiB).
pub(crate) const MAX_CONTAINER_MEMORY: i64 = 1_048_576;
/// Upper bound of container CPU units (10 vCPU), as ECS documents it.
pub(crate) const MAX_CONTAINER_CPU: i64 = 10_240;
/// AWS limit on load balancer and target group names.
pub(crate) const MAX_ELB_NAME: usize = 32;

/// A parsed `ports:` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PortEntry {
    /// Host port, when written as `HOST:CONTAINER`.
    pub host: Option<u16>,
    /// Container port.
    pub container: u16,
    /// `tcp` or `udp`.
    pub protocol: &'static str,
}

/// Parses `"HOST:CONTAINER"`, `"CONTAINER"` or a number, with an optional `/tcp` or
/// `/udp` suffix. Any port from 1 to 65535 is accepted.
pub(crate) fn parse_port(text: &str) -> Result<PortEntry, String> {
    let text = text.trim();
    let (ports, protocol) = match text.split_once('/') {
        Some((p, "tcp")) => (p, "tcp"),
        Some((p, "udp")) => (p, "udp"),
        Some((_, other)) => {
            return Err(format!("unknown protocol `{other}` in port `{text}`; expected `/tcp` or `/udp`"));
        }
        None => (text, "tcp"),
    };
    let one = |p: &str| -> Result<u16, String> {
        match p.parse::<u64>() {
            Ok(0) => Err(format!("port 0 in `{text}` is not a valid port; use 1-65535")),
            Ok(n) if n > 65535 => Err(format!("port {n} in `{text}` is out of range; use 1-65535")),
            Ok(n) => Ok(n as u16),
            Err(_) => Err(format!(
                "malformed port `{text}`; expected `CONTAINER`, `HOST:CONTAINER`, optionally with `/tcp` or `/udp`"
            )),
        }
    };
    match ports.split(':').collect::<Vec<_>>().as_slice() {
        [c] => Ok(PortEntry { host: None, container: one(c)?, protocol }),
        [h, c] => Ok(PortEntry { host: Some(one(h)?), container: one(c)?, protocol }),
        _ => Err(format!(
            "malformed port `{text}`; expected `CONTAINER`, `HOST:CONTAINER`, optionally with `/tcp` or `/udp`"
        )),
    }
}

/// A parsed `volumes:` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VolumeEntry {
    pub name: String,
    pub host_path: String,
    pub container_path: String,
    pub read_only: bool,
}

/// Parses `"name:/host/path:/container/path"` with an optional `:ro` or `:rw`.
pub(crate) fn parse_volume(text: &str) -> Result<VolumeEntry, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let (name, host, container, read_only) = match parts.as_slice() {
        [n, h, c] => (*n, *h, *c, false),
        [n, h, c, "ro"] => (*n, *h, *c, true),
        [n, h, c, "rw"] => (*n, *h, *c, false),
        [_, _, _, mode] => {
            return Err(format!("unknown volume mode `{mode}` in `{text}`; expected `ro` or `rw`"));
        }
        _ => {
            return Err(format!("malformed volume `{text}`; expected `name:/host/path:/container/path[:ro]`"));
        }
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(format!("volume name `{name}` must be 1-255 letters, digits, hyphens or underscores"));
    }
    if !host.starts_with('/') || !container.starts_with('/') {
        return Err(format!("volume `{text}` needs absolute host and container paths"));
    }
    Ok(VolumeEntry {
        name: name.to_string(),
        host_path: host.to_string(),
        container_path: container.to_string(),
        read_only,
    })
}

/// The parts of an ARN (`arn:<partition>:<service>:<region>:<account>:<resource>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    /// `iam`, `acm`, `secretsmanager`, `ssm`, ...
    pub service: &'a str,
    /// Empty for global services (IAM).
    pub region: &'a str,
    /// The 12-digit account id; may be empty.
    pub account: &'a str,
    /// Everything after the account: `role/app`, `secret:db-AbCdEf`, ...
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// The parts of `text`, when it is an ARN.
    pub fn parse(text: &'a str) -> Option<Self> {
        parse_arn(text).ok()
    }
}

/// Parses `arn:<partition>:<service>:<region>:<account>:<resource>`.
pub(crate) fn parse_arn(text: &str) -> Result<Arn<'_>, String> {
    let bad = || format!("`{text}` is not an ARN; expected `arn:<partition>:<service>:<region>:<account>:<resource>`");
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts.as_slice() else {
        return Err(bad());
    };
    let lower = |s: &str| s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if *arn != "arn" || partition.is_empty() || !lower(partition) || service.is_empty() || !lower(service) {
        return Err(bad());
    }
    if !lower(region) || resource.is_empty() {
        return Err(bad());
    }
    if !(account.is_empty() || account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())) {
        return Err(format!("`{text}` has account `{account}`; an account id is 12 digits"));
    }
    Ok(Arn { service, region, account, resource })
}

/// An IAM role ARN (`task_role_arn`, `task_execution_role_arn`).
pub(crate) fn check_role_arn(text: &str) -> Result<(), String> {
    let arn = parse_arn(text)?;
    if arn.service != "iam" || !arn.resource.starts_with("role/") || arn.account.is_empty() {
        return Err(format!("`{text}` is not an IAM role ARN (`arn:aws:iam::<account>:role/<name>`)"));
    }
    Ok(())
}

/// A secret reference: a Secrets Manager secret or an SSM parameter ARN.
pub(crate) fn check_secret_arn(text: &str) -> Result<(), String> {
    let arn = parse_arn(text)?;
    let ok = match arn.service {
        "secretsmanager" => arn.resource.starts_with("secret:"),
        "ssm" => arn.resource.starts_with("parameter/"),
        _ => false,
    };
    if !ok || arn.region.is_empty() || arn.account.is_empty() {
        return Err(format!(
            "`{text}` is not a Secrets Manager secret (`arn:aws:secretsmanager:<region>:<account>:secret:<name>`) \
             or SSM parameter (`arn:aws:ssm:<region>:<account>:parameter/<name>`) ARN"
        ));
    }
    Ok(())
}

/// A listener certificate: an ACM certificate or an IAM server certificate ARN.
pub(crate) fn check_certificate_arn(text: &str) -> Result<(), String> {
    let arn = parse_arn(text)?;
    let ok = match arn.service {
        "acm" => arn.resource.starts_with("certificate/") && !arn.region.is_empty(),
        "iam" => arn.resource.starts_with("server-certificate/"),
        _ => false,
    };
    if !ok || arn.account.is_empty() {
        return Err(format!(
            "`{text}` is not an ACM certificate ARN (`arn:aws:acm:<region>:<account>:certificate/<id>`)"
        ));
    }
    Ok(())
}

/// ECS cluster and service names: 1-255 letters, digits, hyphens and underscores.
pub(crate) fn check_ecs_name(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok { Ok(()) } else { Err(format!("{what} `{name}` must be 1-255 letters, digits, hyphens or underscores")) }
}

/// A port mapping's name and a Service Connect discovery name (ECS: up to 64
/// lowercase letters, digits, underscores and hyphens, not starting with a hyphen).
pub(crate) fn check_connect_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!("{what} has 1 to 64 characters; `{name}` has {}", name.chars().count()));
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-') {
        return Err(format!("{what} `{name}` may contain only lowercase letters, digits, `_` and `-`"));
    }
    if name.starts_with('-') {
        return Err(format!("{what} `{name}` must not start with `-`"));
    }
    Ok(())
}

/// A Service Connect client alias's DNS name (ECS: up to 127 lowercase letters, digits,
/// underscores, hyphens and periods, not starting with a hyphen), with no empty label.
pub(crate) fn check_alias_dns_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 127 {
        return Err(format!(
            "a client alias's DNS name has 1 to 127 characters; `{name}` has {}",
            name.chars().count()
        ));
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.".contains(c)) {
        return Err(format!("`{name}` may contain only lowercase letters, digits, `_`, `-` and `.`"));
    }
    if name.starts_with('-') || name.split('.').any(str::is_empty) {
        return Err(format!("`{name}` is not a valid DNS name (a leading `-` or an empty label)"));
    }
    Ok(())
}

/// Load balancer and target group names: at most 32 letters, digits and hyphens, not
/// starting or ending with a hyphen, not starting with `internal-`.
pub(crate) fn check_elb_name(name: &str) -> Result<(), String> {
    if name.len() > MAX_ELB_NAME {
        return Err(format!("`{name}` is {} characters; AWS allows at most {MAX_ELB_NAME}", name.len()));
    }
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!("`{name}` may contain only letters, digits and hyphens"));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(format!("`{name}` must not start or end with a hyphen"));
    }
    if name.starts_with("internal-") {
        return Err(format!("`{name}` must not start with `internal-`"));
    }
    Ok(())
}

/// Environment and secret variable names.
pub(crate) fn check_env_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-') {
        Ok(())
    } else {
        Err(format!("`{name}` is not a valid variable name (a letter or `_`, then letters, digits, `_`, `.` or `-`)"))
    }
}

/// A humantime duration such as `90s` or `10m`; must be positive.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d.is_zero() => Err(format!("duration `{text}` must be longer than zero")),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("`{text}` is not a duration ({e}); write e.g. `90s`, `10m` or `1h 30m`")),
    }
}

/// The Fargate CPU sizes and, for each, the memory sizes (MiB) AWS accepts.
const FARGATE_SIZES: &[(i64, i64, i64, i64)] = &[
    // (cpu, min memory, max memory, step)
    (256, 512, 2048, 0),
    (512, 1024, 4096, 1024),
    (1024, 2048, 8192, 1024),
    (2048, 4096, 16384, 1024),
    (4096, 8192, 30720, 1024),
    (8192, 16384, 61440, 4096),
    (16384, 32768, 122880, 8192),
];

/// Whether AWS accepts this Fargate task size. `Err` carries which of the two is wrong:
/// `(true, msg)` for the cpu, `(false, msg)` for the memory.
pub(crate) fn check_fargate_size(cpu: i64, memory: i64) -> Result<(), (bool, String)> {
    let Some(&(_, lo, hi, step)) = FARGATE_SIZES.iter().find(|s| s.0 == cpu) else {
        let all = FARGATE_SIZES.iter().map(|s| s.0.to_string()).collect::<Vec<_>>().join(", ");
        return Err((true, format!("Fargate cpu must be one of {all}, found {cpu}")));
    };
    let ok = if step == 0 {
        [512, 1024, 2048].contains(&memory)
    } else {
        (lo..=hi).contains(&memory) && (memory - lo) % step == 0
    };
    if ok {
        return Ok(());
    }
    let allowed = if step == 0 { "512, 1024 or 2048".to_string() } else { format!("{lo} to {hi} in steps of {step}") };
    Err((false, format!("Fargate with cpu {cpu} takes memory {allowed} MiB, found {memory}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_accept_any_valid_number_and_udp() {
        assert_eq!(parse_port("80"), Ok(PortEntry { host: None, container: 80, protocol: "tcp" }));
        assert_eq!(parse_port("8080:80"), Ok(PortEntry { host: Some(8080), container: 80, protocol: "tcp" }));
        // nysa only matched four digits; five-digit ports and udp work here.
        assert_eq!(parse_port("53/udp"), Ok(PortEntry { host: None, container: 53, protocol: "udp" }));
        assert_eq!(
            parse_port("30000:65535/tcp"),
            Ok(PortEntry { host: Some(30000), container: 65535, protocol: "tcp" })
        );
        assert!(parse_port("0").unwrap_err().contains("port 0"));
        assert!(parse_port("65536").unwrap_err().contains("out of range"));
        assert!(parse_port("80/sctp").unwrap_err().contains("unknown protocol `sctp`"));
        assert!(parse_port("a:b").unwrap_err().starts_with("malformed port"));
        assert!(parse_port("1:2:3").unwrap_err().starts_with("malformed port"));
    }

    #[test]
    fn volumes() {
        assert_eq!(
            parse_volume("data:/srv/data:/data:ro").unwrap(),
            VolumeEntry {
                name: "data".into(),
                host_path: "/srv/data".into(),
                container_path: "/data".into(),
                read_only: true
            }
        );
        assert!(!parse_volume("data:/a:/b").unwrap().read_only);
        assert!(parse_volume("data:/a").is_err());
        assert!(parse_volume("data:/a:/b:rx").unwrap_err().contains("`rx`"));
        assert!(parse_volume("data:rel:/b").unwrap_err().contains("absolute"));
    }

    #[test]
    fn arns() {
        assert!(check_role_arn("arn:aws:iam::123456789012:role/app").is_ok());
        assert!(check_role_arn("arn:aws:s3:::bucket").is_err());
        assert!(check_role_arn("role/app").unwrap_err().contains("is not an ARN"));
        assert!(check_secret_arn("arn:aws:ssm:eu-west-1:123456789012:parameter/app/db").is_ok());
        assert!(check_secret_arn("arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf").is_ok());
        assert!(check_secret_arn("arn:aws:s3:eu-west-1:123456789012:parameter/x").is_err());
        assert!(check_certificate_arn("arn:aws:acm:eu-west-1:123456789012:certificate/abc").is_ok());
        assert!(check_certificate_arn("arn:aws:iam::123456789012:server-certificate/legacy").is_ok());
        assert!(check_certificate_arn("arn:aws:acm:eu-west-1:1234:certificate/abc").unwrap_err().contains("12 digits"));
    }

    #[test]
    fn fargate_pairs_follow_the_aws_table() {
        for (cpu, mem) in
            [(256, 512), (256, 2048), (512, 4096), (1024, 2048), (4096, 30720), (8192, 20480), (16384, 122880)]
        {
            assert_eq!(check_fargate_size(cpu, mem), Ok(()), "{cpu}/{mem}");
        }
        for (cpu, mem) in [(256, 1536), (256, 3072), (512, 512), (2048, 17408), (8192, 18432), (16384, 36864)] {
            let (is_cpu, msg) = check_fargate_size(cpu, mem).unwrap_err();
            assert!(!is_cpu, "{msg}");
            assert!(msg.contains(&format!("found {mem}")), "{msg}");
        }
        let (is_cpu, msg) = check_fargate_size(300, 512).unwrap_err();
        assert!(is_cpu);
        assert!(msg.contains("256, 512, 1024, 2048, 4096, 8192, 16384"), "{msg}");
    }

    #[test]
    fn names() {
        assert!(check_ecs_name("service", "api_v2-x").is_ok());
        assert!(check_ecs_name("service", "a.b").is_err());
        assert!(check_ecs_name("service", "").is_err());
        assert!(check_elb_name("prod-web-lb").is_ok());
        assert!(check_elb_name("prod_web-lb").unwrap_err().contains("only letters"));
        assert!(check_elb_name(&"a".repeat(33)).unwrap_err().contains("33 characters"));
        assert!(check_elb_name("internal-x").is_err());
        assert!(check_env_name("DB_URL").is_ok());
        assert!(check_env_name("1X").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
