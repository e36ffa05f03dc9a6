//! Test fixtures shared by every crate's tests: the example stackfiles of
//! `stackfiles/` and the ids their `${...}` placeholders stand for. Compiled only with
//! the `fixtures` feature, which the crates enable for their tests.

use crate::{Desired, load};

/// The example stackfiles a new user can apply as they are (with their placeholders
/// filled in), by file name.
pub const EXAMPLES: [&str; 4] = ["demo.yml", "fargate.yml", "hooks.yml", "platform.yml"];

/// The text of an example stackfile, placeholders and all.
///
/// # Panics
/// When `name` is not one of [`EXAMPLES`].
pub fn example(name: &str) -> &'static str {
    match name {
        "demo.yml" => include_str!("../../../stackfiles/demo.yml"),
        "fargate.yml" => include_str!("../../../stackfiles/fargate.yml"),
        "hooks.yml" => include_str!("../../../stackfiles/hooks.yml"),
        "platform.yml" => include_str!("../../../stackfiles/platform.yml"),
        other => panic!("no example stackfile {other}; the examples are {EXAMPLES:?}"),
    }
}

/// An example stackfile loaded for `cluster`, with [`Prerequisites::fake`] ids.
///
/// # Panics
/// When the example does not load: the examples must always be valid.
pub fn desired(name: &str, cluster: &str) -> Desired {
    load(&Prerequisites::fake().fill(example(name)), cluster)
        .unwrap_or_else(|d| panic!("example {name} should load:\n{d}"))
}

/// The ids the placeholders of the example stackfiles stand for: the VPC, subnets,
/// security groups and hosted zone that `deploy/local/demo` creates before it applies
/// an example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prerequisites {
    /// `${VPC_ID}`.
    pub vpc_id: String,
    /// `${PUBLIC_SUBNET_A}`, `${PUBLIC_SUBNET_B}`: one per availability zone, for
    /// internet-facing load balancers.
    pub public_subnets: [String; 2],
    /// `${PRIVATE_SUBNET_A}`, `${PRIVATE_SUBNET_B}`: for internal load balancers and
    /// awsvpc tasks.
    pub private_subnets: [String; 2],
    /// `${PUBLIC_SG}`.
    pub public_sg: String,
    /// `${PRIVATE_SG}`.
    pub private_sg: String,
    /// `${ZONE_ID}`, without the `/hostedzone/` prefix.
    pub zone_id: String,
}

impl Prerequisites {
    /// Well-formed ids of resources that exist nowhere, for tests that never reach
    /// AWS.
    pub fn fake() -> Self {
        Self {
            vpc_id: "vpc-0a1b2c3d".into(),
            public_subnets: ["subnet-0000000a".into(), "subnet-0000000b".into()],
            private_subnets: ["subnet-0000001a".into(), "subnet-0000001b".into()],
            public_sg: "sg-0000000a".into(),
            private_sg: "sg-0000000b".into(),
            zone_id: "Z0123456789ABC".into(),
        }
    }

    /// Each placeholder with the id it stands for.
    pub fn placeholders(&self) -> [(&'static str, &str); 8] {
        [
            ("${VPC_ID}", &self.vpc_id),
            ("${PUBLIC_SUBNET_A}", &self.public_subnets[0]),
            ("${PUBLIC_SUBNET_B}", &self.public_subnets[1]),
            ("${PRIVATE_SUBNET_A}", &self.private_subnets[0]),
            ("${PRIVATE_SUBNET_B}", &self.private_subnets[1]),
            ("${PUBLIC_SG}", &self.public_sg),
            ("${PRIVATE_SG}", &self.private_sg),
            ("${ZONE_ID}", &self.zone_id),
        ]
    }

    /// `template` with every placeholder replaced by its id.
    pub fn fill(&self, template: &str) -> String {
        self.placeholders().iter().fold(template.to_owned(), |text, (placeholder, id)| text.replace(placeholder, id))
    }
}
