//! One connection's outgoing queue: what the hub and the channel layer hand
//! to its socket task (frames, and the rare signals).
//!
//! A queue under a lock, with the waiting task's waker beside it. Every
//! connection has one for its whole life, most of it idle: an empty queue
//! holds no allocation, and the whole mailbox is about a hundred bytes
//! (tokio's unbounded channel, with its cache-padded counters and a first
//! block of 32 slots, was 1.5 KiB per connection). Deliveries and the task
//! take the lock for a push or a pop, never across anything else.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

use super::{Control, Frame, Outgoing, Signal};

/// A queue that held more than this many items gives its memory back once
/// it is empty again (a burst does not stay allocated for the connection's
/// life).
const KEEP_CAPACITY: usize = 16;

/// The sending end of one connection's outgoing queue.
///
/// Delivery never blocks and never waits: a connection whose queue holds
/// more than its limit of undelivered frames is closed (code 1013) rather
/// than letting memory grow without bound.
#[derive(Clone)]
pub struct Mailbox {
    shared: Arc<Mutex<State>>,
    limit: usize,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Outgoing>,
    /// Frames in `queue` (signals do not count against the limit).
    frames: usize,
    /// The limit was reached once: the task was told to close, and nothing
    /// more is queued.
    overflowed: bool,
    /// The receiving task is gone.
    closed: bool,
    /// The receiving task, while it waits on an empty queue.
    waker: Option<Waker>,
}

fn lock(shared: &Mutex<State>) -> MutexGuard<'_, State> {
    // Nothing runs under the lock that can panic half-way through a change.
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Mailbox {
    pub(crate) fn new(limit: usize) -> (Mailbox, MailboxReceiver) {
        let shared = Arc::new(Mutex::new(State::default()));
        let mailbox = Mailbox {
            shared: Arc::clone(&shared),
            limit,
        };
        (mailbox, MailboxReceiver { shared })
    }

    /// Queues a frame for the connection. Returns `false` when the
    /// connection is gone or its queue is full (the frame is dropped).
    pub fn deliver(&self, frame: Frame) -> bool {
        let mut state = lock(&self.shared);
        if state.closed || state.overflowed {
            return false;
        }
        if state.frames >= self.limit {
            // First overflow: tell the socket task to close, once.
            state.overflowed = true;
            wake(state, Outgoing::Signal(Box::new(Signal::Overflow)));
            return false;
        }
        state.frames += 1;
        wake(state, Outgoing::Frame(frame));
        true
    }

    /// Hands a control message to the connection's socket task. It does
    /// not count against the queue's limit (a kick must get through to a
    /// connection whose queue is full); returns `false` when the
    /// connection is gone.
    pub fn control(&self, control: Control) -> bool {
        self.signal(Signal::Control(control))
    }

    /// Sets the connection's deadline (not counted against the limit).
    pub(crate) fn expire_at(&self, at: std::time::Instant) -> bool {
        self.signal(Signal::Expire(at))
    }

    fn signal(&self, signal: Signal) -> bool {
        let state = lock(&self.shared);
        if state.closed {
            return false;
        }
        wake(state, Outgoing::Signal(Box::new(signal)));
        true
    }

    /// True once the connection's socket task has ended.
    pub fn is_closed(&self) -> bool {
        lock(&self.shared).closed
    }
}

/// Queues `item` and wakes the task if it waits, after letting go of the
/// lock (the task it wakes may run at once, on another thread).
fn wake(mut state: MutexGuard<'_, State>, item: Outgoing) {
    state.queue.push_back(item);
    let waker = state.waker.take();
    drop(state);
    if let Some(waker) = waker {
        waker.wake();
    }
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("queued", &lock(&self.shared).frames)
            .field("limit", &self.limit)
            .finish()
    }
}

/// The receiving end, owned by the connection's socket task.
pub(crate) struct MailboxReceiver {
    shared: Arc<Mutex<State>>,
}

