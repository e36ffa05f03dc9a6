//! bosun's CloudFormation template (`deploy/aws/bosun.yml`) deployed to the emulator's
//! CloudFormation: the resources it made, checked one by one, the task role's managed
//! policies equal to `bosun iam-policy`'s documents (by name, each within IAM's limit),
//! and `bosun serve` working on the stack's bucket and queue without `bosun init`.
//!
//! The stack is created with `CreateServices=false`: moto's CloudFormation creates the ECS
//! cluster, task definitions and services and the load balancer, but keeps too little of
//! them to check (a task definition's family and containers only, without its roles, cpu,
//! network mode or compatibilities; a service's cluster, task definition and count only,
//! without launch type, network or load balancers). What it makes of the rest is checked
//! here, in full. The CloudFormation calls and the checks of IAM, CloudWatch, Logs and
//! Secrets Manager go through the AWS CLI of the emulator's venv (`.venv/bin/aws`), an
//! independent client the project already pins, rather than four more SDK crates to
//! compile for one test; S3 and SQS through the SDK, as everywhere else.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use bosun_tests::Env;
use bosun_tests::api::{ApiServer, BUCKET, DLQ, QUEUE};
use serde_json::{Value, json};

const STACK: &str = "bosun";
/// How long the stack may take to reach CREATE_COMPLETE.
const CREATE_LIMIT: Duration = Duration::from_secs(60);
const ZONES: [&str; 2] = ["Z0123456789ABC", "Z0ZONE2"];
const ASSUME_ROLE: &str = "arn:aws:iam::210987654321:role/bosun-target";
/// IAM's limit on a customer managed policy: characters, whitespace not counted.
const MANAGED_POLICY_LIMIT: usize = 6_144;

/// `aws ARGS... --output json` against the test's emulator; its JSON answer.
async fn aws(env: &Env, args: &[&str]) -> Value {
    let cli = bosun_tests::repo_root().join(".venv/bin/aws");
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(&cli)
            .args(args)
            .args(["--output", "json", "--endpoint-url", env.endpoint()])
            .envs(env.aws_env())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("`aws {}` did not finish within 60s", args.join(" ")))
    .unwrap_or_else(|e| panic!("run {}: {e} (deploy/local/emulator install makes it)", cli.display()));
    assert!(out.status.success(), "`aws {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("`aws {}` printed no JSON: {e}", args.join(" ")))
}

/// Create the stack with these parameters and wait for CREATE_COMPLETE.
async fn create_stack(env: &Env, parameters: &[(&str, &str)]) {
    let template = bosun_tests::repo_root().join("deploy/aws/bosun.yml");
    let params: Vec<Value> = parameters.iter().map(|(k, v)| json!({"ParameterKey": k, "ParameterValue": v})).collect();
    let params_file = env.work_dir().join("stack-parameters.json");
    std::fs::write(&params_file, serde_json::to_vec(&params).unwrap()).unwrap();
    aws(
        env,
        &[
            "cloudformation",
            "create-stack",
            "--stack-name",
            STACK,
            "--template-body",
            &format!("file://{}", template.display()),
            "--parameters",
            &format!("file://{}", params_file.display()),
            "--capabilities",
            "CAPABILITY_IAM",
        ],
    )
    .await;
    let deadline = tokio::time::Instant::now() + CREATE_LIMIT;
    loop {
        let out = aws(env, &["cloudformation", "describe-stacks", "--stack-name", STACK]).await;
        let stack = &out["Stacks"][0];
        match stack["StackStatus"].as_str() {
            Some("CREATE_COMPLETE") => return,
            Some("CREATE_IN_PROGRESS") if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await
            }
            _ => panic!("the stack did not reach CREATE_COMPLETE within {CREATE_LIMIT:?}: {stack:#}"),
        }
    }
}

