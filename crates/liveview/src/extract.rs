//! Typed extraction of handler arguments from an event.

use std::any::{Any, TypeId, type_name};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use liveview_protocol::{ErrorCode, Event};
use serde::de::DeserializeOwned;

use crate::ctx::Ctx;
use crate::de::from_map;

/// A type a handler can take as an argument, read from the event and its
/// connection.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a liveview handler argument",
    note = "handler arguments are Ctx, Form<T>, Data<T>, State<T>, Event, or your own type implementing FromEvent"
)]
pub trait FromEvent: Sized {
    /// Reads the argument.
    ///
    /// # Errors
    /// A [`Rejection`], reported to the client as an error frame.
    fn from_event(ctx: &Ctx, event: &Event) -> Result<Self, Rejection>;
}

/// Why an argument could not be extracted.
#[derive(Debug, Clone)]
pub struct Rejection {
    code: ErrorCode,
    message: String,
}

impl Rejection {
    /// The client sent data that does not fit (`invalid_data`).
    pub fn invalid_data(message: impl Into<String>) -> Self {
        Rejection {
            code: ErrorCode::InvalidData,
            message: message.into(),
        }
    }

    /// The server is misconfigured (reported as `handler_error`).
    pub fn server(message: impl Into<String>) -> Self {
        Rejection {
            code: ErrorCode::HandlerError,
            message: message.into(),
        }
    }

    /// The error code of the frame that reports it.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rejection {}

impl FromEvent for Ctx {
    fn from_event(ctx: &Ctx, _event: &Event) -> Result<Self, Rejection> {
        Ok(ctx.clone())
    }
}

impl FromEvent for Event {
    fn from_event(_ctx: &Ctx, event: &Event) -> Result<Self, Rejection> {
        Ok(event.clone())
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

impl<T: DeserializeOwned> FromEvent for Form<T> {
    fn from_event(_ctx: &Ctx, event: &Event) -> Result<Self, Rejection> {
        from_map(&event.form)
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

impl<T: DeserializeOwned> FromEvent for Data<T> {
    fn from_event(_ctx: &Ctx, event: &Event) -> Result<Self, Rejection> {
        from_map(&event.data)
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
    fn from_event(ctx: &Ctx, _event: &Event) -> Result<Self, Rejection> {
        ctx.app_state::<S>().map(State).ok_or_else(|| {
            Rejection::server(format!(
                "no application state of type `{}`: add it with LiveView::builder().state(..)",
                type_name::<S>()
            ))
        })
    }
}

/// Application states by type.
#[derive(Clone, Default)]
pub(crate) struct StateMap(HashMap<TypeId, Arc<dyn Any + Send + Sync>>);

impl StateMap {
    pub(crate) fn insert<S: Clone + Send + Sync + 'static>(&mut self, state: S) {
        self.0.insert(TypeId::of::<S>(), Arc::new(state));
    }

    pub(crate) fn get<S: Clone + 'static>(&self) -> Option<S> {
        self.0.get(&TypeId::of::<S>())?.downcast_ref::<S>().cloned()
    }
}

impl fmt::Debug for StateMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateMap({} entries)", self.0.len())
    }
}
