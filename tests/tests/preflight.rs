//! Preflight: before its first change, bosun checks that everything the stackfile names
//! exists (VPC, subnets, security groups, ACM certificates, hosted zones, IAM roles,
//! Secrets Manager secrets, SSM parameters), and reports every one that does not, each at
//! its stackfile line, in `bosun plan`, `bosun apply` and the scheduler's jobs; nothing is
//! changed. The emulator is the AWS; every check of the end state goes through the SDK.

use std::time::Duration;

use aws_sdk_route53::types::RrType;
use bosun_tests::api::ApiServer;
use bosun_tests::proxy::Faults;
use bosun_tests::scheduler::FAST;
use bosun_tests::{CLUSTER, Env, Run, Stackfile, repo_root};
use reqwest::Method;
use serde_json::{Value, json};

/// The emulator's account (moto's default), which the role and secret ARNs name.
const ACCOUNT: &str = "123456789012";
const JOB_LIMIT: Duration = Duration::from_secs(90);

/// What the stackfile names beyond the example prerequisites that are always there
/// (two public subnets, one private subnet, the public security group).
struct Refs {
    vpc: String,
    private_subnet: String,
    private_sg: String,
    edge_certificate: String,
    web_certificate: String,
    zone: String,
    task_role: String,
    execution_role: String,
    secret: String,
    parameter: String,
}

impl Refs {
    /// Well-formed references to nothing at all (but `edge_certificate`, which the
    /// test requests from ACM: it exists, pending validation).
    fn missing(edge_certificate: String) -> Self {
        Refs {
            vpc: "vpc-0000000000000dead".into(),
            private_subnet: "subnet-0000000000000dead".into(),
            private_sg: "sg-0000000000000dead".into(),
            edge_certificate,
            web_certificate: format!(
                "arn:aws:acm:us-east-1:{ACCOUNT}:certificate/00000000-0000-0000-0000-00000000dead"
            ),
            zone: "Z0000000000000000DEAD".into(),
            task_role: format!("arn:aws:iam::{ACCOUNT}:role/web-task"),
            execution_role: format!("arn:aws:iam::{ACCOUNT}:role/service-role/web-execution"),
            secret: format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:web/db-AbCdEf"),
            parameter: format!("arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/web/api-key"),
        }
    }

    /// A stackfile that names all of them. The worker's role is in another account:
    /// preflight cannot read it and leaves it alone.
    fn stackfile(&self) -> Stackfile {
        let Refs {
            vpc,
            private_subnet,
            private_sg,
            edge_certificate,
            web_certificate,
            zone,
            task_role,
            execution_role,
            secret,
            parameter,
        } = self;
        Stackfile::from_text(
            "preflight.yml",
            &format!(
                r#"# Everything below that bosun does not create must exist before it changes anything.
vpc:
  id: {vpc}
  subnets:
    public:
      - ${{PUBLIC_SUBNET_A}}
      - ${{PUBLIC_SUBNET_B}}
    private:
      - ${{PRIVATE_SUBNET_A}}
      - {private_subnet}
  security_groups:
    public:
      - ${{PUBLIC_SG}}
    private:
      - {private_sg}
load_balancers:
  edge:
    type: public
    listeners:
      - port: 443
        protocol: HTTPS
        certificates:
          - {edge_certificate}
services:
  - web:
      image: public.ecr.aws/nginx/nginx:1.27
      desired_count: 1
      memory: 256
      network_mode: bridge
      ports:
        - 8080
      task_role_arn: {task_role}
      task_execution_role_arn: {execution_role}
      secrets:
        DB_PASSWORD: {secret}
        API_KEY: {parameter}
      elb:
        type: public
        protocol: HTTPS
        ports:
          public: 443
          container: 8080
        certificates:
          - {web_certificate}
        dns:
          hosted_zone_id: {zone}
          record_name: www.demo.example.com
  - worker:
      image: public.ecr.aws/docker/library/busybox:1.36
      memory: 128
      task_role_arn: arn:aws:iam::210987654321:role/elsewhere
"#
            ),
        )
    }
}

/// A self-signed certificate and its key, PEM, made by the emulator's Python (moto
/// depends on `cryptography`), so that no key is kept in the repository.
fn self_signed() -> (String, String) {
    let script = r#"
import datetime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "www.demo.example.com")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
print(cert.public_bytes(serialization.Encoding.PEM).decode(), end="")
print(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                        serialization.NoEncryption()).decode(), end="")
"#;
    let out = std::process::Command::new(repo_root().join(".venv/bin/python"))
        .args(["-c", script])
        .output()
        .expect("run the emulator's Python");
    assert!(out.status.success(), "certificate generation failed: {}", String::from_utf8_lossy(&out.stderr));
    let pem = String::from_utf8(out.stdout).expect("PEM is text");
    let split = pem.find("-----BEGIN RSA PRIVATE KEY-----").expect("a key after the certificate");
    (pem[..split].to_owned(), pem[split..].to_owned())
}

