//! Server → client frames.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::patch::Patch;
use crate::session::{ResumeRefusal, SessionBody, SessionInfo, SessionOut};

/// The machine-readable kind of an error frame (`"code"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The frame is not valid JSON.
    BadJson,
    /// The JSON is not an event object.
    BadEvent,
    /// No handler is registered under that name.
    UnknownFunction,
    /// The handler's extractors could not parse the event's data.
    InvalidData,
    /// A before-event hook refused the event.
    Refused,
    /// The handler returned an error.
    HandlerError,
    /// The handler panicked.
    HandlerPanic,
    /// The handler did not finish in time.
    Timeout,
    /// Too many events per second; this one was dropped.
    RateLimited,
    /// A frame kind this server does not handle.
    Unsupported,
    /// An upload was refused before it started (limits, type, function).
    UploadRejected,
    /// An upload failed while its chunks arrived; it was dropped.
    UploadFailed,
    /// The answer was larger than the server's outgoing frame limit; it was
    /// dropped and this error sent instead.
    ReplyTooLarge,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadJson => "bad_json",
            ErrorCode::BadEvent => "bad_event",
            ErrorCode::UnknownFunction => "unknown_function",
            ErrorCode::InvalidData => "invalid_data",
            ErrorCode::Refused => "refused",
            ErrorCode::HandlerError => "handler_error",
            ErrorCode::HandlerPanic => "handler_panic",
            ErrorCode::Timeout => "timeout",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::UploadRejected => "upload_rejected",
            ErrorCode::UploadFailed => "upload_failed",
            ErrorCode::ReplyTooLarge => "reply_too_large",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A frame the server sends, borrowed for encoding.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum ServerFrame<'a> {
    /// One patch.
    Patch {
        /// The patch.
        patch: &'a Patch,
        /// The `ref` of the event it answers, if any.
        reference: Option<u64>,
    },
    /// Several patches applied in order (extension; version-1 clients only).
    Batch {
        /// The patches.
        patches: &'a [Patch],
        /// The `ref` of the event they answer, if any.
        reference: Option<u64>,
    },
    /// "Done, nothing to change" (extension; version-1 clients only).
    Ack {
        /// The `ref` of the event.
        reference: u64,
    },
    /// An error.
    Error {
        /// Human-readable message.
        message: &'a str,
        /// Machine-readable kind.
        code: ErrorCode,
        /// The function of the event, when known.
        function: Option<&'a str>,
        /// The `ref` of the event, when known.
        reference: Option<u64>,
    },
    /// The state of an upload (extension, see `docs/uploads.md`).
    UploadStatus {
        /// The upload.
        id: u32,
        /// `ready`, `done` or `cancelled`; `None` for a progress report.
        status: Option<&'a str>,
        /// Bytes received so far, for a progress report.
        received: Option<u64>,
    },
    /// A named event for the page's JavaScript (extension, see
    /// `docs/protocol.md`): `{"event": name, "payload": …}`.
    Event {
        /// The event's name.
        name: &'a str,
        /// Any JSON.
        payload: &'a serde_json::Value,
    },
    /// An upload failed or was refused. Its `upload` field has the shape of
    /// a status frame's (`{"id": 3}`).
    UploadError {
        /// Human-readable message.
        message: &'a str,
        /// `upload_rejected` or `upload_failed`.
        code: ErrorCode,
        /// The upload.
        upload: u32,
    },
    /// Names the socket's page session (version 2): the first frame of
    /// every version-2 socket, not counted in the session's frames.
    Session {
        /// The token that resumes the session on the next socket (one use).
        token: &'a str,
        /// True when this socket continues the session the client asked for.
        resumed: bool,
        /// On a resume: the highest event `ref` the server had received.
        received: u64,
        /// Why the session asked for was not resumed (a fresh one starts).
        refused: Option<ResumeRefusal>,
    },
}

#[derive(Serialize)]
struct PatchOut<'a> {
    #[serde(flatten)]
    patch: &'a Patch,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    reference: Option<u64>,
}

#[derive(Serialize)]
struct BatchOut<'a> {
    patches: &'a [Patch],
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    reference: Option<u64>,
}

