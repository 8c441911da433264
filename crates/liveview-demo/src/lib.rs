//! The demo gallery: every case of the article "From htmx to Django
//! LiveView", live, on a real SQLite database.
//!
//! [`build_app`] opens (and on first start seeds) the database, registers
//! the handlers of [`handlers`], starts the task that pushes the figures of
//! case 4, and returns the axum router that serves the pages, the stylesheet,
//! the WebSocket and the browser client, all under a strict
//! Content-Security-Policy ([`csp`]). `src/main.rs` serves it; the tests
//! start it in-process on `127.0.0.1:0`.
//!
//! Each page shows, beside its live widget, the template and handler source
//! that make it, cut from the real files (see [`source`]), and in its footer
//! how many people are on the demo right now ([`visitors`]).
//!
//! With [`Config::redis`] set, the demo runs as one node of several sharing
//! that Redis: chat messages and the visitors count reach the pages of every
//! node; each node pushes its own figures (case 4) to its own pages.

pub mod csp;
pub mod db;
pub mod exporter;
pub mod handlers;
mod pages;
pub mod source;
pub mod stats;
pub mod visitors;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, UNIX_EPOCH};

use liveview::presence::{Presence, PresenceError};
use liveview::{Ctx, LiveView};
use liveview_redis::{RedisLayer, RedisLayerError};

pub use db::{Db, DbError};

/// How to build the demo.
#[derive(Debug, Clone)]
pub struct Config {
    /// The SQLite file (created, with its tables and articles, when missing).
    pub db_path: PathBuf,
    /// The templates directory (default: this crate's `templates/`).
    pub templates_dir: PathBuf,
    /// How often the figures of case 4 are pushed (default 2 s).
    pub stats_interval: Duration,
    /// Debug mode: templates reload when edited, and error frames carry
    /// details (default: on in debug builds).
    pub debug: bool,
    /// Counters of the events handled; clone it before [`build_app`] to
    /// read them from outside (tests do).
    pub metrics: Metrics,
    /// A Redis URL (`redis://host:6379/`): this server is then one node of
    /// several sharing that Redis, with the Redis channel layer and
    /// presence. `None` (the default): the in-memory layer, one node.
    pub redis: Option<String>,
    /// A secret (32 bytes or more) to sign room ids with: every page then
    /// gets a signed room (`{{ liveview_room() }}`), and the WebSocket of
    /// any other room is refused (`403`). `None` (the default): unsigned
    /// rooms, as Django LiveView's.
    pub room_secret: Option<String>,
    /// liveview's metrics in Prometheus text at `/metrics`, and a few of
    /// them on the stats page; from [`exporter::install`]. `None` (the
    /// default): no `/metrics`.
    pub exporter: Option<exporter::Exporter>,
}

impl Config {
    /// The defaults, with this database file.
    pub fn new(db_path: impl Into<PathBuf>) -> Self {
        Config {
            db_path: db_path.into(),
            templates_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/templates")),
            stats_interval: Duration::from_secs(2),
            debug: cfg!(debug_assertions),
            metrics: Metrics::default(),
            redis: None,
            room_secret: None,
            exporter: None,
        }
    }
}

/// Counts the events that reached a handler, by handler name, and the
/// Content-Security-Policy violations browsers reported ([`csp`]).
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    inner: Arc<MetricsInner>,
}

#[derive(Debug, Default)]
struct MetricsInner {
    total: AtomicU64,
    by_function: Mutex<HashMap<String, u64>>,
    csp_violations: AtomicU64,
}

impl Metrics {
    fn record(&self, function: &str) {
        self.inner.total.fetch_add(1, Ordering::Relaxed);
        let mut counts = self
            .inner
            .by_function
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Only registered names get here (unknown ones are refused
        // earlier), so the map stays small.
        *counts.entry(function.to_owned()).or_default() += 1;
    }

    /// Events handled by the handler registered under `function`.
    pub fn events(&self, function: &str) -> u64 {
        self.inner
            .by_function
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(function)
            .copied()
            .unwrap_or(0)
    }

    /// Events handled, all handlers together.
    pub fn total_events(&self) -> u64 {
        self.inner.total.load(Ordering::Relaxed)
    }

    fn csp_violation(&self) {
        self.inner.csp_violations.fetch_add(1, Ordering::Relaxed);
    }

    /// Content-Security-Policy violations reported by browsers (each one
    /// something a page tried to load or run that the policy blocked).
    pub fn csp_violations(&self) -> u64 {
        self.inner.csp_violations.load(Ordering::Relaxed)
    }
}

/// What the handlers share, extracted with `State<AppState>`.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Event counters.
    pub metrics: Metrics,
    /// When the server started.
    pub started: Instant,
    /// Who is on the demo (in-memory, or shared through Redis).
    pub presence: Presence,
    /// The group of the pages connected to this server (every page joins
    /// it on connecting). What a node pushes about itself, its figures and
    /// its view of the visitors, goes to its own pages only: a broadcast
    /// would also reach the pages of the other nodes, which push their own.
    pub pages: String,
    /// The metrics recorder, when there is one (the stats page reads it).
    pub exporter: Option<exporter::Exporter>,
}

/// The sections of case 5, each with its own URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The start of case 5, at `/navigation`.
    Home,
    /// `/about`.
    About,
    /// `/contact`.
    Contact,
}

