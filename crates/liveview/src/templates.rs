//! minijinja templates with the helpers a live page needs.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::value::Kwargs;
use minijinja::{AutoEscape, Environment, Value};
use minijinja_autoreload::AutoReloader;
use serde::Serialize;

use crate::client;
use crate::rooms::RoomKeys;

/// A template failed to load or render.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct TemplateError(#[from] pub(crate) minijinja::Error);

impl TemplateError {
    /// The underlying minijinja error (with line and template name).
    pub fn inner(&self) -> &minijinja::Error {
        &self.0
    }
}

/// A page route can return the error: it is logged, and the browser gets
/// a plain `500` (the template's source and the error's detail stay on the
/// server).
impl axum::response::IntoResponse for TemplateError {
    fn into_response(self) -> axum::response::Response {
        tracing::error!(error = %self.0, "liveview: a page's template failed");
        (
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "the page could not be rendered",
        )
            .into_response()
    }
}

/// A function that customises the template environment (filters, globals).
pub(crate) type EnvSetup = Arc<dyn Fn(&mut Environment<'static>) + Send + Sync>;

/// The app's templates: a minijinja environment loading a directory, with
/// HTML autoescaping and two helpers:
///
/// - `{{ liveview_script() }}`: the `<script>` tag of the browser client
///   (also available as `liveview_headers()`, Django LiveView's name);
///   `{{ liveview_script(nonce=csp_nonce) }}` gives it a
///   Content-Security-Policy nonce (base64 characters only; anything else
///   fails the render), for a policy of `'nonce-…'` scripts (see
///   docs/security.md, "Content Security Policy");
/// - `{{ liveview_room() }}`: a new unguessable room id (122 random bits),
///   for `<html data-room="{{ liveview_room() }}">`; signed, with an
///   expiry, when the builder has a
///   [`room_secret`](crate::LiveViewBuilder::room_secret), and then
///   `{{ liveview_room(claims) }}` puts claims in it (a user id, up to 48
///   bytes; see [`rooms`](crate::rooms)).
///
/// In debug mode templates are reloaded when their files change.
///
/// Configured with the `LiveView`'s builder
/// ([`templates`](crate::LiveViewBuilder::templates),
/// [`template_env`](crate::LiveViewBuilder::template_env)) and reached with
/// [`LiveView::templates`](crate::LiveView::templates) or
/// [`Ctx::render`](crate::Ctx::render).
///
/// ```
/// let lv = liveview::LiveView::builder().build()?;
/// let html = lv.templates().render_str("<p>{{ name }}</p>", minijinja::context! { name => "<b>" })?;
/// assert_eq!(html, "<p>&lt;b&gt;</p>");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Templates {
    source: Arc<Source>,
    /// The directory templates load from, for [`Templates::sources`].
    dir: Option<Arc<Path>>,
}

enum Source {
    Fixed(Environment<'static>),
    Reloading(AutoReloader),
}

/// Configures [`Templates`] (for the `LiveView`'s builder).
#[derive(Default)]
pub(crate) struct TemplatesBuilder {
    dir: Option<PathBuf>,
    reload: bool,
    setup: Option<EnvSetup>,
    rooms: Option<Arc<RoomKeys>>,
}

impl TemplatesBuilder {
    /// Sign the rooms of `liveview_room()` with these keys (when they hold any).
    pub(crate) fn rooms(mut self, rooms: Arc<RoomKeys>) -> Self {
        self.rooms = Some(rooms).filter(|rooms| rooms.signs());
        self
    }

    /// Load templates from this directory.
    #[must_use]
    pub(crate) fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Reload templates when their files change (for development).
    #[must_use]
    pub(crate) fn reload(mut self, reload: bool) -> Self {
        self.reload = reload;
        self
    }

    pub(crate) fn setup_arc(mut self, setup: Option<EnvSetup>) -> Self {
        self.setup = setup;
        self
    }

