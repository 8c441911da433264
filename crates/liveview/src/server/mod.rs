//! The `LiveView` service: its builder, its routes and the WebSocket upgrade.

mod authorize;
mod builder;
mod checks;
mod connect_rate;
mod lifecycle;
mod origin;
mod poll;
mod serve;
mod upgrade;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};

pub use authorize::{Admission, Refusal};
pub use builder::LiveViewBuilder;
pub use lifecycle::shutdown_signal;
pub use serve::{Serve, serve};
pub use upgrade::no_delay;

use self::connect_rate::ConnectRate;
use self::lifecycle::Lifecycle;
use self::origin::OriginPolicy;
use crate::app::App;
use crate::channels::Channels;
use crate::client;
use crate::rooms::{RoomError, RoomKeys};
use crate::templates::Templates;
use crate::transport::PollTable;

/// What the routes of one `LiveView` share.
struct Server {
    app: Arc<App>,
    origins: OriginPolicy,
    lifecycle: Arc<Lifecycle>,
    /// Room signing keys and policy, checked once per upgrade.
    rooms: Arc<RoomKeys>,
    /// `LiveViewBuilder::authorize`.
    guard: Option<authorize::ConnectGuard>,
    /// The cap on new WebSockets per client address (`None`: off).
    connect_rate: Option<ConnectRate>,
    /// The open long-poll virtual sockets.
    polls: Arc<PollTable>,
}

/// A live-view service: named handlers, a channel layer, templates, and the
/// routes that serve them to browsers.
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use liveview::{Form, LiveView, Patch};
///
/// #[derive(serde::Deserialize)]
/// struct Email { email: String }
///
/// #[liveview::handler("validate_form")]
/// async fn validate_form(Form(f): Form<Email>) -> Patch {
///     let html = if f.email.contains('@') { "Valid email" } else { "Invalid email" };
///     Patch::html("#errors", html)
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let lv = LiveView::builder().templates("templates").build()?;
/// let page = lv.templates().clone();
/// let app = Router::new()
///     .route("/", get(move || async move { page.page("index.html", ()) }))
///     .merge(lv.router());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// liveview::serve(listener, app)
///     .with_graceful_shutdown(lv.shutdown_on(liveview::shutdown_signal()))
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LiveView {
    server: Arc<Server>,
}

impl LiveView {
    /// Starts configuring a `LiveView`.
    pub fn builder() -> LiveViewBuilder {
        LiveViewBuilder::default()
    }

    /// The routes to merge into the app's router:
    /// `GET /ws/liveview/{room}/` (the WebSocket), the long-poll transport
    /// under `/ws/liveview/{room}/poll` (`docs/protocol.md`, "Long-poll
    /// transport") and `GET /liveview/{file}` (the browser client).
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let limit = poll::body_limit(&self.server.app.limits);
        Router::new()
            .route("/ws/liveview/{room}/", get(upgrade::upgrade))
            .route("/ws/liveview/{room}", get(upgrade::upgrade))
            .route("/ws/liveview/{room}/poll", post(poll::open).layer(limit))
            .route(
                "/ws/liveview/{room}/poll/{id}",
                get(poll::hold).post(poll::send).layer(limit),
            )
            .route("/liveview/{file}", get(client::serve))
            .with_state(Arc::clone(&self.server))
    }

    /// A handle to push patches from any task.
    pub fn channels(&self) -> Channels {
        let services = &self.server.app.services;
        Channels::new(
            Arc::clone(&services.layer),
            services.max_outgoing_frame_bytes,
        )
    }

    /// A new signed room id, for `<html data-room="...">` of a page
    /// rendered without templates (in a template: `{{ liveview_room() }}`,
    /// or `{{ liveview_room(claims) }}`). `claims` (at most 48 bytes, a user
    /// id for instance) reach handlers as
    /// [`Ctx::room_claims`](crate::Ctx::room_claims). See
    /// [`rooms`](crate::rooms).
    ///
    /// # Errors
    /// [`RoomError::NoSecret`] without a
    /// [`room_secret`](LiveViewBuilder::room_secret),
    /// [`RoomError::ClaimsTooLong`].
    pub fn sign_room(&self, claims: Option<&str>) -> Result<String, RoomError> {
        self.server.rooms.sign(claims)
    }

    /// The app's templates (to render full pages over plain HTTP too).
    pub fn templates(&self) -> &Templates {
        &self.server.app.services.templates
    }

    /// The number of open connections on this server: WebSockets, and
    /// long-poll virtual sockets.
    pub fn connection_count(&self) -> usize {
        self.server.lifecycle.connections()
    }

    /// Page sessions parked now: their socket was lost and they wait for
    /// their client to come back (see `docs/sessions.md`).
    pub fn parked_sessions(&self) -> usize {
        self.server.app.sessions.parked()
    }

    /// Page sessions a socket can resume now, connected or parked.
    pub fn resumable_sessions(&self) -> usize {
        self.server.app.sessions.len()
    }

    /// The names of the registered handlers, sorted.
    pub fn handler_names(&self) -> Vec<&str> {
        self.server.app.handler_names()
    }

    /// Asks every connection to close with code 1012 (service restart), so
    /// that clients reconnect to the next server. New upgrades are refused.
    pub fn shutdown(&self) {
        self.server.lifecycle.shut_down();
    }

    /// Waits until every connection has closed and every parked page
    /// session has been stored for the next process, then until the
    /// channel layer has sent what it still holds for other nodes
    /// ([`ChannelLayer::flush`](crate::layer::ChannelLayer::flush)); at
    /// most `timeout` in all. True when all of it was done: a process that
    /// exits then loses nothing it sent.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let app = &self.server.app;
        let closed = self.server.lifecycle.drain(timeout).await;
        // Parked sessions hold no connection: they store themselves too.
        while app.sessions.parked() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let stored = app.sessions.parked() == 0;
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let flushed = app.services.layer.flush(left).await;
        closed && stored && flushed
    }

    /// A future for `liveview::serve(..).with_graceful_shutdown(..)` (or
    /// axum's): waits for
    /// `signal`, then [`shutdown`](Self::shutdown)s and
    /// [`drain`](Self::drain)s (up to 10 s). For Ctrl-C and SIGTERM, give it
    /// [`shutdown_signal()`](crate::shutdown_signal).
    pub fn shutdown_on<F>(&self, signal: F) -> impl Future<Output = ()> + Send + 'static
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let lv = self.clone();
        async move {
            signal.await;
            tracing::info!(
                connections = lv.connection_count(),
                "liveview: shutting down"
            );
            lv.shutdown();
            lv.drain(Duration::from_secs(10)).await;
        }
    }
}

impl std::fmt::Debug for LiveView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveView")
            .field("handlers", &self.handler_names())
            .field("connections", &self.connection_count())
            .field("debug", &self.server.app.debug())
            .finish_non_exhaustive()
    }
}
