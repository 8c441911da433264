//! Serving an app the way live pages need it: `TCP_NODELAY`, a deadline for
//! every request head, a bound on connections that are still speaking HTTP,
//! and a graceful shutdown.
//!
//! `axum::serve` gives a connection that sends nothing, or half a request,
//! or one byte every few seconds, as long as it likes, and counts it
//! nowhere: a few hundred such sockets exhaust the file descriptors before
//! `Limits::max_connections` (which counts WebSockets) is reached. Here a
//! request head must arrive within [`Serve::header_timeout`], and at most
//! [`Serve::max_pending`] connections may be in their HTTP phase at once;
//! beyond that new connections wait in the kernel's accept queue, costing
//! no descriptor. A connection leaves the HTTP phase when it upgrades to a
//! WebSocket (it then counts toward `Limits::max_connections`) or closes.

use std::future::{Future, IntoFuture};
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// The default [`Serve::header_timeout`].
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The default [`Serve::max_pending`].
const MAX_PENDING: usize = 1024;

/// The most [`Serve::max_pending`] accepts (far above any descriptor limit).
const MAX_PENDING_CAP: usize = 1 << 20;

/// How long to wait before accepting again after the listener failed
/// (typically: out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` over HTTP/1.1, with `TCP_NODELAY`, a deadline
/// for request heads and a bound on connections that have not upgraded.
/// Await it (it runs until the shutdown signal, if any, resolves).
///
/// ```no_run
/// use liveview::LiveView;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let lv = LiveView::builder().build()?;
/// let app = axum::Router::new().merge(lv.router());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// liveview::serve(listener, app)
///     .with_graceful_shutdown(lv.shutdown_on(liveview::shutdown_signal()))
///     .await?;
/// # Ok(()) }
/// ```
///
/// With a server of your own (`axum::serve`, hyper, a proxy in front), set
/// the equivalents yourself: `TCP_NODELAY` ([`no_delay`](crate::no_delay)),
/// a header read timeout (hyper's `header_read_timeout`, which needs a
/// timer), and a cap on idle HTTP connections. `docs/security.md` says why.
#[must_use = "a Serve does nothing until it is awaited"]
pub fn serve(listener: TcpListener, app: Router) -> Serve {
    Serve {
        listener,
        app,
        header_timeout: HEADER_TIMEOUT,
        max_pending: MAX_PENDING,
        signal: Box::pin(std::future::pending()),
    }
}

/// A server being configured; see [`serve`].
#[must_use = "a Serve does nothing until it is awaited"]
pub struct Serve {
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    max_pending: usize,
    signal: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl Serve {
    /// How long a client has to send a complete request head, counted from
    /// when the connection opens or its previous response was written (so
    /// idle keep-alive connections close after it too). Default 10 s.
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How many connections may be in their HTTP phase (not yet upgraded
    /// to a WebSocket) at once. Default 1,024; further connections wait to
    /// be accepted. A page on the long-poll transport never upgrades: it
    /// holds up to two keep-alive connections (its held `GET`, its `POST`s)
    /// in this phase, so a server that expects N such pages needs at least
    /// 2 × N here on top of the usual.
    pub fn max_pending(mut self, connections: usize) -> Self {
        self.max_pending = connections.clamp(1, MAX_PENDING_CAP);
        self
    }

    /// Stops accepting once `signal` resolves, finishes the requests in
    /// flight, and returns. Give it [`LiveView::shutdown_on`](crate::LiveView::shutdown_on)
    /// so that the WebSockets are closed (1012) and drained first.
    pub fn with_graceful_shutdown<F>(mut self, signal: F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.signal = Box::pin(signal);
        self
    }

    async fn run(self) -> io::Result<()> {
        let Serve {
            listener,
            app,
            header_timeout,
            max_pending,
            mut signal,
        } = self;
        let pending = Arc::new(Semaphore::new(max_pending));
        let (stop, stopping) = watch::channel(false);
        loop {
            let slot = tokio::select! {
                biased;
                () = &mut signal => break,
                slot = Arc::clone(&pending).acquire_owned() => slot,
            };
            // The semaphore is never closed.
            let Ok(slot) = slot else { break };
            let accepted = tokio::select! {
                biased;
                () = &mut signal => break,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(%err, "liveview: accept failed; retrying");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(%err, "liveview: cannot set TCP_NODELAY");
            }
            // Each request carries the peer's address, as axum's
            // `ConnectInfo` (the per-address connection cap reads it, and
            // so can the app's handlers).
            let service = TowerToHyperService::new(app.clone().map_request(
                move |mut request: Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request
                },
            ));
            let mut stopping = stopping.clone();
            tokio::spawn(async move {
                let mut builder = http1::Builder::new();
                builder
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_timeout);
                let connection = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades();
                let mut connection = pin!(connection);
                let result = tokio::select! {
                    result = connection.as_mut() => result,
                    () = stopped(&mut stopping) => {
                        connection.as_mut().graceful_shutdown();
                        connection.await
                    }
                };
                if let Err(err) = result {
                    tracing::debug!(%err, "liveview: HTTP connection ended with an error");
                }
                // The connection upgraded or closed: it leaves the HTTP phase.
                drop(slot);
            });
        }
        stop.send_replace(true);
        // Every HTTP connection returns its slot when it is done.
        let all = u32::try_from(max_pending).unwrap_or(u32::MAX);
        let _ = pending.acquire_many(all).await;
        Ok(())
    }
}

/// Resolves once the server stops (or is gone).
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`: drop it here.
    let _ = stopping.wait_for(|stop| *stop).await.map(|_| ());
}

impl IntoFuture for Serve {
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

impl std::fmt::Debug for Serve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("header_timeout", &self.header_timeout)
            .field("max_pending", &self.max_pending)
            .finish_non_exhaustive()
    }
}
