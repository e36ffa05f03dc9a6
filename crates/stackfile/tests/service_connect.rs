//! ECS Service Connect (`service_connect`) and the named ports it refers to: what they
//! normalise to (the namespace and discovery-name defaults, the port mappings' names),
//! that stacks without them keep their JSON, and the combinations ECS refuses, each
//! with its place.

use bosun_stackfile::{ClientAlias, ConnectService, PortMapping, ServiceConnectSpec, load};

fn errors(source: &str) -> String {
    match load(source, "staging") {
        Ok(_) => panic!("stackfile should not load"),
        Err(d) => d.to_string(),
    }
}

const HEAD: &str =
    "vpc:\n  id: vpc-0a1b2c3d\n  subnets: {private: [subnet-0000001a]}\nservice_discovery: {namespace: staging.sd}\n";

#[test]
fn service_connect_normalises_with_its_defaults() {
    let text = format!(
        r#"{HEAD}services:
  - api:
      image: nginx
      network_mode: awsvpc
      ports:
        - {{port: 8080, name: http, app_protocol: http}}
        - 9090
      containers:
        - name: metrics
          image: prom/statsd-exporter
          memory: 64
          ports: [{{port: 9102, name: metrics}}]
      service_connect:
        services:
          - port_name: http
            client_aliases: [{{port: 80, dns_name: api.internal}}]
          - {{port_name: metrics, discovery_name: api-metrics}}
  - web:
      image: nginx
      network_mode: bridge
      service_connect: {{}}
  - other:
      image: nginx
      network_mode: awsvpc
      service_connect: {{namespace: "arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-abc"}}
"#
    );
    let d = load(&text, "staging").unwrap();
    let api = &d.services["api"];
    assert_eq!(
        api.service_connect,
        Some(ServiceConnectSpec {
            namespace: "staging.sd".into(),
            services: vec![
                ConnectService {
                    port_name: "http".into(),
                    discovery_name: "http".into(),
                    client_aliases: vec![ClientAlias { port: 80, dns_name: "api.internal".into() }],
                },
                ConnectService {
                    port_name: "metrics".into(),
                    discovery_name: "api-metrics".into(),
                    client_aliases: vec![],
                },
            ],
        })
    );
    assert_eq!(
        api.task_definition.container.port_mappings,
        [
            PortMapping {
                container_port: 8080,
                host_port: Some(8080),
                protocol: "tcp".into(),
                name: Some("http".into()),
                app_protocol: Some("http".into()),
            },
            PortMapping {
                container_port: 9090,
                host_port: Some(9090),
                protocol: "tcp".into(),
                name: None,
                app_protocol: None
            },
        ]
    );
    assert_eq!(api.task_definition.sidecars[0].port_mappings[0].name.as_deref(), Some("metrics"));
    let web = d.services["web"].service_connect.as_ref().unwrap();
    assert_eq!((web.namespace.as_str(), web.services.len()), ("staging.sd", 0), "client only, default namespace");
    let other = d.services["other"].service_connect.as_ref().unwrap();
    assert!(other.namespace.ends_with("namespace/ns-abc"), "{other:?}");
}

#[test]
fn unnamed_ports_and_no_service_connect_leave_the_json_as_it_was() {
    let d = load("services:\n  - web:\n      image: nginx\n      ports: [80, \"8125/udp\"]\n", "staging").unwrap();
    let svc = serde_json::to_string(&d.services["web"]).unwrap();
    assert!(!svc.contains("service_connect"), "{svc}");
    let ports = serde_json::to_string(&d.services["web"].task_definition.container.port_mappings).unwrap();
    assert_eq!(
        ports,
        r#"[{"container_port":80,"host_port":80,"protocol":"tcp"},{"container_port":8125,"host_port":8125,"protocol":"udp"}]"#
    );
}

