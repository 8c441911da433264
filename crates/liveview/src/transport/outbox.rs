//! The frames a virtual socket holds for its client's next `GET`.
//!
//! The connection's task feeds frames and flushes, as it does on a
//! WebSocket; a flush makes what was fed visible to the `GET`, so one flush
//! is one answer (the frames of an event's reply arrive together). A held
//! `GET` gets a bounded batch. The queue is bounded too: a feed waits for
//! room, under the connection's write timeout, as a write to a WebSocket
//! waits for TCP.
//!
//! Frames stay queued until a later `GET` acknowledges them (`?ack=N`: the
//! client received the first N frames of this id). An answer can be lost
//! without anyone seeing it fail: a browser whose connection dropped sends
//! the same `GET` again on a new one, by itself. That `GET` acknowledges
//! less than was answered, and gets the same frames again.

use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::table::PollSettings;

/// Frames for the client, and the state of its `GET`s.
#[derive(Debug)]
pub(crate) struct Outbox {
    state: Mutex<State>,
    /// Wakes the held `GET`: frames were flushed, the socket closed, or a
    /// newer `GET` came.
    readable: Notify,
    /// Wakes the connection's task waiting for room.
    writable: Notify,
    settings: PollSettings,
}

#[derive(Debug)]
struct State {
    /// Not acknowledged yet: the first is frame number `acked + 1`.
    frames: VecDeque<Utf8Bytes>,
    /// Frames acknowledged (and dropped) so far.
    acked: u64,
    bytes: usize,
    /// The first `ready` frames were flushed: a `GET` may take them.
    ready: usize,
    /// The close the connection's task sent, for the last answer.
    close: Option<(u16, Utf8Bytes)>,
    /// The connection's task dropped the socket.
    gone: bool,
    /// The end was answered: the id is unknown from now on.
    finished: bool,
    /// How many of the first frames the last answer carried.
    handed: usize,
    /// The number of the latest `GET`; an older one held answers at once.
    latest: u64,
    /// A `GET` is held now.
    holding: bool,
    /// When the last `GET` came or was answered.
    last_get: Instant,
}

/// What a `GET` gets.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The body of a `200` answer; `true` when it carries the close (the
    /// id is done).
    Body(String, bool),
    /// The socket is gone with nothing left to say: `404`.
    Unknown,
}

