//! One connection's life: read events, run handlers one at a time, write
//! replies and pushed frames, keep the connection alive, close it cleanly.
//!
//! Each connection is a single task. It waits, in order of priority, for
//! the server to shut down, for the running handler to finish, for frames
//! pushed to its mailbox, for the next frame from the client (only while no
//! handler is running: events of one connection are handled in order, and a
//! slow handler pushes back on the client through TCP), and for the
//! liveness timer.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{FutureExt, SinkExt};
use http::request::Parts;
use liveview_protocol::{
    BROADCAST_GROUP, ClientMessage, ErrorCode, Patch, ServerFrame, UploadRequest,
};
use tokio::time::{Instant, MissedTickBehavior};

use crate::ctx::{Connection, Ctx};
use crate::handler::{BoxFuture, Failure, Outcome};
use crate::layer::{ConnId, Mailbox, MailboxReceiver, Outgoing};
use crate::limits::RateLimiter;
use crate::server::{App, ConnectionGuard};
use crate::upload::{ChunkOutcome, UploadError, UploadTable};

/// RFC 6455 close codes the server uses.
mod close {
    pub(super) const GOING_AWAY: u16 = 1001;
    pub(super) const POLICY: u16 = 1008;
    pub(super) const TOO_BIG: u16 = 1009;
    pub(super) const INTERNAL: u16 = 1011;
    pub(super) const RESTART: u16 = 1012;
    pub(super) const TRY_AGAIN_LATER: u16 = 1013;
}

/// Events dropped in a row by the rate limiter before the connection is closed.
const MAX_DROPPED_IN_A_ROW: u32 = 10;

/// Frames written before a flush when several are queued.
const WRITE_BATCH: usize = 64;

/// The handler running for this connection.
struct InFlight {
    function: Box<str>,
    reference: Option<u64>,
    deadline: Instant,
    future: BoxFuture<Outcome>,
}

/// How a handler run ended.
enum Completion {
    Done(Outcome),
    Panicked(String),
    TimedOut,
}

