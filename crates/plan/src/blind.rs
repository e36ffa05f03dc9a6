//! Candidate previews for a caller who may not read environment values (of any
//! container of the task: the main one and its sidecars).
//!
//! Plans never show an environment value, but a preview still answers one question
//! about it: does the task definition change? With a candidate stackfile of the
//! caller's own, that answer would confirm a guessed value of a live variable. So for
//! such a caller the candidate's values never reach the planner:
//! 1. [`blind_env_values`] replaces every value with [`NOT_COMPARED`] before the live
//!    state is read, so what is read does not depend on them either;
//! 2. [`take_live_env_values`] then gives each variable that exists live its live
//!    value.
//!
//! The plan is then a function of the variables' names, the live state and the rest of
//! the candidate: it shows variables added and removed, and every other change, but
//! never whether a value would change.

use bosun_stackfile::{Desired, ServiceKind};

use crate::observed::Observed;

/// What a candidate's environment value becomes before planning. A stackfile cannot
/// hold it (control characters are refused), so it matches no live value.
pub const NOT_COMPARED: &str = "\u{0}bosun: value not compared";

/// Replace every environment value of `desired` with [`NOT_COMPARED`].
pub fn blind_env_values(desired: &mut Desired) {
    for svc in desired.services.values_mut() {
        let td = &mut svc.task_definition;
        for c in std::iter::once(&mut td.container).chain(&mut td.sidecars) {
            for value in c.environment.values_mut() {
                NOT_COMPARED.clone_into(value);
            }
        }
    }
}

/// Give each environment variable of `desired` that exists in the live task definition
/// its live value (the service's running one; for a `type: task` entry, its family's
/// latest). Variables that do not exist live keep what they have.
pub fn take_live_env_values(desired: &mut Desired, observed: &Observed) {
    for svc in desired.services.values_mut() {
        let live = match svc.kind {
            ServiceKind::Service => observed
                .services
                .get(&svc.name)
                .and_then(|s| observed.task_definitions.get(&s.task_definition_arn))
                .or_else(|| observed.task_families.get(&svc.task_definition.family)),
            ServiceKind::Task => observed.task_families.get(&svc.task_definition.family),
        };
        let Some(live) = live else { continue };
        // The main container's from the live main one, a sidecar's from the live
        // sidecar of the same name.
        let td = &mut svc.task_definition;
        let main = std::iter::once((&mut td.container, Some(&live.spec.container)));
        let sidecars = td.sidecars.iter_mut().map(|c| {
            let live_c = live.spec.sidecars.iter().find(|l| l.name == c.name);
            (c, live_c)
        });
        for (c, live_c) in main.chain(sidecars) {
            let Some(live_c) = live_c else { continue };
            for (name, value) in &mut c.environment {
                if let Some(live_value) = live_c.environment.get(name) {
                    live_value.clone_into(value);
                }
            }
        }
    }
}