/// The physical id of a resource of the stack.
async fn physical_id(env: &Env, logical: &str) -> String {
    let out = aws(
        env,
        &["cloudformation", "describe-stack-resource", "--stack-name", STACK, "--logical-resource-id", logical],
    )
    .await;
    out["StackResourceDetail"]["PhysicalResourceId"].as_str().expect("a physical id").to_owned()
}

/// An IAM policy document in a form that compares as IAM reads it: statements by Sid, and
/// actions, resources and condition values as sets (one value or a list of one alike).
fn iam_normal(doc: &Value) -> BTreeMap<String, Value> {
    let set = |v: &Value| -> Value {
        let mut items: Vec<String> = match v {
            Value::Array(a) => a.iter().map(|x| x.as_str().expect("strings").to_owned()).collect(),
            Value::String(s) => vec![s.clone()],
            other => panic!("not a string or a list: {other}"),
        };
        items.sort();
        items.dedup();
        json!(items)
    };
    let mut out = BTreeMap::new();
    out.insert("Version".to_owned(), doc["Version"].clone());
    for st in doc["Statement"].as_array().expect("statements") {
        let mut condition = serde_json::Map::new();
        for (op, keys) in st["Condition"].as_object().into_iter().flatten() {
            let keys: serde_json::Map<String, Value> =
                keys.as_object().expect("keys").iter().map(|(k, v)| (k.clone(), set(v))).collect();
            condition.insert(op.clone(), Value::Object(keys));
        }
        let sid = st["Sid"].as_str().expect("every statement of bosun's has a Sid").to_owned();
        let normal = json!({"Effect": st["Effect"], "Action": set(&st["Action"]), "Resource": set(&st["Resource"]),
            "Condition": condition});
        assert!(out.insert(sid.clone(), normal).is_none(), "Sid {sid} twice");
    }
    out
}

/// The managed policies attached to the task role, read through IAM, by name, in the
/// form [`iam_normal`] gives them. The role has no inline policy, and each document IAM
/// holds is within IAM's limit for a managed policy (the emulator does not enforce it).
async fn task_role_policies(env: &Env) -> BTreeMap<String, BTreeMap<String, Value>> {
    let role = physical_id(env, "TaskRole").await;
    let inline = aws(env, &["iam", "list-role-policies", "--role-name", &role]).await;
    assert_eq!(inline["PolicyNames"], json!([]), "the task role has inline policies: {inline:#}");
    let attached = aws(env, &["iam", "list-attached-role-policies", "--role-name", &role]).await;
    let mut out = BTreeMap::new();
    for policy in attached["AttachedPolicies"].as_array().expect("AttachedPolicies") {
        let (name, arn) =
            (policy["PolicyName"].as_str().expect("a name"), policy["PolicyArn"].as_str().expect("an ARN"));
        let meta = aws(env, &["iam", "get-policy", "--policy-arn", arn]).await;
        let version = meta["Policy"]["DefaultVersionId"].as_str().expect("a default version");
        let got = aws(env, &["iam", "get-policy-version", "--policy-arn", arn, "--version-id", version]).await;
        let doc: Value = match &got["PolicyVersion"]["Document"] {
            Value::String(s) => serde_json::from_str(s).expect("the policy document is JSON"),
            doc => doc.clone(),
        };
        let size = serde_json::to_string(&doc).expect("JSON").chars().count();
        assert!(size <= MANAGED_POLICY_LIMIT, "{name} takes {size} characters, over IAM's {MANAGED_POLICY_LIMIT}");
        assert!(out.insert(name.to_owned(), iam_normal(&doc)).is_none(), "{name} attached twice");
    }
    out
}

/// `bosun iam-policy --format json` for the template's scope, by the names the stack gives
/// the documents (the stack's name for `bosun`: `STACK-ecs` for `bosun-ecs`).
async fn iam_policy_json(env: &Env, extra: &[&str]) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut args = vec!["iam-policy", "--format", "json", "--bucket", BUCKET, "--queue", QUEUE];
    args.extend_from_slice(&["--account", "123456789012", "--region", "us-east-1"]);
    args.extend_from_slice(extra);
    let run = env.bosun(&args).await;
    run.expect_code(0);
    let printed: Value = serde_json::from_str(&run.stdout).expect("bosun iam-policy --format json prints JSON");
    let documents = printed.as_object().expect("an object of name to document");
    let named = |name: &String| format!("{STACK}{}", name.strip_prefix("bosun").expect("named bosun-..."));
    documents.iter().map(|(name, doc)| (named(name), iam_normal(doc))).collect()
}

