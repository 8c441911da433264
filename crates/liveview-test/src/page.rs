//! One open page: its DOM, its URL and title, its socket, and what the
//! server sent it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ego_tree::NodeId;
use liveview::protocol::ServerMessage;
use serde_json::Value;

use crate::dom::Dom;
use crate::error::TestError;
use crate::file::UploadFile;
use crate::http::{self, Cookies};
use crate::socket::{Incoming, Socket};

/// How long an action waits for its answer unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

const DEFAULT_SOCKET: &str = "/ws/liveview/{room}/?v=1";

/// An error frame the server sent this page.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorFrame {
    /// The function it is about (the frame's, else the event's).
    pub function: String,
    /// Its `code` (`unknown_function`, `handler_error`, …), or `""`.
    pub code: String,
    /// Its message.
    pub message: String,
    /// The element whose event it answers, as `<tag id=…>`; `""` when it answers none.
    pub element: String,
}

/// An event sent and not answered yet.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) element: String,
    pub(crate) function: String,
    pub(crate) form: Option<NodeId>,
}

/// A page of the app, opened by [`TestApp::open`](crate::TestApp::open):
/// its HTML parsed into a DOM that the server's patches change, and its
/// socket connected.
///
/// Actions ([`click`](TestPage::click), [`fill`](TestPage::fill),
/// [`submit`](TestPage::submit), …) fire DOM events on an element and
/// send the events `liveview.js` would send; each returns once the server
/// has answered them. Readers ([`text`](TestPage::text),
/// [`html`](TestPage::html), …) first apply what the server pushed since.
#[derive(Debug)]
pub struct TestPage {
    pub(crate) addr: SocketAddr,
    pub(crate) cookies: Arc<Mutex<Cookies>>,
    pub(crate) dom: Dom,
    pub(crate) path: String,
    pub(crate) room: String,
    pub(crate) socket: Socket,
    pub(crate) last_ref: u64,
    pub(crate) pending: HashMap<u64, Pending>,
    pub(crate) answered: HashMap<u64, Option<ErrorFrame>>,
    pub(crate) errors: Vec<ErrorFrame>,
    pub(crate) warnings: Vec<String>,
    pub(crate) sent: Vec<Value>,
    pub(crate) seen: HashSet<NodeId>,
    pub(crate) to_init: Vec<NodeId>,
    pub(crate) files: HashMap<NodeId, Vec<UploadFile>>,
    pub(crate) upload_frames: VecDeque<ServerMessage>,
    pub(crate) last_upload_id: u32,
    pub(crate) pushes: u64,
    pub(crate) push_cursor: u64,
    pub(crate) closed: Option<(u16, String)>,
    pub(crate) honour_debounce: bool,
    pub(crate) throttled: HashMap<NodeId, tokio::time::Instant>,
    pub(crate) timeout: Duration,
    pub(crate) error_boxes: HashMap<NodeId, bool>,
}

