//! A handle to push patches from anywhere.

use std::fmt;
use std::sync::Arc;

use liveview_protocol::{BROADCAST_GROUP, Patch, ServerFrame};

use crate::layer::SendError;
use crate::layer::{ChannelLayer, ConnId, Control, Frame, MAX_REDIRECT_BYTES};

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
    /// `Limits::max_outgoing_frame_bytes`.
    max_frame: usize,
}

impl Channels {
    pub(crate) fn new(layer: Arc<dyn ChannelLayer>, max_frame: usize) -> Self {
        Channels { layer, max_frame }
    }

    /// Sends a patch to every connection.
    ///
    /// # Errors
    /// When the channel layer's backend fails, or the patch is larger than
    /// `Limits::max_outgoing_frame_bytes` ([`SendError::TooLarge`]: sent to
    /// nobody).
    pub async fn broadcast(&self, patch: Patch) -> Result<(), SendError> {
        self.group_send(BROADCAST_GROUP, patch).await
    }

    /// Sends a patch to every member of a group.
    ///
    /// # Errors
    /// When the channel layer's backend fails, or the patch is too large
    /// ([`SendError::TooLarge`]).
    pub async fn group_send(&self, group: &str, patch: Patch) -> Result<(), SendError> {
        let frame = push_frame(&patch, self.max_frame)?;
        self.layer.group_send(group, frame).await
    }

    /// Sends a patch to every connection of a room (the room id of their
    /// URL `/ws/liveview/{room}/`), on every node: the group
    /// [`room_group(room)`](crate::room_group).
    ///
    /// ```no_run
    /// # async fn run(lv: liveview::LiveView, room: &str) -> Result<(), liveview::layer::SendError> {
    /// lv.channels()
    ///     .send_room(room, liveview::Patch::html("#status", "order shipped"))
    ///     .await
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`group_send`](Self::group_send).
    pub async fn send_room(&self, room: &str, patch: Patch) -> Result<(), SendError> {
        self.group_send(&crate::rooms::room_group(room), patch)
            .await
    }

    /// Sends a patch to one connection.
    ///
    /// # Errors
    /// [`SendError::Closed`] when that connection is gone,
    /// [`SendError::TooLarge`] when the patch is too large.
    pub async fn send_to(&self, conn: ConnId, patch: Patch) -> Result<(), SendError> {
        let frame = push_frame(&patch, self.max_frame)?;
        self.layer.send(conn, frame).await
    }

    /// Sends a named event with a JSON payload to the page's JavaScript on
    /// every member of a group: its hooks' `handle(name, …)` callbacks and
    /// a `liveview:{name}` DOM event (see `docs/client.md`). Encoded once.
    ///
    /// ```no_run
    /// # async fn run(lv: liveview::LiveView) -> Result<(), liveview::layer::SendError> {
    /// let point = serde_json::json!({"t": 12, "cpu": 0.4});
    /// lv.channels().push_event("stats", "chart:point", &point).await
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`group_send`](Self::group_send).
    pub async fn push_event(
        &self,
        group: &str,
        name: &str,
        payload: &serde_json::Value,
    ) -> Result<(), SendError> {
        let frame = event_frame(name, payload, self.max_frame)?;
        self.layer.group_send(group, frame).await
    }

    /// The number of connections open on this node.
    pub fn local_connections(&self) -> usize {
        self.layer.local_connections()
    }

    /// Closes every connection tagged `tag` ([`Ctx::tag`](crate::Ctx::tag)),
    /// on every node, with close code 4001 ("session ended"): the browser
    /// client does not reconnect but goes to `redirect` (a path such as
    /// `"/login"`), or reloads the page when `redirect` is empty. Call it
    /// on logout and on a password change.
    ///
    /// ```no_run
    /// # async fn logout(channels: liveview::Channels) -> Result<(), liveview::layer::SendError> {
    /// channels.disconnect_tag("user:42", "/login").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`SendError::BadRedirect`] for a redirect that is not empty or a
    /// path of at most 123 bytes; a backend error from the channel layer.
    pub async fn disconnect_tag(&self, tag: &str, redirect: &str) -> Result<(), SendError> {
        let control = disconnect(redirect)?;
        self.layer.group_control(&tag_group(tag), control).await
    }
}

/// The group of a tag: a name no page joins by accident.
pub(crate) fn tag_group(tag: &str) -> String {
    format!("{TAG_GROUP_PREFIX}{tag}")
}

/// Tags are groups whose name starts with this (a control character, so
/// that `ctx.join` of an ordinary name never meets one).
const TAG_GROUP_PREFIX: &str = "\u{1}tag:";

/// A disconnect to `redirect`, checked: a close reason is at most 123
/// bytes, and the client only follows paths on its own site.
fn disconnect(redirect: &str) -> Result<Control, SendError> {
    let path = redirect.starts_with('/') && !redirect.starts_with("//");
    if (redirect.is_empty() || path) && redirect.len() <= MAX_REDIRECT_BYTES {
        Ok(Control::Disconnect {
            redirect: redirect.into(),
        })
    } else {
        Err(SendError::BadRedirect {
            redirect: redirect.to_owned(),
        })
    }
}

/// Encodes a pushed patch, once however many receive it, and refuses it
/// when it is over `limit` (`Limits::max_outgoing_frame_bytes`): measured
/// here, once per push, rather than by each recipient. A frame that large
/// would not be written, and would cost every recipient's write buffer.
pub(crate) fn push_frame(patch: &Patch, limit: usize) -> Result<Frame, SendError> {
    let frame = Frame::patch(patch);
    within(frame, limit, patch.target.as_deref())
}

/// Encodes an event for the page's JavaScript, as [`push_frame`] a patch.
pub(crate) fn event_frame(
    name: &str,
    payload: &serde_json::Value,
    limit: usize,
) -> Result<Frame, SendError> {
    within(
        Frame::from(ServerFrame::Event { name, payload }),
        limit,
        Some(name),
    )
}

fn within(frame: Frame, limit: usize, target: Option<&str>) -> Result<Frame, SendError> {
    let size = frame.as_str().len();
    if size > limit {
        tracing::error!(
            size,
            limit,
            target,
            "liveview: pushed frame over max_outgoing_frame_bytes, dropped"
        );
        return Err(SendError::TooLarge { size, limit });
    }
    Ok(frame)
}

impl fmt::Debug for Channels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channels")
            .field("local_connections", &self.layer.local_connections())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_are_empty_or_paths_that_fit_a_close_reason() {
        assert!(disconnect("").is_ok());
        assert!(disconnect("/login?next=%2Fcart").is_ok());
        for bad in ["https://evil.example/", "//evil.example/", "login"] {
            assert!(
                matches!(disconnect(bad), Err(SendError::BadRedirect { .. })),
                "{bad}"
            );
        }
        assert!(disconnect(&format!("/{}", "a".repeat(MAX_REDIRECT_BYTES))).is_err());
    }
}