    /// Builds the templates.
    pub(crate) fn build(self) -> Templates {
        let TemplatesBuilder {
            dir,
            reload,
            setup,
            rooms,
        } = self;
        let dir_kept: Option<Arc<Path>> = dir.as_deref().map(Arc::from);
        let source = match dir {
            Some(dir) if reload => Source::Reloading(AutoReloader::new(move |notifier| {
                notifier.watch_path(&dir, true);
                Ok(environment(Some(&dir), setup.as_ref(), rooms.clone()))
            })),
            dir => Source::Fixed(environment(dir.as_deref(), setup.as_ref(), rooms)),
        };
        Templates {
            source: Arc::new(source),
            dir: dir_kept,
        }
    }
}

fn environment(
    dir: Option<&Path>,
    setup: Option<&EnvSetup>,
    rooms: Option<Arc<RoomKeys>>,
) -> Environment<'static> {
    let mut env = Environment::new();
    if let Some(dir) = dir {
        env.set_loader(minijinja::path_loader(dir));
    }
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".js") || name.ends_with(".json") {
            AutoEscape::Json
        } else {
            AutoEscape::Html
        }
    });
    env.add_function("liveview_script", script_tag);
    env.add_function("liveview_headers", script_tag);
    env.add_function("liveview_room", move |claims: Option<String>| {
        room_helper(rooms.as_deref(), claims.as_deref())
    });
    if let Some(setup) = setup {
        setup(&mut env);
    }
    env
}

fn script_tag(options: Kwargs) -> Result<Value, minijinja::Error> {
    let nonce: Option<&str> = options.get("nonce")?;
    options.assert_all_used()?;
    match nonce {
        None => Ok(Value::from_safe_string(client::script_tag().to_owned())),
        // Written into the tag as it is: only characters that cannot end
        // the attribute (a nonce is base64, RFC 4648, either alphabet).
        Some(nonce) if is_nonce(nonce) => Ok(Value::from_safe_string(format!(
            "<script src=\"{}\" defer nonce=\"{nonce}\"></script>",
            client::script_url()
        ))),
        Some(_) => Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            "liveview_script: a nonce is base64 (A-Z, a-z, 0-9, +, /, -, _, =), at least one character",
        )),
    }
}

fn is_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'='))
}

/// `liveview_room()`: a signed room with a secret, a random one without
/// (which cannot carry claims).
fn room_helper(rooms: Option<&RoomKeys>, claims: Option<&str>) -> Result<String, minijinja::Error> {
    match (rooms, claims) {
        (Some(rooms), claims) => rooms.sign(claims).map_err(|err| {
            minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, err.to_string())
        }),
        (None, None) => Ok(new_room_id()),
        (None, Some(_)) => Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            crate::rooms::RoomError::NoSecret.to_string(),
        )),
    }
}

/// A new unguessable room id: 32 hex digits of a random (v4) UUID.
///
/// ```
/// let room = liveview::templates::new_room_id();
/// assert_eq!(room.len(), 32);
/// assert_ne!(room, liveview::templates::new_room_id());
/// ```
pub fn new_room_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Templates {
    /// Configure templates.
    pub(crate) fn builder() -> TemplatesBuilder {
        TemplatesBuilder::default()
    }

    /// Renders the named template.
    ///
    /// # Errors
    /// When the template does not exist or fails to render.
    pub fn render<S: Serialize>(&self, name: &str, context: S) -> Result<String, TemplateError> {
        match &*self.source {
            Source::Fixed(env) => Ok(env.get_template(name)?.render(context)?),
            Source::Reloading(reloader) => {
                let env = reloader.acquire_env()?;
                Ok(env.get_template(name)?.render(context)?)
            }
        }
    }

    /// Renders the named template as an HTML page: what a page route
    /// returns (a failure is logged and answered with `500`).
    ///
    /// ```
    /// use axum::response::Html;
    /// use liveview::templates::{TemplateError, Templates};
    ///
    /// async fn index(templates: Templates) -> Result<Html<String>, TemplateError> {
    ///     templates.page("index.html", liveview::context! { title => "Home" })
    /// }
    /// ```
    ///
    /// # Errors
    /// When the template does not exist or fails to render.
    pub fn page<S: Serialize>(
        &self,
        name: &str,
        context: S,
    ) -> Result<axum::response::Html<String>, TemplateError> {
        self.render(name, context).map(axum::response::Html)
    }

    /// Renders a template given as a string (HTML-escaped).
    ///
    /// # Errors
    /// When the template fails to parse or render.
    pub fn render_str<S: Serialize>(
        &self,
        source: &str,
        context: S,
    ) -> Result<String, TemplateError> {
        match &*self.source {
            Source::Fixed(env) => Ok(env.render_named_str("inline.html", source, context)?),
            Source::Reloading(reloader) => {
                let env = reloader.acquire_env()?;
                Ok(env.render_named_str("inline.html", source, context)?)
            }
        }
    }
}

