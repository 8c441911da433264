//! What a client frame does: an event passes its checks (decoding, rate,
//! a handler of that name, the files it names) and starts its handler; an
//! upload request or chunk goes to the connection's upload table. And what a
//! finished handler's outcome becomes on the wire.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::extract::ws::Message;
use futures_util::FutureExt;
use liveview_protocol::{ClientMessage, Event, UploadRequest};
use tokio::time::Instant;
use tracing::Instrument;
use tracing::instrument::Instrumented;

use super::Session;
use super::io::{End, Step, close};
use super::refusal::{Refusal, upload_error, upload_status};
use crate::app::ConnectHook;
use crate::error::Rejection;
use crate::handler::{BoxFuture, BoxedHandler, Failure, Outcome};
use crate::layer::MailboxReceiver;
use crate::limits::{EventVerdict, FrameCost};
use crate::reply::Reply;
use crate::telemetry::{names, spans};
use crate::upload::{ChunkOutcome, UploadTable, UploadedFile};

/// Events dropped in a row by the rate limiter before the connection is closed.
const MAX_DROPPED_IN_A_ROW: u32 = 10;

/// The handler running for this connection.
pub(super) struct InFlight {
    function: Box<str>,
    reference: Option<u64>,
    /// Its start plus the handler timeout.
    deadline: Instant,
    /// Runs inside the event's span.
    future: Instrumented<BoxFuture<Outcome>>,
}

/// What the checks decided about an event.
enum Admission {
    /// Run this handler with these files.
    Start(BoxedHandler, Vec<UploadedFile>),
    /// Answer with an error frame.
    Refuse(Refusal),
    /// A page session's event received before (re-sent after a resume):
    /// its answer was sent, is in the replay, or is on its way.
    Duplicate,
    /// End the connection.
    Close(End),
}

/// How a handler run ended.
pub(super) enum Completion {
    Done(Outcome),
    Panicked(String),
    TimedOut,
}

/// The upload table's next sweep (never, without a table).
pub(super) async fn upload_sweep(slot: &mut Option<Box<UploadTable>>) {
    match slot {
        Some(table) => table.sweep_due().await,
        None => std::future::pending().await,
    }
}