fn encode_room(room: &str) -> String {
    room.bytes()
        .map(|b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl TestPage {
    /// GETs `path` (following redirects), parses it, connects its socket
    /// and sends its `data-liveview-init` events.
    pub(crate) async fn open(
        addr: SocketAddr,
        cookies: Arc<Mutex<Cookies>>,
        path: &str,
    ) -> Result<TestPage, TestError> {
        let (path, body) = fetch(addr, &cookies, path).await?;
        let dom = Dom::parse(&body);
        let root = dom.root_id();
        let attr = |name: &str| {
            root.and_then(|root| dom.attr(root, name))
                .filter(|v| !v.is_empty())
        };
        let room = attr("data-room")
            .or_else(|| attr("data-liveview-room-uuid"))
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let socket_path = attr("data-liveview-url")
            .unwrap_or_else(|| DEFAULT_SOCKET.to_owned())
            .replace("{room}", &encode_room(&room));
        let cookie = cookies.lock().map(|c| c.header()).unwrap_or_default();
        let socket = Socket::connect(addr, &http::resolve(&path, &socket_path), cookie).await?;
        let mut page = TestPage {
            addr,
            cookies,
            dom,
            path,
            room,
            socket,
            last_ref: 0,
            pending: HashMap::new(),
            answered: HashMap::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            sent: Vec::new(),
            seen: HashSet::new(),
            to_init: Vec::new(),
            files: HashMap::new(),
            upload_frames: VecDeque::new(),
            last_upload_id: 0,
            pushes: 0,
            push_cursor: 0,
            closed: None,
            honour_debounce: false,
            throttled: HashMap::new(),
            timeout: DEFAULT_TIMEOUT,
            error_boxes: HashMap::new(),
        };
        if let Some(root) = page.dom.root_id() {
            page.hydrate(root);
        }
        page.settle(Vec::new()).await?;
        Ok(page)
    }

    /// Loads another page in this one's place (a full page load: new DOM,
    /// new socket), as following a link does.
    ///
    /// # Errors
    /// As [`TestApp::open`](crate::TestApp::open).
    pub async fn goto(&mut self, path: &str) -> Result<(), TestError> {
        let to = http::resolve(&self.path, path);
        let mut next = TestPage::open(self.addr, Arc::clone(&self.cookies), &to).await?;
        next.honour_debounce = self.honour_debounce;
        next.timeout = self.timeout;
        self.socket.close();
        *self = next;
        Ok(())
    }

    /// Loads the current URL again.
    ///
    /// # Errors
    /// As [`TestApp::open`](crate::TestApp::open).
    pub async fn reload(&mut self) -> Result<(), TestError> {
        let path = self.path.clone();
        self.goto(&path).await
    }

    /// How long actions wait for their answers (5 s by default).
    pub fn set_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }

    /// Whether `data-liveview-debounce` is honoured (the action waits that
    /// long before sending) or skipped (sent at once, the default), and
    /// `data-liveview-throttle` honoured (a second event within the window
    /// is dropped) or skipped.
    pub fn honour_debounce(&mut self, honour: bool) -> &mut Self {
        self.honour_debounce = honour;
        self
    }

    /// Notes elements under `scope` that are new, and queues their init events.
    pub(crate) fn hydrate(&mut self, scope: NodeId) {
        for el in self.dom.subtree(scope) {
            if !self.seen.insert(el) {
                continue;
            }
            if self
                .dom
                .attr(el, "data-liveview-init")
                .is_some_and(|f| !f.is_empty())
            {
                self.to_init.push(el);
            }
        }
    }

    /// Applies every frame that has arrived, without waiting.
    pub(crate) fn drain(&mut self) {
        while let Some(incoming) = self.socket.try_next() {
            self.receive(incoming);
        }
    }

    pub(crate) fn receive(&mut self, incoming: Incoming) {
        match incoming {
            Incoming::Text(text) => self.on_frame(&text),
            Incoming::Closed { code, reason } => self.closed = Some((code, reason)),
        }
    }

    fn on_frame(&mut self, text: &str) {
        let message = match ServerMessage::from_json(text) {
            Ok(message) => message,
            Err(err) => {
                return self
                    .warnings
                    .push(format!("unreadable frame {text:?}: {err}"));
            }
        };
        if message.upload.is_some() {
            return self.upload_frames.push_back(message);
        }
        let reference = message.reference;
        let pending = reference.and_then(|r| self.pending.remove(&r));
        if reference.is_none() {
            self.pushes += 1;
        }
        if let Some(error) = &message.error {
            let frame = ErrorFrame {
                function: message
                    .function
                    .clone()
                    .or_else(|| pending.as_ref().map(|p| p.function.clone()))
                    .unwrap_or_default(),
                code: message
                    .code
                    .map(|c| c.as_str().to_owned())
                    .unwrap_or_default(),
                message: error.clone(),
                element: pending
                    .as_ref()
                    .map(|p| p.element.clone())
                    .unwrap_or_default(),
            };
            if let Some(form) = pending.as_ref().and_then(|p| p.form) {
                self.show_error(form, error);
            }
            self.errors.push(frame.clone());
            if let Some(r) = reference {
                self.answered.insert(r, Some(frame));
            }
            return;
        }
        if let Some(r) = reference {
            self.answered.insert(r, None);
        }
        for patch in message.into_patches() {
            let applied = crate::patch::apply(&mut self.dom, &patch);
            if let Some(warning) = applied.warning {
                self.warnings.push(warning);
            }
            if let Some(url) = applied.url {
                self.path = http::resolve(&self.path, &url);
            }
            if let Some(scope) = applied.scope {
                self.hydrate(scope);
            }
        }
    }

    /// An error frame's message in the form's `[data-liveview-error]` box.
    fn show_error(&mut self, form: NodeId, message: &str) {
        let Ok(Some(boxed)) = self.dom.first("[data-liveview-error]") else {
            return;
        };
        let inside = self.dom.ancestors(boxed).contains(&form);
        if !inside {
            return;
        }
        let hidden = self.dom.has_attr(boxed, "hidden");
        self.error_boxes.entry(boxed).or_insert(hidden);
        self.dom.set_text(boxed, message);
        self.dom.set_attr(boxed, "hidden", None);
    }

    /// Clears the error box of a form before a new event from it.
    pub(crate) fn clear_error(&mut self, form: Option<NodeId>) {
        let Some(form) = form else { return };
        let boxes: Vec<NodeId> = self.error_boxes.keys().copied().collect();
        for boxed in boxes {
            if self.dom.ancestors(boxed).contains(&form) {
                let hidden = self.error_boxes.remove(&boxed).unwrap_or(false);
                self.dom.set_text(boxed, "");
                if hidden {
                    self.dom.set_attr(boxed, "hidden", Some(""));
                }
            }
        }
    }
}

/// GETs a page, following up to five redirects; returns its final path and body.
async fn fetch(
    addr: SocketAddr,
    cookies: &Mutex<Cookies>,
    path: &str,
) -> Result<(String, String), TestError> {
    let mut path = path.to_owned();
    for _ in 0..6 {
        let mut jar = cookies.lock().map(|c| c.clone()).unwrap_or_default();
        let response = http::get(addr, &path, &mut jar).await?;
        if let Ok(mut shared) = cookies.lock() {
            *shared = jar;
        }
        match (response.status, response.location) {
            (300..=399, Some(location)) => path = http::resolve(&path, &location),
            (200..=299, _) => return Ok((path, response.body)),
            (status, _) => {
                let start: String = response.body.chars().take(200).collect();
                return Err(TestError::http(&path, format!("status {status}: {start}")));
            }
        }
    }
    Err(TestError::http(&path, "too many redirects"))
}
