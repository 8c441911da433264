//! How many connections are open, and shutting them down.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};

/// The open connections of one `LiveView` and its shutdown signal.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    shutdown: watch::Sender<bool>,
    connections: AtomicUsize,
    drained: Notify,
}

impl Lifecycle {
    pub(crate) fn new() -> Self {
        Lifecycle {
            shutdown: watch::channel(false).0,
            connections: AtomicUsize::new(0),
            drained: Notify::new(),
        }
    }

    /// The number of open connections.
    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::Acquire)
    }

    /// Counts a new connection, unless `max` are open already.
    ///
    /// It is counted before the check, so that a burst of upgrades cannot
    /// overshoot.
    pub(crate) fn admit(self: &Arc<Self>, max: usize) -> Option<ConnectionGuard> {
        let previous = self.connections.fetch_add(1, Ordering::AcqRel);
        let guard = ConnectionGuard(Arc::clone(self));
        (previous < max).then_some(guard)
    }

    /// Asks every connection to close.
    pub(crate) fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// The signal a connection's task watches.
    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Waits until every connection has closed, or `timeout` has passed;
    /// true when all have closed.
    pub(crate) async fn drain(&self, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.drained.notified();
                if self.connections() == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }
}

/// Counts a connection for as long as it lives.
#[derive(Debug)]
pub(crate) struct ConnectionGuard(Arc<Lifecycle>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if self.0.connections.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.drained.notify_waiters();
        }
    }
}

/// Completes on Ctrl-C (SIGINT) or, on unix, SIGTERM: what process
/// managers (systemd, Docker, Kubernetes) send to stop a server. Give it to
/// [`LiveView::shutdown_on`](crate::LiveView::shutdown_on):
///
/// ```no_run
/// # async fn run(lv: liveview::LiveView, app: axum::Router) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// liveview::serve(listener, app)
///     .with_graceful_shutdown(lv.shutdown_on(liveview::shutdown_signal()))
///     .await
/// # }
/// ```
///
/// Call it inside the tokio runtime, before the server starts: the signal
/// handlers are installed by the call, not when the future is first polled,
/// so a signal that arrives in between is not lost (the default action of
/// SIGTERM would end the process without closing its pages). A handler
/// that cannot be installed is logged, and that signal is not waited for.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind: SignalKind, name: &'static str| match signal(kind) {
            Ok(stream) => Some(stream),
            Err(err) => {
                tracing::error!(%err, signal = name, "liveview: cannot listen for a signal");
                None
            }
        };
        let interrupt = install(SignalKind::interrupt(), "SIGINT");
        let terminate = install(SignalKind::terminate(), "SIGTERM");
        async move {
            let wait = |stream: Option<tokio::signal::unix::Signal>| async move {
                match stream {
                    Some(mut stream) => {
                        stream.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => tracing::info!("liveview: SIGINT received"),
                () = wait(terminate) => tracing::info!("liveview: SIGTERM received"),
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            if let Err(err) = tokio::signal::ctrl_c().await {
                tracing::error!(%err, "liveview: cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_admits_and_drains() {
        let lifecycle = Arc::new(Lifecycle::new());
        let first = lifecycle.admit(1);
        assert!(first.is_some());
        assert!(lifecycle.admit(1).is_none(), "over the limit");
        assert_eq!(lifecycle.connections(), 1, "a refused one is not counted");
        assert!(!lifecycle.drain(Duration::from_millis(10)).await);
        drop(first);
        assert!(lifecycle.drain(Duration::from_millis(10)).await);
    }
}
