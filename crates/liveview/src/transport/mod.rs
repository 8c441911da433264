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

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::SinkExt;
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

impl Socket {
    /// The next message from the client; `None` when it is gone.
    pub(crate) async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        match self {
            Socket::WebSocket(socket) => socket.recv().await,
            Socket::Poll(socket) => socket.recv().await,
        }
    }

    /// Buffers a message without flushing.
    pub(crate) async fn feed(&mut self, message: Message) -> Result<(), axum::Error> {
        match self {
            Socket::WebSocket(socket) => socket.feed(message).await,
            Socket::Poll(socket) => {
                socket.feed(message).await;
                Ok(())
            }
        }
    }

    /// Sends what was buffered.
    pub(crate) async fn flush(&mut self) -> Result<(), axum::Error> {
        match self {
            Socket::WebSocket(socket) => socket.flush().await,
            Socket::Poll(socket) => {
                socket.flush();
                Ok(())
            }
        }
    }

    /// Sends a message now.
    pub(crate) async fn send(&mut self, message: Message) -> Result<(), axum::Error> {
        match self {
            Socket::WebSocket(socket) => socket.send(message).await,
            Socket::Poll(socket) => {
                socket.feed(message).await;
                socket.flush();
                Ok(())
            }
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
