//! Clusters in other accounts and regions (`aws: {region, role_arn, external_id}`),
//! reconciled by one scheduler through the roles their stackfiles name, on the
//! emulator's multi-account support (credentials of a role assumed in another account
//! act in that account; the ECS realism layer refuses roles that do not exist and
//! external ids that do not match, as STS does).

use std::process::Command as StdCommand;
use std::time::Duration;

use aws_config::Region;
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_ecs::config::SharedCredentialsProvider;
use bosun_tests::api::ApiServer;
use bosun_tests::scheduler::FAST;
use bosun_tests::{Env, repo_root};
use reqwest::Method;
use serde_json::{Value, json};

const JOB_LIMIT: Duration = Duration::from_secs(90);

/// A role in `account` that trusts anyone who brings `external_id`; its ARN. Made with
/// boto3 and moto's `x-moto-account-id` header, which makes a request act in that account.
fn role_in(env: &Env, account: &str, name: &str, external_id: &str) -> String {
    let script = r#"
import boto3, json, os, sys
account, name, external_id = sys.argv[1:4]
iam = boto3.client("iam", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
iam.meta.events.register("before-sign.iam.*", lambda request, **_: request.headers.add_header("x-moto-account-id", account))
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"sts:ExternalId": external_id}}}]}
print(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
"#;
    let out = StdCommand::new(repo_root().join(".venv/bin/python"))
        .args(["-c", script, account, name, external_id])
        .env_clear()
        .envs(env.aws_env())
        .output()
        .expect("run the venv's python");
    assert!(out.status.success(), "create role: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8").trim().to_owned()
}

/// ECS as seen from `account` (through its role) in `region`.
async fn ecs_in(env: &Env, role_arn: Option<(&str, &str)>, region: &str) -> aws_sdk_ecs::Client {
    let mut config = env.sdk.to_builder().region(Region::new(region.to_owned()));
    if let Some((arn, external_id)) = role_arn {
        let role = AssumeRoleProvider::builder(arn)
            .session_name("bosun-tests")
            .external_id(external_id)
            .configure(&env.sdk)
            .build()
            .await;
        config = config.credentials_provider(SharedCredentialsProvider::new(role));
    }
    aws_sdk_ecs::Client::new(&config.build())
}

/// The services of `cluster` in that account and region; `None` when it has no such cluster.
async fn services(ecs: &aws_sdk_ecs::Client, cluster: &str) -> Option<Vec<String>> {
    let clusters = ecs.describe_clusters().clusters(cluster).send().await.expect("DescribeClusters");
    if !clusters.clusters().iter().any(|c| c.status() == Some("ACTIVE")) {
        return None;
    }
    let arns = ecs.list_services().cluster(cluster).send().await.expect("ListServices");
    let mut names: Vec<String> =
        arns.service_arns().iter().map(|a| a.rsplit('/').next().unwrap_or_default().to_owned()).collect();
    names.sort();
    Some(names)
}

fn stackfile(aws: &str, service: &str) -> String {
    format!(
        "version: 1\n{aws}services:\n  {service}:\n    image: public.ecr.aws/docker/library/busybox:1.36\n    memory: 64\n    desired_count: 1\n"
    )
}

async fn create(api: &ApiServer, cluster: &str, yaml: &str) -> String {
    let resp = api
        .request(Method::POST, "/api/v1/clusters", Some(&api.admin))
        .json(&json!({ "name": cluster, "config": yaml }))
        .send()
        .await
        .expect("POST clusters");
    let status = resp.status();
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(status, 201, "{body}");
    body["job_id"].as_str().expect("a job id").to_owned()
}

