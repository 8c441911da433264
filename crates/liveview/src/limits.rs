//! Limits that protect the server from clients, with sane defaults.

use std::time::{Duration, Instant};

/// Limits on what a client may make the server do.
///
/// ```
/// use std::time::Duration;
/// use liveview::Limits;
///
/// let limits = Limits::default()
///     .max_frame_bytes(32 * 1024)
///     .events_per_second(Some(20))
///     .handler_timeout(Duration::from_secs(5))
///     .max_connections(50_000);
/// assert_eq!(limits.get_max_connections(), 50_000);
/// ```
#[derive(Debug, Clone)]
pub struct Limits {
    pub(crate) max_frame_bytes: usize,
    pub(crate) events_per_second: Option<u32>,
    pub(crate) event_burst: u32,
    pub(crate) handler_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) outgoing_queue: usize,
    pub(crate) ping_interval: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) read_buffer_bytes: usize,
    pub(crate) write_timeout: Duration,
    pub(crate) max_outgoing_frame_bytes: usize,
    /// Sustained units per second and burst of the per-connection frame
    /// budget (see [`FrameCost`]); `None`: no budget.
    pub(crate) frame_budget: Option<(u32, u32)>,
    pub(crate) upload_memory_budget: u64,
    pub(crate) upload_disk_budget: u64,
    pub(crate) upload_idle_timeout: Duration,
    pub(crate) upload_unclaimed_timeout: Duration,
    /// New WebSockets per second and burst per client address; `None`: no
    /// cap.
    pub(crate) connections_per_address: Option<(u32, u32)>,
    pub(crate) resume_window: Duration,
    pub(crate) replay_frames: usize,
    pub(crate) replay_bytes: usize,
    pub(crate) max_parked_sessions: usize,
    pub(crate) poll_hold: Duration,
    pub(crate) poll_batch_frames: usize,
    pub(crate) poll_batch_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 128 * 1024,
            events_per_second: Some(50),
            event_burst: 100,
            handler_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            outgoing_queue: 1024,
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            read_buffer_bytes: 1024,
            write_timeout: Duration::from_secs(10),
            max_outgoing_frame_bytes: 16 * 1024 * 1024,
            frame_budget: Some((200, 400)),
            upload_memory_budget: 64 * 1024 * 1024,
            upload_disk_budget: 1024 * 1024 * 1024,
            upload_idle_timeout: Duration::from_secs(30),
            upload_unclaimed_timeout: Duration::from_secs(30),
            connections_per_address: Some((20, 40)),
            resume_window: Duration::from_secs(120),
            replay_frames: 256,
            replay_bytes: 256 * 1024,
            max_parked_sessions: 10_000,
            poll_hold: Duration::from_secs(25),
            poll_batch_frames: 64,
            poll_batch_bytes: 256 * 1024,
        }
    }
}

impl Limits {
    /// Largest message a client may send (default 128 KiB); a larger one
    /// closes the connection with code 1009 (over long-poll, its `POST` is
    /// answered `413` and the socket closes with 1009).
    #[must_use]
    pub fn max_frame_bytes(mut self, bytes: usize) -> Self {
        self.max_frame_bytes = bytes.max(256);
        self
    }

    /// Largest frame the server sends (default 16 MiB), as JSON text.
    ///
    /// An answer over it is replaced by a `reply_too_large` error frame to
    /// the event's sender, naming the function and the size; a pushed patch
    /// over it (`ctx.send`, a group send, a broadcast) is dropped, logged,
    /// and reported to the sender as [`SendError::TooLarge`](crate::layer::SendError::TooLarge).
    /// Nobody is disconnected. A connection's write buffer may grow to this
    /// size (plus 33 KiB) while such a frame is written, and keeps that
    /// capacity until it closes (tungstenite does not shrink it): a large
    /// broadcast costs that much on every recipient. Lower it to what your
    /// pages need.
    #[must_use]
    pub fn max_outgoing_frame_bytes(mut self, bytes: usize) -> Self {
        self.max_outgoing_frame_bytes = bytes.max(1024);
        self
    }

    /// Sustained events per second per connection (default 50, `None`: no
    /// limit). An event over the limit is dropped with a `rate_limited`
    /// error frame.
    #[must_use]
    pub fn events_per_second(mut self, rate: Option<u32>) -> Self {
        self.events_per_second = rate.filter(|r| *r > 0);
        self
    }

    /// Events a connection may send at once above the sustained rate
    /// (default 100).
    #[must_use]
    pub fn event_burst(mut self, burst: u32) -> Self {
        self.event_burst = burst.max(1);
        self
    }

