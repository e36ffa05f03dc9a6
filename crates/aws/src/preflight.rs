//! Preflight: before the first change, check that everything the stackfile names and
//! bosun does not create exists, and report every one that does not at once, each
//! where the stackfile names it ([`bosun_stackfile::references`]).
//!
//! The checks are reads, batched, and run concurrently with each other and with the
//! observation ([`observe_checked`]). The AWS operations, which bosun's IAM policy must
//! allow:
//! - **EC2** `DescribeSubnets` and `DescribeSecurityGroups`, one call each with the ids
//!   as a filter (a filter returns the ones that exist, where an id list fails the whole
//!   call on the first unknown id); `DescribeVpcs` only when no subnet or security
//!   group already showed that `vpc.id` exists. Subnets and security groups of another
//!   VPC than `vpc.id` are reported too.
//! - **ACM** `DescribeCertificate` per certificate (a few concurrently); one that is not
//!   `ISSUED` is reported too. IAM server certificates are not checked.
//! - **Route53**: no call of its own. The observer reads every zone the stackfile names
//!   (`ListResourceRecordSets`) and notes the ones Route53 does not have.
//! - **STS** `GetCallerIdentity` (which needs no permission), only when there are roles,
//!   secrets or parameters: their ARNs say which account they are in.
//! - **IAM** `GetRole` per distinct role.
//! - **Secrets Manager** `DescribeSecret` per distinct secret; one scheduled for
//!   deletion is reported too.
//! - **SSM** `DescribeParameters` with a `Name` `Equals` filter, 50 names a call.
//!
//! No value is ever read: not `GetSecretValue`, `BatchGetSecretValue`, `GetParameter`
//! nor `GetParameters`. A reference bosun cannot read is skipped, not reported: a role,
//! secret or parameter of another account (its owner's policy decides who reads it, and
//! ECS reads it with the task's roles, not bosun's), a secret or parameter of another
//! region (ECS reads those by their full ARN). A read that fails (access denied,
//! throttled) is an error, never a "missing".

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::Filter;
use aws_sdk_ssm::types::ParameterStringFilter;
use bosun_plan::Observed;
use bosun_stackfile::references::{Findings, Problem, Reference, ReferenceKind, References};
use bosun_stackfile::{Desired, Diagnostics};
use futures::{StreamExt, TryStreamExt, stream};
use tracing::debug;

use crate::Clients;
use crate::error::{AwsError, ErrorKind};

/// Describe calls of one kind in flight at once (ACM, IAM, Secrets Manager): stackfiles
/// name a few of each, and these APIs have low rate limits (IAM: 20 GetRole a second
/// per account, shared with everything else in it).
const DESCRIBE_CONCURRENCY: usize = 8;
/// EC2 filter values per call: EC2 takes at most 200 values in one filter.
const EC2_FILTER_VALUES: usize = 200;
/// DescribeParameters: a `ParameterStringFilter` takes at most 50 values.
const PARAMETER_NAMES_PER_CALL: usize = 50;

