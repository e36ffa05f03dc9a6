//! The limits a hostile caller meets: plan slots (429 with `Retry-After`), the body and
//! request timeouts, and JSON bodies that repeat a key (422, before any AWS call: the
//! app's AWS does not answer, so a request that got that far would be a 502).

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{Method, header};
use serde_json::json;

use super::fixture::{Answer, Req, TestApp, Who};
use crate::Limits;
use crate::auth::Role;
use crate::limits::PlanSlot;

const VIEWER: Who = Who::Role(Role::Viewer);
const DEPLOYER: Who = Who::Role(Role::Deployer);
const ADMIN: Who = Who::Role(Role::Admin);

const STACKFILE: &str = "services:\n  - web:\n      image: nginx:1\n";

fn post_plan(body: impl Into<Vec<u8>>) -> Req {
    Req::post("/api/v1/clusters/m/plan").content_type("application/yaml").body(body)
}

fn put_config(body: impl Into<Vec<u8>>) -> Req {
    Req::put("/api/v1/clusters/m/config").content_type("application/yaml").body(body)
}

/// A 429 in the API's error shape, with `Retry-After`; returns its message.
#[track_caller]
fn assert_throttled(answer: &Answer) -> String {
    let body = answer.assert_client_error(429, "too_many_requests");
    assert_eq!(answer.headers[header::RETRY_AFTER], "2", "{}", answer.what);
    body["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_caller_past_its_plan_slots_gets_429_with_retry_after() {
    let app = TestApp::with_limits(Limits { plans: 3, plans_per_caller: 2, ..Limits::default() }).await;
    // The viewer token has two previews running.
    let held = [
        PlanSlot::try_acquire(&app.state, "viewer-bot").unwrap(),
        PlanSlot::try_acquire(&app.state, "viewer-bot").unwrap(),
    ];
    for req in [
        post_plan(STACKFILE),
        // A body of the largest size is refused all the same, and read to its end so
        // the client sees the answer.
        post_plan(format!("{STACKFILE}#{}", "x".repeat(crate::body::MAX_BODY - STACKFILE.len() - 1))),
        Req::get("/api/v1/clusters/m/plan"),
    ] {
        let message = assert_throttled(&app.send_as(VIEWER, req).await);
        assert_eq!(
            message,
            "token viewer-bot already has 2 plan preview(s) or validation(s) running, its limit; retry when one has finished"
        );
    }
    // Another token still has a slot: its request goes on (to AWS, which fails here).
    app.send_as(DEPLOYER, put_config(STACKFILE)).await.assert_server_error(502, "aws_error");
    // Reads that plan nothing are never refused.
    app.send_as(VIEWER, Req::get("/api/v1/clusters/m/config")).await.assert_server_error(502, "aws_error");
    // Once one of the previews ends, the viewer is let in again.
    drop(held);
    app.send_as(VIEWER, post_plan(STACKFILE)).await.assert_server_error(502, "aws_error");
}

#[tokio::test]
async fn the_server_wide_bound_refuses_every_caller() {
    let app = TestApp::with_limits(Limits { plans: 2, plans_per_caller: 2, ..Limits::default() }).await;
    let held = [PlanSlot::try_acquire(&app.state, "a").unwrap(), PlanSlot::try_acquire(&app.state, "b").unwrap()];
    let create = Req::post("/api/v1/clusters").json(&json!({"name": "n", "config": STACKFILE}));
    for (who, req) in [(VIEWER, post_plan(STACKFILE)), (DEPLOYER, put_config(STACKFILE)), (ADMIN, create)] {
        let message = assert_throttled(&app.send_as(who, req).await);
        assert_eq!(message, "the server is running its limit of 2 plan previews and validations; retry shortly");
    }
    // The slots are returned when a request ends, refused or not.
    drop(held);
    for _ in 0..3 {
        app.send_as(VIEWER, post_plan(STACKFILE)).await.assert_server_error(502, "aws_error");
    }
    assert!(PlanSlot::try_acquire(&app.state, "a").is_ok());
}

#[tokio::test]
async fn auth_and_names_are_checked_before_a_slot_is_taken() {
    let app = TestApp::with_limits(Limits { plans: 1, plans_per_caller: 1, ..Limits::default() }).await;
    let _held = PlanSlot::try_acquire(&app.state, "someone").unwrap();
    app.send_as(Who::Nobody, post_plan(STACKFILE)).await.assert_client_error(401, "unauthorized");
    app.send_as(VIEWER, put_config(STACKFILE)).await.assert_client_error(403, "forbidden");
    let bad_name = Req::post("/api/v1/clusters/a.b/plan").content_type("application/yaml").body(STACKFILE);
    app.send_as(VIEWER, bad_name).await.assert_client_error(400, "invalid_name");
}

/// A body that sends its first bytes, then nothing more.
fn stalled_body() -> Body {
    let first = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"services:\n"))]);
    Body::from_stream(futures::StreamExt::chain(first, futures::stream::pending()))
}

