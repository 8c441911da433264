//! Starts the demo in-process on a free loopback port, with its own SQLite
//! file in a temporary directory.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use liveview::LiveView;
use liveview_demo::{Config, Metrics, build_app};

pub struct Demo {
    pub addr: SocketAddr,
    pub lv: LiveView,
    pub metrics: Metrics,
    pub db_path: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Demo {
    /// A demo on a fresh database.
    pub async fn start() -> Demo {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("demo.sqlite3");
        let mut demo = Demo::start_on(&path).await;
        demo._dir = Some(dir);
        demo
    }

    /// A demo on this database file (kept by the caller).
    pub async fn start_on(path: &Path) -> Demo {
        Demo::start_with(Config::new(path)).await
    }

    /// A demo with this configuration (its database file kept by the
    /// caller), debug mode off.
    pub async fn start_with(mut config: Config) -> Demo {
        config.debug = false;
        let path = config.db_path.clone();
        let metrics = config.metrics.clone();
        let (router, lv) = build_app(config).await.expect("build the demo");
        let addr = liveview_e2e::serve(router).await;
        Demo {
            addr,
            lv,
            metrics,
            db_path: path,
            _dir: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Fails when a browser reported a Content-Security-Policy violation
    /// on this demo's pages (something a page loaded or ran that the
    /// demo's policy blocks), after a moment for reports still on their way.
    pub async fn assert_no_csp_violations(&self) {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert_eq!(
            self.metrics.csp_violations(),
            0,
            "the browser reported CSP violations (the demo's log has them)"
        );
    }

    /// A plain HTTP/1.1 GET: status, head, body.
    pub async fn get(&self, path: &str) -> (u16, String, String) {
        liveview_e2e::http_get(self.addr, path).await
    }
}

/// The demo binary with these arguments (`--host 127.0.0.1` is added),
/// logging at info; returns the process (killed when dropped) and the
/// address it logged. Its log keeps being read, so it never blocks on a
/// full pipe.
pub async fn binary(args: &[&str]) -> (tokio::process::Child, SocketAddr) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_liveview-demo"))
        .args(["--host", "127.0.0.1"])
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("LIVEVIEW_REDIS")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the demo binary");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .expect("the demo starts in time")
            .unwrap()
            .expect("the demo logs its address");
        if let Some(at) = line.find("http://") {
            let rest = &line[at + "http://".len()..];
            break rest[..rest.find('/').unwrap()].parse().unwrap();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
}
