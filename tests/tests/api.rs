//! The HTTP API (`bosun serve api`) against the emulator: every endpoint's statuses and
//! bodies, nysa's request and response shapes, concurrency (no lost updates, If-Match),
//! the auth matrix, bad input that writes nothing, history and rollback, ECR tags, and
//! readiness, and request ids with what a 5xx shows and logs. The end state is checked
//! in S3 and SQS through the SDK.

use std::collections::BTreeSet;

use bosun_tests::Env;
use bosun_tests::api::{ApiServer, BUCKET, QUEUE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const STACKFILE: &str = "\
# two services; the comments must survive edits through the API
services:
  - web:
      image: nginx:1.27 # pinned
      desired_count: 2
  - worker:
      image: busybox:1.36
";

async fn json_of(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.expect("read the body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text}"));
    (status, body)
}

/// Every error body has exactly `error`, `message` and `details`.
fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(body["details"].is_array(), "{body}");
    assert_eq!(body.as_object().map(|o| o.len()), Some(3), "{body}");
}

async fn create(api: &ApiServer, name: &str, config: Value) -> (StatusCode, Value) {
    json_of(
        api.request(Method::POST, "/api/v1/clusters", Some(&api.admin))
            .json(&json!({"name": name, "config": config}))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The stored YAML, as a deployer reads it (a viewer reads a redacted rendering,
/// without comments: see tests/limits.rs).
async fn config_yaml(api: &ApiServer, cluster: &str) -> (String, String) {
    let resp = api
        .request(Method::GET, &format!("/api/v1/clusters/{cluster}/config"), Some(&api.deployer))
        .header("accept", "application/yaml")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    (resp.text().await.unwrap(), etag)
}

async fn job_ids_in_queue(api: &ApiServer) -> BTreeSet<String> {
    api.peek_jobs(1).await.iter().map(|j| j["job_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn every_endpoint_answers_with_its_documented_status_and_body() {
    let env = Env::start().await;
    let api = ApiServer::start(&env).await;
    let v = Some(api.viewer.as_str());
    let d = Some(api.deployer.as_str());

    // Ops endpoints need no token.
    let (s, body) = json_of(api.request(Method::GET, "/healthz", None).send().await.unwrap()).await;
    assert_eq!((s, body), (StatusCode::OK, json!({"status": "ok"})));
    let (s, body) = json_of(api.request(Method::GET, "/readyz", None).send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(body, json!({"status": "ready", "checks": {"s3": "ok", "sqs": "ok"}}));
    let (s, doc) = json_of(api.request(Method::GET, "/openapi.json", None).send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert!(doc["paths"]["/api/v1/clusters/{cluster}/services/{service}"]["put"].is_object(), "{doc}");

    // Create: 201, then the same name again: 422.
    let (s, created) = create(&api, "demo", json!(STACKFILE)).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert!(created["job_id"].is_string() && created["message"].is_string(), "{created}");
    assert_eq!(created["status_url"], format!("/api/v1/jobs/{}", created["job_id"].as_str().unwrap()));
    let (s, body) = create(&api, "demo", json!(STACKFILE)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "cluster_exists");

    // The job record exists and is queued; the message is in the queue, grouped by cluster.
    let job_id = created["job_id"].as_str().unwrap();
    let (s, job) = json_of(api.request(Method::GET, &format!("/api/v1/jobs/{job_id}"), v).send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(job["status"], "queued");
    assert_eq!(job["cluster"], "demo");
    assert_eq!(job["reason"], "cluster_created");
    assert_eq!(job["requested_by"], "admin-bot");
    let msgs = api.peek_jobs(1).await;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    for key in ["job_id", "cluster", "reason", "requested_by", "stackfile_version", "created_at"] {
        assert_eq!(msgs[0][key], job[key], "{key}");
    }
    assert_eq!(msgs[0]["_group"], "demo");

    // List.
    let (s, body) = json_of(api.request(Method::GET, "/api/v1/clusters", v).send().await.unwrap()).await;
    assert_eq!((s, body), (StatusCode::OK, json!({"content": ["demo"]})));

    // Config: JSON by default (document order), YAML on request (the stored text), ETag.
    let resp = api.request(Method::GET, "/api/v1/clusters/demo/config", v).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        resp.text().await.unwrap(),
        r#"{"services":[{"web":{"image":"nginx:1.27","desired_count":2}},{"worker":{"image":"busybox:1.36"}}]}"#
    );
    let (yaml, etag2) = config_yaml(&api, "demo").await;
    assert_eq!((yaml.as_str(), etag2.as_str()), (STACKFILE, etag.as_str()));

    // PUT config as JSON with the right If-Match: 202 and a new ETag.
    // (Raw JSON text: serde_json's maps would sort the keys.)
    let new = r#"{"services": [{"web": {"image": "nginx:1.28", "desired_count": 3}}]}"#;
    let resp = api
        .request(Method::PUT, "/api/v1/clusters/demo/config", d)
        .header("if-match", &etag)
        .header("x-bosun-message", "one service only")
        .header("content-type", "application/json")
        .body(new)
        .send()
        .await
        .unwrap();
    let new_etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    let (s, body) = json_of(resp).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    assert_ne!(new_etag, etag);
    let (yaml, _) = config_yaml(&api, "demo").await;
    assert_eq!(yaml, "services:\n  - web:\n      image: nginx:1.28\n      desired_count: 3\n");
    // ... and the stale ETag now gets 412.
    let (s, body) = json_of(
        api.request(Method::PUT, "/api/v1/clusters/demo/config", d)
            .header("if-match", &etag)
            .body(new)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    assert_error(&body, "precondition_failed");

    // An invalid stackfile: 422 with every error, located.
    let bad = "services:\n  - web:\n      imag: nginx\n      ports: [70000]\n";
    let (s, body) = json_of(
        api.request(Method::PUT, "/api/v1/clusters/demo/config", d)
            .header("content-type", "application/yaml")
            .body(bad)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 422);
    assert_error(&body, "invalid_stackfile");
    let details = body["details"].as_array().unwrap();
    assert!(details.len() >= 2, "{body}");
    assert!(
        details.iter().any(|e| e["path"] == "services[0].web.imag" && e["line"] == 3 && e["column"] == 7),
        "{body}"
    );

    // Deploy re-queues the current version.
    let (s, body) = json_of(api.request(Method::POST, "/api/v1/clusters/demo/deploy", d).send().await.unwrap()).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    let (_, job) =
        json_of(api.request(Method::GET, body["status_url"].as_str().unwrap(), v).send().await.unwrap()).await;
    assert_eq!((job["reason"].as_str(), job["status"].as_str()), (Some("deploy"), Some("queued")));

    // Services: desired image, tag and count, and the live state (none yet: nothing applied).
    let (s, body) = json_of(api.request(Method::GET, "/api/v1/clusters/demo/services", v).send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(
        body,
        json!({"content": [{"name": "web", "type": "service", "image": "nginx:1.28", "tag": "1.28", "desired_count": 3, "live": null}]})
    );

    // Plan preview of the current stackfile, text and JSON; and of a candidate body.
    let resp = api.request(Method::GET, "/api/v1/clusters/demo/plan", v).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-bosun-plan-hash"));
    let text = resp.text().await.unwrap();
    assert!(text.contains("+ service web") && text.contains("+ task definition demo-web"), "{text}");
    let (s, plan) =
        json_of(api.request(Method::GET, "/api/v1/clusters/demo/plan?format=json", v).send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert!(plan.to_string().contains("demo-web"), "{plan}");
    let resp = api
        .request(Method::POST, "/api/v1/clusters/demo/plan", v)
        .header("content-type", "application/yaml")
        .body("services:\n  - api:\n      image: nginx:1\n")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.contains("+ service api") && !text.contains("service web"), "{text}");

    // Status before any reconcile.
    let (s, body) = json_of(api.request(Method::GET, "/api/v1/clusters/demo/status", v).send().await.unwrap()).await;
    assert_eq!(
        (s, body),
        (StatusCode::OK, json!({"cluster": "demo", "state": "never_reconciled", "dead_letter_jobs": 0, "lock": null}))
    );

    // Unknown things: 404; a bad job id or name: 400; an unknown method: 405.
    for (path, status, code) in [
        ("/api/v1/clusters/nope/config", 404, "not_found"),
        ("/api/v1/clusters/nope/services", 404, "not_found"),
        ("/api/v1/clusters/nope/status", 404, "not_found"),
        ("/api/v1/clusters/nope/history", 404, "not_found"),
        ("/api/v1/clusters/demo/services/nope/tags", 404, "not_found"),
        ("/api/v1/jobs/01234567-89ab-7def-8123-456789abcdef", 404, "not_found"),
        ("/api/v1/jobs/not-a-job", 400, "invalid_job_id"),
        ("/api/v1/clusters/a.b/config", 400, "invalid_name"),
        ("/api/v1/nothing-here", 404, "not_found"),
    ] {
        let (s, body) = json_of(api.request(Method::GET, path, v).send().await.unwrap()).await;
        assert_eq!(s.as_u16(), status, "{path}: {body}");
        assert_error(&body, code);
    }
    let (s, body) = json_of(api.request(Method::PATCH, "/api/v1/clusters/demo/config", d).send().await.unwrap()).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&body, "method_not_allowed");

    // Metrics: requests by route and status, latency histograms, AWS calls.
    let metrics = api.request(Method::GET, "/metrics", None).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(
            r#"bosun_http_requests_total{method="PUT",route="/api/v1/clusters/{cluster}/config",status="412"} 1"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains("bosun_http_request_duration_seconds_bucket{"), "{metrics}");
    assert!(metrics.contains("bosun_http_request_overhead_seconds_bucket{"), "{metrics}");
    assert!(metrics.contains(r#"bosun_aws_calls_total{service="S3",operation="PutObject"}"#), "{metrics}");

    // One access-log line per request, and never a token.
    let logs = api.logs();
    assert!(
        logs.iter()
            .any(|l| l.contains("bosun::access") && l.contains("status=412") && l.contains("caller=deployer-bot")),
        "{logs:#?}"
    );
    for token in [&api.admin, &api.deployer, &api.viewer] {
        assert!(!logs.iter().any(|l| l.contains(token.as_str())), "a token was logged");
    }

    // SIGTERM: a graceful exit 0.
    let status = api.terminate().await;
    assert!(status.success(), "{status:?}");
}

/// nysa's clients send these shapes and read these answers.
#[tokio::test]
async fn nysa_request_and_response_shapes_are_kept() {
    let env = Env::start().await;
    let api = ApiServer::start(&env).await;
    // nysa's POST carries the config as an object.
    let config = json!({"services": [{"web": {"image": "nginx:1.27", "desired_count": 2}}, {"worker": {"image": "busybox:1.36"}}]});
    let (s, _) = create(&api, "staging", config).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, body) =
        json_of(api.request(Method::GET, "/api/v1/clusters", Some(&api.viewer)).send().await.unwrap()).await;
    assert_eq!((s, &body), (StatusCode::OK, &json!({"content": ["staging"]})));
    assert!(body["content"].is_array());

    // A ChatOps deploy: image_tag + desired_count 0 + deploy. desired_count 0 is kept.
    let (s, body) = json_of(
        api.request(Method::PUT, "/api/v1/clusters/staging/services/web", Some(&api.deployer))
            .json(&json!({"image_tag": "1.28", "desired_count": 0, "deploy": true}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    for key in ["message", "job_id", "status_url"] {
        assert!(body[key].is_string(), "{key}: {body}");
    }
    let (s, cfg) =
        json_of(api.request(Method::GET, "/api/v1/clusters/staging/config", Some(&api.viewer)).send().await.unwrap())
            .await;
    assert_eq!(s, 200);
    assert_eq!(cfg["services"][0]["web"], json!({"image": "nginx:1.28", "desired_count": 0}));

    // PUT config with nysa's envelope.
    let (s, _) = json_of(
        api.request(Method::PUT, "/api/v1/clusters/staging/config", Some(&api.deployer))
            .json(&json!({"config": {"services": [{"web": {"image": "nginx:1.29"}}, {"worker": {"image": "busybox:1.36"}}]}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);

    // DELETE removes the service from the stackfile and queues a job that deletes it.
    let (s, body) = json_of(
        api.request(Method::DELETE, "/api/v1/clusters/staging/services/worker", Some(&api.deployer))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    let (_, job) = json_of(
        api.request(Method::GET, body["status_url"].as_str().unwrap(), Some(&api.viewer)).send().await.unwrap(),
    )
    .await;
    assert_eq!(job["reason"], "service_deleted");
    assert_eq!(job["delete_services"], json!(["worker"]));
    let (_, cfg) =
        json_of(api.request(Method::GET, "/api/v1/clusters/staging/config", Some(&api.viewer)).send().await.unwrap())
            .await;
    assert_eq!(cfg, json!({"services": [{"web": {"image": "nginx:1.29"}}]}));
}

#[tokio::test]
async fn twenty_concurrent_service_updates_all_land() {
    let env = Env::start().await;
    let api = ApiServer::start(&env).await;
    let mut text = String::from("services:\n");
    for i in 0..20 {
        text.push_str(&format!("  - svc-{i:02}:\n      image: nginx:1\n      desired_count: 1\n"));
    }
    assert_eq!(create(&api, "busy", json!(text)).await.0, StatusCode::CREATED);
    let (_, queued_before) = api.footprint().await;

    let puts = (0..20).map(|i| {
        api.request(Method::PUT, &format!("/api/v1/clusters/busy/services/svc-{i:02}"), Some(&api.deployer))
            .json(&json!({"image_tag": format!("v{i}"), "desired_count": i}))
            .send()
    });
    let answers = futures::future::join_all(puts).await;
    for (i, a) in answers.into_iter().enumerate() {
        let (s, body) = json_of(a.unwrap()).await;
        assert_eq!(s, StatusCode::ACCEPTED, "svc-{i:02}: {body}");
    }

    let (_, cfg) =
        json_of(api.request(Method::GET, "/api/v1/clusters/busy/config", Some(&api.viewer)).send().await.unwrap())
            .await;
    let services = cfg["services"].as_array().unwrap();
    assert_eq!(services.len(), 20);
    for (i, s) in services.iter().enumerate() {
        let svc = &s[format!("svc-{i:02}")];
        assert_eq!(svc["image"], format!("nginx:v{i}"), "svc-{i:02} lost its update: {cfg}");
        assert_eq!(svc["desired_count"], i, "svc-{i:02} lost its update: {cfg}");
    }
    // One job per update.
    let (_, queued_after) = api.footprint().await;
    assert_eq!(queued_after - queued_before, 20);
}

#[tokio::test]
async fn two_puts_with_the_same_if_match_one_wins() {
    let env = Env::start().await;
    let api = ApiServer::start(&env).await;
    assert_eq!(create(&api, "race", json!(STACKFILE)).await.0, StatusCode::CREATED);
    let (_, etag) = config_yaml(&api, "race").await;
    let (versions_before, _) = api.footprint().await;
    let put = |tag: &str| {
        api.request(Method::PUT, "/api/v1/clusters/race/config", Some(&api.deployer))
            .header("if-match", &etag)
            .header("content-type", "application/yaml")
            .body(STACKFILE.replace("nginx:1.27", &format!("nginx:{tag}")))
            .send()
    };
    let (a, b) = tokio::join!(put("a"), put("b"));
    let mut statuses = vec![a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [202, 412]);
    let (versions_after, _) = api.footprint().await;
    // The winner's stackfile version, its job record and the version's job index;
    // nothing for the loser.
    assert_eq!(versions_after - versions_before, 3);
}

/// Endpoint, method, and the lowest role that may call it.
const MATRIX: &[(Method, &str, &str)] = &[
    (Method::GET, "/api/v1/clusters", "viewer"),
    (Method::POST, "/api/v1/clusters", "admin"),
    (Method::GET, "/api/v1/clusters/m/config", "viewer"),
    (Method::PUT, "/api/v1/clusters/m/config", "deployer"),
    (Method::POST, "/api/v1/clusters/m/deploy", "deployer"),
    (Method::GET, "/api/v1/clusters/m/services", "viewer"),
    (Method::PUT, "/api/v1/clusters/m/services/web", "deployer"),
    (Method::DELETE, "/api/v1/clusters/m/services/web", "deployer"),
    (Method::GET, "/api/v1/clusters/m/services/web/tags", "viewer"),
    (Method::GET, "/api/v1/clusters/m/plan", "viewer"),
    (Method::POST, "/api/v1/clusters/m/plan", "viewer"),
    (Method::GET, "/api/v1/clusters/m/history", "viewer"),
    (Method::POST, "/api/v1/clusters/m/rollback", "deployer"),
    (Method::GET, "/api/v1/clusters/m/status", "viewer"),
    (Method::GET, "/api/v1/jobs/01234567-89ab-7def-8123-456789abcdef", "viewer"),
];

#[tokio::test]
async fn auth_matrix_every_role_against_every_endpoint() {
    let env = Env::start().await;
    let api = ApiServer::start(&env).await;
    let rank = |r: &str| ["viewer", "deployer", "admin"].iter().position(|x| *x == r).unwrap();
    let callers: [(&str, Option<&str>); 5] = [
        ("none", None),
        ("unknown", Some("bosun_0000000000000000000000000000000000000000000000000000000000000000")),
        ("viewer", Some(&api.viewer)),
        ("deployer", Some(&api.deployer)),
        ("admin", Some(&api.admin)),
    ];
    let mut failures = Vec::new();
    for (method, path, needed) in MATRIX {
        for (who, token) in &callers {
            // Empty JSON bodies: authorization is decided before the body is read.
            let resp = api
                .request(method.clone(), path, *token)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let expected_denial = match *who {
                "none" | "unknown" => Some(401),
                role if rank(role) < rank(needed) => Some(403),
                _ => None,
            };
            let ok = match expected_denial {
                Some(code) => status == code,
                None => status != 401 && status != 403,
            };
            if !ok {
                failures.push(format!("{method} {path} as {who}: {status}, expected {expected_denial:?}"));
            }
            if status == 401 {
                assert_eq!(resp.headers().get("www-authenticate").map(|v| v.to_str().unwrap()), Some("Bearer"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // None of the denied calls wrote anything (the allowed ones met no cluster `m`).
    assert_eq!(api.footprint().await, (0, 0));
}

#[tokio::test]
async fn rejected_requests_leave_s3_and_sqs_unchanged() {
    let env = Env::start().await;
    let api = ApiServer::start(&env).await;
    assert_eq!(create(&api, "safe", json!(STACKFILE)).await.0, StatusCode::CREATED);
    let before = api.footprint().await;
    let (yaml_before, _) = config_yaml(&api, "safe").await;
    let d = Some(api.deployer.as_str());
    let big = format!("services:\n  - web:\n      image: nginx:1\n# {}\n", "x".repeat(2 << 20));
    let cases: Vec<(Method, &str, &str, Vec<u8>, u16)> = vec![
        (Method::PUT, "/api/v1/clusters/safe/config", "application/json", b"{\"services\": [".to_vec(), 400),
        (
            Method::PUT,
            "/api/v1/clusters/safe/config",
            "application/yaml",
            b"services: [\n  - web: {image: \n".to_vec(),
            422,
        ),
        (
            Method::PUT,
            "/api/v1/clusters/safe/config",
            "application/yaml",
            b"services:\n  - web:\n      image: 1\n      memory: lots\n".to_vec(),
            422,
        ),
        (Method::PUT, "/api/v1/clusters/safe/config", "application/yaml", big.clone().into_bytes(), 413),
        (
            Method::PUT,
            "/api/v1/clusters/safe/config",
            "application/yaml",
            b"services:\n  - web:\n      image: \xff\xfe\n".to_vec(),
            400,
        ),
        (Method::PUT, "/api/v1/clusters/safe/config", "application/xml", b"<services/>".to_vec(), 415),
        (Method::PUT, "/api/v1/clusters/safe/services/web", "application/json", b"{\"image_tag\": ".to_vec(), 400),
        (
            Method::PUT,
            "/api/v1/clusters/safe/services/web",
            "application/json",
            b"{\"image_tag\": \"../../x\"}".to_vec(),
            400,
        ),
        (
            Method::PUT,
            "/api/v1/clusters/safe/services/web",
            "application/json",
            b"{\"desired_count\": -1}".to_vec(),
            400,
        ),
        (Method::PUT, "/api/v1/clusters/safe/services/web", "application/json", b"{\"colour\": \"red\"}".to_vec(), 400),
        (
            Method::PUT,
            "/api/v1/clusters/safe/services/nope",
            "application/json",
            b"{\"image_tag\": \"2\"}".to_vec(),
            404,
        ),
        (Method::DELETE, "/api/v1/clusters/safe/services/nope", "application/json", Vec::new(), 404),
        (Method::PUT, "/api/v1/clusters/..%2F..%2Fjobs/config", "application/yaml", STACKFILE.as_bytes().to_vec(), 400),
        (
            Method::PUT,
            "/api/v1/clusters/safe%2F..%2Fother/config",
            "application/yaml",
            STACKFILE.as_bytes().to_vec(),
            400,
        ),
        (Method::PUT, "/api/v1/clusters/%FF%FE/config", "application/yaml", STACKFILE.as_bytes().to_vec(), 400),
        (
            Method::PUT,
            "/api/v1/clusters/safe/services/..%2Fweb",
            "application/json",
            b"{\"image_tag\": \"2\"}".to_vec(),
            400,
        ),
        (Method::POST, "/api/v1/clusters", "application/json", big.into_bytes(), 413),
        (Method::POST, "/api/v1/clusters", "application/json", b"{\"name\": \"../x\", \"config\": {}}".to_vec(), 400),
        (
            Method::POST,
            "/api/v1/clusters/safe/rollback",
            "application/json",
            b"{\"version_id\": \"no-such-version\"}".to_vec(),
            404,
        ),
        (Method::POST, "/api/v1/clusters/safe/plan", "application/json", b"[1, 2".to_vec(), 400),
    ];
    for (method, path, ct, body, status) in cases {
        let token = if path == "/api/v1/clusters" { Some(api.admin.as_str()) } else { d };
        let resp = api.request(method.clone(), path, token).header("content-type", ct).body(body).send().await.unwrap();
        let (s, json) = json_of(resp).await;
        assert_eq!(s.as_u16(), status, "{method} {path} ({ct}): {json}");
        assert!(json["error"].is_string() && json["details"].is_array(), "{json}");
    }
    assert_eq!(api.footprint().await, before, "a rejected request wrote to S3 or sent to SQS");
    assert_eq!(config_yaml(&api, "safe").await.0, yaml_before);
    let listing = api.s3.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    // Besides the creation's job record and version index, only the stackfile.
    let keys: Vec<&str> = listing
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .filter(|k| !k.starts_with("jobs/") && !k.starts_with("clusters/safe/versions/"))
        .collect();
    assert_eq!(keys, ["clusters/safe/stackfile.yaml"]);
}

#[tokio::test]
async fn an_empty_double_or_forged_stackfile_gets_422_and_stores_and_queues_nothing() {
    let env = Env::start().await;
    let api = ApiServer::start(&env).await;
    assert_eq!(create(&api, "safe", json!(STACKFILE)).await.0, StatusCode::CREATED);
    let before = api.footprint().await;
    let (yaml_before, etag_before) = config_yaml(&api, "safe").await;
    let d = Some(api.deployer.as_str());
    let cases: [(&str, String, &str); 6] = [
        // Before, an empty body stored 0 bytes and queued a job: the desired state, gone.
        ("application/yaml", String::new(), "the stackfile is empty"),
        ("application/yaml", "# todo: services\n".into(), "the stackfile is empty"),
        ("application/json", r#"{"config": ""}"#.into(), "the stackfile is empty"),
        ("application/yaml", format!("{STACKFILE}---\nservices: []\n"), "a second YAML document starts here"),
        (
            "application/yaml",
            "services:\n  - web:\n      image: \"nginx:1.27\\n+ service evil\"\n".into(),
            "contains a line break",
        ),
        (
            "application/json",
            format!(r#"{{"services": [{{"web": {{"image": "nginx:{}"}}}}]}}"#, "1".repeat(500_000)),
            "is 500,006 characters long; the limit is 327",
        ),
    ];
    for (ct, body, message) in &cases {
        for (method, path) in
            [(Method::PUT, "/api/v1/clusters/safe/config"), (Method::POST, "/api/v1/clusters/safe/plan")]
        {
            let resp = api
                .request(method.clone(), path, d)
                .header("content-type", *ct)
                .header("if-match", &etag_before)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let (s, json) = json_of(resp).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{method} {path} {ct} {message}: {json}");
            assert_error(&json, "invalid_stackfile");
            let detail = &json["details"][0];
            assert!(detail["message"].as_str().unwrap().starts_with(message), "{json}");
            assert!(detail["line"].as_u64() > Some(0) && detail["column"].as_u64() > Some(0), "located: {json}");
        }
    }
    // Creating a cluster with an empty stackfile is refused too.
    let (s, json) = create(&api, "blank", json!("")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
    assert_error(&json, "invalid_stackfile");

    assert_eq!(api.footprint().await, before, "a refused stackfile wrote to S3 or sent to SQS");
    assert_eq!(config_yaml(&api, "safe").await, (yaml_before, etag_before));
    let (s, json) = json_of(api.request(Method::GET, "/api/v1/clusters/blank/config", d).send().await.unwrap()).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{json}");
}

#[tokio::test]
async fn history_and_rollback_round_trip() {
    let env = Env::start().await;
    let api = ApiServer::start(&env).await;
    assert_eq!(create(&api, "hist", json!(STACKFILE)).await.0, StatusCode::CREATED);
    for tag in ["1.28", "1.29"] {
        let resp = api
            .request(Method::PUT, "/api/v1/clusters/hist/services/web", Some(&api.deployer))
            .header("x-bosun-message", format!("bump to {tag} ✓"))
            .json(&json!({"image_tag": tag}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202);
    }
    let (s, body) =
        json_of(api.request(Method::GET, "/api/v1/clusters/hist/history", Some(&api.viewer)).send().await.unwrap())
            .await;
    assert_eq!(s, 200);
    let versions = body["content"].as_array().unwrap();
    assert_eq!(versions.len(), 3, "{body}");
    let authors: Vec<&str> = versions.iter().map(|v| v["author"].as_str().unwrap()).collect();
    assert_eq!(authors, ["deployer-bot", "deployer-bot", "admin-bot"]);
    assert_eq!(versions[0]["message"], "bump to 1.29 ✓");
    assert_eq!(versions[1]["message"], "bump to 1.28 ✓");
    assert_eq!(versions.iter().map(|v| v["is_latest"].as_bool().unwrap()).collect::<Vec<_>>(), [true, false, false]);
    assert!(versions.iter().all(|v| v["time"].as_str().is_some_and(|t| t.ends_with('Z'))), "{body}");

    // Roll back to the first version: it becomes the current one, comments and all.
    let first = versions[2]["version_id"].as_str().unwrap();
    let (s, body) = json_of(
        api.request(Method::POST, "/api/v1/clusters/hist/rollback", Some(&api.deployer))
            .json(&json!({"version_id": first}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    assert_eq!(config_yaml(&api, "hist").await.0, STACKFILE);
    let (_, job) = json_of(
        api.request(Method::GET, body["status_url"].as_str().unwrap(), Some(&api.viewer)).send().await.unwrap(),
    )
    .await;
    assert_eq!(job["reason"], "rollback");
    assert_eq!(job["stackfile_version"], body["version_id"]);
    let (_, body) =
        json_of(api.request(Method::GET, "/api/v1/clusters/hist/history", Some(&api.viewer)).send().await.unwrap())
            .await;
    let versions = body["content"].as_array().unwrap();
    assert_eq!(versions.len(), 4);
    assert_eq!(versions[0]["message"], format!("rollback to {first}"));
    assert_eq!(job_ids_in_queue(&api).await.len(), 4, "create, two bumps and the rollback each queued a job");
}

#[tokio::test]
async fn tags_endpoint_lists_every_ecr_tag_newest_first_or_the_newest_n() {
    let env = Env::start().await;
    let api = ApiServer::start(&env).await;
    let repo = api.ecr.create_repository().repository_name("team/web").send().await.expect("create the repository");
    let uri = repo.repository().and_then(|r| r.repository_uri()).unwrap().to_owned();
    // 12 images pushed in order; the last one carries two tags.
    for i in 0..12 {
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 100 + i, "digest": format!("sha256:{:064x}", i + 1)},
            "layers": []
        });
        api.ecr
            .put_image()
            .repository_name("team/web")
            .image_manifest(manifest.to_string())
            .image_tag(format!("1.{i}"))
            .send()
            .await
            .unwrap();
        // Push times have one-second resolution in the emulator, as in ECR's API.
        tokio::time::sleep(std::time::Duration::from_millis(1050)).await;
    }
    let text = format!("services:\n  - web:\n      image: {uri}:1.3\n");
    assert_eq!(create(&api, "ecr", json!(text)).await.0, StatusCode::CREATED);
    let (s, body) = json_of(
        api.request(Method::GET, "/api/v1/clusters/ecr/services/web/tags", Some(&api.viewer)).send().await.unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    // All 12, as nysa answers (its slackbot deploys a tag only if it is listed).
    let tags: Vec<&str> = body["content"].as_array().unwrap().iter().map(|t| t["tag"].as_str().unwrap()).collect();
    assert_eq!(tags, ["1.11", "1.10", "1.9", "1.8", "1.7", "1.6", "1.5", "1.4", "1.3", "1.2", "1.1", "1.0"]);
    let times: Vec<&str> =
        body["content"].as_array().unwrap().iter().map(|t| t["pushed_at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] > w[1]), "{times:?}");
    let (s, body) = json_of(
        api.request(Method::GET, "/api/v1/clusters/ecr/services/web/tags?limit=3", Some(&api.viewer))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let tags: Vec<&str> = body["content"].as_array().unwrap().iter().map(|t| t["tag"].as_str().unwrap()).collect();
    assert_eq!(tags, ["1.11", "1.10", "1.9"]);
    for bad in ["0", "-1", "three", "99999999999999999999999"] {
        let path = format!("/api/v1/clusters/ecr/services/web/tags?limit={bad}");
        let (s, body) = json_of(api.request(Method::GET, &path, Some(&api.viewer)).send().await.unwrap()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "limit={bad}: {body}");
        assert_error(&body, "invalid_limit");
    }

    // Not in ECR: 422.
    let (s, _) = json_of(
        api.request(Method::PUT, "/api/v1/clusters/ecr/config", Some(&api.deployer))
            .header("content-type", "application/yaml")
            .body("services:\n  - web:\n      image: nginx:1\n")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 202);
    let (s, body) = json_of(
        api.request(Method::GET, "/api/v1/clusters/ecr/services/web/tags", Some(&api.viewer)).send().await.unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "not_ecr");
}

#[tokio::test]
async fn readyz_fails_when_the_emulator_stops() {
    let env = Env::start().await;
    let api = ApiServer::start(&env).await;
    assert_eq!(api.request(Method::GET, "/readyz", None).send().await.unwrap().status(), 200);
    env.stop_emulator();
    let started = std::time::Instant::now();
    let (s, body) = json_of(api.request(Method::GET, "/readyz", None).send().await.unwrap()).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not_ready");
    assert_ne!(body["checks"]["s3"], "ok");
    assert_ne!(body["checks"]["sqs"], "ok");
    // Bounded: each check gives up after 2 s.
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    // Liveness does not depend on AWS.
    assert_eq!(api.request(Method::GET, "/healthz", None).send().await.unwrap().status(), 200);
}

/// The log lines (waiting up to 5 s for them: stderr is read as it comes) that contain
/// every one of `needles`.
async fn logged(api: &ApiServer, needles: &[&str]) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let lines: Vec<String> = api.logs().into_iter().filter(|l| needles.iter().all(|n| l.contains(n))).collect();
        if !lines.is_empty() || std::time::Instant::now() > deadline {
            return lines;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A 5xx body: exactly `error` (this code), a `message` that says something went
/// wrong, empty `details`, and the `request_id` of the response's header.
fn assert_server_error(body: &Value, code: &str, request_id: &str) {
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.starts_with("something went wrong")), "{body}");
    assert_eq!(body["details"], json!([]), "{body}");
    assert_eq!(body["request_id"], request_id, "{body}");
    assert_eq!(body.as_object().map(|o| o.len()), Some(4), "{body}");
}

async fn request_id_and_json(resp: reqwest::Response) -> (String, StatusCode, Value) {
    let id =
        resp.headers().get("x-request-id").expect("every response has an x-request-id").to_str().unwrap().to_owned();
    let (status, body) = json_of(resp).await;
    (id, status, body)
}

/// Every response has its own request id; a 5xx body says only that something went
/// wrong, with that id, and the server logs the cause (which names keys, queues and
/// AWS's error) under the same id.
#[tokio::test]
async fn server_errors_give_a_request_id_and_log_their_cause_under_it() {
    let env = Env::start().await;
    let api = ApiServer::start(&env).await;
    assert_eq!(create(&api, "oops", json!(STACKFILE)).await.0, StatusCode::CREATED);

    // Ids are the server's own, and on the access line.
    let forged = "00000000-0000-7000-8000-000000000000";
    let (id, s, _) = request_id_and_json(
        api.request(Method::GET, "/api/v1/clusters", Some(&api.viewer))
            .header("x-request-id", forged)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_ne!(id, forged);
    assert_eq!(logged(&api, &["bosun::access", &format!("request_id={id}"), "status=200"]).await.len(), 1);
    let (other, s, body) = request_id_and_json(
        api.request(Method::GET, "/api/v1/clusters/a.b/config", Some(&api.viewer)).send().await.unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    assert_ne!(other, id);
    assert_error(&body, "invalid_name");

    // A job record that is not JSON: 500 corrupt_record, and the key only in the log.
    let job = "01234567-89ab-7def-8123-456789abcdef";
    let key = format!("jobs/{job}.json");
    api.s3.put_object().bucket(BUCKET).key(&key).body(b"{not json".to_vec().into()).send().await.unwrap();
    let (id, s, body) = request_id_and_json(
        api.request(Method::GET, &format!("/api/v1/jobs/{job}"), Some(&api.viewer)).send().await.unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_server_error(&body, "corrupt_record", &id);
    assert!(!body.to_string().contains("jobs/"), "{body}");
    let causes = logged(&api, &["ERROR", "request failed", &format!("request_id={id}")]).await;
    assert_eq!(causes.len(), 1, "{:#?}", api.logs());
    assert!(causes[0].contains(&key), "{causes:#?}");

    // The queue gone: the edit is stored but its job cannot be queued: 503
    // enqueue_failed, which says what to do and nothing of the queue.
    api.sqs.delete_queue().queue_url(&api.queue_url).send().await.unwrap();
    let resp = api
        .request(Method::PUT, "/api/v1/clusters/oops/services/web", Some(&api.deployer))
        .json(&json!({"image_tag": "1.28"}))
        .send()
        .await
        .unwrap();
    let (id, s, body) = request_id_and_json(resp).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_server_error(&body, "enqueue_failed", &id);
    assert!(body["message"].as_str().unwrap().contains("POST .../deploy"), "{body}");
    assert!(!body.to_string().contains(QUEUE) && !body.to_string().contains("127.0.0.1"), "{body}");
    assert!(config_yaml(&api, "oops").await.0.contains("nginx:1.28"), "the version is stored");
    let causes = logged(&api, &["ERROR", "request failed", &format!("request_id={id}")]).await;
    assert_eq!(causes.len(), 1, "{:#?}", api.logs());
    assert!(causes[0].contains(QUEUE) && causes[0].contains("enqueue_failed"), "{causes:#?}");

    // Readiness: which check failed, not why; the cause is in the log.
    let (id, s, body) = request_id_and_json(api.request(Method::GET, "/readyz", None).send().await.unwrap()).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, json!({"status": "not_ready", "checks": {"s3": "ok", "sqs": "error"}, "request_id": id}));
    let causes = logged(&api, &["readiness check failed", &format!("request_id={id}")]).await;
    assert!(causes.len() == 1 && causes[0].contains(QUEUE), "{causes:#?}");
}

/// The bucket's lifecycle rules as (id, prefix, expiration days, delete markers
/// expire, noncurrent days), sorted by id.
async fn lifecycle(s3: &aws_sdk_s3::Client) -> Vec<(String, String, Option<i32>, Option<bool>, Option<i32>)> {
    let out =
        s3.get_bucket_lifecycle_configuration().bucket(BUCKET).send().await.expect("GetBucketLifecycleConfiguration");
    let mut rules: Vec<_> = out
        .rules()
        .iter()
        .map(|r| {
            (
                r.id().unwrap_or_default().to_owned(),
                r.filter().and_then(|f| f.prefix()).unwrap_or_default().to_owned(),
                r.expiration().and_then(|e| e.days()),
                r.expiration().and_then(|e| e.expired_object_delete_marker()),
                r.noncurrent_version_expiration().and_then(|n| n.noncurrent_days()),
            )
        })
        .collect();
    rules.sort();
    rules
}

#[tokio::test]
async fn init_expires_old_leases_and_job_records_keeps_other_rules_and_stays_idempotent() {
    use aws_sdk_s3::types::{BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule};
    let env = Env::start().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&env.sdk).force_path_style(true).build());
    // The bucket exists already, with a rule of its owner's.
    s3.create_bucket().bucket(BUCKET).send().await.expect("CreateBucket");
    let theirs = LifecycleRule::builder()
        .id("their-logs")
        .filter(aws_sdk_s3::types::LifecycleRuleFilter::builder().prefix("logs/").build())
        .status(ExpirationStatus::Enabled)
        .expiration(LifecycleExpiration::builder().days(7).build())
        .build()
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket(BUCKET)
        .lifecycle_configuration(BucketLifecycleConfiguration::builder().rules(theirs).build().unwrap())
        .send()
        .await
        .expect("PutBucketLifecycleConfiguration");

    let init = env.bosun(&["init", "--bucket", BUCKET, "--queue", QUEUE]).await;
    init.expect_code(0).expect_lines(&[
        "exists   bucket bosun-state",
        "set      bucket bosun-state lifecycle: old lease versions expire after 1 day; job records expire after 90 days; chat proposals expire after 30 days; stackfile history kept",
    ]);
    let expected = |days: i32| {
        vec![
            ("bosun-job-records".to_owned(), "jobs/".to_owned(), Some(days), None, Some(1)),
            ("bosun-leases".to_owned(), "leases/".to_owned(), None, Some(true), Some(1)),
            ("bosun-proposals".to_owned(), "proposals/".to_owned(), Some(30), None, Some(1)),
            ("their-logs".to_owned(), "logs/".to_owned(), Some(7), None, None),
        ]
    };
    assert_eq!(lifecycle(&s3).await, expected(90));

    // Again, with another retention: the same rules, bosun's with the new number of
    // days, theirs untouched, nothing twice.
    env.bosun(&["init", "--bucket", BUCKET, "--queue", QUEUE]).await.expect_code(0);
    assert_eq!(lifecycle(&s3).await, expected(90));
    env.bosun(&["init", "--bucket", BUCKET, "--queue", QUEUE, "--job-retention-days", "30"]).await.expect_code(0);
    assert_eq!(lifecycle(&s3).await, expected(30));

    // 0 keeps job records: no rule for them; leases still expire.
    let keep = env.bosun(&["init", "--bucket", BUCKET, "--queue", QUEUE, "--job-retention-days", "0"]).await;
    keep.expect_code(0).expect_lines(&[
        "set      bucket bosun-state lifecycle: old lease versions expire after 1 day; job records kept; chat proposals expire after 30 days; stackfile history kept",
    ]);
    let mut rules = expected(0);
    rules.remove(0);
    assert_eq!(lifecycle(&s3).await, rules);
    // No rule ever reaches the stackfile history.
    assert!(lifecycle(&s3).await.iter().all(|r| !"clusters/".starts_with(&r.1)), "a rule covers clusters/");
    let bad = env.bosun(&["init", "--bucket", BUCKET, "--queue", QUEUE, "--job-retention-days", "-1"]).await;
    bad.expect_code(1); // a command line that does not parse: exit 1, as every usage error
}

/// nysa's slackbot, configured as its README says with bosun's URL in place of nysa's:
/// the token in the URL (`http://bosun:TOKEN@host/`), which its HTTP client sends as
/// Basic auth.
#[tokio::test]
async fn nysa_clients_present_the_token_as_basic_auth() {
    let env = Env::start().await;
    let api = ApiServer::start(&env).await;
    assert_eq!(create(&api, "nysa", json!("services:\n  - web:\n      image: nginx:1\n")).await.0, StatusCode::CREATED);
    let basic = |method: Method, path: &str, user: &str, password: &str| {
        api.http.request(method, format!("{}{path}", api.url)).basic_auth(user, Some(password))
    };

    let resp = basic(Method::GET, "/api/v1/clusters", "bosun", &api.viewer).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // The same roles: a viewer's Basic auth cannot write, a deployer's can.
    let update = json!({"image_tag": "1.1"});
    let resp = basic(Method::PUT, "/api/v1/clusters/nysa/services/web", "bosun", &api.viewer).json(&update).send();
    assert_eq!(resp.await.unwrap().status(), StatusCode::FORBIDDEN);
    let resp = basic(Method::PUT, "/api/v1/clusters/nysa/services/web", "slackbot", &api.deployer).json(&update).send();
    assert_eq!(resp.await.unwrap().status(), StatusCode::ACCEPTED);

    // Its whole-config deploy reads the config and writes it back without If-Match:
    // taken, and logged as a write that could have lost a concurrent one.
    let config = basic(Method::GET, "/api/v1/clusters/nysa/config", "bosun", &api.deployer).send().await.unwrap();
    let config: Value = config.json().await.unwrap();
    let resp = basic(Method::PUT, "/api/v1/clusters/nysa/config", "bosun", &api.deployer).json(&config).send();
    assert_eq!(resp.await.unwrap().status(), StatusCode::ACCEPTED);
    let warned = || api.logs().iter().any(|l| l.contains("written without If-Match") && l.contains("nysa"));
    for _ in 0..50 {
        if warned() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(warned(), "no warning:\n{}", api.logs().join("\n"));

    // A wrong token, or the token as the user name: 401, and nothing is logged of it.
    for (user, password) in [("bosun", "bosun_0000"), (api.deployer.as_str(), "x")] {
        let (s, body) = json_of(basic(Method::GET, "/api/v1/clusters", user, password).send().await.unwrap()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
        assert_error(&body, "unauthorized");
    }
    let logs = api.logs().join("\n");
    assert!(!logs.contains(&api.deployer[6..30]), "a token was logged:\n{logs}");
}