/// Why a plan or an apply stops before it reads the live state or plans.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// References that do not exist or cannot be used: every one, each where the
    /// stackfile names it. Nothing was changed.
    #[error("{} reference(s) of the stackfile do not exist or cannot be used; nothing was changed", .0.len())]
    Missing(Diagnostics),
    /// A preflight read failed (access denied, throttled, AWS failing): nothing is
    /// known about the references, and nothing was changed.
    #[error("could not check that the stackfile's references exist")]
    Check(#[source] AwsError),
    /// The observation failed.
    #[error("could not read the live state")]
    Observe(#[source] AwsError),
}

/// Observes the cluster and checks the stackfile's references at once; the observed
/// state only when every reference exists.
pub async fn observe_checked(c: &Clients, desired: &Desired, refs: &References) -> Result<Observed, PreflightError> {
    let (observed, findings) = tokio::join!(crate::observe(c, desired), check(c, refs));
    let mut findings = findings.map_err(PreflightError::Check)?;
    let observed = observed.map_err(PreflightError::Observe)?;
    for zone in &observed.missing_zones {
        findings.add(ReferenceKind::HostedZone, zone.clone(), Problem::Missing);
    }
    refs.report(&findings).map_err(PreflightError::Missing)?;
    Ok(observed)
}

/// Checks every reference but hosted zones (which the observer reads): what is wrong
/// with each, by kind and id; empty when everything exists.
pub async fn check(c: &Clients, refs: &References) -> Result<Findings, AwsError> {
    let (network, certificates, owned) =
        tokio::try_join!(check_network(c, refs), check_certificates(c, refs), check_owned(c, refs))?;
    let mut findings = network;
    findings.extend(certificates);
    findings.extend(owned);
    Ok(findings)
}

/// The VPC, subnets and security groups: one call per kind, the VPC's only when needed.
async fn check_network(c: &Clients, refs: &References) -> Result<Findings, AwsError> {
    let vpcs = refs.ids(ReferenceKind::Vpc);
    let (subnets, groups) = tokio::try_join!(
        describe_subnets(c, refs.ids(ReferenceKind::Subnet)),
        describe_security_groups(c, refs.ids(ReferenceKind::SecurityGroup)),
    )?;
    let mut findings = Findings::default();
    // A subnet or group can exist only in a VPC that exists.
    let mut seen_vpcs: BTreeSet<&str> = BTreeSet::new();
    for (kind, found) in [(ReferenceKind::Subnet, &subnets), (ReferenceKind::SecurityGroup, &groups)] {
        for id in refs.ids(kind) {
            match found.get(id) {
                None => findings.add(kind, id, Problem::Missing),
                Some(vpc) => {
                    seen_vpcs.insert(vpc);
                    // `vpc.id` is where target groups and the namespace go: a subnet or
                    // group elsewhere cannot be used with them.
                    if let Some(expected) = vpcs.first()
                        && vpcs.len() == 1
                        && vpc != expected
                    {
                        let problem = Problem::OtherVpc { vpc: vpc.clone(), expected: (*expected).to_owned() };
                        findings.add(kind, id, problem);
                    }
                }
            }
        }
    }
    let unseen: BTreeSet<&str> = vpcs.iter().copied().filter(|v| !seen_vpcs.contains(v)).collect();
    let found = describe_vpcs(c, &unseen).await?;
    for vpc in unseen.into_iter().filter(|v| !found.contains(*v)) {
        findings.add(ReferenceKind::Vpc, vpc, Problem::Missing);
    }
    Ok(findings)
}

fn ec2_filter(name: &str, ids: &[&str]) -> Filter {
    Filter::builder().name(name).set_values(Some(ids.iter().map(|s| (*s).to_owned()).collect())).build()
}

/// The subnets among `ids` that exist, with their VPC.
async fn describe_subnets(c: &Clients, ids: BTreeSet<&str>) -> Result<BTreeMap<String, String>, AwsError> {
    let mut found = BTreeMap::new();
    let ids: Vec<&str> = ids.into_iter().collect();
    for batch in ids.chunks(EC2_FILTER_VALUES) {
        let resource = || format!("subnets {}", batch.join(", "));
        let mut pages =
            c.ec2.describe_subnets().filters(ec2_filter("subnet-id", batch)).max_results(1000).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::ec2("DescribeSubnets", resource(), e))?;
            for s in page.subnets() {
                if let (Some(id), Some(vpc)) = (s.subnet_id(), s.vpc_id()) {
                    found.insert(id.to_owned(), vpc.to_owned());
                }
            }
        }
    }
    Ok(found)
}

/// The security groups among `ids` that exist, with their VPC.
async fn describe_security_groups(c: &Clients, ids: BTreeSet<&str>) -> Result<BTreeMap<String, String>, AwsError> {
    let mut found = BTreeMap::new();
    let ids: Vec<&str> = ids.into_iter().collect();
    for batch in ids.chunks(EC2_FILTER_VALUES) {
        let resource = || format!("security groups {}", batch.join(", "));
        let mut pages = c
            .ec2
            .describe_security_groups()
            .filters(ec2_filter("group-id", batch))
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::ec2("DescribeSecurityGroups", resource(), e))?;
            for g in page.security_groups() {
                if let (Some(id), Some(vpc)) = (g.group_id(), g.vpc_id()) {
                    found.insert(id.to_owned(), vpc.to_owned());
                }
            }
        }
    }
    Ok(found)
}

/// The VPCs among `ids` that exist; no call for none.
async fn describe_vpcs(c: &Clients, ids: &BTreeSet<&str>) -> Result<BTreeSet<String>, AwsError> {
    let mut found = BTreeSet::new();
    let ids: Vec<&str> = ids.iter().copied().collect();
    for batch in ids.chunks(EC2_FILTER_VALUES) {
        let resource = || format!("VPCs {}", batch.join(", "));
        let mut pages =
            c.ec2.describe_vpcs().filters(ec2_filter("vpc-id", batch)).max_results(1000).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::ec2("DescribeVpcs", resource(), e))?;
            found.extend(page.vpcs().iter().filter_map(|v| v.vpc_id()).map(str::to_owned));
        }
    }
    Ok(found)
}