    /// How long a handler may run before it is cancelled with a `timeout`
    /// error frame (default 30 s).
    #[must_use]
    pub fn handler_timeout(mut self, timeout: Duration) -> Self {
        self.handler_timeout = timeout;
        self
    }

    /// Most connections this server holds at once (default 10,000); beyond
    /// it the upgrade is answered `503 Service Unavailable`.
    #[must_use]
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// The configured maximum number of connections.
    pub fn get_max_connections(&self) -> usize {
        self.max_connections
    }

    /// Most frames waiting to be written to one client (default 1,024); a
    /// client that falls further behind is closed with code 1013.
    #[must_use]
    pub fn outgoing_queue(mut self, frames: usize) -> Self {
        self.outgoing_queue = frames.max(1);
        self
    }

    /// Ping a connection silent for this long (default 30 s).
    #[must_use]
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Close a connection silent for this long (default 75 s).
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout.max(Duration::from_millis(10));
        self
    }

    /// How long a write to a client may block (default 10 s) before the
    /// connection is dropped: a client that stops reading cannot pin its
    /// task and memory.
    #[must_use]
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout.max(Duration::from_millis(10));
        self
    }

    /// Size of each socket's read buffer (default 1 KiB): the most read from
    /// the socket in one call. Larger messages take several reads (the
    /// buffer grows to hold a whole frame). The buffer is resident for every
    /// connection, and zero-filled before each read, so a small one keeps
    /// idle connections cheap: `liveview-bench idle` measured 11.1 KiB per
    /// connection with 4 KiB and 8.3 KiB with 1 KiB, with no measurable
    /// change in throughput or upload speed.
    #[must_use]
    pub fn read_buffer_bytes(mut self, bytes: usize) -> Self {
        self.read_buffer_bytes = bytes.max(512);
        self
    }
}

impl Limits {
    /// The budget every client frame spends, per connection: `per_second`
    /// units come back each second, at most `burst` are saved up (default
    /// 200 and 400; `None`: no budget). A frame that finds the budget empty
    /// closes the connection with code 1008, whatever the frame is.
    ///
    /// A unit is one small text frame. A text frame (an event, an upload
    /// start or cancel, a malformed frame) costs 1 unit plus 1 per 8 KiB; a
    /// binary frame (an upload chunk) 1/16 unit plus 1 per 4 MiB (a full
    /// 64 KiB chunk: 0.078), and 1 more when it fails (a chunk for an
    /// unknown upload); a ping or pong 1. So by default a connection may
    /// send 200 small frames a second, 13 frames of 113 KB, or 160 MiB of
    /// upload chunks, and twice that in a burst. Events also pass the
    /// gentler [`events_per_second`](Self::events_per_second) limit first.
    /// The burst is at least 32 units (a frame of the largest size must fit).
    #[must_use]
    pub fn frame_budget(mut self, budget: Option<(u32, u32)>) -> Self {
        self.frame_budget = budget
            .filter(|(rate, _)| *rate > 0)
            .map(|(rate, burst)| (rate, burst.max(32)));
        self
    }

    /// Most bytes of uploads held in memory at once by all the connections
    /// of one `LiveView` (default 64 MiB). An upload whose in-memory share
    /// does not fit is refused at its start (`upload_rejected`).
    #[must_use]
    pub fn upload_memory_budget(mut self, bytes: u64) -> Self {
        self.upload_memory_budget = bytes;
        self
    }

    /// Most bytes of uploads in temporary files at once, for all the
    /// connections of one `LiveView` (default 1 GiB). An upload that would
    /// spill to disk and does not fit is refused at its start
    /// (`upload_rejected`).
    #[must_use]
    pub fn upload_disk_budget(mut self, bytes: u64) -> Self {
        self.upload_disk_budget = bytes;
        self
    }

    /// An unfinished upload that receives no chunk for this long is dropped
    /// with an `upload_failed` frame (default 30 s).
    #[must_use]
    pub fn upload_idle_timeout(mut self, timeout: Duration) -> Self {
        self.upload_idle_timeout = timeout.max(Duration::from_millis(10));
        self
    }

    /// A finished upload that no event claims for this long is dropped with
    /// an `upload_failed` frame, its memory and temporary file freed
    /// (default 30 s).
    #[must_use]
    pub fn upload_unclaimed_timeout(mut self, timeout: Duration) -> Self {
        self.upload_unclaimed_timeout = timeout.max(Duration::from_millis(10));
        self
    }
}