#[tokio::test]
async fn a_body_that_stalls_gets_408_and_the_connection_closed() {
    let limits = Limits { body_timeout: Duration::from_millis(200), ..Limits::default() };
    let app = TestApp::with_limits(limits).await;
    for (who, req) in [(VIEWER, post_plan("")), (DEPLOYER, put_config(""))] {
        let answer = tokio::time::timeout(Duration::from_secs(10), app.send_streaming(who, req, stalled_body()))
            .await
            .expect("answered within the body timeout");
        let body = answer.assert_client_error(408, "body_timeout");
        assert_eq!(body["message"], "the request body did not arrive within 200ms");
        assert_eq!(answer.headers[header::CONNECTION], "close");
    }
}

#[tokio::test]
async fn a_request_past_the_request_timeout_gets_503() {
    // The body timeout is longer, so the whole request's time runs out first.
    let limits = Limits {
        body_timeout: Duration::from_secs(60),
        request_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let app = TestApp::with_limits(limits).await;
    let answer =
        tokio::time::timeout(Duration::from_secs(10), app.send_streaming(VIEWER, post_plan(""), stalled_body()))
            .await
            .expect("answered within the request timeout");
    answer.assert_server_error(503, "request_timeout");
    assert_eq!(
        answer.json()["message"],
        "something went wrong on the server: the request took longer than the server's request timeout and was stopped; its log has the cause under this request_id"
    );
    // Its plan slot was given back.
    assert!(PlanSlot::try_acquire(&app.state, "viewer-bot").is_ok());
}

#[tokio::test]
async fn json_bodies_that_repeat_a_key_get_422_with_its_path() {
    let app = TestApp::new().await;
    let json = |method: Method, path: &str, body: &str| {
        Req::new(method, path).content_type("application/json").body(body.to_owned())
    };
    let cases = [
        // A stackfile body, bare and in nysa's envelope.
        (
            DEPLOYER,
            json(
                Method::PUT,
                "/api/v1/clusters/m/config",
                "{\"services\": [{\"web\": {\"image\": \"a:1\",\n \"image\": \"b:2\"}}]}",
            ),
            "services[0].web.image",
            (2, 8),
        ),
        (
            DEPLOYER,
            json(
                Method::PUT,
                "/api/v1/clusters/m/config",
                r#"{"config": {"services": []}, "config": {"services": []}}"#,
            ),
            "config",
            (1, 37),
        ),
        (
            VIEWER,
            json(
                Method::POST,
                "/api/v1/clusters/m/plan",
                r#"{"config": {"defaults": {"environment": {"A": "1", "A": "2"}}}}"#,
            ),
            "config.defaults.environment.A",
            (1, 54),
        ),
        (
            ADMIN,
            json(Method::POST, "/api/v1/clusters", r#"{"name": "x", "config": {"services": []}, "name": "y"}"#),
            "name",
            (1, 48),
        ),
        (
            DEPLOYER,
            json(Method::PUT, "/api/v1/clusters/m/services/web", r#"{"image_tag": "1", "image_tag": "2"}"#),
            "image_tag",
            (1, 30),
        ),
        (
            DEPLOYER,
            json(Method::POST, "/api/v1/clusters/m/rollback", r#"{"version_id": "a", "version_id": "b"}"#),
            "version_id",
            (1, 32),
        ),
    ];
    // The position is the end of the repeated key.
    for (who, req, path, (line, column)) in cases {
        let answer = app.send_as(who, req).await;
        let body = answer.assert_client_error(422, "duplicate_key");
        assert_eq!(
            body["message"],
            format!("the JSON body has key `{path}` more than once in one object; nothing was done"),
            "{}",
            answer.what
        );
        assert_eq!(body["details"][0]["path"], path, "{}: {body}", answer.what);
        assert_eq!(
            (body["details"][0]["line"].as_u64(), body["details"][0]["column"].as_u64()),
            (Some(line), Some(column)),
            "{}: {body}",
            answer.what
        );
    }
    // The same key in two different objects is fine (and gets as far as AWS here).
    let ok = json(
        Method::PUT,
        "/api/v1/clusters/m/config",
        r#"{"services": [{"a": {"image": "x:1"}}, {"b": {"image": "x:1"}}]}"#,
    );
    app.send_as(DEPLOYER, ok).await.assert_server_error(502, "aws_error");
}
