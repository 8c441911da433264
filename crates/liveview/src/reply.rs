//! What a handler returns.

use liveview_protocol::Patch;

use crate::error::Error;

/// The patches a handler answers an event with: none, one, or several.
///
/// Several patches travel in one frame to clients that speak protocol
/// version 1, and as one frame each to Django LiveView clients.
///
/// ```
/// use liveview::{Patch, Reply};
///
/// let reply = Reply::none()
///     .and(Patch::append("#messages", "<p>hi</p>"))
///     .and(Patch::html("#count", "3"));
/// assert_eq!(reply.patches().len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    patches: Vec<Patch>,
}

impl Reply {
    /// No patch: the client is only told that the event was handled.
    pub fn none() -> Self {
        Reply::default()
    }

    /// These patches, applied in order.
    pub fn patches_from(patches: impl IntoIterator<Item = Patch>) -> Self {
        Reply {
            patches: patches.into_iter().collect(),
        }
    }

    /// Adds a patch.
    #[must_use]
    pub fn and(mut self, patch: Patch) -> Self {
        self.patches.push(patch);
        self
    }

    /// The patches.
    pub fn patches(&self) -> &[Patch] {
        &self.patches
    }

    pub(crate) fn into_patches(self) -> Vec<Patch> {
        self.patches
    }
}

/// What a handler may return: turned into a [`Reply`] or an [`Error`].
#[diagnostic::on_unimplemented(
    message = "a liveview handler cannot return `{Self}`",
    note = "return a Patch, a Vec<Patch>, a Reply, (), Option<Patch>, or a Result of one of those"
)]
pub trait IntoReply {
    /// Converts the handler's output.
    ///
    /// # Errors
    /// When the handler returned an error.
    fn into_reply(self) -> Result<Reply, Error>;
}

impl IntoReply for Reply {
    fn into_reply(self) -> Result<Reply, Error> {
        Ok(self)
    }
}

impl IntoReply for () {
    fn into_reply(self) -> Result<Reply, Error> {
        Ok(Reply::none())
    }
}

impl IntoReply for Patch {
    fn into_reply(self) -> Result<Reply, Error> {
        Ok(Reply {
            patches: vec![self],
        })
    }
}

impl IntoReply for Option<Patch> {
    fn into_reply(self) -> Result<Reply, Error> {
        Ok(Reply {
            patches: self.into_iter().collect(),
        })
    }
}

impl IntoReply for Vec<Patch> {
    fn into_reply(self) -> Result<Reply, Error> {
        Ok(Reply { patches: self })
    }
}

impl<const N: usize> IntoReply for [Patch; N] {
    fn into_reply(self) -> Result<Reply, Error> {
        Ok(Reply::patches_from(self))
    }
}

impl<T, E> IntoReply for Result<T, E>
where
    T: IntoReply,
    E: Into<Error>,
{
    fn into_reply(self) -> Result<Reply, Error> {
        self.map_err(Into::into).and_then(IntoReply::into_reply)
    }
}