impl Outbox {
    pub(crate) fn new(settings: PollSettings) -> Self {
        Outbox {
            state: Mutex::new(State {
                frames: VecDeque::new(),
                acked: 0,
                bytes: 0,
                ready: 0,
                close: None,
                gone: false,
                finished: false,
                handed: 0,
                latest: 0,
                holding: false,
                last_get: Instant::now(),
            }),
            readable: Notify::new(),
            writable: Notify::new(),
            settings,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is consistent between statements: a panic elsewhere
        // does not leave it half-written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a frame, waiting for room when the queue is full (what is
    /// queued is then flushed, for a `GET` to take).
    pub(crate) async fn push(&self, text: Utf8Bytes) {
        loop {
            let room = self.writable.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut state = self.state();
                if state.gone || self.fits(&state, text.len()) {
                    state.bytes += text.len();
                    state.frames.push_back(text);
                    return;
                }
                state.ready = state.frames.len();
            }
            self.readable.notify_waiters();
            room.await;
        }
    }

    /// Room for a frame of `len` bytes: an empty queue takes any frame.
    fn fits(&self, state: &State, len: usize) -> bool {
        state.frames.is_empty()
            || (state.frames.len() < self.settings.queue_frames()
                && state.bytes + len <= self.settings.queue_bytes())
    }

    /// Makes the queued frames visible to the `GET`.
    pub(crate) fn flush(&self) {
        let mut state = self.state();
        if state.ready == state.frames.len() {
            return;
        }
        state.ready = state.frames.len();
        drop(state);
        self.readable.notify_waiters();
    }

    /// The socket closes with `code`: the answer after the last frames
    /// says so.
    pub(crate) fn close(&self, code: u16, reason: Utf8Bytes) {
        let mut state = self.state();
        state.close.get_or_insert((code, reason));
        state.ready = state.frames.len();
        drop(state);
        self.readable.notify_waiters();
    }

    /// The connection's task dropped the socket. `true` when a `GET` has
    /// something left to take (frames, or the close).
    pub(crate) fn drop_socket(&self) -> bool {
        let mut state = self.state();
        state.gone = true;
        state.ready = state.frames.len();
        let pending = !state.frames.is_empty() || state.close.is_some();
        drop(state);
        self.readable.notify_waiters();
        self.writable.notify_waiters();
        pending
    }

    /// When the client last showed it is there: now while a `GET` is held,
    /// else when the last one came or was answered.
    pub(crate) fn heard_at(&self) -> Instant {
        let state = self.state();
        if state.holding {
            Instant::now()
        } else {
            state.last_get
        }
    }

    /// Holds a `GET` until frames are flushed, the socket closes, a newer
    /// `GET` comes, or the hold time passes. `ack`: the client received
    /// the first `ack` frames (`None`: everything answered so far).
    pub(crate) async fn take(&self, ack: Option<u64>) -> Answer {
        let number = {
            let mut state = self.state();
            if state.finished {
                return Answer::Unknown;
            }
            let ack = ack.unwrap_or(state.acked + state.handed as u64);
            self.acknowledge(&mut state, ack);
            state.latest += 1;
            state.holding = true;
            state.last_get = Instant::now();
            state.latest
        };
        // The older `GET`, if one is held, answers now.
        self.readable.notify_waiters();
        let _held = Held {
            outbox: self,
            number,
        };
        let hold = tokio::time::sleep(self.settings.hold);
        tokio::pin!(hold);
        loop {
            let woken = self.readable.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if let Some(answer) = self.answer(number) {
                return answer;
            }
            tokio::select! {
                () = &mut woken => {}
                () = &mut hold => return Answer::Body(body(&[], None), false),
            }
        }
    }

    /// The answer of `GET` number `number` now, if it has one.
    fn answer(&self, number: u64) -> Option<Answer> {
        let mut state = self.state();
        if state.latest != number {
            return Some(Answer::Body(body(&[], None), false));
        }
        if state.ready == 0 && state.close.is_none() && !state.gone {
            return None;
        }
        let batch = self.batch(&mut state);
        // The close (and the end of the id) goes with the last frames.
        let last = state.handed == state.frames.len();
        let close = if last { state.close.take() } else { None };
        let finished = close.is_some() || (state.gone && last);
        state.finished = finished;
        drop(state);
        self.writable.notify_waiters();
        if finished && close.is_none() && batch.is_empty() {
            return Some(Answer::Unknown);
        }
        let close = close
            .as_ref()
            .map(|(code, reason)| (*code, reason.as_str()));
        Some(Answer::Body(body(&batch, close), finished))
    }

    /// The next batch of ready frames from the first one not acknowledged
    /// (again, if an answer was lost): at least one, at most the batch's
    /// count and bytes. They stay queued until acknowledged.
    fn batch(&self, state: &mut State) -> Vec<Utf8Bytes> {
        let mut batch = Vec::new();
        let mut bytes = 0;
        for next in state
            .frames
            .iter()
            .take(state.ready.min(self.settings.batch_frames))
        {
            if !batch.is_empty() && bytes + next.len() > self.settings.batch_bytes {
                break;
            }
            bytes += next.len();
            batch.push(next.clone());
        }
        state.handed = batch.len();
        batch
    }

    /// Drops the frames the client says it received (at most those it was
    /// answered).
    fn acknowledge(&self, state: &mut State, ack: u64) {
        let handed_upto = state.acked + state.handed as u64;
        let upto = ack.clamp(state.acked, handed_upto);
        let count = usize::try_from(upto - state.acked).unwrap_or(usize::MAX);
        for _ in 0..count {
            if let Some(frame) = state.frames.pop_front() {
                state.bytes -= frame.len();
            }
        }
        state.acked = upto;
        state.ready -= count.min(state.ready);
        state.handed = 0;
        if count > 0 {
            self.writable.notify_waiters();
        }
    }

    /// How long a virtual socket may go without a `GET`.
    pub(crate) fn grace(&self) -> Duration {
        self.settings.hold + super::LIVENESS_SLACK
    }
}

/// Marks the end of a held `GET` (answered, or its client went away).
struct Held<'a> {
    outbox: &'a Outbox,
    number: u64,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut state = self.outbox.state();
        if state.latest == self.number {
            state.holding = false;
            state.last_get = Instant::now();
        }
    }
}

