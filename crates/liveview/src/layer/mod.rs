//! The channel layer: how a message reaches one connection, a group, or
//! everyone, whichever node of a cluster they are connected to.
//!
//! A [`ChannelLayer`] moves pre-encoded [`Frame`]s. Each node keeps its own
//! connections in a [`LocalHub`] (connection id → [`Mailbox`], group →
//! members); a layer decides how a message travels to the hubs of other
//! nodes. [`InMemoryLayer`], the default, has one node and no travel at all;
//! a distributed layer (the `liveview-redis` crate's `RedisLayer`) carries
//! messages between nodes and hands them to the same local hub, so handler
//! code never changes.
//!
//! A frame is encoded once and shared by reference count among all its
//! recipients: a broadcast to 10,000 clients serializes its JSON once.
//!
//! # Writing a channel layer
//!
//! This module is the whole service-provider interface: a layer for another
//! transport (NATS, Postgres `LISTEN`/`NOTIFY`, …) lives in its own crate and
//! needs nothing else from liveview.
//!
//! - Each layer *instance* is one node and owns a [`NodeId`]
//!   ([`NodeId::random`] when it starts), returned by
//!   [`ChannelLayer::node`]. The server mints the [`ConnId`]s of the
//!   connections it attaches to the layer with that node
//!   ([`ConnId::next`]), so [`ConnId::node`] tells a layer which node's
//!   channel a direct send must travel to.
//! - Keep the node's connections in a [`LocalHub`]: it fans a frame out to
//!   local [`Mailbox`]es and reports when a group appears or vanishes on the
//!   node (when to subscribe or unsubscribe).
//! - Carry [`Frame::as_str`] between nodes and rebuild it on arrival with
//!   [`Frame::from_json_text`].
//! - Control messages ([`Control`], [`ChannelLayer::group_control`]) need
//!   nothing of their own: the default sends them as a group message, and
//!   [`LocalHub::deliver_group`] hands them to the sockets on arrival.
//! - A layer that keeps a log of each group's messages can let page
//!   sessions move between nodes without missing a push: number each
//!   node's group messages, hand its hub [`Frame::marked`] frames, and
//!   answer [`ChannelLayer::group_missed`] from the log (see [`Mark`]).
//! - Fail with [`SendError`]: `Closed` for a connection of this node that is
//!   gone, `Backend` when the transport refused a message.
//! - Check it with the conformance suite (`layer::conformance`, cargo
//!   feature `conformance`), run against a few nodes of the layer.

#[cfg(feature = "conformance")]
pub mod conformance;
mod hub;
mod mailbox;
mod mark;
mod memory;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::ws::Utf8Bytes;
use liveview_protocol::{Patch, ServerFrame};

pub use hub::LocalHub;
pub use mailbox::Mailbox;
pub(crate) use mailbox::MailboxReceiver;
pub(crate) use mark::split as split_mark;
pub use mark::{GroupCursor, Mark};
pub use memory::InMemoryLayer;

/// A message could not be handed to the channel layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The connection is closed (or its outgoing queue overflowed).
    #[error("the connection is closed")]
    Closed,
    /// The channel layer's backend (for example Redis) failed.
    #[error("channel layer backend failed: {0}")]
    Backend(String),
    /// A redirect for [`Control::Disconnect`] that is neither empty nor a
    /// path on this site (`/…`, not `//…`), or longer than
    /// [`MAX_REDIRECT_BYTES`].
    #[error("bad redirect {redirect:?}: empty, or a path of at most 123 bytes")]
    BadRedirect {
        /// The redirect given.
        redirect: String,
    },
    /// The frame is larger than `Limits::max_outgoing_frame_bytes`; it was
    /// dropped and sent to nobody.
    #[error("frame of {size} bytes over the limit of {limit} bytes: dropped")]
    TooLarge {
        /// The frame's size, bytes of JSON text.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

/// The id of one node of a cluster: one channel layer instance.
///
/// A 64-bit number, printed (and serialized) as 16 lowercase hex digits.
/// Each layer instance picks its own, usually with [`NodeId::random`]; the
/// node part of every [`ConnId`] it attaches is this id, and presence
/// entries name their node with it.
///
/// ```
/// use liveview::layer::NodeId;
///
/// let node = NodeId::new(255);
/// assert_eq!(node.to_string(), "00000000000000ff");
/// assert_eq!(NodeId::parse("00000000000000ff"), Some(node));
/// assert_ne!(NodeId::random(), NodeId::random());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u64);

impl NodeId {
    /// A node id from its number.
    pub const fn new(id: u64) -> Self {
        NodeId(id)
    }

    /// A random node id (from a v4 UUID): what a layer instance takes when
    /// it starts.
    pub fn random() -> Self {
        NodeId(uuid::Uuid::new_v4().as_u64_pair().0)
    }

    /// The id as a number.
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// Parses the 16-hex-digit form that `Display` prints.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 16 {
            return None;
        }
        u64::from_str_radix(text, 16).ok().map(NodeId)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

impl std::str::FromStr for NodeId {
    type Err = ParseNodeIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        NodeId::parse(text).ok_or(ParseNodeIdError)
    }
}

