//! Properties of `load` over generated stackfiles: valid ones load with the environment
//! values as written (and those values survive a round trip through a YAML serialiser),
//! and one unknown key injected into any mapping yields exactly one located diagnostic.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use bosun_stackfile::load;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum EnvValue {
    /// A plain scalar, written as is.
    Plain(String),
    /// Any string, written double-quoted.
    Quoted(String),
    /// Nothing after the colon.
    Empty,
}

impl EnvValue {
    fn yaml(&self) -> String {
        match self {
            EnvValue::Plain(s) => s.clone(),
            EnvValue::Quoted(s) => serde_json::to_string(s).unwrap(),
            EnvValue::Empty => String::new(),
        }
    }

    /// What `load` must make of it: the scalar's text; null reads as "".
    fn expected(&self) -> String {
        match self {
            EnvValue::Plain(s) if matches!(s.as_str(), "null" | "Null" | "NULL" | "~") => String::new(),
            EnvValue::Plain(s) | EnvValue::Quoted(s) => s.clone(),
            EnvValue::Empty => String::new(),
        }
    }
}

#[derive(Debug, Clone)]
struct Service {
    image: String,
    count: u8,
    /// (container port, style 0..3, udp)
    ports: Vec<(u16, u8, bool)>,
    env: BTreeMap<String, EnvValue>,
    env_as_list: bool,
    elb: Option<u16>,
    discovery: bool,
}

fn env_value() -> impl Strategy<Value = EnvValue> {
    prop_oneof![
        prop::sample::select(vec![
            "true", "false", "yes", "no", "on", "010", "1.0", "1e3", "0x1F", "-5", ".inf", "null", "~", "1_000"
        ])
        .prop_map(|s| EnvValue::Plain(s.to_string())),
        "[a-zA-Z0-9][a-zA-Z0-9._/-]{0,12}".prop_map(EnvValue::Plain),
        "[ -~äöü€]{0,16}".prop_map(EnvValue::Quoted),
        Just(EnvValue::Empty),
    ]
}

fn service() -> impl Strategy<Value = Service> {
    (
        "[a-z]{1,8}(/[a-z]{1,8})?:[0-9]\\.[0-9]{1,2}",
        0u8..10,
        prop::collection::btree_set(1u16..=65535, 0..4),
        prop::collection::vec((0u8..3, any::<bool>()), 4),
        prop::collection::btree_map("[A-Z_][A-Z0-9_]{0,8}", env_value(), 0..6),
        any::<bool>(),
        prop::option::of(1u16..=65535),
        any::<bool>(),
    )
        .prop_map(|(image, count, ports, styles, env, env_as_list, elb, discovery)| {
            let ports: Vec<(u16, u8, bool)> =
                ports.into_iter().zip(styles).map(|(p, (style, udp))| (p, style, udp)).collect();
            // An ALB forwards to a TCP container port the service exposes.
            let elb = elb.filter(|_| ports.first().is_some_and(|p| !p.2));
            Service { image, count, ports, env, env_as_list, elb, discovery }
        })
}

fn services() -> impl Strategy<Value = BTreeMap<String, Service>> {
    prop::collection::btree_map("[a-z][a-z0-9]{0,7}", service(), 1..4)
}

/// A rendered stackfile and where an unknown key may go: (line index to insert at,
/// indentation) for every mapping whose keys are fixed.
struct Rendered {
    lines: Vec<String>,
    slots: Vec<(usize, usize)>,
}

