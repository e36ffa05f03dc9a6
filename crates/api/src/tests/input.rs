//! Bad input, refused before any side effect (and so before any AWS call): bodies,
//! names, routes, methods; and what an error looks like whatever the caller accepts.

use http::{Method, header};
use serde_json::json;

use super::fixture::{Req, TestApp, Who};
use crate::auth::Role;
use crate::body::MAX_BODY;

const DEPLOYER: Who = Who::Role(Role::Deployer);
const ADMIN: Who = Who::Role(Role::Admin);

fn put_config(content_type: &str, body: impl Into<Vec<u8>>) -> Req {
    Req::put("/api/v1/clusters/m/config").content_type(content_type).body(body)
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let app = TestApp::new().await;
    for n in [MAX_BODY + 1, 3 << 20, 17 << 20] {
        let answer = app.send_as(DEPLOYER, put_config("application/yaml", vec![b'#'; n])).await;
        let body = answer.assert_client_error(413, "payload_too_large");
        assert_eq!(body["message"], format!("the body is larger than {MAX_BODY} bytes"));
    }
    // Declared larger than the server drains: refused without reading it.
    let declared = put_config("application/yaml", "a: 1").header(header::CONTENT_LENGTH, &(32 << 20).to_string());
    app.send_as(DEPLOYER, declared).await.assert_client_error(413, "payload_too_large");
    // The JSON endpoints too.
    let create = Req::post("/api/v1/clusters").content_type("application/json").body(vec![b' '; MAX_BODY + 1]);
    app.send_as(ADMIN, create).await.assert_client_error(413, "payload_too_large");
    // A body of exactly the limit is read, then refused for its content type.
    let at_limit = put_config("application/xml", vec![b' '; MAX_BODY]);
    app.send_as(DEPLOYER, at_limit).await.assert_client_error(415, "unsupported_media_type");
}

#[tokio::test]
async fn bodies_that_do_not_decode_or_parse_get_400() {
    let app = TestApp::new().await;
    let cases = [
        (put_config("application/yaml", &b"services:\n  - web:\n      image: \xff\xfe\n"[..]), "invalid_encoding"),
        (put_config("application/json", "{\"services\": ["), "malformed_body"),
        (put_config("application/json", "[]"), "malformed_body"),
        (Req::put("/api/v1/clusters/m/services/web").json(&json!({"desired_count": -1})), "malformed_body"),
        (
            Req::put("/api/v1/clusters/m/services/web")
                .content_type("application/json")
                .body(&b"{\"image_tag\": \"\xff\"}"[..]),
            "invalid_encoding",
        ),
        (Req::post("/api/v1/clusters").json(&json!({"name": "x", "config": 5})), "malformed_body"),
        (Req::post("/api/v1/clusters").json(&json!({"name": "x"})), "malformed_body"),
    ];
    for (req, code) in cases {
        app.send_as(ADMIN, req).await.assert_client_error(400, code);
    }
    // A stackfile that parses as a body but is not a valid stackfile: 422.
    for req in [
        put_config("application/yaml", "services: [\n  - web: {image: \n"),
        Req::post("/api/v1/clusters/m/plan")
            .content_type("application/yaml")
            .body("services:\n  - web:\n      imag: x\n"),
    ] {
        app.send_as(ADMIN, req).await.assert_client_error(422, "invalid_stackfile");
    }
    // Malformed JSON is located.
    let answer = app.send_as(DEPLOYER, put_config("application/json", "{\n  \"services\": [")).await;
    let body = answer.assert_client_error(400, "malformed_body");
    assert_eq!(
        (body["details"][0]["line"].as_u64(), body["details"][0]["column"].as_u64()),
        (Some(2), Some(15)),
        "{body}"
    );
    // An invalid stackfile gets every error, located.
    let bad = "services:\n  - web:\n      imag: nginx\n      ports: [70000]\n";
    let body =
        app.send_as(DEPLOYER, put_config("application/yaml", bad)).await.assert_client_error(422, "invalid_stackfile");
    let details = body["details"].as_array().unwrap();
    assert!(details.len() >= 2, "{body}");
    assert!(
        details.iter().any(|e| e["path"] == "services[0].web.imag" && e["line"] == 3 && e["column"] == 7),
        "{body}"
    );
}

#[tokio::test]
async fn stackfiles_that_are_empty_double_or_forged_get_422_before_any_aws_call() {
    // The app's AWS does not answer: a 422 here was decided before any side effect.
    let app = TestApp::new().await;
    let huge_image = format!("services:\n  - web:\n      image: nginx:{}\n", "1".repeat(1000));
    for (content_type, body, line, column, message) in [
        ("application/yaml", "", 1, 1, "the stackfile is empty"),
        ("application/yaml", "# only a comment\n", 1, 1, "the stackfile is empty"),
        ("application/json", "{\"config\": \"\"}", 1, 1, "the stackfile is empty"),
        (
            "application/yaml",
            "services:\n  - web:\n      image: nginx:1.27\n---\nservices: []\n",
            4,
            1,
            "a second YAML document starts here",
        ),
        ("application/yaml", "services:\n  - web:\n      image: \"nginx\\n+ x\"\n", 3, 14, "contains a line break"),
        (
            "application/json",
            r#"{"services": [{"web": {"image": "nginx:1.27\u001b[2K"}}]}"#,
            3,
            14,
            "contains the control",
        ),
        ("application/yaml", huge_image.as_str(), 3, 14, "is 1,006 characters long; the limit is 327"),
    ] {
        for req in
            [put_config(content_type, body), Req::post("/api/v1/clusters/m/plan").content_type(content_type).body(body)]
        {
            let what = format!("{content_type} {:?}", body.chars().take(40).collect::<String>());
            let answer = app.send_as(DEPLOYER, req).await;
            let err = answer.assert_client_error(422, "invalid_stackfile");
            let d = &err["details"][0];
            assert_eq!((d["line"].as_u64(), d["column"].as_u64()), (Some(line), Some(column)), "{what}: {err}");
            assert!(d["message"].as_str().unwrap().starts_with(message), "{what}: {err}");
        }
    }
}

