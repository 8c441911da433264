//! A page session in the session backend: the snapshots a session writes
//! (write-through after events, complete when parked or shut down), and a
//! session started again from one on another process.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use liveview_protocol::{BROADCAST_GROUP, ResumeRefusal};

use super::Session;
use super::resume::Page;
use crate::app::App;
use crate::ctx::{Connection, unix_ms};
use crate::session::{GroupLog, Journal, Snapshot, Write, split_token};

/// How long a shutting-down session waits for its snapshot to be stored.
const SHUTDOWN_SAVE_TIMEOUT: Duration = Duration::from_secs(3);

/// A session taken from the backend, for a socket to resume.
#[derive(Debug)]
pub(super) struct Restored {
    pub(super) id: Box<str>,
    pub(super) snapshot: Box<Snapshot>,
    /// Frames of the session the client has received.
    pub(super) seen: u64,
}

/// Looks for the session of `token` in the app's backend; takes it when
/// its client can resume it.
pub(super) async fn take_from_backend(
    app: &App,
    token: &str,
    room: &str,
    seen: u64,
) -> Result<Restored, ResumeRefusal> {
    let backend = app.session_backend.as_ref().ok_or(ResumeRefusal::Unknown)?;
    let (id, secret) = split_token(token).ok_or(ResumeRefusal::Unknown)?;
    let snapshot = match backend.take(id, secret).await {
        Ok(Some(snapshot)) => snapshot,
        Ok(None) => return Err(ResumeRefusal::Unknown),
        Err(err) => {
            tracing::warn!(%err, "liveview: session backend unavailable, cannot resume");
            return Err(ResumeRefusal::Unknown);
        }
    };
    let refusal = if snapshot.room != room {
        Some(ResumeRefusal::OtherRoom)
    } else if !snapshot.portable {
        Some(ResumeRefusal::NotPortable)
    } else if !replayable(&snapshot, seen) {
        Some(ResumeRefusal::ReplayLost)
    } else {
        None
    };
    match refusal {
        None => Ok(Restored {
            id: id.into(),
            snapshot: Box::new(snapshot),
            seen,
        }),
        Some(refusal) => {
            // Another socket (or its own process) may still resume it.
            if refusal != ResumeRefusal::ReplayLost {
                let ttl = app.limits.resume_window;
                if let Err(err) = backend.save(id, secret, &snapshot, ttl).await {
                    tracing::debug!(%err, "liveview: snapshot not put back");
                }
            }
            Err(refusal)
        }
    }
}

/// Whether a client that saw `seen` frames can resume from `snapshot`: a
/// complete one must still hold the frames after the `seen`th; a
/// write-through one (no frames) is resumed by a client that has seen at
/// least what it counts.
fn replayable(snapshot: &Snapshot, seen: u64) -> bool {
    let kept = snapshot.frames.len() as u64;
    if snapshot.complete {
        seen <= snapshot.written && seen + kept >= snapshot.written
    } else {
        seen >= snapshot.written
    }
}

/// The groups every connection of `room` joins when it starts (`start`):
/// its room's and `broadcast`. Not in a snapshot's `groups`, but their
/// cursors travel too.
fn every_connections_groups(room: &str) -> [String; 2] {
    [crate::rooms::room_group(room), BROADCAST_GROUP.to_owned()]
}

/// Puts a snapshot's session back on a new connection: its state, its
/// groups, its journal and its token's id; and finds, in the channel
/// layer's log, the pushes its groups were sent while it moved.
pub(super) async fn restore(
    app: &App,
    connection: &Connection,
    restored: &Restored,
) -> (Box<Page>, Journal) {
    let snapshot = &restored.snapshot;
    let id = connection.id;
    connection.restore_state(app.portable.load(snapshot.states.clone()));
    // The cursors say what the client has of its groups' pushes when they
    // match the frames it saw: always for a complete snapshot; for a
    // write-through one only if the client saw nothing after it (else they
    // start again from now: what was pushed while it had no socket is
    // lost, never doubled; docs/sessions.md).
    let exact = snapshot.complete || restored.seen == snapshot.written;
    let now = unix_ms();
    let layer = &app.services.layer;
    let mut cursors = std::collections::BTreeMap::new();
    for group in &snapshot.groups {
        let cursor = match snapshot.cursors.get(group) {
            Some(cursor) if exact => Some(cursor.clone()),
            _ => None,
        };
        if let Err(err) = layer.group_add(group, id).await {
            tracing::warn!(%id, group, %err, "liveview: could not join group");
            continue;
        }
        // Joined: what the group's log holds from now on also arrives live
        // (a copy of a replayed push is dropped by its mark).
        let Some(cursor) = cursor else {
            connection.note_group_since(group, now);
            continue;
        };
        connection.note_group_since(group, cursor.since_ms);
        cursors.insert(group.clone(), cursor);
    }
    // Its room's group and `broadcast`: this connection is in them already.
    for group in every_connections_groups(&connection.room) {
        if let Some(cursor) = snapshot.cursors.get(&group).filter(|_| exact) {
            cursors.insert(group, cursor.clone());
        }
    }
    let mut missed = Vec::new();
    for (group, cursor) in &cursors {
        match layer.group_missed(group, cursor).await {
            Ok(frames) => missed.extend(frames),
            Err(err) => {
                tracing::warn!(%id, group, %err, "liveview: could not read what a moved session missed");
            }
        }
    }
    // A write-through snapshot has no frames: numbering goes on from what
    // the client saw.
    let written = snapshot.written.max(restored.seen);
    let limits = &app.limits;
    let journal = Journal::restored(
        limits.replay_frames,
        limits.replay_bytes,
        written,
        snapshot.frames.clone(),
    );
    let mut page = Page::start(
        app,
        &connection.room,
        Some((&restored.id, snapshot.highest_ref, snapshot.epoch + 1)),
    );
    page.groups = GroupLog::restored(cursors, missed);
    (page, journal)
}