/// An ACM certificate that exists but is not ISSUED (a request waits for validation).
async fn pending_certificate(env: &Env) -> String {
    let acm = aws_sdk_acm::Client::new(&env.sdk);
    let out = acm.request_certificate().domain_name("edge.demo.example.com").send().await.expect("RequestCertificate");
    out.certificate_arn().expect("an ARN").to_owned()
}

/// Creates everything the stackfile names, through the SDK, as an operator would.
async fn create_all(env: &Env) -> Refs {
    let acm = aws_sdk_acm::Client::new(&env.sdk);
    let (cert, key) = self_signed();
    let imported = acm
        .import_certificate()
        .certificate(aws_smithy_types::Blob::new(cert.clone()))
        .private_key(aws_smithy_types::Blob::new(key.clone()))
        .send()
        .await
        .expect("ImportCertificate");
    let certificate = imported.certificate_arn().expect("an ARN").to_owned();

    let iam = aws_sdk_iam::Client::new(&env.sdk);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let mut roles = Vec::new();
    for (name, path) in [("web-task", "/"), ("web-execution", "/service-role/")] {
        let out = iam
            .create_role()
            .role_name(name)
            .path(path)
            .assume_role_policy_document(trust)
            .send()
            .await
            .expect("CreateRole");
        roles.push(out.role().map(|r| r.arn().to_owned()).expect("a role"));
    }

    let secrets = aws_sdk_secretsmanager::Client::new(&env.sdk);
    let secret = secrets
        .create_secret()
        .name("web/db")
        .secret_string("never read by bosun")
        .send()
        .await
        .expect("CreateSecret")
        .arn()
        .expect("an ARN")
        .to_owned();
    let ssm = aws_sdk_ssm::Client::new(&env.sdk);
    ssm.put_parameter()
        .name("/web/api-key")
        .value("never read by bosun")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("PutParameter");

    let p = &env.prereqs;
    Refs {
        vpc: p.vpc_id.clone(),
        private_subnet: p.private_subnets[1].clone(),
        private_sg: p.private_sg.clone(),
        edge_certificate: certificate.clone(),
        web_certificate: certificate,
        zone: p.zone_id.clone(),
        task_role: roles[0].clone(),
        execution_role: roles[1].clone(),
        secret,
        parameter: format!("arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/web/api-key"),
    }
}