impl Templates {
    /// Every template's name and source: the files of the template
    /// directory and the templates added to the environment (for
    /// `LiveView::check_templates`).
    pub(crate) fn sources(&self) -> Vec<(String, String)> {
        let mut found = Vec::new();
        if let Some(dir) = &self.dir {
            read_dir_sources(dir, dir, &mut found);
        }
        let mut add = |env: &Environment<'_>| {
            for (name, template) in env.templates() {
                if !found.iter().any(|(known, _)| known == name) {
                    found.push((name.to_owned(), template.source().to_owned()));
                }
            }
        };
        match &*self.source {
            Source::Fixed(env) => add(env),
            Source::Reloading(reloader) => {
                if let Ok(env) = reloader.acquire_env() {
                    add(&env);
                }
            }
        }
        found
    }
}

/// The UTF-8 files under `dir`, named by their path relative to `root`.
fn read_dir_sources(root: &Path, dir: &Path, found: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            read_dir_sources(root, &path, found);
        } else if let Ok(source) = std::fs::read_to_string(&path) {
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            found.push((name, source));
        }
    }
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &*self.source {
            Source::Fixed(_) => "fixed",
            Source::Reloading(_) => "reloading",
        };
        f.debug_struct("Templates").field("source", &kind).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_emit_script_tag_and_room() {
        let templates = Templates::builder().build();
        let html = templates
            .render_str("{{ liveview_script() }}|{{ liveview_room() }}", ())
            .unwrap();
        let (tag, room) = html.split_once('|').unwrap();
        assert_eq!(tag, client::script_tag());
        assert!(tag.starts_with("<script src=\"/liveview/liveview."));
        assert_eq!(room.len(), 32);
        assert!(room.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn the_script_tag_takes_a_csp_nonce_and_nothing_that_could_end_the_attribute() {
        let templates = Templates::builder().build();
        let tag = templates
            .render_str(
                "{{ liveview_script(nonce=n) }}",
                minijinja::context! { n => "r4nd0m+/_-==" },
            )
            .unwrap();
        assert_eq!(
            tag,
            format!(
                "<script src=\"{}\" defer nonce=\"r4nd0m+/_-==\"></script>",
                client::script_url()
            )
        );
        for bad in ["", "x\" onload=\"alert(1)", "a b", "<"] {
            let err = templates
                .render_str(
                    "{{ liveview_script(nonce=n) }}",
                    minijinja::context! { n => bad },
                )
                .unwrap_err();
            assert!(
                err.to_string().contains("a nonce is base64"),
                "{bad:?}: {err}"
            );
        }
        let err = templates
            .render_str("{{ liveview_script(nonse='abc') }}", ())
            .unwrap_err();
        assert!(err.to_string().contains("nonse"), "{err}");
    }

    #[test]
    fn loads_and_escapes_directory_templates() {
        let dir = std::env::temp_dir().join(format!("lv-templates-{}", new_room_id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("item.html"), "<li>{{ title }}</li>").unwrap();
        for reload in [false, true] {
            let templates = Templates::builder().dir(&dir).reload(reload).build();
            let html = templates
                .render("item.html", minijinja::context! { title => "<script>" })
                .unwrap();
            assert_eq!(html, "<li>&lt;script&gt;</li>");
            assert!(templates.render("missing.html", ()).is_err());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reloading_templates_follow_their_files() {
        let dir = std::env::temp_dir().join(format!("lv-templates-{}", new_room_id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("page.html"), "before").unwrap();
        let templates = Templates::builder().dir(&dir).reload(true).build();
        assert_eq!(templates.render("page.html", ()).unwrap(), "before");
        std::fs::write(dir.join("page.html"), "after").unwrap();
        // The file watcher reports the change asynchronously.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while templates.render("page.html", ()).unwrap() != "after" {
            assert!(
                std::time::Instant::now() < deadline,
                "the template was never reloaded"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let fixed = Templates::builder().dir(&dir).reload(false).build();
        assert_eq!(fixed.render("page.html", ()).unwrap(), "after");
        std::fs::write(dir.join("page.html"), "changed again").unwrap();
        assert_eq!(
            fixed.render("page.html", ()).unwrap(),
            "after",
            "without reload, the first load stays"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
