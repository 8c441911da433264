//! Writing to the socket: buffered writes flushed once per batch, timeouts,
//! close frames, and what a failed read means.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures_util::future::Either;
use tokio::time::Instant;

use crate::layer::ConnId;
use crate::session::Journal;
use crate::telemetry::{self, Wire};
use crate::transport::Socket;

/// RFC 6455 close codes the server uses.
pub(super) mod close {
    pub(in crate::socket) const GOING_AWAY: u16 = 1001;
    pub(in crate::socket) const PROTOCOL_ERROR: u16 = 1002;
    pub(in crate::socket) const INVALID_PAYLOAD: u16 = 1007;
    pub(in crate::socket) const POLICY: u16 = 1008;
    pub(in crate::socket) const TOO_BIG: u16 = 1009;
    pub(in crate::socket) const RESTART: u16 = 1012;
    pub(in crate::socket) const TRY_AGAIN_LATER: u16 = 1013;
    /// Private range: the session ended (a kick, or the connection's
    /// deadline); the client does not reconnect, it goes to the reason (a
    /// path) or reloads.
    pub(in crate::socket) const SESSION_ENDED: u16 = 4001;
}

/// Why a connection's loop ended: the one way every step says "stop".
#[derive(Debug)]
pub(super) enum End {
    /// The client closed, or the socket failed.
    Gone,
    /// We close with this code and reason.
    Close(u16, &'static str),
    /// The session ended: close with 4001, the reason where the browser
    /// goes (empty: reload).
    SessionEnded(Box<str>),
    /// A parked session can no longer be resumed (its replay buffer is
    /// full, its window passed, or a resume asked for frames it no longer
    /// has): it ends, with no socket to tell.
    Lost,
}

impl End {
    /// The close code this end sends; `None` when nothing is sent.
    pub(super) fn code(&self) -> Option<u16> {
        match self {
            End::Gone | End::Lost => None,
            End::Close(code, _) => Some(*code),
            End::SessionEnded(_) => Some(close::SESSION_ENDED),
        }
    }
}

/// What every step of the loop returns.
pub(super) type Step = Result<(), End>;

/// The socket, with the write timeout applied to every write, counting
/// the text frames it sends, and for a page session the journal of the
/// frames written to it.
///
/// A parked session has no socket: its frames go to the journal only, for
/// the socket that resumes it.
pub(super) struct Writer {
    socket: Option<Socket>,
    timeout: Duration,
    journal: Option<Box<Journal>>,
    wire: Arc<Wire>,
}

impl Writer {
    pub(super) fn new(
        socket: Socket,
        timeout: Duration,
        journal: Option<Box<Journal>>,
        wire: Arc<Wire>,
    ) -> Self {
        Writer {
            socket: Some(socket),
            timeout,
            journal,
            wire,
        }
    }

    /// The next message from the client; never, without a socket.
    pub(super) async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        match &mut self.socket {
            Some(socket) => socket.recv().await,
            None => std::future::pending().await,
        }
    }

    pub(super) fn is_attached(&self) -> bool {
        self.socket.is_some()
    }

    /// Drops the socket (lost); frames are journaled only from now on.
    pub(super) fn detach(&mut self) {
        self.socket = None;
        if let Some(journal) = &mut self.journal {
            journal.park();
        }
    }

    /// Writes to `socket` from now on (it resumes the session).
    pub(super) fn attach(&mut self, socket: Socket) {
        self.socket = Some(socket);
        if let Some(journal) = &mut self.journal {
            journal.unpark();
        }
    }

    /// When the client last showed it is there besides its frames (a
    /// long-poll `GET`); `None` on a WebSocket or without a socket.
    pub(super) fn heard_at(&self) -> Option<Instant> {
        self.socket.as_ref().and_then(Socket::heard_at)
    }

    pub(super) fn journal(&self) -> Option<&Journal> {
        self.journal.as_deref()
    }

    // The writes are not `async fn`s: each gives the socket's own future
    // under its timeout, so that a connection task's state holds one copy
    // of the frame being written, not one per layer of calls.

