//! Handler arguments: how they are read from an event, and how to write
//! your own ([`FromEvent`]).
//!
//! The extractors themselves ([`Form`](crate::Form), [`Data`](crate::Data),
//! [`State`](crate::State), [`Uploads`], [`Ctx`],
//! [`Event`]) are at the crate's root.

pub(crate) mod typed;

use std::future::Future;

use liveview_protocol::Event;

use crate::ctx::Ctx;
pub use crate::error::Rejection;
use crate::upload::UploadedFile;
use crate::upload::file::Uploads;

/// A type a handler can take as an argument, read from the event and its
/// connection.
///
/// Extraction is async, as in axum's `FromRequestParts`: an extractor may
/// look things up (the current user, in a session store) before the handler
/// runs. Arguments are extracted in order; the first [`Rejection`] stops the
/// event with an error frame, and the handler does not run.
///
/// ```
/// use liveview::extract::{EventParts, FromEvent, Rejection};
/// use liveview::{Ctx, Patch, State};
///
/// /// A session store that answers asynchronously (a database, Redis, ...).
/// #[derive(Clone)]
/// struct Sessions;
///
/// impl Sessions {
///     async fn user(&self, token: &str) -> Option<String> {
///         (token == "s3cret").then(|| "ada".to_owned())
///     }
/// }
///
/// /// The signed-in user, from the `session` cookie of the page's socket.
/// struct User(String);
///
/// impl FromEvent for User {
///     async fn from_event(ctx: &Ctx, _parts: &mut EventParts) -> Result<Self, Rejection> {
///         let sessions = ctx
///             .app_state::<Sessions>()
///             .ok_or_else(|| Rejection::server("no session store"))?;
///         let token = ctx.cookie("session").unwrap_or_default();
///         match sessions.user(token).await {
///             Some(name) => Ok(User(name)),
///             None => Err(Rejection::invalid_data("please sign in")),
///         }
///     }
/// }
///
/// async fn whoami(User(name): User) -> Patch {
///     Patch::html("#me", name)
/// }
///
/// let lv = liveview::LiveView::builder()
///     .state(Sessions)
///     .handler("whoami", whoami)
///     .build()?;
/// # Ok::<(), liveview::BuildError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a liveview handler argument",
    note = "handler arguments are Ctx, Form<T>, Data<T>, State<T>, Event, Uploads, or your own type implementing FromEvent"
)]
pub trait FromEvent: Sized + Send {
    /// Reads the argument.
    ///
    /// # Errors
    /// A [`Rejection`], reported to the client as an error frame.
    fn from_event(
        ctx: &Ctx,
        parts: &mut EventParts,
    ) -> impl Future<Output = Result<Self, Rejection>> + Send;
}

/// The event a handler runs for, with the files it carries: what extractors
/// read.
#[derive(Debug)]
pub struct EventParts {
    event: Event,
    uploads: Option<Vec<UploadedFile>>,
}

impl EventParts {
    pub(crate) fn new(event: Event, uploads: Vec<UploadedFile>) -> Self {
        EventParts {
            event,
            uploads: Some(uploads),
        }
    }

    /// The event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// Takes the files the event carries; `None` once taken.
    pub fn take_uploads(&mut self) -> Option<Vec<UploadedFile>> {
        self.uploads.take()
    }
}

impl FromEvent for Ctx {
    async fn from_event(ctx: &Ctx, _parts: &mut EventParts) -> Result<Self, Rejection> {
        Ok(ctx.clone())
    }
}

impl FromEvent for Event {
    async fn from_event(_ctx: &Ctx, parts: &mut EventParts) -> Result<Self, Rejection> {
        Ok(parts.event.clone())
    }
}

/// The files of the event move into this argument; a handler can take them
/// once (a second `Uploads` argument is a server error, not an empty list).
impl FromEvent for Uploads {
    async fn from_event(_ctx: &Ctx, parts: &mut EventParts) -> Result<Self, Rejection> {
        parts.take_uploads().map(Uploads::new).ok_or_else(|| {
            Rejection::server(
                "a handler can take `Uploads` only once: its files were already taken",
            )
        })
    }
}
