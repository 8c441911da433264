//! Where a group message stands in its group's log, so that a page session
//! that moves to another process misses no push and gets none twice.
//!
//! A channel layer that keeps a log of each group's messages (the Redis
//! layer's streams) numbers the messages of each node: a message is known
//! by its [`Mark`], the node that published it and its number there. The
//! layer hands marked frames to its hub ([`Frame::marked`]); a page
//! session's socket reads the mark off before writing the frame, and keeps,
//! per group, a [`GroupCursor`]: since when it is a member, and the last
//! number it received from each node. The cursor travels in the session's
//! snapshot; the process that resumes the session asks its layer for what
//! the cursor has not seen ([`ChannelLayer::group_missed`]).
//!
//! The numbers of one node's messages to one group reach every member in
//! order (a layer must keep that promise to mark frames), so the last
//! number from each node says exactly which of its messages arrived.
//!
//! [`ChannelLayer::group_missed`]: super::ChannelLayer::group_missed

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{Frame, NodeId};

/// A group message's place among the messages of the node that sent it,
/// and, when the layer knows it, in the layer's log of the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mark {
    /// The node that published it.
    pub origin: NodeId,
    /// Its number among that node's messages (1, 2, …, in the order sent).
    pub seq: u64,
    /// Where the group's log has it (the Redis stream entry id, ms and
    /// sequence): known for a message from another node, which arrives
    /// through the log; `None` for the sender's own copy, delivered before
    /// it is logged. A layer hands a node the logged messages of a group
    /// in log order.
    pub logged: Option<(u64, u64)>,
}

/// What a page session has received of one group's messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GroupCursor {
    /// When the session joined the group, in milliseconds since the Unix
    /// epoch: messages published before were never its.
    pub since_ms: u64,
    /// The last message number received from each node.
    pub seen: BTreeMap<NodeId, u64>,
    /// The log position of the last message received from another node:
    /// every logged message up to it was received or was not the
    /// session's (the replay of the log starts after it).
    #[serde(default)]
    pub after: Option<(u64, u64)>,
}

/// The most nodes a cursor remembers (each node is one process of the
/// app: more than this many sending to one group within one session is
/// not a deployment this is built for). Past it, the node heard from
/// longest ago (the lowest number) is forgotten.
const MAX_ORIGINS: usize = 64;

impl GroupCursor {
    /// A cursor for a session that joined at `since_ms` and received
    /// nothing yet.
    pub fn since(since_ms: u64) -> Self {
        GroupCursor {
            since_ms,
            seen: BTreeMap::new(),
            after: None,
        }
    }

    /// Whether the session received the message `mark`.
    pub fn has_seen(&self, mark: Mark) -> bool {
        self.seen
            .get(&mark.origin)
            .is_some_and(|seq| mark.seq <= *seq)
    }

    /// Notes `mark` received; false when it was already (a copy: drop it).
    pub(crate) fn see(&mut self, mark: Mark) -> bool {
        if self.has_seen(mark) {
            return false;
        }
        if !self.seen.contains_key(&mark.origin) && self.seen.len() >= MAX_ORIGINS {
            let oldest = self
                .seen
                .iter()
                .min_by_key(|(_, seq)| **seq)
                .map(|(origin, _)| *origin);
            if let Some(oldest) = oldest {
                self.seen.remove(&oldest);
            }
        }
        self.seen.insert(mark.origin, mark.seq);
        if mark.logged > self.after {
            self.after = mark.logged;
        }
        true
    }
}

/// A marked frame's text begins with this byte (no JSON text does, and no
/// control frame: those begin with NUL).
const MARK_BYTE: u8 = 0x01;
/// The mark's header: the byte, 16 hex digits of origin, 16 of number, 16
/// and 16 of log position (all zero: none), 4 of the group name's length;
/// then the name, then the JSON.
const HEADER: usize = 1 + 16 + 16 + 32 + 4;

impl Frame {
    /// This frame, marked as message `mark` of `group` (for a channel
    /// layer's local hub: see the module docs). A group name longer than
    /// 65,535 bytes is not marked.
    pub fn marked(&self, group: &str, mark: Mark) -> Frame {
        Frame::marked_json(group, mark, self.json())
    }

    /// A marked frame from the JSON text a layer carried between nodes.
    pub fn marked_json(group: &str, mark: Mark, json: &str) -> Frame {
        if group.len() > 0xFFFF {
            return Frame::from_json_text(json);
        }
        let mut text = String::with_capacity(HEADER + group.len() + json.len());
        text.push(char::from(MARK_BYTE));
        let (ms, n) = mark.logged.unwrap_or((0, 0));
        // Written in place: one allocation per marked frame.
        let _ = write!(
            text,
            "{:016x}{:016x}{ms:016x}{n:016x}{:04x}",
            mark.origin.as_u64(),
            mark.seq,
            group.len()
        );
        text.push_str(group);
        text.push_str(json);
        Frame::from_json_text(text)
    }

    /// The JSON text, without a mark.
    pub fn json(&self) -> &str {
        match read(self.as_str()) {
            Some((_, _, start)) => &self.as_str()[start..],
            None => self.as_str(),
        }
    }

    /// The mark and group of a marked frame.
    pub fn mark(&self) -> Option<(&str, Mark)> {
        read(self.as_str()).map(|(group, mark, _)| (group, mark))
    }
}

