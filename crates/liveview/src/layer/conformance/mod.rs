//! The conformance suite: what every [`ChannelLayer`] must do, as checks a
//! layer runs against itself (cargo feature `conformance`).
//!
//! Give [`run`] the number of nodes to test with and a function that makes
//! that many *fresh* nodes of one cluster (a new key prefix, a new
//! namespace: checks must not hear each other). Each check gets its own
//! cluster; connections are simulated with mailboxes attached directly to
//! the layer, so no server or socket is involved.
//!
//! ```no_run
//! # async fn run() -> Result<(), liveview::layer::conformance::ConformanceError> {
//! use liveview::layer::{InMemoryLayer, conformance};
//!
//! // A one-node layer: the checks that need two nodes are skipped, and say so.
//! let report = conformance::run(1, |_n| async { vec![InMemoryLayer::new()] }).await?;
//! assert_eq!(report.skipped.len(), 1);
//! # Ok(()) }
//! ```
//!
//! The checks ([`CHECKS`]), each also a public function taking the nodes:
//!
//! | check | what it asserts |
//! |-------|-----------------|
//! | [`node_ids_are_distinct`] | every instance has its own [`NodeId`], also across clusters |
//! | [`broadcast_reaches_every_member`] | a group message from any node reaches every member on every node, once, and no one else |
//! | [`group_add_and_discard`] | adding twice is harmless, a discarded member gets nothing more, discarding a non-member is not an error |
//! | [`detach_leaves_all_groups`] | a detached connection is in no group any more, even when attached again |
//! | [`empty_group_is_not_an_error`] | sending to a group without members is `Ok` |
//! | [`direct_send_reaches_a_local_connection`] | `send` to a connection of the same node |
//! | [`direct_send_reaches_another_node`] | `send` to a connection of another node (needs 2 nodes; skipped on 1) |
//! | [`send_to_a_gone_connection_is_closed`] | `send` to a connection of this node that is gone is [`SendError::Closed`] |
//! | [`frames_arrive_in_order_per_sender`] | frames of one sender (group and direct) arrive in the order sent |
//! | [`group_control_reaches_every_member`] | a control message ([`ChannelLayer::group_control`]) reaches every member's socket task on every node, once, as a control message, and no one else |
//!
//! A failure is a [`ConformanceError`] naming the check and what went
//! wrong; the suite does not panic. Delivery to other nodes may take time:
//! a frame is awaited up to [`PATIENCE`], and "nothing arrives" means
//! nothing within [`QUIET`].

mod checks;
mod probe;

use std::fmt;
use std::future::Future;
use std::time::Duration;

pub use checks::{
    broadcast_reaches_every_member, detach_leaves_all_groups,
    direct_send_reaches_a_local_connection, direct_send_reaches_another_node,
    empty_group_is_not_an_error, frames_arrive_in_order_per_sender, group_add_and_discard,
    group_control_reaches_every_member, node_ids_are_distinct, send_to_a_gone_connection_is_closed,
};

use super::ChannelLayer;
#[cfg(doc)]
use super::{NodeId, SendError};

/// How long a check waits for a frame that should arrive.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// How long a check waits to conclude that a frame does not arrive.
pub const QUIET: Duration = Duration::from_millis(300);

/// Frames queued per simulated connection before it overflows.
const QUEUE: usize = 100_000;

/// Frames per sender in [`frames_arrive_in_order_per_sender`].
const BURST: u64 = 200;

/// The names of the checks, in the order [`run`] runs them.
pub const CHECKS: &[&str] = &[
    "node_ids_are_distinct",
    "broadcast_reaches_every_member",
    "group_add_and_discard",
    "detach_leaves_all_groups",
    "empty_group_is_not_an_error",
    "direct_send_reaches_a_local_connection",
    "direct_send_reaches_another_node",
    "send_to_a_gone_connection_is_closed",
    "frames_arrive_in_order_per_sender",
    "group_control_reaches_every_member",
];

/// A check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConformanceError {
    /// The check's name (one of [`CHECKS`]).
    pub check: &'static str,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for ConformanceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "channel layer conformance check `{}` failed: {}",
            self.check, self.message
        )
    }
}

impl std::error::Error for ConformanceError {}

/// What [`run`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The checks that ran and passed.
    pub passed: Vec<&'static str>,
    /// The checks that did not run, with the reason.
    pub skipped: Vec<(&'static str, String)>,
}

fn fail(check: &'static str, message: impl Into<String>) -> ConformanceError {
    ConformanceError {
        check,
        message: message.into(),
    }
}

/// Runs every check of [`CHECKS`], each on a fresh cluster of `nodes`
/// nodes from `make_nodes(nodes)` (`make_nodes(1)` too, for a second
/// cluster in [`node_ids_are_distinct`]). With `nodes == 1`,
/// [`direct_send_reaches_another_node`] is skipped and listed in
/// [`Report::skipped`]; every other check runs on the one node.
///
/// # Errors
/// The first check that fails, or `make_nodes` returning another number of
/// nodes than asked.
pub async fn run<L, F, Fut>(nodes: usize, mut make_nodes: F) -> Result<Report, ConformanceError>
where
    L: ChannelLayer,
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Vec<L>>,
{
    if nodes == 0 {
        return Err(fail("run", "the suite needs at least one node"));
    }
    let mut report = Report::default();
    for &check in CHECKS {
        if check == "direct_send_reaches_another_node" && nodes < 2 {
            report.skipped.push((
                check,
                "the layer was tested with one node: there is no other node to send to".to_owned(),
            ));
            continue;
        }
        let cluster = make_nodes(nodes).await;
        if cluster.len() != nodes {
            return Err(fail(
                check,
                format!(
                    "make_nodes({nodes}) returned {} nodes instead of {nodes}",
                    cluster.len()
                ),
            ));
        }
        match check {
            "node_ids_are_distinct" => {
                let other = make_nodes(1).await;
                node_ids_are_distinct(&cluster, &other).await?;
            }
            "broadcast_reaches_every_member" => broadcast_reaches_every_member(&cluster).await?,
            "group_add_and_discard" => group_add_and_discard(&cluster).await?,
            "detach_leaves_all_groups" => detach_leaves_all_groups(&cluster).await?,
            "empty_group_is_not_an_error" => empty_group_is_not_an_error(&cluster).await?,
            "direct_send_reaches_a_local_connection" => {
                direct_send_reaches_a_local_connection(&cluster).await?;
            }
            "direct_send_reaches_another_node" => {
                direct_send_reaches_another_node(&cluster).await?;
            }
            "send_to_a_gone_connection_is_closed" => {
                send_to_a_gone_connection_is_closed(&cluster).await?;
            }
            "frames_arrive_in_order_per_sender" => {
                frames_arrive_in_order_per_sender(&cluster).await?;
            }
            "group_control_reaches_every_member" => {
                group_control_reaches_every_member(&cluster).await?;
            }
            _ => return Err(fail("run", format!("unknown check {check}"))),
        }
        report.passed.push(check);
    }
    Ok(report)
}
