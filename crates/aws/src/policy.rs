//! The IAM policy bosun needs, as `bosun iam-policy` prints it.
//!
//! Every AWS action the engine, the API and the scheduler call is here, scoped as tightly
//! as AWS's Service Authorization Reference allows for that action:
//! - creates carry `aws:RequestTag/bosun:managed-by`, and tagging is allowed as part of a
//!   create only (`ecs:CreateAction`, `elasticloadbalancing:CreateAction`);
//! - changes and deletes of existing resources need `aws:ResourceTag/bosun:managed-by`
//!   where the action supports that key (ECS, ELBv2); Cloud Map's do not, so they are
//!   scoped by account and region, and to the namespaces given;
//! - Route53 is limited to the hosted zones given, S3 and SQS to bosun's own bucket and
//!   queues, `iam:PassRole` to the ECS tasks service;
//! - taking over resources bosun did not create (`adopt: true`) is a statement of its
//!   own, which the user opts into;
//! - actions that AWS authorizes on `"*"` only are grouped, with a note that says so.
//!
//! The policy is data ([`Policy`]). It is larger than IAM lets a role hold inline (10,240
//! characters for all of a role's inline policies), so it is delivered as customer managed
//! policies ([`Documents`]): one per [`Part`], named after what it grants (`bosun-ecs`),
//! each at most [`DOCUMENT_BUDGET`] characters (IAM's limit is [`DOCUMENT_LIMIT`]). They
//! are rendered as JSON (an object of name to document; one document alone for `aws iam
//! create-policy`) or as YAML with a comment on each document and statement (for
//! CloudFormation `AWS::IAM::ManagedPolicy` resources). It is pure: no AWS call is made to
//! build it. [`iam_actions`] maps an SDK operation to the IAM actions it needs, so the
//! tests can check every call bosun made against it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;
use serde::ser::SerializeMap as _;

/// The tag key and value every condition on ownership uses.
const OWNED_KEY: &str = "bosun:managed-by";
const OWNED_VALUE: &str = bosun_plan::observed::tags::MANAGED_BY_VALUE;

/// What the policy is for: bosun's own resources and how far its reach goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The ARN partition: `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: String,
    /// The account the clusters live in; `*` for any.
    pub account: String,
    /// The region the clusters live in; `*` for any.
    pub region: String,
    /// bosun's state bucket (stackfiles, job records, leases).
    pub bucket: String,
    /// bosun's FIFO job queue; its dead-letter queue is `NAME-dlq.fifo`.
    pub queue: String,
    /// ECS clusters bosun may manage; empty for any cluster.
    pub clusters: BTreeSet<String>,
    /// Route53 hosted zones bosun may write alias records in. Without any, the policy
    /// grants no Route53 access at all.
    pub zones: BTreeSet<String>,
    /// Cloud Map namespaces (ids) bosun may create services in; empty for any
    /// namespace of the account and region.
    pub namespaces: BTreeSet<String>,
    /// Roles bosun may pass to ECS tasks (names or ARNs); empty for any role of the account.
    pub task_roles: BTreeSet<String>,
    /// Roles bosun assumes to reach clusters in other accounts (a stackfile's `aws.role_arn`).
    pub assume_roles: BTreeSet<String>,
    /// Grant the statement that takes over resources bosun did not create.
    pub adopt: bool,
}

impl Scope {
    /// A scope of any account, region, cluster and namespace, with no hosted zones.
    pub fn new(bucket: impl Into<String>, queue: impl Into<String>) -> Self {
        Self {
            partition: "aws".into(),
            account: "*".into(),
            region: "*".into(),
            bucket: bucket.into(),
            queue: queue.into(),
            clusters: BTreeSet::new(),
            zones: BTreeSet::new(),
            namespaces: BTreeSet::new(),
            task_roles: BTreeSet::new(),
            assume_roles: BTreeSet::new(),
            adopt: false,
        }
    }

    /// Add what a stackfile names: its hosted zones, task roles, and the role bosun
    /// assumes to reach its cluster.
    pub fn add_stackfile(&mut self, desired: &bosun_stackfile::Desired) {
        self.assume_roles.extend(desired.aws.role_arn.clone());
        for svc in desired.services.values() {
            if let Some(dns) = &svc.dns {
                self.zones.insert(dns.zone_id.clone());
            }
            let td = &svc.task_definition;
            self.task_roles.extend(td.task_role_arn.iter().chain(&td.execution_role_arn).cloned());
        }
    }

    fn arn(&self, service: &str, resource: &str) -> String {
        format!("arn:{}:{service}:{}:{}:{resource}", self.partition, self.region, self.account)
    }

    /// `cluster/NAME`, `service/NAME/*`, ... for each cluster, or the wildcard.
    fn ecs(&self, kind: &str, suffix: &str) -> Vec<String> {
        if self.clusters.is_empty() {
            return vec![self.arn("ecs", &format!("{kind}/*{suffix}"))];
        }
        self.clusters.iter().map(|c| self.arn("ecs", &format!("{kind}/{c}{suffix}"))).collect()
    }

    /// Task definition families are `<cluster>-<service>`.
    fn task_definitions(&self) -> Vec<String> {
        if self.clusters.is_empty() {
            return vec![self.arn("ecs", "task-definition/*:*")];
        }
        self.clusters.iter().map(|c| self.arn("ecs", &format!("task-definition/{c}-*:*"))).collect()
    }

    fn elb(&self, resources: &[&str]) -> Vec<String> {
        resources.iter().map(|r| self.arn("elasticloadbalancing", r)).collect()
    }

    fn queues(&self) -> Vec<String> {
        let dlq = match self.queue.strip_suffix(".fifo") {
            Some(stem) => format!("{stem}-dlq.fifo"),
            None => format!("{}-dlq", self.queue),
        };
        vec![self.arn("sqs", &self.queue), self.arn("sqs", &dlq)]
    }

