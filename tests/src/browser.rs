//! Headless Chromium driven through WebDriver, for the web UI's end-to-end tests.
//!
//! [`Browser::start`] runs Debian's `chromedriver` on a free 127.0.0.1 port, waits until
//! its `/status` says ready, and opens a session of `/usr/bin/chromium` (headless, a fresh
//! profile in a temporary directory, a 1280x900 window, every console message kept) with
//! [fantoccini]. Dropping the [`Browser`] ends the session (Chromium quits), kills
//! chromedriver by its PID and removes the temporary directory, also when the test
//! panicked. `deploy/local/ensure-debs` installs both programs.
//!
//! The helpers wait with a bounded limit ([`Browser::set_wait_limit`], 15 s by default)
//! and panic with the selector and the page's URL. The fantoccini [`Client`] is there
//! through `Deref` for anything else.
//!
//! ```no_run
//! # async fn demo(url: &str) {
//! use bosun_tests::browser::Browser;
//! let browser = Browser::start().await;
//! browser.goto(url).await;
//! browser.fill("Cluster", "demo").await;
//! browser.click("button[type=submit]").await;
//! browser.wait_for_text("#status", "converged").await;
//! browser.set_width(390).await;
//! browser.screenshot("status-phone").await;
//! browser.assert_no_console_errors().await;
//! # }
//! ```

use std::fmt;
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// Debian's Chromium (package `chromium`).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's ChromeDriver (package `chromium-driver`).
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The window every session starts with.
pub const WINDOW: (u32, u32) = (1280, 900);

/// How long chromedriver may take to answer `/status` with `ready: true`.
const DRIVER_START_LIMIT: Duration = Duration::from_secs(20);
/// How long opening a session (starting Chromium) may take.
const SESSION_START_LIMIT: Duration = Duration::from_secs(30);
/// How long ending the session may take when the browser is dropped.
const SESSION_END_LIMIT: Duration = Duration::from_secs(10);
/// The default limit of every wait for the page.
const WAIT_LIMIT: Duration = Duration::from_secs(15);
/// Between two looks at the page.
const POLL: Duration = Duration::from_millis(50);

/// Chromium's flags. Without the background-networking ones Chromium keeps trying hosts
/// that this machine's closed network refuses; without `--no-sandbox` it does not start
/// as root; `/dev/shm` is small in containers.
const CHROMIUM_FLAGS: [&str; 9] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// One message of the browser's console (chromedriver's `browser` log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleEntry {
    /// `SEVERE`, `WARNING`, `INFO` or `DEBUG`.
    pub level: String,
    /// Where it came from: `console-api` (a script's `console.*`), `javascript` (an
    /// uncaught exception), `security` (a Content Security Policy violation), `network`
    /// (a failed request), ...
    pub source: String,
    /// The text, with the script's location first for `console-api`.
    pub message: String,
}

impl fmt::Display for ConsoleEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{} {}] {}", self.level, self.source, self.message)
    }
}

/// A headless Chromium session and the chromedriver that runs it.
pub struct Browser {
    client: Client,
    session_id: String,
    /// The browser process (`goog:processID`), killed if the session cannot be ended.
    browser_pid: Option<u32>,
    wait: Duration,
    /// Dropped after the session ended: kills chromedriver.
    driver: Driver,
    /// The profile, chromedriver's log and Chromium's XDG dirs; removed last.
    _dir: tempfile::TempDir,
}

