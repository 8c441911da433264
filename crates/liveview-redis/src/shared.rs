//! What a Redis layer's handle and its background tasks share, and the
//! messages the handle sends to those tasks.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use liveview::layer::{Frame, LocalHub, NodeId};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::config::RedisConfig;
use crate::conn::Conn;
use crate::feed::Source;
use crate::link::PresenceHook;
use crate::names::Names;

/// What the layer's handles and tasks share.
pub(crate) struct Shared {
    pub(crate) hub: LocalHub,
    pub(crate) names: Names,
    /// This layer's node: the node of its connections' ids, and the origin
    /// tag of its messages (so that it skips its own echo).
    pub(crate) node: NodeId,
    /// Commands (publish scripts, replay reads, presence).
    pub(crate) manager: Conn,
    /// Where the subscriber's pub/sub connection goes.
    pub(crate) source: Source,
    pub(crate) control: mpsc::UnboundedSender<Control>,
    pub(crate) outbound: mpsc::Sender<Outbound>,
    pub(crate) presence: OnceLock<Arc<dyn PresenceHook>>,
    pub(crate) connected: AtomicBool,
    /// Set when a join gave up waiting for its subscription (Redis is slow
    /// or frozen): later joins do not wait until the subscriber catches up.
    pub(crate) stalled: AtomicBool,
    pub(crate) dropped: AtomicU64,
    /// Group and direct messages that arrived from Redis (live).
    pub(crate) received: AtomicU64,
    pub(crate) replayed: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) config: RedisConfig,
    /// The number of this node's last group message. Held while a message
    /// is numbered, delivered here and queued, so that numbers reach every
    /// member, here and on other nodes, in order (what a page session's
    /// cursor relies on: `liveview::layer::Mark`).
    pub(crate) numbered: std::sync::Mutex<u64>,
    /// Every group message numbered up to this one is settled: in its
    /// stream (or given up). What a moved session waits for before it
    /// reads, from the stream, what this node sent before it joined.
    pub(crate) settled: AtomicU64,
    /// Messages queued for the publisher and not settled yet (sent, or
    /// given up): what `flush` waits for.
    pub(crate) pending: std::sync::atomic::AtomicUsize,
}

impl Shared {
    pub(crate) fn config_op_timeout(&self) -> Duration {
        self.config.op_timeout
    }
}

/// A message for the publisher task.
pub(crate) struct Outbound {
    pub(crate) stream: String,
    pub(crate) channel: String,
    /// `-` for a group, the connection id for a direct send.
    pub(crate) target: String,
    pub(crate) frame: Frame,
    pub(crate) queued: Instant,
    /// The message's number among this node's messages, given by the
    /// publisher (0 until then): with the node id, the message id that
    /// makes a retried publish run once.
    pub(crate) seq: u64,
    /// A group message's number among this node's (`Shared::numbered`);
    /// 0 for other messages.
    pub(crate) mark: u64,
}

/// A request to the subscriber task.
pub(crate) enum Control {
    /// Group membership changed on this node: subscribe or unsubscribe as
    /// the hub now says; answer once done. The instant is when the
    /// membership changed: a subscription made late replays from then.
    Sync(Arc<str>, Option<oneshot::Sender<()>>, Instant),
    /// Presence was enabled: subscribe to its channel.
    Presence,
}
