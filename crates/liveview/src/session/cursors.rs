//! What a page session has received of each of its groups' messages: the
//! [`GroupCursor`]s a snapshot carries, so that the process that resumes
//! the session replays, from the channel layer's log, the pushes sent
//! while it was between processes (and drops the copies it already has).

use std::collections::{BTreeMap, HashMap};

use crate::layer::{Frame, GroupCursor, Mark};

/// A session's cursors, and the pushes it missed, waiting to be written.
#[derive(Debug, Default)]
pub(crate) struct GroupLog {
    /// Off without a session backend: no snapshot would carry them.
    tracking: bool,
    cursors: HashMap<Box<str>, GroupCursor>,
    /// Found in the layer's log when the session was restored here; written
    /// after the frames of its snapshot.
    missed: Vec<Frame>,
}

impl GroupLog {
    pub(crate) fn new(tracking: bool) -> Self {
        GroupLog {
            tracking,
            ..GroupLog::default()
        }
    }

    /// The session of a snapshot: its cursors, and what it missed.
    pub(crate) fn restored(cursors: BTreeMap<String, GroupCursor>, missed: Vec<Frame>) -> Self {
        GroupLog {
            tracking: true,
            cursors: cursors
                .into_iter()
                .map(|(group, cursor)| (group.into(), cursor))
                .collect(),
            missed,
        }
    }

    /// A marked push is about to be written: false when the session has
    /// it already (drop it).
    pub(crate) fn admit(
        &mut self,
        group: &str,
        mark: Mark,
        joined_ms: impl FnOnce(&str) -> u64,
    ) -> bool {
        if !self.tracking {
            return true;
        }
        if let Some(cursor) = self.cursors.get_mut(group) {
            return cursor.see(mark);
        }
        let mut cursor = GroupCursor::since(joined_ms(group));
        cursor.see(mark);
        self.cursors.insert(group.into(), cursor);
        true
    }

    /// Whether it keeps cursors at all.
    pub(crate) fn tracking(&self) -> bool {
        self.tracking
    }

    /// The cursors of `groups` (each with when it was joined) for a
    /// snapshot; a group that sent nothing yet is seen from its join.
    pub(crate) fn snapshot(&self, groups: &[(String, u64)]) -> BTreeMap<String, GroupCursor> {
        if !self.tracking {
            return BTreeMap::new();
        }
        groups
            .iter()
            .map(|(group, joined)| {
                let cursor = self
                    .cursors
                    .get(group.as_str())
                    .cloned()
                    .unwrap_or_else(|| GroupCursor::since(*joined));
                (group.clone(), cursor)
            })
            .collect()
    }

    /// The pushes found missed at the restore (once).
    pub(crate) fn take_missed(&mut self) -> Vec<Frame> {
        std::mem::take(&mut self.missed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::NodeId;

    fn mark(seq: u64) -> Mark {
        Mark {
            origin: NodeId::new(7),
            seq,
            logged: None,
        }
    }

    #[test]
    fn a_tracking_log_drops_copies_and_snapshots_every_group() {
        let mut log = GroupLog::new(true);
        assert!(log.admit("a", mark(1), |_| 100));
        assert!(!log.admit("a", mark(1), |_| 100));
        let cursors = log.snapshot(&[("a".to_owned(), 100), ("b".to_owned(), 200)]);
        assert!(cursors["a"].has_seen(mark(1)));
        assert_eq!(cursors["a"].since_ms, 100);
        assert_eq!(cursors["b"], GroupCursor::since(200));
    }

    #[test]
    fn without_a_backend_nothing_is_tracked() {
        let mut log = GroupLog::new(false);
        assert!(log.admit("a", mark(1), |_| 0));
        assert!(log.admit("a", mark(1), |_| 0));
        assert!(log.snapshot(&[("a".to_owned(), 0)]).is_empty());
    }

    #[test]
    fn a_restored_log_knows_its_cursors_and_hands_its_missed_pushes_once() {
        let mut seen = GroupCursor::since(1);
        seen.see(mark(4));
        let missed = vec![Frame::from_json_text("{}")];
        let mut log = GroupLog::restored(BTreeMap::from([("a".to_owned(), seen)]), missed);
        assert!(!log.admit("a", mark(4), |_| 0));
        assert!(log.admit("a", mark(5), |_| 0));
        assert_eq!(log.take_missed().len(), 1);
        assert!(log.take_missed().is_empty());
    }
}