/// A string that is not 16 hex digits, given as a [`NodeId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a node id is 16 hex digits")]
pub struct ParseNodeIdError;

impl serde::Serialize for NodeId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        NodeId::parse(&text).ok_or_else(|| serde::de::Error::custom(ParseNodeIdError))
    }
}

/// The id of one connection, unique across every node of a cluster.
///
/// It is made of its node's [`NodeId`] (the high 64 bits) and a sequence
/// number, and prints as 32 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(u128);

impl ConnId {
    /// The id of connection `seq` of `node`.
    pub const fn new(node: NodeId, seq: u64) -> Self {
        ConnId(((node.0 as u128) << 64) | seq as u128)
    }

    /// A fresh id on `node`: the sequence number comes from a counter of
    /// this process, so ids never repeat within it.
    pub fn next(node: NodeId) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(1);
        ConnId::new(node, COUNTER.fetch_add(1, Ordering::Relaxed))
    }

    /// The sequence number (the low 64 bits).
    pub const fn seq(self) -> u64 {
        self.0 as u64
    }

    /// The id as a number.
    pub fn as_u128(self) -> u128 {
        self.0
    }

    /// Rebuilds an id from [`ConnId::as_u128`].
    pub fn from_u128(id: u128) -> Self {
        ConnId(id)
    }

    /// The node (the channel layer instance) this connection lives on.
    pub const fn node(self) -> NodeId {
        NodeId((self.0 >> 64) as u64)
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

/// A message for connections themselves, not a frame for the browser:
/// what [`ChannelLayer::group_control`] carries.
///
/// A layer carries it as a [`Frame`] ([`Control::to_frame`]) like any
/// group message, once per node; [`LocalHub::deliver_group`] recognises it
/// on arrival ([`Control::from_frame`]) and hands it to the members'
/// socket tasks instead of their browsers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Control {
    /// Close the connection with code 4001 ("session ended"): the browser
    /// client stops reconnecting and goes to `redirect` (a path on the
    /// site), or reloads the page when it is empty.
    Disconnect {
        /// Where the browser goes; at most [`MAX_REDIRECT_BYTES`].
        redirect: Box<str>,
    },
}

/// The longest redirect a [`Control::Disconnect`] carries: the close
/// reason of a WebSocket close frame is at most 123 bytes.
pub const MAX_REDIRECT_BYTES: usize = 123;

/// Control frames begin with a NUL, which no JSON text does.
const CONTROL_MARK: char = '\0';
const DISCONNECT: &str = "\0disconnect\0";

impl Control {
    /// The frame a channel layer carries between nodes.
    pub fn to_frame(&self) -> Frame {
        match self {
            Control::Disconnect { redirect } => {
                Frame::from_json_text(format!("{DISCONNECT}{redirect}"))
            }
        }
    }

    /// The control message a frame carries, if it is one.
    pub fn from_frame(frame: &Frame) -> Option<Control> {
        let text = frame.as_str();
        if !text.starts_with(CONTROL_MARK) {
            return None;
        }
        let redirect = text.strip_prefix(DISCONNECT)?;
        (redirect.len() <= MAX_REDIRECT_BYTES).then(|| Control::Disconnect {
            redirect: redirect.into(),
        })
    }
}

/// What a connection's socket task receives.
///
/// Every queue slot is as large as this enum, and each mailbox allocates a
/// block of slots when it is made: rare signals are boxed so that a slot is
/// the size of a [`Frame`] (32 bytes, not 40: 256 bytes less per idle
/// connection).
#[derive(Debug)]
pub(crate) enum Outgoing {
    Frame(Frame),
    Signal(Box<Signal>),
}

/// What a connection's socket task is told besides frames.
#[derive(Debug)]
pub(crate) enum Signal {
    /// The queue overflowed: the client cannot keep up; close it.
    Overflow,
    /// From the channel layer: close the connection, for example.
    Control(Control),
    /// From `Ctx::expire_at`: the connection's new deadline.
    Expire(std::time::Instant),
}

