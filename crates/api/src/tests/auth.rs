//! Every endpoint and method against no token, an unknown token and each role.

use std::collections::BTreeSet;

use http::{Method, StatusCode, header};
use serde_json::json;
use utoipa::OpenApi as _;

use super::fixture::{Req, TestApp, Who};
use crate::auth::Role;

/// An endpoint, the lowest role that may call it, and a request to it that fails for
/// a reason checked after the caller's role, without AWS (`GET /api/v1/clusters`
/// has nothing to check but reaches AWS, which does not answer: 502).
struct Endpoint {
    method: Method,
    /// The route as the OpenAPI document names it.
    route: &'static str,
    needs: Role,
    request: Req,
    /// The status and error code of `request` once past auth.
    then: (u16, &'static str),
}

fn endpoint(method: Method, route: &'static str, needs: Role, request: Req, then: (u16, &'static str)) -> Endpoint {
    Endpoint { method, route, needs, request, then }
}

#[rustfmt::skip] // a table, one endpoint a row
fn endpoints() -> Vec<Endpoint> {
    use Method as M;
    use Role::{Admin, Deployer, Viewer};
    const CONFIG: &str = "/api/v1/clusters/{cluster}/config";
    const SERVICE: &str = "/api/v1/clusters/{cluster}/services/{service}";
    const PLAN: &str = "/api/v1/clusters/{cluster}/plan";
    const NAME: (u16, &str) = (400, "invalid_name");
    let xml = Req::put("/api/v1/clusters/m/config").content_type("application/xml").body("<services/>");
    let no_version = Req::post("/api/v1/clusters/m/rollback").json(&json!({"version_id": ""}));
    let not_json = Req::post("/api/v1/clusters/m/plan").content_type("application/json").body("[1, 2");
    let not_yaml = Req::post("/api/v1/clusters/m/validate").content_type("application/json").body("[1, 2");
    let unknown_field = Req::put("/api/v1/clusters/m/services/web").json(&json!({"colour": "red"}));
    const LOCK: &str = "/api/v1/clusters/{cluster}/lock";
    let bad_ttl = Req::put("/api/v1/clusters/m/lock").json(&json!({"reason": "freeze", "ttl": "soon"}));
    vec![
        endpoint(M::GET, "/api/v1/clusters", Viewer, Req::get("/api/v1/clusters"), (502, "aws_error")),
        endpoint(M::POST, "/api/v1/clusters", Admin, Req::post("/api/v1/clusters").json(&json!({"name": "a.b", "config": {}})), NAME),
        endpoint(M::GET, CONFIG, Viewer, Req::get("/api/v1/clusters/a.b/config"), NAME),
        endpoint(M::PUT, CONFIG, Deployer, xml, (415, "unsupported_media_type")),
        endpoint(M::POST, "/api/v1/clusters/{cluster}/deploy", Deployer, Req::post("/api/v1/clusters/a.b/deploy"), NAME),
        endpoint(M::GET, "/api/v1/clusters/{cluster}/history", Viewer, Req::get("/api/v1/clusters/a.b/history"), NAME),
        endpoint(M::POST, "/api/v1/clusters/{cluster}/rollback", Deployer, no_version, (400, "invalid_version")),
        endpoint(M::GET, "/api/v1/clusters/{cluster}/status", Viewer, Req::get("/api/v1/clusters/a.b/status"), NAME),
        endpoint(M::GET, LOCK, Viewer, Req::get("/api/v1/clusters/a.b/lock"), NAME),
        endpoint(M::PUT, LOCK, Admin, bad_ttl, (400, "invalid_lock")),
        endpoint(M::DELETE, LOCK, Admin, Req::new(M::DELETE, "/api/v1/clusters/a.b/lock"), NAME),
        endpoint(M::GET, PLAN, Viewer, Req::get("/api/v1/clusters/m/plan?format=xml"), (400, "invalid_format")),
        endpoint(M::POST, PLAN, Viewer, not_json, (400, "malformed_body")),
        endpoint(M::GET, "/api/v1/clusters/{cluster}/services", Viewer, Req::get("/api/v1/clusters/a.b/services"), NAME),
        endpoint(M::PUT, SERVICE, Deployer, unknown_field, (400, "malformed_body")),
        endpoint(M::DELETE, SERVICE, Deployer, Req::new(M::DELETE, "/api/v1/clusters/m/services/a.b"), NAME),
        endpoint(M::GET, "/api/v1/clusters/{cluster}/services/{service}/tags", Viewer, Req::get("/api/v1/clusters/m/services/a.b/tags"), NAME),
        endpoint(M::GET, "/api/v1/jobs/{id}", Viewer, Req::get("/api/v1/jobs/not-a-job"), (400, "invalid_job_id")),
        endpoint(M::POST, "/api/v1/clusters/{cluster}/validate", Viewer, not_yaml, (400, "malformed_body")),
        endpoint(M::GET, "/api/v1/system", Viewer, Req::get("/api/v1/system"), (502, "aws_error")),
        // Chat is off in these tests (no access file): past auth, 404.
        endpoint(M::POST, "/api/v1/chat", Viewer, Req::post("/api/v1/chat").json(&json!({})), (404, "not_found")),
        endpoint(M::POST, "/api/v1/chat/actions", Viewer, Req::post("/api/v1/chat/actions").json(&json!({})), (404, "not_found")),
        endpoint(M::GET, "/api/v1/chat/proposals/{id}", Viewer, Req::get("/api/v1/chat/proposals/x"), (400, "invalid_job_id")),
    ]
}

