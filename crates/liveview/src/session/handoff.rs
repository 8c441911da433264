//! What a socket that resumes a session hands to the session's task, and
//! what it gets back when the session refuses it.

use liveview_protocol::ResumeRefusal;
use tokio::sync::oneshot;

use crate::transport::Socket;

/// Whatever keeps a socket counted as open (the server's connection slot).
pub(crate) type Guard = Box<dyn Send>;

/// A new socket for a session, from the task that accepted it.
pub(crate) struct Resumption {
    pub(crate) socket: Socket,
    pub(crate) guard: Guard,
    /// Frames of the session its client has received.
    pub(crate) seen: u64,
    /// Where the socket goes back when the session cannot take it.
    pub(crate) refused: oneshot::Sender<Refused>,
}

/// A socket a session could not take, and why.
pub(crate) struct Refused {
    pub(crate) socket: Socket,
    pub(crate) guard: Guard,
    pub(crate) refusal: ResumeRefusal,
}

impl std::fmt::Debug for Resumption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resumption")
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl Resumption {
    /// Sends the socket back to its task, which starts a fresh session on it.
    pub(crate) fn refuse(self, refusal: ResumeRefusal) {
        let back = Refused {
            socket: self.socket,
            guard: self.guard,
            refusal,
        };
        // The accepting task waits for it unless its client is gone.
        let _ = self.refused.send(back);
    }
}
