//! The web UI's rules that need no AWS: sign-in and its cookie, CSRF on every POST,
//! the security headers, what a viewer is refused, and that no page shows a token or
//! the bucket.

use http::{StatusCode, header};

use super::fixture::{BUCKET, Req, TestApp, Who};
use crate::auth::Role;

/// A signed-in browser: its session cookie and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

/// The value of `name` in the answer's `Set-Cookie` headers, with its attributes.
fn set_cookie(answer: &super::fixture::Answer, name: &str) -> Option<String> {
    answer
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The `value` of the hidden input named `name` in a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no hidden {name} in {page}")) + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

async fn login_form(app: &TestApp) -> (String, String) {
    let form = app.send(Req::get("/login")).await;
    assert_eq!(form.status, StatusCode::OK);
    let cookie = set_cookie(&form, "bosun_login").expect("the sign-in form sets its double-submit cookie");
    let nonce = cookie.split(';').next().unwrap().trim_start_matches("bosun_login=").to_owned();
    assert_eq!(hidden(form.text(), "csrf"), nonce);
    (format!("bosun_login={nonce}"), nonce)
}

async fn sign_in(app: &TestApp, role: Role) -> Browser {
    let token = app.token(Who::Role(role)).unwrap();
    let (cookie, nonce) = login_form(app).await;
    let answer = app
        .send(
            Req::post("/login")
                .header(header::COOKIE, &cookie)
                .content_type("application/x-www-form-urlencoded")
                .body(format!("csrf={nonce}&token={token}&next=%2Fsystem")),
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text());
    assert_eq!(answer.headers[header::LOCATION], "/system");
    let session = set_cookie(&answer, "bosun_session").expect("a session cookie");
    let cookie = session.split(';').next().unwrap().to_owned();
    let csrf = csrf_of(app, &cookie).await;
    Browser { cookie, csrf }
}

/// The CSRF token a session's pages carry, read from a page that needs no AWS.
async fn csrf_of(app: &TestApp, cookie: &str) -> String {
    let page = app.send(Req::get("/jobs/not-a-job").header(header::COOKIE, cookie)).await;
    // A bad job id is refused before any AWS call, in a full page with the layout.
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.text());
    let marker = "\"X-CSRF-Token\": \"";
    let start = page.text().find(marker).map(|i| i + marker.len());
    start.map(|s| page.text()[s..].split('"').next().unwrap().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn sign_in_sets_a_strict_session_cookie_that_holds_no_token() {
    let app = TestApp::new().await;
    let token = app.token(Who::Role(Role::Deployer)).unwrap();
    let (cookie, nonce) = login_form(&app).await;
    let answer = app
        .send(
            Req::post("/login")
                .header(header::COOKIE, &cookie)
                .header(http::HeaderName::from_static("x-forwarded-proto"), "https")
                .content_type("application/x-www-form-urlencoded")
                .body(format!("csrf={nonce}&token={token}&next=%2Fclusters%2Fdemo")),
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text());
    assert_eq!(answer.headers[header::LOCATION], "/clusters/demo");
    let session = set_cookie(&answer, "bosun_session").unwrap();
    for attribute in ["; Path=/", "; HttpOnly", "; SameSite=Strict", "; Max-Age=43200", "; Secure"] {
        assert!(session.contains(attribute), "{session} lacks {attribute}");
    }
    assert!(!session.contains(&token) && !session.contains(&token[6..]), "the cookie holds the token: {session}");
    // The double-submit cookie is spent.
    assert!(set_cookie(&answer, "bosun_login").unwrap().contains("Max-Age=0"));

    // Over plain http, no Secure (the browser would drop the cookie).
    let b = sign_in(&app, Role::Viewer).await;
    assert!(!b.cookie.is_empty() && !b.csrf.is_empty());
}

#[tokio::test]
async fn sign_in_refuses_unknown_tokens_and_forged_forms() {
    let app = TestApp::new().await;
    let token = app.token(Who::Role(Role::Admin)).unwrap();
    let (cookie, nonce) = login_form(&app).await;
    let post = |cookie: &str, body: String| {
        Req::post("/login").header(header::COOKIE, cookie).content_type("application/x-www-form-urlencoded").body(body)
    };
    // An unknown token: the form again, with the reason, and never the token typed.
    let typed = format!("bosun_{}", "ab".repeat(32));
    let answer = app.send(post(&cookie, format!("csrf={nonce}&token={typed}"))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(answer.text().contains("that token is not one of bosun&#39;s tokens"), "{}", answer.text());
    assert!(!answer.text().contains(&typed));
    assert!(set_cookie(&answer, "bosun_session").is_none());
    // A good token without the form's own CSRF value (a cross-site login), or with
    // another one: refused before the token is looked at.
    for (cookie, csrf) in [("", nonce.as_str()), (cookie.as_str(), ""), (cookie.as_str(), "0123abcd")] {
        let answer = app.send(post(cookie, format!("csrf={csrf}&token={token}"))).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "cookie {cookie:?} csrf {csrf:?}");
        assert!(answer.text().contains("CSRF"), "{}", answer.text());
        assert!(set_cookie(&answer, "bosun_session").is_none());
    }
}

#[tokio::test]
async fn every_post_needs_its_sessions_csrf_token() {
    let app = TestApp::new().await;
    let alice = sign_in(&app, Role::Admin).await;
    let bob = sign_in(&app, Role::Admin).await;
    assert_ne!(alice.csrf, bob.csrf, "each session has its own token");
    let form = "application/x-www-form-urlencoded";
    let posts = [
        "/logout",
        "/clusters/demo/edit/save",
        "/clusters/demo/edit/plan",
        "/clusters/demo/services/web/apply",
        "/clusters/demo/history/rollback",
    ];
    for path in posts {
        for csrf in ["", bob.csrf.as_str(), "not-a-token"] {
            let answer = app
                .send(
                    Req::post(path)
                        .header(header::COOKIE, &alice.cookie)
                        .content_type(form)
                        .body(format!("csrf={csrf}&text=x&action=remove&etag=e&plan_hash=0123456789abcdef")),
                )
                .await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path} with csrf {csrf:?}: {}", answer.text());
            assert!(answer.text().contains("CSRF token is missing or not this session"), "{}", answer.text());
        }
    }
    // The right token passes, in the form or in htmx's header.
    let out = app
        .send(
            Req::post("/logout")
                .header(header::COOKIE, &alice.cookie)
                .content_type(form)
                .body(format!("csrf={}", alice.csrf)),
        )
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(set_cookie(&out, "bosun_session").unwrap().contains("Max-Age=0"), "sign-out clears the cookie");
    let out = app
        .send(
            Req::post("/logout")
                .header(header::COOKIE, &alice.cookie)
                .header(http::HeaderName::from_static("x-csrf-token"), &alice.csrf),
        )
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    // From another site, even with the right token: refused.
    for (name, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")] {
        let answer = app
            .send(
                Req::post("/logout")
                    .header(header::COOKIE, &alice.cookie)
                    .header(http::HeaderName::from_static(name), value)
                    .content_type(form)
                    .body(format!("csrf={}", alice.csrf)),
            )
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{name}: {value}");
    }
}

#[tokio::test]
async fn pages_need_a_live_session_of_a_known_token() {
    let app = TestApp::new().await;
    let answer = app.send(Req::get("/clusters/demo")).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.headers[header::LOCATION], "/login?next=%2Fclusters%2Fdemo");
    let answer = app.send(Req::get("/").header(http::HeaderName::from_static("hx-request"), "true")).await;
    assert_eq!(answer.headers["hx-redirect"], "/login?next=%2F", "htmx is sent to the sign-in page");
    // A forged or tampered cookie is no session.
    for cookie in ["bosun_session=v1.00.1.00.00", "bosun_session="] {
        let answer = app.send(Req::get("/system").header(header::COOKIE, cookie)).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{cookie}");
    }
    // A token taken out of the tokens file ends its sessions.
    let viewer = sign_in(&app, Role::Viewer).await;
    let job = Req::get("/jobs/not-a-job").header(header::COOKIE, &viewer.cookie);
    assert_eq!(app.send(job.clone()).await.status, StatusCode::BAD_REQUEST, "signed in");
    let admin_only = crate::auth::Tokens::parse(&crate::auth::new_token(Role::Admin, "other").1).unwrap();
    app.state.tokens.replace(admin_only);
    assert_eq!(app.send(job).await.status, StatusCode::SEE_OTHER, "revoked");
}

