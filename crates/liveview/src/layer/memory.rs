//! The embedded, single-node channel layer.

use super::{ChannelLayer, ConnId, Frame, LocalHub, Mailbox, NodeId, SendError};

/// The default channel layer: every connection lives in this process.
///
/// Like Django Channels' `InMemoryChannelLayer`, it needs no service, and
/// messages reach only the clients of this process. Use a distributed
/// layer (`liveview_redis::RedisLayer`) to run several nodes.
///
/// It is a cluster of one node: a direct send to a connection that is not
/// attached here is [`SendError::Closed`], whatever node its id names.
#[derive(Debug)]
pub struct InMemoryLayer {
    node: NodeId,
    hub: LocalHub,
}

impl InMemoryLayer {
    /// A layer with no connections, on a random node id.
    pub fn new() -> Self {
        InMemoryLayer {
            node: NodeId::random(),
            hub: LocalHub::new(),
        }
    }
}

impl Default for InMemoryLayer {
    fn default() -> Self {
        InMemoryLayer::new()
    }
}

#[async_trait::async_trait]
impl ChannelLayer for InMemoryLayer {
    fn node(&self) -> NodeId {
        self.node
    }

    fn attach(&self, conn: ConnId, mailbox: Mailbox) {
        self.hub.attach(conn, mailbox);
    }

    async fn detach(&self, conn: ConnId) {
        self.hub.detach(conn);
    }

    async fn group_add(&self, group: &str, conn: ConnId) -> Result<(), SendError> {
        self.hub.group_add(group, conn);
        Ok(())
    }

    async fn group_discard(&self, group: &str, conn: ConnId) -> Result<(), SendError> {
        self.hub.group_discard(group, conn);
        Ok(())
    }

    async fn group_send(&self, group: &str, frame: Frame) -> Result<(), SendError> {
        self.hub.deliver_group(group, &frame);
        Ok(())
    }

    async fn send(&self, conn: ConnId, frame: Frame) -> Result<(), SendError> {
        if self.hub.deliver(conn, frame) {
            Ok(())
        } else {
            Err(SendError::Closed)
        }
    }

    fn local_connections(&self) -> usize {
        self.hub.len()
    }
}