impl Deref for Browser {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Browser {
    /// Start chromedriver and open a headless Chromium session.
    pub async fn start() -> Self {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(bin).is_file(),
                "{bin} is missing: run deploy/local/ensure-debs (Debian's chromium and chromium-driver)"
            );
        }
        let dir = tempfile::Builder::new().prefix("bosun-browser-").tempdir().expect("create the browser's temp dir");
        let driver = Driver::start(dir.path()).await;
        let profile = dir.path().join("profile");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push(format!("--window-size={},{}", WINDOW.0, WINDOW.1));
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let Value::Object(caps) = caps else { unreachable!("a JSON object") };
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(caps);
        let url = driver.url();
        let client = match tokio::time::timeout(SESSION_START_LIMIT, builder.connect(&url)).await {
            Ok(Ok(client)) => client,
            Ok(Err(err)) => panic!("chromedriver could not open a Chromium session: {err}\n{}", driver.log()),
            Err(_) => panic!("no Chromium session within {SESSION_START_LIMIT:?}\n{}", driver.log()),
        };
        let created = client.session_creation_response().expect("a new session answers with its id");
        let session_id = created.session_id().to_owned();
        let browser_pid = created
            .capabilities()
            .and_then(|c| c.get("goog:processID"))
            .and_then(Value::as_u64)
            .and_then(|p| u32::try_from(p).ok());
        let browser = Self { client, session_id, browser_pid, wait: WAIT_LIMIT, driver, _dir: dir };
        browser.client.set_window_size(WINDOW.0, WINDOW.1).await.expect("set the window size");
        browser
    }

    /// The limit of every later wait (15 s unless set).
    pub fn set_wait_limit(&mut self, limit: Duration) {
        self.wait = limit;
    }

    /// The fantoccini client (also reachable through `Deref`).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The page's current URL, or why it is unknown (for messages).
    pub async fn url(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(err) => format!("<unknown URL: {err}>"),
        }
    }

    /// Navigate to `url` and wait for its load event.
    pub async fn goto(&self, url: &str) {
        if let Err(err) = self.client.goto(url).await {
            panic!("could not open {url}: {err}");
        }
    }

    /// The first element that matches the CSS `selector`, once there is one.
    pub async fn wait_for(&self, selector: &str) -> Element {
        let deadline = Instant::now() + self.wait;
        loop {
            let err = match self.client.find(Locator::Css(selector)).await {
                Ok(element) => return element,
                Err(err) => err,
            };
            if Instant::now() >= deadline {
                panic!("no element matches {selector:?} after {:?} on {}: {err}", self.wait, self.url().await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Wait until no element matches the CSS `selector`.
    pub async fn wait_until_gone(&self, selector: &str) {
        let deadline = Instant::now() + self.wait;
        loop {
            match self.client.find_all(Locator::Css(selector)).await {
                Ok(found) if found.is_empty() => return,
                _ if Instant::now() >= deadline => {
                    panic!("{selector:?} still matches after {:?} on {}", self.wait, self.url().await)
                }
                _ => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// The first element that matches the CSS `selector` and whose rendered text
    /// contains `text`, once there is one.
    pub async fn wait_for_text(&self, selector: &str, text: &str) -> Element {
        let deadline = Instant::now() + self.wait;
        loop {
            let mut seen = Vec::new();
            for element in self.client.find_all(Locator::Css(selector)).await.unwrap_or_default() {
                match element.text().await {
                    Ok(t) if t.contains(text) => return element,
                    Ok(t) => seen.push(t),
                    // Replaced while we read it (a swap): look again.
                    Err(_) => {}
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "no element matching {selector:?} contains {text:?} after {:?} on {}; their texts: {seen:?}",
                    self.wait,
                    self.url().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The rendered text of the first element that matches `selector`. An element that
    /// htmx replaces between finding and reading it (a stale reference) is found again.
    pub async fn text(&self, selector: &str) -> String {
        let deadline = Instant::now() + self.wait;
        loop {
            let element = self.wait_for(selector).await;
            match element.text().await {
                Ok(text) => return text,
                Err(err) if Instant::now() >= deadline => panic!("read the text of {selector:?}: {err}"),
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// Type `value` into the form field named by `field`: the text of its `<label>` (by
    /// `for`, or wrapping it), its `aria-label`, or its `id`; the first such field in
    /// document order. The field is cleared first; a `<select>` picks the option with
    /// that text (or else that value).
    pub async fn fill(&self, field: &str, value: &str) -> Element {
        let name = xpath_literal(field);
        let label = format!("//label[normalize-space(.)={name} or normalize-space(text())={name}]");
        let xpath = format!(
            "//*[@id={name}] | //*[@aria-label={name}] | //*[@id={label}/@for] \
             | {label}//*[self::input or self::textarea or self::select]"
        );
        let deadline = Instant::now() + self.wait;
        let element = loop {
            let err = match self.client.find(Locator::XPath(&xpath)).await {
                Ok(element) => break element,
                Err(err) => err,
            };
            if Instant::now() >= deadline {
                panic!(
                    "no field labelled or with the id {field:?} after {:?} on {}: {err}",
                    self.wait,
                    self.url().await
                );
            }
            tokio::time::sleep(POLL).await;
        };
        let tag = element.tag_name().await.unwrap_or_default();
        let filled = if tag.eq_ignore_ascii_case("select") {
            match element.select_by_label(value).await {
                Ok(()) => Ok(()),
                Err(_) => element.select_by_value(value).await,
            }
        } else {
            match element.clear().await {
                Ok(()) => element.send_keys(value).await,
                Err(err) => Err(err),
            }
        };
        if let Err(err) = filled {
            panic!("could not fill {field:?} ({tag}) on {}: {err}", self.url().await);
        }
        element
    }

    /// Click the first element that matches `selector`, once it is there and can be
    /// clicked (tried again while it is hidden, covered or being replaced).
    pub async fn click(&self, selector: &str) {
        let deadline = Instant::now() + self.wait;
        loop {
            let err = match self.client.find(Locator::Css(selector)).await {
                Ok(element) => match element.click().await {
                    Ok(()) => return,
                    Err(err) => err,
                },
                Err(err) => err,
            };
            if Instant::now() >= deadline {
                panic!("could not click {selector:?} within {:?} on {}: {err}", self.wait, self.url().await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Resize the window to `px` wide (the height stays) and check that the page's
    /// viewport is that wide, as on a phone at `390`.
    pub async fn set_width(&self, px: u32) {
        let (_, height) = self.client.get_window_size().await.expect("read the window size");
        let height = u32::try_from(height).unwrap_or(WINDOW.1);
        self.client.set_window_size(px, height).await.expect("set the window size");
        let inner = self.client.execute("return window.innerWidth", vec![]).await.expect("read window.innerWidth");
        assert_eq!(inner.as_u64(), Some(u64::from(px)), "the viewport is not {px} px wide after resizing the window");
    }

    /// Save a PNG of the viewport as `<dir>/<name>.png` ([`screenshot_dir`]) and
    /// return its path. Characters other than letters, digits, `-`, `_` and `.` in
    /// `name` become `_`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap_or_else(|err| panic!("take the screenshot {name:?}: {err}"));
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|err| panic!("create {}: {err}", dir.display()));
        let file: String =
            name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
        let path = dir.join(format!("{}.png", file.trim_end_matches(".png")));
        std::fs::write(&path, png).unwrap_or_else(|err| panic!("write {}: {err}", path.display()));
        path
    }

    /// The browser console's `SEVERE` messages since the last call (chromedriver hands
    /// out each log entry once): `console.error`, uncaught exceptions, Content Security
    /// Policy violations, failed requests.
    pub async fn console_errors(&self) -> Vec<ConsoleEntry> {
        self.console().await.into_iter().filter(|e| e.level == "SEVERE").collect()
    }

    /// Every console message since the last call (of this or of
    /// [`Browser::console_errors`]).
    pub async fn console(&self) -> Vec<ConsoleEntry> {
        let log = self.client.issue_cmd(BrowserLog).await.expect("read the browser log (POST /session/{id}/se/log)");
        let entries = log.as_array().unwrap_or_else(|| panic!("the browser log is not a list: {log}"));
        let field = |e: &Value, k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        entries
            .iter()
            .map(|e| ConsoleEntry {
                level: field(e, "level"),
                source: field(e, "source"),
                message: field(e, "message"),
            })
            .collect()
    }

    /// Fail, listing them, if the console has `SEVERE` messages since the last look.
    pub async fn assert_no_console_errors(&self) {
        let errors = self.console_errors().await;
        if !errors.is_empty() {
            let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
            panic!("{} console error(s) on {}:\n  {}", errors.len(), self.url().await, list.join("\n  "));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Chromium outlives a killed chromedriver, so end the session first: chromedriver
        // then quits Chromium. The async client cannot run here, so this is one plain
        // HTTP request on loopback.
        let ended = end_session(self.driver.port, &self.session_id);
        if let Err(err) = &ended {
            eprintln!("could not end the WebDriver session: {err}\n{}", self.driver.log());
        }
        if let Some(pid) = self.browser_pid {
            if ended.is_err() {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            }
            // Before the profile is removed under it.
            wait_gone(pid, SESSION_END_LIMIT);
        }
    }
}

/// A running chromedriver; dropping it kills it by PID.
struct Driver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Driver {
    /// Start on a free port. Another process may take the port between our probe and
    /// chromedriver's bind (it then exits); then try another one.
    async fn start(dir: &Path) -> Self {
        let log = dir.join("chromedriver.log");
        let xdg = dir.join("xdg");
        let mut failures = Vec::new();
        for _ in 0..3 {
            let port = crate::free_port();
            let out = std::fs::File::create(&log).expect("create chromedriver's log");
            let err = out.try_clone().expect("clone the log's handle");
            let child = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                // Chromium's crash reports and caches go here, not to ~/.config.
                .env("XDG_CONFIG_HOME", &xdg)
                .env("XDG_CACHE_HOME", &xdg)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|err| panic!("start {CHROMEDRIVER}: {err}"));
            let mut driver = Driver { child, port, log: log.clone() };
            match driver.wait_ready().await {
                Ok(()) => return driver,
                Err(why) => {
                    let log = driver.log();
                    drop(driver);
                    failures.push(format!("port {port}: {why}\n{log}"));
                    if !log.contains("Address already in use") {
                        break;
                    }
                }
            }
        }
        panic!("chromedriver did not start:\n{}", failures.join("\n"));
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("an HTTP client");
        let status = format!("{}/status", self.url());
        let deadline = Instant::now() + DRIVER_START_LIMIT;
        let mut last = String::from("no answer yet");
        while Instant::now() < deadline {
            if let Ok(Some(exit)) = self.child.try_wait() {
                return Err(format!("chromedriver exited: {exit}"));
            }
            match http.get(&status).send().await {
                Ok(response) => match response.json::<Value>().await {
                    Ok(body) if body["value"]["ready"] == json!(true) => return Ok(()),
                    Ok(body) => last = format!("not ready: {body}"),
                    Err(err) => last = err.to_string(),
                },
                Err(err) => last = err.to_string(),
            }
            tokio::time::sleep(POLL).await;
        }
        Err(format!("not ready within {DRIVER_START_LIMIT:?}: {last}"))
    }

    /// chromedriver's output so far, for failure messages.
    fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!("chromedriver's log ({}):\n{}", self.log.display(), text.trim_end())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver's legacy log command (`POST /session/{id}/se/log`, `{"type":"browser"}`),
/// which the W3C protocol lacks and fantoccini has no method for.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

/// Where [`Browser::screenshot`] writes: `$BOSUN_UI_SCREENSHOTS`, else
/// `<CARGO_TARGET_DIR or <repo>/target>/ui-screenshots`.
pub fn screenshot_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BOSUN_UI_SCREENSHOTS") {
        return PathBuf::from(dir);
    }
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => crate::repo_root().join(dir),
        None => crate::repo_root().join("target"),
    };
    target.join("ui-screenshots")
}

/// `DELETE /session/{id}` on chromedriver, synchronously and bounded.
fn end_session(port: u16, session_id: &str) -> std::io::Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, SESSION_END_LIMIT)?;
    stream.set_read_timeout(Some(SESSION_END_LIMIT))?;
    stream.set_write_timeout(Some(SESSION_END_LIMIT))?;
    write!(stream, "DELETE /session/{session_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")?;
    // chromedriver answers once Chromium has quit, and may keep the connection open:
    // the status line is enough.
    let mut answer = Vec::new();
    let mut chunk = [0; 512];
    while !answer.contains(&b'\n') {
        match stream.read(&mut chunk)? {
            0 => break,
            n => answer.extend_from_slice(&chunk[..n]),
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    match answer.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        _ => Err(std::io::Error::other(format!("chromedriver answered: {answer}"))),
    }
}

/// Wait (bounded) until process `pid` is gone or a zombie.
fn wait_gone(pid: u32, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state follows the command name, which is in parentheses.
            Ok(stat) if stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')) => {
                std::thread::sleep(POLL);
            }
            _ => return,
        }
    }
}

/// `s` as an XPath 1.0 string literal (which has no escapes).
fn xpath_literal(s: &str) -> String {
    if !s.contains('"') {
        format!("\"{s}\"")
    } else if !s.contains('\'') {
        format!("'{s}'")
    } else {
        let parts: Vec<String> = s.split('"').map(|p| format!("\"{p}\"")).collect();
        format!("concat({})", parts.join(", '\"', "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xpath_literals_quote_either_way() {
        assert_eq!(xpath_literal("Name"), "\"Name\"");
        assert_eq!(xpath_literal("say \"hi\""), "'say \"hi\"'");
        assert_eq!(xpath_literal("it's \"x\""), "concat(\"it's \", '\"', \"x\", '\"', \"\")");
    }
}
