//! The handler context: the connection an event came from, and the ways to
//! reach it and others.

use std::any::{Any, TypeId};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use http::HeaderMap;
use http::request::Parts;
use liveview_protocol::{BROADCAST_GROUP, Patch};
use serde::Serialize;

use crate::channels::{Channels, event_frame, push_frame};
use crate::layer::SendError;
use crate::layer::{ConnId, Mailbox};
use crate::services::Services;
use crate::session::PortableStates;
use crate::templates::TemplateError;
use crate::upload::UploadProgress;

/// The context of an event: which connection sent it, and what a handler can
/// do about that connection and the others.
///
/// `Ctx` is cheap to clone and `'static`: move a clone into a spawned task to
/// send to the caller later.
///
/// ```
/// use std::time::Duration;
/// use liveview::{Ctx, Patch};
///
/// async fn start_job(ctx: Ctx) -> Patch {
///     let later = ctx.clone();
///     tokio::spawn(async move {
///         tokio::time::sleep(Duration::from_millis(10)).await;
///         let _ = later.send(Patch::html("#status", "done"));
///     });
///     Patch::html("#status", "working…")
/// }
/// # let _ = liveview::LiveView::builder().handler("start_job", start_job);
/// ```
#[derive(Clone)]
pub struct Ctx {
    conn: Arc<Connection>,
    services: Arc<Services>,
}

/// What the server keeps for one open connection.
pub(crate) struct Connection {
    pub(crate) id: ConnId,
    pub(crate) room: Box<str>,
    /// The claims of a signed room (verified at the upgrade).
    room_claims: Option<Box<str>>,
    pub(crate) request: Parts,
    pub(crate) mailbox: Mailbox,
    /// Per-connection typed state (the app's).
    state: Mutex<Slots>,
    /// Progress of the connection's open uploads, published by its socket task.
    upload_progress: Mutex<Vec<UploadProgress>>,
    /// The groups it joined through its `Ctx` (tags included): what a
    /// session's snapshot carries to another process.
    /// With when each was joined (ms since the Unix epoch).
    groups: Mutex<Vec<(Box<str>, u64)>>,
    /// The framework's own per-connection state that never travels with a
    /// session (presence guards): not the app's, not in snapshots.
    local: Mutex<Slots>,
}

/// Typed values by type; a `Vec` because connections hold few types and an
/// empty `Vec` costs no allocation.
type Slots = Vec<(TypeId, Box<dyn Any + Send>)>;

/// Runs `f` on the value of type `T` among `slots`, made with
/// `T::default()` on first use.
fn with_slot<T: Default + Send + 'static, R>(
    slots: &Mutex<Slots>,
    f: impl FnOnce(&mut T) -> R,
) -> R {
    let mut slots = slots.lock().unwrap_or_else(PoisonError::into_inner);
    let index = match slots.iter().position(|(id, _)| *id == TypeId::of::<T>()) {
        Some(index) => index,
        None => {
            slots.push((TypeId::of::<T>(), Box::new(T::default())));
            slots.len() - 1
        }
    };
    match slots[index].1.downcast_mut::<T>() {
        Some(state) => f(state),
        // The slot was stored under T's own TypeId, so it holds a T.
        None => f(&mut T::default()),
    }
}

impl Connection {
    pub(crate) fn new(id: ConnId, room: Box<str>, request: Parts, mailbox: Mailbox) -> Self {
        Connection {
            id,
            room,
            room_claims: None,
            request,
            mailbox,
            state: Mutex::new(Vec::new()),
            upload_progress: Mutex::new(Vec::new()),
            groups: Mutex::new(Vec::new()),
            local: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on the framework's node-local state of type `T`.
    pub(crate) fn with_local_state<T: Default + Send + 'static, R>(
        &self,
        f: impl FnOnce(&mut T) -> R,
    ) -> R {
        with_slot(&self.local, f)
    }

    /// Its portable state (and whether all of it is) and its groups, for a
    /// snapshot.
    pub(crate) fn portable_parts(
        &self,
        portable: &PortableStates,
    ) -> (
        BTreeMap<String, serde_json::Value>,
        bool,
        Vec<(String, u64)>,
    ) {
        let (states, all) =
            portable.save(&self.state.lock().unwrap_or_else(PoisonError::into_inner));
        let groups = self
            .groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(group, joined)| (group.to_string(), *joined))
            .collect();
        (states, all, groups)
    }

