//! The web UI in a real browser (headless Chromium through chromedriver) against
//! `bosun serve` on the emulator: the journeys a platform engineer makes, each checked
//! where it lands (the page, and AWS through the SDK), with no console error on the
//! way. Screenshots of each page go to `$BOSUN_UI_SCREENSHOTS` (the README's are in
//! `docs/ui/`).

use std::time::Duration;

use bosun_tests::Env;
use bosun_tests::api::ApiServer;
use bosun_tests::browser::Browser;
use bosun_tests::scheduler::FAST;
use reqwest::Method;
use serde_json::{Value, json};

/// How long a job may take to be final, as the job page shows it.
const JOB_LIMIT: Duration = Duration::from_secs(90);

struct Ui {
    env: Env,
    api: ApiServer,
    web: String,
    worker: String,
    browser: Browser,
}

/// `bosun serve` with cluster demo converged (web at 1.27, worker at 2.0, an
/// environment value a viewer must not read), and a browser.
async fn start() -> Ui {
    let env = Env::start().await;
    let mut args = vec!["serve"];
    args.extend_from_slice(FAST);
    let api = ApiServer::start_with(&env, &args).await;
    let web = api.ecr_repository("team/web", &["1.26", "1.27", "1.28", "fail-1"]).await;
    let worker = api.ecr_repository("team/worker", &["2.0", "2.1"]).await;
    let mut browser = Browser::start().await;
    browser.set_wait_limit(Duration::from_secs(20));
    let ui = Ui { env, api, web, worker, browser };
    let created = ui
        .api
        .request(Method::POST, "/api/v1/clusters", Some(&ui.api.admin))
        .json(&json!({ "name": "demo", "config": ui.stackfile("1.27", 1) }))
        .send()
        .await
        .expect("POST clusters");
    assert_eq!(created.status(), 201);
    let job: Value = created.json().await.expect("JSON");
    let done = ui.api.wait_job(job["job_id"].as_str().expect("a job id"), JOB_LIMIT).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    ui
}

