//! The test harness of liveview's own tests, in one place:
//!
//! - [`Browser`] and [`Page`]: a real headless Chromium, driven through
//!   ChromeDriver, against a real server;
//! - [`ws`]: a real server on a loopback port ([`ws::TestServer`]) and a
//!   WebSocket client that speaks the protocol ([`ws::Client`]);
//! - [`scripted`]: an app whose handlers record events and answer as the
//!   test scripts, for the browser client's tests;
//! - [`session`]: a version-2 client that keeps its page session across
//!   sockets as the browser client does ([`session::SessionClient`]);
//! - [`poll`]: a long-poll client over plain HTTP/1.1
//!   ([`poll::PollClient`]);
//! - [`redis`]: a real `redis-server` ([`redis::RedisServer`]);
//! - [`cluster`]: a real Redis Cluster ([`cluster::RedisCluster`]);
//! - [`proxy`]: a TCP proxy that breaks connections on cue, or refuses
//!   WebSocket upgrades ([`proxy::TcpProxy`]).
//!
//! ```no_run
//! # async fn example() {
//! use liveview_e2e::Browser;
//!
//! Browser::run("click_updates_content", |page| async move {
//!     page.goto("http://127.0.0.1:8000/").await;
//!     page.click("#update").await;
//!     page.wait_for_text("#content", "Updated content").await;
//! })
//! .await;
//! # }
//! ```
//!
//! Each [`Browser::run`] starts its own ChromeDriver on a free loopback
//! port ([`free_port`]), with a fresh profile directory, and on failure saves a screenshot to
//! `target/e2e-screenshots/{name}.png` before re-raising the panic. Missing
//! Chromium or ChromeDriver is a test failure, never a skip: the README's
//! test command installs them.

#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

pub mod cluster;
pub mod poll;
pub mod proxy;
pub mod redis;
pub mod scripted;
pub mod session;
pub mod ws;

use std::future::Future;
use std::net::TcpListener;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Where Debian installs Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Where Debian installs ChromeDriver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long `wait_*` helpers wait before failing.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A headless Chromium session and the ChromeDriver process behind it.
pub struct Browser {
    driver: Child,
    profile: PathBuf,
}

/// One browser tab, with helpers that wait rather than sleep.
#[derive(Clone)]
pub struct Page {
    client: Client,
}

/// A loopback port nobody listens on right now, for a child process to
/// bind (`redis-server` takes its port as an argument), or for a URL
/// nobody answers.
///
/// It is picked at random *below* the kernel's ephemeral range
/// (`/proc/sys/net/ipv4/ip_local_port_range`, 32768–60999 by default):
/// the kernel hands ports of that range to every `bind(0)` and every
/// outgoing connection, so a port picked there can be taken by another
/// test's server or client between this pick and the child's bind (a
/// ChromeDriver once found a demo server on its port). Below the range only
/// another pick like this one can take it, and the callers check that the
/// child they started is the one that answers.
pub fn free_port() -> u16 {
    let first_ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000u16, first_ephemeral.max(10_001));
    for _ in 0..200 {
        let bytes = uuid::Uuid::new_v4().into_bytes();
        let random = u16::from_le_bytes([bytes[0], bytes[1]]);
        let port = low + random % (high - low);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// Starts ChromeDriver on a free port below the kernel's ephemeral range
/// ([`free_port`]) and waits for the line it prints once it listens; one
/// that exits instead (its port was taken) starts again on another port, a
/// few times.
///
/// Neither a port picked with `bind(0)` and handed over nor `--port=0` is
/// safe here: another test's server may be handed the first in between
/// (the session request then went to a demo server), and with `--port=0`
/// ChromeDriver binds the port the kernel gave its IPv6 socket on IPv4
/// too, which another socket may hold ("IPv4 port not available").
async fn start_chromedriver() -> (Child, u16) {
    let mut printed = Vec::new();
    for _attempt in 0..4 {
        let port = free_port();
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("cannot start chromedriver");
        let stdout = driver
            .stdout
            .take()
            .expect("chromedriver's stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let listening = tokio::time::timeout(PATIENCE, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("started successfully on port") {
                    return true;
                }
                printed.push(line);
            }
            false // it exited
        })
        .await
        .unwrap_or(false);
        if listening {
            // Keep reading what it prints, so that a full pipe never blocks it.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return (driver, port);
        }
        let _ = driver.kill().await;
    }
    panic!(
        "chromedriver would not start (4 tries on free loopback ports); it printed: {}",
        printed.join(" | ")
    )
}

