//! Headless Chromium under test: its own `chromedriver` on a free port, a WebDriver session
//! with a fresh profile, and the few actions the tests take, each failing with a message that
//! names what it looked for.
//!
//! `chromedriver` leads a process group of its own, which the Chromium it starts joins, so
//! that dropping a [`Browser`] ends both even when a test panics half-way.

use std::any::Any;
use std::fmt::Debug;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;
use test_support::ports::free_port;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// A desktop window, the size Chromium is started with.
pub(crate) const DESKTOP: (u32, u32) = (1280, 900);

/// A phone's viewport (an iPhone 12 to 15).
pub(crate) const PHONE: (u32, u32) = (390, 844);

/// How often a bounded wait looks again.
const POLL: Duration = Duration::from_millis(100);

/// How long a bounded wait waits: a page load, an element, or the deliveries.
const PATIENCE: Duration = Duration::from_secs(20);

/// How long `chromedriver` may take to answer.
const DRIVER_START: Duration = Duration::from_secs(20);

/// How long one test's browser steps may take in all, so that a stuck browser fails the test
/// rather than hanging it.
const TEST_LIMIT: Duration = Duration::from_secs(180);

/// Where Debian installs Chromium and its driver; `CHROMIUM` and `CHROMEDRIVER` override.
const CHROMIUM: (&str, &str) = ("CHROMIUM", "/usr/bin/chromium");
const CHROMEDRIVER: (&str, &str) = ("CHROMEDRIVER", "/usr/bin/chromedriver");

/// A WebDriver session in headless Chromium, pointed at one base URL.
pub(crate) struct Browser {
    client: Client,
    base_url: String,
    screenshots: PathBuf,
    // Dropped after the client, in this order: the driver ends Chromium, then the profile goes.
    _driver: Driver,
    _profile: TempDir,
}

/// The `chromedriver` process, ended with its process group when dropped.
struct Driver {
    child: Child,
}

impl Browser {
    /// Starts `chromedriver` and a Chromium session with a `size` window (width, height) on a
    /// fresh profile, for pages under `base_url`. Fails, naming the script that installs them,
    /// when Chromium or `chromedriver` is missing.
    pub(crate) async fn launch(base_url: &str, size: (u32, u32)) -> Browser {
        let chromium = installed(CHROMIUM);
        let chromedriver = installed(CHROMEDRIVER);
        let port = free_port();
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("could not start {}: {error}", chromedriver.display()));
        let mut driver = Driver { child };
        let webdriver = format!("http://127.0.0.1:{port}");
        driver.wait_until_ready(&webdriver).await;

        let profile = tempfile::tempdir().expect("a Chromium profile directory");
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities(&chromium, profile.path(), size))
            .connect(&webdriver)
            .await
            .expect("chromedriver opens a session in headless Chromium");
        // `--window-size` cannot go below Chromium's smallest desktop window; this can.
        client
            .set_window_size(size.0, size.1)
            .await
            .expect("the window takes its size");
        Browser {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            screenshots: screenshot_dir(),
            _driver: driver,
            _profile: profile,
        }
    }

    /// Runs a test's `steps`, then ends the session. When a step fails or the steps take longer
    /// than [`TEST_LIMIT`], it first saves `failure-{test}.png`, then fails the test the same way.
    pub(crate) async fn run<F>(self, test: &str, steps: F)
    where
        F: AsyncFnOnce(&Browser),
    {
        let outcome = AssertUnwindSafe(tokio::time::timeout(TEST_LIMIT, steps(&self)))
            .catch_unwind()
            .await;
        let failure: Option<Box<dyn Any + Send>> = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(_)) => Some(Box::new(format!(
                "the browser steps of {test} took longer than {TEST_LIMIT:?}"
            ))),
            Err(panic) => Some(panic),
        };
        if failure.is_some() {
            // Best effort: the failure itself is what the test reports.
            if let Ok(png) = self.client.screenshot().await {
                let _ = std::fs::create_dir_all(&self.screenshots);
                let _ = std::fs::write(self.screenshots.join(format!("failure-{test}.png")), png);
            }
        }
        let _ = self.client.clone().close().await;
        if let Some(failure) = failure {
            std::panic::resume_unwind(failure);
        }
    }

    /// The WebDriver client, for what the helpers here do not cover (windows).
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `path` (such as `/ui/orders`) on the platform.
    pub(crate) async fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.base_url);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|error| panic!("could not open {url}: {error}"));
    }

    /// The path of the page shown now.
    pub(crate) async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("the current URL")
            .path()
            .to_owned()
    }

    /// Waits until the page shown is one whose path satisfies `arrived` (it is `what`);
    /// the path.
    pub(crate) async fn wait_for_path(&self, what: &str, arrived: impl Fn(&str) -> bool) -> String {
        poll(what, || self.path(), |path| arrived(path)).await
    }

    /// The element with the id `id` (any characters, brackets and dots included).
    pub(crate) async fn by_id(&self, id: &str) -> Element {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|error| panic!("no element with the id {id:?}: {error}"))
    }

    /// The first element that matches the CSS `selector`, waiting for it to appear.
    pub(crate) async fn find(&self, selector: &str) -> Element {
        let found = poll(
            &format!("an element matching {selector}"),
            || async { self.client.find(Locator::Css(selector)).await.ok() },
            Option::is_some,
        )
        .await;
        found.expect("poll returns what was found")
    }

    /// Every element that matches the CSS `selector` now.
    pub(crate) async fn find_all(&self, selector: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(selector))
            .await
            .unwrap_or_else(|error| panic!("could not look for {selector}: {error}"))
    }

    /// Clicks the element that matches `selector`.
    pub(crate) async fn click(&self, selector: &str) {
        self.find(selector)
            .await
            .click()
            .await
            .unwrap_or_else(|error| panic!("could not click {selector}: {error}"));
    }

    /// Replaces the text of the input with the id `id` by `text`, as typed.
    pub(crate) async fn fill(&self, id: &str, text: &str) {
        let input = self.by_id(id).await;
        input
            .clear()
            .await
            .unwrap_or_else(|error| panic!("could not clear {id}: {error}"));
        input
            .send_keys(text)
            .await
            .unwrap_or_else(|error| panic!("could not type into {id}: {error}"));
    }

    /// The current value of the input with the id `id`.
    pub(crate) async fn value(&self, id: &str) -> String {
        self.by_id(id)
            .await
            .prop("value")
            .await
            .unwrap_or_else(|error| panic!("could not read the value of {id}: {error}"))
            .unwrap_or_default()
    }

    /// The text shown by the element that matches `selector`.
    pub(crate) async fn text(&self, selector: &str) -> String {
        self.find(selector)
            .await
            .text()
            .await
            .unwrap_or_else(|error| panic!("could not read the text of {selector}: {error}"))
    }

    /// Runs `script` in the page with `args` as `arguments`; what it returns.
    pub(crate) async fn script(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|error| panic!("the script failed: {error}\n{script}"))
    }

    /// Saves what the window shows as `target/screenshots/{name}.png`.
    pub(crate) async fn screenshot(&self, name: &str) {
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|error| panic!("could not take the screenshot {name}: {error}"));
        std::fs::create_dir_all(&self.screenshots).expect("the screenshot directory");
        let path = self.screenshots.join(format!("{name}.png"));
        std::fs::write(&path, png)
            .unwrap_or_else(|error| panic!("could not write {}: {error}", path.display()));
    }
}