#[tokio::test]
async fn one_scheduler_reconciles_clusters_in_two_accounts_and_regions_each_in_its_own() {
    let env = Env::start().await;
    let west = role_in(&env, "111111111111", "bosun-west", "bosun-west-id");
    let euro = role_in(&env, "222222222222", "bosun-euro", "bosun-euro-id");
    let west_yaml =
        stackfile(&format!("aws:\n  region: us-west-2\n  role_arn: {west}\n  external_id: bosun-west-id\n"), "ingest");
    let euro_yaml =
        stackfile(&format!("aws:\n  region: eu-west-1\n  role_arn: {euro}\n  external_id: bosun-euro-id\n"), "billing");
    // A role that does not exist: its cluster fails, the others do not notice.
    let lost_yaml = stackfile("aws:\n  role_arn: arn:aws:iam::333333333333:role/bosun-gone\n", "orphan");

    let api = ApiServer::start_with(&env, &[&["serve"], FAST].concat()).await;
    let jobs = [
        ("west", create(&api, "west", &west_yaml).await),
        ("euro", create(&api, "euro", &euro_yaml).await),
        ("lost", create(&api, "lost", &lost_yaml).await),
    ];
    for (cluster, job) in &jobs {
        let record = api.wait_job(job, JOB_LIMIT).await;
        if *cluster == "lost" {
            assert_eq!(record["status"], "failed", "{record}");
            let error = record["error"].as_str().unwrap_or_default();
            assert!(
                error.contains("could not reach the account")
                    && error.contains("AssumeRole")
                    && error.contains("arn:aws:iam::333333333333:role/bosun-gone")
                    && error.contains("AccessDenied"),
                "the error does not say which role could not be assumed: {error}"
            );
        } else {
            assert_eq!(record["status"], "succeeded", "{cluster}: {record}");
        }
    }

    // A second job of a cluster that exists finds it where it lives: an image bump
    // updates the service there (observing anywhere else would plan it anew, and the
    // create would fail on the service that exists).
    let bump: Value = api
        .request(Method::PUT, "/api/v1/clusters/west/services/ingest", Some(&api.deployer))
        .json(&json!({ "image_tag": "1.37" }))
        .send()
        .await
        .expect("PUT service")
        .json()
        .await
        .expect("JSON");
    let record = api.wait_job(bump["job_id"].as_str().expect("a job id"), JOB_LIMIT).await;
    assert_eq!(record["status"], "succeeded", "{record}");
    let changes = record["result"]["plan"]["changes"].to_string();
    assert!(!changes.contains("cluster"), "the bump planned the cluster anew: {changes}");

    // Each cluster lives in its own account and region, and nowhere else.
    let west_ecs = ecs_in(&env, Some((&west, "bosun-west-id")), "us-west-2").await;
    let euro_ecs = ecs_in(&env, Some((&euro, "bosun-euro-id")), "eu-west-1").await;
    assert_eq!(services(&west_ecs, "west").await, Some(vec!["ingest".to_owned()]));
    let ingest =
        west_ecs.describe_services().cluster("west").services("ingest").send().await.expect("DescribeServices");
    let td = ingest.services()[0].task_definition().unwrap_or_default().to_owned();
    let td = west_ecs.describe_task_definition().task_definition(td).send().await.expect("DescribeTaskDefinition");
    let image = td.task_definition().map(|t| t.container_definitions()[0].image().unwrap_or_default().to_owned());
    assert_eq!(image.as_deref(), Some("public.ecr.aws/docker/library/busybox:1.37"));
    assert_eq!(services(&euro_ecs, "euro").await, Some(vec!["billing".to_owned()]));
    assert_eq!(services(&west_ecs, "euro").await, None, "euro's cluster leaked into the west account");
    assert_eq!(services(&euro_ecs, "west").await, None, "west's cluster leaked into the euro account");
    let west_home_region = ecs_in(&env, Some((&west, "bosun-west-id")), "us-east-1").await;
    assert_eq!(services(&west_home_region, "west").await, None, "west's cluster is in the wrong region");
    let home = ecs_in(&env, None, "us-east-1").await;
    for cluster in ["west", "euro", "lost"] {
        assert_eq!(services(&home, cluster).await, None, "{cluster} was made in bosun's own account");
    }

    // The cluster list's tiles show where each cluster lives (the scheduler's status).
    for (cluster, account, region) in [("west", "111111111111", "us-west-2"), ("euro", "222222222222", "eu-west-1")] {
        let status: Value = api
            .request(Method::GET, &format!("/api/v1/clusters/{cluster}/status"), Some(&api.viewer))
            .send()
            .await
            .expect("GET status")
            .json()
            .await
            .expect("JSON");
        assert_eq!(status["location"], json!({ "account": account, "region": region }), "{status}");
    }

    // The API's plan preview and live view read each cluster where it lives.
    let plan = api
        .request(Method::GET, "/api/v1/clusters/west/plan", Some(&api.viewer))
        .send()
        .await
        .expect("GET plan")
        .text()
        .await
        .expect("text");
    assert!(plan.contains("no changes"), "{plan}");
    let live: Value = api
        .request(Method::GET, "/api/v1/clusters/euro/services", Some(&api.viewer))
        .send()
        .await
        .expect("GET services")
        .json()
        .await
        .expect("JSON");
    assert_eq!(live["content"][0]["name"], "billing", "{live}");
    assert_eq!(live["content"][0]["live"]["running_count"], 1, "{live}");

    // The CLI assumes the same role: nothing to change (the stackfile as the bump left it).
    let file = env.work_dir().join("west.yml");
    std::fs::write(&file, west_yaml.replace("busybox:1.36", "busybox:1.37")).expect("write the stackfile");
    let run = env.bosun(&["plan", "--cluster", "west", "-f", file.to_str().unwrap(), "--detailed-exitcode"]).await;
    run.expect_code(0);
}

#[tokio::test]
async fn a_wrong_external_id_is_refused_before_any_change() {
    let env = Env::start().await;
    let role = role_in(&env, "111111111111", "bosun-strict", "the-right-id");
    let file = env.work_dir().join("strict.yml");
    std::fs::write(&file, stackfile(&format!("aws:\n  role_arn: {role}\n  external_id: a-wrong-id\n"), "app"))
        .expect("write the stackfile");
    let run = env.bosun(&["apply", "--cluster", "strict", "-f", file.to_str().unwrap(), "--auto-approve"]).await;
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("could not reach the account of cluster strict"), "{run}");
    assert!(run.stderr.contains(&role) && run.stderr.contains("AccessDenied"), "{run}");
    let ecs = ecs_in(&env, Some((&role, "the-right-id")), "us-east-1").await;
    assert_eq!(services(&ecs, "strict").await, None);
}
