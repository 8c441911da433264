//! Page sessions on the socket: the session frame, parking a session whose
//! socket was lost, and a new socket taking a session over.
//!
//! Two tasks meet here. The task of a socket opened with `resume=1` reads
//! its first frame (a resume request), finds the session's task by token
//! and hands it the socket ([`hand_over`]); it ends there, or gets the
//! socket back with a refusal and starts a fresh session on it. The
//! session's task, parked or not, takes the socket
//! ([`Session::on_resumption`]): it sends a session frame with a new token
//! and the frames its client has not seen, and goes on.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Message;
use liveview_protocol::{ClientMessage, ResumeRefusal, ServerFrame};
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};

use super::Session;
use super::io::{End, Step};
use super::portable::{Restored, take_from_backend};
use crate::app::App;
use crate::session::{GroupLog, Guard, Refused, Resumption, new_secret, new_token, split_token};
use crate::transport::Socket;

/// How long a socket opened to resume may take to send its resume request.
const RESUME_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The version-2 part of a connection's state.
pub(super) struct Page {
    /// The token that resumes the session now.
    token: Box<str>,
    /// Where a resuming socket arrives (taken when one did).
    handoff: Option<oneshot::Receiver<Box<Resumption>>>,
    /// While parked: when the session ends if no socket comes back.
    parked_until: Option<Pin<Box<Sleep>>>,
    /// The highest event `ref` received: an event at or below it was
    /// received before (it is re-sent after a resume) and is not run again.
    pub(super) highest_ref: u64,
    /// A digest of the last snapshot sent to the backend (`None`: none).
    pub(super) saved: Option<u64>,
    /// How many times the session moved to another process.
    pub(super) epoch: u64,
    /// The backend holds this session for another process: do not delete
    /// it when the session ends here (the server shut down).
    kept: bool,
    /// What it received of its groups' messages (for its snapshots).
    pub(super) groups: GroupLog,
    /// When the session started (ms since the Unix epoch): when it joined
    /// its room's group and `broadcast`.
    pub(super) started_ms: u64,
}

/// How a socket opened to resume a session ended up.
pub(super) enum HandOver {
    /// The session took it, or it went away: this task is done.
    Done,
    /// Start a fresh session on it (the session could not be resumed).
    Fresh(Socket, Guard, ResumeRefusal),
    /// Start the session of a snapshot on it (it lived on another process).
    Restore(Socket, Guard, Box<Restored>),
}

/// Reads a resume request from a new socket and hands the socket to the
/// session it names.
pub(super) async fn hand_over(mut socket: Socket, guard: Guard, app: &App, room: &str) -> HandOver {
    let request = match tokio::time::timeout(RESUME_REQUEST_TIMEOUT, socket.recv()).await {
        Ok(Some(Ok(Message::Text(text)))) => ClientMessage::from_json(text.as_str()),
        // Silent, closed or broken before asking: nothing to resume.
        _ => return HandOver::Done,
    };
    let resume = match request {
        Ok(ClientMessage::Resume(resume)) => resume,
        _ => {
            tracing::debug!("liveview: a resuming socket sent something else first");
            return HandOver::Fresh(socket, guard, ResumeRefusal::BadRequest);
        }
    };
    let handoff = match app.sessions.take(&resume.token, room) {
        Ok(handoff) => handoff,
        Err(ResumeRefusal::Unknown) => {
            // Not one of this process's: maybe the backend has it.
            return match take_from_backend(app, &resume.token, room, resume.seen).await {
                Ok(restored) => HandOver::Restore(socket, guard, Box::new(restored)),
                Err(refusal) => {
                    tracing::debug!(%refusal, "liveview: session not resumed");
                    HandOver::Fresh(socket, guard, refusal)
                }
            };
        }
        Err(refusal) => {
            tracing::debug!(%refusal, "liveview: session not resumed");
            return HandOver::Fresh(socket, guard, refusal);
        }
    };
    let (refused, back) = oneshot::channel();
    let resumption = Box::new(Resumption {
        socket,
        guard,
        seen: resume.seen,
        refused,
    });
    if let Err(resumption) = handoff.send(resumption) {
        // The session's task ended between the lookup and now.
        let Resumption { socket, guard, .. } = *resumption;
        return HandOver::Fresh(socket, guard, ResumeRefusal::Unknown);
    }
    match back.await {
        Ok(Refused {
            socket,
            guard,
            refusal,
        }) => HandOver::Fresh(socket, guard, refusal),
        // Taken (the sender is dropped once the socket is in use).
        Err(_) => HandOver::Done,
    }
}