    /// Buffers a text frame without flushing (and journals it).
    pub(super) fn feed(&mut self, text: Utf8Bytes) -> impl Future<Output = Step> + Send + '_ {
        let recorded = match &mut self.journal {
            Some(journal) => journal.record(&text).map_err(|_| End::Lost),
            None => Ok(()),
        };
        match recorded {
            Ok(()) => Either::Left(self.feed_unrecorded(text)),
            Err(end) => Either::Right(std::future::ready(Err(end))),
        }
    }

    /// Buffers a frame that is not one of the session's numbered frames (a
    /// session frame, a replayed one).
    pub(super) fn feed_unrecorded(
        &mut self,
        text: Utf8Bytes,
    ) -> impl Future<Output = Step> + Send + '_ {
        match &mut self.socket {
            Some(socket) => {
                self.wire.frame(text.len());
                Either::Left(timed(self.timeout, socket.feed(Message::Text(text))))
            }
            None => Either::Right(std::future::ready(Ok(()))),
        }
    }

    pub(super) fn flush(&mut self) -> impl Future<Output = Step> + Send + '_ {
        match &mut self.socket {
            Some(socket) => Either::Left(timed(self.timeout, socket.flush())),
            None => Either::Right(std::future::ready(Ok(()))),
        }
    }

    /// Writes a text frame and flushes.
    pub(super) async fn write(&mut self, text: Utf8Bytes) -> Step {
        self.feed(text).await?;
        self.flush().await
    }

    /// Sends a control message (ping, close): not journaled.
    pub(super) fn send(&mut self, message: Message) -> impl Future<Output = Step> + Send + '_ {
        match &mut self.socket {
            Some(socket) => Either::Left(timed(self.timeout, socket.send(message))),
            None => Either::Right(std::future::ready(Ok(()))),
        }
    }

    /// Sends a close frame; the connection ends either way.
    pub(super) async fn close(&mut self, code: u16, reason: &'static str) {
        self.close_with(code, Utf8Bytes::from_static(reason)).await;
    }

    /// [`close`](Self::close) with a reason made at run time.
    pub(super) async fn close_with(&mut self, code: u16, reason: Utf8Bytes) {
        let frame = CloseFrame { code, reason };
        let _ = self.send(Message::Close(Some(frame))).await;
    }
}

/// Socket writes give up after the write timeout: a client that stops
/// reading must not hold its task, and its memory, forever.
///
/// A timed-out write ends the connection with 1013, like a full outgoing
/// queue. The close frame goes behind what is still buffered and gets its
/// own write timeout: a client that reads again within it receives the
/// frames, then the close; one that never reads again cannot receive
/// anything, and sees TCP close after twice the write timeout.
async fn timed<F>(timeout: Duration, write: F) -> Step
where
    F: Future<Output = Result<(), axum::Error>>,
{
    written_or_end(timeout, tokio::time::timeout(timeout, write).await)
}

/// A write's outcome under its timeout, as the connection's next step.
fn written_or_end(
    timeout: Duration,
    written: Result<Result<(), axum::Error>, tokio::time::error::Elapsed>,
) -> Step {
    match written {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => {
            tracing::debug!(%err, "liveview: write failed");
            Err(End::Gone)
        }
        Err(_) => {
            telemetry::write_timeout();
            tracing::warn!(
                ?timeout,
                "liveview: write timed out, closing the connection"
            );
            Err(End::Close(close::TRY_AGAIN_LATER, "too slow to receive"))
        }
    }
}

/// The client cannot keep up with what is pushed to it.
pub(super) fn overflowed(id: ConnId) -> End {
    telemetry::mailbox_overflow();
    tracing::warn!(%id, "liveview: client too slow, outgoing queue full");
    End::Close(close::TRY_AGAIN_LATER, "too slow to receive")
}

/// What to do after the socket failed to read: the RFC 6455 close code of
/// the client's fault, or nothing to say to a socket that is gone.
pub(super) fn read_error(err: &axum::Error) -> End {
    use tungstenite::error::ProtocolError;
    let source =
        std::error::Error::source(err).and_then(|s| s.downcast_ref::<tungstenite::Error>());
    match source {
        Some(tungstenite::Error::Capacity(_)) => {
            tracing::debug!(%err, "liveview: message over the frame size limit");
            End::Close(close::TOO_BIG, "message too big")
        }
        Some(tungstenite::Error::Utf8(_)) => {
            tracing::debug!(%err, "liveview: text frame that is not UTF-8");
            End::Close(close::INVALID_PAYLOAD, "invalid UTF-8")
        }
        // The peer dropped TCP: nobody to tell.
        Some(tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => {
            tracing::debug!(%err, "liveview: socket reset");
            End::Gone
        }
        Some(tungstenite::Error::Protocol(_)) => {
            tracing::debug!(%err, "liveview: protocol violation");
            End::Close(close::PROTOCOL_ERROR, "protocol error")
        }
        _ => {
            tracing::debug!(%err, "liveview: socket error");
            End::Gone
        }
    }
}
