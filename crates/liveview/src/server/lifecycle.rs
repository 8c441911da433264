//! How many connections are open, and shutting them down.

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
