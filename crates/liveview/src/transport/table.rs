//! The open long-poll ids of one server, each bound to its room.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes};
use tokio::sync::mpsc;

use super::outbox::Outbox;
use super::poll::PollSocket;

/// Client frames a virtual socket holds before a `POST` waits for room.
const INBOX_FRAMES: usize = 16;

/// The long-poll settings of `Limits`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PollSettings {
    /// How long a `GET` is held with nothing to answer.
    pub(crate) hold: Duration,
    /// Most frames in one answer, and in one `POST`.
    pub(crate) batch_frames: usize,
    /// Most bytes of frames in one answer (it always carries at least one
    /// frame), and in one `POST` (at least one frame of the largest size).
    pub(crate) batch_bytes: usize,
}

impl PollSettings {
    /// A virtual socket queues two answers' worth before its writes wait.
    pub(super) fn queue_frames(&self) -> usize {
        self.batch_frames.saturating_mul(2)
    }

    pub(super) fn queue_bytes(&self) -> usize {
        self.batch_bytes.saturating_mul(2)
    }
}

/// What the HTTP handlers reach a virtual socket by.
#[derive(Clone)]
pub(crate) struct PollHandle {
    /// Where the `GET`s take frames.
    pub(crate) outbox: Arc<Outbox>,
    /// Where the `POST`s put them.
    pub(crate) inbox: mpsc::Sender<Result<Message, axum::Error>>,
}

struct Entry {
    room: Box<str>,
    handle: PollHandle,
}

/// The virtual sockets of one server by id.
pub(crate) struct PollTable {
    entries: Mutex<HashMap<Box<str>, Entry>>,
    settings: PollSettings,
}

impl PollTable {
    pub(crate) fn new(settings: PollSettings) -> Arc<PollTable> {
        Arc::new(PollTable {
            entries: Mutex::new(HashMap::new()),
            settings,
        })
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<Box<str>, Entry>> {
        // Every change is one map operation: a panic cannot leave it torn.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new virtual socket in `room`, under a new id; `first` is the frame
    /// its client sent with the request that opened it.
    pub(crate) fn open(self: &Arc<Self>, room: &str, first: Option<Utf8Bytes>) -> PollSocket {
        let (sender, inbox) = mpsc::channel(INBOX_FRAMES);
        if let Some(text) = first {
            // A new channel has room.
            let _ = sender.try_send(Ok(Message::Text(text)));
        }
        let outbox = Arc::new(Outbox::new(self.settings));
        let id = new_id();
        let handle = PollHandle {
            outbox: Arc::clone(&outbox),
            inbox: sender,
        };
        let entry = Entry {
            room: room.into(),
            handle,
        };
        self.entries().insert(id.clone(), entry);
        PollSocket {
            id,
            inbox,
            outbox,
            table: Arc::downgrade(self),
        }
    }

    /// The virtual socket `id` of `room`.
    pub(crate) fn find(&self, id: &str, room: &str) -> Option<PollHandle> {
        let entries = self.entries();
        let entry = entries.get(id)?;
        (*entry.room == *room).then(|| entry.handle.clone())
    }

    /// Forgets `id`: its end was answered.
    pub(crate) fn remove(&self, id: &str) {
        self.entries().remove(id);
    }

    /// The connection's task dropped socket `id`. With an answer left to
    /// give (its last frames, its close) the id stays for one more `GET`,
    /// at most `grace`; else it goes now.
    pub(super) fn socket_dropped(self: &Arc<Self>, id: &str, pending: bool, grace: Duration) {
        let runtime = tokio::runtime::Handle::try_current();
        match runtime {
            Ok(runtime) if pending => {
                let table = Arc::downgrade(self);
                let id: Box<str> = id.into();
                runtime.spawn(async move {
                    tokio::time::sleep(grace).await;
                    if let Some(table) = table.upgrade() {
                        table.remove(&id);
                    }
                });
            }
            _ => self.remove(id),
        }
    }
}

/// 64 hex digits of two version-4 UUIDs, like a session token: an id
/// lets its holder read a session's frames and send its events.
fn new_id() -> Box<str> {
    let mut id = String::with_capacity(64);
    for _ in 0..2 {
        let _ = write!(id, "{}", uuid::Uuid::new_v4().simple());
    }
    id.into_boxed_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ids_are_bound_to_their_room_and_leave_with_their_socket() {
        let table = PollTable::new(PollSettings {
            hold: Duration::from_millis(10),
            batch_frames: 4,
            batch_bytes: 1024,
        });
        let socket = table.open("room-a", None);
        let id: Box<str> = socket.id.clone();
        assert_eq!(id.len(), 64);
        assert!(table.find(&id, "room-a").is_some());
        assert!(table.find(&id, "room-b").is_none(), "bound to its room");
        drop(socket);
        assert!(table.find(&id, "room-a").is_none(), "nothing left to say");
        assert!(table.entries().is_empty());
    }
}