/// Why the loop ended.
enum End {
    /// The client closed, or the socket failed.
    Gone,
    /// We close with this code and reason.
    Close(u16, &'static str),
}

pub(crate) async fn run(
    socket: WebSocket,
    app: Arc<App>,
    room: Box<str>,
    request: Parts,
    v1: bool,
    _guard: ConnectionGuard,
) {
    let id = ConnId::next(app.layer.node());
    let (mailbox, outbox) = Mailbox::new(app.limits.outgoing_queue);
    app.layer.attach(id, mailbox.clone());
    for group in [&*room, BROADCAST_GROUP] {
        if let Err(err) = app.layer.group_add(group, id).await {
            tracing::warn!(%id, group, %err, "liveview: could not join group");
        }
    }
    tracing::debug!(%id, room = &*room, v1, "liveview: connected");
    let ctx = Ctx::new(
        Arc::new(Connection::new(id, room, request, mailbox)),
        Arc::clone(&app),
    );
    let limiter = app
        .limits
        .events_per_second
        .map(|rate| RateLimiter::new(rate, app.limits.event_burst));
    let mut session = Session {
        socket,
        app: Arc::clone(&app),
        ctx,
        v1,
        limiter,
        in_flight: None,
        last_seen: Instant::now(),
        uploads: None,
    };
    let end = match app.on_connect.clone() {
        Some(hook) => match Box::pin(session.run_on_connect(&*hook)).await {
            Ok(()) => session.serve(outbox).await,
            Err(()) => End::Gone,
        },
        None => session.serve(outbox).await,
    };
    if let End::Close(code, reason) = end {
        Box::pin(session.close(code, reason)).await;
    }
    app.layer.detach(id).await;
    tracing::debug!(%id, "liveview: disconnected");
}

struct Session {
    socket: WebSocket,
    app: Arc<App>,
    ctx: Ctx,
    v1: bool,
    limiter: Option<RateLimiter>,
    in_flight: Option<InFlight>,
    last_seen: Instant,
    /// Created on the first upload: most connections never upload.
    uploads: Option<Box<UploadTable>>,
}

impl Session {
    async fn serve(&mut self, mut outbox: MailboxReceiver) -> End {
        let mut shutdown = self.app.shutdown.subscribe();
        if *shutdown.borrow_and_update() {
            return End::Close(close::RESTART, "server restarting");
        }
        // Created once: a `changed()` future made anew on every turn of the
        // loop would register with the watch channel's one shared waiter
        // list, and every connection woken by a broadcast would contend on it.
        let shutdown = shutdown.changed();
        tokio::pin!(shutdown);
        let ping_every = self.app.limits.ping_interval;
        let mut liveness = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
        liveness.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => return End::Close(close::RESTART, "server restarting"),
                completion = run_in_flight(&mut self.in_flight), if self.in_flight.is_some() => {
                    let Some(done) = self.in_flight.take() else { continue };
                    // Frames the handler pushed to this connection go out before its
                    // answer, in the same flush (one TCP segment when they fit).
                    if let Err(end) = self.feed_queued(&mut outbox).await {
                        return end;
                    }
                    if Box::pin(self.answer(done.function, done.reference, completion)).await.is_err() {
                        return End::Gone;
                    }
                    // Files the handler did not take are deleted now.
                    drop(self.ctx.take_uploaded_files());
                }
                item = outbox.recv() => match item {
                    Some(Outgoing::Frame(frame)) => {
                        if self.feed(frame.into_inner()).await.is_err() {
                            return End::Gone;
                        }
                        if let Err(end) = self.write_queued(&mut outbox).await {
                            return end;
                        }
                    }
                    Some(Outgoing::Overflow) => return overflowed(self.ctx.id()),
                    // The connection holds a sender: the channel cannot close.
                    None => return End::Close(close::INTERNAL, "internal error"),
                },
                message = self.socket.recv(), if self.in_flight.is_none() => {
                    self.last_seen = Instant::now();
                    match message {
                        Some(Ok(Message::Text(text))) => {
                            if let Some(end) = Box::pin(self.on_text(text.as_str())).await {
                                return end;
                            }
                        }
                        Some(Ok(Message::Binary(chunk))) => {
                            if Box::pin(self.on_chunk(&chunk)).await.is_err() {
                                return End::Gone;
                            }
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                        Some(Ok(Message::Close(_))) | None => return End::Gone,
                        Some(Err(err)) => return read_error(&err),
                    }
                }
                _ = liveness.tick() => {
                    let silent = self.last_seen.elapsed();
                    if silent >= self.app.limits.idle_timeout {
                        tracing::debug!(id = %self.ctx.id(), ?silent, "liveview: reaping idle connection");
                        return End::Close(close::GOING_AWAY, "idle timeout");
                    }
                    if silent >= ping_every.saturating_sub(Duration::from_millis(5))
                        && self.send(Message::Ping(bytes::Bytes::new())).await.is_err()
                    {
                        return End::Gone;
                    }
                }
            }
        }
    }

