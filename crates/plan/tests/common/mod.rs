//! Fixtures shared by the plan crate's integration tests.

use bosun_plan::Owner;
use bosun_plan::observed::ObservedService;

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