/// Reads a mark: the group, the mark, and where the JSON starts.
fn read(text: &str) -> Option<(&str, Mark, usize)> {
    if text.as_bytes().first() != Some(&MARK_BYTE) {
        return None;
    }
    let hex = |range: std::ops::Range<usize>| {
        text.get(range)
            .and_then(|digits| u64::from_str_radix(digits, 16).ok())
    };
    let origin = NodeId::new(hex(1..17)?);
    let seq = hex(17..33)?;
    let logged = (hex(33..49)?, hex(49..65)?);
    let logged = (logged != (0, 0)).then_some(logged);
    let len = usize::try_from(hex(65..69)?).ok()?;
    let group = text.get(HEADER..HEADER + len)?;
    let mark = Mark {
        origin,
        seq,
        logged,
    };
    Some((group, mark, HEADER + len))
}

/// The mark of a frame being written, and its group (in the frame's text).
pub(crate) struct Marked {
    text: Utf8Bytes,
    group: std::ops::Range<usize>,
    pub(crate) mark: Mark,
}

impl Marked {
    pub(crate) fn group(&self) -> &str {
        self.text
            .as_str()
            .get(self.group.clone())
            .unwrap_or_default()
    }
}

/// Splits a frame's text into the JSON to write and its mark, if any.
pub(crate) fn split(text: Utf8Bytes) -> (Utf8Bytes, Option<Marked>) {
    let Some((group, mark, start)) = read(text.as_str()) else {
        return (text, None);
    };
    let group = HEADER..HEADER + group.len();
    let rest = Bytes::from(text.clone()).slice(start..);
    // The mark is ASCII and ends on a character boundary: the rest is
    // UTF-8 (checked again, as `Utf8Bytes` must be).
    match Utf8Bytes::try_from(rest) {
        Ok(json) => (json, Some(Marked { text, group, mark })),
        Err(_) => (Utf8Bytes::from_static("{}"), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(origin: u64, seq: u64) -> Mark {
        Mark {
            origin: NodeId::new(origin),
            seq,
            logged: None,
        }
    }

    #[test]
    fn a_marked_frame_reads_back_and_writes_its_json_only() {
        let frame = Frame::from_json_text(r#"{"html":"é"}"#).marked("chat:1", mark(0xab, 7));
        assert_eq!(frame.json(), r#"{"html":"é"}"#);
        assert_eq!(frame.mark(), Some(("chat:1", mark(0xab, 7))));
        let (json, found) = split(frame.into_inner());
        assert_eq!(json.as_str(), r#"{"html":"é"}"#);
        let found = found.unwrap();
        assert_eq!((found.group(), found.mark), ("chat:1", mark(0xab, 7)));
        let plain = Frame::from_json_text("{}");
        assert_eq!(plain.json(), "{}");
        assert_eq!(plain.mark(), None);
        assert!(split(plain.into_inner()).1.is_none());
    }

    #[test]
    fn marking_a_marked_frame_replaces_its_mark() {
        let once = Frame::from_json_text("{}").marked("a", mark(1, 1));
        let twice = once.marked("b", mark(2, 2));
        assert_eq!(twice.mark(), Some(("b", mark(2, 2))));
        assert_eq!(twice.json(), "{}");
    }

    #[test]
    fn a_cursor_admits_each_message_once_per_origin_in_order() {
        let mut cursor = GroupCursor::since(5);
        assert!(cursor.see(mark(1, 1)));
        assert!(cursor.see(mark(1, 2)));
        assert!(!cursor.see(mark(1, 2)), "a copy");
        assert!(!cursor.see(mark(1, 1)), "an older one");
        assert!(cursor.see(mark(2, 1)), "another node counts on its own");
        assert!(cursor.has_seen(mark(1, 2)) && !cursor.has_seen(mark(1, 3)));
        let json = serde_json::to_value(&cursor).unwrap();
        assert_eq!(serde_json::from_value::<GroupCursor>(json).unwrap(), cursor);
    }

    #[test]
    fn a_log_position_travels_in_the_mark_and_the_cursor_keeps_the_last() {
        let logged = Mark {
            logged: Some((1_700_000_000_000, 3)),
            ..mark(5, 9)
        };
        let frame = Frame::from_json_text("{}").marked("g", logged);
        assert_eq!(frame.mark(), Some(("g", logged)));
        let mut cursor = GroupCursor::since(0);
        cursor.see(logged);
        cursor.see(mark(6, 1)); // a local copy: not logged yet
        assert_eq!(cursor.after, Some((1_700_000_000_000, 3)));
        cursor.see(Mark {
            logged: Some((1_700_000_000_001, 0)),
            ..mark(5, 10)
        });
        assert_eq!(cursor.after, Some((1_700_000_000_001, 0)));
    }

    #[test]
    fn a_cursor_forgets_the_quietest_node_past_its_bound() {
        let mut cursor = GroupCursor::since(0);
        for origin in 0..MAX_ORIGINS as u64 {
            cursor.see(mark(origin + 1, origin + 10));
        }
        cursor.see(mark(999, 1));
        assert_eq!(cursor.seen.len(), MAX_ORIGINS);
        assert!(cursor.seen.contains_key(&NodeId::new(999)));
        assert!(
            !cursor.seen.contains_key(&NodeId::new(1)),
            "the lowest number went"
        );
    }
}
