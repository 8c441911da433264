//! Metrics and spans: what liveview reports about itself.
//!
//! Metrics go through the [`metrics`](https://docs.rs/metrics) facade: the
//! library records, the app chooses an exporter (Prometheus, StatsD, …) and
//! installs it as the global recorder **before** building its
//! [`LiveView`](crate::LiveView) (the hot-path handles are registered at
//! build time). Without a recorder every call is a no-op.
//!
//! Spans go through [`tracing`]: `liveview.event` around every event, with
//! its function, `ref`, connection, room, outcome and duration, and
//! `liveview.broadcast` around every group message fanned out on this node,
//! with its group and the number of receivers. Both are at `INFO`.
//!
//! [`names`] lists every metric name and label key; `docs/telemetry.md` has
//! the table. The functions here are for channel layers and session stores
//! outside this crate, so that they report under the same names:
//!
//! ```
//! use liveview::telemetry;
//!
//! // A channel layer's publisher, after each attempt:
//! telemetry::outage_buffer_depth(12);
//! // … and when it gives messages up:
//! telemetry::outage_dropped(3);
//! ```

pub mod names;
mod recorder;
pub(crate) mod spans;

pub(crate) use recorder::{Metrics, Wire};

use names::{
    CODE, CONNECTIONS_CLOSED, CONNECTIONS_OPEN, MAILBOX_OVERFLOWS, OUTAGE_BUFFER_DEPTH,
    OUTAGE_DROPPED, PRESENCE_ENTRIES, SESSIONS_PARKED, WRITE_TIMEOUTS,
};

/// Reports how many messages for other nodes wait in a channel layer's
/// outage buffer (a gauge, set to `depth`).
///
/// ```
/// liveview::telemetry::outage_buffer_depth(0);
/// ```
pub fn outage_buffer_depth(depth: usize) {
    metrics::gauge!(OUTAGE_BUFFER_DEPTH).set(depth as f64);
}

/// Counts messages for other nodes that a channel layer gave up.
///
/// ```
/// liveview::telemetry::outage_dropped(1);
/// ```
pub fn outage_dropped(count: u64) {
    metrics::counter!(OUTAGE_DROPPED).increment(count);
}

/// Reports a change in the number of parked page sessions (sessions kept
/// after their socket was lost): `+1` when one is parked, `-1` when it is
/// resumed or expires.
///
/// ```
/// liveview::telemetry::sessions_parked(1);
/// liveview::telemetry::sessions_parked(-1);
/// ```
pub fn sessions_parked(delta: i64) {
    metrics::gauge!(SESSIONS_PARKED).increment(delta as f64);
}

/// A change in the number of presence entries this process tracks.
pub(crate) fn presence_entries(delta: f64) {
    metrics::gauge!(PRESENCE_ENTRIES).increment(delta);
}

/// A connection closed with 1013 because its mailbox overflowed.
pub(crate) fn mailbox_overflow() {
    metrics::counter!(MAILBOX_OVERFLOWS).increment(1);
}

/// A connection closed with 1013 because a write timed out.
pub(crate) fn write_timeout() {
    metrics::counter!(WRITE_TIMEOUTS).increment(1);
}

/// A connection ended: closed by the server with `code`, or gone (`None`).
pub(crate) fn connection_closed(code: Option<u16>) {
    let code = match code {
        None => "gone",
        Some(1000) => "1000",
        Some(1001) => "1001",
        Some(1002) => "1002",
        Some(1007) => "1007",
        Some(1008) => "1008",
        Some(1009) => "1009",
        Some(1011) => "1011",
        Some(1012) => "1012",
        Some(1013) => "1013",
        Some(4001) => "4001",
        Some(_) => "other",
    };
    metrics::counter!(CONNECTIONS_CLOSED, CODE => code).increment(1);
}

/// Counts an open connection for as long as it is held.
#[derive(Debug)]
pub(crate) struct ConnectionOpen(());

impl ConnectionOpen {
    pub(crate) fn new() -> ConnectionOpen {
        metrics::gauge!(CONNECTIONS_OPEN).increment(1.0);
        ConnectionOpen(())
    }
}

impl Drop for ConnectionOpen {
    fn drop(&mut self) {
        metrics::gauge!(CONNECTIONS_OPEN).decrement(1.0);
    }
}
