//! Every error frame the socket task writes, built in one place: why an
//! event got an error instead of its answer, what the client is told, and
//! what is logged.

use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use liveview_protocol::{DecodeError, ErrorCode, ServerFrame};

use crate::error::{Error, Rejection};
use crate::layer::ConnId;

/// An error frame's code and message, before it is addressed to an event.
#[derive(Debug)]
pub(super) struct Refusal {
    code: ErrorCode,
    message: String,
}

impl Refusal {
    /// A well-formed frame of a kind the server does not take.
    pub(super) fn unsupported() -> Self {
        Refusal::new(ErrorCode::BadEvent, "unsupported message")
    }

    /// A resume request on a socket that did not open with `resume=1`, or
    /// after its first frame.
    pub(super) fn misplaced_resume() -> Self {
        Refusal::new(
            ErrorCode::BadEvent,
            "a resume request must be the first frame of a socket opened with resume=1",
        )
    }

    /// A frame that is not a valid message.
    pub(super) fn undecodable(id: ConnId, err: &DecodeError) -> Self {
        tracing::debug!(%id, %err, "liveview: bad frame");
        Refusal::new(err.code(), err.to_string())
    }

    pub(super) fn rate_limited() -> Self {
        Refusal::new(
            ErrorCode::RateLimited,
            "too many events: this one was dropped",
        )
    }

    /// No handler of that name; in debug mode the message lists them.
    pub(super) fn unknown_function(function: &str, registered: Option<Vec<&str>>) -> Self {
        let message = match registered {
            Some(names) => format!(
                "unknown function '{function}'; registered: {}",
                names.join(", ")
            ),
            None => format!("unknown function '{function}'"),
        };
        Refusal::new(ErrorCode::UnknownFunction, message)
    }

    /// The event or its files could not be read.
    pub(super) fn rejected(id: ConnId, function: &str, rejection: &Rejection) -> Self {
        tracing::debug!(%id, function, %rejection, "liveview: invalid event data");
        Refusal::new(
            rejection.code(),
            format!("invalid data for '{function}': {rejection}"),
        )
    }

    /// A `before_event` hook said no.
    pub(super) fn refused(id: ConnId, function: &str, err: &Error, debug: bool) -> Self {
        tracing::debug!(%id, function, %err, "liveview: event refused");
        let message = if err.is_user_facing() || debug {
            err.to_string()
        } else {
            format!("'{function}' was refused")
        };
        Refusal::new(ErrorCode::Refused, message)
    }

    /// The handler returned an error: shown when meant for the user,
    /// otherwise logged, with details for the client only in debug mode.
    pub(super) fn failed(id: ConnId, function: &str, err: &Error, debug: bool) -> Self {
        let message = if err.is_user_facing() {
            err.to_string()
        } else {
            tracing::warn!(%id, function, error = %err, "liveview: handler failed");
            if debug {
                format!("handler '{function}' failed: {err}")
            } else {
                format!("handler '{function}' failed")
            }
        };
        Refusal::new(ErrorCode::HandlerError, message)
    }

    pub(super) fn panicked(id: ConnId, function: &str, panic: &str) -> Self {
        tracing::error!(%id, function, panic, "liveview: handler panicked");
        Refusal::new(
            ErrorCode::HandlerPanic,
            format!("handler '{function}' panicked"),
        )
    }

    pub(super) fn timed_out(id: ConnId, function: &str, limit: Duration) -> Self {
        tracing::warn!(%id, function, "liveview: handler timed out");
        Refusal::new(
            ErrorCode::Timeout,
            format!("handler '{function}' timed out after {limit:?}"),
        )
    }

    /// The answer's frame is over `Limits::max_outgoing_frame_bytes`: the
    /// caller is told, rather than the frame failing to write and the
    /// connection dropping.
    pub(super) fn reply_too_large(id: ConnId, function: &str, size: usize, limit: usize) -> Self {
        tracing::error!(%id, function, size, limit, "liveview: answer over max_outgoing_frame_bytes, dropped");
        Refusal::new(
            ErrorCode::ReplyTooLarge,
            format!("the answer of '{function}' ({size} bytes) is over the limit of {limit} bytes"),
        )
    }

    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
        }
    }

    /// The error frame, about the event `function` / `reference` when known.
    /// The error frame's code, as on the wire (the `outcome` label).
    pub(super) fn code(&self) -> &'static str {
        self.code.as_str()
    }

    pub(super) fn frame(&self, function: Option<&str>, reference: Option<u64>) -> Utf8Bytes {
        ServerFrame::Error {
            message: &self.message,
            code: self.code,
            function,
            reference,
        }
        .to_json()
        .into()
    }
}

/// An upload's status frame (`ready`, `done`, `cancelled`, or progress).
pub(super) fn upload_status(id: u32, status: Option<&str>, received: Option<u64>) -> Utf8Bytes {
    ServerFrame::UploadStatus {
        id,
        status,
        received,
    }
    .to_json()
    .into()
}

/// An upload's error frame.
pub(super) fn upload_error(conn: ConnId, id: u32, err: &Rejection) -> Utf8Bytes {
    tracing::debug!(id = %conn, upload = id, error = %err, "liveview: upload refused or failed");
    ServerFrame::UploadError {
        message: err.message(),
        code: err.code(),
        upload: id,
    }
    .to_json()
    .into()
}