impl MailboxReceiver {
    /// The next item, when there is one. Cancel-safe: an item is taken only
    /// by the poll that returns it.
    pub(crate) async fn recv(&mut self) -> Outgoing {
        poll_fn(|cx| {
            let mut state = lock(&self.shared);
            match take(&mut state) {
                Some(item) => Poll::Ready(item),
                None => {
                    match &mut state.waker {
                        Some(waker) if waker.will_wake(cx.waker()) => {}
                        waiting => *waiting = Some(cx.waker().clone()),
                    }
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Takes an already-queued item without waiting (to batch writes).
    pub(crate) fn try_recv(&mut self) -> Option<Outgoing> {
        take(&mut lock(&self.shared))
    }
}

fn take(state: &mut State) -> Option<Outgoing> {
    let item = state.queue.pop_front()?;
    if matches!(item, Outgoing::Frame(_)) {
        state.frames -= 1;
    }
    if state.queue.is_empty() && state.queue.capacity() > KEEP_CAPACITY {
        state.queue = VecDeque::new();
    }
    Some(item)
}

impl Drop for MailboxReceiver {
    /// Senders learn the connection is gone; what it had queued is freed now,
    /// not when the last sender (the hub's entry) goes.
    fn drop(&mut self) {
        let mut state = lock(&self.shared);
        state.closed = true;
        state.waker = None;
        let queue = std::mem::take(&mut state.queue);
        state.frames = 0;
        drop(state);
        drop(queue);
    }
}

impl fmt::Debug for MailboxReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailboxReceiver")
            .field("queued", &lock(&self.shared).queue.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> Frame {
        Frame::from_json_text(text.to_owned())
    }

    fn text(item: Outgoing) -> String {
        match item {
            Outgoing::Frame(frame) => frame.as_str().to_owned(),
            Outgoing::Signal(signal) => format!("{signal:?}"),
        }
    }

    #[test]
    fn frames_past_the_limit_are_refused_and_the_task_is_told_once() {
        let (mailbox, mut rx) = Mailbox::new(2);
        assert!(mailbox.deliver(frame("a")));
        assert!(mailbox.deliver(frame("b")));
        assert!(!mailbox.deliver(frame("c")));
        assert!(!mailbox.deliver(frame("d")));
        // A kick still gets through a full queue.
        assert!(mailbox.control(Control::Disconnect {
            redirect: "/".into()
        }));
        let items: Vec<String> = std::iter::from_fn(|| rx.try_recv()).map(text).collect();
        assert_eq!(items.len(), 4, "{items:?}");
        assert_eq!(&items[..2], ["a", "b"]);
        assert_eq!(items[2], "Overflow");
        assert!(items[3].starts_with("Control"), "{items:?}");
        // Once overflowed, the connection is being closed: nothing more.
        assert!(!mailbox.deliver(frame("e")));
    }

    #[test]
    fn received_frames_free_their_slots_and_a_burst_its_memory() {
        let (mailbox, mut rx) = Mailbox::new(100);
        for round in 0..3 {
            for n in 0..100 {
                assert!(mailbox.deliver(frame(&format!("{round}:{n}"))));
            }
            assert_eq!(lock(&mailbox.shared).frames, 100);
            let got: Vec<String> = std::iter::from_fn(|| rx.try_recv()).map(text).collect();
            assert_eq!(got.len(), 100);
            assert_eq!(got[99], format!("{round}:99"));
            let state = lock(&mailbox.shared);
            assert_eq!(state.frames, 0);
            assert_eq!(state.queue.capacity(), 0, "a burst's memory is given back");
        }
    }

    #[test]
    fn after_the_receiver_is_gone_nothing_is_queued() {
        let (mailbox, rx) = Mailbox::new(8);
        assert!(mailbox.deliver(frame("a")));
        assert!(!mailbox.is_closed());
        drop(rx);
        assert!(mailbox.is_closed());
        assert!(!mailbox.deliver(frame("b")));
        assert!(!mailbox.control(Control::Disconnect {
            redirect: "/".into()
        }));
        assert_eq!(lock(&mailbox.shared).queue.capacity(), 0);
    }

    #[tokio::test]
    async fn a_waiting_task_is_woken_by_a_delivery_from_another_task() {
        let (mailbox, mut rx) = Mailbox::new(1024);
        let sender = tokio::spawn(async move {
            for n in 0..1000 {
                assert!(mailbox.deliver(frame(&n.to_string())));
                if n % 10 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            mailbox
        });
        for n in 0..1000 {
            let item = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
                .await
                .expect("woken");
            assert_eq!(text(item), n.to_string());
        }
        let mailbox = sender.await.unwrap();
        assert_eq!(lock(&mailbox.shared).frames, 0);
        assert!(lock(&mailbox.shared).queue.capacity() <= KEEP_CAPACITY);
    }
}
