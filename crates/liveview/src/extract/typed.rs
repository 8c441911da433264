//! The extractors that read the event's form and data fields, and the
//! application state.

use std::any::type_name;

use serde::de::DeserializeOwned;

use super::{EventParts, FromEvent, Rejection};
use crate::ctx::Ctx;
use crate::de::from_map;

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
