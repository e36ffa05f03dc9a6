//! Plans a 1,000-service stack from nothing a few times; for profilers
//! (`valgrind --tool=callgrind target/release/examples/profile_plan`).

use bosun_plan::{Observed, Policy, plan};

#[path = "../benches/stack.rs"]
mod stack;
use stack::stackfile;

fn main() {
    let desired = bosun_stackfile::load(&stackfile(1000), "b").expect("valid");
    let mut changes = 0;
    for _ in 0..5 {
        changes += plan(&desired, &Observed::default(), &Policy::default()).changes.len();
    }
    println!("{changes}");
}