#[test]
fn combinations_ecs_refuses_are_reported_with_their_place() {
    let text = format!(
        r#"{HEAD}services:
  - both:
      image: nginx
      ports: [{{port: 80, name: web}}]
      dns_discovery: {{}}
      service_connect:
        services: [{{port_name: web}}]
  - job:
      type: task
      image: nginx
      service_connect: {{}}
  - hosted:
      image: nginx
      network_mode: host
      service_connect: {{}}
  - typo:
      image: nginx
      network_mode: awsvpc
      ports:
        - {{port: 8080, name: http}}
        - {{port: 9090, name: grpc-api, app_protocol: grpc}}
        - {{port: "8125/udp", name: statsd, app_protocol: http}}
        - {{port: 7070, name: Bad-Name}}
        - {{port: 7071, name: http}}
      service_connect:
        services:
          - port_name: htp
          - port_name: statsd
          - port_name: http
            client_aliases: [{{port: 0, dns_name: -api}}]
          - port_name: grpc-api
            discovery_name: http
            client_aliases: [{{port: 80, dns_name: api.internal}}]
          - port_name: http
            discovery_name: http2
            client_aliases: [{{port: 81, dns_name: api.internal}}]
  - sidecar_clash:
      image: nginx
      network_mode: awsvpc
      ports: [{{port: 80, name: web}}]
      containers:
        - name: agent
          image: busybox
          memory: 64
          ports: [{{port: 81, name: web}}]
"#
    );
    insta::assert_snapshot!("service_connect_combinations", errors(&text));
}

#[test]
fn a_stackfile_without_a_namespace_must_name_one() {
    let text = "vpc:\n  id: vpc-0a1b2c3d\n  subnets: {private: [subnet-0000001a]}\nservices:\n  - web:\n      image: nginx\n      network_mode: awsvpc\n      service_connect: {}\n";
    assert_eq!(
        errors(text),
        "8:7: services[0].web.service_connect: `service_connect` needs a namespace: set `service_connect.namespace`, or `service_discovery.namespace` for the stackfile"
    );
    let named = text.replace("service_connect: {}", "service_connect: {namespace: shared.sd}");
    assert_eq!(
        load(&named, "staging").unwrap().services["web"].service_connect.as_ref().unwrap().namespace,
        "shared.sd"
    );
}

#[test]
fn malformed_entries_are_structural_errors() {
    let ports: String = (0..101).map(|i| format!("{}, ", 1000 + i)).collect();
    let text = format!(
        "services:\n  - web:\n      image: nginx\n      ports: [{}]\n  - api:\n      image: nginx\n      ports: [{{port: 80, name: http, protocol: tcp}}, {{port: 81, name: web, app_protocol: websocket}}]\n      service_connect:\n        services: [{{port_name: http, client_aliases: [{{port: 80, dns_name: a}}, {{port: 81, dns_name: b}}]}}]\n",
        ports.trim_end_matches(", ")
    );
    insta::assert_snapshot!("service_connect_structural", errors(&text));
}

#[test]
fn cloud_map_names_and_aliases_are_unique_in_a_namespace_across_services() {
    let text = format!(
        r#"{HEAD}services:
  - users:
      image: nginx
      dns_discovery: {{name: api}}
  - api:
      image: nginx
      network_mode: awsvpc
      ports: [{{port: 80, name: api}}]
      service_connect:
        services: [{{port_name: api, client_aliases: [{{port: 80, dns_name: api.internal}}]}}]
  - api2:
      image: nginx
      network_mode: awsvpc
      ports: [{{port: 80, name: http}}]
      service_connect:
        services: [{{port_name: http, discovery_name: api2, client_aliases: [{{port: 80, dns_name: api.internal}}]}}]
  - elsewhere:
      image: nginx
      network_mode: awsvpc
      ports: [{{port: 80, name: api}}]
      service_connect:
        namespace: other.sd
        services: [{{port_name: api, client_aliases: [{{port: 80, dns_name: api.internal}}]}}]
"#
    );
    assert_eq!(
        errors(&text),
        [
            "14:32: services[1].api.service_connect.services[0].port_name: Cloud Map service `api` is already used in namespace `staging.sd` by service `users`; it is unique in the namespace",
            "20:77: services[2].api2.service_connect.services[0].client_aliases[0]: client alias `api.internal:80` is already used in namespace `staging.sd` by service `api`; it is unique in the namespace",
        ]
        .join("\n")
    );
}
