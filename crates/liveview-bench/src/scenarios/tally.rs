//! What each client of a request-and-answer scenario (rtt, throughput,
//! http, rtt over long-poll) reports, and the sum over all of them.

use tokio::task::JoinSet;

use super::Samples;
use crate::stats::Latency;

/// What one client did (or, summed, all of them).
#[derive(Debug, Default)]
pub(crate) struct ClientResult {
    pub(crate) latency: Latency,
    pub(crate) sent: u64,
    pub(crate) received: u64,
    pub(crate) errors: u64,
    /// Paced events sent late (the client fell behind its schedule).
    pub(crate) late: u64,
    pub(crate) samples: Samples,
}

impl ClientResult {
    /// Adds every client's result as its task ends; a task that panicked
    /// counts as an error.
    pub(crate) async fn collect(&mut self, set: &mut JoinSet<ClientResult>) {
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(r) => {
                    self.latency.merge(&r.latency);
                    self.sent += r.sent;
                    self.received += r.received;
                    self.errors += r.errors;
                    self.late += r.late;
                    self.samples.extend(r.samples);
                }
                Err(e) => {
                    self.errors += 1;
                    self.samples.add(format!("client task: {e}"));
                }
            }
        }
    }
}