    /// Puts back the state of a snapshot (before the connection is shared).
    pub(crate) fn restore_state(&self, slots: Vec<(TypeId, Box<dyn Any + Send>)>) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = slots;
    }

    /// Remembers a group joined (or left), for snapshots.
    pub(crate) fn note_group(&self, group: &str, joined: bool) {
        if joined {
            self.note_group_since(group, unix_ms());
        } else {
            let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
            groups.retain(|(g, _)| **g != *group);
        }
    }

    /// Remembers a group joined at `since` (ms since the Unix epoch; a
    /// group joined before keeps its first time).
    pub(crate) fn note_group_since(&self, group: &str, since: u64) {
        let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        if !groups.iter().any(|(g, _)| **g == *group) {
            groups.push((group.into(), since));
        }
    }

    /// When it joined `group` (ms since the Unix epoch), if it did.
    pub(crate) fn joined(&self, group: &str) -> Option<u64> {
        let groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        groups.iter().find(|(g, _)| **g == *group).map(|(_, t)| *t)
    }

    /// The claims of its signed room, verified at the upgrade.
    pub(crate) fn with_room_claims(mut self, claims: Option<Box<str>>) -> Self {
        self.room_claims = claims;
        self
    }

    /// Replaces what [`Ctx::upload_progress`] reports.
    pub(crate) fn publish_upload_progress(&self, progress: Vec<UploadProgress>) {
        *self
            .upload_progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = progress;
    }
}

impl Ctx {
    pub(crate) fn new(conn: Arc<Connection>, services: Arc<Services>) -> Self {
        Ctx { conn, services }
    }

    /// The connection this context is about (for the socket task).
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// This connection's id (to send to it from elsewhere with
    /// [`Channels::send_to`]).
    pub fn id(&self) -> ConnId {
        self.conn.id
    }

    /// The room of the connection (from its URL `/ws/liveview/{room}/`).
    /// The connection is a member of the room's group,
    /// [`room_group(room)`](crate::room_group) (not of a group named as the
    /// room: the client chooses it); send to it with
    /// [`send_room`](Self::send_room).
    pub fn room(&self) -> &str {
        &self.conn.room
    }

    /// The claims of the connection's room when it is signed (verified at
    /// the upgrade; `""` for a signed room without claims), `None` for an
    /// unsigned room. See [`rooms`](crate::rooms).
    ///
    /// ```
    /// use liveview::{Ctx, Error, Patch};
    ///
    /// async fn my_orders(ctx: Ctx) -> Result<Patch, Error> {
    ///     // The page was rendered with `{{ liveview_room(user_id) }}`.
    ///     let user = ctx.room_claims().ok_or_else(|| Error::user("Please sign in"))?;
    ///     Ok(Patch::html("#orders", format!("orders of {user}")))
    /// }
    /// # let _ = liveview::LiveView::builder().handler("my_orders", my_orders);
    /// ```
    pub fn room_claims(&self) -> Option<&str> {
        self.conn.room_claims.as_deref()
    }

    /// The HTTP request that opened the WebSocket: URI, headers, extensions
    /// set by middleware.
    pub fn request(&self) -> &Parts {
        &self.conn.request
    }

    /// The headers of the request that opened the WebSocket.
    pub fn headers(&self) -> &HeaderMap {
        &self.conn.request.headers
    }

