//! Starts the demo in-process on a free loopback port, with its own SQLite
//! file in a temporary directory.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use liveview::LiveView;
use liveview_demo::{Config, Metrics, build_app};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            axum::serve(liveview::no_delay(listener), router)
                .await
                .expect("serve");
        });
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

    /// A plain HTTP/1.1 GET: status, head, body.
    pub async fn get(&self, path: &str) -> (u16, String, String) {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        let response = String::from_utf8_lossy(&response).into_owned();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, head.to_owned(), body.to_owned())
    }
}