    fn roles(&self) -> Vec<String> {
        if self.task_roles.is_empty() {
            return vec![format!("arn:{}:iam::{}:role/*", self.partition, self.account)];
        }
        let to_arn = |r: &String| {
            if r.starts_with("arn:") {
                r.clone()
            } else {
                format!("arn:{}:iam::{}:role/{r}", self.partition, self.account)
            }
        };
        self.task_roles.iter().map(to_arn).collect()
    }
}

/// One statement of the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    /// A name for the statement, unique in the policy.
    pub sid: &'static str,
    /// Always `Allow`: bosun's policy grants and never denies.
    pub effect: &'static str,
    /// IAM actions, `service:Action`.
    pub action: Vec<&'static str>,
    /// Resource ARNs (or `*` where AWS takes none).
    pub resource: Vec<String>,
    /// Conditions: operator -> key -> values. All must hold.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub condition: BTreeMap<&'static str, BTreeMap<String, Vec<String>>>,
    /// Why the statement is there and why it is scoped as it is (YAML comments only).
    #[serde(skip)]
    pub note: &'static str,
}

impl Statement {
    fn new(sid: &'static str, note: &'static str, action: &[&'static str], resource: Vec<String>) -> Self {
        Self { sid, effect: "Allow", action: action.to_vec(), resource, condition: BTreeMap::new(), note }
    }

    fn when(mut self, operator: &'static str, key: &str, values: &[&str]) -> Self {
        let values = values.iter().map(|v| (*v).to_owned()).collect();
        self.condition.entry(operator).or_default().insert(key.to_owned(), values);
        self
    }

    fn request_tagged(self) -> Self {
        self.when("StringEquals", &format!("aws:RequestTag/{OWNED_KEY}"), &[OWNED_VALUE])
    }

    fn owned(self) -> Self {
        self.when("StringEquals", &format!("aws:ResourceTag/{OWNED_KEY}"), &[OWNED_VALUE])
    }

    /// Only bosun's own tag keys may be written.
    fn bosun_tag_keys(self) -> Self {
        self.when("ForAllValues:StringLike", "aws:TagKeys", &["bosun:*"])
    }
}

/// An IAM policy document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    /// Always `2012-10-17`.
    pub version: &'static str,
    /// The statements, in the order they are printed.
    pub statement: Vec<Statement>,
}

/// The operations of the ECS API that take no resource ARN, or whose resource bosun
/// cannot name (a task definition family is known, its revisions are not).
const UNSCOPED_READS: &[&str] = &[
    "acm:ListCertificates",
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:DescribeScalingPolicies",
    "application-autoscaling:DescribeScheduledActions",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    "ecs:DescribeTaskDefinition",
    "ecs:ListServices",
    "ecs:ListTaskDefinitionFamilies",
    "ecs:ListTaskDefinitions",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroups",
    "logs:DescribeLogGroups",
    "secretsmanager:ListSecrets",
    "servicediscovery:ListNamespaces",
    "servicediscovery:ListServices",
    "servicediscovery:ListTagsForResource",
    "ssm:DescribeParameters",
    "sts:GetCallerIdentity",
];

impl Policy {
    /// The whole policy for `scope`: every statement of its [`Documents`], in their order.
    pub fn new(scope: &Scope) -> Self {
        Self::of(groups(scope).into_iter().flat_map(|(_, group)| group).collect())
    }

    fn of(statement: Vec<Statement>) -> Self {
        Self { version: "2012-10-17", statement }
    }

    /// The characters IAM counts in this document: its JSON without whitespace. (No string
    /// of a policy holds whitespace; notes are not part of it.)
    pub fn size(&self) -> usize {
        serde_json::to_string(self).expect("a policy always serialises").chars().count()
    }

    /// Whether some statement grants `action` (`service:Action`), whatever its resource
    /// and conditions: the question "did bosun call something its policy leaves out?".
    pub fn grants(&self, action: &str) -> bool {
        self.statement.iter().any(|s| s.action.iter().any(|a| action_matches(a, action)))
    }

    /// The policy as IAM's JSON (for `aws iam create-policy --policy-document file://...`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a policy always serialises")
    }

    /// The policy as YAML, with a comment above each statement: the form a CloudFormation
    /// template's `PolicyDocument` takes.
    pub fn to_yaml(&self) -> String {
        let q = quote;
        let mut out = String::new();
        let _ = writeln!(out, "Version: {}", q(self.version));
        let _ = writeln!(out, "Statement:");
        for st in &self.statement {
            for line in wrap(st.note, 96) {
                let _ = writeln!(out, "  # {line}");
            }
            let _ = writeln!(out, "  - Sid: {}", q(st.sid));
            let _ = writeln!(out, "    Effect: {}", q(st.effect));
            let _ = writeln!(out, "    Action:");
            for a in &st.action {
                let _ = writeln!(out, "      - {}", q(a));
            }
            let _ = writeln!(out, "    Resource:");
            for r in &st.resource {
                let _ = writeln!(out, "      - {}", q(r));
            }
            if !st.condition.is_empty() {
                let _ = writeln!(out, "    Condition:");
                for (op, keys) in &st.condition {
                    let _ = writeln!(out, "      {}:", q(op));
                    for (key, values) in keys {
                        let _ = writeln!(out, "        {}:", q(key));
                        for v in values {
                            let _ = writeln!(out, "          - {}", q(v));
                        }
                    }
                }
            }
        }
        out
    }
}

/// IAM's limit on a customer managed policy: characters of its JSON, whitespace not counted.
pub const DOCUMENT_LIMIT: usize = 6_144;

/// What bosun puts in one managed policy: IAM's limit less a margin, so that a document
/// IAM stores spelled a little differently (a list of one as a string, or the reverse, as
/// CloudFormation may pass it) still fits.
pub const DOCUMENT_BUDGET: usize = 6_000;

