//! One connection's life: read events, run handlers one at a time, write
//! replies and pushed frames, keep the connection alive, close it cleanly.
//!
//! Each connection is a single task. It waits, in order of priority, for
//! the server to shut down, for the running handler to finish, for frames
//! pushed to its mailbox, for the next frame from the client (only while no
//! handler is running: events of one connection are handled in order, and a
//! slow handler pushes back on the client through TCP), and for the
//! liveness timer.
//!
//! - `open`: a new socket's first steps (its id, its groups, its session,
//!   the first frames);
//! - `dispatch`: what a client frame does (an event through its checks to
//!   its handler, an upload request, a chunk), and turning a finished
//!   handler into its answer;
//! - `refusal`: every error frame, in one place;
//! - `io`: writes with timeouts (and the journal of a page session's
//!   frames), close codes, read errors;
//! - `resume`: page sessions (version 2): the session frame, parking a
//!   session whose socket was lost, a new socket taking it over;
//! - `portable`: a page session in the session backend (snapshots, and a
//!   session started again from one).

mod dispatch;
mod io;
mod open;
mod portable;
mod refusal;
mod resume;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Message;
use futures_util::future::Either;
use http::request::Parts;
use liveview_protocol::Dialect;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use self::dispatch::InFlight;
use self::io::{End, Step, Writer, close, overflowed, read_error};
use self::portable::Restored;
use self::resume::{HandOver, Page, PageEvent};
use crate::app::App;
use crate::ctx::Ctx;
use crate::layer::{Control, MailboxReceiver, Outgoing, Signal};
use crate::limits::RateLimiter;
use crate::session::Guard;
use crate::transport::Socket;
use crate::upload::UploadTable;

/// Frames written before a flush when several are queued.
const WRITE_BATCH: usize = 64;

/// How long a shutting-down server lets a page session's event in flight
/// finish before it stores the session for the next process.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A socket the server accepted (a WebSocket, or a long-poll virtual
/// socket), before its task starts.
pub(crate) struct Accepted {
    /// From the URL `/ws/liveview/{room}/`.
    pub(crate) room: Box<str>,
    /// The claims of a signed room, verified at the upgrade.
    pub(crate) room_claims: Option<Box<str>>,
    pub(crate) dialect: Dialect,
    /// The client asked to resume a session (`resume=1`): its first frame
    /// says which.
    pub(crate) resume: bool,
    /// The head of the upgrade request (or of the long-poll opening
    /// `POST`), copied out of hyper's buffer.
    pub(crate) request: Parts,
    /// Flips to true when the server shuts down.
    pub(crate) shutdown: watch::Receiver<bool>,
    /// When the connect guard's admission expires, if it set a deadline.
    pub(crate) deadline: Option<std::time::Instant>,
}

/// Runs one connection until it ends. `guard` is held for as long as it has
/// a socket (it counts the connection).
///
/// Not an `async fn`: a task's future is as large as its largest state, and
/// an async function keeps its arguments for as long as it runs. What the
/// connection opens with (the socket, the request, the guard) travels in a
/// box to [`open`](open::open), which turns it into the [`Session`] and
/// frees it; an idle connection's task holds the session and its loop only.
/// A socket opened to resume a session first reads which one, in a boxed
/// future of its own too.
pub(crate) fn run<G: Send + 'static>(
    socket: Socket,
    app: Arc<App>,
    accepted: Accepted,
    guard: G,
) -> impl Future<Output = ()> + Send {
    let resume = accepted.dialect.has_sessions() && accepted.resume;
    let opening = Box::new(Opening {
        socket,
        app,
        accepted,
        guard: Box::new(guard),
    });
    if !resume {
        return Either::Left(start(opening, Beginning::Fresh(None)));
    }
    Either::Right(Box::pin(async move {
        // Boxed, as the opening: the task that goes on keeps neither.
        if let Some((opening, beginning)) = Box::pin(hand_over(opening)).await {
            start(opening, beginning).await;
        }
    }))
}

/// What a connection opens with, until [`open`](open::open) makes its
/// session of it.
struct Opening {
    socket: Socket,
    app: Arc<App>,
    accepted: Accepted,
    guard: Guard,
}

/// Reads the first frame of a socket opened to resume a session and hands
/// the socket over: to the session's task in this process (`None`: nothing
/// more to do here), or back, to begin a session restored from a snapshot
/// or, when it could not be resumed, a fresh one.
async fn hand_over(opening: Box<Opening>) -> Option<(Box<Opening>, Beginning)> {
    let Opening {
        socket,
        app,
        accepted,
        guard,
    } = *opening;
    let (socket, guard, beginning) = match resume::hand_over(socket, guard, &app, &accepted.room)
        .await
    {
        HandOver::Done => return None,
        HandOver::Fresh(socket, guard, refusal) => (socket, guard, Beginning::Fresh(Some(refusal))),
        HandOver::Restore(socket, guard, restored) => {
            (socket, guard, Beginning::Restored(restored))
        }
    };
    let opening = Opening {
        socket,
        app,
        accepted,
        guard,
    };
    Some((Box::new(opening), beginning))
}

