//! The name registry: which names are taken, where each was first defined, and the error
//! for a second definition.

use std::collections::HashMap;

use crate::walk::Locations;

/// What a name names. Each kind is its own namespace and words its duplicate error its
/// own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum NameKind {
    /// An AWS load balancer name: unique per account and region.
    LoadBalancer,
    /// An AWS target group name: unique per account and region.
    TargetGroup,
    /// An entry of `services:`.
    Service,
    /// An environment variable of one container.
    EnvVar,
    /// A pre- or post-deploy hook of one service (both phases share the names).
    Hook,
    /// A listener port of one shared load balancer.
    ListenerPort,
}

impl NameKind {
    /// What the name is called in errors about the name itself.
    pub(super) fn noun(self) -> &'static str {
        match self {
            NameKind::LoadBalancer => "load balancer name",
            NameKind::TargetGroup => "target group name",
            NameKind::Service => "service name",
            NameKind::EnvVar => "environment variable",
            NameKind::Hook => "hook name",
            NameKind::ListenerPort => "listener port",
        }
    }
}

/// The names taken so far, by kind.
#[derive(Debug, Default)]
pub(super) struct Names {
    /// Kind -> name -> path of the first definition, which a later definition is
    /// reported against.
    first: HashMap<NameKind, HashMap<String, String>>,
}

/// A name defined a second time.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Duplicate {
    /// What the name names; decides the wording.
    pub(super) kind: NameKind,
    /// The name.
    pub(super) name: String,
    /// Where the second definition is: the error is reported here.
    pub(super) path: String,
    /// Where the first definition is, which keeps the name.
    pub(super) first: String,
}

impl Names {
    /// Records that `path` defines `name`. The first definition keeps the name; a later
    /// one is handed back for the caller to report (see [`Duplicate::message`]).
    pub(super) fn claim(&mut self, kind: NameKind, name: &str, path: &str) -> Result<(), Duplicate> {
        let taken = self.first.entry(kind).or_default();
        match taken.get(name) {
            Some(first) => {
                Err(Duplicate { kind, name: name.to_string(), path: path.to_string(), first: first.clone() })
            }
            None => {
                taken.insert(name.to_string(), path.to_string());
                Ok(())
            }
        }
    }
}

impl Duplicate {
    /// Whether the error points at the key of `path` rather than at its value.
    pub(super) fn at_key(&self) -> bool {
        matches!(self.kind, NameKind::Service | NameKind::EnvVar)
    }

    /// The error message, which names the first definition by its path or line.
    pub(super) fn message(&self, locs: &Locations) -> String {
        let Duplicate { kind, name, first, .. } = self;
        match kind {
            NameKind::LoadBalancer | NameKind::TargetGroup => {
                format!("{} `{name}` is also used by `{first}`", kind.noun())
            }
            NameKind::Service => {
                let (line, _) = locs.key_at(first);
                format!("duplicate service `{name}` (first defined on line {line})")
            }
            NameKind::EnvVar => {
                let (line, _) = locs.key_at(first);
                format!("environment variable `{name}` is set twice (first on line {line})")
            }
            NameKind::Hook => {
                let (line, _) = locs.at(first);
                format!("hook name `{name}` is already used (line {line})")
            }
            NameKind::ListenerPort => format!("listener port {name} is defined twice"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_definition_keeps_the_name_and_kinds_do_not_collide() {
        let mut names = Names::default();
        assert!(names.claim(NameKind::LoadBalancer, "a", "x").is_ok());
        // Load balancers and target groups have namespaces of their own.
        assert!(names.claim(NameKind::TargetGroup, "a", "y").is_ok());
        let dup = names.claim(NameKind::LoadBalancer, "a", "z").unwrap_err();
        assert_eq!((dup.path.as_str(), dup.first.as_str()), ("z", "x"));
        // A third definition is still reported against the first.
        let dup = names.claim(NameKind::LoadBalancer, "a", "w").unwrap_err();
        assert_eq!(dup.first, "x");
        assert_eq!(dup.message(&Locations::default()), "load balancer name `a` is also used by `x`");
    }
}