/// ACM certificates: each must exist and be `ISSUED`.
async fn check_certificates(c: &Clients, refs: &References) -> Result<Findings, AwsError> {
    // An IAM server certificate (`arn:aws:iam::...:server-certificate/...`) is a legacy
    // alternative ELBv2 still takes; reading it would need another permission for a
    // rarely used kind, so it is left to CreateListener.
    // Owned: a stream of borrowed items makes the future not `Send` for every lifetime.
    let arns: Vec<String> = refs
        .ids(ReferenceKind::Certificate)
        .into_iter()
        .filter(|id| bosun_stackfile::references::Arn::parse(id).is_some_and(|a| a.service == "acm"))
        .map(str::to_owned)
        .collect();
    let statuses: Vec<(String, Option<String>)> = stream::iter(arns)
        .map(|arn| async move {
            match c.acm.describe_certificate().certificate_arn(&arn).send().await {
                Ok(out) => {
                    let status = out.certificate().and_then(|c| c.status()).map(|s| s.as_str().to_owned());
                    Ok((arn, Some(status.unwrap_or_default())))
                }
                Err(e) => {
                    let e = AwsError::acm("DescribeCertificate", format!("certificate {arn}"), e);
                    if e.kind() == ErrorKind::NotFound { Ok((arn, None)) } else { Err(e) }
                }
            }
        })
        .buffer_unordered(DESCRIBE_CONCURRENCY)
        .try_collect()
        .await?;
    let mut findings = Findings::default();
    for (arn, status) in statuses {
        match status {
            None => findings.add(ReferenceKind::Certificate, arn, Problem::Missing),
            Some(status) if status != "ISSUED" => {
                findings.add(ReferenceKind::Certificate, arn, Problem::NotIssued { status })
            }
            Some(_) => {}
        }
    }
    Ok(findings)
}

/// Roles, secrets and parameters: the ones in the caller's account (and region, for
/// secrets and parameters).
async fn check_owned(c: &Clients, refs: &References) -> Result<Findings, AwsError> {
    let owned = [ReferenceKind::Role, ReferenceKind::Secret, ReferenceKind::Parameter];
    if !refs.iter().any(|r| owned.contains(&r.kind)) {
        return Ok(Findings::default());
    }
    let identity =
        c.sts.get_caller_identity().send().await.map_err(|e| AwsError::sts("GetCallerIdentity", "the caller", e))?;
    let account = identity.account().unwrap_or_default();
    let region = c.region.as_deref();
    let readable = |r: &&Reference| {
        let Some(arn) = r.arn() else { return false };
        let ours = arn.account == account && (r.kind == ReferenceKind::Role || region.is_none_or(|g| arn.region == g));
        if !ours {
            debug!(reference = %r.id, path = %r.path, "not checked: another account or region");
        }
        ours
    };
    let mine: Vec<&Reference> = refs.iter().filter(readable).collect();
    let (roles, secrets, parameters) =
        tokio::try_join!(check_roles(c, &mine), check_secrets(c, &mine), check_parameters(c, &mine))?;
    let mut findings = roles;
    findings.extend(secrets);
    findings.extend(parameters);
    Ok(findings)
}

/// Groups the ids of `kind` among `refs` by what AWS calls them (`key`).
fn by_key<'a>(
    refs: &[&'a Reference],
    kind: ReferenceKind,
    key: impl Fn(&'a Reference) -> Option<String>,
) -> BTreeMap<String, BTreeSet<&'a str>> {
    let mut out: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for r in refs.iter().copied().filter(|r| r.kind == kind) {
        if let Some(k) = key(r) {
            out.entry(k).or_default().insert(&r.id);
        }
    }
    out
}

/// IAM roles, by name: a role's path is not part of its identity.
async fn check_roles(c: &Clients, refs: &[&Reference]) -> Result<Findings, AwsError> {
    let names = by_key(refs, ReferenceKind::Role, |r| {
        let resource = r.arn()?.resource;
        resource.rsplit('/').next().map(str::to_owned)
    });
    let missing: Vec<Option<String>> = stream::iter(names.keys().cloned())
        .map(|name| async move {
            match c.iam.get_role().role_name(&name).send().await {
                Ok(_) => Ok(None),
                Err(e) => {
                    let e = AwsError::iam("GetRole", format!("role {name}"), e);
                    if e.kind() == ErrorKind::NotFound { Ok(Some(name)) } else { Err(e) }
                }
            }
        })
        .buffer_unordered(DESCRIBE_CONCURRENCY)
        .try_collect()
        .await?;
    let mut findings = Findings::default();
    for name in missing.into_iter().flatten() {
        for id in &names[&name] {
            findings.add(ReferenceKind::Role, *id, Problem::Missing);
        }
    }
    Ok(findings)
}

/// The secret's own ARN in a `valueFrom`: ECS allows `:json-key:version-stage:version-id`
/// after it.
fn secret_arn(id: &str) -> String {
    id.splitn(8, ':').take(7).collect::<Vec<_>>().join(":")
}

