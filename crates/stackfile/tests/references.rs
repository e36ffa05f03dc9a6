//! The references a stackfile makes (what a preflight check looks up), each with its
//! path, line and column, and the located diagnostics of references AWS does not have.

use std::path::PathBuf;

use bosun_stackfile::load_with_references;
use bosun_stackfile::references::{Findings, Problem, ReferenceKind, References};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name))
        .expect("fixture")
}

fn references() -> References {
    let (_, refs) = load_with_references(&fixture("references.yml"), "demo").unwrap_or_else(|d| panic!("{d}"));
    refs
}

/// One line per reference, in document order: `LINE:COL PATH KIND ID`.
fn listing(refs: &References) -> String {
    let mut lines: Vec<String> =
        refs.iter().map(|r| format!("{}:{} {} {:?} {}", r.line, r.column, r.path, r.kind, r.id)).collect();
    lines.sort_by_key(|l| {
        let (pos, _) = l.split_once(' ').unwrap();
        let (line, col) = pos.split_once(':').unwrap();
        (line.parse::<usize>().unwrap(), col.parse::<usize>().unwrap())
    });
    lines.join("\n")
}

#[test]
fn every_reference_is_collected_where_it_is_written() {
    insta::assert_snapshot!(listing(&references()));
}

#[test]
fn a_stackfile_without_references_has_none() {
    let (_, refs) = load_with_references("services:\n  - worker:\n      image: busybox:1\n", "demo").unwrap();
    assert!(refs.is_empty(), "{refs:?}");
}

#[test]
fn an_invalid_stackfile_has_diagnostics_not_references() {
    let err = load_with_references("vpc:\n  id: vpc-1\nservices: 3\n", "demo").unwrap_err();
    assert_eq!(err.len(), 1, "{err}");
}

#[test]
fn secrets_are_told_from_parameters_by_their_arn() {
    let refs = references();
    assert_eq!(
        refs.ids(ReferenceKind::Secret).into_iter().collect::<Vec<_>>(),
        ["arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"]
    );
    assert_eq!(
        refs.ids(ReferenceKind::Parameter).into_iter().collect::<Vec<_>>(),
        ["arn:aws:ssm:us-east-1:123456789012:parameter/web/api-key"]
    );
    // A role named by two services is one id, reported at both places.
    assert_eq!(refs.ids(ReferenceKind::Role).len(), 2);
    assert_eq!(refs.iter().filter(|r| r.id.ends_with("role/ecs-execution")).count(), 2);
    // Zones lose their `/hostedzone/` prefix, as the desired state has them.
    assert_eq!(refs.ids(ReferenceKind::HostedZone).into_iter().collect::<Vec<_>>(), ["Z0123456789ABCDEFGHIJ"]);
}

#[test]
fn every_place_that_names_something_with_a_problem_is_reported() {
    let refs = references();
    let mut findings = Findings::default();
    for kind in [
        ReferenceKind::Vpc,
        ReferenceKind::HostedZone,
        ReferenceKind::Role,
        ReferenceKind::Secret,
        ReferenceKind::Parameter,
    ] {
        for id in refs.ids(kind) {
            findings.add(kind, id, Problem::Missing);
        }
    }
    findings.add(ReferenceKind::Subnet, "subnet-0a0a0a0a", Problem::Missing);
    findings.add(
        ReferenceKind::Subnet,
        "subnet-0d0d0d0d",
        Problem::OtherVpc { vpc: "vpc-9999".into(), expected: "vpc-0123abcd".into() },
    );
    findings.add(ReferenceKind::SecurityGroup, "sg-0f0f0f0f", Problem::Missing);
    findings.add(
        ReferenceKind::Certificate,
        "arn:aws:acm:us-east-1:123456789012:certificate/web",
        Problem::NotIssued { status: "PENDING_VALIDATION".into() },
    );
    findings.add(ReferenceKind::Certificate, "arn:aws:acm:us-east-1:123456789012:certificate/edge", Problem::Missing);
    let diags = refs.report(&findings).unwrap_err();
    insta::assert_snapshot!(diags.to_string());
}
