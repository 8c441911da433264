//! A handle to push patches from anywhere.

use std::fmt;
use std::sync::Arc;

use liveview_protocol::{BROADCAST_GROUP, Patch};

use crate::layer::SendError;
use crate::layer::{ChannelLayer, ConnId, Frame};

/// Sends patches to one connection, a group, or everyone, from any task:
/// a background job, a timer, an HTTP handler.
///
/// Cheap to clone. Get one from [`LiveView::channels`](crate::LiveView::channels)
/// or [`Ctx::channels`](crate::Ctx::channels). Each patch is encoded once,
/// however many connections receive it.
///
/// ```no_run
/// use std::time::Duration;
/// use liveview::{LiveView, Patch};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let lv = LiveView::builder().build()?;
/// let channels = lv.channels();
/// tokio::spawn(async move {
///     let mut tick = tokio::time::interval(Duration::from_secs(2));
///     loop {
///         tick.tick().await;
///         let html = format!("<p>Active users: {}</p>", channels.local_connections());
///         let _ = channels.broadcast(Patch::html("#stats", html)).await;
///     }
/// });
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Channels {
    layer: Arc<dyn ChannelLayer>,
}

impl Channels {
    pub(crate) fn new(layer: Arc<dyn ChannelLayer>) -> Self {
        Channels { layer }
    }

    /// Sends a patch to every connection.
    ///
    /// # Errors
    /// When the channel layer's backend fails.
    pub async fn broadcast(&self, patch: Patch) -> Result<(), SendError> {
        self.group_send(BROADCAST_GROUP, patch).await
    }

    /// Sends a patch to every member of a group.
    ///
    /// # Errors
    /// When the channel layer's backend fails.
    pub async fn group_send(&self, group: &str, patch: Patch) -> Result<(), SendError> {
        self.layer.group_send(group, Frame::patch(&patch)).await
    }

    /// Sends a patch to one connection.
    ///
    /// # Errors
    /// [`SendError::Closed`] when that connection is gone.
    pub async fn send_to(&self, conn: ConnId, patch: Patch) -> Result<(), SendError> {
        self.layer.send(conn, Frame::patch(&patch)).await
    }

    /// The number of connections open on this node.
    pub fn local_connections(&self) -> usize {
        self.layer.local_connections()
    }
}

impl fmt::Debug for Channels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channels")
            .field("local_connections", &self.layer.local_connections())
            .finish()
    }
}
