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