/// The endpoints that need no token, and what anyone gets from them here.
const PUBLIC: &[(&str, u16)] = &[("/healthz", 200), ("/readyz", 503), ("/metrics", 200), ("/openapi.json", 200)];

/// Every operation of the OpenAPI document, as `METHOD route`.
fn documented() -> BTreeSet<String> {
    let doc = serde_json::to_value(crate::openapi::ApiDoc::openapi()).expect("the document serialises");
    let paths = doc["paths"].as_object().expect("the document has paths");
    paths
        .iter()
        .flat_map(|(route, ops)| {
            ops.as_object().into_iter().flatten().map(move |(method, _)| format!("{} {route}", method.to_uppercase()))
        })
        .collect()
}

#[test]
fn the_matrix_covers_every_documented_operation() {
    let mut covered: BTreeSet<String> = endpoints().iter().map(|e| format!("{} {}", e.method, e.route)).collect();
    covered.extend(PUBLIC.iter().map(|(path, _)| format!("GET {path}")));
    assert_eq!(covered, documented());
}

#[tokio::test]
async fn each_role_gets_past_auth_exactly_where_it_may() {
    let app = TestApp::new().await;
    for e in endpoints() {
        for who in Who::ALL {
            let answer = app.send_as(who, e.request.clone()).await;
            match who {
                Who::Nobody | Who::Stranger => {
                    let body = answer.assert_client_error(401, "unauthorized");
                    assert_eq!(
                        body["message"],
                        "a valid token is required (Authorization: Bearer TOKEN, or Basic auth with the token as the password)"
                    );
                    assert_eq!(answer.headers[header::WWW_AUTHENTICATE], "Bearer", "{}", answer.what);
                }
                Who::Role(role) if role < e.needs => {
                    let body = answer.assert_client_error(403, "forbidden");
                    assert_eq!(
                        body["message"],
                        format!("this needs the {} role; token {role}-bot has {role}", e.needs),
                        "{}",
                        answer.what
                    );
                    assert!(!answer.headers.contains_key(header::WWW_AUTHENTICATE), "{}", answer.what);
                }
                Who::Role(_) => {
                    let (status, code) = e.then;
                    if StatusCode::from_u16(status).unwrap().is_server_error() {
                        answer.assert_server_error(status, code);
                    } else {
                        answer.assert_client_error(status, code);
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn ops_endpoints_need_no_token() {
    let app = TestApp::new().await;
    for (path, status) in PUBLIC {
        for who in Who::ALL {
            let answer = app.send_as(who, Req::get(path)).await;
            assert_eq!(answer.status.as_u16(), *status, "{} as {who:?}: {}", answer.what, answer.text());
        }
    }
}
