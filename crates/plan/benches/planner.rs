//! Planner speed on a 1,000-service stack (target: <= 10 ms per plan).
//!
//! Two cases: planning from nothing (every resource created), and the common case of
//! re-planning a converged cluster (an empty plan).

use bosun_plan::simulate::simulate;
use bosun_plan::{Observed, Policy, plan};
use criterion::{Criterion, criterion_group, criterion_main};

/// One third ALB services with Route53 aliases, one third Cloud Map services, one
/// third workers, like the reconcile benchmark's stack.
fn stackfile(n: usize) -> String {
    let mut y = String::from(
        "vpc:\n  id: vpc-0a1b2c3d\n  subnets:\n    public: [subnet-0000000a, subnet-0000000b]\n    private: [subnet-0000001a, subnet-0000001b]\n  security_groups:\n    public: [sg-0000000a]\n    private: [sg-0000000b]\nservice_discovery:\n  namespace: bench.sd\ndefaults:\n  memory: 256\n  environment:\n    STAGE: bench\nservices:\n",
    );
    for i in 0..n {
        y.push_str(&format!("  - s{i}:\n      image: public.ecr.aws/x/app:{i}\n      desired_count: 2\n"));
        match i % 3 {
            0 => y.push_str(&format!(
                "      network_mode: bridge\n      ports: [8080]\n      elb:\n        type: public\n        ports: {{public: 80, container: 8080}}\n        dns: {{hosted_zone_id: Z0123456789ABC, record_name: s{i}.example.com}}\n"
            )),
            1 => y.push_str(&format!("      ports: [8080]\n      dns_discovery:\n        name: s{i}\n")),
            _ => {}
        }
    }
    y
}

fn bench(c: &mut Criterion) {
    let desired = bosun_stackfile::load(&stackfile(1000), "b").expect("bench stackfile is valid");
    let empty = Observed::default();
    let policy = Policy::default();
    let first = plan(&desired, &empty, &policy);
    let converged = simulate(&desired, &empty, &first);
    assert!(plan(&desired, &converged, &policy).is_empty());

    let mut g = c.benchmark_group("plan_1000_services");
    g.bench_function("from_nothing", |b| b.iter(|| plan(&desired, &empty, &policy)));
    g.bench_function("converged_noop", |b| b.iter(|| plan(&desired, &converged, &policy)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
