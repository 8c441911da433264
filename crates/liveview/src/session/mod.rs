//! Page sessions that outlive their socket (protocol version 2).
//!
//! A version-2 socket starts a session and names it in its first frame
//! with a one-use token. When the socket is lost, the session is *parked*:
//! its task lives on for `Limits::resume_window`, keeps its state and its
//! groups, runs its in-flight handler to the end and numbers every frame
//! written to it in a [`Journal`]. A socket that presents the token takes
//! it over: it is sent what its client has not seen, in order, and a new
//! token. The design, the guarantees and what a parked session costs are in
//! `docs/sessions.md`.
//!
//! - `journal`: the numbered frames and the replay;
//! - `store`: the tokens of this process's sessions;
//! - `handoff`: what a resuming socket hands to its session's task;
//! - `token`: new tokens;
//! - `cursors`: what the session received of each group's messages, so
//!   that another process replays what it missed;
//! - `backend`, `portable`, `writer`: snapshots of sessions in a store
//!   shared by processes ([`SessionBackend`]), so that a session outlives
//!   its process too: which state types travel, and the task that writes
//!   them.
//!
//! The public part is the backend's interface: [`SessionBackend`] and
//! [`Snapshot`]; `liveview_redis::RedisSessions` implements it.
//!
//! ```
//! use liveview::{Ctx, LiveView, Patch};
//!
//! #[derive(Default, serde::Serialize, serde::Deserialize)]
//! struct Clicks(u32);
//!
//! async fn click(ctx: Ctx) -> Patch {
//!     let n = ctx.with_state(|c: &mut Clicks| { c.0 += 1; c.0 });
//!     Patch::html("#clicks", n.to_string())
//! }
//!
//! let lv = LiveView::builder()
//!     .handler("click", click)
//!     // With a backend (`.session_backend(..)`), `Clicks` travels with the
//!     // session to another process.
//!     .session_state::<Clicks>("clicks")
//!     .build()?;
//! # Ok::<(), liveview::BuildError>(())
//! ```

mod backend;
mod cursors;
mod handoff;
mod journal;
mod portable;
mod store;
mod token;
mod writer;

pub use backend::{SessionBackend, SessionBackendError, Snapshot};
pub(crate) use cursors::GroupLog;
pub(crate) use handoff::{Guard, Refused, Resumption};
pub(crate) use journal::Journal;
pub(crate) use portable::PortableStates;
pub(crate) use store::SessionStore;
pub(crate) use token::{new_secret, new_token, split_token};
pub(crate) use writer::{SnapshotWriter, Write};
