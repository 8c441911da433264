//! The `LiveView` service: its builder, its routes and the WebSocket upgrade.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Path, Request, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::{ListenerExt, TapIo};
use liveview_protocol::{Event, MAX_FUNCTION_NAME_LEN, PROTOCOL_VERSION};
use tokio::sync::{Notify, watch};

use crate::channels::Channels;
use crate::client;
use crate::ctx::Ctx;
use crate::error::{BuildError, Error};
use crate::extract::StateMap;
use crate::handler::{BoxedHandler, Handler, Registration};
use crate::layer::{ChannelLayer, InMemoryLayer};
use crate::limits::Limits;
use crate::reply::{IntoReply, Reply};
use crate::socket;
use crate::templates::{EnvSetup, Templates};
use crate::upload::UploadConfig;

/// A hook that sees every event before its handler and may refuse it.
pub(crate) type BeforeHook = Arc<dyn Fn(&Ctx, &Event) -> Result<(), Error> + Send + Sync>;

/// A hook run when a connection opens; its reply is pushed to the client.
pub(crate) type ConnectHookFn =
    dyn Fn(Ctx) -> crate::handler::BoxFuture<Result<Reply, Error>> + Send + Sync;
pub(crate) type ConnectHook = Arc<ConnectHookFn>;

/// Everything the connections of one `LiveView` share.
pub(crate) struct App {
    pub(crate) handlers: HashMap<Box<str>, BoxedHandler>,
    pub(crate) layer: Arc<dyn ChannelLayer>,
    pub(crate) templates: Templates,
    pub(crate) states: StateMap,
    pub(crate) limits: Limits,
    pub(crate) debug: bool,
    pub(crate) origins: OriginPolicy,
    pub(crate) before: Vec<BeforeHook>,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) connections: AtomicUsize,
    pub(crate) drained: Notify,
    pub(crate) uploads: HashMap<Box<str>, UploadConfig>,
    pub(crate) on_connect: Option<ConnectHook>,
}

/// Which `Origin`s may open a WebSocket.
#[derive(Debug, Clone)]
pub(crate) enum OriginPolicy {
    /// The origin's host must be the request's `Host` (the default).
    SameHost,
    /// Any origin (for non-browser clients, tests and benchmarks).
    Any,
    /// These origins, `scheme://host[:port]`, compared without case.
    List(Vec<String>),
}

impl OriginPolicy {
    fn allows(&self, headers: &HeaderMap) -> bool {
        // Browsers always send Origin with a WebSocket upgrade; a request
        // without one comes from a non-browser client, which the Origin check
        // (a defence against cross-site WebSocket hijacking) does not concern.
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        match self {
            OriginPolicy::Any => true,
            OriginPolicy::List(allowed) => allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)),
            OriginPolicy::SameHost => {
                let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
                match (origin_authority(origin), host) {
                    (Some(authority), Some(host)) => authority.eq_ignore_ascii_case(host),
                    _ => false,
                }
            }
        }
    }
}

/// `host[:port]` of an origin `scheme://host[:port]`, or `None` (for `null`).
fn origin_authority(origin: &str) -> Option<&str> {
    let (scheme, authority) = origin.split_once("://")?;
    let valid = !scheme.is_empty()
        && !authority.is_empty()
        && !authority.contains(['/', '?', '#', '@', ' ']);
    valid.then_some(authority)
}

/// Counts a connection for as long as it lives.
pub(crate) struct ConnectionGuard {
    app: Arc<App>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if self.app.connections.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.app.drained.notify_waiters();
        }
    }
}

/// A live-view service: named handlers, a channel layer, templates, and the
/// routes that serve them to browsers.
///
/// ```no_run
/// use axum::{Router, routing::get, response::Html};
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
///     .route("/", get(move || async move { Html(page.render("index.html", ()).unwrap_or_default()) }))
///     .merge(lv.router());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// axum::serve(liveview::no_delay(listener), app)
///     .with_graceful_shutdown(lv.shutdown_on(async { let _ = tokio::signal::ctrl_c().await; }))
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LiveView {
    app: Arc<App>,
}

impl LiveView {
    /// Starts configuring a `LiveView`.
    pub fn builder() -> LiveViewBuilder {
        LiveViewBuilder::default()
    }