    /// The value of a cookie sent with the request that opened the WebSocket.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers()
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|header| header.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.trim_matches('"'))
    }

    /// True when the app runs in debug mode.
    pub fn is_debug(&self) -> bool {
        self.services.debug
    }

    /// Sends a patch to this connection now (not as a reply: without `ref`).
    /// Works from spawned tasks for as long as the connection is open.
    ///
    /// # Errors
    /// [`SendError::Closed`] once the connection has closed,
    /// [`SendError::TooLarge`] when the patch is larger than
    /// `Limits::max_outgoing_frame_bytes` (it is dropped; the connection
    /// stays open).
    pub fn send(&self, patch: Patch) -> Result<(), SendError> {
        let frame = push_frame(&patch, self.services.max_outgoing_frame_bytes)?;
        if self.conn.mailbox.deliver(frame) {
            Ok(())
        } else {
            Err(SendError::Closed)
        }
    }

    /// True while the connection is open.
    pub fn is_connected(&self) -> bool {
        !self.conn.mailbox.is_closed()
    }

    /// Sends a patch to every connection of every node.
    ///
    /// # Errors
    /// When the channel layer's backend fails.
    pub async fn broadcast(&self, patch: Patch) -> Result<(), SendError> {
        self.group_send(BROADCAST_GROUP, patch).await
    }

    /// Sends a patch to every member of a group (an app's group; for the
    /// connection's room, [`send_room`](Self::send_room)).
    ///
    /// # Errors
    /// When the channel layer's backend fails, or the patch is too large
    /// ([`SendError::TooLarge`]: sent to nobody).
    pub async fn group_send(&self, group: &str, patch: Patch) -> Result<(), SendError> {
        let frame = push_frame(&patch, self.services.max_outgoing_frame_bytes)?;
        self.services.layer.group_send(group, frame).await
    }

    /// Sends a patch to every connection of this connection's room (this
    /// one included), on every node.
    ///
    /// ```
    /// use liveview::{Ctx, Patch, Result};
    ///
    /// async fn ping_room(ctx: Ctx) -> Result<()> {
    ///     ctx.send_room(Patch::append("#log", "<li>ping</li>")).await?;
    ///     Ok(())
    /// }
    /// # let _ = liveview::LiveView::builder().handler("ping_room", ping_room);
    /// ```
    ///
    /// # Errors
    /// As [`group_send`](Self::group_send).
    pub async fn send_room(&self, patch: Patch) -> Result<(), SendError> {
        self.group_send(&crate::rooms::room_group(self.room()), patch)
            .await
    }

    /// Sends a patch to another connection, by id.
    ///
    /// # Errors
    /// [`SendError::Closed`] when that connection is gone,
    /// [`SendError::TooLarge`] when the patch is too large.
    pub async fn send_to(&self, conn: ConnId, patch: Patch) -> Result<(), SendError> {
        let frame = push_frame(&patch, self.services.max_outgoing_frame_bytes)?;
        self.services.layer.send(conn, frame).await
    }

    /// Adds this connection to a group; it leaves it when it closes.
    ///
    /// # Errors
    /// When the channel layer's backend fails.
    pub async fn join(&self, group: &str) -> Result<(), SendError> {
        self.services.layer.group_add(group, self.conn.id).await?;
        self.conn.note_group(group, true);
        Ok(())
    }

    /// Tags this connection (`"user:42"`, `"session:9f2c"`); a connection
    /// may carry several tags, for as long as it lives (a reconnect is a new
    /// connection: tag it again, in
    /// [`on_connect`](crate::LiveViewBuilder::on_connect)).
    /// [`Channels::disconnect_tag`] closes every connection with a tag, on
    /// every node. A tag is a group membership under a reserved name.
    ///
    /// # Errors
    /// When the channel layer's backend fails.
    pub async fn tag(&self, tag: &str) -> Result<(), SendError> {
        let group = crate::channels::tag_group(tag);
        self.services.layer.group_add(&group, self.conn.id).await?;
        self.conn.note_group(&group, true);
        Ok(())
    }

    /// Closes this connection at `at` the way
    /// [`Channels::disconnect_tag`] does, with code 4001, and the browser
    /// reloads the page: for when the session it was opened with expires.
    /// A later call replaces the deadline; the connect guard can set it
    /// too ([`Admission::expire_at`](crate::Admission::expire_at)).
    pub fn expire_at(&self, at: std::time::Instant) {
        // A connection that is gone has nothing left to expire.
        let _ = self.conn.mailbox.expire_at(at);
    }

    /// Removes this connection from a group.
    ///
    /// # Errors
    /// When the channel layer's backend fails.
    pub async fn leave(&self, group: &str) -> Result<(), SendError> {
        self.services
            .layer
            .group_discard(group, self.conn.id)
            .await?;
        self.conn.note_group(group, false);
        Ok(())
    }

    /// A handle to send to connections and groups from anywhere.
    pub fn channels(&self) -> Channels {
        Channels::new(
            Arc::clone(&self.services.layer),
            self.services.max_outgoing_frame_bytes,
        )
    }

    /// Renders a template of the app's template directory with HTML
    /// autoescaping.
    ///
    /// # Errors
    /// When the app has no templates, the template does not exist, or it
    /// fails to render.
    pub fn render<S: Serialize>(&self, name: &str, context: S) -> Result<String, TemplateError> {
        self.services.templates.render(name, context)
    }

    /// How far this connection's open uploads have come.
    pub fn upload_progress(&self) -> Vec<UploadProgress> {
        self.conn
            .upload_progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Application state given to the builder with `.state(..)`.
    pub fn app_state<S: Clone + 'static>(&self) -> Option<S> {
        self.services.states.get::<S>()
    }

    /// Runs `f` on this connection's state of type `T`, created with
    /// `T::default()` on first use. State lives as long as the page's
    /// session: across a lost socket that its client resumes (protocol
    /// version 2), and to other processes for the types registered with
    /// [`session_state`](crate::LiveViewBuilder::session_state) when the
    /// app has a [session backend](crate::LiveViewBuilder::session_backend).
    ///
    /// The state is locked while `f` runs: keep `f` short and do not call
    /// `with_state` for the same connection from inside it.
    ///
    /// ```
    /// use liveview::{Ctx, Patch};
    ///
    /// #[derive(Default)]
    /// struct Counter(u32);
    ///
    /// async fn increment(ctx: Ctx) -> Patch {
    ///     let n = ctx.with_state(|c: &mut Counter| { c.0 += 1; c.0 });
    ///     Patch::html("#count", n.to_string())
    /// }
    /// # let _ = liveview::LiveView::builder().handler("increment", increment);
    /// ```
    pub fn with_state<T, R>(&self, f: impl FnOnce(&mut T) -> R) -> R
    where
        T: Default + Send + 'static,
    {
        with_slot(&self.conn.state, f)
    }

    /// Replaces this connection's state of type `T`.
    pub fn set_state<T: Send + 'static>(&self, value: T) {
        let mut slots = self
            .conn
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        slots.retain(|(id, _)| *id != TypeId::of::<T>());
        slots.push((TypeId::of::<T>(), Box::new(value)));
    }

    /// A copy of this connection's state of type `T`, if it has one.
    ///
    /// Per-connection state (this, [`with_state`](Self::with_state),
    /// [`set_state`](Self::set_state)) is not application state: that is
    /// [`app_state`](Self::app_state) and the [`State`](crate::State)
    /// extractor.
    pub fn connection_state<T: Clone + Send + 'static>(&self) -> Option<T> {
        let slots = self
            .conn
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        slots
            .iter()
            .find(|(id, _)| *id == TypeId::of::<T>())
            .and_then(|(_, value)| value.downcast_ref::<T>().cloned())
    }
}

impl fmt::Debug for Ctx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx")
            .field("id", &self.conn.id)
            .field("room", &self.conn.room)
            .finish_non_exhaustive()
    }
}

/// Events for the page's JavaScript.
impl Ctx {
    /// Sends a named event with a JSON payload to this connection's page:
    /// to its hooks' `handle(name, …)` callbacks and as a `liveview:{name}`
    /// DOM event (see `docs/client.md`). Not a reply: it has no `ref`.
    ///
    /// ```
    /// use liveview::{Ctx, Result};
    /// use serde_json::json;
    ///
    /// async fn refresh_chart(ctx: Ctx) -> Result<()> {
    ///     ctx.push_event("chart:data", json!({"points": [3, 1, 4]}))?;
    ///     Ok(())
    /// }
    /// # let _ = liveview::LiveView::builder().handler("refresh_chart", refresh_chart);
    /// ```
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn push_event(&self, name: &str, payload: serde_json::Value) -> Result<(), SendError> {
        let frame = event_frame(name, &payload, self.services.max_outgoing_frame_bytes)?;
        if self.conn.mailbox.deliver(frame) {
            Ok(())
        } else {
            Err(SendError::Closed)
        }
    }
}

/// Now, in milliseconds since the Unix epoch.
pub(crate) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