impl Driver {
    /// Waits until `chromedriver` at `webdriver` says it is ready for sessions.
    async fn wait_until_ready(&mut self, webdriver: &str) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + DRIVER_START;
        loop {
            if let Some(status) = self.child.try_wait().expect("chromedriver's state") {
                panic!("chromedriver exited before it was ready: {status}");
            }
            let ready = match client.get(format!("{webdriver}/status")).send().await {
                Ok(response) => response
                    .json::<Value>()
                    .await
                    .is_ok_and(|status| status["value"]["ready"] == json!(true)),
                Err(_) => false,
            };
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer at {webdriver} within {DRIVER_START:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and the Chromium processes it started. `kill_on_drop`
        // alone would end only chromedriver and leave Chromium running.
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Calls `probe` every [`POLL`] until `done` holds for what it returns, for at most
/// [`PATIENCE`]; what it returned last. Fails the test with `what` and the last value seen.
pub(crate) async fn poll<T, P, Fut>(what: &str, mut probe: P, done: impl Fn(&T) -> bool) -> T
where
    T: Debug,
    P: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        let seen = probe().await;
        if done(&seen) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {PATIENCE:?} waiting for {what}; last seen: {seen:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// The path of a program the test needs: `(variable, default)`. A missing one fails the test,
/// since skipping it would pass without having tested the page.
fn installed((variable, default): (&str, &str)) -> PathBuf {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.is_file(),
        "{} is missing: the browser test needs Chromium and chromedriver; run \
         scripts/ensure-chromium (or set {variable} to the program's path)",
        path.display()
    );
    path
}

/// A port that was free a moment ago, for `chromedriver`.
/// Headless Chromium that reaches nothing but the platform: the machine has no internet, and a
/// test should not depend on it anyway.
fn capabilities(chromium: &Path, profile: &Path, (width, height): (u32, u32)) -> Capabilities {
    let args = [
        "--headless=new".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        format!("--window-size={width},{height}"),
        format!("--user-data-dir={}", profile.display()),
    ];
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": chromium, "args": args },
    });
    match capabilities {
        Value::Object(map) => map,
        _ => unreachable!("the capabilities are a JSON object"),
    }
}

/// `target/screenshots`, in `CARGO_TARGET_DIR` when it is set.
fn screenshot_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        // Cargo resolves a relative target directory from where it was run: the workspace,
        // usually, whereas a test runs in its package's directory.
        .map(|dir| {
            if dir.is_relative() {
                workspace.join(dir)
            } else {
                dir
            }
        })
        .unwrap_or_else(|| workspace.join("target"));
    target.join("screenshots")
}
