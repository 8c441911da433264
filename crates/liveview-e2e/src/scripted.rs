//! A scripted app for the end-to-end tests of the browser client: a real
//! liveview server on a loopback port whose handlers record every event they
//! receive (so tests assert on what the server saw) and answer with whatever
//! the test scripted, pages served over plain HTTP that the test can change
//! at any time, and a server that can be stopped and started again on the
//! same port.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Page;
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use liveview::{Ctx, Event, LiveView, Patch, Reply};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

/// How long a test waits for the server to see something.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// What a handler answers: patches, or a user-facing error message.
pub type Answer = Result<Vec<Patch>, String>;
type Responder = Arc<dyn Fn(&Value) -> Answer + Send + Sync>;

struct Shared {
    /// Every event handled, in arrival order: function, data, form, lang,
    /// the room of the connection (`ctx.room()`) and the event's own `room`.
    events: Mutex<Vec<Value>>,
    responders: Mutex<HashMap<String, Responder>>,
    /// Functions that wait for [`App::release`] before answering.
    held: Mutex<Vec<String>>,
    gate: Semaphore,
    /// Path (with query) → full HTML document.
    pages: Mutex<HashMap<String, String>>,
    /// Paths requested over HTTP, in order.
    hits: Mutex<Vec<String>>,
}