#[derive(Serialize)]
struct AckOut {
    #[serde(rename = "ref")]
    reference: u64,
}

#[derive(Serialize)]
struct ErrorOut<'a> {
    error: &'a str,
    code: ErrorCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    function: Option<&'a str>,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    reference: Option<u64>,
}

#[derive(Serialize)]
struct EventOut<'a> {
    event: &'a str,
    payload: &'a serde_json::Value,
}

#[derive(Serialize)]
struct UploadStatusOut<'a> {
    upload: UploadStatusBody<'a>,
}

#[derive(Serialize)]
struct UploadStatusBody<'a> {
    id: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    received: Option<u64>,
}

#[derive(Serialize)]
struct UploadErrorOut<'a> {
    error: &'a str,
    code: ErrorCode,
    upload: UploadStatusBody<'a>,
}

impl ServerFrame<'_> {
    /// Encodes the frame as the JSON text of a WebSocket text frame.
    pub fn to_json(&self) -> String {
        // Every variant is made of strings, booleans, integers and JSON
        // values (whose keys are strings): encoding cannot fail, so a
        // failure would be a bug in serde_json.
        let encoded = match *self {
            ServerFrame::Patch { patch, reference } => {
                serde_json::to_string(&PatchOut { patch, reference })
            }
            ServerFrame::Batch { patches, reference } => {
                serde_json::to_string(&BatchOut { patches, reference })
            }
            ServerFrame::Ack { reference } => serde_json::to_string(&AckOut { reference }),
            ServerFrame::Error {
                message,
                code,
                function,
                reference,
            } => serde_json::to_string(&ErrorOut {
                error: message,
                code,
                function,
                reference,
            }),
            ServerFrame::Event { name, payload } => serde_json::to_string(&EventOut {
                event: name,
                payload,
            }),
            ServerFrame::UploadStatus {
                id,
                status,
                received,
            } => serde_json::to_string(&UploadStatusOut {
                upload: UploadStatusBody {
                    id,
                    status,
                    received,
                },
            }),
            ServerFrame::UploadError {
                message,
                code,
                upload,
            } => serde_json::to_string(&UploadErrorOut {
                error: message,
                code,
                upload: UploadStatusBody {
                    id: upload,
                    status: None,
                    received: None,
                },
            }),
            ServerFrame::Session {
                token,
                resumed,
                received,
                refused,
            } => serde_json::to_string(&SessionOut {
                session: SessionBody {
                    token,
                    resumed,
                    received,
                    refused,
                },
            }),
        };
        encoded.unwrap_or_default()
    }
}

/// Any frame a server sends, decoded (for clients, tests and the benchmark tool).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ServerMessage {
    /// The fields of a single patch (all empty for other frames).
    #[serde(flatten)]
    pub patch: Patch,
    /// The patches of a batch frame.
    #[serde(default)]
    pub patches: Option<Vec<Patch>>,
    /// The message of an error frame.
    #[serde(default)]
    pub error: Option<String>,
    /// The code of an error frame.
    #[serde(default)]
    pub code: Option<ErrorCode>,
    /// The function an error frame is about.
    #[serde(default)]
    pub function: Option<String>,
    /// The `ref` of the event this frame answers.
    #[serde(default, rename = "ref")]
    pub reference: Option<u64>,
    /// The name of an event frame.
    #[serde(default)]
    pub event: Option<String>,
    /// The payload of an event frame.
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
    /// Upload frames: the upload's object (`{"id": .., "status": ..,
    /// "received": ..}`), in status and error frames alike.
    #[serde(default)]
    pub upload: Option<serde_json::Value>,
    /// A session frame's `session` object (version 2).
    #[serde(default)]
    pub session: Option<SessionInfo>,
}

impl ServerMessage {
    /// Decodes a text frame.
    ///
    /// # Errors
    /// When the text is not a JSON object of the expected shape.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// True for an error frame.
    pub fn is_error(&self) -> bool {
        self.error.is_some()
    }

