//! Planner speed on a 1,000-service stack (target: <= 10 ms per plan).
//!
//! Two cases: planning from nothing (every resource created), and the common case of
//! re-planning a converged cluster (an empty plan).

use bosun_plan::simulate::simulate;
use bosun_plan::{Observed, Policy, plan};
use criterion::{Criterion, criterion_group, criterion_main};

mod stack;
use stack::stackfile;

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
