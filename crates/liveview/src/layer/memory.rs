//! The embedded, single-node channel layer.

use super::{ChannelLayer, ConnId, Frame, LocalHub, Mailbox};
use crate::error::SendError;

/// The default channel layer: every connection lives in this process.
///
/// Like Django Channels' `InMemoryChannelLayer`, it needs no service, and
/// messages reach only the clients of this process. Use a Redis layer to
/// run several nodes.
#[derive(Debug, Default)]
pub struct InMemoryLayer {
    hub: LocalHub,
}

impl InMemoryLayer {
    /// A layer with no connections.
    pub fn new() -> Self {
        InMemoryLayer::default()
    }
}

#[async_trait::async_trait]
impl ChannelLayer for InMemoryLayer {
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
