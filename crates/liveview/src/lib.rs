//! Real-time, server-rendered web interfaces over WebSockets, for axum.
//!
//! The browser keeps one WebSocket open. An element marked
//! `data-liveview-function="search"` sends an event; the handler registered
//! under that name renders an HTML fragment and answers with a [`Patch`]
//! (`{"target": "#results", "html": "…"}`); the client morphs it into the
//! page. The server can also push patches to one connection, a group, or
//! everyone. The wire format is Django LiveView 2.x's, so its pages and its
//! client work against this server (see `docs/protocol.md`).
//!
//! Three types do most of the work:
//!
//! - [`LiveView`]: built once with [`LiveView::builder`]; its
//!   [`router`](LiveView::router) serves the WebSocket and the browser
//!   client.
//! - Handlers: `async fn`s registered by name, with
//!   [`#[liveview::handler("name")]`](handler) or
//!   [`LiveViewBuilder::handler`]. Their arguments are extracted from the
//!   event ([`Ctx`], [`Form`], [`Data`], [`State`], [`Uploads`], the raw
//!   [`Event`], or your own [`extract::FromEvent`]); they return a
//!   [`Patch`], several ([`Reply`]), `()`, or a [`Result`] of those.
//! - [`Ctx`]: the connection an event came from: reply later, broadcast,
//!   join groups, per-connection state, the upgrade request's headers and
//!   cookies, templates.
//!
//! ```
//! use liveview::{Ctx, Form, LiveView, Patch, Result};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Query { query: String }
//!
//! #[liveview::handler("search")]
//! async fn search(ctx: Ctx, Form(q): Form<Query>) -> Result<Patch> {
//!     // With templates: ctx.render("search_results.html", liveview::context! { query => q.query })?
//!     let html = format!("<li>{} in room {}</li>", q.query.len(), ctx.room());
//!     Ok(Patch::html("#results", html))
//! }
//!
//! let lv = LiveView::builder().build()?;
//! assert!(lv.handler_names().contains(&"search"));
//! let app: axum::Router = axum::Router::new().merge(lv.router());
//! # Ok::<(), liveview::BuildError>(())
//! ```
//!
//! Pushing from a background task goes through [`Channels`], a cheap handle
//! from [`LiveView::channels`]; where messages travel is the business of the
//! channel layer: [`layer::InMemoryLayer`] by default, Redis across nodes
//! with the `liveview-redis` crate. [`layer`] is the interface such a crate
//! implements; with the `conformance` feature, `layer::conformance` checks
//! a layer against it.
//!
//! # Modules
//!
//! What a handler uses every day is at the root. The rest has one path
//! each, in its module:
//!
//! - [`extract`]: writing your own handler arguments ([`extract::FromEvent`],
//!   [`extract::EventParts`], [`extract::Rejection`]);
//! - [`layer`]: the channel layer interface (`ChannelLayer`, `LocalHub`,
//!   `Mailbox`, `Frame`, `ConnId`, `NodeId`, `SendError`) and the in-memory
//!   layer;
//! - [`presence`]: who is in a topic, on one node or many;
//! - [`upload`]: upload limits and uploaded files;
//! - [`rooms`]: the groups of rooms and signed room ids;
//! - [`templates`]: the minijinja environment and its helpers;
//! - [`telemetry`]: metric names and spans, and what other layers report;
//! - [`client`]: the embedded browser client's URL and tag;
//! - [`protocol`]: the wire types (`liveview-protocol`).
//!
//! # Errors
//!
//! - A handler returns [`Error`]: [`Error::user`] for a message the person
//!   using the page sees, anything else (`?` on any error) for an internal
//!   error that is logged and shown only in debug mode.
//! - An extractor that cannot read the event refuses it with an
//!   [`extract::Rejection`] (`invalid_data`, or a server error); the handler
//!   does not run.
//! - Either way the client gets one error frame with a machine-readable
//!   code ([`protocol::ErrorCode`]), the event's function and `ref`.
//! - Start-up mistakes (two handlers of one name, uploads for a function
//!   without a handler, a missing template directory, a bad origin) are a
//!   [`BuildError`] from [`LiveViewBuilder::build`], never a surprise at run
//!   time.
//! - Pushing can fail with [`layer::SendError`] (the connection is gone, or
//!   the layer's backend is); templates with
//!   [`templates::TemplateError`]; presence with
//!   [`presence::PresenceError`].

mod app;
mod channels;
mod check;
pub mod client;
mod ctx;
mod de;
mod error;
pub mod extract;
mod handler;
pub mod layer;
mod limits;
pub mod presence;
mod reply;
pub mod rooms;
mod server;
mod services;
pub mod session;
mod socket;
pub mod telemetry;
pub mod templates;
mod transport;
pub mod upload;

pub use channels::Channels;
pub use check::UnknownFunction;
pub use ctx::Ctx;
pub use error::{BuildError, Error, Result};
pub use extract::typed::{Data, Form, State};
pub use handler::Handler;
pub use limits::Limits;
pub use reply::{IntoReply, Reply};
pub use rooms::room_group;
pub use server::{
    Admission, LiveView, LiveViewBuilder, Refusal, Serve, no_delay, serve, shutdown_signal,
};
pub use upload::file::Uploads;

pub use liveview_macros::handler;
pub use liveview_protocol::{self as protocol, Event, Patch};
/// minijinja, to build template contexts (`liveview::context! { .. }`).
pub use minijinja::{self, context};

#[doc(hidden)]
pub mod __private {
    pub use crate::handler::{Failure, Registration, erase};
    pub use inventory;
}