/// `{"frames":[..],"close":{..}}`: each frame's text as the WebSocket
/// would have carried it, between commas, not encoded again.
fn body(frames: &[Utf8Bytes], close: Option<(u16, &str)>) -> String {
    let size: usize = frames.iter().map(|f| f.len() + 1).sum();
    let mut out = String::with_capacity(size + 64);
    out.push_str("{\"frames\":[");
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(frame.as_str());
    }
    out.push(']');
    if let Some((code, reason)) = close {
        let reason = serde_json::Value::from(reason);
        let _ = write!(out, ",\"close\":{{\"code\":{code},\"reason\":{reason}}}");
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> PollSettings {
        PollSettings {
            hold: Duration::from_millis(50),
            batch_frames: 2,
            batch_bytes: 10,
        }
    }

    #[tokio::test]
    async fn a_flush_is_an_answer_in_bounded_batches() {
        let outbox = Outbox::new(settings());
        outbox.push("{\"a\":1}".into()).await;
        outbox.push("{\"b\":2}".into()).await;
        outbox.push("[3]".into()).await;
        outbox.flush();
        // 7 + 7 bytes: over 10, so one frame, then the next two (7 + 3).
        assert_eq!(
            outbox.take(None).await,
            Answer::Body("{\"frames\":[{\"a\":1}]}".into(), false)
        );
        assert_eq!(
            outbox.take(None).await,
            Answer::Body("{\"frames\":[{\"b\":2},[3]]}".into(), false)
        );
        // Nothing flushed: the hold time passes.
        assert_eq!(
            outbox.take(None).await,
            Answer::Body("{\"frames\":[]}".into(), false)
        );
    }

    #[tokio::test]
    async fn the_close_comes_after_the_last_frames_then_the_id_is_done() {
        let outbox = Outbox::new(settings());
        outbox.push("1".into()).await;
        outbox.close(4001, "/login \"now\"".into());
        assert!(outbox.drop_socket());
        assert_eq!(
            outbox.take(None).await,
            Answer::Body(
                "{\"frames\":[1],\"close\":{\"code\":4001,\"reason\":\"/login \\\"now\\\"\"}}"
                    .into(),
                true
            )
        );
        assert_eq!(outbox.take(None).await, Answer::Unknown);
    }

    #[tokio::test]
    async fn a_newer_get_answers_the_held_one_with_nothing() {
        let outbox = std::sync::Arc::new(Outbox::new(PollSettings {
            hold: Duration::from_secs(5),
            ..settings()
        }));
        let held = tokio::spawn({
            let outbox = std::sync::Arc::clone(&outbox);
            async move { outbox.take(None).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let newer = tokio::spawn({
            let outbox = std::sync::Arc::clone(&outbox);
            async move { outbox.take(None).await }
        });
        let started = std::time::Instant::now();
        assert_eq!(
            held.await.unwrap(),
            Answer::Body("{\"frames\":[]}".into(), false)
        );
        assert!(started.elapsed() < Duration::from_secs(1));
        outbox.push("7".into()).await;
        outbox.flush();
        assert_eq!(
            newer.await.unwrap(),
            Answer::Body("{\"frames\":[7]}".into(), false)
        );
    }

    #[tokio::test]
    async fn a_full_queue_waits_for_a_get() {
        let outbox = std::sync::Arc::new(Outbox::new(settings()));
        // Room for 2 batches (4 frames); the fifth waits.
        for _ in 0..4 {
            outbox.push("x".into()).await;
        }
        let pushed = tokio::spawn({
            let outbox = std::sync::Arc::clone(&outbox);
            async move { outbox.push("y".into()).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!pushed.is_finished(), "waits for room");
        assert_eq!(
            outbox.take(None).await,
            Answer::Body("{\"frames\":[x,x]}".into(), false)
        );
        // Answered is not received: room comes with the next GET's ack.
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!pushed.is_finished(), "waits for the acknowledgement");
        assert_eq!(
            outbox.take(Some(2)).await,
            Answer::Body("{\"frames\":[x,x]}".into(), false)
        );
        pushed.await.unwrap();
    }

    #[tokio::test]
    async fn an_answer_the_client_did_not_get_is_answered_again() {
        let outbox = Outbox::new(settings());
        outbox.push("1".into()).await;
        outbox.push("2".into()).await;
        outbox.flush();
        let both = Answer::Body("{\"frames\":[1,2]}".into(), false);
        assert_eq!(outbox.take(Some(0)).await, both);
        // The answer was lost; the browser sent the same GET again.
        assert_eq!(outbox.take(Some(0)).await, both);
        // Half of it arrived, say: the rest again, then the next frame.
        assert_eq!(
            outbox.take(Some(1)).await,
            Answer::Body("{\"frames\":[2]}".into(), false)
        );
        outbox.push("3".into()).await;
        outbox.flush();
        assert_eq!(
            outbox.take(Some(2)).await,
            Answer::Body("{\"frames\":[3]}".into(), false)
        );
        // An acknowledgement past what was answered counts what was.
        assert_eq!(
            outbox.take(Some(99)).await,
            Answer::Body("{\"frames\":[]}".into(), false)
        );
    }
}