/// How a connection's session begins.
enum Beginning {
    /// A new session; with why the one its client asked for was not resumed.
    Fresh(Option<liveview_protocol::ResumeRefusal>),
    /// The session of a snapshot another process wrote.
    Restored(Box<Restored>),
}

/// Runs a session on its socket until it ends.
async fn start(opening: Box<Opening>, beginning: Beginning) {
    // Boxed: its state (the opening, the joins, the first frames) is over
    // before the loop starts, and would otherwise stay in every task.
    let open::Opened {
        mut session,
        outbox,
        shutdown,
        connected,
        _open,
    } = Box::pin(open::open(opening, beginning)).await;
    let end = match connected {
        Ok(()) => session.serve(outbox, shutdown).await,
        Err(end) => end,
    };
    if matches!(end, End::Close(close::RESTART, _)) {
        // For the process that replaces this one.
        Box::pin(session.save_for_shutdown()).await;
    }
    crate::telemetry::connection_closed(end.code());
    match end {
        End::Close(code, reason) => Box::pin(session.writer.close(code, reason)).await,
        End::SessionEnded(redirect) => {
            let reason = axum::extract::ws::Utf8Bytes::from(String::from(redirect));
            Box::pin(session.writer.close_with(close::SESSION_ENDED, reason)).await;
        }
        End::Gone | End::Lost => {}
    }
    session.forget_snapshot();
    let app = Arc::clone(&session.app);
    if let Some(page) = &mut session.page {
        page.end(&app);
    }
    let id = session.ctx.id();
    app.services.layer.detach(id).await;
    drop(session);
    tracing::debug!(%id, "liveview: disconnected");
}

/// The state of one connection's task.
struct Session {
    writer: Writer,
    app: Arc<App>,
    ctx: Ctx,
    dialect: Dialect,
    limiter: Option<RateLimiter>,
    /// What every client frame spends (`Limits::frame_budget`).
    budget: Option<RateLimiter>,
    /// Boxed: an idle connection holds only the pointer's slot.
    in_flight: Option<Box<InFlight>>,
    last_seen: Instant,
    /// Created on the first upload: most connections never upload.
    uploads: Option<Box<UploadTable>>,
    /// When the session ends (`Ctx::expire_at`, `Admission::expire_at`).
    deadline: Option<Instant>,
    /// A page session's token, state and parking (version 2 only).
    page: Option<Box<Page>>,
    /// Counts the connection while it has a socket.
    guard: Option<Guard>,
}