#[tokio::test]
async fn ui_responses_forbid_inline_script_framing_and_caching() {
    let app = TestApp::new().await;
    let viewer = sign_in(&app, Role::Viewer).await;
    for req in [
        Req::get("/login"),
        Req::get("/jobs/not-a-job").header(header::COOKIE, &viewer.cookie),
        Req::post("/logout"),
        Req::get("/assets/htmx.min.js"),
    ] {
        let answer = app.send(req).await;
        let csp = answer.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{}: {csp}", answer.what);
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
        assert_eq!(answer.headers[header::REFERRER_POLICY], "same-origin", "{}", answer.what);
        assert_eq!(answer.headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(answer.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
    let page = app.send(Req::get("/login")).await;
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
    let asset = app.send(Req::get("/assets/bosun.css")).await;
    assert_eq!(asset.headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
    assert_eq!(app.send(Req::get("/assets/nope.js")).await.status, StatusCode::NOT_FOUND);
    // No template has an inline script, an event handler attribute or inline style:
    // the policy would block them, and the page would break.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
    let templates: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(templates.len() >= 10, "{templates:?}");
    for path in templates {
        let (name, lower) = (path.display(), std::fs::read_to_string(&path).unwrap().to_lowercase());
        for (i, _) in lower.match_indices("<script") {
            assert!(lower[i..].split('>').next().unwrap().contains(" src="), "{name}: inline <script>");
        }
        for bad in [" onclick=", " onload=", " onerror=", " onsubmit=", " oninput=", " style=", "<style", "javascript:"]
        {
            assert!(!lower.contains(bad), "{name} has {bad}");
        }
    }
}

#[tokio::test]
async fn a_viewer_is_offered_and_allowed_no_change() {
    let app = TestApp::new().await;
    let viewer = sign_in(&app, Role::Viewer).await;
    // The actions fragment (forms to deploy, scale, remove) is refused before any read.
    let answer = app.send(Req::get("/clusters/demo/services/web/actions").header(header::COOKIE, &viewer.cookie)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.text().contains("this needs the deployer role; viewer-bot has viewer"), "{}", answer.text());
    assert!(!answer.text().contains("hx-post"), "{}", answer.text());
}

#[tokio::test]
async fn no_page_shows_a_token_or_the_bucket() {
    let app = TestApp::new().await;
    let token = app.token(Who::Role(Role::Admin)).unwrap();
    let admin = sign_in(&app, Role::Admin).await;
    // Pages whose API reads fail (AWS is a closed port): the error is shown, with its
    // request id, and nothing of its cause.
    for path in ["/", "/clusters/demo", "/clusters/demo/edit", "/clusters/demo/history", "/system"] {
        let answer = app.send(Req::get(path).header(header::COOKIE, &admin.cookie)).await;
        assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{path}: {}", answer.text());
        let page = answer.text();
        assert!(page.contains("something went wrong") && page.contains("Request id: "), "{path}: {page}");
        for secret in [token.as_str(), &token[6..], BUCKET, "127.0.0.1:9"] {
            assert!(!page.contains(secret), "{path} shows {secret}: {page}");
        }
        assert!(page.contains("admin-bot (admin)"), "{path}: the layout shows who is signed in");
    }
}