/// Secrets Manager secrets: their metadata only.
async fn check_secrets(c: &Clients, refs: &[&Reference]) -> Result<Findings, AwsError> {
    let secrets = by_key(refs, ReferenceKind::Secret, |r| Some(secret_arn(&r.id)));
    let problems: Vec<Option<(String, Problem)>> = stream::iter(secrets.keys().cloned())
        .map(|arn| async move {
            match c.secrets.describe_secret().secret_id(&arn).send().await {
                Ok(out) if out.deleted_date().is_some() => Ok(Some((arn, Problem::ScheduledForDeletion))),
                Ok(_) => Ok(None),
                Err(e) => {
                    let e = AwsError::secrets_manager("DescribeSecret", format!("secret {arn}"), e);
                    if e.kind() == ErrorKind::NotFound { Ok(Some((arn, Problem::Missing))) } else { Err(e) }
                }
            }
        })
        .buffer_unordered(DESCRIBE_CONCURRENCY)
        .try_collect()
        .await?;
    let mut findings = Findings::default();
    for (arn, problem) in problems.into_iter().flatten() {
        for id in &secrets[&arn] {
            findings.add(ReferenceKind::Secret, *id, problem.clone());
        }
    }
    Ok(findings)
}

/// The names a parameter ARN may stand for. `parameter/a/b` is `/a/b` (a name with a
/// hierarchy starts with `/`), but `parameter/db` is `db` or `/db`: the ARN drops the
/// leading slash. `None` for names DescribeParameters does not list: the
/// `/aws/reference/secretsmanager/...` and `/aws/service/...` public parameters.
fn parameter_names(id: &str) -> Option<Vec<String>> {
    let name = bosun_stackfile::references::Arn::parse(id)?.resource.strip_prefix("parameter/")?;
    if name.starts_with("aws/") {
        return None;
    }
    Some(if name.contains('/') { vec![format!("/{name}")] } else { vec![name.to_owned(), format!("/{name}")] })
}

/// SSM parameters, 50 names a call.
async fn check_parameters(c: &Clients, refs: &[&Reference]) -> Result<Findings, AwsError> {
    let wanted: BTreeMap<&str, Vec<String>> = refs
        .iter()
        .filter(|r| r.kind == ReferenceKind::Parameter)
        .filter_map(|r| Some((r.id.as_str(), parameter_names(&r.id)?)))
        .collect();
    let names: Vec<String> = wanted.values().flatten().cloned().collect::<BTreeSet<_>>().into_iter().collect();
    let found: Vec<Vec<String>> = stream::iter(names.chunks(PARAMETER_NAMES_PER_CALL).map(<[String]>::to_vec))
        .map(|batch| async move {
            let filter = ParameterStringFilter::builder()
                .key("Name")
                .option("Equals")
                .set_values(Some(batch.clone()))
                .build()
                .map_err(|e| AwsError::build("DescribeParameters", "parameters", e))?;
            let resource = || format!("parameters {}", batch.join(", "));
            let mut pages =
                c.ssm.describe_parameters().parameter_filters(filter).max_results(50).into_paginator().send();
            let mut found = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| AwsError::ssm("DescribeParameters", resource(), e))?;
                found.extend(page.parameters().iter().filter_map(|p| p.name()).map(str::to_owned));
            }
            Ok::<_, AwsError>(found)
        })
        .buffer_unordered(DESCRIBE_CONCURRENCY)
        .try_collect()
        .await?;
    let found: BTreeSet<String> = found.into_iter().flatten().collect();
    let mut findings = Findings::default();
    for (id, names) in wanted {
        if !names.iter().any(|n| found.contains(n)) {
            findings.add(ReferenceKind::Parameter, id, Problem::Missing);
        }
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_named_by_its_own_arn_whatever_ecs_adds() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";
        assert_eq!(secret_arn(arn), arn);
        assert_eq!(secret_arn(&format!("{arn}:password::")), arn);
        assert_eq!(secret_arn(&format!("{arn}:password:AWSCURRENT:")), arn);
    }

    #[test]
    fn a_parameter_arn_stands_for_one_name_or_two() {
        assert_eq!(parameter_names("arn:aws:ssm:us-east-1:123456789012:parameter/app/db").unwrap(), ["/app/db"]);
        assert_eq!(parameter_names("arn:aws:ssm:us-east-1:123456789012:parameter/db").unwrap(), ["db", "/db"]);
        assert_eq!(
            parameter_names("arn:aws:ssm:us-east-1:123456789012:parameter/aws/reference/secretsmanager/x"),
            None
        );
        assert_eq!(parameter_names("arn:aws:ssm:us-east-1:123456789012:document/x"), None);
    }
}