    /// Handles one text frame; `Some` ends the connection.
    async fn on_text(&mut self, text: &str) -> Option<End> {
        let event = match ClientMessage::from_json(text) {
            Ok(ClientMessage::Event(event)) => event,
            Ok(ClientMessage::Upload(request)) => {
                // Boxed, like every rare path: the task's future is as
                // large as its largest state, and every connection pays it.
                return Box::pin(self.on_upload_request(request))
                    .await
                    .err()
                    .map(|()| End::Gone);
            }
            Ok(_) => {
                let frame = error_frame("unsupported message", ErrorCode::BadEvent, None, None);
                return self.write(frame).await.err().map(|()| End::Gone);
            }
            Err(err) => {
                tracing::debug!(id = %self.ctx.id(), %err, "liveview: bad frame");
                let frame = error_frame(&err.to_string(), err.code(), None, None);
                return self.write(frame).await.err().map(|()| End::Gone);
            }
        };
        if let Some(limiter) = &mut self.limiter {
            if !limiter.allow(Instant::now().into_std()) {
                if limiter.dropped_in_a_row > MAX_DROPPED_IN_A_ROW {
                    tracing::warn!(id = %self.ctx.id(), "liveview: closing a flooding client");
                    return Some(End::Close(close::POLICY, "too many events"));
                }
                let frame = error_frame(
                    "too many events: this one was dropped",
                    ErrorCode::RateLimited,
                    Some(&event.function),
                    event.reference,
                );
                return self.write(frame).await.err().map(|()| End::Gone);
            }
        }
        let Some(handler) = self.app.handlers.get(event.function.as_str()) else {
            let message = if self.app.debug {
                let mut names: Vec<&str> = self.app.handlers.keys().map(|k| &**k).collect();
                names.sort_unstable();
                format!(
                    "unknown function '{}'; registered: {}",
                    event.function,
                    names.join(", ")
                )
            } else {
                format!("unknown function '{}'", event.function)
            };
            let frame = error_frame(
                &message,
                ErrorCode::UnknownFunction,
                Some(&event.function),
                event.reference,
            );
            return self.write(frame).await.err().map(|()| End::Gone);
        };
        for hook in &self.app.before {
            if let Err(err) = hook(&self.ctx, &event) {
                tracing::debug!(id = %self.ctx.id(), function = %event.function, %err, "liveview: event refused");
                let message = if err.is_user_facing() || self.app.debug {
                    err.to_string()
                } else {
                    format!("'{}' was refused", event.function)
                };
                let frame = error_frame(
                    &message,
                    ErrorCode::Refused,
                    Some(&event.function),
                    event.reference,
                );
                return self.write(frame).await.err().map(|()| End::Gone);
            }
        }
        if !event.uploads.is_empty() {
            let claimed = match self.uploads.as_mut() {
                Some(table) => table.claim(&event),
                None => Err(crate::extract::Rejection::invalid_data(
                    "no finished upload on this connection",
                )),
            };
            match claimed {
                Ok(files) => *self.ctx.uploaded_files_slot() = files,
                Err(rejection) => {
                    let message = format!("invalid data for '{}': {rejection}", event.function);
                    let frame = error_frame(
                        &message,
                        rejection.code(),
                        Some(&event.function),
                        event.reference,
                    );
                    return self.write(frame).await.err().map(|()| End::Gone);
                }
            }
            self.publish_upload_progress();
        }
        let function = event.function.as_str().into();
        let reference = event.reference;
        let future = handler.call(self.ctx.clone(), event);
        self.in_flight = Some(InFlight {
            function,
            reference,
            deadline: Instant::now() + self.app.limits.handler_timeout,
            future,
        });
        None
    }

    /// Runs the app's on-connect hook and pushes what it returns.
    async fn run_on_connect(&mut self, hook: &crate::server::ConnectHookFn) -> Result<(), ()> {
        let guarded = AssertUnwindSafe(hook(self.ctx.clone())).catch_unwind();
        let completion = match tokio::time::timeout(self.app.limits.handler_timeout, guarded).await
        {
            Ok(Ok(Ok(reply))) => Completion::Done(Ok(reply)),
            Ok(Ok(Err(err))) => Completion::Done(Err(Failure::Handler(err))),
            Ok(Err(panic)) => Completion::Panicked(panic_message(&*panic)),
            Err(_) => Completion::TimedOut,
        };
        self.answer("on_connect".into(), None, completion).await
    }

    async fn on_upload_request(&mut self, request: UploadRequest) -> Result<(), ()> {
        let table = self.uploads.get_or_insert_with(Box::default);
        let frame = match request {
            UploadRequest::Cancel { id } => {
                table.cancel(id);
                upload_status(id, Some("cancelled"), None)
            }
            start => match table.start(start, &self.app.uploads).await {
                Ok((id, false)) => upload_status(id, Some("ready"), None),
                Ok((id, true)) => upload_status(id, Some("done"), None),
                Err((id, err)) => {
                    tracing::debug!(id = %self.ctx.id(), upload = id, error = %err.message, "liveview: upload refused");
                    upload_error(id, &err)
                }
            },
        };
        self.publish_upload_progress();
        self.write(frame).await
    }