    /// The routes to merge into the app's router:
    /// `GET /ws/liveview/{room}/` (the WebSocket) and `GET /liveview/{file}`
    /// (the browser client).
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .route("/ws/liveview/{room}/", get(upgrade))
            .route("/ws/liveview/{room}", get(upgrade))
            .route("/liveview/{file}", get(client::serve))
            .with_state(Arc::clone(&self.app))
    }

    /// A handle to push patches from any task.
    pub fn channels(&self) -> Channels {
        Channels::new(Arc::clone(&self.app.layer))
    }

    /// The app's templates (to render full pages over plain HTTP too).
    pub fn templates(&self) -> &Templates {
        &self.app.templates
    }

    /// The number of open WebSocket connections on this server.
    pub fn connection_count(&self) -> usize {
        self.app.connections.load(Ordering::Acquire)
    }

    /// The names of the registered handlers, sorted.
    pub fn handler_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.app.handlers.keys().map(|k| &**k).collect();
        names.sort_unstable();
        names
    }

    /// Asks every connection to close with code 1012 (service restart), so
    /// that clients reconnect to the next server. New upgrades are refused.
    pub fn shutdown(&self) {
        self.app.shutdown.send_replace(true);
    }

    /// Waits until every connection has closed, or `timeout` has passed;
    /// true when all have closed.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.app.drained.notified();
                if self.connection_count() == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// A future for `axum::serve(..).with_graceful_shutdown(..)`: waits for
    /// `signal`, then [`shutdown`](Self::shutdown)s and
    /// [`drain`](Self::drain)s (up to 10 s).
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
            .field("debug", &self.app.debug)
            .finish_non_exhaustive()
    }
}

/// Configures a [`LiveView`].
pub struct LiveViewBuilder {
    handlers: Vec<(String, BoxedHandler)>,
    auto_register: bool,
    templates_dir: Option<PathBuf>,
    template_setup: Option<EnvSetup>,
    layer: Option<Arc<dyn ChannelLayer>>,
    states: StateMap,
    limits: Limits,
    debug: bool,
    origins: Result<OriginPolicy, BuildError>,
    before: Vec<BeforeHook>,
    uploads: HashMap<Box<str>, UploadConfig>,
    on_connect: Option<ConnectHook>,
}

impl Default for LiveViewBuilder {
    fn default() -> Self {
        LiveViewBuilder {
            handlers: Vec::new(),
            auto_register: true,
            templates_dir: None,
            template_setup: None,
            layer: None,
            states: StateMap::default(),
            limits: Limits::default(),
            debug: cfg!(debug_assertions),
            origins: Ok(OriginPolicy::SameHost),
            before: Vec::new(),
            uploads: HashMap::new(),
            on_connect: None,
        }
    }
}