fn render(services: &BTreeMap<String, Service>) -> Rendered {
    let mut lines: Vec<String> = Vec::new();
    let mut slots = vec![(0, 0)];
    let mut open = |lines: &mut Vec<String>, line: String, indent: usize| {
        lines.push(line);
        slots.push((lines.len(), indent));
    };
    open(&mut lines, "vpc:".into(), 2);
    lines.push("  id: vpc-0123abcd".into());
    open(&mut lines, "  subnets:".into(), 4);
    lines.push("    public: [subnet-a, subnet-b]".into());
    lines.push("    private: [subnet-c, subnet-d]".into());
    open(&mut lines, "service_discovery:".into(), 2);
    lines.push("  namespace: test.sd".into());
    lines.push("services:".into());
    for (name, s) in services {
        open(&mut lines, format!("  - {name}:"), 6);
        lines.push(format!("      image: {}", s.image));
        lines.push(format!("      desired_count: {}", s.count));
        if !s.ports.is_empty() {
            lines.push("      ports:".into());
            for (port, style, udp) in &s.ports {
                let suffix = if *udp { "/udp" } else { "" };
                lines.push(match (style, udp) {
                    (0, false) => format!("        - {port}"),
                    (1, _) => format!("        - \"{port}:{port}{suffix}\""),
                    _ => format!("        - \"{port}{suffix}\""),
                });
            }
        }
        if !s.env.is_empty() {
            lines.push("      environment:".into());
            for (k, v) in &s.env {
                let sep = if v.yaml().is_empty() { "" } else { " " };
                if s.env_as_list {
                    lines.push(format!("        - {k}:{sep}{}", v.yaml()));
                } else {
                    lines.push(format!("        {k}:{sep}{}", v.yaml()));
                }
            }
        }
        if let Some(public) = s.elb {
            open(&mut lines, "      elb:".into(), 8);
            lines.push("        type: public".into());
            open(&mut lines, "        ports:".into(), 10);
            lines.push(format!("          public: {public}"));
            lines.push(format!("          container: {}", s.ports[0].0));
        }
        if s.discovery {
            open(&mut lines, "      dns_discovery:".into(), 8);
            lines.push("        ttl: 30".into());
        }
    }
    Rendered { lines, slots }
}

fn text(lines: &[String]) -> String {
    lines.iter().fold(String::new(), |mut out, l| {
        writeln!(out, "{l}").unwrap();
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn valid_stackfiles_load_with_env_values_as_written(services in services()) {
        let source = text(&render(&services).lines);
        let desired = match load(&source, "c") {
            Ok(d) => d,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n---\n{source}"))),
        };
        prop_assert_eq!(desired.services.len(), services.len());
        for (name, s) in &services {
            let spec = &desired.services[name];
            let container = &spec.task_definition.container;
            let expected: BTreeMap<String, String> =
                s.env.iter().map(|(k, v)| (k.clone(), v.expected())).collect();
            prop_assert_eq!(&container.environment, &expected);
            prop_assert_eq!(spec.desired_count, Some(i32::from(s.count)));
            prop_assert_eq!(container.port_mappings.len(), s.ports.len());
            let ports: BTreeSet<u16> = container.port_mappings.iter().map(|m| m.container_port).collect();
            prop_assert_eq!(ports, s.ports.iter().map(|p| p.0).collect::<BTreeSet<_>>());
            prop_assert_eq!(spec.load_balancers_owned(&desired), s.elb.is_some());
            prop_assert_eq!(spec.discovery.is_some(), s.discovery);

            // Re-serialise the parsed values and load them again: nothing changes.
            let yaml = yaml_serde::to_string(&container.environment).unwrap();
            let mut again = String::from("version: 1\nservices:\n  x:\n    image: i\n    environment:\n");
            for line in yaml.lines() {
                writeln!(again, "      {line}").unwrap();
            }
            let reloaded = match load(&again, "c") {
                Ok(d) => d,
                Err(e) => return Err(TestCaseError::fail(format!("{e}\n---\n{again}"))),
            };
            prop_assert_eq!(&reloaded.services["x"].task_definition.container.environment, &container.environment);
        }
    }

    #[test]
    fn one_unknown_key_anywhere_is_one_located_diagnostic(services in services(), pick in any::<prop::sample::Index>()) {
        let Rendered { mut lines, slots } = render(&services);
        let (at, indent) = slots[pick.index(slots.len())];
        lines.insert(at, format!("{}zz_injected: 1", " ".repeat(indent)));
        let source = text(&lines);
        let diags = match load(&source, "c") {
            Ok(_) => return Err(TestCaseError::fail(format!("loaded despite an unknown key\n---\n{source}"))),
            Err(d) => d,
        };
        prop_assert_eq!(diags.len(), 1, "{}\n---\n{}", diags, source);
        let d = &diags.0[0];
        prop_assert!(d.message.starts_with("unknown key `zz_injected`"), "{}", d);
        prop_assert_eq!((d.line, d.column), (at + 1, indent + 1), "{}\n---\n{}", d, source);
    }
}

/// Whether the service owns a load balancer in the desired state.
trait OwnsLb {
    fn load_balancers_owned(&self, desired: &bosun_stackfile::Desired) -> bool;
}

impl OwnsLb for bosun_stackfile::ServiceSpec {
    fn load_balancers_owned(&self, desired: &bosun_stackfile::Desired) -> bool {
        desired.load_balancers.values().any(|lb| lb.service.as_deref() == Some(self.name.as_str()))
    }
}
