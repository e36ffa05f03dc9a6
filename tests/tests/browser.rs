//! The browser harness itself (`bosun_tests::browser`), against pages served by the
//! test: a clean page has no console errors; a script's `console.error` and an inline
//! script that the Content Security Policy blocks are reported and fail
//! `assert_no_console_errors`; a missing selector fails naming it and the URL; a form is
//! filled by label and by id, submitted and its answer read; the window narrows to a
//! phone's width; screenshots are PNG files of the viewport.
//!
//! The pages stand in for bosun's UI only to prove that these checks can fail.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bosun_tests::browser::{Browser, WINDOW};
use futures::FutureExt as _;

/// Every page is served with this policy: scripts only from the page's own origin.
const CSP: &str = "default-src 'self'; script-src 'self'";

/// A page of the test site.
fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>\
         <link rel=icon href=/favicon.svg></head><body>{body}</body></html>"
    );
    ([(CONTENT_TYPE, "text/html; charset=utf-8"), (CONTENT_SECURITY_POLICY, CSP)], html).into_response()
}

fn script(js: &'static str) -> Response {
    ([(CONTENT_TYPE, "text/javascript")], js).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const FORM: &str = "<h1>clean</h1>\
    <form method=post action=/greet>\
      <label for=who>Your name</label> <input id=who name=who>\
      <label>Team <select name=team><option value=dev>Developers</option><option value=ops>Operations</option></select></label>\
      <input id=note name=note>\
      <button type=submit>Send</button>\
    </form>\
    <script src=/ready.js></script>";

/// A site without an icon gets a 404 for `/favicon.ico`, which is a console error.
const ICON: &str = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 1 1'><rect width='1' height='1'/></svg>";

/// The test site on 127.0.0.1:0; returns its base URL.
async fn serve() -> String {
    let app = axum::Router::new()
        .route("/", get(|| async { page("clean", FORM) }))
        .route(
            "/greet",
            axum::routing::post(|body: String| async move {
                let form: BTreeMap<String, String> = serde_urlencoded::from_str(&body).unwrap_or_default();
                let field = |k: &str| escape(form.get(k).map_or("", String::as_str));
                let text = format!("Hello, {} of {} ({})", field("who"), field("team"), field("note"));
                page("greeted", &format!("<p id=greeting>{text}</p>"))
            }),
        )
        .route("/boom", get(|| async { page("boom", "<p id=boom>boom</p><script src=/boom.js></script>") }))
        .route(
            "/inline",
            get(|| async { page("inline", "<p id=inline>inline</p><script>document.title = 'ran';</script>") }),
        )
        .route("/favicon.svg", get(|| async { ([(CONTENT_TYPE, "image/svg+xml")], ICON).into_response() }))
        .route("/ready.js", get(|| async { script("document.body.dataset.ready = 'yes';") }))
        .route("/boom.js", get(|| async { script("console.error('boom'); document.body.dataset.ready = 'yes';") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the test site");
    let addr = listener.local_addr().expect("the site's address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// The panic message of a future that must panic.
async fn panic_of(fut: impl Future<Output = ()>) -> String {
    let payload = AssertUnwindSafe(fut).catch_unwind().await.expect_err("the check should have failed");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// Every check of the harness fails when it should: console errors (a script's
/// `console.error`, an inline script blocked by the policy), a selector, a text or a
/// field that is not there, an element that does not go away.
#[tokio::test]
async fn checks_fail_on_console_errors_csp_violations_and_missing_elements() {
    let site = serve().await;
    let mut browser = Browser::start().await;

    // A clean page whose external script runs under the policy: nothing to report.
    browser.goto(&format!("{site}/")).await;
    browser.wait_for("body[data-ready=yes]").await;
    assert_eq!(browser.console_errors().await, vec![]);
    browser.assert_no_console_errors().await;

    // console.error from an allowed script.
    browser.goto(&format!("{site}/boom")).await;
    browser.wait_for("body[data-ready=yes]").await;
    let message = panic_of(browser.assert_no_console_errors()).await;
    assert!(message.contains("1 console error(s)") && message.contains("\"boom\""), "{message}");
    assert!(message.contains(&format!("{site}/boom")), "the message names the page: {message}");

    // Waits that run out name what they waited for and the page.
    browser.set_wait_limit(Duration::from_millis(300));
    let message = panic_of(async {
        browser.wait_for("#nowhere").await;
    })
    .await;
    assert!(message.contains("\"#nowhere\"") && message.contains(&format!("{site}/boom")), "{message}");
    let message = panic_of(async {
        browser.wait_for_text("#boom", "bang").await;
    })
    .await;
    assert!(message.contains("\"bang\"") && message.contains("[\"boom\"]"), "{message}");
    let message = panic_of(async {
        browser.fill("Nobody", "x").await;
    })
    .await;
    assert!(message.contains("\"Nobody\""), "{message}");
    let message = panic_of(browser.wait_until_gone("#boom")).await;
    assert!(message.contains("\"#boom\""), "{message}");

    // An inline script: blocked by the policy (it did not run) and reported.
    browser.goto(&format!("{site}/inline")).await;
    browser.wait_for("#inline").await;
    assert_eq!(browser.title().await.expect("the title"), "inline", "the inline script ran despite the policy");
    let errors = browser.console_errors().await;
    assert!(
        errors.iter().any(|e| e.source == "security" && e.message.contains("Content Security Policy")),
        "no CSP violation in {errors:?}"
    );
    // Each entry is handed out once.
    assert_eq!(browser.console_errors().await, vec![]);
}

/// A journey's parts: a form filled by label (for and wrapping, a select) and by id,
/// submitted and its answer read; screenshots as PNG files at the desktop window's and
/// a phone's width.
#[tokio::test]
async fn a_form_is_filled_submitted_and_read_and_screenshots_are_pngs_at_both_widths() {
    let site = serve().await;
    let browser = Browser::start().await;
    browser.goto(&format!("{site}/")).await;
    browser.wait_for("body[data-ready=yes]").await;
    let wide = browser.screenshot("harness desktop").await;
    assert!(wide.ends_with("harness_desktop.png"), "{}", wide.display());
    assert_eq!(png_size(&std::fs::read(&wide).expect("read the screenshot")).0, WINDOW.0);

    browser.fill("Your name", "Ada <Lovelace>").await;
    browser.fill("Team", "Operations").await;
    browser.fill("note", "first try").await;
    // Clears what was there.
    browser.fill("note", "on call").await;
    browser.click("button[type=submit]").await;
    let greeting = browser.wait_for_text("#greeting", "Hello, Ada").await;
    assert_eq!(greeting.text().await.expect("its text"), "Hello, Ada <Lovelace> of ops (on call)");
    assert_eq!(browser.url().await, format!("{site}/greet"));
    assert_eq!(browser.text("#greeting").await, "Hello, Ada <Lovelace> of ops (on call)");

    browser.set_width(390).await;
    let narrow = browser.screenshot("harness-phone").await;
    let (width, height) = png_size(&std::fs::read(&narrow).expect("read the screenshot"));
    assert_eq!(width, 390, "{}", narrow.display());
    assert!(height > 0);
    browser.assert_no_console_errors().await;
}

/// Width and height from a PNG's header, failing unless it is one.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 24, "too short for a PNG: {} bytes", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR", "no IHDR first");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}
