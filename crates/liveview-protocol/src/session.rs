//! Page sessions (version 2): the frame that names a session, the request
//! that resumes one on a new socket, and why a resume can be refused.
//!
//! ```
//! use liveview_protocol::{ClientMessage, ResumeRefusal, ServerFrame};
//!
//! // The server names the session in the first frame of every version-2 socket.
//! let fresh = ServerFrame::Session { token: "t1", resumed: false, received: 0, refused: None };
//! assert_eq!(fresh.to_json(), r#"{"session":{"token":"t1","resumed":false}}"#);
//!
//! // A socket that comes back asks for it, with the count of frames it has seen.
//! let ClientMessage::Resume(resume) = ClientMessage::from_json(r#"{"resume":{"token":"t1","seen":12}}"#)? else {
//!     unreachable!()
//! };
//! assert_eq!((resume.token.as_str(), resume.seen), ("t1", 12));
//!
//! // Resumed: the highest event ref the server had received, then the replay.
//! let resumed = ServerFrame::Session { token: "t2", resumed: true, received: 7, refused: None };
//! assert_eq!(resumed.to_json(), r#"{"session":{"token":"t2","resumed":true,"received":7}}"#);
//!
//! // Or refused: a fresh session starts on this socket.
//! let refused = ServerFrame::Session { token: "t3", resumed: false, received: 0, refused: Some(ResumeRefusal::Unknown) };
//! assert_eq!(refused.to_json(), r#"{"session":{"token":"t3","resumed":false,"refused":"unknown"}}"#);
//! # Ok::<(), liveview_protocol::DecodeError>(())
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest resume token a server reads (a server's own are 64 bytes).
pub const MAX_TOKEN_LEN: usize = 128;

/// A client's request to resume its page session on this socket: the first
/// frame of a socket opened with `resume=1` in its query.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Resume {
    /// The token of the last session frame the client received.
    pub token: String,
    /// How many frames of the session the client has received (every text
    /// frame after a session frame counts one; session frames do not).
    pub seen: u64,
}

/// Why a server did not resume a session (the `refused` field of the
/// session frame that starts a fresh one instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResumeRefusal {
    /// No such session: it expired, ended, was already resumed with this
    /// token, lived on a server that is gone, or never existed.
    Unknown,
    /// The token belongs to a session of another room.
    OtherRoom,
    /// Frames the client has not seen are no longer kept (the replay
    /// buffer's bound was passed), or the client claims more than were sent.
    ReplayLost,
    /// The session exists elsewhere but its state cannot travel (a state
    /// type that is not serializable).
    NotPortable,
    /// The first frame was not a resume request.
    BadRequest,
}

impl ResumeRefusal {
    /// The refusal as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ResumeRefusal::Unknown => "unknown",
            ResumeRefusal::OtherRoom => "other_room",
            ResumeRefusal::ReplayLost => "replay_lost",
            ResumeRefusal::NotPortable => "not_portable",
            ResumeRefusal::BadRequest => "bad_request",
        }
    }
}

impl fmt::Display for ResumeRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `session` object of a session frame, decoded (for clients and tests).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The token to present on the next socket (one use).
    pub token: String,
    /// True when this socket continues the client's session.
    pub resumed: bool,
    /// On a resume: the highest event `ref` the server had received; the
    /// client re-sends the unanswered events above it.
    #[serde(default)]
    pub received: u64,
    /// Why the session asked for was not resumed.
    #[serde(default)]
    pub refused: Option<ResumeRefusal>,
}

#[derive(Serialize)]
pub(crate) struct SessionOut<'a> {
    pub(crate) session: SessionBody<'a>,
}

#[derive(Serialize)]
pub(crate) struct SessionBody<'a> {
    pub(crate) token: &'a str,
    pub(crate) resumed: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) received: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) refused: Option<ResumeRefusal>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
