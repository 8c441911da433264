//! The sessions of this process that a socket may resume, by token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicUsize, Ordering};

use liveview_protocol::ResumeRefusal;
use tokio::sync::oneshot;

use super::handoff::Resumption;

/// Where a socket that presents a token finds its session's task.
#[derive(Debug, Default)]
pub(crate) struct SessionStore {
    entries: Mutex<HashMap<Box<str>, Entry>>,
    parked: AtomicUsize,
}

#[derive(Debug)]
struct Entry {
    room: Box<str>,
    handoff: oneshot::Sender<Box<Resumption>>,
}

impl SessionStore {
    /// Makes the session of `room` resumable with `token`.
    pub(crate) fn register(
        &self,
        token: &str,
        room: &str,
        handoff: oneshot::Sender<Box<Resumption>>,
    ) {
        let entry = Entry {
            room: room.into(),
            handoff,
        };
        self.lock().insert(token.into(), entry);
    }

    /// Takes the session of `token` for a socket to `room`: the token is
    /// spent (a second socket presenting it finds nothing).
    ///
    /// # Errors
    /// [`ResumeRefusal::Unknown`] for no such session,
    /// [`ResumeRefusal::OtherRoom`] for a session of another room (which
    /// keeps its token).
    pub(crate) fn take(
        &self,
        token: &str,
        room: &str,
    ) -> Result<oneshot::Sender<Box<Resumption>>, ResumeRefusal> {
        let mut entries = self.lock();
        match entries.get(token) {
            None => Err(ResumeRefusal::Unknown),
            Some(entry) if *entry.room != *room => Err(ResumeRefusal::OtherRoom),
            Some(_) => entries
                .remove(token)
                .map(|entry| entry.handoff)
                .ok_or(ResumeRefusal::Unknown),
        }
    }

    /// Forgets a session that ended.
    pub(crate) fn remove(&self, token: &str) {
        self.lock().remove(token);
    }

    /// Counts a session parked; `false` (not counted) when `max` are.
    pub(crate) fn try_park(&self, max: usize) -> bool {
        let parked = self
            .parked
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok();
        if parked {
            crate::telemetry::sessions_parked(1);
        }
        parked
    }

    /// A parked session was resumed or ended.
    pub(crate) fn unpark(&self) {
        let was = self
            .parked
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if was.is_ok() {
            crate::telemetry::sessions_parked(-1);
        }
    }

    /// Sessions parked now.
    pub(crate) fn parked(&self) -> usize {
        self.parked.load(Ordering::Acquire)
    }

    /// Sessions that can be resumed now (connected or parked).
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_spent_once_and_bound_to_its_room() {
        let store = SessionStore::default();
        let (tx, _rx) = oneshot::channel();
        store.register("t", "room-a", tx);
        assert_eq!(
            store.take("t", "room-b").err(),
            Some(ResumeRefusal::OtherRoom)
        );
        assert!(store.take("t", "room-a").is_ok());
        assert_eq!(
            store.take("t", "room-a").err(),
            Some(ResumeRefusal::Unknown)
        );
        assert_eq!(store.len(), 0);
    }

    #[test]
    fn parking_is_bounded() {
        let store = SessionStore::default();
        assert!(store.try_park(2) && store.try_park(2));
        assert!(!store.try_park(2));
        store.unpark();
        assert_eq!(store.parked(), 1);
        assert!(store.try_park(2));
    }
}
