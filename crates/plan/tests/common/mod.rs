//! Fixtures shared by the plan crate's integration tests.

// Each test binary compiles this module and uses some of it.
#![allow(dead_code)]

use bosun_plan::observed::ObservedService;
use bosun_plan::simulate::simulate;
use bosun_plan::{Observed, Owner, Policy, plan};
use bosun_stackfile::{Desired, load};

/// A stackfile that must load, for cluster `demo`.
pub fn desired(text: &str) -> Desired {
    load(text, "demo").expect("a valid stackfile")
}

/// `observed` after applying the plan of `desired` in the simulator, which must have no
/// conflicts.
pub fn converge(desired: &Desired, observed: &Observed) -> Observed {
    let p = plan(desired, observed, &Policy::from_desired(desired));
    assert!(p.conflicts.is_empty(), "unexpected conflicts: {:?}", p.conflicts);
    simulate(desired, observed, &p)
}

/// An ECS service bosun did not create: no ownership tags, a hand-made revision.
pub fn foreign_service(name: &str) -> ObservedService {
    ObservedService {
        name: name.into(),
        arn: format!("arn:sim:ecs:service/demo/{name}"),
        status: "ACTIVE".into(),
        owner: Owner::default(),
        task_definition_arn: format!("arn:sim:ecs:task-definition/hand-made-{name}:7"),
        spec_hash: None,
        deployed_task_definition: None,
        desired_count: 1,
        running_count: 1,
        pending_count: 0,
        launch_type: Some("EC2".into()),
        network: None,
        load_balancers: vec![],
        registries: vec![],
        circuit_breaker: false,
        rollback: false,
        min_healthy_percent: 100,
        max_percent: 200,
        placement_strategy: vec![],
        placement_constraints: vec![],
        settings: Default::default(),
    }
}
