//! ECS Service Connect in the planner: shown on a create, an alias change planned as one
//! UpdateService of `service_connect` with its diff and no new revision, removal planned
//! as one, and the named ports in the task definition's diff.

mod common;

use common::{converge, desired};

use bosun_plan::simulate::simulate;
use bosun_plan::{Action, Kind, Observed, Policy, ServiceField, Step, plan, render_text};

const CONNECT: &str = r#"
vpc:
  id: vpc-0a1b2c3d
  subnets: {private: [subnet-0000001a]}
service_discovery: {namespace: staging.sd}
services:
  - api:
      image: public.ecr.aws/x/api:1
      network_mode: awsvpc
      ports: [{port: 8080, name: http, app_protocol: http}]
      service_connect:
        services:
          - port_name: http
            discovery_name: api
            client_aliases: [{port: 80, dns_name: api.internal}]
  - web:
      image: public.ecr.aws/x/web:1
      network_mode: awsvpc
      service_connect: {}
"#;

/// The one service change of a plan, and the fields its UpdateService sends.
fn one_update(p: &bosun_plan::Plan) -> Vec<ServiceField> {
    let text = render_text(p);
    let [c] = p.changes.as_slice() else { panic!("one change expected:\n{text}") };
    assert_eq!((c.resource.kind, c.action), (Kind::Service, Action::Update), "{text}");
    let Step::UpdateService { fields, .. } = &c.step else { panic!("{:?}", c.step) };
    fields.clone()
}

#[test]
fn a_create_shows_service_connect_and_converges() {
    let d = desired(CONNECT);
    let p = plan(&d, &Observed::default(), &Policy::from_desired(&d));
    let text = render_text(&p);
    assert!(text.contains("    service_connect: namespace staging.sd: http -> api (api.internal:80)\n"), "{text}");
    assert!(text.contains("    service_connect: namespace staging.sd (client only)\n"), "{text}");
    let live = converge(&d, &Observed::default());
    assert!(live.services["api"].settings.service_connect.is_some());
    let again = plan(&d, &live, &Policy::from_desired(&d));
    assert!(again.is_empty(), "{}", render_text(&again));
}

#[test]
fn an_alias_change_is_one_update_service_without_a_new_revision() {
    let d = desired(CONNECT);
    let live = converge(&d, &Observed::default());
    let moved = desired(&CONNECT.replace("{port: 80, dns_name: api.internal}", "{port: 8080, dns_name: api.internal}"));
    let p = plan(&moved, &live, &Policy::from_desired(&moved));
    assert_eq!(one_update(&p), [ServiceField::ServiceConnect]);
    let text = render_text(&p);
    assert!(
        text.contains(
            "    service_connect: namespace staging.sd: http -> api (api.internal:80) -> namespace staging.sd: http -> api (api.internal:8080)\n"
        ),
        "{text}"
    );
    let healed = simulate(&moved, &live, &p);
    assert!(plan(&moved, &healed, &Policy::from_desired(&moved)).is_empty());
}

#[test]
fn removal_and_drift_are_planned_back() {
    let d = desired(CONNECT);
    let live = converge(&d, &Observed::default());

    // Turned off outside bosun: planned back on.
    let mut drifted = live.clone();
    drifted.services.get_mut("web").unwrap().settings.service_connect = None;
    let p = plan(&d, &drifted, &Policy::from_desired(&d));
    assert_eq!(one_update(&p), [ServiceField::ServiceConnect]);
    assert!(render_text(&p).contains("    service_connect: (none) -> namespace staging.sd (client only)\n"));

    // Removed from the stackfile: one UpdateService that turns it off.
    let without = desired(&CONNECT.replace("      service_connect: {}\n", ""));
    let p = plan(&without, &live, &Policy::from_desired(&without));
    assert_eq!(one_update(&p), [ServiceField::ServiceConnect]);
    assert!(render_text(&p).contains("    service_connect: namespace staging.sd (client only) -> (none)\n"));
    let off = simulate(&without, &live, &p);
    assert!(off.services["web"].settings.service_connect.is_none());
    assert!(plan(&without, &off, &Policy::from_desired(&without)).is_empty());
}

#[test]
fn a_port_name_is_part_of_the_task_definition() {
    let d = desired(CONNECT);
    let live = converge(&d, &Observed::default());
    let renamed = desired(&CONNECT.replace("app_protocol: http}", "app_protocol: grpc}"));
    let p = plan(&renamed, &live, &Policy::from_desired(&renamed));
    let text = render_text(&p);
    let td = p.changes.iter().find(|c| c.resource.kind == Kind::TaskDefinition).expect("a new revision");
    let diff = td.diff.as_deref().unwrap_or_default();
    assert!(diff.contains("-  port: 8080:8080/tcp name=http app_protocol=http"), "{text}");
    assert!(diff.contains("+  port: 8080:8080/tcp name=http app_protocol=grpc"), "{text}");
}
