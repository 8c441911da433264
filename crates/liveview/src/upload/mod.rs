//! File uploads over the socket (see `docs/uploads.md`).
//!
//! [`UploadConfig`] says what a function accepts; the socket task keeps an
//! upload table per connection (open uploads receiving binary chunks,
//! finished ones waiting for their event); the event that names finished
//! uploads carries them, as [`UploadedFile`]s, into its handler's
//! [`Uploads`](crate::Uploads) argument.

mod config;
pub(crate) mod file;
mod table;

pub use config::UploadConfig;
pub use file::{UploadProgress, UploadedFile};
pub(crate) use table::{ChunkOutcome, UploadTable};
