//! What a stackfile refers to that bosun does not create: the VPC, subnets and security
//! groups, ACM certificates, hosted zones, IAM roles, and the secrets and parameters of
//! `secrets`. Each [`Reference`] keeps where the stackfile names it, so that a preflight
//! check can report every one that AWS does not have as a [`Diagnostic`], in the shape
//! of validation errors.
//!
//! The references are collected by the semantic pass, where each value is lowered into
//! the desired state (see [`load_with_references`](crate::load_with_references)); this
//! module only holds them and turns what AWS said about them into diagnostics. Which
//! AWS calls ask is the AWS adapter's business (`bosun_aws::preflight`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use crate::validate::Arn;

use crate::diagnostic::{Diagnostic, Diagnostics};

/// The kinds of things a stackfile refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReferenceKind {
    /// `vpc.id`.
    Vpc,
    /// `vpc.subnets.public` and `.private`.
    Subnet,
    /// `vpc.security_groups.public` and `.private`.
    SecurityGroup,
    /// A listener certificate ARN: ACM, or a legacy IAM server certificate.
    Certificate,
    /// `dns.hosted_zone_id` (without `/hostedzone/`).
    HostedZone,
    /// `task_role_arn` or `task_execution_role_arn`.
    Role,
    /// A `secrets` value that is a Secrets Manager secret ARN.
    Secret,
    /// A `secrets` value that is an SSM parameter ARN.
    Parameter,
}

impl ReferenceKind {
    /// What the kind is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Vpc => "VPC",
            Self::Subnet => "subnet",
            Self::SecurityGroup => "security group",
            Self::Certificate => "certificate",
            Self::HostedZone => "hosted zone",
            Self::Role => "IAM role",
            Self::Secret => "Secrets Manager secret",
            Self::Parameter => "SSM parameter",
        }
    }
}

impl fmt::Display for ReferenceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.noun())
    }
}

/// One place where the stackfile names something that must exist in AWS.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    /// What it is.
    pub kind: ReferenceKind,
    /// The id or ARN as the desired state uses it (a hosted zone without `/hostedzone/`).
    pub id: String,
    /// Field path, e.g. `vpc.subnets.private[1]`, as validation errors name fields.
    pub path: String,
    /// 1-based line of the value.
    pub line: usize,
    /// 1-based column of the value.
    pub column: usize,
}

impl Reference {
    /// The parts of the id, when it is an ARN (certificates, roles, secrets, parameters).
    pub fn arn(&self) -> Option<Arn<'_>> {
        Arn::parse(&self.id)
    }
}

/// Every reference of one stackfile, in document order. The same id named in several
/// places is one reference per place: each is reported where it is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References(pub Vec<Reference>);

impl References {
    /// The distinct ids of one kind.
    pub fn ids(&self, kind: ReferenceKind) -> BTreeSet<&str> {
        self.0.iter().filter(|r| r.kind == kind).map(|r| r.id.as_str()).collect()
    }

    /// The references, in document order.
    pub fn iter(&self) -> std::slice::Iter<'_, Reference> {
        self.0.iter()
    }

    /// Whether the stackfile refers to nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// One diagnostic for each place that names something with a problem, sorted by
    /// position; `Ok` when nothing has one.
    pub fn report(&self, findings: &Findings) -> Result<(), Diagnostics> {
        let diags: Vec<Diagnostic> = self
            .0
            .iter()
            .filter_map(|r| {
                let problem = findings.0.get(&(r.kind, r.id.clone()))?;
                Some(Diagnostic {
                    path: r.path.clone(),
                    line: r.line,
                    column: r.column,
                    message: problem.message(r.kind, &r.id),
                })
            })
            .collect();
        if diags.is_empty() { Ok(()) } else { Err(Diagnostics::from_unsorted(diags)) }
    }
}

