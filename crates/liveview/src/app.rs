//! The app a `LiveView` runs: its handlers by name, the hooks around them,
//! which functions take uploads, its limits, and the services handlers use.
//!
//! Built once by the builder, then shared (read-only) by every connection's
//! socket task.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use liveview_protocol::Event;

use crate::ctx::Ctx;
use crate::error::Error;
use crate::handler::{BoxFuture, BoxedHandler};
use crate::limits::Limits;
use crate::reply::Reply;
use crate::services::Services;
use crate::session::{PortableStates, SessionBackend, SessionStore, SnapshotWriter};
use crate::upload::{UploadConfig, UploadDir, UploadShared};

/// A hook that sees every event before its handler and may refuse it.
pub(crate) type BeforeHook =
    Arc<dyn Fn(&Ctx, &Event) -> BoxFuture<Result<(), Error>> + Send + Sync>;

/// A hook run when a connection opens; its reply is pushed to the client.
pub(crate) type ConnectHook = Arc<dyn Fn(Ctx) -> BoxFuture<Result<Reply, Error>> + Send + Sync>;

/// Everything the connections of one `LiveView` share.
pub(crate) struct App {
    pub(crate) handlers: HashMap<Box<str>, BoxedHandler>,
    pub(crate) before: Vec<BeforeHook>,
    pub(crate) on_connect: Option<ConnectHook>,
    /// Run when a socket resumes a parked session (instead of `on_connect`).
    pub(crate) on_resume: Option<ConnectHook>,
    /// The sessions of this process that a socket may resume.
    pub(crate) sessions: SessionStore,
    /// Where sessions are written to outlive this process, if anywhere.
    pub(crate) session_backend: Option<Arc<dyn SessionBackend>>,
    /// The state types that travel with a session's snapshot.
    pub(crate) portable: PortableStates,
    /// Writes snapshots in the background (started on first use).
    pub(crate) snapshot_writer: OnceLock<SnapshotWriter>,
    /// Upload limits, by the function that receives the files.
    pub(crate) uploads: HashMap<Box<str>, UploadConfig>,
    /// The upload budget, directory and timeouts every connection's upload
    /// table shares.
    pub(crate) upload_shared: UploadShared,
    /// The `LiveView`'s own upload directory, removed when the app is
    /// dropped (made only when some function takes uploads).
    pub(crate) _upload_dir: Option<UploadDir>,
    pub(crate) limits: Limits,
    pub(crate) services: Arc<Services>,
    /// The metric handles of the hot paths, registered at build.
    pub(crate) metrics: crate::telemetry::Metrics,
}

impl App {
    /// The names of the registered handlers, sorted.
    pub(crate) fn handler_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.handlers.keys().map(|k| &**k).collect();
        names.sort_unstable();
        names
    }

    /// The background writer of snapshots, when there is a backend.
    pub(crate) fn snapshots(&self) -> Option<&SnapshotWriter> {
        let backend = self.session_backend.as_ref()?;
        Some(
            self.snapshot_writer
                .get_or_init(|| SnapshotWriter::spawn(Arc::clone(backend))),
        )
    }

    pub(crate) fn debug(&self) -> bool {
        self.services.debug
    }
}