impl Session {
    async fn serve(
        &mut self,
        mut outbox: MailboxReceiver,
        mut shutdown: watch::Receiver<bool>,
    ) -> End {
        if *shutdown.borrow_and_update() {
            return End::Close(close::RESTART, "server restarting");
        }
        // Created once: a `changed()` future made anew on every turn of the
        // loop would register with the watch channel's one shared waiter
        // list, and every connection woken by a broadcast would contend on it.
        let shutdown = shutdown.changed();
        tokio::pin!(shutdown);
        // One timer, re-armed only when it fires (a frame from the client
        // just moves `last_seen`): it wakes at the next ping or at the idle
        // deadline, whichever comes first, so a silent connection is reaped
        // at `idle_timeout`, not on the first tick after it.
        let liveness = tokio::time::sleep_until(self.next_liveness_check());
        tokio::pin!(liveness);
        // Made only when there is a deadline (most connections have none and
        // do not pay for a timer); re-armed when it changes.
        let mut expiry: Option<Pin<Box<Sleep>>> = self
            .deadline
            .map(|at| Box::pin(tokio::time::sleep_until(at)));
        loop {
            let step = tokio::select! {
                biased;
                _ = &mut shutdown => return Box::pin(self.finish_for_shutdown(&mut outbox)).await,
                completion = dispatch::run_in_flight(&mut self.in_flight), if self.in_flight.is_some() => {
                    Box::pin(self.on_completion(completion, &mut outbox)).await
                }
                item = outbox.recv() => match item {
                    Outgoing::Frame(frame) => self.push(frame.into_inner(), &mut outbox).await,
                    Outgoing::Signal(signal) => match *signal {
                        Signal::Overflow => Err(overflowed(self.ctx.id())),
                        Signal::Control(control) => Err(self.on_control(control)),
                        Signal::Expire(at) => {
                            let at = Instant::from_std(at);
                            self.deadline = Some(at);
                            match &mut expiry {
                                Some(sleep) => sleep.as_mut().reset(at),
                                None => expiry = Some(Box::pin(tokio::time::sleep_until(at))),
                            }
                            Ok(())
                        }
                    },
                },
                // Before the socket: a client streaming chunks must not
                // starve its table's sweep.
                () = dispatch::upload_sweep(&mut self.uploads), if self.uploads.as_deref().is_some_and(UploadTable::pending) => {
                    Box::pin(self.expire_uploads()).await
                }
                event = resume::next_event(&mut self.page), if self.page.is_some() => match event {
                    PageEvent::Arrival(resumption) => {
                        let step = Box::pin(self.on_resumption(resumption)).await;
                        liveness.as_mut().reset(self.next_liveness_check());
                        step
                    }
                    PageEvent::WindowClosed => {
                        tracing::debug!(id = %self.ctx.id(), "liveview: resume window closed, session ends");
                        Err(End::Lost)
                    }
                },
                message = self.writer.recv(), if self.in_flight.is_none() && self.writer.is_attached() => {
                    self.last_seen = Instant::now();
                    match message {
                        // The frame pays before any work is done on it.
                        Some(Ok(message)) => match self.charge(&message) {
                            Ok(()) => match message {
                                Message::Text(text) => Box::pin(self.on_text(text.as_str())).await,
                                Message::Binary(chunk) => Box::pin(self.on_chunk(&chunk)).await,
                                Message::Ping(_) | Message::Pong(_) => Ok(()),
                                // tungstenite has queued its answer (the same code,
                                // or 1002 for a code not allowed on the wire).
                                // 1001: the page is gone (a browser sends it when
                                // the page unloads), its session ends; after any
                                // other close it may come back and resume.
                                Message::Close(frame) => {
                                    let _ = self.writer.flush().await;
                                    if frame.is_some_and(|f| f.code == close::GOING_AWAY) {
                                        Err(End::Lost)
                                    } else {
                                        Err(End::Gone)
                                    }
                                }
                            },
                            Err(end) => Err(end),
                        },
                        None => Err(End::Gone),
                        Some(Err(err)) => Err(read_error(&err)),
                    }
                }
                () = expired(&mut expiry), if expiry.is_some() => {
                    tracing::info!(id = %self.ctx.id(), "liveview: session expired, closing");
                    Err(End::SessionEnded("".into()))
                }
                () = &mut liveness, if self.writer.is_attached() => {
                    let step = self.on_tick().await;
                    liveness.as_mut().reset(self.next_liveness_check());
                    step
                }
            };
            match step {
                Ok(()) => {}
                // The socket is lost, not the session: it waits for its client.
                Err(End::Gone) if self.park() => {}
                Err(end) => return end,
            }
        }
    }

    /// The server shuts down. A page session that another process will
    /// resume (there is a backend) first lets an event in flight run to its
    /// end, for at most [`SHUTDOWN_GRACE`], and writes what is queued (its
    /// journal, and so its snapshot, then holds the answer); an event still
    /// running then is dropped and counted as not received, so that the
    /// new process runs its re-sent copy (at least once). Then the socket
    /// is closed with 1012, whatever it does meanwhile: the session is
    /// stored either way.
    async fn finish_for_shutdown(&mut self, outbox: &mut MailboxReceiver) -> End {
        let restart = End::Close(close::RESTART, "server restarting");
        if self.page.is_none() || self.app.session_backend.is_none() {
            return restart;
        }
        if self.in_flight.is_some() {
            let finished =
                tokio::time::timeout(SHUTDOWN_GRACE, dispatch::run_in_flight(&mut self.in_flight))
                    .await;
            match finished {
                Ok(completion) => {
                    if let Err(end) = self.on_completion(completion, outbox).await {
                        return if matches!(end, End::Gone) {
                            restart
                        } else {
                            end
                        };
                    }
                }
                Err(_) => self.drop_in_flight(),
            }
        }
        let _ = self.feed_queued(outbox).await;
        let _ = self.writer.flush().await;
        restart
    }

    /// Writes a pushed frame and whatever else is queued, then flushes once.
    async fn push(
        &mut self,
        text: axum::extract::ws::Utf8Bytes,
        outbox: &mut MailboxReceiver,
    ) -> Step {
        self.feed_pushed(text).await?;
        self.feed_queued(outbox).await?;
        if !self.writer.is_attached() {
            // Parked: the backend's copy gets what its client will miss.
            self.save_parked();
        }
        self.writer.flush().await
    }