/// `LINE:COL: path: message` of the value `needle` in `text` (it must be on one line).
fn at(text: &str, needle: &str, path: &str, message: &str) -> String {
    let (i, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` is not in the stackfile:\n{text}"));
    let column = line.find(needle).expect("found above") + 1;
    format!("{}:{column}: {path}: {message}", i + 1)
}

/// Every diagnostic the missing references must produce, in document order, without
/// the file name: what the job record shows too.
fn expected(env: &Env, text: &str, refs: &Refs) -> Vec<String> {
    let p = &env.prereqs;
    let other_vpc = |kind: &str, id: &str| format!("{kind} {id} is in {}, not in `vpc.id` {}", p.vpc_id, refs.vpc);
    let missing = |kind: &str, id: &str| format!("{kind} {id} does not exist");
    vec![
        at(text, &refs.vpc, "vpc.id", &missing("VPC", &refs.vpc)),
        at(text, &p.public_subnets[0], "vpc.subnets.public[0]", &other_vpc("subnet", &p.public_subnets[0])),
        at(text, &p.public_subnets[1], "vpc.subnets.public[1]", &other_vpc("subnet", &p.public_subnets[1])),
        at(text, &p.private_subnets[0], "vpc.subnets.private[0]", &other_vpc("subnet", &p.private_subnets[0])),
        at(text, &refs.private_subnet, "vpc.subnets.private[1]", &missing("subnet", &refs.private_subnet)),
        at(text, &p.public_sg, "vpc.security_groups.public[0]", &other_vpc("security group", &p.public_sg)),
        at(text, &refs.private_sg, "vpc.security_groups.private[0]", &missing("security group", &refs.private_sg)),
        at(
            text,
            &refs.edge_certificate,
            "load_balancers.edge.listeners[0].certificates[0]",
            &format!(
                "certificate {} is PENDING_VALIDATION, not ISSUED: a listener cannot use it",
                refs.edge_certificate
            ),
        ),
        at(text, &refs.task_role, "services[0].web.task_role_arn", &missing("IAM role", &refs.task_role)),
        at(
            text,
            &refs.execution_role,
            "services[0].web.task_execution_role_arn",
            &missing("IAM role", &refs.execution_role),
        ),
        at(text, &refs.secret, "services[0].web.secrets.DB_PASSWORD", &missing("Secrets Manager secret", &refs.secret)),
        at(text, &refs.parameter, "services[0].web.secrets.API_KEY", &missing("SSM parameter", &refs.parameter)),
        at(
            text,
            &refs.web_certificate,
            "services[0].web.elb.certificates[0]",
            &missing("certificate", &refs.web_certificate),
        ),
        at(text, &refs.zone, "services[0].web.elb.dns.hosted_zone_id", &missing("hosted zone", &refs.zone)),
    ]
}

/// The `FILE:LINE:COL: ...` lines of a run's stderr, without the file name.
fn reported(run: &Run, file: &str) -> Vec<String> {
    let prefix = format!("{file}:");
    run.stderr.lines().filter_map(|l| l.strip_prefix(&prefix)).map(str::to_owned).collect()
}

/// Nothing of the cluster exists: no cluster, task definition, service, load balancer
/// or target group.
async fn assert_nothing_created(env: &Env) {
    let clusters = env.ecs.describe_clusters().clusters(CLUSTER).send().await.expect("DescribeClusters");
    assert!(
        clusters.clusters().iter().all(|c| c.status() != Some("ACTIVE")),
        "a cluster was created: {:?}",
        clusters.clusters()
    );
    let families = env.ecs.list_task_definitions().family_prefix("demo-").send().await.expect("ListTaskDefinitions");
    assert!(families.task_definition_arns().is_empty(), "{:?}", families.task_definition_arns());
    assert!(env.load_balancers().await.is_empty(), "a load balancer was created");
    assert!(env.target_groups().await.is_empty(), "a target group was created");
    let services = env.ecs.list_services().cluster(CLUSTER).send().await.map(|o| o.service_arns().len());
    assert!(!matches!(services, Ok(n) if n > 0), "a service was created: {services:?}");
}

#[tokio::test]
async fn plan_and_apply_report_every_missing_reference_at_its_line_and_change_nothing() {
    let env = Env::start().await;
    let refs = Refs::missing(pending_certificate(&env).await);
    let stackfile = refs.stackfile();
    let path = env.write(&stackfile);
    let text = std::fs::read_to_string(&path).expect("read the written stackfile");
    let file = path.to_str().expect("UTF-8");
    let want = expected(&env, &text, &refs);

    for run in [
        env.bosun(&["plan", "--cluster", CLUSTER, "-f", file, "--detailed-exitcode", "--stats"]).await,
        env.bosun(&["apply", "--cluster", CLUSTER, "-f", file, "--auto-approve", "--stats"]).await,
    ] {
        // A user error (exit 1), not "changes" (2) nor an internal error (3).
        run.expect_code(1);
        assert_eq!(reported(&run, file), want, "every missing reference, in document order, and nothing else: {run}");
        run.expect_stderr(&format!(
            "error: {} reference(s) of the stackfile do not exist or cannot be used; nothing was changed",
            want.len()
        ));
        assert!(!run.stdout.contains("plan hash"), "no plan is shown: {run}");
        let stats = run.stats();
        assert_eq!(stats.mutating, 0, "{run}");
        // Batched: one EC2 call per kind, one SSM call, the hosted zone read by the observer.
        assert_eq!(stats.calls("DescribeSubnets"), 1, "{run}");
        assert_eq!(stats.calls("DescribeSecurityGroups"), 1, "{run}");
        assert_eq!(stats.calls("DescribeVpcs"), 1, "no subnet showed that the VPC exists: {run}");
        assert_eq!(stats.calls("DescribeParameters"), 1, "{run}");
        assert_eq!(stats.calls("GetRole"), 2, "the other account's role is not read: {run}");
        assert_eq!(stats.calls("GetHostedZone"), 0, "{run}");
        for never in ["GetSecretValue", "BatchGetSecretValue", "GetParameter", "GetParameters"] {
            assert_eq!(stats.calls(never), 0, "{never}: {run}");
        }
    }
    assert_nothing_created(&env).await;
}

#[tokio::test]
async fn a_stackfile_whose_references_all_exist_passes_preflight_and_applies() {
    let env = Env::start().await;
    let refs = create_all(&env).await;
    let stackfile = refs.stackfile();

    let plan = env.plan(&stackfile, &[]).await;
    plan.expect_code(2).expect_lines(&["+ service web"]);
    let apply = env.apply(&stackfile, &[]).await;
    apply.expect_code(0);
    let stats = apply.stats();
    // The VPC is known to exist from its subnets; each role, secret and certificate is
    // read once; the parameters in one call; the caller's account once.
    for (operation, calls) in [
        ("DescribeSubnets", 1),
        ("DescribeSecurityGroups", 1),
        ("DescribeVpcs", 0),
        ("DescribeCertificate", 1),
        ("GetCallerIdentity", 1),
        ("GetRole", 2),
        ("DescribeSecret", 1),
        ("DescribeParameters", 1),
    ] {
        assert_eq!(stats.calls(operation), calls, "{operation}: {apply}");
    }

    // What the stackfile says, through the SDK.
    let web = env.service("web").await;
    let td = env.task_definition(web.task_definition().expect("a task definition")).await;
    assert_eq!(td.task_role_arn(), Some(refs.task_role.as_str()));
    assert_eq!(td.execution_role_arn(), Some(refs.execution_role.as_str()));
    let secrets: Vec<(&str, &str)> =
        td.container_definitions()[0].secrets().iter().map(|s| (s.name(), s.value_from())).collect();
    assert_eq!(secrets, [("API_KEY", refs.parameter.as_str()), ("DB_PASSWORD", refs.secret.as_str())]);
    let worker = env.service("worker").await;
    let td = env.task_definition(worker.task_definition().expect("a task definition")).await;
    assert_eq!(td.task_role_arn(), Some("arn:aws:iam::210987654321:role/elsewhere"));
    assert_eq!(env.load_balancers().await.len(), 2, "the shared ALB and web's own");
    let records = env.records("www.demo.example.com.").await;
    assert_eq!(records.iter().filter(|r| r.r#type() == &RrType::A).count(), 1, "web's alias record: {records:?}");
    env.assert_converged(&stackfile).await;
}

#[tokio::test]
async fn a_read_that_is_refused_is_an_error_not_a_missing_reference() {
    let env = Env::start().await;
    let refs = create_all(&env).await;
    let proxy = env.proxy(Faults::rate(1.0).kinds(&["denied"]).operations(&["iam:GetRole"])).await;
    env.route_through(&proxy);

    let run = env.plan(&refs.stackfile(), &[]).await;
    run.expect_code(1)
        .expect_stderr("error: could not check that the stackfile's references exist")
        .expect_stderr("GetRole on role web-")
        .expect_stderr("AccessDenied")
        .expect_stderr("hint: the credentials may not read what the stackfile names");
    assert!(!run.stderr.contains("does not exist"), "a refused read is not a missing reference: {run}");
    assert_eq!(run.stats().mutating, 0, "{run}");
}

#[tokio::test]
async fn a_job_whose_stackfile_names_something_missing_fails_with_the_list_and_changes_nothing() {
    let env = Env::start().await;
    let refs = Refs::missing(pending_certificate(&env).await);
    let path = env.write(&refs.stackfile());
    let text = std::fs::read_to_string(&path).expect("read the written stackfile");
    let want = expected(&env, &text, &refs);

    let mut args = vec!["serve"];
    args.extend_from_slice(FAST);
    let api = ApiServer::start_with(&env, &args).await;
    let resp = api
        .request(Method::POST, "/api/v1/clusters", Some(&api.admin))
        .json(&json!({ "name": CLUSTER, "config": text }))
        .send()
        .await
        .expect("POST clusters");
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.expect("JSON");
    let job = body["job_id"].as_str().expect("a job id").to_owned();

    let record = api.wait_job(&job, JOB_LIMIT).await;
    assert_eq!(record["status"], "failed", "{record:#}");
    let error = record["error"].as_str().expect("an error");
    assert!(
        error.starts_with(&format!(
            "{} reference(s) of the stackfile do not exist or cannot be used; nothing was changed: ",
            want.len()
        )),
        "{error}"
    );
    for line in &want {
        assert!(error.contains(line.as_str()), "the error lists `{line}`: {error}");
    }
    let missing: Vec<String> = record["result"]["preflight"]["missing"]
        .as_array()
        .expect("the missing references in the record")
        .iter()
        .map(|m| {
            format!(
                "{}:{}: {}: {}",
                m["line"],
                m["column"],
                m["path"].as_str().unwrap(),
                m["message"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(missing, want, "{record:#}");
    // Final: the scheduler does not retry it.
    assert_eq!(record["attempts"], 1, "{record:#}");
    assert_nothing_created(&env).await;
}