impl Page {
    /// A session of `room`, resumable from now on: a fresh one, or the
    /// session `id` (from a snapshot) with events up to `highest_ref`
    /// received, in its `epoch`-th process.
    pub(super) fn start(app: &App, room: &str, restored: Option<(&str, u64, u64)>) -> Box<Page> {
        let (token, highest_ref, epoch) = match restored {
            Some((id, highest_ref, epoch)) => (id.into(), highest_ref, epoch),
            None => ("".into(), 0, 0),
        };
        let mut page = Box::new(Page {
            token,
            handoff: None,
            parked_until: None,
            highest_ref,
            saved: None,
            epoch,
            kept: false,
            groups: GroupLog::new(app.session_backend.is_some()),
            started_ms: crate::ctx::unix_ms(),
        });
        page.renew(app, room);
        page
    }

    pub(super) fn token(&self) -> &str {
        &self.token
    }

    /// The backend keeps the session for the process after this one.
    pub(super) fn keep_snapshot(&mut self) {
        self.kept = true;
    }

    pub(super) fn snapshot_kept(&self) -> bool {
        self.kept
    }

    /// A new token (the last one was spent, or the session just started).
    fn renew(&mut self, app: &App, room: &str) {
        let (handoff, arrivals) = oneshot::channel();
        self.token = match split_token(&self.token) {
            Some((id, _)) => new_secret(id),
            // A restored session's id alone, or none yet.
            None if self.token.len() == 32 => new_secret(&self.token),
            None => new_token(),
        };
        // The backend's copy holds the old secret: written again below.
        self.saved = None;
        self.handoff = Some(arrivals);
        app.sessions.register(&self.token, room, handoff);
    }

    pub(super) fn is_parked(&self) -> bool {
        self.parked_until.is_some()
    }

    /// Forgets the session: its token resumes nothing any more.
    pub(super) fn end(&mut self, app: &App) {
        app.sessions.remove(&self.token);
        if self.parked_until.take().is_some() {
            app.sessions.unpark();
        }
    }
}

/// What happens to a page session besides its socket.
pub(super) enum PageEvent {
    /// A socket presented its token (`None`: the token's entry is gone).
    Arrival(Option<Box<Resumption>>),
    /// Parked for the whole resume window: it ends.
    WindowClosed,
}