/// Moves frames to connections, groups and everyone, across nodes.
///
/// Implementations must be cheap to call concurrently from many tasks and
/// must not hold a lock across an `.await`. Every connection of this node
/// is [`attach`](ChannelLayer::attach)ed when it opens and
/// [`detach`](ChannelLayer::detach)ed when it closes; a detached connection
/// leaves all its groups.
///
/// A layer instance is one node of its cluster: [`node`](ChannelLayer::node)
/// is fixed for its life and distinct from every other instance's, and the
/// connections attached to it have ids on that node.
#[async_trait::async_trait]
pub trait ChannelLayer: Send + Sync + 'static {
    /// This node's id: the node of every [`ConnId`] attached here.
    fn node(&self) -> NodeId;

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
    /// [`SendError::Closed`] when the connection is known to be gone: a
    /// connection of this node that is not attached (any more). For a
    /// connection of another node the sender usually cannot know, and the
    /// frame is dropped on arrival.
    async fn send(&self, conn: ConnId, frame: Frame) -> Result<(), SendError>;

    /// The number of connections attached on this node.
    fn local_connections(&self) -> usize;

    /// The messages of `group` a page session with this `cursor` has not
    /// received, oldest first and [marked](Frame::marked), from the
    /// layer's log of the group: what was sent while the session was
    /// between processes. The default keeps no log and returns none.
    async fn group_missed(
        &self,
        group: &str,
        cursor: &GroupCursor,
    ) -> Result<Vec<Frame>, SendError> {
        let _ = (group, cursor);
        Ok(Vec::new())
    }

    /// Waits until every message sent so far has left this node (handed to
    /// the transport), at most `timeout`; false when some had not.
    /// [`LiveView::drain`](crate::LiveView::drain) calls it last, so that a
    /// process that exits after a shutdown loses nothing it sent. The
    /// default, for a layer that sends at once, returns true.
    async fn flush(&self, timeout: std::time::Duration) -> bool {
        let _ = timeout;
        true
    }

    /// Sends a control message to every member of a group, on every node:
    /// the sockets act on it (a [`Control::Disconnect`] closes them), their
    /// browsers never see it. Rare (a logout, a password change), so it
    /// may travel like a group message.
    ///
    /// The default sends [`Control::to_frame`] with
    /// [`group_send`](ChannelLayer::group_send); a layer that hands
    /// arriving group messages to [`LocalHub::deliver_group`] needs nothing
    /// more. Override it only for a transport with a separate control
    /// channel.
    async fn group_control(&self, group: &str, control: Control) -> Result<(), SendError> {
        self.group_send(group, control.to_frame()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_travel_as_frames_no_json_can_be() {
        let kick = Control::Disconnect {
            redirect: "/login?next=%2F".into(),
        };
        let frame = kick.to_frame();
        assert_eq!(Control::from_frame(&frame), Some(kick));
        assert_eq!(
            Control::from_frame(&Frame::from_json_text(r#"{"type":"patch"}"#)),
            None
        );
        assert_eq!(Control::from_frame(&Frame::from_json_text("\0other")), None);
        let long = format!("{DISCONNECT}{}", "a".repeat(MAX_REDIRECT_BYTES + 1));
        assert_eq!(Control::from_frame(&Frame::from_json_text(long)), None);
    }

    #[test]
    fn node_ids_print_parse_and_serialize_as_16_hex_digits() {
        let node = NodeId::new(0xab);
        assert_eq!(node.to_string(), "00000000000000ab");
        assert_eq!(NodeId::parse("00000000000000ab"), Some(node));
        assert_eq!("00000000000000ab".parse::<NodeId>(), Ok(node));
        assert_eq!(NodeId::parse("ab"), None);
        assert_eq!(NodeId::parse("zz000000000000ab"), None);
        assert_eq!(
            serde_json::to_string(&node).unwrap(),
            "\"00000000000000ab\""
        );
        let back: NodeId = serde_json::from_str("\"00000000000000ab\"").unwrap();
        assert_eq!(back, node);
        assert!(serde_json::from_str::<NodeId>("\"nope\"").is_err());
    }

    #[test]
    fn connection_ids_carry_their_node() {
        let node = NodeId::new(7);
        let id = ConnId::new(node, 42);
        assert_eq!(id.node(), node);
        assert_eq!(id.seq(), 42);
        assert_eq!(id.to_string(), "0000000000000007000000000000002a");
        assert_eq!(ConnId::parse(&id.to_string()), Some(id));
        let (a, b) = (ConnId::next(node), ConnId::next(node));
        assert_ne!(a, b);
        assert_eq!(a.node(), node);
    }
}

#[cfg(test)]
mod slot_size {
    /// A queue slot stays the size of a frame (see [`super::Outgoing`]).
    #[test]
    fn outgoing_is_frame_sized() {
        assert_eq!(
            std::mem::size_of::<super::Outgoing>(),
            std::mem::size_of::<super::Frame>()
        );
    }
}