#[tokio::test]
async fn unsupported_content_types_get_415() {
    let app = TestApp::new().await;
    for (req, message) in [
        (
            put_config("application/xml", "<services/>"),
            "content type \"application/xml\" is not accepted: send application/json or application/yaml",
        ),
        (
            put_config("Text/HTML; charset=utf-8", "<p>"),
            "content type \"text/html\" is not accepted: send application/json or application/yaml",
        ),
        (
            Req::post("/api/v1/clusters/m/plan").content_type("multipart/form-data").body("x"),
            "content type \"multipart/form-data\" is not accepted: send application/json or application/yaml",
        ),
        // The small bodies are JSON only.
        (
            Req::put("/api/v1/clusters/m/services/web").content_type("application/yaml").body("image_tag: x"),
            "this endpoint takes a JSON body (Content-Type: application/json)",
        ),
        (
            Req::post("/api/v1/clusters").content_type("text/plain").body("{}"),
            "this endpoint takes a JSON body (Content-Type: application/json)",
        ),
    ] {
        let body = app.send_as(ADMIN, req).await.assert_client_error(415, "unsupported_media_type");
        assert_eq!(body["message"], message);
    }
}

#[tokio::test]
async fn invalid_names_and_path_traversal_get_400() {
    let app = TestApp::new().await;
    let yaml = "services:\n  - web:\n      image: nginx:1\n";
    let cases = [
        (Req::get("/api/v1/clusters/a.b/config"), "invalid_name"),
        (Req::get("/api/v1/clusters/../config"), "invalid_name"),
        (Req::get("/api/v1/clusters/x%20y/status"), "invalid_name"),
        (Req::get(&format!("/api/v1/clusters/{}/status", "x".repeat(256))), "invalid_name"),
        (
            Req::put("/api/v1/clusters/..%2F..%2Fjobs/config").content_type("application/yaml").body(yaml),
            "invalid_name",
        ),
        (
            Req::put("/api/v1/clusters/safe%2F..%2Fother/config").content_type("application/yaml").body(yaml),
            "invalid_name",
        ),
        (Req::put("/api/v1/clusters/%FF%FE/config").content_type("application/yaml").body(yaml), "invalid_path"),
        (Req::put("/api/v1/clusters/m/services/..%2Fweb").json(&json!({"image_tag": "2"})), "invalid_name"),
        (Req::get("/api/v1/clusters/m/services/%2E%2E/tags"), "invalid_name"),
        (Req::post("/api/v1/clusters").json(&json!({"name": "../x", "config": {}})), "invalid_name"),
        (Req::get("/api/v1/jobs/..%2Fstatus"), "invalid_job_id"),
        (Req::get("/api/v1/jobs/0190C6E2-7B8A-7C3D-9E4F-123456789ABC"), "invalid_job_id"),
        (Req::get("/api/v1/jobs/%FF"), "invalid_path"),
    ];
    for (req, code) in cases {
        app.send_as(ADMIN, req).await.assert_client_error(400, code);
    }
}

#[tokio::test]
async fn unknown_routes_get_404_and_wrong_methods_405() {
    let app = TestApp::new().await;
    for who in [Who::Nobody, ADMIN] {
        // `/` is the web UI: without a session, its sign-in page.
        let home = app.send_as(who, Req::get("/")).await;
        assert_eq!(home.status.as_u16(), 303);
        assert_eq!(home.headers[header::LOCATION], "/login?next=%2F");
        for path in [
            "/nothing",
            "/api/v1/nothing-here",
            "/api/v1/clusters/m",
            "/api/v1/clusters/m/config/more",
            "/api/v2/clusters",
        ] {
            let body = app.send_as(who, Req::get(path)).await.assert_client_error(404, "not_found");
            assert_eq!(body["message"], "no such endpoint");
        }
        for (method, path) in [
            (Method::PATCH, "/api/v1/clusters/m/config"),
            (Method::DELETE, "/api/v1/clusters"),
            (Method::PUT, "/api/v1/jobs/x"),
            (Method::POST, "/healthz"),
            (Method::DELETE, "/api/v1/clusters/m/services"),
        ] {
            let body = app.send_as(who, Req::new(method, path)).await.assert_client_error(405, "method_not_allowed");
            assert_eq!(body["message"], "this endpoint does not take that method");
        }
    }
}

#[tokio::test]
async fn errors_are_json_whatever_the_caller_accepts() {
    let app = TestApp::new().await;
    for req in
        [Req::get("/api/v1/clusters/a.b/config"), Req::get("/nothing"), Req::get("/api/v1/clusters/m/plan?format=xml")]
    {
        let plain = app.send_as(ADMIN, req.clone()).await;
        for accept in ["application/yaml", "text/plain", "application/json"] {
            let answer = app.send_as(ADMIN, req.clone().header(header::ACCEPT, accept)).await;
            answer.assert_client_error(plain.status.as_u16(), plain.json()["error"].as_str().unwrap());
            assert_eq!(answer.body, plain.body, "{} with Accept: {accept}", answer.what);
        }
    }
}
