//! The metric handles of one [`LiveView`](crate::LiveView), registered once
//! when it is built, so that the hot paths (an event answered, a frame
//! written) touch an atomic and no registry.
//!
//! A handle is bound to the recorder installed when it was registered:
//! install the app's recorder before `LiveViewBuilder::build`. Rare paths
//! (errors, closes) register at the time they happen.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use metrics::{Counter, Histogram, SharedString};

use super::names::{
    BYTES_OUT, EVENT_DURATION, EVENTS, FRAMES_OUT, FUNCTION, OK, OUTCOME, UNKNOWN_FUNCTION,
};

/// What a handler's events record.
#[derive(Debug)]
struct FunctionMetrics {
    name: SharedString,
    ok: Counter,
    duration: Histogram,
}

/// The handles of one app.
#[derive(Debug)]
pub(crate) struct Metrics {
    functions: HashMap<Box<str>, FunctionMetrics>,
    /// Shared with every connection's writer.
    wire: Arc<Wire>,
}

/// Frames and bytes written to clients.
#[derive(Debug)]
pub(crate) struct Wire {
    frames: Counter,
    bytes: Counter,
}

impl Metrics {
    /// Registers the handles of these handlers.
    pub(crate) fn new<'a>(functions: impl IntoIterator<Item = &'a str>) -> Metrics {
        let functions = functions
            .into_iter()
            .map(|function| {
                let name = SharedString::from(Arc::<str>::from(function));
                let metrics = FunctionMetrics {
                    ok: metrics::counter!(EVENTS, FUNCTION => name.clone(), OUTCOME => OK),
                    duration: metrics::histogram!(EVENT_DURATION, FUNCTION => name.clone()),
                    name,
                };
                (Box::from(function), metrics)
            })
            .collect();
        Metrics {
            functions,
            wire: Arc::new(Wire {
                frames: metrics::counter!(FRAMES_OUT),
                bytes: metrics::counter!(BYTES_OUT),
            }),
        }
    }

    /// The handles a connection's writer counts its frames with.
    pub(crate) fn wire(&self) -> Arc<Wire> {
        Arc::clone(&self.wire)
    }

    /// Counts an event that ran its handler for `elapsed`; `outcome` is
    /// [`OK`] or the code of the error frame it was answered with.
    pub(crate) fn event_finished(&self, function: &str, outcome: &'static str, elapsed: Duration) {
        let Some(handles) = self.functions.get(function) else {
            return;
        };
        handles.duration.record(elapsed.as_secs_f64());
        if outcome == OK {
            handles.ok.increment(1);
        } else {
            metrics::counter!(EVENTS, FUNCTION => handles.name.clone(), OUTCOME => outcome)
                .increment(1);
        }
    }

    /// Counts an event refused before its handler ran (`outcome`: the
    /// error frame's code). A name no handler has is counted as
    /// [`UNKNOWN_FUNCTION`]: what a client sends never becomes a label.
    pub(crate) fn event_refused(&self, function: &str, outcome: &'static str) {
        let name = self
            .functions
            .get(function)
            .map_or(SharedString::const_str(UNKNOWN_FUNCTION), |h| {
                h.name.clone()
            });
        metrics::counter!(EVENTS, FUNCTION => name, OUTCOME => outcome).increment(1);
    }
}

impl Wire {
    /// Counts one text frame of `len` bytes handed to the socket.
    pub(crate) fn frame(&self, len: usize) {
        self.frames.increment(1);
        self.bytes.increment(len as u64);
    }
}
