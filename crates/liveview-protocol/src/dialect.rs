//! Which dialect a client speaks, and how a handler's answer becomes frames
//! in it.

use crate::{PROTOCOL_VERSION, Patch, ServerFrame};

/// The dialect of one connection, fixed when it opens.
///
/// A client that asks for `?v=1` on the WebSocket URL speaks version 1: it
/// takes several patches in one batch frame and is told with an ack frame
/// that an event changed nothing. `?v=2` (or later) is version 2: version 1
/// plus page sessions that outlive the socket (a session frame first,
/// resume requests, replay; `docs/protocol.md`, Sessions). Any other client
/// is a Django LiveView 2.x client: it gets one frame per patch and no acks.
///
/// ```
/// use liveview_protocol::{Dialect, Patch};
///
/// let patches = [Patch::html("#a", "1"), Patch::html("#b", "2")];
/// let v1: Vec<String> = Dialect::V1.reply(&patches, Some(7)).map(|f| f.to_json()).collect();
/// assert_eq!(v1.len(), 1, "one batch frame");
/// let legacy = Dialect::from_query(Some("x=1")).reply(&patches, Some(7)).count();
/// assert_eq!(legacy, 2, "one frame per patch");
/// assert_eq!(Dialect::Legacy.reply(&[], Some(7)).count(), 0, "no ack");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// Django LiveView 2.x: one frame per patch, no acks.
    #[default]
    Legacy,
    /// Protocol version 1: batches and acks.
    V1,
    /// Protocol version 2: version 1's frames, and page sessions.
    V2,
}

impl Dialect {
    /// The dialect a client asked for with `?v=N` in the WebSocket URL's
    /// query (no `v`, or one this crate does not speak, is [`Dialect::Legacy`]).
    pub fn from_query(query: Option<&str>) -> Dialect {
        let version = query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|pair| pair.strip_prefix("v="))
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0);
        Dialect::from_version(version)
    }

    /// The dialect of extension version `version` (0: none).
    pub fn from_version(version: u32) -> Dialect {
        match version {
            0 => Dialect::Legacy,
            1 => Dialect::V1,
            _ => Dialect::V2,
        }
    }

    /// The extension version this dialect speaks (0: none).
    pub fn version(self) -> u32 {
        match self {
            Dialect::Legacy => 0,
            Dialect::V1 => 1,
            Dialect::V2 => PROTOCOL_VERSION,
        }
    }

    /// True when the client keeps a page session across sockets (version 2).
    pub fn has_sessions(self) -> bool {
        self == Dialect::V2
    }

    /// True when the client takes batch and ack frames (version 1 and later).
    fn batches(self) -> bool {
        self != Dialect::Legacy
    }

    /// The frames that answer the event `reference` with `patches`, in the
    /// order they are written.
    pub fn reply<'a>(self, patches: &'a [Patch], reference: Option<u64>) -> ReplyFrames<'a> {
        let state = match (patches, self.batches()) {
            ([], true) => reference.map(|reference| ServerFrame::Ack { reference }),
            ([], false) => None,
            ([patch], _) => Some(ServerFrame::Patch { patch, reference }),
            (many, true) => Some(ServerFrame::Batch {
                patches: many,
                reference,
            }),
            (many, false) => {
                return ReplyFrames(Frames::Each {
                    patches: many.iter(),
                    reference,
                });
            }
        };
        ReplyFrames(Frames::One(state))
    }
}

/// The frames of one answer; see [`Dialect::reply`].
#[derive(Debug, Clone)]
pub struct ReplyFrames<'a>(Frames<'a>);

#[derive(Debug, Clone)]
enum Frames<'a> {
    One(Option<ServerFrame<'a>>),
    Each {
        patches: std::slice::Iter<'a, Patch>,
        reference: Option<u64>,
    },
}

impl<'a> Iterator for ReplyFrames<'a> {
    type Item = ServerFrame<'a>;

    fn next(&mut self) -> Option<ServerFrame<'a>> {
        match &mut self.0 {
            Frames::One(frame) => frame.take(),
            Frames::Each { patches, reference } => patches.next().map(|patch| ServerFrame::Patch {
                patch,
                reference: *reference,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(dialect: Dialect, patches: &[Patch], reference: Option<u64>) -> Vec<String> {
        dialect
            .reply(patches, reference)
            .map(|f| f.to_json())
            .collect()
    }

    #[test]
    fn versions_from_the_query() {
        assert_eq!(Dialect::from_query(Some("v=1")), Dialect::V1);
        assert_eq!(Dialect::from_query(Some("x=2&v=1")), Dialect::V1);
        assert_eq!(Dialect::from_query(Some("v=2")), Dialect::V2);
        assert_eq!(Dialect::from_query(Some("x=1&v=3")), Dialect::V2);
        assert!(Dialect::V2.has_sessions() && !Dialect::V1.has_sessions());
        assert_eq!(Dialect::from_query(Some("v=x")), Dialect::Legacy);
        assert_eq!(Dialect::from_query(Some("v=0")), Dialect::Legacy);
        assert_eq!(Dialect::from_query(None), Dialect::Legacy);
    }

    #[test]
    fn answers_in_each_dialect() {
        let one = [Patch::html("#a", "1")];
        let two = [Patch::html("#a", "1"), Patch::remove("#b")];
        assert_eq!(frames(Dialect::V1, &[], Some(4)), [r#"{"ref":4}"#]);
        assert!(frames(Dialect::V1, &[], None).is_empty());
        assert!(frames(Dialect::Legacy, &[], Some(4)).is_empty());
        assert_eq!(frames(Dialect::V2, &[], Some(4)), [r#"{"ref":4}"#]);
        assert_eq!(
            frames(Dialect::V2, &two, Some(4)),
            frames(Dialect::V1, &two, Some(4))
        );
        for dialect in [Dialect::V1, Dialect::V2, Dialect::Legacy] {
            assert_eq!(
                frames(dialect, &one, Some(4)),
                [r##"{"target":"#a","html":"1","ref":4}"##]
            );
        }
        let batch = frames(Dialect::V1, &two, Some(4));
        assert_eq!(batch.len(), 1);
        assert!(batch[0].starts_with(r#"{"patches":["#) && batch[0].ends_with(r#","ref":4}"#));
        let each = frames(Dialect::Legacy, &two, Some(4));
        assert_eq!(each.len(), 2);
        assert!(each.iter().all(|f| f.ends_with(r#""ref":4}"#)));
    }
}
