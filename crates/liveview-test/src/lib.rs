//! Test apps built on [liveview] in-process, without a browser: open a
//! page, click, fill, submit, press keys, upload files, and read the DOM
//! the server's patches changed, as the browser client would.
//!
//! ```
//! use liveview::{Form, LiveView, Patch};
//! use liveview_test::{TestApp, TestError};
//!
//! #[derive(serde::Deserialize)]
//! struct Query { query: String }
//!
//! async fn search(Form(q): Form<Query>) -> liveview::Result<Patch> {
//!     let found: Vec<&str> = ["Rust", "Python"].into_iter().filter(|name| name.to_lowercase().contains(&q.query)).collect();
//!     Ok(Patch::html("#results", found.join(", ")))
//! }
//!
//! fn router() -> axum::Router {
//!     let lv = LiveView::builder().auto_register(false).handler("search", search).build().unwrap();
//!     let page = format!(
//!         r#"<html data-room="{}"><body>
//!            <input id="search-input" name="query" data-liveview-function="search" data-action="input->page#run">
//!            <div id="results"></div></body></html>"#,
//!         liveview::templates::new_room_id(),
//!     );
//!     axum::Router::new()
//!         .route("/search", axum::routing::get(move || async move { axum::response::Html(page) }))
//!         .merge(lv.router())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), TestError> {
//! let app = TestApp::new(router()).await?;   // serves the router on a loopback port
//! let mut page = app.open("/search").await?; // GET the page, parse its HTML, connect its socket
//! page.fill("#search-input", "rust").await?; // set the value, fire its action as the browser client would
//! assert!(page.text("#results").contains("Rust"));
//! # Ok(())
//! # }
//! ```
//!
//! What it does as `liveview.js` does (assets/client/): events are built
//! from `data-liveview-function`, `data-action` (event, key filter,
//! `:prevent`, `:stop`, `:self`), the element's `data-*` values and its
//! form's fields; keyboard maps; `data-liveview-init`; patches of every
//! kind are applied to an in-memory DOM (html5ever's parser, morphed as the
//! client morphs: elements with an `id` are kept and moved, permanent
//! elements keep their content), with `url` and `title`; error frames show
//! in the form's `[data-liveview-error]` box. A corpus of elements and the
//! events they must produce (`corpus/events.json`) is checked against both
//! this kit and the browser client in Chromium, so the two cannot drift.
//!
//! What it does not do: run the page's JavaScript, lay out, scroll,
//! observe intersections (fire them with [`TestPage::fire`]), or show the
//! loading state (`aria-busy`, `data-liveview-disable-with`).

mod act;
mod actions;
mod app;
mod dom;
mod error;
mod file;
mod form;
mod http;
mod keys;
mod morph;
mod page;
mod patch;
mod read;
mod socket;
mod upload;
mod wire;

pub use app::TestApp;
pub use error::TestError;
pub use file::UploadFile;
pub use page::{DEFAULT_TIMEOUT, ErrorFrame, TestPage};
