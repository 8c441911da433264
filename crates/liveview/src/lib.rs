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
//!   event ([`Ctx`], [`Form`], [`Data`], [`State`], the raw [`Event`]); they
//!   return a [`Patch`], several, `()`, or a [`Result`] of those.
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
//! [`ChannelLayer`]: [`InMemoryLayer`] by default, Redis across nodes with
//! the `liveview-redis` crate. [`layer`] is the interface such a crate
//! implements; with the `conformance` feature, `layer::conformance` checks
//! a layer against it.

mod channels;
mod client;
mod ctx;
mod de;
mod error;
mod extract;
mod handler;
pub mod layer;
mod limits;
pub mod presence;
mod reply;
mod server;
mod socket;
mod templates;
mod upload;

pub use channels::Channels;
pub use client::{script_tag, script_url};
pub use ctx::Ctx;
pub use de::DeError;
pub use error::{BuildError, Error, Result, SendError, TemplateError};
pub use extract::{Data, Form, FromEvent, Rejection, State};
pub use handler::{BoxedHandler, Handler};
pub use layer::{ChannelLayer, ConnId, Frame, InMemoryLayer, NodeId};
pub use limits::Limits;
pub use presence::{
    Presence, PresenceBackend, PresenceEntry, PresenceError, PresenceEvent, PresenceGuard,
    PresenceHub,
};
pub use reply::{IntoReply, Reply};
pub use server::{LiveView, LiveViewBuilder, no_delay};
pub use templates::{Templates, TemplatesBuilder, new_room_id};
pub use upload::{MAX_CHUNK_BYTES, UploadConfig, UploadProgress, UploadedFile, Uploads};

pub use liveview_macros::handler;
pub use liveview_protocol::{self as protocol, ErrorCode, Event, Patch};
/// minijinja, to build template contexts (`liveview::context! { .. }`).
pub use minijinja::{self, context};

#[doc(hidden)]
pub mod __private {
    pub use crate::handler::{Failure, Registration, erase};
    pub use inventory;
}
