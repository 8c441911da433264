//! Redis streams as the layer reads them: entry ids, and the entries of an
//! `XRANGE` reply.

use std::fmt;

use liveview::layer::{Frame, Mark, NodeId};
use redis::Value;

/// A group message as it arrived (live or from its stream, entry `id`):
/// marked with its origin, number and entry when it carries a number (the
/// target field of a group message is its number; `-` from a node that
/// does not number).
pub(crate) fn group_frame(
    group: &str,
    id: Option<StreamId>,
    origin: &str,
    target: &str,
    json: &str,
) -> Frame {
    match mark_of(id, origin, target) {
        Some(mark) => Frame::marked_json(group, mark, json),
        None => Frame::from_json_text(json),
    }
}

/// The mark of a numbered group message.
pub(crate) fn mark_of(id: Option<StreamId>, origin: &str, target: &str) -> Option<Mark> {
    Some(Mark {
        origin: NodeId::parse(origin)?,
        seq: target.parse().ok()?,
        logged: id.map(|id| (id.0, id.1)),
    })
}

/// A stream entry id, `ms-seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct StreamId(pub(crate) u64, pub(crate) u64);

impl StreamId {
    pub(crate) fn parse(text: &str) -> Option<StreamId> {
        let (ms, seq) = text.split_once('-')?;
        Some(StreamId(ms.parse().ok()?, seq.parse().ok()?))
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

/// `[id, [field, value, ...]]` of an XRANGE reply.
pub(crate) fn stream_entry(entry: Value) -> Option<(StreamId, Vec<(String, String)>)> {
    let Value::Array(mut parts) = entry else {
        return None;
    };
    if parts.len() != 2 {
        return None;
    }
    let fields = parts.pop()?;
    let id = match parts.pop()? {
        Value::BulkString(bytes) => StreamId::parse(std::str::from_utf8(&bytes).ok()?)?,
        Value::SimpleString(text) => StreamId::parse(&text)?,
        _ => return None,
    };
    let Value::Array(fields) = fields else {
        return None;
    };
    let mut pairs = Vec::with_capacity(fields.len() / 2);
    let mut iter = fields.into_iter();
    while let (Some(key), Some(value)) = (iter.next(), iter.next()) {
        if let (Value::BulkString(k), Value::BulkString(v)) = (key, value) {
            pairs.push((String::from_utf8(k).ok()?, String::from_utf8(v).ok()?));
        }
    }
    Some((id, pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_order_and_parse() {
        assert_eq!(StreamId::parse("12-3"), Some(StreamId(12, 3)));
        assert!(StreamId(12, 3) < StreamId(12, 4));
        assert!(StreamId(12, 9) < StreamId(13, 0));
        assert_eq!(StreamId::parse("x-1"), None);
        assert_eq!(StreamId::parse("12"), None);
        assert_eq!(StreamId(5, 1).to_string(), "5-1");
    }

    #[test]
    fn numbered_group_messages_arrive_marked() {
        let id = Some(StreamId(1_700_000_000_000, 2));
        let frame = group_frame("chat", id, "00000000000000aa", "7", "{}");
        let mark = Mark {
            origin: NodeId::new(0xaa),
            seq: 7,
            logged: Some((1_700_000_000_000, 2)),
        };
        assert_eq!(frame.mark(), Some(("chat", mark)));
        assert_eq!(frame.json(), "{}");
        assert_eq!(
            group_frame("chat", id, "00000000000000aa", "-", "{}").mark(),
            None
        );
    }

    #[test]
    fn xrange_entries_parse() {
        let entry = Value::Array(vec![
            Value::BulkString(b"17-2".to_vec()),
            Value::Array(vec![
                Value::BulkString(b"o".to_vec()),
                Value::BulkString(b"00000000000000aa".to_vec()),
                Value::BulkString(b"f".to_vec()),
                Value::BulkString(b"{}".to_vec()),
            ]),
        ]);
        let (id, fields) = stream_entry(entry).unwrap();
        assert_eq!(id, StreamId(17, 2));
        assert_eq!(fields[1], ("f".to_owned(), "{}".to_owned()));
    }
}
