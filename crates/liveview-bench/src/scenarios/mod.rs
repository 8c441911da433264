//! The scenarios, and what they share: opening many connections and
//! collecting error samples.

pub(crate) mod fanout;
pub(crate) mod fanout_nodes;
pub(crate) mod http;
pub(crate) mod idle;
pub(crate) mod load;
pub(crate) mod longpoll;
pub(crate) mod storm;
mod tally;

use tokio::task::JoinSet;

use crate::client::{Connector, Ws};
use crate::progress::Progress;

/// How many distinct error messages a run keeps for its report.
const MAX_SAMPLES: usize = 5;

/// A few distinct error messages, for the report.
#[derive(Debug, Default, Clone)]
pub(crate) struct Samples(Vec<String>);

impl Samples {
    /// Keeps `msg` if it is new and there is room.
    pub(crate) fn add(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        if self.0.len() < MAX_SAMPLES && !self.0.contains(&msg) {
            self.0.push(msg);
        }
    }

    /// Keeps the messages of `other` too.
    pub(crate) fn extend(&mut self, other: Samples) {
        for m in other.0 {
            self.add(m);
        }
    }

    /// The messages.
    pub(crate) fn into_vec(self) -> Vec<String> {
        self.0
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The messages joined for the table.
    pub(crate) fn joined(&self) -> String {
        self.0.join("; ")
    }
}

/// The connections that were opened, and how many failed.
pub(crate) struct Connected {
    /// Open connections, with their client index.
    pub(crate) conns: Vec<(usize, Ws)>,
    /// Connections that could not be opened.
    pub(crate) failed: u64,
    /// Why.
    pub(crate) samples: Samples,
}

/// Opens connections for client indices `first..first + n`, at most
/// `--connect-concurrency` handshakes at a time, with a progress bar.
pub(crate) async fn connect_all(
    connector: &Connector,
    first: usize,
    n: usize,
    progress: bool,
) -> Connected {
    let bar = Progress::new(progress && n >= 100, n as u64, "connecting");
    let mut set = JoinSet::new();
    for idx in first..first + n {
        let connector = connector.clone();
        set.spawn(async move { (idx, connector.ws(idx).await) });
    }
    let mut out = Connected {
        conns: Vec::with_capacity(n),
        failed: 0,
        samples: Samples::default(),
    };
    while let Some(joined) = set.join_next().await {
        bar.inc();
        match joined {
            Ok((idx, Ok(ws))) => out.conns.push((idx, ws)),
            Ok((_, Err(e))) => {
                out.failed += 1;
                out.samples.add(format!("connect: {e}"));
            }
            Err(e) => {
                out.failed += 1;
                out.samples.add(format!("connect task: {e}"));
            }
        }
    }
    bar.finish();
    out.conns.sort_unstable_by_key(|(idx, _)| *idx);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_distinct_and_bounded() {
        let mut s = Samples::default();
        assert!(s.is_empty());
        for i in 0..20 {
            s.add(format!("e{}", i % 7));
            s.add("e0");
        }
        assert_eq!(s.clone().into_vec(), vec!["e0", "e1", "e2", "e3", "e4"]);
        assert_eq!(s.joined(), "e0; e1; e2; e3; e4");
    }
}
