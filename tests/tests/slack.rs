//! bosun's Slack app against a real `bosun serve api` and a local Slack sink: request
//! signing (a good signature is answered; a bad one, an old timestamp, a body changed
//! after signing and a missing header get 401 and change nothing in S3 or SQS), the
//! Events API's challenge and retries, the endpoints' absence without a signing
//! secret, and secrets kept out of the log.
//!
//! The chat executor's own answers are tested elsewhere; here a reply is checked for
//! the shape Slack needs (`response_type`, `text`, `blocks`), not for its words.

use std::time::Duration;

use bosun_tests::Env;
use bosun_tests::api::ApiServer;
use bosun_tests::slack::{
    BOT_TOKEN, Received, SIGNING_SECRET, Secrets, SlackSink, command_form, form_encode, now, signed, start_api,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";
/// How long a reply may take to reach the sink (the chat work runs in the background).
const REPLY_LIMIT: Duration = Duration::from_secs(20);

/// A Slack message as bosun must send it: a fallback text and Block Kit blocks.
fn assert_message(body: &Value) {
    assert!(body["text"].is_string(), "no fallback text: {body:#}");
    let blocks = body["blocks"].as_array().unwrap_or_else(|| panic!("no blocks: {body:#}"));
    assert!(!blocks.is_empty() && blocks.len() <= 50, "{body:#}");
    assert!(blocks.iter().all(|b| b["type"].is_string()), "{body:#}");
}

/// A reply to a command, at its response URL.
fn assert_command_reply(r: &Received) {
    assert_eq!(r.headers.get("content-type").map(String::as_str), Some("application/json"), "{r:#?}");
    let kind = r.body["response_type"].as_str().unwrap_or_default();
    assert!(["in_channel", "ephemeral"].contains(&kind), "response_type {kind:?}: {:#}", r.body);
    assert_message(&r.body);
}

/// `body` with its user id changed (someone else's, as an attacker would).
fn tampered(body: &str) -> String {
    let changed = body.replacen("U0", "U9", 1);
    assert_ne!(changed, body, "the body names no user");
    changed
}

/// A `block_actions` payload for a click on `action_id` with `value`.
fn click_form(action_id: &str, value: &str, response_url: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": { "id": "U0G9QF9C6", "username": "ada", "team_id": "T0001" },
        "api_app_id": "A123456",
        "container": { "type": "message", "message_ts": "1700000000.000001", "channel_id": "C0OPS", "is_ephemeral": false },
        "channel": { "id": "C0OPS", "name": "ops" },
        "response_url": response_url,
        "actions": [{ "type": "button", "action_id": action_id, "block_id": "b1", "value": value,
                      "action_ts": "1700000001.000002" }],
    });
    format!("payload={}", form_encode(&payload.to_string()))
}

/// An `app_mention` event envelope.
fn mention(event_id: &str, channel: &str, ts: &str, text: &str) -> String {
    json!({
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "team_id": "T0001",
        "api_app_id": "A123456",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1_700_000_000,
        "event": { "type": "app_mention", "user": "U024BE7LH", "text": text, "ts": ts, "channel": channel,
                   "event_ts": ts },
    })
    .to_string()
}

