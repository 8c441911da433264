//! The names of liveview's metrics and their label keys, in one place
//! (`docs/telemetry.md` has the table).
//!
//! Labels are bounded: `function` takes the names of registered handlers
//! (and `unknown` for any other name a client sends), `outcome` and `code`
//! a fixed set. No metric is labelled by connection, room or group.

/// Gauge: WebSocket connections open on this process.
pub const CONNECTIONS_OPEN: &str = "liveview_connections_open";
/// Counter: connections ended, by `code` (the close code sent, or `gone`
/// when the client went away first).
pub const CONNECTIONS_CLOSED: &str = "liveview_connections_closed_total";
/// Counter: events, by `function` and `outcome` (`ok`, or the error
/// frame's code: `rate_limited`, `unknown_function`, `invalid_data`,
/// `handler_error`, `timeout`, …).
pub const EVENTS: &str = "liveview_events_total";
/// Histogram, seconds: how long handlers ran, by `function`.
pub const EVENT_DURATION: &str = "liveview_event_duration_seconds";
/// Counter: text frames written to clients (replies, pushes, errors).
pub const FRAMES_OUT: &str = "liveview_frames_out_total";
/// Counter: bytes of those frames (payload, without WebSocket framing).
pub const BYTES_OUT: &str = "liveview_bytes_out_total";
/// Counter: connections closed with 1013 because their outgoing queue
/// (the mailbox) overflowed.
pub const MAILBOX_OVERFLOWS: &str = "liveview_mailbox_overflows_total";
/// Counter: connections closed with 1013 because a write timed out.
pub const WRITE_TIMEOUTS: &str = "liveview_write_timeouts_total";
/// Gauge: messages for other nodes waiting in a channel layer's outage
/// buffer (sampled at each publish attempt).
pub const OUTAGE_BUFFER_DEPTH: &str = "liveview_outage_buffer_depth";
/// Counter: messages for other nodes a channel layer gave up (buffer full,
/// or older than its age limit and never run by the backend).
pub const OUTAGE_DROPPED: &str = "liveview_outage_dropped_total";
/// Gauge: presence entries this process tracks.
pub const PRESENCE_ENTRIES: &str = "liveview_presence_entries";
/// Gauge: page sessions kept after their socket was lost, waiting to be
/// resumed.
pub const SESSIONS_PARKED: &str = "liveview_sessions_parked";

/// Label key: the handler's registered name.
pub const FUNCTION: &str = "function";
/// Label key: how an event ended.
pub const OUTCOME: &str = "outcome";
/// Label key: a close code.
pub const CODE: &str = "code";

/// The `function` label of events that name no registered handler.
pub const UNKNOWN_FUNCTION: &str = "unknown";
/// The `outcome` label of an event whose handler answered.
pub const OK: &str = "ok";

/// The name of the span of one event.
pub const EVENT_SPAN: &str = "liveview.event";
/// The name of the span of one group message's fan-out on this node.
pub const BROADCAST_SPAN: &str = "liveview.broadcast";
