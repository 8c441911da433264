//! A long-poll virtual socket, as its connection's task sees it: client
//! frames from the `POST`s, frames for the held `GET`, and liveness from
//! the `GET`s.

use std::sync::{Arc, Weak};

use axum::extract::ws::Message;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::outbox::Outbox;
use super::table::PollTable;

/// The connection's side of a virtual socket.
pub(crate) struct PollSocket {
    pub(super) id: Box<str>,
    /// Client frames, from the `POST`s (small and bounded: a `POST` waits
    /// for room).
    pub(super) inbox: mpsc::Receiver<Result<Message, axum::Error>>,
    pub(super) outbox: Arc<Outbox>,
    /// To leave the table when the socket is dropped.
    pub(super) table: Weak<PollTable>,
}

impl PollSocket {
    /// The id the client names in its requests.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The next client frame; `None` when no `GET` came for the hold time
    /// and the slack after it (the socket is lost, as a cut WebSocket).
    pub(super) async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        loop {
            let lost_at = self.outbox.heard_at() + self.outbox.grace();
            if lost_at <= Instant::now() {
                tracing::debug!("liveview: long-poll socket without a GET, lost");
                return None;
            }
            tokio::select! {
                message = self.inbox.recv() => return message,
                () = tokio::time::sleep_until(lost_at) => {}
            }
        }
    }

    /// Queues a message for the client: a text frame, or the close. Pings
    /// have no long-poll equivalent (the held `GET` is the liveness).
    pub(super) async fn feed(&mut self, message: Message) {
        match message {
            Message::Text(text) => self.outbox.push(text).await,
            Message::Close(frame) => {
                let (code, reason) = frame.map_or((1000, "".into()), |f| (f.code, f.reason));
                self.outbox.close(code, reason);
            }
            // The server sends no binary frames.
            Message::Binary(_) | Message::Ping(_) | Message::Pong(_) => {}
        }
    }

    pub(super) fn flush(&mut self) {
        self.outbox.flush();
    }

    pub(super) fn heard_at(&self) -> Instant {
        self.outbox.heard_at()
    }
}

impl Drop for PollSocket {
    fn drop(&mut self) {
        let pending = self.outbox.drop_socket();
        if let Some(table) = self.table.upgrade() {
            table.socket_dropped(&self.id, pending, self.outbox.grace());
        }
    }
}