impl LiveViewBuilder {
    /// Registers `handler` under `name`. It replaces a `#[handler]` of the
    /// same name.
    #[must_use]
    pub fn handler<H: Handler<Args>, Args: 'static>(
        mut self,
        name: impl Into<String>,
        handler: H,
    ) -> Self {
        self.handlers
            .push((name.into(), BoxedHandler::new(handler)));
        self
    }

    /// Whether to include the functions marked `#[liveview::handler]`
    /// (default: yes).
    #[must_use]
    pub fn auto_register(mut self, enabled: bool) -> Self {
        self.auto_register = enabled;
        self
    }

    /// Load templates from this directory (reloaded on change in debug mode).
    #[must_use]
    pub fn templates(mut self, dir: impl Into<PathBuf>) -> Self {
        self.templates_dir = Some(dir.into());
        self
    }

    /// Customise the template environment: add filters, functions, globals.
    #[must_use]
    pub fn template_env(
        mut self,
        setup: impl Fn(&mut minijinja::Environment<'static>) + Send + Sync + 'static,
    ) -> Self {
        self.template_setup = Some(Arc::new(setup));
        self
    }

    /// Use this channel layer instead of the in-memory one.
    #[must_use]
    pub fn layer(mut self, layer: impl ChannelLayer) -> Self {
        self.layer = Some(Arc::new(layer));
        self
    }

    /// Adds application state that handlers extract with
    /// [`State<S>`](crate::State), one value per type.
    #[must_use]
    pub fn state<S: Clone + Send + Sync + 'static>(mut self, state: S) -> Self {
        self.states.insert(state);
        self
    }

    /// Sets the limits (frame size, rate, timeouts, connections).
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Debug mode (default: on in debug builds): templates reload, and error
    /// frames carry details (internal errors, the list of handlers).
    #[must_use]
    pub fn debug(mut self, debug: bool) -> Self {
        self.debug = debug;
        self
    }

    /// Accept WebSocket upgrades only from these origins
    /// (`"https://example.com"`, `"http://localhost:8000"`). The default
    /// accepts only the request's own host.
    #[must_use]
    pub fn allowed_origins<I, O>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = O>,
        O: Into<String>,
    {
        let mut list = Vec::new();
        for origin in origins {
            let origin = origin.into();
            if origin_authority(&origin).is_none() {
                self.origins = Err(BuildError::BadOrigin { origin });
                return self;
            }
            list.push(origin);
        }
        self.origins = Ok(OriginPolicy::List(list));
        self
    }

    /// Accept WebSocket upgrades from any origin. Only for servers that do
    /// not rely on cookies for authentication.
    #[must_use]
    pub fn allow_any_origin(mut self) -> Self {
        self.origins = Ok(OriginPolicy::Any);
        self
    }

    /// Runs `hook` before every handler; an error refuses the event with a
    /// `refused` error frame (its message is shown when it is an
    /// [`Error::user`]). For checks at connection time, put a tower layer
    /// on [`LiveView::router`] instead.
    ///
    /// ```
    /// use liveview::{Error, LiveView};
    ///
    /// let lv = LiveView::builder()
    ///     .before_event(|ctx, event| {
    ///         if event.function.starts_with("admin_") && ctx.cookie("role") != Some("admin") {
    ///             return Err(Error::user("Administrators only"));
    ///         }
    ///         Ok(())
    ///     })
    ///     .build()?;
    /// # Ok::<(), liveview::BuildError>(())
    /// ```
    #[must_use]
    pub fn before_event(
        mut self,
        hook: impl Fn(&Ctx, &Event) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Self {
        self.before.push(Arc::new(hook));
        self
    }

    /// Runs `hook` when a connection opens (and each time a client
    /// reconnects), after it joined its room and `broadcast`: join the
    /// groups the page needs, start per-connection tasks, push the state
    /// that may have changed while it was away. What it returns is pushed to
    /// the client; an error or a panic is logged and reported as an error
    /// frame, and the connection stays open.
    ///
    /// ```
    /// use liveview::{Ctx, LiveView, Patch};
    ///
    /// let lv = LiveView::builder()
    ///     .on_connect(|ctx: Ctx| async move {
    ///         if ctx.request().uri.path().ends_with("/chat/") {
    ///             ctx.join("chat").await?;
    ///         }
    ///         Ok::<_, liveview::Error>(Patch::html("#status", "connected"))
    ///     })
    ///     .build()?;
    /// # Ok::<(), liveview::BuildError>(())
    /// ```
    #[must_use]
    pub fn on_connect<F, Fut, R>(mut self, hook: F) -> Self
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoReply,
    {
        self.on_connect = Some(Arc::new(move |ctx| {
            let fut = hook(ctx);
            Box::pin(async move { fut.await.into_reply() })
        }));
        self
    }

    /// Lets the handler `function` receive files uploaded over the socket,
    /// within these limits (see `docs/uploads.md`). Functions without an
    /// `UploadConfig` refuse files.
    #[must_use]
    pub fn uploads(mut self, function: impl Into<String>, config: UploadConfig) -> Self {
        self.uploads
            .insert(function.into().into_boxed_str(), config);
        self
    }

    /// Builds the `LiveView`.
    ///
    /// # Errors
    /// A [`BuildError`] for a missing template directory, two handlers of
    /// one name, a bad handler name or a bad allowed origin.
    pub fn build(self) -> Result<LiveView, BuildError> {
        let origins = self.origins?;
        let mut handlers: HashMap<Box<str>, BoxedHandler> = HashMap::new();
        if self.auto_register {
            for registration in inventory::iter::<Registration> {
                let name = registration.name;
                if handlers
                    .insert(name.into(), (registration.make)())
                    .is_some()
                {
                    return Err(BuildError::DuplicateHandler { name: name.into() });
                }
            }
        }
        let mut explicit: HashMap<&str, ()> = HashMap::new();
        for (name, handler) in &self.handlers {
            if name.is_empty() || name.len() > MAX_FUNCTION_NAME_LEN {
                return Err(BuildError::BadHandlerName { name: name.clone() });
            }
            if explicit.insert(name, ()).is_some() {
                return Err(BuildError::DuplicateHandler { name: name.clone() });
            }
            handlers.insert(name.as_str().into(), handler.clone());
        }
        if let Some(dir) = &self.templates_dir {
            if !dir.is_dir() {
                return Err(BuildError::TemplatesDir { path: dir.clone() });
            }
        }
        let mut templates = Templates::builder()
            .reload(self.debug)
            .setup_arc(self.template_setup);
        if let Some(dir) = self.templates_dir {
            templates = templates.dir(dir);
        }
        let layer = self.layer.unwrap_or_else(|| Arc::new(InMemoryLayer::new()));
        let (shutdown, _) = watch::channel(false);
        Ok(LiveView {
            app: Arc::new(App {
                handlers,
                layer,
                templates: templates.build(),
                states: self.states,
                limits: self.limits,
                debug: self.debug,
                origins,
                before: self.before,
                shutdown,
                connections: AtomicUsize::new(0),
                drained: Notify::new(),
                uploads: self.uploads,
                on_connect: self.on_connect,
            }),
        })
    }
}

