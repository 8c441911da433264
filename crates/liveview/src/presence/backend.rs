//! The interface a distributed layer implements to share presence across
//! nodes, and the handle it gets to report what other nodes do.

use std::fmt;
use std::sync::Weak;

#[cfg(doc)]
use super::Presence;
use super::{Inner, PresenceEntry, PresenceEvent};
use crate::layer::NodeId;

/// Shares a [`Presence`]'s entries with the other nodes of a cluster.
///
/// [`Presence::in_memory`] needs none. A crate for a distributed layer
/// implements it (`liveview-redis` does, on Redis) and installs it with
/// [`Presence::with_backend`]; the presence keeps this node's entries
/// itself, tells the backend about every change in order, and tells this
/// node's subscribers at once. The backend reports what happens on other
/// nodes through the [`PresenceHub`] it was built with.
///
/// Methods are called from the presence's callers' tasks: they must not
/// block (queue the work for a task of the backend's own), and
/// [`leave`](PresenceBackend::leave) is called from `Drop` and cannot wait.
#[async_trait::async_trait]
pub trait PresenceBackend: Send + Sync + 'static {
    /// An entry of this node joined `topic` (or its metadata changed).
    /// Return once other nodes can list it, or after a bounded wait.
    async fn join(&self, topic: &str, entry: &PresenceEntry);

    /// An entry of this node left `topic`.
    fn leave(&self, topic: &str, entry: &PresenceEntry);

    /// The entries of `topic` on every live node, in any order; `None` when
    /// the other nodes cannot be reached (the presence then lists this
    /// node's entries only). This node's entries in the answer are replaced
    /// by the presence's own, which are ahead.
    async fn list(&self, topic: &str) -> Option<Vec<PresenceEntry>>;

    /// Goodbye: these entries (every entry of this node, by topic) left;
    /// remove them, and this node, everywhere now.
    async fn close(&self, entries: Vec<(String, PresenceEntry)>);
}

/// What a [`PresenceBackend`] may do to the [`Presence`] it serves: tell
/// its subscribers about other nodes' changes, and read this node's entries
/// (to store them again after the backend lost them).
///
/// It does not keep the presence alive: once the presence is dropped, its
/// methods do nothing and return nothing. Cheap to clone.
#[derive(Clone)]
pub struct PresenceHub {
    node: NodeId,
    inner: Weak<Inner>,
}

impl PresenceHub {
    pub(super) fn new(node: NodeId, inner: Weak<Inner>) -> Self {
        PresenceHub { node, inner }
    }

    /// The node id of the presence (and of its entries).
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// True once the presence is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.strong_count() == 0
    }

    /// Tells this node's subscribers of the event's topic (an entry of
    /// another node joined or left: `here: false`; or this node removed a
    /// dead node's entry: `here: true`; or [`PresenceEvent::Resync`]).
    pub fn emit(&self, event: PresenceEvent) {
        if let Some(inner) = self.inner.upgrade() {
            inner.emit(event);
        }
    }

    /// Sends [`PresenceEvent::Resync`] to every subscribed topic: events
    /// may have been missed.
    pub fn resync(&self) {
        if let Some(inner) = self.inner.upgrade() {
            for topic in inner.subscribed_topics() {
                inner.emit(PresenceEvent::Resync { topic });
            }
        }
    }

    /// The topics that have subscribers on this node.
    pub fn subscribed_topics(&self) -> Vec<String> {
        self.inner
            .upgrade()
            .map(|inner| inner.subscribed_topics())
            .unwrap_or_default()
    }

    /// Every entry this node tracks, with its topic.
    pub fn local_entries(&self) -> Vec<(String, PresenceEntry)> {
        self.inner
            .upgrade()
            .map(|inner| inner.all_local())
            .unwrap_or_default()
    }
}

impl fmt::Debug for PresenceHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresenceHub")
            .field("node", &self.node)
            .field("closed", &self.is_closed())
            .finish()
    }
}
