//! The frames a page session wrote, numbered, kept for a replay.
//!
//! Every text frame written on a version-2 session after its session frame
//! is numbered, from 1, in the order it is written; the client counts the
//! frames it receives the same way. The journal keeps the last frames (up
//! to a number and a size) so that the socket that resumes the session can
//! be sent those its client never received. Frames are `Utf8Bytes`: a frame
//! sent to a group is one allocation shared by every member's journal.

use std::collections::VecDeque;

use axum::extract::ws::Utf8Bytes;

/// A parked session had to drop a frame its client has never seen: it can
/// no longer be resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReplayLost;

/// The last frames of a session and their numbers.
#[derive(Debug)]
pub(crate) struct Journal {
    frames: VecDeque<Utf8Bytes>,
    /// Bytes of text held in `frames`.
    bytes: usize,
    /// Frames written so far (the number of the last one).
    written: u64,
    max_frames: usize,
    max_bytes: usize,
    /// While parked: the number of the first frame written since the
    /// socket was lost (its client cannot have seen it).
    parked_from: Option<u64>,
}

impl Journal {
    pub(crate) fn new(max_frames: usize, max_bytes: usize) -> Self {
        Journal {
            frames: VecDeque::new(),
            bytes: 0,
            written: 0,
            max_frames: max_frames.max(1),
            max_bytes,
            parked_from: None,
        }
    }

    /// A journal that goes on from a snapshot: `written` frames so far, the
    /// last of them `frames`.
    pub(crate) fn restored(
        max_frames: usize,
        max_bytes: usize,
        written: u64,
        frames: Vec<String>,
    ) -> Self {
        let mut journal = Journal::new(max_frames, max_bytes);
        journal.written = written.saturating_sub(frames.len() as u64);
        for frame in frames {
            // Not parked: a frame past the bound is dropped, never an error.
            let _ = journal.record(&Utf8Bytes::from(frame));
        }
        journal.written = written;
        journal
    }

    /// The frames kept, oldest first.
    pub(crate) fn frames(&self) -> impl Iterator<Item = &Utf8Bytes> {
        self.frames.iter()
    }

    /// Numbers and keeps a frame written (or to be written) to the client.
    ///
    /// # Errors
    /// While parked, when keeping it drops a frame written since the socket
    /// was lost.
    pub(crate) fn record(&mut self, frame: &Utf8Bytes) -> Result<(), ReplayLost> {
        self.written += 1;
        self.bytes += frame.len();
        self.frames.push_back(frame.clone());
        while self.frames.len() > self.max_frames
            || (self.bytes > self.max_bytes && self.frames.len() > 1)
        {
            let first = self.first();
            if let Some(dropped) = self.frames.pop_front() {
                self.bytes -= dropped.len();
            }
            if self.parked_from.is_some_and(|from| first >= from) {
                return Err(ReplayLost);
            }
        }
        if self.parked_from.is_some() && self.bytes > self.max_bytes {
            // One frame alone over the size: it is kept (the client must
            // get it), but nothing more may wait behind it.
            return Err(ReplayLost);
        }
        Ok(())
    }

    /// Frames written so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// The number of the oldest frame kept (`written + 1` when none is).
    fn first(&self) -> u64 {
        self.written + 1 - self.frames.len() as u64
    }

    /// The socket was lost: frames from now on are unseen for sure.
    pub(crate) fn park(&mut self) {
        self.parked_from = Some(self.written + 1);
    }

    /// A socket resumed the session.
    pub(crate) fn unpark(&mut self) {
        self.parked_from = None;
    }

    /// The frames after the `seen`th, to replay in order.
    ///
    /// # Errors
    /// When some of them are no longer kept, or `seen` is more than were
    /// written.
    pub(crate) fn since(&self, seen: u64) -> Result<impl Iterator<Item = &Utf8Bytes>, ReplayLost> {
        if seen > self.written || seen + 1 < self.first() {
            return Err(ReplayLost);
        }
        let skip = usize::try_from(seen + 1 - self.first()).map_err(|_| ReplayLost)?;
        Ok(self.frames.iter().skip(skip))
    }

    /// Bytes of frames held (shared ones counted in full).
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> Utf8Bytes {
        Utf8Bytes::from(text.to_owned())
    }

    fn texts<'a>(frames: impl Iterator<Item = &'a Utf8Bytes>) -> Vec<&'a str> {
        frames.map(Utf8Bytes::as_str).collect()
    }

    #[test]
    fn replays_what_the_client_has_not_seen() {
        let mut journal = Journal::new(10, 1024);
        for text in ["a", "b", "c"] {
            journal.record(&frame(text)).unwrap();
        }
        assert_eq!(journal.written(), 3);
        assert_eq!(texts(journal.since(0).unwrap()), ["a", "b", "c"]);
        assert_eq!(texts(journal.since(2).unwrap()), ["c"]);
        assert!(journal.since(3).unwrap().next().is_none());
        assert_eq!(
            journal.since(4).err(),
            Some(ReplayLost),
            "more than written"
        );
    }

    #[test]
    fn keeps_a_window_of_the_last_frames_while_connected() {
        let mut journal = Journal::new(2, 1024);
        for text in ["a", "b", "c"] {
            journal.record(&frame(text)).unwrap();
        }
        assert_eq!(texts(journal.since(1).unwrap()), ["b", "c"]);
        assert_eq!(journal.since(0).err(), Some(ReplayLost), "frame 1 is gone");
        let mut small = Journal::new(100, 4);
        for text in ["aa", "bb", "cc"] {
            small.record(&frame(text)).unwrap();
        }
        assert_eq!(texts(small.since(1).unwrap()), ["bb", "cc"]);
        assert_eq!(small.bytes(), 4);
    }

    #[test]
    fn a_parked_session_that_must_drop_an_unseen_frame_is_lost() {
        let mut journal = Journal::new(3, 1024);
        journal.record(&frame("a")).unwrap();
        journal.record(&frame("b")).unwrap();
        journal.park();
        journal.record(&frame("c")).unwrap();
        // Dropping "a" (maybe seen) is fine; dropping "c" (unseen) is not.
        journal.record(&frame("d")).unwrap();
        journal.record(&frame("e")).unwrap();
        assert_eq!(journal.record(&frame("f")), Err(ReplayLost));
        let mut big = Journal::new(10, 4);
        big.park();
        assert_eq!(big.record(&frame("12345")), Err(ReplayLost));
    }

    #[test]
    fn a_restored_journal_numbers_on() {
        let journal = Journal::restored(10, 1024, 7, vec!["f".into(), "g".into()]);
        assert_eq!(journal.written(), 7);
        assert_eq!(texts(journal.since(5).unwrap()), ["f", "g"]);
        assert!(journal.since(4).is_err());
        let empty = Journal::restored(10, 1024, 3, Vec::new());
        assert!(empty.since(3).unwrap().next().is_none());
    }

    #[test]
    fn unparked_it_is_a_window_again() {
        let mut journal = Journal::new(1, 1024);
        journal.park();
        journal.record(&frame("a")).unwrap();
        journal.unpark();
        journal.record(&frame("b")).unwrap();
        assert_eq!(texts(journal.since(1).unwrap()), ["b"]);
    }
}