/// The managed policies a role may hold by default (IAM's quota; up to 20 on request).
pub const DOCUMENT_QUOTA: usize = 10;

/// The managed policies bosun's statements are delivered in, in the order they are
/// printed. Each holds groups of related statements and is named after what it grants;
/// which statements go in which part does not depend on the scope, so the names stay put
/// when zones, clusters or roles are added (CloudFormation replaces a managed policy
/// whose name changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// Reads of live state, of what stackfiles reference, and of image tags.
    Reads,
    /// ECS clusters, services, task definitions and hook tasks, and the roles passed to tasks.
    Ecs,
    /// ELBv2 load balancers, listeners, rules and target groups.
    Elb,
    /// Cloud Map namespaces and services, and Route53 records.
    Dns,
    /// Application Auto Scaling of services' desired counts, and log groups.
    ScalingLogs,
    /// bosun's state bucket and job queues, and the roles it assumes.
    State,
    /// Taking over resources bosun did not create (`--adopt` only).
    Adopt,
}

impl Part {
    /// Every part, in the order the documents are printed.
    pub const ALL: [Part; 7] =
        [Part::Reads, Part::Ecs, Part::Elb, Part::Dns, Part::ScalingLogs, Part::State, Part::Adopt];

    /// The managed policy's name.
    pub fn name(self) -> &'static str {
        match self {
            Part::Reads => "bosun-reads",
            Part::Ecs => "bosun-ecs",
            Part::Elb => "bosun-elb",
            Part::Dns => "bosun-dns",
            Part::ScalingLogs => "bosun-autoscaling-logs",
            Part::State => "bosun-state",
            Part::Adopt => "bosun-adopt",
        }
    }

    /// What the managed policy grants, in a sentence.
    pub fn about(self) -> &'static str {
        match self {
            Part::Reads => {
                "Reads of live state, of what stackfiles reference (preflight, `bosun import`) and of image tags."
            }
            Part::Ecs => {
                "ECS: the clusters, services and task definitions bosun creates and changes, its hook tasks, \
                 and the roles it passes to tasks."
            }
            Part::Elb => "ELBv2: the load balancers, listeners, rules and target groups bosun creates and changes.",
            Part::Dns => "Cloud Map namespaces and services, and Route53 records in the hosted zones given.",
            Part::ScalingLogs => {
                "Application Auto Scaling of ECS services' desired counts, and the log groups of \
                 `logging.create_group`."
            }
            Part::State => {
                "bosun's state bucket and job queues, and the roles it assumes to reach clusters in other accounts."
            }
            Part::Adopt => "Opt-in (--adopt): taking over resources bosun did not create (`adopt: true`).",
        }
    }
}

/// Every statement for `scope`, in groups, each with the part it is delivered in.
fn groups(s: &Scope) -> Vec<(Part, Vec<Statement>)> {
    let mut groups = vec![
        (Part::Reads, reads(s)),
        (Part::Ecs, ecs(s)),
        (Part::Elb, elb(s)),
        (Part::Dns, cloud_map(s)),
        (Part::Dns, route53(s)),
        (Part::ScalingLogs, autoscaling(s)),
        (Part::ScalingLogs, logs(s)),
        (Part::State, state(s)),
        (Part::State, assume(s)),
    ];
    if s.adopt {
        groups.push((Part::Adopt, adoption(s)));
    }
    groups
}

/// One customer managed policy of bosun's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The policy's name: its part's (`bosun-ecs`), or with `-2`, `-3`, ... for the rest of a
    /// part too large for one document (many clusters, zones or roles named).
    pub name: String,
    /// What it grants: the YAML's comment above it, a template's `Description`.
    pub about: &'static str,
    /// Its statements, at most [`DOCUMENT_BUDGET`] characters of them.
    pub policy: Policy,
}

/// A statement too large for a managed policy on its own.
#[derive(Debug, thiserror::Error)]
#[error(
    "statement {sid} alone takes {size} characters, more than the {DOCUMENT_BUDGET} bosun puts in one managed \
     policy (IAM's limit: {DOCUMENT_LIMIT})"
)]
pub struct TooLarge {
    /// The statement.
    pub sid: &'static str,
    /// Its characters, as a document of its own.
    pub size: usize,
}

/// bosun's policy as IAM takes it: the managed policies of [`Policy::new`]'s statements,
/// each within [`DOCUMENT_BUDGET`], in [`Part`] order (a part without statements, such as
/// [`Part::Adopt`] without `--adopt`, has no document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Documents(pub Vec<Document>);

impl Documents {
    /// The documents for `scope`. A part too large for one document goes on into the next
    /// (`bosun-ecs-2`), statement by statement in order; a statement too large on its own
    /// is an error.
    pub fn new(scope: &Scope) -> Result<Self, TooLarge> {
        let groups = groups(scope);
        let mut documents = Vec::new();
        for part in Part::ALL {
            let statements = groups.iter().filter(|(p, _)| *p == part).flat_map(|(_, group)| group);
            let mut chunks: Vec<Vec<Statement>> = Vec::new();
            for st in statements {
                let alone = Policy::of(vec![st.clone()]).size();
                if alone > DOCUMENT_BUDGET {
                    return Err(TooLarge { sid: st.sid, size: alone });
                }
                let fits = |chunk: &Vec<Statement>| {
                    Policy::of([chunk.as_slice(), std::slice::from_ref(st)].concat()).size() <= DOCUMENT_BUDGET
                };
                match chunks.last_mut() {
                    Some(chunk) if fits(chunk) => chunk.push(st.clone()),
                    _ => chunks.push(vec![st.clone()]),
                }
            }
            for (i, chunk) in chunks.into_iter().enumerate() {
                let name = if i == 0 { part.name().to_owned() } else { format!("{}-{}", part.name(), i + 1) };
                documents.push(Document { name, about: part.about(), policy: Policy::of(chunk) });
            }
        }
        Ok(Self(documents))
    }

