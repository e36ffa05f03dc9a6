//! The order a plan runs in: [`Plan::stages`] groups its changes into stages of
//! chains, so the applier knows what may run at once without knowing the rules.

use std::collections::BTreeMap;

use crate::types::{Change, Kind, Plan};

/// Changes that run one after another.
pub type Chain<'a> = Vec<&'a Change>;

/// Chains that run concurrently.
pub type Stage<'a> = Vec<Chain<'a>>;

impl Plan {
    /// The changes in the order they run: stages one after another; a stage is
    /// chains that run concurrently, the changes of a chain one after another.
    ///
    /// Consecutive changes of the same kind (and direction) form a level, and each of
    /// its changes is a chain of its own, except that hooks of a level run one at a
    /// time (the hooks of one service in order) and that the task definition level and
    /// the service level after it make one stage: a service's new revision and the
    /// service change that deploys it form a chain, so each service changes as soon as
    /// its own revision is registered, not after every other service's. Everything
    /// else a service change needs (cluster, target groups, listeners, Cloud Map
    /// services) comes from earlier levels, which are done by then; with pre-deploy
    /// hooks, the hook level sits between the two and keeps them apart.
    pub fn stages(&self) -> Vec<Stage<'_>> {
        let mut stages = Vec::new();
        let mut levels = levels(&self.changes).into_iter().peekable();
        while let Some(level) = levels.next() {
            if matches!(level[0].resource.kind, Kind::PreHook | Kind::PostHook) {
                stages.push(vec![level]);
            } else if creates(&level, Kind::TaskDefinition)
                && levels.peek().is_some_and(|next| creates(next, Kind::Service))
            {
                let services = levels.next().expect("peeked");
                stages.push(deploy_chains(level, services));
            } else {
                stages.push(level.into_iter().map(|c| vec![c]).collect());
            }
        }
        stages
    }
}

/// Runs of consecutive changes of the same kind and direction.
fn levels(changes: &[Change]) -> Vec<Vec<&Change>> {
    let mut levels: Vec<Vec<&Change>> = Vec::new();
    for change in changes {
        let key = (change.action.is_delete(), change.resource.kind);
        match levels.last_mut() {
            Some(level) if (level[0].action.is_delete(), level[0].resource.kind) == key => level.push(change),
            _ => levels.push(vec![change]),
        }
    }
    levels
}

/// Whether a level creates or updates resources of `kind`.
fn creates(level: &[&Change], kind: Kind) -> bool {
    level[0].resource.kind == kind && !level[0].action.is_delete()
}

/// One chain per task definition, each followed by the change of the service it
/// belongs to; a service change without a new revision is a chain of its own.
fn deploy_chains<'a>(task_definitions: Vec<&'a Change>, services: Vec<&'a Change>) -> Stage<'a> {
    let mut chains: Stage<'a> = task_definitions.into_iter().map(|c| vec![c]).collect();
    let by_service: BTreeMap<&str, usize> =
        chains.iter().enumerate().filter_map(|(i, chain)| Some((chain[0].service.as_deref()?, i))).collect();
    for change in services {
        match change.service.as_deref().and_then(|s| by_service.get(s)) {
            Some(&i) => chains[i].push(change),
            None => chains.push(vec![change]),
        }
    }
    chains
}

#[cfg(test)]
mod tests {
    use bosun_stackfile::fixtures::{self, EXAMPLES};

    use super::*;
    use crate::{Observed, Policy, plan};

    /// The plan that creates an example stackfile's stack from nothing.
    fn from_nothing(name: &str) -> Plan {
        let desired = fixtures::desired(name, "demo");
        plan(&desired, &Observed::default(), &Policy::from_desired(&desired))
    }

    /// Stages as `kind name` strings.
    fn shape(plan: &Plan) -> Vec<Vec<Vec<String>>> {
        plan.stages()
            .iter()
            .map(|s| s.iter().map(|chain| chain.iter().map(|c| c.resource.to_string()).collect()).collect())
            .collect()
    }

    #[test]
    fn every_change_runs_once_and_in_plan_order_within_a_chain() {
        for name in EXAMPLES {
            let p = from_nothing(name);
            let position =
                |c: &Change| p.changes.iter().position(|x| std::ptr::eq(x, c)).expect("a change of the plan");
            let stages = p.stages();
            let mut seen: Vec<usize> = stages.iter().flatten().flatten().map(|c| position(c)).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..p.changes.len()).collect::<Vec<_>>(), "{name}");
            for chain in stages.iter().flatten() {
                assert!(chain.windows(2).all(|w| position(w[0]) < position(w[1])), "{name}: {chain:?}");
            }
        }
    }

    #[test]
    fn a_service_is_created_right_after_its_own_task_definition() {
        let stages = shape(&from_nothing("demo.yml"));
        let last = stages.last().expect("a plan from nothing has stages");
        assert_eq!(
            last,
            &[
                vec!["task definition demo-mailer", "service mailer"],
                vec!["task definition demo-users", "service users"],
                vec!["task definition demo-web", "service web"],
            ],
        );
        // Everything before runs one change per chain, each kind after the previous one.
        assert!(stages[..stages.len() - 1].iter().flatten().all(|chain| chain.len() == 1), "{stages:?}");
        assert_eq!(stages[0], [["cluster demo"]]);
    }

    #[test]
    fn pre_deploy_hooks_run_between_task_definitions_and_services_one_at_a_time() {
        let p = from_nothing("hooks.yml");
        let stages = shape(&p);
        let at = |prefix: &str| {
            stages.iter().position(|s| s[0][0].starts_with(prefix)).unwrap_or_else(|| panic!("{prefix}: {stages:?}"))
        };
        let (td, pre, svc, post) =
            (at("task definition"), at("pre-deploy hook"), at("service"), at("post-deploy hook"));
        assert!(td < pre && pre < svc && svc < post, "{stages:?}");
        assert_eq!(stages[td], [["task definition demo-app"]]);
        assert_eq!(stages[svc], [["service app"]]);

        // Two hooks: one chain, in the order written.
        let text = fixtures::Prerequisites::fake().fill(fixtures::example("hooks.yml"));
        let two = text.replacen(
            "          timeout: 5m\n",
            "          timeout: 5m\n        - name: seed\n          command: [\"true\"]\n",
            1,
        );
        let desired = bosun_stackfile::load(&two, "demo").unwrap_or_else(|d| panic!("valid: {d}"));
        let stages = shape(&plan(&desired, &Observed::default(), &Policy::from_desired(&desired)));
        let pre = stages.iter().find(|s| s[0][0].starts_with("pre-deploy hook")).expect("a pre-deploy hook stage");
        assert_eq!(pre, &[["pre-deploy hook app/00-migrate", "pre-deploy hook app/01-seed"]]);
    }
}