    /// Buffers a pushed frame, unless it is over the outgoing limit (or a
    /// copy the session already has, see [`unmark`](Self::unmark)).
    ///
    /// Not an `async fn`: it gives the writer's own future, so that the
    /// task's state holds one copy of the frame, not one per call.
    fn feed_pushed(
        &mut self,
        text: axum::extract::ws::Utf8Bytes,
    ) -> impl Future<Output = Step> + Send + '_ {
        match self.admit_pushed(text) {
            Some(text) => Either::Left(self.writer.feed(text)),
            None => Either::Right(std::future::ready(Ok(()))),
        }
    }

    /// What of a pushed frame to write: its JSON, or nothing.
    ///
    /// `Ctx` and `Channels` refuse a frame over the limit before it reaches
    /// any mailbox; one gets here only from another node with a larger
    /// limit, or a third-party layer. Written, it would fail (the write
    /// buffer is sized for the limit) and drop the connection.
    fn admit_pushed(
        &mut self,
        text: axum::extract::ws::Utf8Bytes,
    ) -> Option<axum::extract::ws::Utf8Bytes> {
        let text = self.unmark(text)?;
        let limit = self.app.limits.max_outgoing_frame_bytes;
        if text.len() > limit {
            tracing::warn!(id = %self.ctx.id(), size = text.len(), limit, "liveview: pushed frame over max_outgoing_frame_bytes, dropped");
            return None;
        }
        Some(text)
    }

    /// Reads a pushed frame's mark off (its place in its group's log, see
    /// `layer::Mark`): the JSON to write, or `None` for a copy of a push
    /// the session already has (replayed after a move, then live). Not
    /// async, so that the mark is not part of the task's state.
    fn unmark(
        &mut self,
        text: axum::extract::ws::Utf8Bytes,
    ) -> Option<axum::extract::ws::Utf8Bytes> {
        let (text, mark) = crate::layer::split_mark(text);
        if let (Some(marked), Some(page)) = (mark, self.page.as_deref_mut()) {
            if page.groups.tracking() {
                let connection = self.ctx.connection();
                // Not one it joined itself: its room's, or `broadcast`.
                let started = page.started_ms;
                let joined = |group: &str| connection.joined(group).unwrap_or(started);
                if !page.groups.admit(marked.group(), marked.mark, joined) {
                    return None;
                }
            }
        }
        Some(text)
    }

    /// Buffers the frames already queued (a batch at most) without flushing.
    async fn feed_queued(&mut self, outbox: &mut MailboxReceiver) -> Step {
        for _ in 0..WRITE_BATCH {
            match outbox.try_recv() {
                Some(Outgoing::Frame(frame)) => {
                    self.feed_pushed(frame.into_inner()).await?;
                }
                Some(Outgoing::Signal(signal)) => match *signal {
                    Signal::Overflow => return Err(overflowed(self.ctx.id())),
                    Signal::Control(control) => return Err(self.on_control(control)),
                    // Rare: written back for the loop to take, behind this batch.
                    Signal::Expire(at) => {
                        let _ = self.ctx.connection().mailbox.expire_at(at);
                        break;
                    }
                },
                None => break,
            }
        }
        Ok(())
    }

    /// A control message from the channel layer: all of them end it.
    fn on_control(&self, control: Control) -> End {
        match control {
            Control::Disconnect { redirect } => {
                tracing::info!(id = %self.ctx.id(), redirect = &*redirect, "liveview: session ended by the server, closing");
                End::SessionEnded(redirect)
            }
        }
    }

    /// Pings a connection silent for a while; closes one silent too long.
    async fn on_tick(&mut self) -> Step {
        let limits = &self.app.limits;
        let silent = self.last_heard().elapsed();
        if silent >= limits.idle_timeout {
            tracing::debug!(id = %self.ctx.id(), ?silent, "liveview: reaping idle connection");
            return Err(End::Close(close::GOING_AWAY, "idle timeout"));
        }
        if silent
            >= limits
                .ping_interval
                .saturating_sub(Duration::from_millis(5))
        {
            self.writer.send(Message::Ping(bytes::Bytes::new())).await?;
        }
        self.touch_snapshot();
        Ok(())
    }

    /// When the liveness timer fires next: when the connection will have
    /// been silent for a ping interval (or a ping interval from now, when it
    /// already has been and was just pinged), or at the idle deadline if
    /// that is sooner.
    fn next_liveness_check(&self) -> Instant {
        let limits = &self.app.limits;
        let now = Instant::now();
        let last_heard = self.last_heard();
        let quiet = last_heard + limits.ping_interval;
        let ping = if quiet > now {
            quiet
        } else {
            now + limits.ping_interval
        };
        ping.min(last_heard + limits.idle_timeout)
    }

    /// When the client was last heard from: its last frame, or on a
    /// long-poll socket its last `GET` if that is later.
    fn last_heard(&self) -> Instant {
        match self.writer.heard_at() {
            Some(heard) => heard.max(self.last_seen),
            None => self.last_seen,
        }
    }
}

/// Waits for the session's deadline, if it has one.
async fn expired(expiry: &mut Option<Pin<Box<Sleep>>>) {
    match expiry {
        Some(sleep) => sleep.as_mut().await,
        None => std::future::pending().await,
    }
}