impl std::fmt::Debug for LiveViewBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveViewBuilder")
            .field(
                "handlers",
                &self.handlers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("limits", &self.limits)
            .field("debug", &self.debug)
            .finish_non_exhaustive()
    }
}

fn valid_room(room: &str) -> bool {
    (1..=128).contains(&room.len())
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The extension version the client asked for with `?v=N`.
fn requested_version(query: Option<&str>) -> u32 {
    query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("v="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn upgrade(
    AxumState(app): AxumState<Arc<App>>,
    Path(room): Path<String>,
    request: Request,
) -> Response {
    let (mut parts, _body) = request.into_parts();
    if !valid_room(&room) {
        return (StatusCode::BAD_REQUEST, "invalid room id").into_response();
    }
    if !app.origins.allows(&parts.headers) {
        tracing::warn!(origin = ?parts.headers.get(header::ORIGIN), "liveview: refused a WebSocket from a foreign origin");
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    if *app.shutdown.borrow() {
        return unavailable("server is shutting down");
    }
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    // Count the connection now, so that a burst of upgrades cannot overshoot.
    let previous = app.connections.fetch_add(1, Ordering::AcqRel);
    let guard = ConnectionGuard {
        app: Arc::clone(&app),
    };
    if previous >= app.limits.max_connections {
        drop(guard);
        tracing::warn!(
            max = app.limits.max_connections,
            "liveview: connection limit reached"
        );
        return unavailable("too many connections");
    }
    let v1 = requested_version(parts.uri.query()) >= PROTOCOL_VERSION;
    let parts = owned_parts(parts);
    let limits = &app.limits;
    ws.read_buffer_size(limits.read_buffer_bytes)
        // Frames are buffered until the socket task flushes a batch: one
        // write (and one TCP segment) for an answer and what preceded it.
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(limits.max_frame_bytes.max(1 << 20) * 4)
        .max_message_size(limits.max_frame_bytes)
        .max_frame_size(limits.max_frame_bytes)
        .on_upgrade(move |socket| socket::run(socket, app, room.into_boxed_str(), parts, v1, guard))
}

/// Turns off Nagle's algorithm (sets `TCP_NODELAY`) on every connection a
/// listener accepts. Serve liveview with it:
///
/// ```no_run
/// # async fn run(app: axum::Router) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// axum::serve(liveview::no_delay(listener), app).await
/// # }
/// ```
///
/// Live pages send small frames; without it, a frame written right after
/// another waits for the peer's (delayed) acknowledgement of the first, up
/// to 40 ms on Linux. axum leaves the option off, and once a connection is
/// upgraded the library can no longer reach its socket to set it.
pub fn no_delay(
    listener: tokio::net::TcpListener,
) -> TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)> {
    fn set(stream: &mut tokio::net::TcpStream) {
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, "liveview: cannot set TCP_NODELAY");
        }
    }
    listener.tap_io(set as fn(&mut tokio::net::TcpStream))
}

/// Frames written before a flush forces them out; the socket task flushes
/// after every batch, so this only bounds how much a batch holds.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// The request head, copied out of hyper's read buffer.
///
/// Header values, custom header names and the URI of a parsed request are
/// slices of the connection's read buffer (8 to 16 KiB). A connection keeps
/// its request head for its whole life (handlers read cookies and headers),
/// and holding those slices would hold the whole buffer: most of what an
/// idle connection costs. Copies cost a few hundred bytes.
fn owned_parts(mut parts: http::request::Parts) -> http::request::Parts {
    let mut headers = HeaderMap::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        let name = http::HeaderName::from_bytes(name.as_str().as_bytes());
        let copy = HeaderValue::from_bytes(value.as_bytes());
        if let (Ok(name), Ok(mut copy)) = (name, copy) {
            copy.set_sensitive(value.is_sensitive());
            headers.append(name, copy);
        }
    }
    parts.headers = headers;
    if let Ok(uri) = http::Uri::try_from(parts.uri.to_string()) {
        parts.uri = uri;
    }
    if let Some(original) = parts.extensions.remove::<axum::extract::OriginalUri>() {
        let uri = http::Uri::try_from(original.0.to_string()).unwrap_or_else(|_| parts.uri.clone());
        parts.extensions.insert(axum::extract::OriginalUri(uri));
    }
    parts
}

