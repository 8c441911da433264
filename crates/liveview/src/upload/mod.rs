//! File uploads over the socket (see `docs/uploads.md`).
//!
//! [`UploadConfig`] says what a function accepts; the socket task keeps an
//! upload table per connection (open uploads receiving binary chunks,
//! finished ones waiting for their event); the event that names finished
//! uploads carries them, as [`UploadedFile`]s, into its handler's
//! [`Uploads`](crate::Uploads) argument.

mod budget;
mod config;
mod dir;
pub(crate) mod file;
mod table;

pub(crate) use budget::UploadBudget;
pub use config::UploadConfig;
pub(crate) use dir::{UploadDir, default_parent};
pub use file::{UploadProgress, UploadedFile};
pub(crate) use table::{ChunkOutcome, UploadShared, UploadTable};
