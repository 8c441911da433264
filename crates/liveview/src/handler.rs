//! Handlers: async functions called by name with typed arguments.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use liveview_protocol::Event;

use crate::ctx::Ctx;
use crate::error::{Error, Rejection};
use crate::extract::{EventParts, FromEvent};
use crate::reply::{IntoReply, Reply};
use crate::upload::UploadedFile;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Why a handler did not produce a reply (an implementation detail of [`Handler`]).
#[doc(hidden)]
#[derive(Debug)]
pub enum Failure {
    /// An extractor could not read the event.
    Rejected(Rejection),
    /// The handler returned an error.
    Handler(Error),
    /// A `before_event` hook refused the event.
    Refused(Error),
}

pub(crate) type Outcome = Result<Reply, Failure>;

/// An async function that can handle events.
///
/// It is implemented for every `async fn` (and closure returning a future)
/// whose arguments all implement [`FromEvent`] (up to eight of them: the
/// [`Ctx`], [`Form`](crate::Form), [`Data`](crate::Data),
/// [`State`](crate::State), the raw [`Event`], …) and whose output
/// implements [`IntoReply`] (a [`Patch`](crate::Patch), several, `()`,
/// or a `Result` of those).
///
/// ```
/// use liveview::{Ctx, Form, Patch, Result};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Query { query: String }
///
/// async fn search(ctx: Ctx, Form(q): Form<Query>) -> Result<Patch> {
///     let _ = ctx.room();
///     Ok(Patch::html("#results", format!("{} results", q.query.len())))
/// }
///
/// let lv = liveview::LiveView::builder().handler("search", search).build()?;
/// # Ok::<(), liveview::BuildError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a liveview handler",
    label = "not a handler",
    note = "a handler is an `async fn` whose arguments all implement `FromEvent` (Ctx, Form<T>, Data<T>, State<T>, Event, Uploads) and whose output implements `IntoReply` (Patch, Vec<Patch>, Reply, (), or a Result of those)"
)]
pub trait Handler<Args>: Clone + Send + Sync + Sized + 'static {
    #[doc(hidden)]
    fn call(&self, ctx: Ctx, event: Event, uploads: Vec<UploadedFile>) -> BoxFuture<Outcome>;
}

macro_rules! impl_handler {
    ($($arg:ident),*) => {
        impl<F, Fut, R, $($arg,)*> Handler<($($arg,)*)> for F
        where
            F: Fn($($arg),*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoReply,
            $($arg: FromEvent + Send + 'static,)*
        {
            #[allow(non_snake_case, unused_variables)]
            fn call(&self, ctx: Ctx, event: Event, uploads: Vec<UploadedFile>) -> BoxFuture<Outcome> {
                let handler = self.clone();
                Box::pin(async move {
                    #[allow(unused_mut)] // no argument, no extraction
                    let mut parts = EventParts::new(event, uploads);
                    $(let $arg = $arg::from_event(&ctx, &mut parts).await.map_err(Failure::Rejected)?;)*
                    // Files no argument took are deleted before the handler runs.
                    drop(parts);
                    handler($($arg),*).await.into_reply().map_err(Failure::Handler)
                })
            }
        }
    };
}

impl_handler!();
impl_handler!(T1);
impl_handler!(T1, T2);
impl_handler!(T1, T2, T3);
impl_handler!(T1, T2, T3, T4);
impl_handler!(T1, T2, T3, T4, T5);
impl_handler!(T1, T2, T3, T4, T5, T6);
impl_handler!(T1, T2, T3, T4, T5, T6, T7);
impl_handler!(T1, T2, T3, T4, T5, T6, T7, T8);

trait ErasedHandler: Send + Sync {
    fn call(&self, ctx: Ctx, event: Event, uploads: Vec<UploadedFile>) -> BoxFuture<Outcome>;
}

struct Erased<H, Args> {
    handler: H,
    _args: PhantomData<fn() -> Args>,
}

impl<H, Args> ErasedHandler for Erased<H, Args>
where
    H: Handler<Args>,
    Args: 'static,
{
    fn call(&self, ctx: Ctx, event: Event, uploads: Vec<UploadedFile>) -> BoxFuture<Outcome> {
        self.handler.call(ctx, event, uploads)
    }
}

/// A handler with its argument types erased, ready to be stored by name
/// (an implementation detail of the `#[handler]` macro).
#[doc(hidden)]
#[derive(Clone)]
pub struct BoxedHandler(Arc<dyn ErasedHandler>);

impl BoxedHandler {
    /// Erases a handler.
    pub(crate) fn new<H: Handler<Args>, Args: 'static>(handler: H) -> Self {
        BoxedHandler(Arc::new(Erased {
            handler,
            _args: PhantomData,
        }))
    }

    pub(crate) fn call(
        &self,
        ctx: Ctx,
        event: Event,
        uploads: Vec<UploadedFile>,
    ) -> BoxFuture<Outcome> {
        self.0.call(ctx, event, uploads)
    }
}

impl std::fmt::Debug for BoxedHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoxedHandler")
    }
}

/// A handler registered with `#[liveview::handler]`, collected at start-up.
#[doc(hidden)]
#[derive(Debug)]
pub struct Registration {
    pub(crate) name: &'static str,
    pub(crate) make: fn() -> BoxedHandler,
}

impl Registration {
    #[doc(hidden)]
    pub const fn new(name: &'static str, make: fn() -> BoxedHandler) -> Self {
        Registration { name, make }
    }
}

inventory::collect!(Registration);

/// Used by the `#[handler]` macro.
#[doc(hidden)]
pub fn erase<H: Handler<Args>, Args: 'static>(handler: H) -> BoxedHandler {
    BoxedHandler::new(handler)
}