    async fn on_chunk(&mut self, chunk: &[u8]) -> Result<(), ()> {
        let table = self.uploads.get_or_insert_with(Box::default);
        let outcome = table.chunk(chunk).await;
        let frame = match outcome {
            Ok((id, ChunkOutcome::Progress(received))) => upload_status(id, None, Some(received)),
            Ok((id, ChunkOutcome::Done)) => upload_status(id, Some("done"), None),
            Err((id, err)) => {
                tracing::debug!(id = %self.ctx.id(), upload = id, error = %err.message, "liveview: upload failed");
                upload_error(id, &err)
            }
        };
        self.publish_upload_progress();
        self.write(frame).await
    }

    fn publish_upload_progress(&self) {
        let progress = self
            .uploads
            .as_ref()
            .map(|t| t.progress())
            .unwrap_or_default();
        *self.ctx.upload_progress_slot() = progress;
    }

    /// Writes the answer to a finished handler.
    async fn answer(
        &mut self,
        function: Box<str>,
        reference: Option<u64>,
        completion: Completion,
    ) -> Result<(), ()> {
        let function = &*function;
        let reply = match completion {
            Completion::Done(Ok(reply)) => reply,
            Completion::Done(Err(Failure::Rejected(rejection))) => {
                tracing::debug!(id = %self.ctx.id(), function, %rejection, "liveview: invalid event data");
                let message = format!("invalid data for '{function}': {rejection}");
                let frame = error_frame(&message, rejection.code(), Some(function), reference);
                return self.write(frame).await;
            }
            Completion::Done(Err(Failure::Handler(err))) => {
                let message = if err.is_user_facing() {
                    err.to_string()
                } else {
                    tracing::warn!(id = %self.ctx.id(), function, error = %err, "liveview: handler failed");
                    if self.app.debug {
                        format!("handler '{function}' failed: {err}")
                    } else {
                        format!("handler '{function}' failed")
                    }
                };
                let frame =
                    error_frame(&message, ErrorCode::HandlerError, Some(function), reference);
                return self.write(frame).await;
            }
            Completion::Panicked(panic) => {
                tracing::error!(id = %self.ctx.id(), function, panic, "liveview: handler panicked");
                let message = format!("handler '{function}' panicked");
                let frame =
                    error_frame(&message, ErrorCode::HandlerPanic, Some(function), reference);
                return self.write(frame).await;
            }
            Completion::TimedOut => {
                tracing::warn!(id = %self.ctx.id(), function, "liveview: handler timed out");
                let message = format!(
                    "handler '{function}' timed out after {:?}",
                    self.app.limits.handler_timeout
                );
                let frame = error_frame(&message, ErrorCode::Timeout, Some(function), reference);
                return self.write(frame).await;
            }
        };
        let patches = reply.into_patches();
        match (patches.as_slice(), self.v1) {
            ([], true) => match reference {
                Some(reference) => {
                    self.write(ServerFrame::Ack { reference }.to_json().into())
                        .await
                }
                None => Ok(()),
            },
            ([], false) => Ok(()),
            ([patch], _) => self.write(patch_frame(patch, reference)).await,
            (many, true) => {
                let frame = ServerFrame::Batch {
                    patches: many,
                    reference,
                };
                self.write(frame.to_json().into()).await
            }
            (many, false) => {
                for patch in many {
                    self.feed(patch_frame(patch, reference)).await?;
                }
                self.flush().await
            }
        }
    }

    /// Writes the frames already queued (a batch at most), then flushes once.
    async fn write_queued(&mut self, outbox: &mut MailboxReceiver) -> Result<(), End> {
        self.feed_queued(outbox).await?;
        self.flush().await.map_err(|()| End::Gone)
    }