    /// The document called `name`.
    pub fn get(&self, name: &str) -> Option<&Document> {
        self.0.iter().find(|d| d.name == name)
    }

    /// The documents' names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|d| d.name.as_str()).collect()
    }

    /// A JSON object of name to policy document, in order.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a policy always serialises")
    }

    /// A YAML mapping of name to policy document, with a comment on each document and
    /// statement: each value is the `PolicyDocument` of a CloudFormation
    /// `AWS::IAM::ManagedPolicy`.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        for (i, doc) in self.0.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&doc.to_yaml_comment());
            let _ = writeln!(out, "{}:", quote(&doc.name));
            for line in doc.policy.to_yaml().lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        out
    }
}

impl Document {
    /// `# NAME: what it grants`, wrapped.
    pub fn to_yaml_comment(&self) -> String {
        let mut out = String::new();
        for line in wrap(&format!("{}: {}", self.name, self.about), 96) {
            let _ = writeln!(out, "# {line}");
        }
        out
    }
}

impl Serialize for Documents {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for doc in &self.0 {
            map.serialize_entry(&doc.name, &doc.policy)?;
        }
        map.end()
    }
}

/// A string as a YAML (and JSON) double-quoted scalar.
fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serialises")
}

/// Reads: of live state, of what a stackfile references (preflight), of what `bosun
/// import` takes over, and of image tags.
fn reads(s: &Scope) -> Vec<Statement> {
    vec![
        Statement::new(
            "ReadWithoutResourceScope",
            "Reads of live state and of what a stackfile references. AWS authorizes these \
             actions on \"*\" only: they take no resource ARN. None of them reads a secret's \
             or a parameter's value.",
            UNSCOPED_READS,
            vec!["*".into()],
        ),
        Statement::new(
            "ReadEcs",
            "Reads of the clusters, services and one-off tasks bosun manages.",
            &["ecs:DescribeClusters", "ecs:DescribeServices", "ecs:DescribeTasks"],
            [s.ecs("cluster", ""), s.ecs("service", "/*"), s.ecs("task", "/*")].concat(),
        ),
        Statement::new(
            "ReadReferences",
            "Preflight: the certificates, roles and secrets a stackfile names must exist \
             (metadata only; never a secret's value).",
            &["acm:DescribeCertificate", "iam:GetRole", "secretsmanager:DescribeSecret"],
            vec![
                s.arn("acm", "certificate/*"),
                format!("arn:{}:iam::{}:role/*", s.partition, s.account),
                s.arn("secretsmanager", "secret:*"),
            ],
        ),
        Statement::new(
            "ReadCloudMap",
            "`bosun import`: the Cloud Map services a cluster's services register in, and their namespaces.",
            &["servicediscovery:GetNamespace", "servicediscovery:GetService"],
            vec![s.arn("servicediscovery", "namespace/*"), s.arn("servicediscovery", "service/*")],
        ),
        Statement::new(
            "ReadImageTags",
            "Image tags offered by the chat and the web UI. Repositories may live in any \
             account and region the stackfiles pull from.",
            &["ecr:DescribeImages"],
            vec![format!("arn:{}:ecr:*:*:repository/*", s.partition)],
        ),
    ]
}

/// ECS: clusters, services, task definitions and hook tasks.
fn ecs(s: &Scope) -> Vec<Statement> {
    vec![
        Statement::new(
            "EcsCreate",
            "Clusters, services and task definitions are created with bosun's tags.",
            &["ecs:CreateCluster", "ecs:CreateService", "ecs:RegisterTaskDefinition"],
            [s.ecs("cluster", ""), s.ecs("service", "/*"), s.task_definitions()].concat(),
        )
        .request_tagged(),
        Statement::new(
            "EcsTagOnCreate",
            "Tagging is allowed as part of a create only, and only with bosun's tags.",
            &["ecs:TagResource"],
            [s.ecs("cluster", ""), s.ecs("service", "/*"), s.task_definitions(), s.ecs("task", "/*")].concat(),
        )
        .when(
            "StringEquals",
            "ecs:CreateAction",
            &["CreateCluster", "CreateService", "RegisterTaskDefinition", "RunTask"],
        )
        .request_tagged(),
        Statement::new(
            "EcsClusterOwned",
            "The settings of the cluster bosun created (`cluster:`): capacity providers, default strategy, Container Insights.",
            &["ecs:PutClusterCapacityProviders", "ecs:UpdateCluster"],
            s.ecs("cluster", ""),
        )
        .owned(),
        Statement::new(
            "EcsChangeOwned",
            "Services bosun created: updated (image, count, deployment settings) and deleted (prune).",
            &["ecs:DeleteService", "ecs:UpdateService"],
            s.ecs("service", "/*"),
        )
        .owned(),
        Statement::new(
            "EcsTagOwned",
            "The revision a service of bosun's runs is recorded in bosun's own tags on it.",
            &["ecs:TagResource"],
            s.ecs("service", "/*"),
        )
        .owned()
        .bosun_tag_keys(),
        Statement::new(
            "EcsRunHooks",
            "Pre- and post-deploy hooks: one-off tasks of bosun's task definitions (the families \
             of the clusters given), started with bosun's tags.",
            &["ecs:RunTask"],
            s.task_definitions(),
        )
        .request_tagged(),
        Statement::new(
            "EcsDeregisterRevisions",
            "Revisions left over by an interrupted registration. This action takes no resource \
             ARN and no tag condition (AWS authorizes it on \"*\" only); bosun deregisters only \
             revisions whose tags say they are its own.",
            &["ecs:DeregisterTaskDefinition"],
            vec!["*".into()],
        ),
        Statement::new(
            "PassRolesToTasks",
            "Task and execution roles named in the stackfiles, passed to ECS tasks only.",
            &["iam:PassRole"],
            s.roles(),
        )
        .when("StringEquals", "iam:PassedToService", &["ecs-tasks.amazonaws.com"]),
    ]
}