impl<'a> IntoIterator for &'a References {
    type Item = &'a Reference;
    type IntoIter = std::slice::Iter<'a, Reference>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// What is wrong with a referenced resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// AWS does not have it (in this account and region).
    Missing,
    /// An ACM certificate that is not `ISSUED` (pending validation, expired, revoked,
    /// ...): a listener cannot use it.
    NotIssued {
        /// The certificate's status, as ACM says it.
        status: String,
    },
    /// A secret scheduled for deletion: ECS cannot read it.
    ScheduledForDeletion,
    /// A subnet or security group of another VPC than `vpc.id`.
    OtherVpc {
        /// The VPC it is in.
        vpc: String,
        /// `vpc.id`.
        expected: String,
    },
}

impl Problem {
    /// The diagnostic's message about `id`, a `kind`.
    fn message(&self, kind: ReferenceKind, id: &str) -> String {
        match self {
            Self::Missing => format!("{kind} {id} does not exist"),
            Self::NotIssued { status } => {
                format!("{kind} {id} is {status}, not ISSUED: a listener cannot use it")
            }
            Self::ScheduledForDeletion => format!("{kind} {id} is scheduled for deletion: ECS cannot read it"),
            Self::OtherVpc { vpc, expected } => format!("{kind} {id} is in {vpc}, not in `vpc.id` {expected}"),
        }
    }
}

/// What the checks found, by kind and id: only the references with a problem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings(pub BTreeMap<(ReferenceKind, String), Problem>);

impl Findings {
    /// Records a problem with `id`.
    pub fn add(&mut self, kind: ReferenceKind, id: impl Into<String>, problem: Problem) {
        self.0.insert((kind, id.into()), problem);
    }

    /// Adds everything `other` found.
    pub fn extend(&mut self, other: Findings) {
        self.0.extend(other.0);
    }

    /// Whether nothing was found wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(kind: ReferenceKind, id: &str, path: &str, line: usize) -> Reference {
        Reference { kind, id: id.into(), path: path.into(), line, column: 7 }
    }

    #[test]
    fn every_place_that_names_a_missing_id_is_reported_in_document_order() {
        let refs = References(vec![
            r(ReferenceKind::Role, "arn:aws:iam::123456789012:role/app", "services[1].api.task_role_arn", 20),
            r(ReferenceKind::Subnet, "subnet-1", "vpc.subnets.private[0]", 5),
            r(ReferenceKind::Role, "arn:aws:iam::123456789012:role/app", "services[0].web.task_role_arn", 12),
            r(ReferenceKind::Subnet, "subnet-2", "vpc.subnets.private[1]", 6),
        ]);
        let mut findings = Findings::default();
        assert_eq!(refs.report(&findings), Ok(()));
        findings.add(ReferenceKind::Role, "arn:aws:iam::123456789012:role/app", Problem::Missing);
        // The same id of another kind is another resource.
        findings.add(ReferenceKind::SecurityGroup, "subnet-2", Problem::Missing);
        let diags = refs.report(&findings).unwrap_err();
        assert_eq!(
            diags.to_string(),
            "12:7: services[0].web.task_role_arn: IAM role arn:aws:iam::123456789012:role/app does not exist\n\
             20:7: services[1].api.task_role_arn: IAM role arn:aws:iam::123456789012:role/app does not exist"
        );
    }

    #[test]
    fn ids_are_distinct_per_kind() {
        let refs = References(vec![
            r(ReferenceKind::Subnet, "subnet-2", "a", 1),
            r(ReferenceKind::Subnet, "subnet-1", "b", 2),
            r(ReferenceKind::Subnet, "subnet-2", "c", 3),
            r(ReferenceKind::Vpc, "vpc-1", "d", 4),
        ]);
        assert_eq!(refs.ids(ReferenceKind::Subnet).into_iter().collect::<Vec<_>>(), ["subnet-1", "subnet-2"]);
        assert!(refs.ids(ReferenceKind::Role).is_empty());
    }

    #[test]
    fn arns_are_split() {
        let role = r(ReferenceKind::Role, "arn:aws:iam::123456789012:role/svc/app", "x", 1);
        let arn = role.arn().unwrap();
        assert_eq!((arn.service, arn.region, arn.account, arn.resource), ("iam", "", "123456789012", "role/svc/app"));
        assert!(r(ReferenceKind::Subnet, "subnet-1", "x", 1).arn().is_none());
    }
}
