//! Request ids, and what a server error shows: that something went wrong, with the
//! request's id, while the log has the cause under the same id.

use http::{HeaderName, Method, header};
use serde_json::json;

use super::fixture::{BUCKET, Logs, Req, TestApp, Who, assert_no_internal_detail};
use crate::auth::Role;

const VIEWER: Who = Who::Role(Role::Viewer);

#[tokio::test]
async fn every_response_has_its_own_request_id_on_its_access_line() {
    let logs = Logs::capture();
    let app = TestApp::new().await;
    let forged = "00000000-0000-7000-8000-000000000000";
    let mut ids = Vec::new();
    for req in [Req::get("/healthz"), Req::get("/healthz"), Req::get("/nothing"), Req::get("/api/v1/clusters")] {
        // What a client sends is not taken: it could forge log lines.
        let req = req.header(HeaderName::from_static("x-request-id"), forged);
        ids.push(app.send(req).await.request_id());
    }
    let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "{ids:?}");
    assert!(!ids.iter().any(|id| id == forged), "{ids:?}");
    for (id, status) in ids.iter().zip([200, 200, 404, 401]) {
        let lines = logs.lines_with(&format!("request_id={id}"));
        assert_eq!(lines.len(), 1, "{id}: {lines:#?}");
        assert!(lines[0].contains("bosun::access") && lines[0].contains(&format!("status={status}")), "{lines:#?}");
    }
    assert!(logs.lines_with(forged).is_empty());
}

#[tokio::test]
async fn a_cors_preflight_gets_a_request_id_too() {
    let logs = Logs::capture();
    let app = TestApp::with_cors(&["https://ui.example"]).await;
    let preflight = Req::new(Method::OPTIONS, "/api/v1/clusters/prod/config")
        .header(header::ORIGIN, "https://ui.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT");
    let answer = app.send(preflight).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://ui.example");
    let id = answer.request_id();
    assert_eq!(logs.lines_with(&format!("request_id={id}")).len(), 1);
}

#[tokio::test]
async fn server_errors_say_only_that_something_went_wrong_and_log_the_cause() {
    let logs = Logs::capture();
    let app = TestApp::new().await;
    for req in [
        Req::get("/api/v1/clusters"),
        Req::get("/api/v1/clusters/prod/config").header(header::ACCEPT, "application/yaml"),
        Req::get("/api/v1/jobs/0190c6e2-7b8a-7c3d-9e4f-123456789abc"),
        Req::put("/api/v1/clusters/prod/services/web").json(&json!({"image_tag": "2"})),
    ] {
        let answer = app.send_as(Who::Role(Role::Deployer), req).await;
        let id = answer.assert_server_error(502, "aws_error");
        assert_eq!(
            answer.json()["message"],
            "something went wrong on the server; its log has the cause under this request_id"
        );
        // The cause, under the same id: what AWS call failed on what, and why.
        let failed = logs.lines_with(&format!("request_id={id}"));
        assert_eq!(failed.len(), 2, "the cause and the access line: {failed:#?}");
        assert!(failed[0].contains("ERROR") && failed[0].contains("request failed"), "{failed:#?}");
        assert!(failed[0].contains("code=\"aws_error\"") && failed[0].contains("status=502"), "{failed:#?}");
        assert!(failed[0].contains("cause=") && failed[0].contains("127.0.0.1:9"), "{failed:#?}");
        assert!(failed[1].contains("bosun::access") && failed[1].contains("status=502"), "{failed:#?}");
    }
    assert!(logs.lines_with("request failed").iter().any(|l| l.contains(BUCKET)));
}

#[tokio::test]
async fn readiness_says_which_check_failed_but_not_why() {
    let logs = Logs::capture();
    let app = TestApp::new().await;
    let answer = app.send_as(VIEWER, Req::get("/readyz")).await;
    let id = answer.request_id();
    assert_eq!(answer.status, 503);
    assert_eq!(
        answer.json(),
        json!({"status": "not_ready", "checks": {"s3": "error", "sqs": "error"}, "request_id": id})
    );
    assert_no_internal_detail(answer.text());
    let failed = logs.lines_with("readiness check failed");
    assert_eq!(failed.len(), 2, "{failed:#?}");
    for check in ["s3", "sqs"] {
        let line =
            failed.iter().find(|l| l.contains(&format!("check=\"{check}\""))).unwrap_or_else(|| panic!("{failed:#?}"));
        assert!(line.contains(&format!("request_id={id}")) && line.contains("127.0.0.1:9"), "{line}");
    }
}
