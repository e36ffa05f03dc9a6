//! ECS Service Connect (issue 15): a pair of services applied from nothing and read back
//! through the SDK (the PRIMARY deployment's configuration, the task definition's named
//! ports), converged with no call, an alias changed with one UpdateService and no new
//! revision, removal turning it off, and `bosun validate` refusing what ECS refuses.

use aws_sdk_ecs::types as ecs;
use bosun_tests::{Env, Stackfile, assert_invalid};

/// `api` offers its named port through Service Connect; `web` only connects to it.
const PAIR: &str = r#"
vpc:
  id: ${VPC_ID}
  subnets:
    private: [${PRIVATE_SUBNET_A}, ${PRIVATE_SUBNET_B}]
  security_groups:
    private: [${PRIVATE_SG}]
service_discovery:
  namespace: connect.sd
services:
  - api:
      image: public.ecr.aws/nginx/nginx:1.27
      memory: 128
      network_mode: awsvpc
      ports: [{port: 8080, name: http, app_protocol: http}]
      service_connect:
        services:
          - port_name: http
            discovery_name: api
            client_aliases: [{port: 80, dns_name: api.internal}]
  - web:
      image: public.ecr.aws/nginx/nginx:1.27
      memory: 128
      network_mode: awsvpc
      service_connect: {}
"#;

fn pair() -> Stackfile {
    Stackfile::from_text("service_connect.yml", PAIR)
}

/// The Service Connect configuration of a service's PRIMARY deployment, where ECS
/// reports it.
async fn connect(env: &Env, service: &str) -> Option<ecs::ServiceConnectConfiguration> {
    let s = env.service(service).await;
    let primary = s.deployments().iter().find(|d| d.status() == Some("PRIMARY")).expect("a PRIMARY deployment");
    primary.service_connect_configuration().cloned()
}

/// `(port name, discovery name, [(alias, port)])` of an offered port.
type Offered = (String, String, Vec<(String, i32)>);

/// Each offered port of a configuration.
fn offered(sc: &ecs::ServiceConnectConfiguration) -> Vec<Offered> {
    sc.services()
        .iter()
        .map(|s| {
            (
                s.port_name().to_owned(),
                s.discovery_name().unwrap_or_default().to_owned(),
                s.client_aliases().iter().map(|a| (a.dns_name().unwrap_or_default().to_owned(), a.port())).collect(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_pair_is_applied_read_back_and_converges() {
    let env = Env::start().await;
    let plan = env.plan(&pair(), &[]).await;
    assert!(
        plan.stdout.contains("    service_connect: namespace connect.sd: http -> api (api.internal:80)\n"),
        "{plan}"
    );
    assert!(plan.stdout.contains("    service_connect: namespace connect.sd (client only)\n"), "{plan}");
    env.converge(&pair()).await;

    let api = connect(&env, "api").await.expect("api runs Service Connect");
    assert!(api.enabled());
    assert_eq!(api.namespace(), Some("connect.sd"));
    assert_eq!(offered(&api), [("http".into(), "api".into(), vec![("api.internal".into(), 80)])]);
    let web = connect(&env, "web").await.expect("web runs Service Connect");
    assert!(web.enabled() && web.services().is_empty(), "{web:?}");
    assert_eq!(web.namespace(), Some("connect.sd"));

    let td = env.task_definition(env.service("api").await.task_definition().expect("a task definition")).await;
    let ports = td.container_definitions()[0].port_mappings();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].name(), Some("http"));
    assert_eq!(ports[0].app_protocol(), Some(&ecs::ApplicationProtocol::Http));
    assert_eq!(ports[0].container_port(), Some(8080));

    // Read back, the live services equal the specs: nothing to plan, no call.
    env.assert_converged(&pair()).await;
}

#[tokio::test]
async fn an_alias_change_is_one_update_and_removal_turns_it_off() {
    let env = Env::start().await;
    env.converge(&pair()).await;
    let before = env.running_revision("api").await;

    let moved = pair().replace("{port: 80, dns_name: api.internal}", "{port: 8080, dns_name: api.internal}");
    let plan = env.plan(&moved, &[]).await;
    plan.expect_code(2).expect_lines(&["~ service api"]);
    assert!(
        plan.stdout.contains(
            "    service_connect: namespace connect.sd: http -> api (api.internal:80) -> namespace connect.sd: http -> api (api.internal:8080)\n"
        ),
        "{plan}"
    );
    let apply = env.converge(&moved).await;
    let stats = apply.stats();
    assert_eq!(stats.calls("UpdateService"), 1, "{apply}");
    assert_eq!(stats.calls("RegisterTaskDefinition"), 0, "{apply}");
    assert_eq!(env.running_revision("api").await, before, "no new revision");
    let api = connect(&env, "api").await.expect("still on");
    assert_eq!(offered(&api), [("http".into(), "api".into(), vec![("api.internal".into(), 8080)])]);
    env.assert_converged(&moved).await;

    // Removed from the stackfile: one UpdateService with `enabled: false`.
    let without = moved.replace("      service_connect: {}\n", "");
    let apply = env.converge(&without).await;
    assert_eq!(apply.stats().calls("UpdateService"), 1, "{apply}");
    assert!(connect(&env, "web").await.is_none_or(|c| !c.enabled()), "turned off");
    env.assert_converged(&without).await;
}

#[tokio::test]
async fn drift_is_shown_and_healed() {
    let env = Env::start().await;
    env.converge(&pair()).await;
    env.ecs
        .update_service()
        .cluster("demo")
        .service("web")
        .service_connect_configuration(ecs::ServiceConnectConfiguration::builder().enabled(false).build())
        .send()
        .await
        .expect("UpdateService out of band");
    let plan = env.plan(&pair(), &[]).await;
    plan.expect_code(2).expect_lines(&["~ service web"]);
    assert!(plan.stdout.contains("    service_connect: (none) -> namespace connect.sd (client only)\n"), "{plan}");
    let apply = env.converge(&pair()).await;
    assert_eq!(apply.stats().calls("UpdateService"), 1, "{apply}");
    assert!(connect(&env, "web").await.is_some_and(|c| c.enabled()));
    env.assert_converged(&pair()).await;
}

#[test]
fn validate_refuses_what_ecs_refuses_with_file_line_and_column() {
    let text = r#"vpc:
  id: vpc-0a1b2c3d
  subnets: {private: [subnet-0000001a]}
service_discovery: {namespace: connect.sd}
services:
  - both:
      image: nginx
      ports: [{port: 80, name: http}]
      dns_discovery: {}
      service_connect:
        services: [{port_name: http}]
  - typo:
      image: nginx
      network_mode: awsvpc
      ports: [{port: 80, name: http}]
      service_connect:
        services: [{port_name: htp}]
  - hosted:
      image: nginx
      network_mode: host
      service_connect: {}
"#;
    assert_invalid(
        text,
        &[
            "bad.yml:10:7: services[0].both.service_connect: `service_connect` and `dns_discovery` exclude each other",
            "bad.yml:17:32: services[1].typo.service_connect.services[0].port_name: no port of the task is named `htp`; the named ports are `http`; did you mean `http`?",
            "bad.yml:21:7: services[2].hosted.service_connect: Service Connect needs `network_mode: awsvpc` or `bridge`",
        ],
    );
}