    /// The patches this frame carries: the batch, or the single patch, or none.
    pub fn into_patches(self) -> Vec<Patch> {
        if let Some(patches) = self.patches {
            patches
        } else if self.patch == Patch::default() {
            Vec::new()
        } else {
            vec![self.patch]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_every_frame_kind() {
        let patch = Patch::html("#a", "<b>x</b>");
        assert_eq!(
            ServerFrame::Patch {
                patch: &patch,
                reference: None
            }
            .to_json(),
            r##"{"target":"#a","html":"<b>x</b>"}"##
        );
        let patches = [Patch::append("#l", "<li>1</li>"), Patch::remove("#x")];
        assert_eq!(
            ServerFrame::Batch {
                patches: &patches,
                reference: Some(4)
            }
            .to_json(),
            r##"{"patches":[{"target":"#l","html":"<li>1</li>","append":true},{"target":"#x","remove":true}],"ref":4}"##
        );
        assert_eq!(ServerFrame::Ack { reference: 7 }.to_json(), r#"{"ref":7}"#);
        let payload = serde_json::json!({"points": [1, 2]});
        let event = ServerFrame::Event {
            name: "chart:data",
            payload: &payload,
        }
        .to_json();
        assert_eq!(
            event,
            r#"{"event":"chart:data","payload":{"points":[1,2]}}"#
        );
        let decoded = ServerMessage::from_json(&event).unwrap();
        assert_eq!(decoded.event.as_deref(), Some("chart:data"));
        assert_eq!(decoded.payload, Some(payload));
        assert!(decoded.into_patches().is_empty());
        assert_eq!(
            ServerFrame::UploadStatus {
                id: 3,
                status: Some("ready"),
                received: None
            }
            .to_json(),
            r#"{"upload":{"id":3,"status":"ready"}}"#
        );
        assert_eq!(
            ServerFrame::UploadStatus {
                id: 3,
                status: None,
                received: Some(10)
            }
            .to_json(),
            r#"{"upload":{"id":3,"received":10}}"#
        );
        assert_eq!(
            ServerFrame::UploadError {
                message: "too big",
                code: ErrorCode::UploadRejected,
                upload: 3
            }
            .to_json(),
            r#"{"error":"too big","code":"upload_rejected","upload":{"id":3}}"#
        );
        assert_eq!(
            ServerFrame::Error {
                message: "unknown function 'x'",
                code: ErrorCode::UnknownFunction,
                function: Some("x"),
                reference: Some(2)
            }
            .to_json(),
            r#"{"error":"unknown function 'x'","code":"unknown_function","function":"x","ref":2}"#
        );
    }

    #[test]
    fn encodes_every_patch_field() {
        let patch = Patch {
            target: Some("#t".into()),
            html: Some("h".into()),
            append: true,
            prepend: true,
            outer: true,
            remove: true,
            url: Some("/u".into()),
            title: Some("T".into()),
            scroll: Some("#s".into()),
            scroll_top: true,
        };
        let json = ServerFrame::Patch {
            patch: &patch,
            reference: Some(1),
        }
        .to_json();
        assert_eq!(
            json,
            r##"{"target":"#t","html":"h","append":true,"prepend":true,"outer":true,"remove":true,"url":"/u","title":"T","scroll":"#s","scrollTop":true,"ref":1}"##
        );
        let decoded = ServerMessage::from_json(&json).unwrap();
        assert_eq!(decoded.patch, patch);
        assert_eq!(decoded.reference, Some(1));
    }

    #[test]
    fn decodes_frames() {
        let batch =
            ServerMessage::from_json(r##"{"patches":[{"target":"#a","html":""}],"ref":3}"##)
                .unwrap();
        assert_eq!(batch.reference, Some(3));
        assert_eq!(batch.into_patches(), vec![Patch::html("#a", "")]);
        let ack = ServerMessage::from_json(r#"{"ref":3}"#).unwrap();
        assert!(ack.clone().into_patches().is_empty());
        assert!(!ack.is_error());
        let error = ServerMessage::from_json(r#"{"error":"boom","code":"handler_panic"}"#).unwrap();
        assert!(error.is_error());
        assert_eq!(error.code, Some(ErrorCode::HandlerPanic));
    }
}
