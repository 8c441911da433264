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
//! - `token`: new tokens.

mod handoff;
mod journal;
mod store;
mod token;

pub(crate) use handoff::{Guard, Refused, Resumption};
pub(crate) use journal::Journal;
pub(crate) use store::SessionStore;
pub(crate) use token::new_token;