impl Limits {
    /// New WebSocket connections one client address may open: `per_second`
    /// sustained, `burst` at once (default 20 a second, 40 at once; `None`:
    /// no cap). An upgrade beyond it is answered `429 Too Many Requests`
    /// with `Retry-After`, and logged once per address per 10 s. IPv6
    /// addresses count per /64.
    ///
    /// The address is the peer of the TCP connection, which
    /// [`serve`](crate::serve) gives every request as
    /// `axum::extract::ConnectInfo<SocketAddr>`. With a server of your own,
    /// supply it (`into_make_service_with_connect_info::<SocketAddr>()`);
    /// without it the cap is off. Behind a proxy every client has the
    /// proxy's address: cap there, or raise this.
    #[must_use]
    pub fn connections_per_address(mut self, cap: Option<(u32, u32)>) -> Self {
        self.connections_per_address = cap
            .filter(|(rate, _)| *rate > 0)
            .map(|(rate, burst)| (rate, burst.max(1)));
        self
    }

    /// How long a page session waits for its client after the socket is
    /// lost (default 2 minutes; `Duration::ZERO`: sessions end with their
    /// socket). Meanwhile the session keeps its state and groups, runs its
    /// in-flight handler to the end, and keeps what is pushed to it for the
    /// socket that resumes it. See `docs/sessions.md`.
    #[must_use]
    pub fn resume_window(mut self, window: Duration) -> Self {
        self.resume_window = window;
        self
    }

    /// How many of its last frames, and how many bytes of them, a session
    /// keeps to replay to the socket that resumes it (default 256 frames,
    /// 256 KiB). Frames shared by a group send cost the session a slot, not
    /// a copy. A parked session that would have to drop a frame its client
    /// never saw ends instead: its client starts afresh.
    #[must_use]
    pub fn replay_buffer(mut self, frames: usize, bytes: usize) -> Self {
        self.replay_frames = frames.max(1);
        self.replay_bytes = bytes.max(1024);
        self
    }

    /// Most sessions parked at once (default 10,000); a socket lost beyond
    /// it ends its session. Parked sessions do not count against
    /// [`max_connections`](Self::max_connections).
    #[must_use]
    pub fn max_parked_sessions(mut self, sessions: usize) -> Self {
        self.max_parked_sessions = sessions;
        self
    }
}

impl Limits {
    /// How long the server holds a long-poll `GET` that has nothing to
    /// answer (default 25 s, under the minute after which proxies commonly
    /// give up on a request). A long-poll socket with no `GET` for this
    /// long plus 10 s is lost: its session parks, as for a cut WebSocket.
    /// See "Long-poll transport" in `docs/protocol.md`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let limits = liveview::Limits::default()
    ///     .poll_hold(Duration::from_secs(20))
    ///     .poll_batch(32, 128 * 1024);
    /// # let _ = limits;
    /// ```
    #[must_use]
    pub fn poll_hold(mut self, hold: Duration) -> Self {
        self.poll_hold = hold.max(Duration::from_millis(10));
        self
    }

    /// The most frames, and bytes of them, in one long-poll answer and in
    /// one long-poll `POST` (default 64 frames, 256 KiB). An answer always
    /// carries at least one frame whatever its size, and a `POST` may carry
    /// one frame of [`max_frame_bytes`](Self::max_frame_bytes); a `POST`
    /// over either bound is answered `413` and its socket closed with 1009,
    /// as a WebSocket message over `max_frame_bytes` is. A long-poll socket
    /// queues two answers' worth for its client before its writes wait
    /// (under [`write_timeout`](Self::write_timeout)).
    #[must_use]
    pub fn poll_batch(mut self, frames: usize, bytes: usize) -> Self {
        self.poll_batch_frames = frames.max(1);
        self.poll_batch_bytes = bytes.max(1024);
        self
    }
}

/// What a client frame costs the connection's frame budget
/// ([`Limits::frame_budget`]), in units of one small text frame: a fixed
/// part for the work every frame of its kind causes, and a part for its
/// size. Computed before any work is done on the frame.
pub(crate) struct FrameCost;

impl FrameCost {
    /// A ping or a pong.
    pub(crate) const CONTROL: f64 = 1.0;
    /// Added to a binary frame that failed (no such upload, out of order):
    /// its answer is an error frame, like a bad event's.
    pub(crate) const FAILED_CHUNK: f64 = 1.0;