/// ELBv2: load balancers, listeners, rules and target groups.
fn elb(s: &Scope) -> Vec<Statement> {
    vec![
        Statement::new(
            "ElbCreate",
            "Load balancers, target groups, listeners and rules are created with bosun's tags.",
            &[
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:CreateLoadBalancer",
                "elasticloadbalancing:CreateRule",
                "elasticloadbalancing:CreateTargetGroup",
            ],
            s.elb(&["loadbalancer/app/*/*", "listener/app/*/*/*", "targetgroup/*/*"]),
        )
        .request_tagged(),
        Statement::new(
            "ElbTagOnCreate",
            "Tagging is allowed as part of a create only, and only with bosun's tags.",
            &["elasticloadbalancing:AddTags"],
            s.elb(&["loadbalancer/app/*/*", "listener/app/*/*/*", "listener-rule/app/*/*/*/*", "targetgroup/*/*"]),
        )
        .when(
            "StringEquals",
            "elasticloadbalancing:CreateAction",
            &["CreateListener", "CreateLoadBalancer", "CreateRule", "CreateTargetGroup"],
        )
        .request_tagged(),
        Statement::new(
            "ElbChangeOwned",
            "Load balancers, listeners, rules and target groups bosun created: changed and deleted.",
            &[
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:DeleteRule",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:SetSecurityGroups",
                "elasticloadbalancing:SetSubnets",
            ],
            s.elb(&["loadbalancer/app/*/*", "listener/app/*/*/*", "listener-rule/app/*/*/*/*", "targetgroup/*/*"]),
        )
        .owned(),
        Statement::new(
            "ElbTagOwned",
            "bosun's own tags on its own load balancers (the hosted zone of a record that points at one).",
            &["elasticloadbalancing:AddTags"],
            s.elb(&["loadbalancer/app/*/*", "targetgroup/*/*"]),
        )
        .owned()
        .bosun_tag_keys(),
    ]
}

fn cloud_map(s: &Scope) -> Vec<Statement> {
    let namespaces: Vec<String> = if s.namespaces.is_empty() {
        vec![s.arn("servicediscovery", "namespace/*")]
    } else {
        s.namespaces.iter().map(|n| s.arn("servicediscovery", &format!("namespace/{n}"))).collect()
    };
    vec![
        Statement::new(
            "CloudMapCreateNamespace",
            "The private DNS namespace of `service_discovery`, created with bosun's tags. \
             AWS authorizes this action on \"*\" only: it takes no resource ARN.",
            &["servicediscovery:CreatePrivateDnsNamespace"],
            vec!["*".into()],
        )
        .request_tagged(),
        Statement::new(
            "CloudMapNamespaceDependencies",
            "What Cloud Map calls as bosun when it creates a private DNS namespace (its hosted \
             zone in the VPC). These actions take no resource ARN (AWS authorizes them on \"*\" only).",
            &["ec2:DescribeRegions", "ec2:DescribeVpcs", "route53:CreateHostedZone", "route53:ListHostedZonesByName"],
            vec!["*".into()],
        ),
        Statement::new(
            "CloudMapCreateServices",
            "Cloud Map services of `dns_discovery`, in the namespaces given, with bosun's tags.",
            &["servicediscovery:CreateService"],
            [namespaces.clone(), vec![s.arn("servicediscovery", "service/*")]].concat(),
        )
        .request_tagged(),
        Statement::new(
            "CloudMapTagOnCreate",
            "Cloud Map's tagging takes no resource ARN (AWS authorizes it on \"*\" only) and has no \
             create-action condition: it is limited to bosun's own tags.",
            &["servicediscovery:TagResource"],
            vec!["*".into()],
        )
        .request_tagged()
        .bosun_tag_keys(),
        Statement::new(
            "CloudMapChangeServices",
            "Cloud Map services: TTL updates, deletes (prune), and the operations they start. Cloud \
             Map supports no tag condition on these actions; they are scoped to the account and \
             region, and bosun changes only services whose tags say they are its own.",
            &["servicediscovery:DeleteService", "servicediscovery:GetOperation", "servicediscovery:UpdateService"],
            [namespaces, vec![s.arn("servicediscovery", "service/*")]].concat(),
        ),
    ]
}

fn route53(s: &Scope) -> Vec<Statement> {
    // Cloud Map's namespace creation reads the hosted zone it made, whatever the zones given.
    let mut zones: Vec<String> =
        s.zones.iter().map(|z| format!("arn:{}:route53:::hostedzone/{z}", s.partition)).collect();
    if zones.is_empty() {
        zones.push(format!("arn:{}:route53:::hostedzone/*", s.partition));
        return vec![Statement::new(
            "Route53ReadZones",
            "No hosted zones were given (--zone-id, or stackfiles with `dns:`): bosun may read \
             hosted zones but write no record.",
            &["route53:GetHostedZone"],
            zones,
        )];
    }
    vec![
        Statement::new(
            "Route53ReadZones",
            "The hosted zones the stackfiles name: their records (owned ones carry a TXT marker).",
            &["route53:GetHostedZone", "route53:ListResourceRecordSets"],
            zones.clone(),
        ),
        Statement::new(
            "Route53WriteRecords",
            "Alias A records and bosun's TXT ownership markers, in those zones only.",
            &["route53:ChangeResourceRecordSets"],
            zones,
        )
        .when("ForAllValues:StringEquals", "route53:ChangeResourceRecordSetsRecordTypes", &["A", "TXT"]),
    ]
}

