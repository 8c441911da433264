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
        }
    }
}

impl Limits {
    /// Largest message a client may send (default 128 KiB); a larger one
    /// closes the connection with code 1009.
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
}
