//! Typed extraction of handler arguments from an event.

use std::any::type_name;
use std::future::Future;

use liveview_protocol::Event;
use serde::de::DeserializeOwned;

use crate::ctx::Ctx;
use crate::de::from_map;
pub use crate::error::Rejection;
use crate::upload::{UploadedFile, Uploads};

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

/// The fields of the form the event came from (`"form"`), as a `T`.
///
/// Values arrive as strings and are parsed into the field's type: numbers,
/// booleans (`"on"`, `"true"`, `"1"` for a checked box), `Vec` for fields
/// that occur several times, `Option` (`None` for an empty field).
///
/// ```
/// use liveview::{Form, Patch};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Signup { email: String, age: u8, #[serde(default)] newsletter: bool }
///
/// async fn signup(Form(form): Form<Signup>) -> Patch {
///     Patch::html("#result", format!("{} ({}), newsletter: {}", form.email, form.age, form.newsletter))
/// }
/// # let _ = liveview::LiveView::builder().handler("signup", signup);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form<T>(pub T);

impl<T: DeserializeOwned + Send> FromEvent for Form<T> {
    async fn from_event(_ctx: &Ctx, parts: &mut EventParts) -> Result<Self, Rejection> {
        from_map(&parts.event.form)
            .map(Form)
            .map_err(|err| Rejection::invalid_data(format!("form: {err}")))
    }
}

/// The `data-*` attributes of the element the event came from (`"data"`),
/// as a `T`. Parsed as leniently as [`Form`].
///
/// ```
/// use liveview::{Data, Patch};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Item { item_id: u64 } // data-item-id="7" arrives as itemId, handed over as item_id
///
/// async fn delete(Data(item): Data<Item>) -> Patch {
///     Patch::remove(format!("#item-{}", item.item_id))
/// }
/// # let _ = liveview::LiveView::builder().handler("delete", delete);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Data<T>(pub T);

impl<T: DeserializeOwned + Send> FromEvent for Data<T> {
    async fn from_event(_ctx: &Ctx, parts: &mut EventParts) -> Result<Self, Rejection> {
        from_map(&parts.event.data)
            .map(Data)
            .map_err(|err| Rejection::invalid_data(format!("data: {err}")))
    }
}

/// Application state given to the builder with
/// [`LiveViewBuilder::state`](crate::LiveViewBuilder::state): a database
/// pool, a configuration. Cloned for each event, so keep it cheap to clone
/// (an `Arc`, a pool handle).
///
/// ```
/// use std::sync::Arc;
/// use liveview::{Patch, State};
///
/// #[derive(Clone)]
/// struct Config { greeting: Arc<str> }
///
/// async fn hello(State(config): State<Config>) -> Patch {
///     Patch::html("#hello", &*config.greeting)
/// }
/// let lv = liveview::LiveView::builder()
///     .state(Config { greeting: "Hi".into() })
///     .handler("hello", hello)
///     .build()?;
/// # Ok::<(), liveview::BuildError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State<S>(pub S);

impl<S: Clone + Send + Sync + 'static> FromEvent for State<S> {
    async fn from_event(ctx: &Ctx, _parts: &mut EventParts) -> Result<Self, Rejection> {
        ctx.app_state::<S>().map(State).ok_or_else(|| {
            Rejection::server(format!(
                "no application state of type `{}`: add it with LiveView::builder().state(..)",
                type_name::<S>()
            ))
        })
    }
}