fn require(path: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: end-to-end tests need Debian's chromium and chromium-driver \
         (the README's test command, scripts/test.sh, installs them)"
    );
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium; returns the browser and its first page.
    pub async fn start() -> (Browser, Page) {
        require(CHROMIUM);
        require(CHROMEDRIVER);
        let (driver, port) = start_chromedriver().await;
        let profile =
            std::env::temp_dir().join(format!("liveview-e2e-{}", uuid::Uuid::new_v4().simple()));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-quic", "--no-first-run", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let client = loop {
            let attempt =
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps.clone())
                    .connect(&url)
                    .await;
            match attempt {
                Ok(client) => break client,
                Err(err) if tokio::time::Instant::now() < deadline => {
                    let _ = err;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(err) => panic!("cannot start a Chromium session through chromedriver: {err}"),
            }
        };
        (Browser { driver, profile }, Page { client })
    }

    /// Runs `test` with a fresh browser; on panic saves a screenshot named
    /// after the test, then re-raises.
    pub async fn run<F, Fut>(name: &str, test: F)
    where
        F: FnOnce(Page) -> Fut,
        Fut: Future<Output = ()>,
    {
        let (browser, page) = Browser::start().await;
        let outcome = AssertUnwindSafe(test(page.clone())).catch_unwind().await;
        if outcome.is_err() {
            page.save_screenshot(name).await;
        }
        page.close().await;
        browser.stop().await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }

    /// Stops ChromeDriver and removes the profile directory.
    pub async fn stop(mut self) {
        let _ = self.driver.kill().await;
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Page {
    /// The underlying WebDriver client, for anything the helpers lack.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens a URL and waits until the liveview client is connected (when the page has one).
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
        self.wait_until(
            "return !document.querySelector('script[src*=\"/liveview/\"]') || (window.liveview && window.liveview.connected)",
        )
        .await;
    }

    /// Runs JavaScript (a function body: use `return`) and returns its result.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until the script returns a truthy value.
    pub async fn wait_until(&self, script: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let value = self.eval(script).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting until: {script}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Clicks the element a CSS selector names (a real WebDriver click).
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    /// Types text into a field with real key events.
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("cannot type into {css}: {e}"));
    }

    /// Clears a field.
    pub async fn clear(&self, css: &str) {
        let element = self.find(css).await;
        element
            .clear()
            .await
            .unwrap_or_else(|e| panic!("cannot clear {css}: {e}"));
    }

    /// Waits for an element and returns it.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(element) => return element,
                Err(e) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "no element {css}: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    /// The text content of the element a CSS selector names ("" when absent).
    pub async fn text(&self, css: &str) -> String {
        let script = format!(
            "const el = document.querySelector({}); return el ? el.textContent : null;",
            json!(css)
        );
        self.eval(&script)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the element's text contains `expected`.
    pub async fn wait_for_text(&self, css: &str, expected: &str) {
        let script = format!(
            "const el = document.querySelector({}); return !!el && el.textContent.includes({});",
            json!(css),
            json!(expected)
        );
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !self.eval(&script).await.as_bool().unwrap_or(false) {
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "{css} never contained {expected:?}; it holds {:?}",
                    self.text(css).await
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Saves a screenshot to `target/e2e-screenshots/{name}.png`.
    pub async fn save_screenshot(&self, name: &str) {
        let dir = screenshot_dir();
        let _ = std::fs::create_dir_all(&dir);
        if let Ok(png) = self.client.screenshot().await {
            let path = dir.join(format!("{name}.png"));
            if std::fs::write(&path, png).is_ok() {
                eprintln!("screenshot saved to {}", path.display());
            }
        }
    }

    /// Ends the session.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// Serves `app` on a free loopback port in a background task with
/// `liveview::serve` (as apps are told to); returns the address.
pub async fn serve(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { liveview::serve(listener, app).await.expect("serve") });
    addr
}

/// Waits until `lv` counts `n` open WebSockets; fails the test after
/// `patience`.
pub async fn wait_connections(lv: &liveview::LiveView, n: usize, patience: Duration) {
    let deadline = tokio::time::Instant::now() + patience;
    while lv.connection_count() != n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "server has {} connections, expected {n}",
            lv.connection_count()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A plain HTTP/1.1 `GET` on its own connection: the status, the head and
/// the body (for tests of pages served next to the live ones).
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .expect("read the response");
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("e2e-screenshots")
}