#[tokio::test]
async fn the_stack_makes_the_state_bosun_init_makes_and_the_policy_bosun_prints() {
    let env = Env::start().await;
    let zones = ZONES.join(",");
    create_stack(
        &env,
        &[
            ("BucketName", BUCKET),
            ("QueueName", QUEUE.trim_end_matches(".fifo")),
            ("JobRetentionDays", "30"),
            ("LogRetentionDays", "14"),
            ("HostedZoneIds", &zones),
            ("AssumeRoleArns", ASSUME_ROLE),
            ("AllowAdoption", "true"),
            ("CreateServices", "false"),
        ],
    )
    .await;

    // The bucket: versioned, encrypted, private, TLS only.
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&env.sdk).force_path_style(true).build());
    // Through the CLI: moto 5.2.5 answers GetBucketVersioning under a root element
    // (`GetBucketVersioningResponse`) the Rust SDK refuses, and the CLI takes.
    let versioning = aws(&env, &["s3api", "get-bucket-versioning", "--bucket", BUCKET]).await;
    assert_eq!(versioning["Status"], "Enabled", "{versioning}");
    let encryption = s3.get_bucket_encryption().bucket(BUCKET).send().await.expect("GetBucketEncryption");
    let rules = encryption.server_side_encryption_configuration().map(|c| c.rules()).unwrap_or_default();
    let algorithm = rules.first().and_then(|r| r.apply_server_side_encryption_by_default()).map(|d| d.sse_algorithm());
    assert_eq!(algorithm.map(|a| a.as_str()), Some("AES256"), "{encryption:?}");
    let block = s3.get_public_access_block().bucket(BUCKET).send().await.expect("GetPublicAccessBlock");
    let block = block.public_access_block_configuration().expect("a public access block");
    assert_eq!(
        [
            block.block_public_acls(),
            block.ignore_public_acls(),
            block.block_public_policy(),
            block.restrict_public_buckets()
        ],
        [Some(true); 4]
    );
    let policy = s3.get_bucket_policy().bucket(BUCKET).send().await.expect("GetBucketPolicy");
    let policy: Value = serde_json::from_str(policy.policy().expect("a policy")).expect("JSON");
    let deny = &policy["Statement"][0];
    assert_eq!(deny["Effect"], "Deny", "{policy:#}");
    assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false", "{policy:#}");
    assert_eq!(deny["Principal"], "*");
    assert_eq!(deny["Action"], "s3:*");
    let denied = iam_normal(&json!({"Statement": [deny]}));
    assert_eq!(
        denied["DenyInsecureTransport"]["Resource"],
        json!([format!("arn:aws:s3:::{BUCKET}"), format!("arn:aws:s3:::{BUCKET}/*")])
    );

    // The lifecycle rules `bosun init --job-retention-days 30` writes, and nothing on clusters/.
    let lifecycle = s3.get_bucket_lifecycle_configuration().bucket(BUCKET).send().await.expect("lifecycle");
    let mut rules: BTreeMap<String, String> = BTreeMap::new();
    for rule in lifecycle.rules() {
        let prefix = rule.filter().and_then(|f| f.prefix()).unwrap_or_default();
        assert!(!prefix.is_empty() && !"clusters/".starts_with(prefix), "a rule covers the history: {rule:?}");
        assert_eq!(rule.status().as_str(), "Enabled");
        let expiration = rule.expiration();
        let noncurrent = rule.noncurrent_version_expiration().and_then(|n| n.noncurrent_days());
        rules.insert(
            rule.id().unwrap_or_default().to_owned(),
            format!(
                "{prefix} days={:?} delete-markers={:?} noncurrent={noncurrent:?}",
                expiration.and_then(|e| e.days()),
                expiration.and_then(|e| e.expired_object_delete_marker()),
            ),
        );
    }
    assert_eq!(
        rules,
        BTreeMap::from([
            ("bosun-job-records".to_owned(), "jobs/ days=Some(30) delete-markers=None noncurrent=Some(1)".to_owned()),
            ("bosun-leases".to_owned(), "leases/ days=None delete-markers=Some(true) noncurrent=Some(1)".to_owned()),
            (
                "bosun-proposals".to_owned(),
                "proposals/ days=Some(30) delete-markers=None noncurrent=Some(1)".to_owned()
            ),
        ])
    );

    // The queues: FIFO, ids as deduplication ids, the visibility and redrive of `bosun init`.
    let sqs = aws_sdk_sqs::Client::new(&env.sdk);
    let attributes = |name: &'static str| {
        let sqs = sqs.clone();
        async move {
            let url = sqs.get_queue_url().queue_name(name).send().await.expect("the queue exists");
            let out = sqs
                .get_queue_attributes()
                .queue_url(url.queue_url().unwrap_or_default())
                .attribute_names(QueueAttributeName::All)
                .send()
                .await
                .expect("GetQueueAttributes");
            out.attributes().cloned().unwrap_or_default()
        }
    };
    let (queue, dlq) = (attributes(QUEUE).await, attributes(DLQ).await);
    for q in [&queue, &dlq] {
        assert_eq!(q[&QueueAttributeName::FifoQueue], "true");
        assert_eq!(q[&QueueAttributeName::ContentBasedDeduplication], "false");
    }
    assert_eq!(queue[&QueueAttributeName::VisibilityTimeout], "60");
    assert_eq!(dlq[&QueueAttributeName::MessageRetentionPeriod], "1209600");
    let redrive: Value = serde_json::from_str(&queue[&QueueAttributeName::RedrivePolicy]).expect("a redrive policy");
    assert_eq!(redrive["deadLetterTargetArn"], dlq[&QueueAttributeName::QueueArn].as_str());
    assert_eq!(redrive["maxReceiveCount"].to_string().trim_matches('"'), "5", "{redrive}");

    // The alarm on the dead-letter queue's depth.
    let alarms = aws(&env, &["cloudwatch", "describe-alarms", "--alarm-names", "bosun-dead-letter-jobs"]).await;
    let alarm = &alarms["MetricAlarms"][0];
    assert_eq!(alarm["Namespace"], "AWS/SQS", "{alarms:#}");
    assert_eq!(alarm["MetricName"], "ApproximateNumberOfMessagesVisible");
    assert_eq!(alarm["Dimensions"], json!([{"Name": "QueueName", "Value": DLQ}]));
    assert_eq!(
        (alarm["ComparisonOperator"].as_str(), alarm["Threshold"].as_f64()),
        (Some("GreaterThanThreshold"), Some(0.0))
    );

    // The secrets exist (their values are not read here), and the log group keeps 14 days.
    for name in ["tokens", "ui-session-secret", "slack-signing-secret", "slack-bot-token"] {
        let secret = aws(&env, &["secretsmanager", "describe-secret", "--secret-id", &format!("{STACK}/{name}")]).await;
        assert_eq!(secret["Name"], format!("{STACK}/{name}"));
    }
    let groups = aws(&env, &["logs", "describe-log-groups", "--log-group-name-prefix", "/bosun/"]).await;
    assert_eq!(groups["logGroups"][0]["logGroupName"], format!("/bosun/{STACK}"), "{groups:#}");
    assert_eq!(groups["logGroups"][0]["retentionInDays"], 14);

    // The task role holds exactly the managed policies `bosun iam-policy` prints for the
    // same scope, by name.
    let printed =
        iam_policy_json(&env, &["--zone-id", ZONES[0], "--zone-id", ZONES[1], "--assume-role", ASSUME_ROLE, "--adopt"])
            .await;
    assert!(printed.contains_key("bosun-adopt") && printed.len() == 7, "{:?}", printed.keys());
    assert_eq!(task_role_policies(&env).await, printed);

    // The TLS-only policy is enforced: the emulator speaks plain HTTP, and a write over it
    // is denied. bosun speaks HTTPS to AWS; to run it on the emulator, the policy goes.
    let denied = s3
        .put_object()
        .bucket(BUCKET)
        .key("clusters/probe")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("a write over plain HTTP is denied");
    assert_eq!(denied.raw_response().map(|r| r.status().as_u16()), Some(403), "{denied:?}");
    s3.delete_bucket_policy().bucket(BUCKET).send().await.expect("DeleteBucketPolicy");

    // bosun serves on the stack's bucket and queue as they are: no `bosun init`, the
    // tokens and the UI session secret in the environment as ECS gives them.
    let secret = "a-session-secret-of-at-least-32-bytes-0123456789";
    let server = ApiServer::start_without_init(&env, &["serve"], &[("BOSUN_UI_SESSION_SECRET", secret)]).await;
    let ready = server.request(reqwest::Method::GET, "/readyz", None).send().await.expect("GET /readyz");
    assert_eq!(ready.status(), 200, "S3 and SQS are ready");
    let created = server
        .request(reqwest::Method::POST, "/api/v1/clusters", Some(&server.admin))
        .json(&json!({"name": "demo", "config": {"services": [{"web": {"image": "nginx:1.27"}}]}}))
        .send()
        .await
        .expect("POST /api/v1/clusters");
    let status = created.status();
    let body = created.text().await.unwrap_or_default();
    assert_eq!(status, 201, "{body}\n{}", server.logs().join("\n"));
    let created: Value = serde_json::from_str(&body).expect("JSON");
    let job = created["job_id"].as_str().expect("a job id").to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let record = loop {
        let record: Value = server
            .request(reqwest::Method::GET, &format!("/api/v1/jobs/{job}"), Some(&server.viewer))
            .send()
            .await
            .expect("GET the job")
            .json()
            .await
            .expect("JSON");
        if !matches!(record["status"].as_str(), Some("queued" | "running")) || tokio::time::Instant::now() > deadline {
            break record;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(record["status"], "succeeded", "{record:#}");
    let services = env.active_services().await;
    assert_eq!(services, ["web"], "the scheduler applied the stackfile");
}

#[tokio::test]
async fn without_zones_adoption_or_roles_the_policy_is_the_plain_one() {
    let env = Env::start().await;
    create_stack(&env, &[("BucketName", BUCKET), ("JobRetentionDays", "0"), ("CreateServices", "false")]).await;
    let printed = iam_policy_json(&env, &[]).await;
    assert!(!printed.contains_key("bosun-adopt"), "{:?}", printed.keys());
    assert_eq!(task_role_policies(&env).await, printed);
    // With a retention of 0, job records are kept: no rule for jobs/.
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&env.sdk).force_path_style(true).build());
    let lifecycle = s3.get_bucket_lifecycle_configuration().bucket(BUCKET).send().await.expect("lifecycle");
    let ids: Vec<_> = lifecycle.rules().iter().filter_map(|r| r.id()).collect();
    assert_eq!(ids, ["bosun-leases", "bosun-proposals"]);
}

#[tokio::test]
async fn a_short_session_secret_in_the_environment_is_refused_without_being_shown() {
    let env = Env::start().await;
    let run = env
        .bosun(&[
            "serve",
            "api",
            "--bucket",
            BUCKET,
            "--queue",
            QUEUE,
            "--tokens",
            "# none",
            "--ui-session-secret",
            "hunter2-short",
        ])
        .await;
    run.expect_code(1).expect_stderr("BOSUN_UI_SESSION_SECRET is shorter than 32 bytes");
    assert!(!run.stderr.contains("hunter2"), "the secret was shown: {run}");
}
