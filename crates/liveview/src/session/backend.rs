//! Where page sessions go to outlive their process: the backend trait a
//! shared store implements, and the snapshot it keeps.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a page session is, written down so that another process (a new
/// deploy, another node) can resume it.
///
/// A snapshot is made when the session's socket is lost (parked) and when
/// the server shuts down, with the frames its client may not have seen
/// (`complete`); and after each event that changed its portable state,
/// without frames (write-through: what survives a node that dies without
/// warning). See `docs/sessions.md`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Snapshot {
    /// The room of the page.
    pub room: String,
    /// Portable per-connection state, by the name it was registered under
    /// ([`LiveViewBuilder::session_state`](crate::LiveViewBuilder::session_state)).
    pub states: BTreeMap<String, serde_json::Value>,
    /// False when the session also held state of a type not registered as
    /// portable: it can be resumed only by the process that has it.
    pub portable: bool,
    /// The groups the connection joined (its room and `broadcast` aside),
    /// tags included.
    pub groups: Vec<String>,
    /// The highest event `ref` the session had received.
    pub highest_ref: u64,
    /// Frames of the session written so far.
    pub written: u64,
    /// The last frames, the last one numbered `written` (empty in a
    /// write-through snapshot).
    pub frames: Vec<String>,
    /// True when `frames` holds every frame the journal held: the snapshot
    /// of a parked session or of a server shutting down.
    pub complete: bool,
    /// How many times the session moved to another process: a store keeps
    /// the snapshot of the highest epoch (a process that lost the session
    /// to another may still write an older one).
    #[serde(default)]
    pub epoch: u64,
    /// What the session received of each group's messages (with a channel
    /// layer that keeps a log of them): the process that resumes it asks
    /// its layer for the rest
    /// ([`ChannelLayer::group_missed`](crate::layer::ChannelLayer::group_missed)).
    #[serde(default)]
    pub cursors: BTreeMap<String, crate::layer::GroupCursor>,
}

/// A store of [`Snapshot`]s shared by the processes of one app: Redis with
/// `liveview_redis::RedisSessions`, or your own.
///
/// Each session has a stable `id` and a `secret` that changes each time it
/// is resumed; `take` must be atomic (two processes taking one session at
/// once: one gets it).
#[async_trait::async_trait]
pub trait SessionBackend: Send + Sync + 'static {
    /// Stores (replaces) the snapshot of session `id`, resumable with
    /// `secret`, for `ttl`; unless the store holds a later one (this save
    /// is then dropped without an error): of a later
    /// [`epoch`](Snapshot::epoch) (another process resumed the session
    /// since: its copy wins), or of the same epoch with more frames
    /// [`written`](Snapshot::written), or as many and
    /// [`complete`](Snapshot::complete) where this one is not (saves are
    /// made in the background and may arrive out of order).
    async fn save(
        &self,
        id: &str,
        secret: &str,
        snapshot: &Snapshot,
        ttl: Duration,
    ) -> Result<(), SessionBackendError>;

    /// Takes (returns and deletes) the snapshot of session `id` when
    /// `secret` is its secret; `None` otherwise (and it stays).
    async fn take(&self, id: &str, secret: &str) -> Result<Option<Snapshot>, SessionBackendError>;

    /// Keeps the snapshot of session `id` for `ttl` from now.
    async fn touch(&self, id: &str, ttl: Duration) -> Result<(), SessionBackendError>;

    /// Deletes the snapshot of session `id` when `secret` is still its
    /// secret (the session ended; a process that resumed it since has
    /// written a new secret, and keeps its snapshot).
    async fn remove(&self, id: &str, secret: &str) -> Result<(), SessionBackendError>;
}

/// A session backend failed (the store is away, or answered nonsense).
#[derive(Debug, thiserror::Error)]
#[error("session backend: {0}")]
pub struct SessionBackendError(pub String);

impl SessionBackendError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        SessionBackendError(message.into())
    }
}
