//! Snapshots on their way to the backend: one task per process writes
//! them in the background, the latest per session, at most every
//! [`BATCH_DELAY`], so that no socket task waits for the store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::backend::{SessionBackend, Snapshot};

/// How long a write waits for others to join its batch: the most of a
/// session's changes a process that dies without warning can lose.
pub(crate) const BATCH_DELAY: Duration = Duration::from_millis(50);

/// One write for the backend.
#[derive(Debug)]
pub(crate) enum Write {
    Save {
        id: Box<str>,
        secret: Box<str>,
        snapshot: Box<Snapshot>,
        ttl: Duration,
    },
    Touch {
        id: Box<str>,
        ttl: Duration,
    },
    Remove {
        id: Box<str>,
        secret: Box<str>,
    },
}

impl Write {
    fn id(&self) -> &str {
        match self {
            Write::Save { id, .. } | Write::Touch { id, .. } | Write::Remove { id, .. } => id,
        }
    }
}

/// The sending end; the task ends when every sender is gone.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotWriter {
    tx: mpsc::UnboundedSender<Write>,
}

impl SnapshotWriter {
    /// Starts the writing task (needs a tokio runtime).
    pub(crate) fn spawn(backend: Arc<dyn SessionBackend>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(backend, rx));
        SnapshotWriter { tx }
    }

    pub(crate) fn send(&self, write: Write) {
        // The task lives as long as a sender: it cannot be gone.
        let _ = self.tx.send(write);
    }
}

async fn run(backend: Arc<dyn SessionBackend>, mut rx: mpsc::UnboundedReceiver<Write>) {
    while let Some(first) = rx.recv().await {
        tokio::time::sleep(BATCH_DELAY).await;
        // The latest write of each session wins; a touch does not replace a save.
        let mut batch: HashMap<Box<str>, Write> = HashMap::new();
        let mut add = |write: Write| {
            let keep_save = matches!(write, Write::Touch { .. })
                && matches!(batch.get(write.id()), Some(Write::Save { .. }));
            if !keep_save {
                batch.insert(write.id().into(), write);
            }
        };
        add(first);
        while let Ok(write) = rx.try_recv() {
            add(write);
        }
        let writes = batch.into_values().map(|write| {
            let backend = Arc::clone(&backend);
            async move { apply(&*backend, write).await }
        });
        futures_util::future::join_all(writes).await;
    }
}

async fn apply(backend: &dyn SessionBackend, write: Write) {
    let result = match &write {
        Write::Save {
            id,
            secret,
            snapshot,
            ttl,
        } => backend.save(id, secret, snapshot, *ttl).await,
        Write::Touch { id, ttl } => backend.touch(id, *ttl).await,
        Write::Remove { id, secret } => backend.remove(id, secret).await,
    };
    if let Err(err) = result {
        tracing::warn!(%err, id = write.id(), "liveview: session snapshot not written");
    }
}