/// Polls the running handler under its deadline and a panic guard.
pub(super) async fn run_in_flight(slot: &mut Option<Box<InFlight>>) -> Completion {
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

impl Session {
    /// Handles one text frame.
    pub(super) async fn on_text(&mut self, text: &str) -> Step {
        let event = match ClientMessage::from_json(text) {
            Ok(ClientMessage::Event(event)) => event,
            // Boxed, like every rare path: the task's future is as large as
            // its largest state, and every connection pays it.
            Ok(ClientMessage::Upload(request)) => {
                return Box::pin(self.on_upload_request(request)).await;
            }
            // Only the first frame of a socket opened to resume may be one.
            Ok(ClientMessage::Resume(_)) => {
                return self.refuse(&Refusal::misplaced_resume(), None).await;
            }
            Ok(_) => return self.refuse(&Refusal::unsupported(), None).await,
            Err(err) => {
                let refusal = Refusal::undecodable(self.ctx.id(), &err);
                self.app.metrics.event_refused("", refusal.code());
                return self.refuse(&refusal, None).await;
            }
        };
        match self.admit(&event) {
            Admission::Start(handler, files) => {
                self.start(handler, event, files);
                Ok(())
            }
            Admission::Refuse(refusal) => {
                self.refused(&event, refusal.code());
                self.refuse(&refusal, Some(&event)).await
            }
            Admission::Duplicate => {
                tracing::debug!(id = %self.ctx.id(), reference = ?event.reference, "liveview: event received twice, not run again");
                Ok(())
            }
            Admission::Close(end) => Err(end),
        }
    }

    /// The checks an event passes before its handler starts: the rate
    /// limit, a handler of that name, the files it names.
    fn admit(&mut self, event: &Event) -> Admission {
        if let (Some(page), Some(reference)) = (&mut self.page, event.reference) {
            if reference <= page.highest_ref {
                return Admission::Duplicate;
            }
            page.highest_ref = reference;
        }
        if let Some(limiter) = &mut self.limiter {
            // `last_seen` is when this frame arrived: no second clock read.
            match limiter.admit(self.last_seen.into_std(), MAX_DROPPED_IN_A_ROW) {
                EventVerdict::Accept => {}
                EventVerdict::Drop => return Admission::Refuse(Refusal::rate_limited()),
                EventVerdict::Close => {
                    tracing::warn!(id = %self.ctx.id(), "liveview: closing a flooding client");
                    return Admission::Close(End::Close(close::POLICY, "too many events"));
                }
            }
        }
        let Some(handler) = self.app.handlers.get(event.function.as_str()) else {
            let registered = self.app.debug().then(|| self.app.handler_names());
            return Admission::Refuse(Refusal::unknown_function(&event.function, registered));
        };
        let handler = handler.clone();
        if event.uploads.is_empty() {
            return Admission::Start(handler, Vec::new());
        }
        let claimed = match self.uploads.as_mut() {
            Some(table) => table.claim(event),
            None => Err(Rejection::invalid_data(
                "no finished upload on this connection",
            )),
        };
        self.publish_upload_progress();
        match claimed {
            Ok(files) => Admission::Start(handler, files),
            Err(rejection) => Admission::Refuse(Refusal::rejected(
                self.ctx.id(),
                &event.function,
                &rejection,
            )),
        }
    }

    /// Charges a client frame to the connection's frame budget, by its kind
    /// and size; a frame that finds the budget empty closes the connection.
    pub(super) fn charge(&mut self, message: &Message) -> Step {
        let cost = match message {
            Message::Text(text) => FrameCost::text(text.len()),
            Message::Binary(bytes) => FrameCost::binary(bytes.len()),
            Message::Ping(_) | Message::Pong(_) => FrameCost::CONTROL,
            Message::Close(_) => return Ok(()),
        };
        self.spend(cost)
    }

    fn spend(&mut self, cost: f64) -> Step {
        let now = self.last_seen.into_std();
        if let Some(budget) = &mut self.budget {
            if !budget.spend(now, cost) {
                tracing::warn!(id = %self.ctx.id(), "liveview: closing a client over its frame budget");
                return Err(End::Close(close::POLICY, "too many frames"));
            }
        }
        Ok(())
    }

    /// Starts the event's handler, after the app's `before_event` hooks, as
    /// the connection's one in-flight future.
    fn start(&mut self, handler: BoxedHandler, event: Event, files: Vec<UploadedFile>) {
        let function = event.function.as_str().into();
        let reference = event.reference;
        let span = spans::event(&event.function, reference, self.ctx.id(), self.ctx.room());
        let future = if self.app.before.is_empty() {
            handler.call(self.ctx.clone(), event, files)
        } else {
            // The hooks run inside the in-flight future, under the handler's
            // timeout and panic guard, like the handler itself.
            let app = Arc::clone(&self.app);
            let ctx = self.ctx.clone();
            Box::pin(async move {
                for hook in &app.before {
                    hook(&ctx, &event).await.map_err(Failure::Refused)?;
                }
                handler.call(ctx, event, files).await
            })
        };
        self.in_flight = Some(Box::new(InFlight {
            function,
            reference,
            deadline: Instant::now() + self.app.limits.handler_timeout,
            future: future.instrument(span),
        }));
    }

    /// Writes the answer of the handler that just finished, after the frames
    /// it pushed to this connection (in the same flush: one TCP segment when
    /// they fit).
    /// Drops the event in flight unanswered (the server shuts down): the
    /// session counts it as not received, so that the copy its client
    /// re-sends to the next process runs there.
    pub(super) fn drop_in_flight(&mut self) {
        let Some(dropped) = self.in_flight.take() else {
            return;
        };
        tracing::info!(id = %self.ctx.id(), function = &*dropped.function, "liveview: event still running at shutdown, left for the next process");
        if let (Some(reference), Some(page)) = (dropped.reference, self.page.as_deref_mut()) {
            page.highest_ref = page.highest_ref.min(reference.saturating_sub(1));
        }
    }

    pub(super) async fn on_completion(
        &mut self,
        completion: Completion,
        outbox: &mut MailboxReceiver,
    ) -> Step {
        let Some(done) = self.in_flight.take() else {
            return Ok(());
        };
        let elapsed = (done.deadline - self.app.limits.handler_timeout).elapsed();
        self.feed_queued(outbox).await?;
        let (step, outcome) = self
            .answer(&done.function, done.reference, completion)
            .await;
        self.app
            .metrics
            .event_finished(&done.function, outcome, elapsed);
        spans::finish_event(done.future.span(), outcome, elapsed);
        // Written, or journaled for the socket that resumes the session.
        self.write_through();
        step
    }

    /// Reports an event refused before its handler ran, on its own span.
    fn refused(&self, event: &Event, outcome: &'static str) {
        self.app.metrics.event_refused(&event.function, outcome);
        let span = spans::event(
            &event.function,
            event.reference,
            self.ctx.id(),
            self.ctx.room(),
        );
        spans::finish_event(&span, outcome, std::time::Duration::ZERO);
    }

    /// Runs an app's connect or resume hook and pushes what it returns.
    pub(super) async fn run_hook(&mut self, name: &'static str, hook: &ConnectHook) -> Step {
        let guarded = AssertUnwindSafe(hook(self.ctx.clone())).catch_unwind();
        let completion = match tokio::time::timeout(self.app.limits.handler_timeout, guarded).await
        {
            Ok(Ok(Ok(reply))) => Completion::Done(Ok(reply)),
            Ok(Ok(Err(err))) => Completion::Done(Err(Failure::Handler(err))),
            Ok(Err(panic)) => Completion::Panicked(panic_message(&*panic)),
            Err(_) => Completion::TimedOut,
        };
        self.answer(name, None, completion).await.0
    }

    /// Writes the answer to a finished handler: its patches in the
    /// connection's dialect, or an error frame. Says which: `ok`, or the
    /// error frame's code.
    async fn answer(
        &mut self,
        function: &str,
        reference: Option<u64>,
        completion: Completion,
    ) -> (Step, &'static str) {
        match self.outcome(function, completion) {
            Ok(reply) => {
                let patches = reply.into_patches();
                let limit = self.app.limits.max_outgoing_frame_bytes;
                for frame in self.dialect.reply(&patches, reference) {
                    let json = frame.to_json();
                    if json.len() > limit {
                        // A legacy client has had the patches before this
                        // one (one frame each); a v1 answer is one frame.
                        let refusal =
                            Refusal::reply_too_large(self.ctx.id(), function, json.len(), limit);
                        let step = self
                            .writer
                            .write(refusal.frame(Some(function), reference))
                            .await;
                        return (step, refusal.code());
                    }
                    if let Err(end) = self.writer.feed(json.into()).await {
                        return (Err(end), names::OK);
                    }
                }
                (self.writer.flush().await, names::OK)
            }
            Err(refusal) => {
                let step = self
                    .writer
                    .write(refusal.frame(Some(function), reference))
                    .await;
                (step, refusal.code())
            }
        }
    }

    fn outcome(&self, function: &str, completion: Completion) -> Result<Reply, Refusal> {
        let id = self.ctx.id();
        let debug = self.app.debug();
        match completion {
            Completion::Done(Ok(reply)) => Ok(reply),
            Completion::Done(Err(Failure::Rejected(rejection))) => {
                Err(Refusal::rejected(id, function, &rejection))
            }
            Completion::Done(Err(Failure::Refused(err))) => {
                Err(Refusal::refused(id, function, &err, debug))
            }
            Completion::Done(Err(Failure::Handler(err))) => {
                Err(Refusal::failed(id, function, &err, debug))
            }
            Completion::Panicked(panic) => Err(Refusal::panicked(id, function, &panic)),
            Completion::TimedOut => Err(Refusal::timed_out(
                id,
                function,
                self.app.limits.handler_timeout,
            )),
        }
    }

    /// Writes an error frame, about `event` when there is one.
    async fn refuse(&mut self, refusal: &Refusal, event: Option<&Event>) -> Step {
        let frame = match event {
            Some(event) => refusal.frame(Some(&event.function), event.reference),
            None => refusal.frame(None, None),
        };
        self.writer.write(frame).await
    }

    async fn on_upload_request(&mut self, request: UploadRequest) -> Step {
        let shared = &self.app.upload_shared;
        let table = self
            .uploads
            .get_or_insert_with(|| Box::new(UploadTable::new(shared.clone())));
        let frame = match request {
            UploadRequest::Cancel { id } => {
                table.cancel(id);
                upload_status(id, Some("cancelled"), None)
            }
            start => match table.start(start, &self.app.uploads).await {
                Ok((id, false)) => upload_status(id, Some("ready"), None),
                Ok((id, true)) => upload_status(id, Some("done"), None),
                Err((id, err)) => upload_error(self.ctx.id(), id, &err),
            },
        };
        self.publish_upload_progress();
        self.writer.write(frame).await
    }

    pub(super) async fn on_chunk(&mut self, chunk: &[u8]) -> Step {
        let shared = &self.app.upload_shared;
        let table = self
            .uploads
            .get_or_insert_with(|| Box::new(UploadTable::new(shared.clone())));
        let frame = match table.chunk(chunk).await {
            Ok((id, ChunkOutcome::Progress(received))) => upload_status(id, None, Some(received)),
            Ok((id, ChunkOutcome::Done)) => upload_status(id, Some("done"), None),
            Err((id, err)) => {
                self.spend(FrameCost::FAILED_CHUNK)?;
                upload_error(self.ctx.id(), id, &err)
            }
        };
        self.publish_upload_progress();
        self.writer.write(frame).await
    }

    /// Drops the uploads that waited too long (no chunk, or no event to
    /// claim them) and tells the client, one `upload_failed` frame each.
    pub(super) async fn expire_uploads(&mut self) -> Step {
        let Some(table) = self.uploads.as_mut() else {
            return Ok(());
        };
        let expired = table.expire(std::time::Instant::now());
        if expired.is_empty() {
            return Ok(());
        }
        self.publish_upload_progress();
        for (id, err) in &expired {
            self.writer
                .feed(upload_error(self.ctx.id(), *id, err))
                .await?;
        }
        self.writer.flush().await
    }

    fn publish_upload_progress(&self) {
        let progress = self
            .uploads
            .as_deref()
            .map(UploadTable::progress)
            .unwrap_or_default();
        self.ctx.connection().publish_upload_progress(progress);
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