impl Section {
    /// The template of the section's content.
    pub fn template(self) -> &'static str {
        match self {
            Section::Home => "partials/home.html",
            Section::About => "partials/about.html",
            Section::Contact => "partials/contact.html",
        }
    }

    /// Its URL.
    pub fn path(self) -> &'static str {
        match self {
            Section::Home => "/navigation",
            Section::About => "/about",
            Section::Contact => "/contact",
        }
    }

    /// The document title while it is shown.
    pub fn title(self) -> &'static str {
        match self {
            Section::Home => "SPA navigation · liveview demo",
            Section::About => "About us · liveview demo",
            Section::Contact => "Contact · liveview demo",
        }
    }

    /// Its name, for templates.
    pub fn name(self) -> &'static str {
        match self {
            Section::Home => "home",
            Section::About => "about",
            Section::Contact => "contact",
        }
    }
}

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be opened or initialised.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The live view could not be built (for example, no templates directory).
    #[error("cannot build the live view: {0}")]
    Build(#[from] liveview::BuildError),
    /// A `#[liveview::handler]` of this crate did not register.
    #[error("handler {0:?} is not registered")]
    MissingHandler(&'static str),
    /// The Redis URL is invalid or Redis did not answer.
    #[error("cannot start the Redis channel layer: {0}")]
    Redis(#[from] RedisLayerError),
    /// Presence could not be set up on the Redis layer.
    #[error("cannot start presence on Redis: {0}")]
    Presence(#[from] PresenceError),
}

/// The demo, built by [`build`].
#[derive(Debug)]
pub struct App {
    /// The router to serve.
    pub router: axum::Router,
    /// The live view (for graceful shutdown).
    pub lv: LiveView,
    /// What the handlers share; after a graceful shutdown, close its
    /// `presence` so that other nodes drop this node's visitors at once.
    pub state: AppState,
}

/// Builds the demo: opens the database, registers the handlers, starts the
/// stats task (on the current tokio runtime) and returns the router to serve
/// and the `LiveView` (for graceful shutdown).
///
/// # Errors
/// When the database cannot be opened, the templates directory is missing,
/// or Redis (when configured) cannot be reached.
pub async fn build_app(config: Config) -> Result<(axum::Router, LiveView), Error> {
    let app = build(config).await?;
    Ok((app.router, app.lv))
}

/// [`build_app`], with the shared state too.
///
/// # Errors
/// As [`build_app`].
pub async fn build(config: Config) -> Result<App, Error> {
    let db = Db::open(&config.db_path).await?;
    let mut builder = LiveView::builder();
    let presence = match &config.redis {
        Some(url) => {
            let layer = RedisLayer::connect(url.as_str()).await?;
            let presence = liveview_redis::presence(&layer)?;
            // Page sessions outlive the process: a deploy or a lost node.
            builder = builder
                .session_backend(liveview_redis::RedisSessions::new(&layer))
                .layer(layer);
            presence
        }
        None => Presence::in_memory(),
    };
    let app = AppState {
        db,
        metrics: config.metrics.clone(),
        started: Instant::now(),
        pages: format!("pages:{}", presence.node_id()),
        presence: presence.clone(),
        exporter: config.exporter.clone(),
    };
    if let Some(secret) = &config.room_secret {
        builder = builder
            .room_secret(secret.as_bytes())
            .require_signed_rooms(true);
    }
    let metrics = config.metrics.clone();
    let lv = handlers::session_states(builder)
        .templates(&config.templates_dir)
        .debug(config.debug)
        .state(app.clone())
        .uploads("upload_file", handlers::upload_config())
        .template_env(|env| {
            env.set_trim_blocks(true);
            env.set_lstrip_blocks(true);
            env.add_filter("clock", |unix: i64| {
                stats::clock(UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap_or(0)))
            });
        })
        .before_event(move |_ctx, event| {
            metrics.record(&event.function);
            std::future::ready(Ok(()))
        })
        .on_connect(on_connect)
        // A page resumed here from another node joins this node's pages.
        .on_resume(on_connect)
        .build()?;
    let registered = lv.handler_names();
    if let Some(missing) = handlers::NAMES
        .into_iter()
        .find(|name| !registered.contains(name))
    {
        return Err(Error::MissingHandler(missing));
    }
    stats::spawn(
        lv.channels(),
        lv.templates().clone(),
        app.clone(),
        config.stats_interval,
    );
    visitors::spawn(presence, lv.channels(), app.pages.clone());
    let router = pages::router(pages::Site {
        templates: lv.templates().clone(),
        templates_dir: config.templates_dir,
        channels: lv.channels(),
        app: app.clone(),
    })
    .merge(lv.router());
    let router = match config.exporter {
        Some(exporter) => router.merge(exporter.router()),
        None => router,
    };
    let router = csp::protect(router, config.metrics);
    Ok(App {
        router,
        lv,
        state: app,
    })
}

/// Runs when a page's socket opens and each time it reconnects: the one
/// hook of the demo (anything else a connection needs on opening goes here
/// too). Joins this node's pages, for the figures and the visitors count,
/// and tracks the visitor.
async fn on_connect(ctx: Ctx) -> liveview::Result<()> {
    let app: AppState = ctx
        .app_state()
        .ok_or_else(|| liveview::Error::msg("no AppState"))?;
    // Joined before tracking: the count pushed for this arrival reaches it.
    ctx.join(&app.pages).await?;
    visitors::track(&ctx, &app.presence).await
}
