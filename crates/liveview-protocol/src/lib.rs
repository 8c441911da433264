//! Wire types of the liveview protocol.
//!
//! The protocol is a superset of the one Django LiveView 2.x speaks; it is
//! specified in `docs/protocol.md`. This crate holds only the types and their
//! JSON encoding, so that the server, the benchmark tool and third-party
//! clients share one definition:
//!
//! - [`Event`]: what a client sends (`{"function": .., "data": .., "form": ..}`).
//! - [`Patch`]: one change to the page (`{"target": .., "html": ..}`).
//! - [`ErrorCode`]: the machine-readable kind of an error frame.
//! - [`ServerFrame`]: what a server sends, for encoding;
//!   [`ServerMessage`]: the same, for decoding on the client side.
//! - [`Dialect`]: legacy (Django LiveView), version 1 or version 2, and how
//!   an answer becomes frames in each.
//! - [`Resume`], [`ResumeRefusal`], [`SessionInfo`]: page sessions that
//!   outlive a socket (version 2).
//! - [`Chunk`]: the binary frame of an upload chunk.
//!
//! ```
//! use liveview_protocol::{Event, Patch, ServerFrame};
//!
//! let event = Event::from_json(r#"{"function":"search","form":{"queryText":"rust"},"ref":3}"#)?;
//! assert_eq!(event.function, "search");
//! assert_eq!(event.form["query_text"], "rust"); // camelCase keys arrive in snake_case
//!
//! let patch = Patch::html("#results", "<li>Rust</li>");
//! let frame = ServerFrame::Patch { patch: &patch, reference: event.reference }.to_json();
//! assert_eq!(frame, r##"{"target":"#results","html":"<li>Rust</li>","ref":3}"##);
//! # Ok::<(), liveview_protocol::DecodeError>(())
//! ```

mod case;
mod chunk;
mod dialect;
mod event;
mod frame;
mod patch;
mod session;

pub use case::{snake_case, snake_case_keys};
pub use chunk::{CHUNK_HEADER_BYTES, Chunk, MAX_CHUNK_BYTES};
pub use dialect::{Dialect, ReplyFrames};
pub use event::{ClientMessage, DecodeError, Event, MAX_FUNCTION_NAME_LEN, UploadRequest};
pub use frame::{ErrorCode, ServerFrame, ServerMessage};
pub use patch::Patch;
pub use session::{MAX_TOKEN_LEN, Resume, ResumeRefusal, SessionInfo};

/// The extension version of the protocol this crate speaks (the `v` query
/// parameter of the WebSocket URL).
pub const PROTOCOL_VERSION: u32 = 2;

/// The group every connection joins, as in Django LiveView.
pub const BROADCAST_GROUP: &str = "broadcast";