#[tokio::test]
async fn a_signed_command_is_acknowledged_and_answered_at_its_response_url() {
    let env = Env::start().await;
    let sink = SlackSink::start().await;
    let api = start_api(&env, &sink, Secrets::Files).await;

    let body = command_form("help", "U024BE7LH", "C0OPS", &sink.response_url("cmd-1"));
    let resp = signed(&api, "/slack/commands", FORM, &body, SIGNING_SECRET, now()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // The answer at once is a private note; the reply comes later.
    let ack: Value = resp.json().await.expect("a JSON ack");
    assert_eq!(ack["response_type"], "ephemeral", "{ack}");

    let reply = sink.wait_for("reply to the command", REPLY_LIMIT, |r| r.path == "/hooks/cmd-1").await;
    assert_command_reply(&reply);
    assert_eq!(reply.body.get("replace_original"), None, "a command's reply is a new message: {:#}", reply.body);
    // A response URL is not the Web API: no bot token goes there.
    assert_eq!(reply.headers.get("authorization"), None);

    // A click: verified the same way, answered at its own response URL.
    let body = click_form("approve", "p-0193a5c2", &sink.response_url("click-1"));
    let resp = signed(&api, "/slack/interactions", FORM, &body, SIGNING_SECRET, now()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let reply = sink.wait_for("reply to the click", REPLY_LIMIT, |r| r.path == "/hooks/click-1").await;
    assert_command_reply(&reply);
}

#[tokio::test]
async fn unverified_requests_get_401_and_change_nothing() {
    let env = Env::start().await;
    let sink = SlackSink::start().await;
    let api = start_api(&env, &sink, Secrets::Env).await;
    let before = api.footprint().await;

    let command = command_form("deploy demo web:1.28", "U024BE7LH", "C0OPS", &sink.response_url("refused"));
    let click = click_form("approve", "p-0193a5c2", &sink.response_url("refused"));
    let event = mention("Ev0REFUSED", "C0OPS", "1700000000.000100", "<@U0BOSUN> deploy demo web:1.28");
    let cases: [(&str, &str, &str); 3] =
        [("/slack/commands", FORM, &command), ("/slack/interactions", FORM, &click), ("/slack/events", JSON, &event)];
    for (path, content_type, body) in cases {
        let url = format!("{}{path}", api.url);
        let ts = now();
        let attempts: Vec<(&str, reqwest::RequestBuilder, &str)> = vec![
            (
                "a signature made with another secret",
                signed(&api, path, content_type, body, "not-the-secret", ts),
                "invalid_signature",
            ),
            (
                "a timestamp 6 minutes old",
                signed(&api, path, content_type, body, SIGNING_SECRET, ts - 6 * 60),
                "stale_request",
            ),
            (
                "a body changed after signing",
                signed(&api, path, content_type, body, SIGNING_SECRET, ts).body(tampered(body)),
                "invalid_signature",
            ),
            (
                "no signature",
                api.http
                    .post(&url)
                    .header("content-type", content_type)
                    .header("x-slack-request-timestamp", ts.to_string())
                    .body(body.to_owned()),
                "missing_signature",
            ),
            (
                "no timestamp",
                api.http
                    .post(&url)
                    .header("content-type", content_type)
                    .header("x-slack-signature", bosun_tests::slack::sign(SIGNING_SECRET, ts, body.as_bytes()))
                    .body(body.to_owned()),
                "missing_signature",
            ),
        ];
        for (what, req, code) in attempts {
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{path} with {what}");
            let err: Value = resp.json().await.expect("a JSON error");
            assert_eq!(err["error"], code, "{path} with {what}: {err}");
        }
    }

    // A body over 64 KiB is not read, signed or not.
    let big = command_form(&"help ".repeat(14_000), "U024BE7LH", "C0OPS", &sink.response_url("refused"));
    let resp = signed(&api, "/slack/commands", FORM, &big, SIGNING_SECRET, now()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // A good request afterwards is answered; the refused ones, which came first, got
    // nothing: no reply, no message, nothing in S3 nor in the queue.
    let good = command_form("help", "U024BE7LH", "C0OPS", &sink.response_url("accepted"));
    let resp = signed(&api, "/slack/commands", FORM, &good, SIGNING_SECRET, now()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    sink.wait_for("reply to the good command", REPLY_LIMIT, |r| r.path == "/hooks/accepted").await;
    let received: Vec<String> = sink.received().into_iter().map(|r| r.path).collect();
    assert_eq!(received, ["/hooks/accepted"], "only the verified request was answered");
    assert_eq!(api.footprint().await, before, "a refused request wrote to S3 or sent to SQS");
}

#[tokio::test]
async fn the_events_api_challenge_is_echoed_and_a_retried_event_runs_once() {
    let env = Env::start().await;
    let sink = SlackSink::start().await;
    let api = start_api(&env, &sink, Secrets::Env).await;

    let challenge = json!({ "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification" }).to_string();
    let resp = signed(&api, "/slack/events", JSON, &challenge, SIGNING_SECRET, now()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(body["challenge"], "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");

    // The event, then Slack's retry of it (signed again, with X-Slack-Retry-Num), then
    // another event: the first runs once, the other runs too.
    let first = mention("Ev0ONCE", "C0ONE", "1700000000.000100", "<@U0BOSUN> help");
    for retry in [None, Some("1")] {
        let mut req = signed(&api, "/slack/events", JSON, &first, SIGNING_SECRET, now());
        if let Some(n) = retry {
            req = req.header("x-slack-retry-num", n).header("x-slack-retry-reason", "http_timeout");
        }
        assert_eq!(req.send().await.unwrap().status(), StatusCode::OK);
    }
    let other = mention("Ev0OTHER", "C0TWO", "1700000000.000200", "<@U0BOSUN> help");
    assert_eq!(
        signed(&api, "/slack/events", JSON, &other, SIGNING_SECRET, now()).send().await.unwrap().status(),
        StatusCode::OK
    );

    let is_answer = |r: &Received, channel: &str| {
        ["/api/chat.postMessage", "/api/chat.postEphemeral"].contains(&r.path.as_str()) && r.body["channel"] == channel
    };
    let answer = sink.wait_for("answer to the first mention", REPLY_LIMIT, |r| is_answer(r, "C0ONE")).await;
    sink.wait_for("answer to the other mention", REPLY_LIMIT, |r| is_answer(r, "C0TWO")).await;
    // Threaded under the mention, with the bot token, as a Block Kit message.
    assert_eq!(answer.body["thread_ts"], "1700000000.000100", "{:#}", answer.body);
    assert_eq!(answer.headers.get("authorization").map(String::as_str), Some(format!("Bearer {BOT_TOKEN}").as_str()));
    assert_message(&answer.body);
    // The retry was refused before any work: give a second run time to show up anyway.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let answers = sink.received().into_iter().filter(|r| is_answer(r, "C0ONE")).count();
    assert_eq!(answers, 1, "the retried event ran again: {:#?}", sink.received());
    assert!(api.logs().iter().any(|l| l.contains("Slack event already taken") && l.contains("Ev0ONCE")));
}

#[tokio::test]
async fn without_a_signing_secret_the_slack_endpoints_do_not_exist() {
    let env = Env::start().await;
    let sink = SlackSink::start().await;
    let api = start_api(&env, &sink, Secrets::NoSigningSecret).await;

    let unknown = signed(&api, "/slack/unknown", FORM, "text=help", SIGNING_SECRET, now()).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let unknown: Value = unknown.json().await.unwrap();
    let command = command_form("help", "U024BE7LH", "C0OPS", &sink.response_url("nobody"));
    let event = mention("Ev0NONE", "C0OPS", "1700000000.000100", "<@U0BOSUN> help");
    for (path, content_type, body) in [
        ("/slack/commands", FORM, command.as_str()),
        ("/slack/interactions", FORM, "payload=%7B%7D"),
        ("/slack/events", JSON, &event),
    ] {
        let resp = signed(&api, path, content_type, body, SIGNING_SECRET, now()).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(resp.json::<Value>().await.unwrap(), unknown, "{path} answers as an unknown path does");
        let get = api.http.get(format!("{}{path}", api.url)).send().await.unwrap();
        assert_eq!(get.status(), StatusCode::NOT_FOUND, "GET {path}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.received().is_empty(), "{:#?}", sink.received());
}

#[tokio::test]
async fn the_signing_secret_and_bot_token_never_reach_the_log() {
    let env = Env::start().await;
    let sink = SlackSink::start().await;
    let api = start_api_logging_debug(&env, &sink).await;

    // A command, a refused one, a mention (which uses the bot token), and a command
    // whose reply cannot be delivered.
    let good = command_form("help", "U024BE7LH", "C0OPS", &sink.response_url("log-1"));
    assert_eq!(signed(&api, "/slack/commands", FORM, &good, SIGNING_SECRET, now()).send().await.unwrap().status(), 200);
    let bad = signed(&api, "/slack/commands", FORM, &good, BOT_TOKEN, now()).send().await.unwrap();
    assert_eq!(bad.status(), 401);
    let event = mention("Ev0LOG", "C0LOG", "1700000000.000300", "<@U0BOSUN> help");
    assert_eq!(signed(&api, "/slack/events", JSON, &event, SIGNING_SECRET, now()).send().await.unwrap().status(), 200);
    sink.wait_for("reply to the command", REPLY_LIMIT, |r| r.path == "/hooks/log-1").await;
    sink.wait_for("answer to the mention", REPLY_LIMIT, |r| r.path.starts_with("/api/chat.post")).await;
    // A response URL outside the allowed prefix is never followed: the command is
    // answered at once and not run.
    let outside = command_form("help", "U024BE7LH", "C0OPS", &format!("{}/elsewhere/log-2", sink.base));
    let resp = signed(&api, "/slack/commands", FORM, &outside, SIGNING_SECRET, now()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sink.to("/elsewhere/log-2").is_empty(), "a response_url outside the prefix was followed");

    let logs = api.logs();
    assert!(logs.iter().any(|l| l.contains("path=/slack/commands")), "no access line: {logs:#?}");
    for (what, secret) in [("signing secret", SIGNING_SECRET), ("bot token", BOT_TOKEN)] {
        let leaks: Vec<&String> = logs.iter().filter(|l| l.contains(secret)).collect();
        assert!(leaks.is_empty(), "the {what} was logged: {leaks:#?}");
    }
    // Nor the bodies: Slack's (unused) verification token is only in them.
    assert!(!logs.iter().any(|l| l.contains("gIkuvaNzQIHg97ATvDxqgjtO")), "a request body was logged");
    assert!(!logs.iter().any(|l| l.contains("/hooks/log-1")), "a response_url was logged");
}

/// [`start_api`] with the secrets in the environment and debug logging on.
async fn start_api_logging_debug(env: &Env, sink: &SlackSink) -> ApiServer {
    let (api_url, prefix) = (sink.api_url(), sink.response_url_prefix());
    ApiServer::start_configured(
        env,
        &["serve", "api", "--slack-api-url", &api_url, "--slack-response-url-prefix", &prefix],
        &[("BOSUN_SLACK_SIGNING_SECRET", SIGNING_SECRET), ("BOSUN_SLACK_BOT_TOKEN", BOT_TOKEN), ("BOSUN_LOG", "debug")],
    )
    .await
}

/// Chat users of the flow tests: two deployers and a viewer of cluster demo.
const ACCESS: &str = "deployer U0ALICE demo\ndeployer U0BOB demo\nviewer U0VIC demo\n";

/// `bosun serve` (API and scheduler) with the Slack app and chat on, pointed at `sink`;
/// cluster demo (web at 1.27 and worker at 2.0, from ECR, a second approver required)
/// converged. Returns the server and the two repositories' URIs.
async fn start_chat(env: &Env, sink: &SlackSink) -> (ApiServer, String, String) {
    let access = env.work_dir().join("chat-access");
    std::fs::write(&access, ACCESS).expect("write the access file");
    let (api_url, prefix) = (sink.api_url(), sink.response_url_prefix());
    let mut args = vec!["serve"];
    args.extend_from_slice(bosun_tests::scheduler::FAST);
    args.extend_from_slice(&["--slack-api-url", &api_url, "--slack-response-url-prefix", &prefix]);
    args.extend_from_slice(&["--chat-access-file", access.to_str().expect("UTF-8 path")]);
    let envs = [("BOSUN_SLACK_SIGNING_SECRET", SIGNING_SECRET), ("BOSUN_SLACK_BOT_TOKEN", BOT_TOKEN)];
    let api = ApiServer::start_configured(env, &args, &envs).await;
    let web = api.ecr_repository("team/web", &["1.27", "1.28"]).await;
    let worker = api.ecr_repository("team/worker", &["2.0", "1.28"]).await;
    let yaml = format!(
        "chat: {{require_second_approver: true}}\nservices:\n  - web: {{image: '{web}:1.27', memory: 128, desired_count: 1}}\n  - worker: {{image: '{worker}:2.0', memory: 128, desired_count: 1}}\n"
    );
    let resp = api
        .request(reqwest::Method::POST, "/api/v1/clusters", Some(&api.admin))
        .json(&json!({ "name": "demo", "config": yaml }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let job: Value = resp.json().await.unwrap();
    let done = api.wait_job(job["job_id"].as_str().unwrap(), Duration::from_secs(90)).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    (api, web, worker)
}

/// A signed slash command from `user`, answered at the sink's `/hooks/{hook}`; asserts
/// the 200 comes within Slack's 3 seconds, and returns the reply that reaches the sink.
async fn slash(api: &ApiServer, sink: &SlackSink, user: &str, text: &str, hook: &str) -> Value {
    let body = command_form(text, user, "C0OPS", &sink.response_url(hook));
    let sent = std::time::Instant::now();
    let resp = signed(api, "/slack/commands", FORM, &body, SIGNING_SECRET, now()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(sent.elapsed() < Duration::from_secs(3), "acknowledged after {:?}", sent.elapsed());
    let path = format!("/hooks/{hook}");
    sink.wait_for(&format!("the reply to {text:?}"), REPLY_LIMIT, |r| r.path == path).await.body
}

/// A signed click on `action_id` by `user`, whose replies go to `/hooks/{hook}`.
async fn click_as(api: &ApiServer, sink: &SlackSink, user: &str, action_id: &str, value: &str, hook: &str) {
    let mut payload: Value =
        serde_json::from_str(&urlencoding_payload(&click_form(action_id, value, &sink.response_url(hook)))).unwrap();
    payload["user"]["id"] = json!(user);
    let body = format!("payload={}", form_encode(&payload.to_string()));
    let resp = signed(api, "/slack/interactions", FORM, &body, SIGNING_SECRET, now()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

/// The JSON of a `payload=...` form body (undoing [`form_encode`]).
fn urlencoding_payload(form: &str) -> String {
    let encoded = form.strip_prefix("payload=").expect("a payload form");
    let bytes = encoded.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                out.push(u8::from_str_radix(&encoded[i + 1..i + 3], 16).expect("hex"));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).expect("UTF-8")
}

/// The value of the button `action_id` in a message's blocks.
fn button_value(message: &Value, action_id: &str) -> Option<String> {
    let blocks = message["blocks"].as_array()?;
    blocks
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().into_iter().flatten())
        .find_map(|e| (e["action_id"] == action_id).then(|| e["value"].as_str().unwrap_or_default().to_owned()))
}

#[tokio::test]
async fn a_slash_command_deploy_is_approved_by_a_second_user_and_its_card_follows_the_job_to_succeeded() {
    let env = Env::start().await;
    let sink = SlackSink::start().await;
    let (api, web, _) = start_chat(&env, &sink).await;

    let card = slash(&api, &sink, "U0ALICE", "deploy demo web:1.28", "deploy").await;
    assert_eq!(card["response_type"], "in_channel", "the channel sees the proposal: {card:#}");
    let text = card.to_string();
    assert!(text.contains("Plan hash:"), "{card:#}");
    assert!(text.contains(&format!("{web}:1.27 -&gt; {web}:1.28")), "{card:#}");
    let proposal = button_value(&card, "approve").unwrap_or_else(|| panic!("no Approve button: {card:#}"));
    assert_eq!(button_value(&card, "cancel").as_deref(), Some(proposal.as_str()), "the buttons carry the id only");

    // The requester's own approval is refused, privately.
    click_as(&api, &sink, "U0ALICE", "approve", &proposal, "alice-click").await;
    let refused = sink.wait_for("the refusal", REPLY_LIMIT, |r| r.path == "/hooks/alice-click").await.body;
    assert_eq!(refused["response_type"], "ephemeral", "{refused:#}");
    assert!(refused.to_string().contains("second approver"), "{refused:#}");

    // bob approves: the card is replaced in place until the job succeeds.
    click_as(&api, &sink, "U0BOB", "approve", &proposal, "bob-click").await;
    let succeeded = sink
        .wait_for("the card at succeeded", Duration::from_secs(90), |r| {
            r.path == "/hooks/bob-click" && r.body.to_string().contains("Succeeded")
        })
        .await;
    assert_eq!(succeeded.body["replace_original"], true, "{:#}", succeeded.body);
    let states: Vec<bool> = sink.to("/hooks/bob-click").iter().map(|r| r.body["replace_original"] == true).collect();
    assert!(states.iter().all(|r| *r), "every update replaces the card: {:#?}", sink.to("/hooks/bob-click"));

    let card = api.request(reqwest::Method::GET, &format!("/api/v1/chat/proposals/{proposal}"), Some(&api.viewer));
    let card: Value = card.send().await.unwrap().json().await.unwrap();
    let job = api.job(card["job_id"].as_str().expect("a job")).await;
    assert_eq!(job["status"], "succeeded", "{job:#}");
    assert_eq!((job["requested_by"].as_str(), job["approved_by"].as_str()), (Some("U0ALICE"), Some("U0BOB")));
    let arn = env.running_revision("web").await;
    let image = env.task_definition(&arn).await.container_definitions()[0].image().unwrap_or_default().to_owned();
    assert_eq!(image, format!("{web}:1.28"));
    // With a bot token, the job's progress is posted in the card's thread.
    let thread = sink.to("/api/chat.postMessage");
    assert!(
        thread.iter().any(|r| r.body["thread_ts"] == "1700000000.000001"),
        "no progress line in the card's thread: {thread:#?}"
    );
}

#[tokio::test]
async fn slash_commands_deploy_several_services_or_all_and_refuse_unknown_services_and_tags() {
    let env = Env::start().await;
    let sink = SlackSink::start().await;
    let (api, web, worker) = start_chat(&env, &sink).await;

    let multi = slash(&api, &sink, "U0ALICE", "deploy to demo web:1.28,worker:1.28", "multi").await;
    let text = multi.to_string();
    assert!(text.contains(&format!("{web}:1.27 -&gt; {web}:1.28")), "{multi:#}");
    assert!(text.contains(&format!("{worker}:2.0 -&gt; {worker}:1.28")), "{multi:#}");
    let all = slash(&api, &sink, "U0ALICE", "deploy demo all:1.28", "all").await;
    assert!(button_value(&all, "approve").is_some(), "{all:#}");
    assert!(all.to_string().contains(&format!("{worker}:2.0 -&gt; {worker}:1.28")), "{all:#}");

    for (text, hook, needle) in [
        ("deploy demo cache:1.28", "unknown-service", "has no service `cache`"),
        ("deploy demo web:9.9", "unknown-tag", "No such tag: `web:9.9`"),
        ("deploy demo all:2.0", "unknown-tag-all", "No such tag: `web:2.0`"),
        ("deploy prod web:1.28", "unknown-cluster", "no access to cluster `prod`"),
        ("deploy demo web:1.28", "viewer", "needs the deployer role"),
    ] {
        let user = if hook == "viewer" { "U0VIC" } else { "U0ALICE" };
        let reply = slash(&api, &sink, user, text, hook).await;
        assert_eq!(reply["response_type"], "ephemeral", "{text}: {reply:#}");
        assert!(button_value(&reply, "approve").is_none(), "{text}: {reply:#}");
        assert!(reply.to_string().contains(needle), "{text}: expected {needle:?} in {reply:#}");
    }
    let unknown = slash(&api, &sink, "U0MALLORY", "status demo", "mallory").await;
    assert!(unknown.to_string().contains("not allowed to use bosun"), "{unknown:#}");
    // Nothing of it reached the stackfile: still the first version.
    let history: Value = api
        .request(reqwest::Method::GET, "/api/v1/clusters/demo/history", Some(&api.viewer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history["content"].as_array().map(Vec::len), Some(1), "{history:#}");
}
