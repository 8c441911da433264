//! What a connection's task reads from and writes to: a WebSocket, or a
//! long-poll virtual socket fed by HTTP requests.
//!
//! The connection loop (`socket`) runs on a [`Socket`] and does not know
//! which one it has: the same frames, limits, journal and close codes for
//! both. An enum rather than a trait object keeps one loop, compiled once,
//! with the WebSocket's calls inlined.
//!
//! - `outbox`: the frames a virtual socket holds for the next `GET`, in
//!   bounded batches, and who holds a `GET` now (its liveness);
//! - `poll`: the virtual socket, as its connection's task sees it;
//! - `table`: the open long-poll ids of one server, each bound to its room.
//!
//! The HTTP side (the routes that feed them) is in `server::poll`.

mod outbox;
mod poll;
mod table;

use std::future::Future;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::SinkExt;
use futures_util::future::Either;
use tokio::time::Instant;

pub(crate) use self::outbox::Answer;
pub(crate) use self::poll::PollSocket;
pub(crate) use self::table::{PollHandle, PollSettings, PollTable};

/// How long after its last `GET` a virtual socket without one is lost,
/// beyond the hold time: room for the client's round trip between two.
pub(crate) const LIVENESS_SLACK: Duration = Duration::from_secs(10);

/// A connection's transport.
// The WebSocket, the common case, inline: no allocation, no indirection.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Socket {
    /// A WebSocket (`GET /ws/liveview/{room}/`).
    WebSocket(WebSocket),
    /// A long-poll virtual socket (`POST /ws/liveview/{room}/poll`).
    /// Boxed: an idle WebSocket connection does not pay for its size.
    Poll(Box<PollSocket>),
}

// Not `async fn`s: each method gives the WebSocket's own future (or the
// virtual socket's, boxed), so that the loop's state is what it was with a
// WebSocket alone. An async wrapper would hold a second copy of the
// message, and the virtual socket's futures (a timer, a queue's waiter)
// would enlarge every connection's task, WebSockets' too (a future is as
// large as its largest state). Measured with `liveview-bench idle`.
impl Socket {
    /// The next message from the client; `None` when it is gone.
    pub(crate) fn recv(
        &mut self,
    ) -> impl Future<Output = Option<Result<Message, axum::Error>>> + Send + '_ {
        match self {
            Socket::WebSocket(socket) => Either::Left(socket.recv()),
            Socket::Poll(socket) => Either::Right(Box::pin(socket.recv())),
        }
    }

    /// Buffers a message without flushing.
    pub(crate) fn feed(
        &mut self,
        message: Message,
    ) -> impl Future<Output = Result<(), axum::Error>> + Send + '_ {
        match self {
            Socket::WebSocket(socket) => Either::Left(socket.feed(message)),
            Socket::Poll(socket) => Either::Right(Box::pin(async move {
                socket.feed(message).await;
                Ok(())
            })),
        }
    }

    /// Sends what was buffered.
    pub(crate) fn flush(&mut self) -> impl Future<Output = Result<(), axum::Error>> + Send + '_ {
        match self {
            Socket::WebSocket(socket) => Either::Left(socket.flush()),
            Socket::Poll(socket) => {
                socket.flush();
                Either::Right(std::future::ready(Ok(())))
            }
        }
    }

    /// Sends a message now.
    pub(crate) fn send(
        &mut self,
        message: Message,
    ) -> impl Future<Output = Result<(), axum::Error>> + Send + '_ {
        match self {
            Socket::WebSocket(socket) => Either::Left(socket.send(message)),
            Socket::Poll(socket) => Either::Right(Box::pin(async move {
                socket.feed(message).await;
                socket.flush();
                Ok(())
            })),
        }
    }

    /// When the client last showed it is there without sending a frame (a
    /// virtual socket's `GET`; now, while one is held). `None` for a
    /// WebSocket, whose pongs are frames.
    pub(crate) fn heard_at(&self) -> Option<Instant> {
        match self {
            Socket::WebSocket(_) => None,
            Socket::Poll(socket) => Some(socket.heard_at()),
        }
    }
}
