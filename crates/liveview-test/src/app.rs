//! The app under test, served on a loopback port.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;

use crate::error::TestError;
use crate::http::{self, Cookies};
use crate::page::TestPage;

/// An app served on `127.0.0.1` on a free port, for as long as it lives.
#[derive(Debug)]
pub struct TestApp {
    addr: SocketAddr,
    cookies: Cookies,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

impl TestApp {
    /// Serves `router` (the app's pages merged with `lv.router()`) with
    /// [`liveview::serve`] on a free loopback port.
    ///
    /// # Errors
    /// [`TestError::Io`] when no port can be bound.
    pub async fn new(router: axum::Router) -> Result<TestApp, TestError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        // Should the server stop with an error, the pages' next actions fail
        // with their socket's error.
        let server = tokio::spawn(liveview::serve(listener, router).into_future());
        Ok(TestApp {
            addr,
            cookies: Cookies::default(),
            server: Some(server),
        })
    }

    /// An app already running at `addr` (started by the test itself).
    pub fn at(addr: SocketAddr) -> TestApp {
        TestApp {
            addr,
            cookies: Cookies::default(),
            server: None,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of a path on it.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Opens a page: GETs `path` (following redirects), parses its HTML,
    /// connects its socket (to the room of `<html data-room>`) and waits for
    /// the answers to its `data-liveview-init` events. Each page is a
    /// browser of its own, with its own cookies (starting from
    /// [`TestApp::cookie`]'s): open two to see broadcasts.
    ///
    /// # Errors
    /// [`TestError::Http`] for a status other than 2xx,
    /// [`TestError::Socket`] when the socket is refused, and the errors of
    /// the init events' answers.
    pub async fn open(&self, path: &str) -> Result<TestPage, TestError> {
        TestPage::open(self.addr, Arc::new(Mutex::new(self.cookies.clone())), path).await
    }

    /// A cookie every page opened afterwards starts with (a session, say).
    pub fn cookie(&mut self, name: &str, value: &str) -> &mut Self {
        self.cookies.set(&format!("{name}={value}"));
        self
    }

    /// A plain GET (no redirects followed): its status and body.
    ///
    /// # Errors
    /// [`TestError::Http`] when the request fails.
    pub async fn get(&self, path: &str) -> Result<(u16, String), TestError> {
        let mut cookies = self.cookies.clone();
        let response = http::get(self.addr, path, &mut cookies).await?;
        Ok((response.status, response.body))
    }
}
