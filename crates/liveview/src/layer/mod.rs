//! The channel layer: how a message reaches one connection, a group, or
//! everyone, whichever node of a cluster they are connected to.
//!
//! A [`ChannelLayer`] moves pre-encoded [`Frame`]s. Each node keeps its own
//! connections in a [`LocalHub`] (connection id → [`Mailbox`], group →
//! members); a layer decides how a message travels to the hubs of other
//! nodes. [`InMemoryLayer`], the default, has one node and no travel at all;
//! a Redis layer carries messages between nodes and hands them to the same
//! local hub, so handler code never changes.
//!
//! A frame is encoded once and shared by reference count among all its
//! recipients: a broadcast to 10,000 clients serializes its JSON once.

mod hub;
mod memory;
#[cfg(feature = "redis")]
pub(crate) mod redis;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use axum::extract::ws::Utf8Bytes;
use liveview_protocol::{Patch, ServerFrame};
use tokio::sync::mpsc;

#[cfg(feature = "redis")]
pub use self::redis::{RedisConfig, RedisLayer, RedisLayerError};
pub use hub::LocalHub;
pub use memory::InMemoryLayer;

use crate::error::SendError;

/// The id of one connection, unique across every node of a cluster.
///
/// It is made of a random per-process node id and a per-process counter, and
/// prints as 32 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(u128);

impl ConnId {
    pub(crate) fn next() -> Self {
        static NODE: std::sync::LazyLock<u64> =
            std::sync::LazyLock::new(|| uuid::Uuid::new_v4().as_u64_pair().0);
        static COUNTER: AtomicU64 = AtomicU64::new(1);
        let seq = COUNTER.fetch_add(1, Ordering::Relaxed);
        ConnId((u128::from(*NODE) << 64) | u128::from(seq))
    }

    /// The id as a number.
    pub fn as_u128(self) -> u128 {
        self.0
    }

    /// Rebuilds an id from [`ConnId::as_u128`].
    pub fn from_u128(id: u128) -> Self {
        ConnId(id)
    }

    /// The node (process) this connection lives on.
    pub fn node(self) -> u64 {
        (self.0 >> 64) as u64
    }

    /// Parses the 32-hex-digit form that `Display` prints.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 32 {
            return None;
        }
        u128::from_str_radix(text, 16).ok().map(ConnId)
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnId({self})")
    }
}

/// A server → client text frame, encoded once and cheap to clone.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame(Utf8Bytes);

impl Frame {
    /// Encodes a pushed patch (no `ref`).
    pub fn patch(patch: &Patch) -> Self {
        Frame::from(ServerFrame::Patch {
            patch,
            reference: None,
        })
    }

    /// A frame from JSON text the caller vouches for (for channel layers
    /// that carry frames between nodes).
    pub fn from_json_text(text: impl Into<String>) -> Self {
        Frame(Utf8Bytes::from(text.into()))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub(crate) fn into_inner(self) -> Utf8Bytes {
        self.0
    }
}

impl From<ServerFrame<'_>> for Frame {
    fn from(frame: ServerFrame<'_>) -> Self {
        Frame(Utf8Bytes::from(frame.to_json()))
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Frame").field(&self.as_str()).finish()
    }
}

/// What a connection's socket task receives.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Frame(Frame),
    /// The queue overflowed: the client cannot keep up; close it.
    Overflow,
}

/// The sending end of one connection's outgoing queue.
///
/// Delivery never blocks and never waits: a connection whose queue holds
/// more than its limit of undelivered frames is closed (code 1013) rather
/// than letting memory grow without bound.
#[derive(Clone)]
pub struct Mailbox {
    tx: mpsc::UnboundedSender<Outgoing>,
    depth: Arc<AtomicUsize>,
    limit: usize,
}

/// Depth value that marks a mailbox whose queue has overflowed.
const OVERFLOWED: usize = usize::MAX / 2;

impl Mailbox {
    pub(crate) fn new(limit: usize) -> (Mailbox, MailboxReceiver) {
        let (tx, rx) = mpsc::unbounded_channel();
        let depth = Arc::new(AtomicUsize::new(0));
        let mailbox = Mailbox {
            tx,
            depth: Arc::clone(&depth),
            limit,
        };
        (mailbox, MailboxReceiver { rx, depth })
    }

    /// Queues a frame for the connection. Returns `false` when the
    /// connection is gone or its queue is full (the frame is dropped).
    pub fn deliver(&self, frame: Frame) -> bool {
        let queued = self.depth.fetch_add(1, Ordering::AcqRel);
        if queued >= self.limit {
            if queued < OVERFLOWED {
                // First overflow: tell the socket task to close, once.
                self.depth.store(OVERFLOWED, Ordering::Release);
                let _ = self.tx.send(Outgoing::Overflow);
            }
            return false;
        }
        if self.tx.send(Outgoing::Frame(frame)).is_err() {
            self.depth.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// True once the connection's socket task has ended.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("queued", &self.depth.load(Ordering::Relaxed))
            .field("limit", &self.limit)
            .finish()
    }
}

/// The receiving end, owned by the connection's socket task.
#[derive(Debug)]
pub(crate) struct MailboxReceiver {
    rx: mpsc::UnboundedReceiver<Outgoing>,
    depth: Arc<AtomicUsize>,
}

impl MailboxReceiver {
    pub(crate) async fn recv(&mut self) -> Option<Outgoing> {
        let item = self.rx.recv().await;
        if let Some(Outgoing::Frame(_)) = item {
            self.depth.fetch_sub(1, Ordering::AcqRel);
        }
        item
    }

    /// Takes an already-queued item without waiting (to batch writes).
    pub(crate) fn try_recv(&mut self) -> Option<Outgoing> {
        let item = self.rx.try_recv().ok();
        if let Some(Outgoing::Frame(_)) = item {
            self.depth.fetch_sub(1, Ordering::AcqRel);
        }
        item
    }
}

/// Moves frames to connections, groups and everyone, across nodes.
///
/// Implementations must be cheap to call concurrently from many tasks and
/// must not hold a lock across an `.await`. Every connection of this node
/// is [`attach`](ChannelLayer::attach)ed when it opens and
/// [`detach`](ChannelLayer::detach)ed when it closes; a detached connection
/// leaves all its groups.
#[async_trait::async_trait]
pub trait ChannelLayer: Send + Sync + 'static {
    /// Registers a connection of this node.
    fn attach(&self, conn: ConnId, mailbox: Mailbox);

    /// Forgets a connection of this node and removes it from all its groups.
    async fn detach(&self, conn: ConnId);

    /// Adds a connection of this node to a group.
    async fn group_add(&self, group: &str, conn: ConnId) -> Result<(), SendError>;

    /// Removes a connection of this node from a group.
    async fn group_discard(&self, group: &str, conn: ConnId) -> Result<(), SendError>;

    /// Sends a frame to every member of a group, on every node. A group
    /// without members is not an error.
    async fn group_send(&self, group: &str, frame: Frame) -> Result<(), SendError>;

    /// Sends a frame to one connection, on whichever node it is.
    ///
    /// # Errors
    /// [`SendError::Closed`] when the connection is known to be gone.
    async fn send(&self, conn: ConnId, frame: Frame) -> Result<(), SendError>;

    /// The number of connections attached on this node.
    fn local_connections(&self) -> usize;
}
