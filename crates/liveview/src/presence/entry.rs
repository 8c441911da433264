//! What presence lists and reports: entries, join and leave events, errors.

use serde::{Deserialize, Serialize};

use crate::layer::NodeId;

/// One presence in a topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresenceEntry {
    /// What is present: a connection id for [`Presence::track`](super::Presence::track), any
    /// string for [`Presence::track_key`](super::Presence::track_key). Unique per node and topic.
    pub key: String,
    /// The node that tracks it: on a distributed layer, the layer's node
    /// (as in [`ConnId::node`](crate::layer::ConnId::node)). Serialized as 16 hex
    /// digits.
    pub node: NodeId,
    /// The metadata given when tracking (name, page, …).
    pub meta: serde_json::Value,
    /// When it was tracked, in milliseconds since the Unix epoch.
    pub since: u64,
}

/// A change in a topic.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PresenceEvent {
    /// An entry appeared, or its metadata changed.
    Join {
        /// The topic.
        topic: String,
        /// The entry.
        entry: PresenceEntry,
        /// True on the node that made the change (the one that tracked it,
        /// or that reaped a dead node's entry): act there once for the
        /// whole cluster (e.g. broadcast a new count), or on every node for
        /// its own clients.
        here: bool,
    },
    /// An entry left: untracked, its connection closed, or its node died.
    Leave {
        /// The topic.
        topic: String,
        /// The entry as it was.
        entry: PresenceEntry,
        /// As for [`PresenceEvent::Join`].
        here: bool,
    },
    /// Events may have been missed (this node was cut off from Redis):
    /// list the topic again.
    Resync {
        /// The topic.
        topic: String,
    },
}

impl PresenceEvent {
    /// The topic the event is about.
    pub fn topic(&self) -> &str {
        match self {
            PresenceEvent::Join { topic, .. }
            | PresenceEvent::Leave { topic, .. }
            | PresenceEvent::Resync { topic } => topic,
        }
    }

    /// True on the node that made the change (false for `Resync`).
    pub fn is_here(&self) -> bool {
        match self {
            PresenceEvent::Join { here, .. } | PresenceEvent::Leave { here, .. } => *here,
            PresenceEvent::Resync { .. } => false,
        }
    }
}

/// Why a presence operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PresenceError {
    /// The metadata could not be turned into JSON.
    #[error("presence metadata is not serializable: {0}")]
    Meta(#[from] serde_json::Error),
    /// The layer already has a presence; clone that one.
    #[error("this channel layer already has a Presence: clone it instead")]
    AlreadyInstalled,
}