impl Ui {
    fn stackfile(&self, web: &str, worker_count: u32) -> String {
        format!(
            "# the demo cluster\nservices:\n  - web:\n      image: {}:{web}\n      memory: 128\n      desired_count: 1\n      environment:\n        API_KEY: hunter2-do-not-show\n  - worker:\n      image: {}:2.0\n      memory: 128\n      desired_count: {worker_count}\n",
            self.web, self.worker
        )
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api.url)
    }

    /// Sign in with `token` through the form, and land on the clusters page.
    async fn sign_in(&self, token: &str) {
        self.browser.goto(&self.url("/")).await;
        self.browser.wait_for("#token").await;
        self.browser.fill("API token", token).await;
        self.browser.click("form[action='/login'] button[type=submit]").await;
        self.browser.wait_for_text("h1", "Clusters").await;
        self.browser.wait_for(".tile[data-cluster=demo]").await;
    }

    /// The image the live web service runs, through the SDK.
    async fn live_image(&self, service: &str) -> String {
        let arn = self.env.service(service).await.task_definition().expect("a task definition").to_owned();
        let td = self.env.task_definition(&arn).await;
        td.container_definitions()[0].image().expect("an image").to_owned()
    }

    /// Wait for the job page to show a final status; that status.
    async fn final_job_status(&self) -> String {
        let deadline = tokio::time::Instant::now() + JOB_LIMIT;
        loop {
            let status = self.browser.text("#job-status").await;
            if !["queued", "running"].contains(&status.as_str()) {
                return status;
            }
            assert!(tokio::time::Instant::now() < deadline, "the job page still says {status}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Every visible form field has a label, and the page fits `px` without scrolling
    /// sideways.
    async fn check_usable(&self, what: &str) {
        let unlabelled = self
            .browser
            .execute(
                "return [...document.querySelectorAll('input:not([type=hidden]),select,textarea')]\
                 .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.outerHTML)",
                vec![],
            )
            .await
            .expect("run a script");
        assert_eq!(unlabelled, json!([]), "{what}: fields without a label");
        let fits = self
            .browser
            .execute("return document.documentElement.scrollWidth <= window.innerWidth", vec![])
            .await
            .expect("run a script");
        assert_eq!(fits, json!(true), "{what}: the page scrolls sideways");
    }

    /// Replace the editor's text, as typing would (an `input` event).
    async fn type_stackfile(&self, text: &str) {
        self.browser
            .execute(
                "const a = document.getElementById('stackfile'); a.value = arguments[0]; \
                 a.dispatchEvent(new Event('input', {bubbles: true}));",
                vec![json!(text)],
            )
            .await
            .expect("run a script");
    }
}

#[tokio::test]
async fn deploy_a_tag_from_its_plan_and_watch_the_job_succeed() {
    let ui = start().await;
    ui.sign_in(&ui.api.deployer).await;
    assert_eq!(ui.browser.text(".tile[data-cluster=demo] .converged").await, "2/2");
    ui.browser.screenshot("clusters").await;
    ui.browser.click(".tile[data-cluster=demo] h2 a").await;
    ui.browser.wait_for_text("h1", "demo").await;
    assert_eq!(ui.browser.text("#svc-web .live-tag").await, "1.27");
    ui.check_usable("cluster page").await;
    ui.browser.screenshot("cluster").await;

    ui.browser.click("#svc-web button.change").await;
    ui.browser.wait_for("#tag-web").await;
    ui.check_usable("service actions").await;
    ui.browser.fill("Image tag for web", "1.28").await;
    ui.browser.click("#actions-web button.preview-deploy").await;
    let plan = ui.browser.wait_for_text("#plan-web pre.plan", "1.28").await;
    let plan = plan.text().await.expect("the plan's text");
    assert!(plan.contains("~ service web"), "{plan}");
    assert!(plan.contains(":1.27") && plan.contains(":1.28"), "the task definition diff: {plan}");
    assert!(!plan.contains("hunter2"), "a plan shows no environment value: {plan}");
    ui.browser.wait_for("#plan-web .hash").await;
    ui.browser.screenshot("plan").await;

    ui.browser.click("#plan-web #confirm").await;
    ui.browser.wait_for("#job").await;
    assert!(ui.browser.url().await.contains("/jobs/"), "{}", ui.browser.url().await);
    assert_eq!(ui.final_job_status().await, "succeeded");
    ui.browser.wait_for_text(".rollout[data-service=web]", "succeeded").await;
    ui.browser.screenshot("job").await;
    assert!(ui.live_image("web").await.ends_with(":1.28"));
    // The job names who asked, and carries the plan that was shown.
    assert_eq!(ui.browser.text("#job .facts dd:nth-of-type(3)").await, "deployer-bot");

    // The same page at phone width.
    ui.browser.goto(&ui.url("/clusters/demo")).await;
    ui.browser.set_width(390).await;
    ui.browser.wait_for("#svc-web").await;
    ui.check_usable("cluster page, phone width").await;
    ui.browser.screenshot("cluster-phone").await;
    ui.browser.set_width(1280).await;
    ui.browser.goto(&ui.url("/system")).await;
    ui.browser.wait_for_text("#queue-depth", "job(s)").await;
    ui.browser.wait_for_text("tr[data-cluster=demo]", "succeeded").await;
    ui.browser.screenshot("system").await;
    ui.browser.assert_no_console_errors().await;
}

#[tokio::test]
async fn the_editor_shows_an_invalid_key_at_its_line() {
    let ui = start().await;
    ui.sign_in(&ui.api.deployer).await;
    ui.browser.goto(&ui.url("/clusters/demo/edit")).await;
    let area = ui.browser.wait_for("#stackfile").await;
    let text = area.prop("value").await.expect("read the text area").expect("a value");
    assert!(text.contains("hunter2-do-not-show"), "a deployer edits the real values");
    ui.check_usable("editor").await;
    // Line 6 gets a key no stackfile has.
    let bad = text.replacen("      desired_count: 1\n", "      desired_count: 1\n      colour: red\n", 1);
    let line = bad.lines().position(|l| l.contains("colour")).expect("the line") + 1;
    ui.type_stackfile(&bad).await;
    let error = ui.browser.wait_for_text("#diagnostics .error", "colour").await;
    let error = error.text().await.expect("the error's text");
    assert!(error.contains(&format!("line {line}, column 7")), "{error}");
    ui.browser.screenshot("editor-error").await;
    // Fixed: valid again.
    ui.type_stackfile(&text).await;
    ui.browser.wait_for_text("#valid", "Valid: 2").await;
    ui.browser.assert_no_console_errors().await;
}

#[tokio::test]
async fn saving_over_a_version_saved_meanwhile_shows_the_conflict_and_merges() {
    let ui = start().await;
    ui.sign_in(&ui.api.deployer).await;
    ui.browser.goto(&ui.url("/clusters/demo/edit")).await;
    let area = ui.browser.wait_for("#stackfile").await;
    let text = area.prop("value").await.expect("read").expect("a value");
    // The user scales the worker to 2 and previews.
    let mine = text.replace("desired_count: 1\n", "desired_count: 2\n").replacen(
        "      desired_count: 2\n      environment",
        "      desired_count: 1\n      environment",
        1,
    );
    assert_ne!(mine, text);
    ui.type_stackfile(&mine).await;
    ui.browser.wait_for("#valid").await;
    ui.browser.click("#preview-plan").await;
    ui.browser.wait_for_text("#editor-plan pre.plan", "worker").await;
    // Meanwhile, someone else bumps web through the API.
    let bumped = ui
        .api
        .request(Method::PUT, "/api/v1/clusters/demo/services/web", Some(&ui.api.admin))
        .json(&json!({ "image_tag": "1.28", "deploy": false }))
        .send()
        .await
        .expect("PUT service");
    assert_eq!(bumped.status(), 200);
    ui.browser.click("#editor-plan #confirm").await;
    let notice = ui.browser.wait_for("#merge-notice").await.text().await.expect("text");
    assert!(notice.contains("Someone saved the stackfile while you edited it"), "{notice}");
    let changed = ui.browser.text("#changed-meanwhile").await;
    assert!(changed.contains("-      image: ") && changed.contains(":1.28"), "{changed}");
    let merged = ui.browser.wait_for("#stackfile").await.prop("value").await.expect("read").expect("a value");
    assert!(merged.contains(":1.28") && merged.contains("worker:"), "{merged}");
    assert!(
        merged.split("  - worker:").nth(1).is_some_and(|w| w.contains("desired_count: 2")),
        "the user's edit is kept: {merged}"
    );
    ui.browser.screenshot("conflict").await;
    // The merged text saves, from a new preview, on the new version.
    ui.browser.click("#preview-plan").await;
    ui.browser.wait_for("#editor-plan #confirm").await;
    ui.browser.click("#editor-plan #confirm").await;
    assert_eq!(ui.final_job_status().await, "succeeded");
    assert_eq!(ui.env.service("worker").await.desired_count(), 2);
    assert!(ui.live_image("web").await.ends_with(":1.28"));
    ui.browser.assert_no_console_errors().await;
}

#[tokio::test]
async fn roll_back_from_history_after_seeing_its_plan() {
    let ui = start().await;
    let bumped = ui
        .api
        .request(Method::PUT, "/api/v1/clusters/demo/services/web", Some(&ui.api.deployer))
        .header("x-bosun-message", "web to 1.28")
        .json(&json!({ "image_tag": "1.28" }))
        .send()
        .await
        .expect("PUT service");
    assert_eq!(bumped.status(), 202);
    let job: Value = bumped.json().await.expect("JSON");
    assert_eq!(ui.api.wait_job(job["job_id"].as_str().unwrap(), JOB_LIMIT).await["status"], "succeeded");
    assert!(ui.live_image("web").await.ends_with(":1.28"));

    ui.sign_in(&ui.api.deployer).await;
    ui.browser.goto(&ui.url("/clusters/demo/history")).await;
    ui.browser.wait_for_text("tr.version", "web to 1.28").await;
    // The older version: its diff against the current one, then its rollback plan.
    ui.browser.click("tr.version:nth-child(2) button.diff").await;
    let diff = ui.browser.wait_for_text("#history-detail pre.diff", "1.27").await.text().await.expect("text");
    assert!(diff.contains(":1.28") && diff.contains(":1.27"), "{diff}");
    ui.browser.click("tr.version:nth-child(2) button.preview-rollback").await;
    let plan = ui.browser.wait_for_text("#history-detail pre.plan", "service web").await.text().await.expect("text");
    assert!(plan.contains(":1.28") && plan.contains(":1.27"), "{plan}");
    ui.browser.screenshot("history-rollback").await;
    ui.browser.click("#history-detail #confirm").await;
    assert_eq!(ui.final_job_status().await, "succeeded");
    assert!(ui.live_image("web").await.ends_with(":1.27"));
    ui.browser.assert_no_console_errors().await;
}

#[tokio::test]
async fn a_viewer_sees_no_write_action_and_a_forged_one_is_refused() {
    let ui = start().await;
    ui.sign_in(&ui.api.viewer).await;
    ui.browser.wait_for_text("#whoami", "viewer-bot (viewer)").await;
    ui.browser.goto(&ui.url("/clusters/demo")).await;
    ui.browser.wait_for("#svc-web").await;
    ui.browser.screenshot("viewer-cluster").await;
    let source = ui.browser.source().await.expect("the page source");
    for write in ["Change web", "/actions", "Preview deploy"] {
        assert!(!source.contains(write), "a viewer's cluster page has {write}");
    }
    ui.browser.goto(&ui.url("/clusters/demo/history")).await;
    ui.browser.wait_for("tr.version").await;
    assert!(!ui.browser.source().await.expect("source").contains("Preview rollback"));
    ui.browser.goto(&ui.url("/clusters/demo/edit")).await;
    let area = ui.browser.wait_for("#stackfile").await;
    assert_eq!(area.attr("readonly").await.expect("attr").as_deref(), Some("true"));
    let source = ui.browser.source().await.expect("source");
    assert!(source.contains("API_KEY") && !source.contains("hunter2"), "a viewer reads no environment value");
    assert!(!source.contains("Preview plan"));

    // A write forged from the page, with the session's own CSRF token: the API refuses
    // it, and nothing changes.
    let answer = ui
        .browser
        .execute_async(
            "const done = arguments[0];\
             const csrf = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token'];\
             fetch('/clusters/demo/services/web/apply', {method: 'POST', headers: {'HX-Request': 'true',\
               'X-CSRF-Token': csrf, 'Content-Type': 'application/x-www-form-urlencoded'},\
               body: 'action=deploy&tag=1.28&etag=x&plan_hash=0123456789abcdef'})\
             .then(r => r.text()).then(done);",
            vec![],
        )
        .await
        .expect("run a script");
    let answer = answer.as_str().expect("the answer's text");
    assert!(answer.contains("this needs the deployer role"), "{answer}");
    assert!(ui.live_image("web").await.ends_with(":1.27"));
    let config = ui
        .api
        .request(Method::GET, "/api/v1/clusters/demo/config", Some(&ui.api.admin))
        .header("accept", "application/yaml")
        .send()
        .await
        .expect("GET config")
        .text()
        .await
        .expect("text");
    assert!(config.contains(":1.27") && !config.contains(":1.28"), "{config}");
    ui.browser.assert_no_console_errors().await;
}

#[tokio::test]
async fn a_deploy_the_circuit_breaker_rolls_back_shows_as_rolled_back_with_its_reason() {
    let ui = start().await;
    ui.sign_in(&ui.api.deployer).await;
    ui.browser.goto(&ui.url("/clusters/demo")).await;
    // By keyboard this time: Enter on each focused button.
    let browser = &ui.browser;
    let enter = |selector: &'static str| async move {
        browser.wait_for(selector).await.send_keys("\u{E007}").await.expect("press Enter");
    };
    enter("#svc-web button.change").await;
    ui.browser.fill("Image tag for web", "fail-1").await;
    enter("#actions-web button.preview-deploy").await;
    ui.browser.wait_for_text("#plan-web pre.plan", "fail-1").await;
    enter("#plan-web #confirm").await;
    ui.browser.wait_for("#job").await;
    assert_eq!(ui.final_job_status().await, "rolled_back");
    let rollout = ui.browser.wait_for_text(".rollout[data-service=web]", "rolled_back").await;
    let rollout = rollout.text().await.expect("text");
    assert!(rollout.len() > "web rolled_back".len() + 5, "the reason is shown: {rollout}");
    let error = ui.browser.text("#job-error").await;
    assert!(error.contains("rolled back"), "{error}");
    ui.browser.screenshot("job-rolled-back").await;
    // ECS runs the previous image again.
    assert!(ui.live_image("web").await.ends_with(":1.27"));
    ui.browser.assert_no_console_errors().await;
}
