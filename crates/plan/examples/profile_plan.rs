//! Plans a 1,000-service stack a number of times; for profilers and instruction counts:
//!
//! ```text
//! valgrind --tool=callgrind target/release/examples/profile_plan nothing 5
//! valgrind --tool=callgrind target/release/examples/profile_plan converged 5
//! valgrind --tool=callgrind target/release/examples/profile_plan converged 5 stackfiles/platform.yml
//! ```
//!
//! `nothing` plans from an empty observation (every resource created), `converged` from
//! the state the first plan leads to (an empty plan). The instructions of one plan are the
//! difference between two runs with different counts, divided by the difference of the
//! counts: the set-up (parsing, the first plan, the simulation) cancels out. With a file,
//! that stackfile is planned instead of the generated 1,000 services.

use bosun_plan::simulate::simulate;
use bosun_plan::{Observed, Policy, plan};

#[path = "../benches/stack.rs"]
mod stack;
use stack::stackfile;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "nothing".to_owned());
    let count: usize = args.next().map_or(5, |n| n.parse().expect("count is a number"));
    let source = match args.next() {
        Some(path) => std::fs::read_to_string(&path).expect("stackfile is readable"),
        None => stackfile(1000),
    };
    let desired = bosun_stackfile::load(&source, "b").expect("valid");
    let policy = Policy::default();
    let empty = Observed::default();
    let observed = match mode.as_str() {
        "nothing" => empty,
        "converged" => simulate(&desired, &empty, &plan(&desired, &empty, &policy)),
        other => panic!("mode is `nothing` or `converged`, not `{other}`"),
    };
    let mut changes = 0;
    for _ in 0..count {
        changes += plan(&desired, &observed, &policy).changes.len();
    }
    println!("{changes}");
}