/// The next socket to take the session over, or the end of its resume
/// window while parked (never, without a page).
pub(super) async fn next_event(page: &mut Option<Box<Page>>) -> PageEvent {
    let Some(page) = page.as_mut() else {
        return std::future::pending().await;
    };
    let arrival = async {
        match page.handoff.as_mut() {
            Some(arrivals) => arrivals.await.ok(),
            None => std::future::pending().await,
        }
    };
    let window = async {
        match page.parked_until.as_mut() {
            Some(sleep) => sleep.as_mut().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        resumption = arrival => PageEvent::Arrival(resumption),
        () = window => PageEvent::WindowClosed,
    }
}

impl Session {
    /// Starts a fresh session: the session frame (version 2), then the
    /// app's connect hook.
    pub(super) async fn begin(&mut self, refused: Option<ResumeRefusal>) -> Step {
        self.greet(false, refused).await?;
        match self.app.on_connect.clone() {
            Some(hook) => Box::pin(self.run_hook("on_connect", &hook)).await,
            None => Ok(()),
        }
    }

    /// Writes the session frame that opens a version-2 socket.
    pub(super) async fn greet(&mut self, resumed: bool, refused: Option<ResumeRefusal>) -> Step {
        let Some(page) = &self.page else {
            return Ok(());
        };
        let frame = ServerFrame::Session {
            token: &page.token,
            resumed,
            received: if resumed { page.highest_ref } else { 0 },
            refused,
        };
        self.writer.feed_unrecorded(frame.to_json().into()).await?;
        if resumed {
            return Ok(()); // the replay follows in the same flush
        }
        self.writer.flush().await
    }

    /// The socket was lost: parks the session, when it has one and there
    /// is room. `false`: the session ends.
    pub(super) fn park(&mut self) -> bool {
        let limits = &self.app.limits;
        let Some(page) = &mut self.page else {
            return false;
        };
        if page.is_parked() {
            return true;
        }
        if limits.resume_window.is_zero() || !self.app.sessions.try_park(limits.max_parked_sessions)
        {
            return false;
        }
        self.writer.detach();
        // The connection slot is for sockets; a parked session has none.
        self.guard = None;
        page.parked_until = Some(Box::pin(tokio::time::sleep(limits.resume_window)));
        self.save_parked();
        let written = self.writer.journal().map_or(0, |journal| journal.written());
        tracing::debug!(id = %self.ctx.id(), written, "liveview: socket lost, session parked");
        true
    }

    /// A socket presented this session's token: takes it over, or sends it
    /// back when the frames its client has not seen are gone.
    pub(super) async fn on_resumption(&mut self, resumption: Option<Box<Resumption>>) -> Step {
        let Some(resumption) = resumption else {
            // The store dropped the token's entry: the session cannot be
            // resumed any more (it is ending).
            if let Some(page) = &mut self.page {
                page.handoff = None;
            }
            return Ok(());
        };
        let seen = resumption.seen;
        let replayable = self
            .writer
            .journal()
            .is_some_and(|journal| journal.since(seen).is_ok());
        if !replayable {
            tracing::debug!(id = %self.ctx.id(), seen, "liveview: resume refused, frames lost");
            resumption.refuse(ResumeRefusal::ReplayLost);
            return Err(End::Lost);
        }
        let Resumption {
            socket,
            guard,
            refused,
            ..
        } = *resumption;
        let app = Arc::clone(&self.app);
        if let Some(page) = &mut self.page {
            if page.parked_until.take().is_some() {
                app.sessions.unpark();
            }
            page.renew(&app, self.ctx.room());
        }
        // A socket still attached is a stale one (its client moved on).
        self.writer.attach(socket);
        self.guard = Some(guard);
        self.last_seen = Instant::now();
        drop(refused);
        tracing::debug!(id = %self.ctx.id(), seen, "liveview: session resumed");
        self.resumed(seen).await
    }

    /// Goes on with a resumed session on its new socket: the session frame,
    /// the frames its client has not seen, the app's resume hook.
    pub(super) async fn resumed(&mut self, seen: u64) -> Step {
        self.greet(true, None).await?;
        self.replay(seen).await?;
        self.catch_up().await?;
        // The backend learns the new secret.
        self.write_through();
        match self.app.on_resume.clone() {
            Some(hook) => Box::pin(self.run_hook("on_resume", &hook)).await,
            None => Ok(()),
        }
    }

    /// A session restored from a snapshot: writes the pushes its groups'
    /// log has that it missed between processes (each numbered, as any
    /// push), and flushes.
    async fn catch_up(&mut self) -> Step {
        let missed = match self.page.as_deref_mut() {
            Some(page) => page.groups.take_missed(),
            None => return Ok(()),
        };
        if missed.is_empty() {
            return Ok(());
        }
        tracing::debug!(id = %self.ctx.id(), pushes = missed.len(), "liveview: replaying what a moved session missed");
        for frame in missed {
            self.feed_pushed(frame.into_inner()).await?;
        }
        self.writer.flush().await
    }

    /// Writes the journal's frames after the `seen`th, and flushes.
    async fn replay(&mut self, seen: u64) -> Step {
        let frames: Vec<_> = match self.writer.journal().map(|journal| journal.since(seen)) {
            Some(Ok(frames)) => frames.cloned().collect(),
            _ => return Err(End::Lost),
        };
        for frame in frames {
            self.writer.feed_unrecorded(frame).await?;
        }
        self.writer.flush().await
    }
}