    /// Buffers the frames already queued (a batch at most) without flushing.
    async fn feed_queued(&mut self, outbox: &mut MailboxReceiver) -> Result<(), End> {
        for _ in 0..WRITE_BATCH {
            match outbox.try_recv() {
                Some(Outgoing::Frame(frame)) => self
                    .feed(frame.into_inner())
                    .await
                    .map_err(|()| End::Gone)?,
                Some(Outgoing::Overflow) => return Err(overflowed(self.ctx.id())),
                None => break,
            }
        }
        Ok(())
    }

    async fn feed(&mut self, text: Utf8Bytes) -> Result<(), ()> {
        let timeout = self.app.limits.write_timeout;
        timed(timeout, self.socket.feed(Message::Text(text))).await
    }

    async fn flush(&mut self) -> Result<(), ()> {
        let timeout = self.app.limits.write_timeout;
        timed(timeout, self.socket.flush()).await
    }

    async fn write(&mut self, text: Utf8Bytes) -> Result<(), ()> {
        self.send(Message::Text(text)).await
    }

    async fn send(&mut self, message: Message) -> Result<(), ()> {
        let timeout = self.app.limits.write_timeout;
        timed(timeout, self.socket.send(message)).await
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        let _ = self.send(Message::Close(Some(frame))).await;
    }
}

/// Socket writes give up after the write timeout: a client that stops
/// reading must not hold its task, and its memory, forever.
async fn timed<F>(timeout: Duration, write: F) -> Result<(), ()>
where
    F: Future<Output = Result<(), axum::Error>>,
{
    match tokio::time::timeout(timeout, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => {
            tracing::debug!(%err, "liveview: write failed");
            Err(())
        }
        Err(_) => {
            tracing::warn!("liveview: write timed out, dropping the connection");
            Err(())
        }
    }
}

fn overflowed(id: ConnId) -> End {
    tracing::warn!(%id, "liveview: client too slow, outgoing queue full");
    End::Close(close::TRY_AGAIN_LATER, "too slow to receive")
}

async fn run_in_flight(slot: &mut Option<InFlight>) -> Completion {
    let Some(in_flight) = slot else {
        return std::future::pending().await;
    };
    let guarded = AssertUnwindSafe(&mut in_flight.future).catch_unwind();
    match tokio::time::timeout_at(in_flight.deadline, guarded).await {
        Ok(Ok(outcome)) => Completion::Done(outcome),
        Ok(Err(panic)) => Completion::Panicked(panic_message(&*panic)),
        Err(_) => Completion::TimedOut,
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

fn patch_frame(patch: &Patch, reference: Option<u64>) -> Utf8Bytes {
    ServerFrame::Patch { patch, reference }.to_json().into()
}

fn upload_status(id: u32, status: Option<&str>, received: Option<u64>) -> Utf8Bytes {
    ServerFrame::UploadStatus {
        id,
        status,
        received,
    }
    .to_json()
    .into()
}

fn upload_error(id: u32, err: &UploadError) -> Utf8Bytes {
    ServerFrame::UploadError {
        message: &err.message,
        code: err.code,
        upload: id,
    }
    .to_json()
    .into()
}

fn error_frame(
    message: &str,
    code: ErrorCode,
    function: Option<&str>,
    reference: Option<u64>,
) -> Utf8Bytes {
    ServerFrame::Error {
        message,
        code,
        function,
        reference,
    }
    .to_json()
    .into()
}

/// What to do after the socket failed to read.
fn read_error(err: &axum::Error) -> End {
    let too_big = std::error::Error::source(err)
        .and_then(|source| source.downcast_ref::<tungstenite::Error>())
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)));
    if too_big {
        tracing::debug!(%err, "liveview: message over the frame size limit");
        End::Close(close::TOO_BIG, "message too big")
    } else {
        tracing::debug!(%err, "liveview: socket error");
        End::Gone
    }
}