    /// A text frame: an event, an upload request, or a malformed frame.
    pub(crate) fn text(len: usize) -> f64 {
        1.0 + len as f64 / 8192.0
    }

    /// A binary frame (an upload chunk): appending bytes is cheap, so a
    /// full-speed upload fits the default budget.
    pub(crate) fn binary(len: usize) -> f64 {
        1.0 / 16.0 + len as f64 / (4.0 * 1024.0 * 1024.0)
    }
}

/// Events refused (and owed back to the bucket) before a connection that
/// keeps above its event rate is closed.
pub(crate) const MAX_OWED_EVENTS: f64 = 10.0;

/// What the event rate limit decided.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum EventVerdict {
    Accept,
    /// Drop it with a `rate_limited` frame.
    Drop,
    /// The client keeps sending above the rate: close it.
    Close,
}

/// A token bucket: `rate` events per second, at most `burst` at once.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    /// Events dropped in a row; reset by an accepted event.
    pub(crate) dropped_in_a_row: u32,
}

impl RateLimiter {
    pub(crate) fn new(rate: u32, burst: u32) -> Self {
        RateLimiter {
            rate: f64::from(rate),
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: Instant::now(),
            dropped_in_a_row: 0,
        }
    }

    /// Takes a token; false when the bucket is empty.
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.dropped_in_a_row = 0;
            true
        } else {
            self.dropped_in_a_row += 1;
            false
        }
    }
}

impl RateLimiter {
    /// Admits an event. A dropped event is owed: the bucket goes below zero
    /// and refills pay the debt before the next event passes, so a steady
    /// flood above the rate runs up a debt and is closed once it owes more
    /// than [`MAX_OWED_EVENTS`] (a refill no longer forgives it), as is one
    /// dropped more than `max_in_a_row` times in a row.
    pub(crate) fn admit(&mut self, now: Instant, max_in_a_row: u32) -> EventVerdict {
        if self.allow(now) {
            return EventVerdict::Accept;
        }
        self.tokens -= 1.0;
        if self.dropped_in_a_row > max_in_a_row || self.tokens < -MAX_OWED_EVENTS {
            EventVerdict::Close
        } else {
            EventVerdict::Drop
        }
    }

    /// Spends `cost` tokens; false (and nothing spent) when fewer are left.
    pub(crate) fn spend(&mut self, now: Instant, cost: f64) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= cost {
            self.tokens -= cost;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_rate() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(10, 3);
        assert!(limiter.allow(start));
        assert!(limiter.allow(start));
        assert!(limiter.allow(start));
        assert!(!limiter.allow(start));
        assert_eq!(limiter.dropped_in_a_row, 1);
        // 100 ms later one token has come back.
        let later = start + Duration::from_millis(100);
        assert!(limiter.allow(later));
        assert!(!limiter.allow(later));
        // Never more than the burst, however long the pause.
        let much_later = later + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(limiter.allow(much_later));
        }
        assert!(!limiter.allow(much_later));
    }

    #[test]
    fn a_steady_flood_above_the_rate_runs_up_a_debt_and_is_closed() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(10, 2);
        assert_eq!(limiter.admit(start, 10), EventVerdict::Accept);
        assert_eq!(limiter.admit(start, 10), EventVerdict::Accept);
        // 20 events a second against 10: every refill lets one through,
        // which used to reset the count forever; now the debt grows.
        let mut verdicts = Vec::new();
        for i in 1..=60u64 {
            let at = start + Duration::from_millis(50 * i);
            let verdict = limiter.admit(at, 10);
            verdicts.push(verdict);
            if verdicts.last() == Some(&EventVerdict::Close) {
                break;
            }
        }
        assert_eq!(verdicts.last(), Some(&EventVerdict::Close), "{verdicts:?}");
        assert!(
            verdicts
                .iter()
                .filter(|v| **v == EventVerdict::Drop)
                .count()
                >= 10
        );
    }

    #[test]
    fn spending_takes_the_cost_or_nothing() {
        let start = Instant::now();
        let mut budget = RateLimiter::new(100, 40);
        assert!(budget.spend(start, FrameCost::text(128 * 1024)));
        assert!(budget.spend(start, 20.0));
        assert!(!budget.spend(start, 5.0), "only 3 left");
        assert!(budget.spend(start, 3.0));
        assert!(budget.spend(start + Duration::from_millis(100), 10.0));
        // A full chunk is cheap; 500 of them are 39 units.
        let chunks = 500.0 * FrameCost::binary(64 * 1024);
        assert!(chunks < 40.0, "{chunks}");
    }
}