fn unavailable(message: &'static str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, HeaderValue::from_static("5"))],
        message,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(origin) = origin {
            map.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        map
    }

    #[test]
    fn same_host_policy() {
        let policy = OriginPolicy::SameHost;
        assert!(policy.allows(&headers(Some("http://127.0.0.1:8000"), "127.0.0.1:8000")));
        assert!(policy.allows(&headers(Some("https://Example.com"), "example.com")));
        assert!(policy.allows(&headers(None, "example.com")));
        assert!(!policy.allows(&headers(Some("http://evil.com"), "example.com")));
        assert!(!policy.allows(&headers(Some("http://example.com:81"), "example.com")));
        assert!(!policy.allows(&headers(Some("null"), "example.com")));
        assert!(!policy.allows(&headers(Some("http://example.com/x"), "example.com")));
    }

    #[test]
    fn list_policy() {
        let policy = OriginPolicy::List(vec!["https://app.example.com".into()]);
        assert!(policy.allows(&headers(Some("https://app.example.com"), "internal:9000")));
        assert!(!policy.allows(&headers(Some("http://app.example.com"), "internal:9000")));
    }

    #[test]
    fn owned_parts_no_longer_point_into_the_read_buffer() {
        let buffer = bytes::Bytes::from_static(
            b"GET /ws/liveview/r/?v=1 HTTP/1.1 x-custom: value; session=abc",
        );
        let range = buffer.as_ptr() as usize..buffer.as_ptr() as usize + buffer.len();
        let value = HeaderValue::from_maybe_shared(buffer.slice(43..48)).unwrap();
        assert!(
            range.contains(&(value.as_bytes().as_ptr() as usize)),
            "the test value is a slice"
        );
        let (mut parts, ()) = http::Request::builder()
            .uri("/ws/liveview/r/?v=1")
            .body(())
            .unwrap()
            .into_parts();
        parts.headers.insert("x-custom", value);
        let mut sensitive = HeaderValue::from_static("session=abc");
        sensitive.set_sensitive(true);
        parts.headers.insert(header::COOKIE, sensitive);
        let owned = owned_parts(parts);
        let copied = &owned.headers["x-custom"];
        assert_eq!(copied, "value");
        assert!(
            !range.contains(&(copied.as_bytes().as_ptr() as usize)),
            "copied out of the buffer"
        );
        assert!(owned.headers[header::COOKIE].is_sensitive());
        assert_eq!(owned.uri, "/ws/liveview/r/?v=1");
    }

    #[test]
    fn rooms_and_versions() {
        assert!(valid_room("4f2c-abc_DEF"));
        assert!(!valid_room(""));
        assert!(!valid_room("a/b"));
        assert!(!valid_room(&"a".repeat(129)));
        assert_eq!(requested_version(Some("v=1")), 1);
        assert_eq!(requested_version(Some("x=2&v=3")), 3);
        assert_eq!(requested_version(Some("v=x")), 0);
        assert_eq!(requested_version(None), 0);
    }
}