fn state(s: &Scope) -> Vec<Statement> {
    let bucket = format!("arn:{}:s3:::{}", s.partition, s.bucket);
    vec![
        Statement::new(
            "StateBucketList",
            "bosun's state bucket: stackfile history and records are listed by version.",
            &["s3:ListBucket", "s3:ListBucketVersions"],
            vec![bucket.clone()],
        ),
        Statement::new(
            "StateBucketObjects",
            "Stackfiles (conditional writes), job records, cluster status, leases, locks, proposals.",
            &["s3:DeleteObject", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            vec![format!("{bucket}/*")],
        ),
        Statement::new(
            "JobQueues",
            "The FIFO job queue and its dead-letter queue.",
            &[
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
                "sqs:SendMessage",
            ],
            s.queues(),
        ),
    ]
}

fn assume(s: &Scope) -> Vec<Statement> {
    if s.assume_roles.is_empty() {
        return Vec::new();
    }
    vec![Statement::new(
        "AssumeClusterRoles",
        "Clusters in other accounts or regions, reached through the role their stackfile names.",
        &["sts:AssumeRole"],
        s.assume_roles.iter().cloned().collect(),
    )]
}

fn adoption(s: &Scope) -> Vec<Statement> {
    vec![
        Statement::new(
            "AdoptEcs",
            "Opt-in (--adopt): services bosun did not create, taken over by `adopt: true`. The \
             first update goes out together with bosun's tags, before the service carries them.",
            &["ecs:UpdateService"],
            s.ecs("service", "/*"),
        ),
        Statement::new(
            "AdoptElb",
            "Opt-in (--adopt): load balancers, listeners, rules and target groups of adopted services.",
            &[
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:ModifyTargetGroup",
            ],
            s.elb(&["listener/app/*/*/*", "listener-rule/app/*/*/*/*", "targetgroup/*/*"]),
        ),
        Statement::new(
            "AdoptTagsOnly",
            "Opt-in (--adopt): an adopted resource gets bosun's tags and no others.",
            &["ecs:TagResource", "elasticloadbalancing:AddTags"],
            [s.ecs("service", "/*"), s.elb(&["loadbalancer/app/*/*", "targetgroup/*/*"])].concat(),
        )
        .request_tagged()
        .bosun_tag_keys(),
    ]
}

/// Application Auto Scaling: the scalable targets of services with `autoscaling:`, their
/// target-tracking policies and scheduled actions.
fn autoscaling(s: &Scope) -> Vec<Statement> {
    // A target's ARN ends in an id AWS makes up, so it cannot be scoped to a cluster;
    // the conditions keep every change to ECS services' desired counts. Application Auto
    // Scaling's actions take `aws:ResourceTag` on the target only, not as an action
    // condition key, so ownership of an existing target is checked by bosun (its tags
    // are read before any change), as for Cloud Map.
    let targets = vec![s.arn("application-autoscaling", "scalable-target/*")];
    let ecs_count = |st: Statement| {
        st.when("StringEquals", "application-autoscaling:service-namespace", &["ecs"]).when(
            "StringEquals",
            "application-autoscaling:scalable-dimension",
            &["ecs:service:DesiredCount"],
        )
    };
    vec![
        Statement::new(
            "AutoscalingReadTags",
            "The tags that say which scalable targets are bosun's.",
            &["application-autoscaling:ListTagsForResource"],
            targets.clone(),
        ),
        ecs_count(Statement::new(
            "AutoscalingChange",
            "Scalable targets of ECS services' desired counts: registered (a new one with bosun's              tags), their bounds set, their target-tracking policies and scheduled actions put and              deleted, and deregistered when a service's `autoscaling` is removed.",
            &[
                "application-autoscaling:DeleteScalingPolicy",
                "application-autoscaling:DeleteScheduledAction",
                "application-autoscaling:DeregisterScalableTarget",
                "application-autoscaling:PutScalingPolicy",
                "application-autoscaling:PutScheduledAction",
            ],
            targets.clone(),
        )),
        ecs_count(Statement::new(
            "AutoscalingRegister",
            "Scalable targets registered and their bounds set, always with bosun's tags.",
            &["application-autoscaling:RegisterScalableTarget"],
            targets.clone(),
        ))
        .request_tagged(),
        Statement::new(
            "AutoscalingTagOnCreate",
            "RegisterScalableTarget tags a new target through TagResource: bosun's tags only.",
            &["application-autoscaling:TagResource"],
            targets,
        )
        .request_tagged()
        .bosun_tag_keys(),
    ]
}

/// CloudWatch Logs: the log groups of `logging.create_group`.
fn logs(s: &Scope) -> Vec<Statement> {
    // Any group name: a stackfile's `awslogs-group` is not derived from the cluster.
    // CloudWatch Logs takes `aws:ResourceTag` on the group only, not as an action
    // condition key: bosun reads a group's tags before it changes its retention.
    let groups = vec![s.arn("logs", "log-group:*")];
    vec![
        Statement::new(
            "LogsCreate",
            "Log groups of `logging.create_group`, created with bosun's tags.",
            &["logs:CreateLogGroup", "logs:TagResource"],
            groups.clone(),
        )
        .request_tagged()
        .bosun_tag_keys(),
        Statement::new(
            "LogsRetention",
            "The tags that say which groups are bosun's, and the retention of those.",
            &["logs:DeleteRetentionPolicy", "logs:ListTagsForResource", "logs:PutRetentionPolicy"],
            groups,
        ),
    ]
}

/// IAM's wildcard match of an action pattern (`ecs:Describe*`), case-insensitive as IAM is.
fn action_matches(pattern: &str, action: &str) -> bool {
    let (pattern, action) = (pattern.to_ascii_lowercase(), action.to_ascii_lowercase());
    match pattern.split_once('*') {
        None => pattern == action,
        Some((head, tail)) => {
            action.len() >= head.len() + tail.len() && action.starts_with(head) && action.ends_with(tail)
        }
    }
}

/// The IAM actions an SDK operation needs, from the service name the SDK reports
/// (`ECS`, `Elastic Load Balancing v2`, ...) and the operation's name. `None` for a
/// service bosun does not know.
pub fn iam_actions(service: &str, operation: &str) -> Option<Vec<String>> {
    let prefix = match service {
        "ECS" => "ecs",
        "Elastic Load Balancing v2" => "elasticloadbalancing",
        "Route 53" => "route53",
        "ServiceDiscovery" => "servicediscovery",
        "S3" => "s3",
        "SQS" => "sqs",
        "ECR" => "ecr",
        "EC2" => "ec2",
        "ACM" => "acm",
        "IAM" => "iam",
        "Secrets Manager" => "secretsmanager",
        "Application Auto Scaling" => "application-autoscaling",
        "CloudWatch Logs" => "logs",
        "SSM" => "ssm",
        "STS" => "sts",
        _ => return None,
    };
    // S3's operations and IAM's actions differ in name; everything else is `prefix:Operation`.
    let action = match (prefix, operation) {
        ("s3", "HeadObject") => "GetObject",
        ("s3", "HeadBucket" | "ListObjects" | "ListObjectsV2") => "ListBucket",
        ("s3", "ListObjectVersions") => "ListBucketVersions",
        ("s3", "GetBucketLifecycleConfiguration") => "GetLifecycleConfiguration",
        ("s3", "PutBucketLifecycleConfiguration") => "PutLifecycleConfiguration",
        (_, op) => op,
    };
    Some(vec![format!("{prefix}:{action}")])
}

/// Split a note into lines of at most `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("never empty");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_owned());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        let mut s = Scope::new("bosun-state", "bosun-jobs.fifo");
        s.account = "123456789012".into();
        s.region = "eu-west-1".into();
        s.zones.insert("Z0123456789ABC".into());
        s
    }

    #[test]
    fn every_statement_has_a_unique_sid_and_a_note() {
        let mut s = scope();
        s.adopt = true;
        s.assume_roles.insert("arn:aws:iam::210987654321:role/bosun-target".into());
        let policy = Policy::new(&s);
        let sids: BTreeSet<_> = policy.statement.iter().map(|s| s.sid).collect();
        assert_eq!(sids.len(), policy.statement.len(), "duplicate Sid");
        for st in &policy.statement {
            assert!(
                st.sid.chars().all(|c| c.is_ascii_alphanumeric()),
                "IAM allows only [A-Za-z0-9] in a Sid: {}",
                st.sid
            );
            assert!(!st.note.is_empty() && !st.action.is_empty() && !st.resource.is_empty(), "{st:?}");
        }
    }

    #[test]
    fn a_policy_grants_no_secret_values_and_no_wildcard_actions() {
        let policy = Policy::new(&scope());
        for st in &policy.statement {
            for a in &st.action {
                assert!(!a.contains('*'), "{a}: every action is named");
                assert!(
                    !["secretsmanager:GetSecretValue", "ssm:GetParameter", "ssm:GetParameters"].contains(a),
                    "{a} reads a value"
                );
            }
        }
        assert!(!policy.grants("secretsmanager:GetSecretValue"));
        assert!(!policy.grants("secretsmanager:BatchGetSecretValue"));
        assert!(!policy.grants("ssm:GetParameters"));
        assert!(!policy.grants("iam:CreateRole"));
    }

    #[test]
    fn mutations_of_ecs_and_elb_need_bosun_tags() {
        let policy = Policy::new(&scope());
        let owned = format!("aws:ResourceTag/{OWNED_KEY}");
        let requested = format!("aws:RequestTag/{OWNED_KEY}");
        for st in &policy.statement {
            let keys: BTreeSet<&String> = st.condition.values().flat_map(|k| k.keys()).collect();
            for a in &st.action {
                let (svc, op) = a.split_once(':').expect("service:Action");
                if !matches!(svc, "ecs" | "elasticloadbalancing") || !crate::stats::is_mutating(op) {
                    continue;
                }
                if *a == "ecs:DeregisterTaskDefinition" {
                    continue; // takes no resource ARN and no condition: see its note
                }
                assert!(
                    keys.contains(&owned) || keys.contains(&requested),
                    "{a} in {} is granted without a bosun tag condition",
                    st.sid
                );
            }
        }
    }

    #[test]
    fn adoption_is_opt_in() {
        let plain = Policy::new(&scope());
        assert!(plain.statement.iter().all(|s| !s.sid.starts_with("Adopt")));
        let mut s = scope();
        s.adopt = true;
        let adopting = Policy::new(&s);
        assert!(adopting.statement.iter().any(|s| s.sid == "AdoptEcs"));
    }

    #[test]
    fn without_zones_no_record_can_be_written() {
        let mut s = scope();
        s.zones.clear();
        assert!(!Policy::new(&s).grants("route53:ChangeResourceRecordSets"));
        assert!(Policy::new(&scope()).grants("route53:ChangeResourceRecordSets"));
    }

    #[test]
    fn clusters_scope_ecs_arns() {
        let mut s = scope();
        s.clusters.insert("staging".into());
        let policy = Policy::new(&s);
        let create = policy.statement.iter().find(|s| s.sid == "EcsCreate").expect("EcsCreate");
        assert_eq!(
            create.resource,
            [
                "arn:aws:ecs:eu-west-1:123456789012:cluster/staging",
                "arn:aws:ecs:eu-west-1:123456789012:service/staging/*",
                "arn:aws:ecs:eu-west-1:123456789012:task-definition/staging-*:*",
            ]
        );
    }

    #[test]
    fn yaml_and_json_agree() {
        let mut s = scope();
        s.adopt = true;
        let documents = Documents::new(&s).expect("the documents");
        let from_yaml: serde_json::Value = yaml_serde::from_str(&documents.to_yaml()).expect("the YAML parses");
        let from_json: serde_json::Value = serde_json::from_str(&documents.to_json()).expect("the JSON parses");
        assert_eq!(from_yaml, from_json);
        // In order (serde_json's map sorts its keys: look at the text).
        let json = documents.to_json();
        let at: Vec<usize> =
            documents.names().iter().map(|n| json.find(&format!("\n  \"{n}\": {{")).expect("each name")).collect();
        assert!(at.is_sorted(), "{at:?}");
        for doc in &documents.0 {
            let from_yaml: serde_json::Value = yaml_serde::from_str(&doc.policy.to_yaml()).expect("the YAML parses");
            assert_eq!(from_yaml, from_json[&doc.name], "{}", doc.name);
        }
        insta::assert_snapshot!(documents.to_yaml());
    }

    /// Everything a scope can name, several of each, as a large installation has them.
    fn worst_case() -> Scope {
        let mut s = scope();
        s.adopt = true;
        s.clusters.extend(["production", "staging", "preview"].map(String::from));
        s.zones.extend((1..=8).map(|i| format!("Z0{i}23456789ABCDEFGHIJ")));
        s.namespaces.extend((1..=4).map(|i| format!("ns-{i}bcdefghijklmnop")));
        s.assume_roles.extend((1..=4).map(|i| format!("arn:aws:iam::21098765432{i}:role/bosun-target")));
        // Two stackfiles of twelve services, each with its own task role and a shared
        // execution role, each cluster reached through a role of its own.
        for cluster in ["production", "staging"] {
            let mut text = format!("aws:\n  role_arn: arn:aws:iam::210987654329:role/bosun-{cluster}\nservices:\n");
            for i in 1..=12 {
                let _ = write!(
                    text,
                    "  - svc-{i:02}:\n      image: nginx:1.27\n      memory: 256\n      \
                     task_role_arn: arn:aws:iam::123456789012:role/{cluster}-svc-{i:02}-task\n      \
                     task_execution_role_arn: arn:aws:iam::123456789012:role/{cluster}-execution\n"
                );
            }
            let desired = bosun_stackfile::load(&text, cluster).unwrap_or_else(|d| panic!("{d}\n{text}"));
            s.add_stackfile(&desired);
        }
        assert_eq!((s.task_roles.len(), s.assume_roles.len()), (26, 6));
        s
    }

    #[test]
    fn every_document_fits_a_managed_policy_and_together_they_are_the_policy() {
        for s in [Scope::new("b", "q.fifo"), scope(), worst_case()] {
            let documents = Documents::new(&s).expect("the documents");
            assert!(documents.0.len() <= DOCUMENT_QUOTA, "{:?}", documents.names());
            let names: BTreeSet<&str> = documents.names().into_iter().collect();
            assert_eq!(names.len(), documents.0.len(), "a name twice: {:?}", documents.names());
            for doc in &documents.0 {
                let size = doc.policy.size();
                assert!(size <= DOCUMENT_BUDGET && DOCUMENT_BUDGET < DOCUMENT_LIMIT, "{}: {size}", doc.name);
                assert!(!doc.policy.statement.is_empty(), "{} is empty", doc.name);
            }
            // Nothing lost, nothing twice, in the same order.
            let split: Vec<Statement> = documents.0.iter().flat_map(|d| d.policy.statement.clone()).collect();
            assert_eq!(split, Policy::new(&s).statement);
        }
        // The worst case fits without a part going on into a second document.
        let names = Documents::new(&worst_case()).expect("the documents").names().join(" ");
        assert_eq!(names, "bosun-reads bosun-ecs bosun-elb bosun-dns bosun-autoscaling-logs bosun-state bosun-adopt");
        let plain = Documents::new(&Scope::new("b", "q.fifo")).expect("the documents").names().join(" ");
        assert_eq!(plain, "bosun-reads bosun-ecs bosun-elb bosun-dns bosun-autoscaling-logs bosun-state");
    }

    #[test]
    fn a_part_too_large_for_one_document_goes_on_into_the_next() {
        let mut s = scope();
        s.clusters.extend((1..=12).map(|i| format!("cluster-{i:02}")));
        let documents = Documents::new(&s).expect("the documents");
        let ecs: Vec<&Document> = documents.0.iter().filter(|d| d.name.starts_with("bosun-ecs")).collect();
        assert!(ecs.len() >= 2, "{:?}", documents.names());
        assert_eq!(ecs[1].name, "bosun-ecs-2");
        assert!(ecs.iter().all(|d| d.policy.size() <= DOCUMENT_BUDGET));
        let split: Vec<Statement> = documents.0.iter().flat_map(|d| d.policy.statement.clone()).collect();
        assert_eq!(split, Policy::new(&s).statement);
        // A statement that cannot fit alone is refused, with its name.
        s.task_roles.extend((1..=200).map(|i| format!("role-{i:03}")));
        let err = Documents::new(&s).expect_err("PassRolesToTasks is too large");
        assert_eq!(err.sid, "PassRolesToTasks");
        assert!(err.to_string().contains("more than the 6000"), "{err}");
    }

    #[test]
    fn operations_map_to_actions() {
        assert_eq!(iam_actions("S3", "HeadObject"), Some(vec!["s3:GetObject".to_owned()]));
        assert_eq!(iam_actions("S3", "ListObjectVersions"), Some(vec!["s3:ListBucketVersions".to_owned()]));
        assert_eq!(
            iam_actions("Elastic Load Balancing v2", "DescribeTags"),
            Some(vec!["elasticloadbalancing:DescribeTags".to_owned()])
        );
        assert_eq!(iam_actions("Lambda", "Invoke"), None);
        assert!(action_matches("ecs:Describe*", "ecs:DescribeServices"));
        assert!(action_matches("ECS:describeservices", "ecs:DescribeServices"));
        assert!(!action_matches("ecs:Describe*", "ecs:ListServices"));
    }
}
