//! The spans: one per event (from its arrival to its answer, the handler
//! running inside it) and one per group message fanned out on this node.
//!
//! Both are at `INFO`, the level production apps keep on. Their fields are
//! evaluated only when a subscriber wants the span: with none, or one that
//! filters them out, a span costs a check of the level filter.

use std::fmt::Display;
use std::time::Duration;

use tracing::Span;
use tracing::field::Empty;

use super::names::{BROADCAST_SPAN, EVENT_SPAN};

/// The span of one event. `outcome` and `duration_us` are recorded when it
/// is answered ([`finish_event`]). `conn` is the connection id (taken as
/// anything printable: this module depends on no other of the crate).
pub(crate) fn event(
    function: &str,
    reference: Option<u64>,
    conn: impl Display,
    room: &str,
) -> Span {
    tracing::info_span!(
        EVENT_SPAN,
        function,
        r#ref = reference,
        conn = %conn,
        room,
        outcome = Empty,
        duration_us = Empty,
    )
}

/// Records how an event ended on its span.
pub(crate) fn finish_event(span: &Span, outcome: &'static str, elapsed: Duration) {
    if span.is_disabled() {
        return;
    }
    span.record("outcome", outcome);
    span.record(
        "duration_us",
        u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
    );
}

/// The span of one group message's fan-out to this node's members;
/// `receivers` is recorded once it is delivered ([`finish_broadcast`]).
pub(crate) fn broadcast(group: &str) -> Span {
    tracing::info_span!(BROADCAST_SPAN, group, receivers = Empty)
}

/// Records how many local members took the message.
pub(crate) fn finish_broadcast(span: &Span, receivers: usize) {
    if !span.is_disabled() {
        span.record("receivers", receivers);
    }
}