impl Session {
    /// The session as a snapshot, with its journal's frames when `complete`.
    fn snapshot(&self, complete: bool) -> Option<(Box<str>, Box<str>, Snapshot)> {
        let page = self.page.as_deref()?;
        let (id, secret) = split_token(page.token())?;
        let (states, portable, groups) = self.ctx.connection().portable_parts(&self.app.portable);
        let journal = self.writer.journal()?;
        // With its room's group and `broadcast`, joined when it started.
        let mut joined = groups.clone();
        for group in every_connections_groups(self.ctx.room()) {
            joined.push((group, page.started_ms));
        }
        let cursors = page.groups.snapshot(&joined);
        let snapshot = Snapshot {
            room: self.ctx.room().to_owned(),
            states,
            portable,
            groups: groups.into_iter().map(|(group, _)| group).collect(),
            cursors,
            highest_ref: page.highest_ref,
            written: journal.written(),
            frames: if complete {
                journal.frames().map(|f| f.as_str().to_owned()).collect()
            } else {
                Vec::new()
            },
            complete,
            epoch: page.epoch,
        };
        Some((id.into(), secret.into(), snapshot))
    }

    /// After an event: writes the session through to the backend when what
    /// a snapshot holds changed (in the background, batched).
    pub(super) fn write_through(&mut self) {
        if self.page.as_deref().is_some_and(|page| page.is_parked()) {
            // Its client has not seen what it wrote: the frames go too.
            return self.save_parked();
        }
        let Some(writer) = self.app.snapshots() else {
            return;
        };
        // What a write-through holds, hashed first: most events change
        // none of it, and the snapshot is built only when one did.
        let Some(page) = self.page.as_deref() else {
            return;
        };
        let Some((_, secret)) = split_token(page.token()) else {
            return;
        };
        let (states, portable, groups) = self.ctx.connection().portable_parts(&self.app.portable);
        let mut hasher = DefaultHasher::new();
        secret.hash(&mut hasher);
        self.ctx.room().hash(&mut hasher);
        serde_json::to_string(&states)
            .unwrap_or_default()
            .hash(&mut hasher);
        groups.hash(&mut hasher);
        portable.hash(&mut hasher);
        let digest = hasher.finish();
        if page.saved == Some(digest) {
            return;
        }
        let Some((id, secret, snapshot)) = self.snapshot(false) else {
            return;
        };
        if let Some(page) = self.page.as_deref_mut() {
            page.saved = Some(digest);
        }
        writer.send(Write::Save {
            id,
            secret,
            snapshot: Box::new(snapshot),
            ttl: self.app.limits.resume_window,
        });
    }

    /// Parked: the whole session goes to the backend (in the background).
    pub(super) fn save_parked(&mut self) {
        let Some(writer) = self.app.snapshots() else {
            return;
        };
        if let Some((id, secret, snapshot)) = self.snapshot(true) {
            writer.send(Write::Save {
                id,
                secret,
                snapshot: Box::new(snapshot),
                ttl: self.app.limits.resume_window,
            });
        }
    }

    /// Keeps a connected session's snapshot alive (on the liveness tick).
    pub(super) fn touch_snapshot(&self) {
        let (Some(writer), Some(page)) = (self.app.snapshots(), self.page.as_deref()) else {
            return;
        };
        if page.saved.is_some() {
            if let Some((id, _)) = split_token(page.token()) {
                writer.send(Write::Touch {
                    id: id.into(),
                    ttl: self.app.limits.resume_window,
                });
            }
        }
    }

    /// The server shuts down: stores the whole session now (waiting for
    /// the backend, briefly), for the process that replaces this one.
    pub(super) async fn save_for_shutdown(&mut self) {
        let Some(backend) = self.app.session_backend.clone() else {
            return;
        };
        let Some((id, secret, snapshot)) = self.snapshot(true) else {
            return;
        };
        let ttl = self.app.limits.resume_window;
        let save = backend.save(&id, &secret, &snapshot, ttl);
        match tokio::time::timeout(SHUTDOWN_SAVE_TIMEOUT, save).await {
            Ok(Ok(())) => {
                if let Some(page) = self.page.as_deref_mut() {
                    page.keep_snapshot();
                }
            }
            Ok(Err(err)) => tracing::warn!(%err, "liveview: session not saved at shutdown"),
            Err(_) => tracing::warn!("liveview: session backend too slow at shutdown"),
        }
    }

    /// The session ended for good: its snapshot goes too.
    pub(super) fn forget_snapshot(&self) {
        let (Some(writer), Some(page)) = (self.app.snapshots(), self.page.as_deref()) else {
            return;
        };
        if page.snapshot_kept() {
            return;
        }
        if let Some((id, secret)) = split_token(page.token()) {
            writer.send(Write::Remove {
                id: id.into(),
                secret: secret.into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_clients_a_snapshot_can_resume() {
        let complete = Snapshot {
            written: 10,
            frames: vec!["a".into(), "b".into(), "c".into()],
            complete: true,
            ..Snapshot::default()
        };
        assert!(replayable(&complete, 7) && replayable(&complete, 10));
        assert!(!replayable(&complete, 6), "frame 7 is gone");
        assert!(!replayable(&complete, 11), "more than written");
        let through = Snapshot {
            written: 10,
            ..Snapshot::default()
        };
        assert!(replayable(&through, 10) && replayable(&through, 12));
        assert!(!replayable(&through, 9), "its last answer is lost");
    }
}
