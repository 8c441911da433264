//! Configuring a `LiveView`.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use liveview_protocol::{Event, MAX_FUNCTION_NAME_LEN};

use super::authorize::{Admission, ConnectGuard, Refusal};
use super::connect_rate::ConnectRate;
use super::lifecycle::Lifecycle;
use super::origin::{OriginPolicy, origin_authority};
use super::{LiveView, Server};
use crate::app::{App, BeforeHook, ConnectHook};
use crate::ctx::Ctx;
use crate::error::{BuildError, Error};
use crate::handler::{BoxedHandler, Handler, Registration};
use crate::layer::{ChannelLayer, InMemoryLayer};
use crate::limits::Limits;
use crate::reply::IntoReply;
use crate::rooms::RoomConfig;
use crate::services::{Services, StateMap};
use crate::session::{PortableStates, SessionBackend, SessionStore};
use crate::templates::{EnvSetup, Templates};
use crate::upload::{UploadBudget, UploadConfig, UploadDir, UploadShared, default_parent};

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
    upload_dir: Option<PathBuf>,
    on_connect: Option<ConnectHook>,
    on_resume: Option<ConnectHook>,
    session_backend: Option<Arc<dyn SessionBackend>>,
    portable: PortableStates,
    rooms: RoomConfig,
    guard: Option<ConnectGuard>,
    guard_timeout: Option<std::time::Duration>,
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
            upload_dir: None,
            on_connect: None,
            on_resume: None,
            session_backend: None,
            portable: PortableStates::default(),
            rooms: RoomConfig::default(),
            guard: None,
            guard_timeout: None,
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

    /// Accept WebSocket upgrades and long-poll requests only from these
    /// origins (`"https://example.com"`, `"http://localhost:8000"`). The
    /// default accepts only the request's own host.
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

    /// Accept WebSocket upgrades and long-poll requests from any origin.
    /// Only for servers that do not rely on cookies for authentication.
    #[must_use]
    pub fn allow_any_origin(mut self) -> Self {
        self.origins = Ok(OriginPolicy::Any);
        self
    }

    /// Runs `hook` before every handler; an error refuses the event with a
    /// `refused` error frame (its message is shown when it is an
    /// [`Error::user`]). The hook reads the event and its context, and
    /// returns a future that decides: it may await a session store. It runs
    /// under the handler's timeout and panic guard. For checks at
    /// connection time, put a tower layer on [`LiveView::router`] instead.
    ///
    /// ```
    /// use liveview::{Error, LiveView};
    ///
    /// let lv = LiveView::builder()
    ///     .before_event(|ctx, event| {
    ///         let admin_only = event.function.starts_with("admin_");
    ///         let role = ctx.cookie("role").map(str::to_owned);
    ///         async move {
    ///             if admin_only && role.as_deref() != Some("admin") {
    ///                 return Err(Error::user("Administrators only"));
    ///             }
    ///             Ok(())
    ///         }
    ///     })
    ///     .build()?;
    /// # Ok::<(), liveview::BuildError>(())
    /// ```
    #[must_use]
    pub fn before_event<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(&Ctx, &Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.before
            .push(Arc::new(move |ctx, event| Box::pin(hook(ctx, event))));
        self
    }

    /// Runs `hook` when a page session starts (a connection opens; a client
    /// that reconnects and resumes its session gets
    /// [`on_resume`](Self::on_resume) instead, and one that cannot resume
    /// starts a new session, and this runs), after it joined its room and
    /// `broadcast`: join the groups the page needs, start per-connection
    /// tasks, push the state the page needs. What it returns is pushed to
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

    /// Runs `hook` when a socket resumes a parked page session (protocol
    /// version 2; see `docs/sessions.md`), in place of
    /// [`on_connect`](Self::on_connect): the session kept its state and
    /// groups, and its client has been sent every frame it missed, so
    /// most apps need nothing here. Use it for what must be fresh after a
    /// gap (a clock, figures computed outside the session's frames). What
    /// it returns is pushed to the client, after the replay.
    ///
    /// ```
    /// use liveview::{Ctx, LiveView, Patch};
    ///
    /// let lv = LiveView::builder()
    ///     .on_resume(|_ctx: Ctx| async move { Patch::html("#status", "back online") })
    ///     .build()?;
    /// # Ok::<(), liveview::BuildError>(())
    /// ```
    #[must_use]
    pub fn on_resume<F, Fut, R>(mut self, hook: F) -> Self
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoReply,
    {
        self.on_resume = Some(Arc::new(move |ctx| {
            let fut = hook(ctx);
            Box::pin(async move { fut.await.into_reply() })
        }));
        self
    }

    /// Stores page sessions in `backend` so that they outlive this process:
    /// a socket may resume its session on another node, or on the process
    /// that replaced this one after a deploy. Sessions are written when
    /// their socket is lost, when the server shuts down, and after each
    /// event that changed their [portable state](Self::session_state)
    /// (batched: see `docs/sessions.md` for what a process that dies
    /// without warning loses). With Redis: `liveview_redis::RedisSessions`.
    #[must_use]
    pub fn session_backend(mut self, backend: impl SessionBackend) -> Self {
        self.session_backend = Some(Arc::new(backend));
        self
    }

    /// Registers the per-connection state type `T` (what
    /// [`Ctx::with_state`](crate::Ctx::with_state) holds) as portable,
    /// under `name`: its value is written into the session's snapshots and
    /// read back by the process that resumes the session. Keep `name`
    /// stable across deploys. A session that holds state of a type not
    /// registered can be resumed only by its own process (elsewhere its
    /// client starts afresh: `not_portable`).
    ///
    /// ```
    /// #[derive(Default, serde::Serialize, serde::Deserialize)]
    /// struct ChatName(String);
    ///
    /// let lv = liveview::LiveView::builder()
    ///     .session_state::<ChatName>("chat_name")
    ///     .build()?;
    /// # Ok::<(), liveview::BuildError>(())
    /// ```
    #[must_use]
    pub fn session_state<T>(mut self, name: &str) -> Self
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
    {
        self.portable.register::<T>(name);
        self
    }

    /// Checks every WebSocket upgrade request (its cookies, its headers)
    /// before the socket opens, after the Origin check: `guard` returns a
    /// future that either refuses the connection with a [`Refusal`] (the
    /// HTTP answer, logged; no socket opens) or admits it with an
    /// [`Admission`], whose values the connection's handlers read in
    /// `ctx.request().extensions`, and which may set when the session ends.
    /// It runs under a timeout (5 s; [`authorize_timeout`](Self::authorize_timeout))
    /// and a panic guard: either refuses (503, 500). A client refused this
    /// way retries with backoff (the browser cannot read the status);
    /// pages should check the session when they render too.
    ///
    /// ```
    /// use liveview::{Admission, LiveView, Refusal};
    ///
    /// #[derive(Clone)]
    /// struct UserId(u64);
    ///
    /// let lv = LiveView::builder()
    ///     .authorize(|request| {
    ///         let cookie = request.headers.get("cookie").cloned();
    ///         async move {
    ///             // Look the session up in a store here.
    ///             match cookie.as_ref().and_then(|c| c.to_str().ok()) {
    ///                 Some("session=ok") => Ok(Admission::new().insert(UserId(42))),
    ///                 _ => Err(Refusal::forbidden("not signed in")),
    ///             }
    ///         }
    ///     })
    ///     .build()?;
    /// # Ok::<(), liveview::BuildError>(())
    /// ```
    #[must_use]
    pub fn authorize<F, Fut>(mut self, guard: F) -> Self
    where
        F: Fn(&http::request::Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Admission, Refusal>> + Send + 'static,
    {
        self.guard = Some(ConnectGuard::new(guard));
        self
    }

    /// How long the connect guard ([`authorize`](Self::authorize)) may
    /// take before the connection is refused with 503 (default: 5 s).
    #[must_use]
    pub fn authorize_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.guard_timeout = Some(timeout);
        self
    }

    /// Lets the handler `function` receive files uploaded over the socket,
    /// within these limits (see `docs/uploads.md`). Functions without an
    /// `UploadConfig` refuse files; an `UploadConfig` for a function without
    /// a handler fails [`build`](Self::build) (a typo would silently turn
    /// uploads off).
    #[must_use]
    pub fn uploads(mut self, function: impl Into<String>, config: UploadConfig) -> Self {
        self.uploads
            .insert(function.into().into_boxed_str(), config);
        self
    }

    /// The directory under which this `LiveView` makes its own directory
    /// for upload temporary files (default: the system's temporary
    /// directory). The own directory, `liveview-uploads-{pid}-{random}`, is
    /// made at [`build`](Self::build) with mode 0700 and removed when the
    /// `LiveView` is dropped; `build` first removes the ones of processes
    /// that are gone (killed before they could clean up). Functions whose
    /// [`UploadConfig::temp_dir`] is set use that directory instead.
    #[must_use]
    pub fn upload_dir(mut self, parent: impl Into<PathBuf>) -> Self {
        self.upload_dir = Some(parent.into());
        self
    }

    /// Signs room ids with this secret (at least 32 random bytes, kept
    /// out of the source): `{{ liveview_room() }}` and
    /// [`LiveView::sign_room`] then issue signed rooms, and the upgrade
    /// refuses (`403`) a signed room whose signature is wrong or that has
    /// expired. Unsigned rooms are still accepted unless
    /// [`require_signed_rooms`](Self::require_signed_rooms). See
    /// [`rooms`](crate::rooms).
    ///
    /// ```
    /// let lv = liveview::LiveView::builder()
    ///     .room_secret(*b"a secret of at least thirty-two bytes..")
    ///     .build()?;
    /// let html = lv.templates().render_str(r#"<html data-room="{{ liveview_room() }}">"#, ())?;
    /// assert!(html.contains("data-room=\"lvs_"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn room_secret(self, secret: impl Into<Vec<u8>>) -> Self {
        self.room_secrets([secret])
    }

    /// Like [`room_secret`](Self::room_secret), with several secrets for
    /// rotation: rooms are signed with the first and verified with any.
    /// Keep an old secret listed for the room lifetime after replacing it.
    #[must_use]
    pub fn room_secrets<I, K>(mut self, secrets: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<Vec<u8>>,
    {
        self.rooms.secrets = secrets.into_iter().map(Into::into).collect();
        self
    }

    /// Refuse (`403`) upgrades to rooms that are not signed: a client can
    /// then only join a room the server gave it. Off by default, so that
    /// pages with their own room ids (Django LiveView's client makes a
    /// UUID) keep working; on, it needs a [`room_secret`](Self::room_secret).
    #[must_use]
    pub fn require_signed_rooms(mut self, required: bool) -> Self {
        self.rooms.require_signed = required;
        self
    }

    /// How long a signed room id is accepted after it is issued (default:
    /// 24 hours). A page open longer cannot reconnect to its room (its
    /// client gets `403`) and must be reloaded.
    #[must_use]
    pub fn room_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.rooms.ttl = Some(ttl);
        self
    }

    /// Builds the `LiveView`.
    ///
    /// # Errors
    /// A [`BuildError`] for a missing template directory, two handlers of
    /// one name, a bad handler name, uploads configured for a function that
    /// has no handler, an upload directory that cannot be made, a bad
    /// allowed origin, a room secret under 32 bytes, or signed rooms
    /// required without a secret.
    pub fn build(self) -> Result<LiveView, BuildError> {
        let origins = self.origins?;
        let rooms = Arc::new(self.rooms.build()?);
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
        if let Some(function) = self
            .uploads
            .keys()
            .find(|function| !handlers.contains_key(*function))
        {
            return Err(BuildError::UploadsWithoutHandler {
                function: function.to_string(),
            });
        }
        // Made only when some function takes uploads: a LiveView without
        // them touches no file system.
        let upload_dir = if self.uploads.is_empty() {
            None
        } else {
            let parent = self.upload_dir.unwrap_or_else(default_parent);
            match UploadDir::create(&parent) {
                Ok(dir) => Some(dir),
                Err(source) => {
                    return Err(BuildError::UploadDir {
                        path: parent,
                        source,
                    });
                }
            }
        };
        let upload_shared = UploadShared {
            budget: UploadBudget::new(
                self.limits.upload_memory_budget,
                self.limits.upload_disk_budget,
            ),
            dir: upload_dir
                .as_ref()
                .map(|dir| std::sync::Arc::clone(dir.path())),
            idle_timeout: self.limits.upload_idle_timeout,
            unclaimed_timeout: self.limits.upload_unclaimed_timeout,
        };
        if let Some(dir) = &self.templates_dir {
            if !dir.is_dir() {
                return Err(BuildError::TemplatesDir { path: dir.clone() });
            }
        }
        let mut templates = Templates::builder()
            .reload(self.debug)
            .setup_arc(self.template_setup)
            .rooms(Arc::clone(&rooms));
        if let Some(dir) = self.templates_dir {
            templates = templates.dir(dir);
        }
        let services = Services {
            layer: self.layer.unwrap_or_else(|| Arc::new(InMemoryLayer::new())),
            templates: templates.build(),
            states: self.states,
            debug: self.debug,
            max_outgoing_frame_bytes: self.limits.max_outgoing_frame_bytes,
        };
        let metrics = crate::telemetry::Metrics::new(handlers.keys().map(|name| &**name));
        let app = App {
            handlers,
            before: self.before,
            on_connect: self.on_connect,
            on_resume: self.on_resume,
            sessions: SessionStore::default(),
            session_backend: self.session_backend,
            portable: self.portable,
            snapshot_writer: std::sync::OnceLock::new(),
            uploads: self.uploads,
            upload_shared,
            _upload_dir: upload_dir,
            limits: self.limits,
            services: Arc::new(services),
            metrics,
        };
        let connect_rate = ConnectRate::from_limits(&app.limits);
        let polls = super::poll::table(&app.limits);
        let lv = LiveView {
            server: Arc::new(Server {
                app: Arc::new(app),
                origins,
                lifecycle: Arc::new(Lifecycle::new()),
                rooms,
                guard: self.guard.map(|mut guard| {
                    if let Some(timeout) = self.guard_timeout {
                        guard.timeout = timeout;
                    }
                    guard
                }),
                connect_rate,
                polls,
            }),
        };
        lv.warn_unknown_functions();
        Ok(lv)
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