/// A liveview server for end-to-end tests.
pub struct App {
    /// Where it listens (the same port across restarts).
    pub addr: SocketAddr,
    lv: LiveView,
    functions: Vec<&'static str>,
    shared: Arc<Shared>,
    server: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl App {
    /// Serves `functions` (each records its event and answers as scripted,
    /// by default with no patch) and the pages set with [`App::page`].
    pub async fn start(functions: &[&'static str]) -> App {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut app = App {
            addr: listener.local_addr().unwrap(),
            lv: LiveView::builder().auto_register(false).build().unwrap(),
            functions: functions.to_vec(),
            shared: Arc::new(Shared {
                events: Mutex::default(),
                responders: Mutex::default(),
                held: Mutex::default(),
                gate: Semaphore::new(0),
                pages: Mutex::default(),
                hits: Mutex::default(),
            }),
            server: None,
        };
        app.serve(listener);
        app
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let mut builder = LiveView::builder().auto_register(false);
        for &name in &self.functions {
            let shared = Arc::clone(&self.shared);
            builder = builder.handler(name, move |ctx: Ctx, event: Event| {
                let shared = Arc::clone(&shared);
                async move { handle(&shared, &ctx, event).await }
            });
        }
        self.lv = builder.build().unwrap();
        let shared = Arc::clone(&self.shared);
        let router: axum::Router = axum::Router::new()
            .fallback(move |uri: Uri| {
                let shared = Arc::clone(&shared);
                async move { page(&shared, &uri) }
            })
            .merge(self.lv.router());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            liveview::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        self.server = Some((stop, task));
    }

    /// The URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The current server's `LiveView`.
    pub fn lv(&self) -> &LiveView {
        &self.lv
    }

    /// Stops the server: sockets close with 1012 and the port stops
    /// accepting connections.
    pub async fn stop(&mut self) {
        self.lv.shutdown();
        assert!(
            self.lv.drain(PATIENCE).await,
            "sockets still open after shutdown"
        );
        if let Some((stop, task)) = self.server.take() {
            let _ = stop.send(());
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    /// Starts a new server (a new `LiveView`, same handlers, same pages) on
    /// the same port.
    pub async fn restart(&mut self) {
        assert!(self.server.is_none(), "stop the server first");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(err) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "cannot bind {} again: {err}",
                        self.addr
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        self.serve(listener);
    }

    /// Serves a page at `path`: `<html {html_attrs}>` with a `<title>`,
    /// the client's script tag, and `body`.
    pub fn page(&self, path: &str, html_attrs: &str, title: &str, body: &str) {
        let html = document(html_attrs, title, body);
        self.shared
            .pages
            .lock()
            .unwrap()
            .insert(path.to_owned(), html);
    }

    /// Serves a page in a fresh room (`data-room`), titled "Test"; returns
    /// its URL.
    pub fn room_page(&self, path: &str, body: &str) -> String {
        let room = liveview::templates::new_room_id();
        self.page(
            path,
            &format!(r#"lang="en" data-room="{room}""#),
            "Test",
            body,
        );
        self.url(path)
    }

    /// The paths requested over HTTP so far.
    pub fn hits(&self) -> Vec<String> {
        self.shared.hits.lock().unwrap().clone()
    }

    /// Answers `function` with these patches (each time).
    pub fn reply(&self, function: &str, patches: Vec<Patch>) {
        self.respond(function, move |_| Ok(patches.clone()));
    }

    /// Answers `function` with the result of `f` on the recorded event.
    pub fn respond(&self, function: &str, f: impl Fn(&Value) -> Answer + Send + Sync + 'static) {
        self.shared
            .responders
            .lock()
            .unwrap()
            .insert(function.to_owned(), Arc::new(f));
    }

    /// Makes `function` wait for a [`App::release`] before it answers.
    pub fn hold(&self, function: &str) {
        self.shared.held.lock().unwrap().push(function.to_owned());
    }

    /// Lets one held event answer.
    pub fn release(&self) {
        self.shared.gate.add_permits(1);
    }

    /// The events received so far, in order.
    pub fn events(&self) -> Vec<Value> {
        self.shared.events.lock().unwrap().clone()
    }

    /// The events of `function` received so far.
    pub fn events_of(&self, function: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["function"] == function)
            .collect()
    }

    /// Forgets the events received so far.
    pub fn clear_events(&self) {
        self.shared.events.lock().unwrap().clear();
    }

    /// Waits until `function` has received `n` events; returns them.
    pub async fn wait_events(&self, function: &str, n: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let events = self.events_of(function);
            if events.len() >= n {
                return events;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{function} received {} events, expected {n}; all events: {:#?}",
                events.len(),
                self.events()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits for `function`'s single event, then checks for `settle` that no
    /// other one follows.
    pub async fn one_event(&self, function: &str, settle: Duration) -> Value {
        self.wait_events(function, 1).await;
        tokio::time::sleep(settle).await;
        let events = self.events_of(function);
        assert_eq!(
            events.len(),
            1,
            "{function}: expected one event, got {events:#?}"
        );
        events.into_iter().next().unwrap()
    }

    /// Asserts that `function` received no event.
    pub fn assert_no_event(&self, function: &str) {
        let events = self.events_of(function);
        assert!(
            events.is_empty(),
            "{function}: expected no event, got {events:#?}"
        );
    }

    /// Waits until the server counts `n` open sockets.
    pub async fn wait_connections(&self, n: usize) {
        crate::wait_connections(&self.lv, n, PATIENCE).await;
    }
}

async fn handle(shared: &Shared, ctx: &Ctx, event: Event) -> Result<Reply, liveview::Error> {
    let record = json!({
        "function": event.function,
        "data": event.data,
        "form": event.form,
        "lang": event.lang,
        "room": ctx.room(),
        "event_room": event.room,
    });
    shared.events.lock().unwrap().push(record.clone());
    let held = shared.held.lock().unwrap().contains(&event.function);
    if held {
        shared.gate.acquire().await.unwrap().forget();
    }
    let responder = shared
        .responders
        .lock()
        .unwrap()
        .get(&event.function)
        .cloned();
    match responder.map(|f| f(&record)) {
        None => Ok(Reply::none()),
        Some(Ok(patches)) => Ok(Reply::patches_from(patches)),
        Some(Err(message)) => Err(liveview::Error::user(message)),
    }
}

fn page(shared: &Shared, uri: &Uri) -> Response {
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    shared.hits.lock().unwrap().push(path.clone());
    match shared.pages.lock().unwrap().get(&path) {
        Some(html) => Html(html.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no page {path}")).into_response(),
    }
}

/// A full page. A first inline script records uncaught errors and the
/// client's warnings in `window.__errors` / `window.__warnings`, counts
/// applied frames in `window.__patched` and keeps the details of
/// `liveview:error` events in `window.__lvErrors`.
pub fn document(html_attrs: &str, title: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html><html {html_attrs}><head><meta charset="utf-8"><title>{title}</title>
<script>
window.__errors = []; window.__warnings = []; window.__lvErrors = []; window.__patched = 0;
document.addEventListener('liveview:patched', () => __patched++);
document.addEventListener('liveview:error', (e) => __lvErrors.push(e.detail));
addEventListener('error', (e) => __errors.push(String(e.message)));
const warn = console.warn.bind(console);
console.warn = (...a) => {{ __warnings.push(a.map(String).join(' ')); warn(...a); }};
</script>
{script}</head><body>{body}</body></html>"#,
        script = liveview::client::script_tag()
    )
}

/// Helpers on a page.
#[allow(async_fn_in_trait)]
pub trait PageExt {
    /// Runs `script` and returns its result as a string (JSON for other values).
    async fn eval_string(&self, script: &str) -> String;
    /// Runs `script` and returns its result as a bool (fails otherwise).
    async fn eval_bool(&self, script: &str) -> bool;
    /// Fails when a script of the page threw.
    async fn assert_no_js_errors(&self);
    /// Sends keys to the element (WebDriver key codes for special keys).
    async fn keys(&self, css: &str, keys: &str);
}

impl PageExt for Page {
    async fn eval_string(&self, script: &str) -> String {
        match self.eval(script).await {
            Value::String(s) => s,
            other => other.to_string(),
        }
    }

    async fn eval_bool(&self, script: &str) -> bool {
        let value = self.eval(script).await;
        value
            .as_bool()
            .unwrap_or_else(|| panic!("{script} returned {value}, not a bool"))
    }

    async fn assert_no_js_errors(&self) {
        let errors = self.eval("return window.__errors || []").await;
        assert_eq!(errors, json!([]), "uncaught errors in the page");
    }

    async fn keys(&self, css: &str, keys: &str) {
        self.type_into(css, keys).await;
    }
}

/// WebDriver key codes.
#[allow(missing_docs)]
pub mod key {
    pub const ENTER: &str = "\u{E007}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub const SHIFT: &str = "\u{E008}";
    pub const CONTROL: &str = "\u{E009}";
    pub const ALT: &str = "\u{E00A}";
    /// Releases the modifiers held so far.
    pub const NULL: &str = "\u{E000}";
    pub const ARROW_LEFT: &str = "\u{E012}";
    pub const ARROW_DOWN: &str = "\u{E015}";
}

/// Sets `function`'s answer, clicks `button` (which sends it) and waits
/// until the client applied the answering frame.
pub async fn click_and_apply(
    app: &App,
    page: &Page,
    button: &str,
    function: &str,
    patches: Vec<Patch>,
) {
    app.reply(function, patches);
    let before = page.eval("return window.__patched").await.as_u64().unwrap();
    page.click(button).await;
    page.wait_until(&format!("return window.__patched > {before}"))
        .await;
}
