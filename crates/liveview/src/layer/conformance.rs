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
//!
//! A failure is a [`ConformanceError`] naming the check and what went
//! wrong; the suite does not panic. Delivery to other nodes may take time:
//! a frame is awaited up to [`PATIENCE`], and "nothing arrives" means
//! nothing within [`QUIET`].

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::{ChannelLayer, ConnId, Frame, Mailbox, MailboxReceiver, NodeId, Outgoing, SendError};

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
            _ => return Err(fail("run", format!("unknown check {check}"))),
        }
        report.passed.push(check);
    }
    Ok(report)
}

/// A simulated connection: a mailbox attached to one node.
struct Probe {
    id: ConnId,
    rx: MailboxReceiver,
    /// Keeps the queue open after a detach, so that a frame delivered to a
    /// detached connection would be seen rather than lost.
    _keep: Mailbox,
}

impl Probe {
    fn attach<L: ChannelLayer>(layer: &L) -> Probe {
        Probe::attach_as(layer, ConnId::next(layer.node()))
    }

    fn attach_as<L: ChannelLayer>(layer: &L, id: ConnId) -> Probe {
        let (mailbox, rx) = Mailbox::new(QUEUE);
        layer.attach(id, mailbox.clone());
        Probe {
            id,
            rx,
            _keep: mailbox,
        }
    }

    async fn next(
        &mut self,
        check: &'static str,
        waiting_for: &str,
    ) -> Result<String, ConformanceError> {
        match tokio::time::timeout(PATIENCE, self.rx.recv()).await {
            Ok(Some(Outgoing::Frame(frame))) => Ok(frame.as_str().to_owned()),
            Ok(Some(Outgoing::Overflow)) => Err(fail(
                check,
                format!(
                    "connection {} overflowed waiting for {waiting_for}",
                    self.id
                ),
            )),
            Ok(None) => Err(fail(
                check,
                format!(
                    "connection {}: queue closed waiting for {waiting_for}",
                    self.id
                ),
            )),
            Err(_) => Err(fail(
                check,
                format!(
                    "connection {} (node {}) did not get {waiting_for} within {PATIENCE:?}",
                    self.id,
                    self.id.node()
                ),
            )),
        }
    }

    async fn expect(&mut self, check: &'static str, frame: &Frame) -> Result<(), ConformanceError> {
        let got = self.next(check, frame.as_str()).await?;
        if got == frame.as_str() {
            Ok(())
        } else {
            Err(fail(
                check,
                format!(
                    "connection {} (node {}) got {got} instead of {}",
                    self.id,
                    self.id.node(),
                    frame.as_str()
                ),
            ))
        }
    }

    async fn expect_silence(
        &mut self,
        check: &'static str,
        wait: Duration,
        why: &str,
    ) -> Result<(), ConformanceError> {
        match tokio::time::timeout(wait, self.rx.recv()).await {
            Err(_) | Ok(None) => Ok(()),
            Ok(Some(Outgoing::Frame(frame))) => Err(fail(
                check,
                format!(
                    "connection {} (node {}) got {} but {why}",
                    self.id,
                    self.id.node(),
                    frame.as_str()
                ),
            )),
            Ok(Some(Outgoing::Overflow)) => Err(fail(
                check,
                format!("connection {} overflowed but {why}", self.id),
            )),
        }
    }
}

fn frame(check: &str, label: &str, from: usize, n: u64) -> Frame {
    Frame::from_json_text(format!(
        "{{\"check\":\"{check}\",\"label\":\"{label}\",\"from\":{from},\"n\":{n}}}"
    ))
}

fn unexpected(check: &'static str, what: &str, err: &SendError) -> ConformanceError {
    fail(check, format!("{what} failed: {err}"))
}

async fn join<L: ChannelLayer>(
    check: &'static str,
    layer: &L,
    group: &str,
    probe: &Probe,
) -> Result<(), ConformanceError> {
    layer
        .group_add(group, probe.id)
        .await
        .map_err(|e| unexpected(check, &format!("group_add({group:?})"), &e))
}

async fn group_send<L: ChannelLayer>(
    check: &'static str,
    layer: &L,
    group: &str,
    frame: &Frame,
) -> Result<(), ConformanceError> {
    layer
        .group_send(group, frame.clone())
        .await
        .map_err(|e| unexpected(check, &format!("group_send({group:?})"), &e))
}

async fn detach_all<L: ChannelLayer>(nodes: &[L], probes: &[(usize, &Probe)]) {
    for (node, probe) in probes {
        if let Some(layer) = nodes.get(*node) {
            layer.detach(probe.id).await;
        }
    }
}

/// Every node of `nodes` and of `other` (a second cluster) has its own
/// [`NodeId`], and the ids of the connections a node mints are on it.
///
/// # Errors
/// Two instances share a node id.
pub async fn node_ids_are_distinct<L: ChannelLayer>(
    nodes: &[L],
    other: &[L],
) -> Result<(), ConformanceError> {
    const CHECK: &str = "node_ids_are_distinct";
    let mut seen: HashSet<NodeId> = HashSet::new();
    for layer in nodes.iter().chain(other) {
        let node = layer.node();
        if !seen.insert(node) {
            return Err(fail(
                CHECK,
                format!("two layer instances have the node id {node}"),
            ));
        }
        if layer.node() != node {
            return Err(fail(
                CHECK,
                format!("node() changed from {node} to {}", layer.node()),
            ));
        }
        if ConnId::next(node).node() != node {
            return Err(fail(CHECK, "ConnId::next(node).node() is not node"));
        }
    }
    Ok(())
}

/// Two members on every node and one non-member: a group message sent from
/// each node in turn reaches every member once, and not the non-members.
///
/// # Errors
/// A member missed the frame or got it twice, or a non-member got it.
pub async fn broadcast_reaches_every_member<L: ChannelLayer>(
    nodes: &[L],
) -> Result<(), ConformanceError> {
    const CHECK: &str = "broadcast_reaches_every_member";
    const GROUP: &str = "conformance:everyone";
    let mut members = Vec::new();
    let mut outsiders = Vec::new();
    for (i, layer) in nodes.iter().enumerate() {
        for _ in 0..2 {
            let probe = Probe::attach(layer);
            join(CHECK, layer, GROUP, &probe).await?;
            members.push((i, probe));
        }
        let outsider = Probe::attach(layer);
        join(CHECK, layer, "conformance:elsewhere", &outsider).await?;
        outsiders.push((i, outsider));
    }
    for (from, layer) in nodes.iter().enumerate() {
        let message = frame(CHECK, "hello", from, 0);
        group_send(CHECK, layer, GROUP, &message).await?;
        for (_, member) in &mut members {
            member.expect(CHECK, &message).await?;
        }
    }
    for (_, member) in &mut members {
        member
            .expect_silence(CHECK, QUIET, "every frame was already delivered once")
            .await?;
    }
    for (_, outsider) in &mut outsiders {
        outsider
            .expect_silence(CHECK, QUIET, "it is not a member of the group")
            .await?;
    }
    let all: Vec<(usize, &Probe)> = members
        .iter()
        .chain(&outsiders)
        .map(|(i, p)| (*i, p))
        .collect();
    detach_all(nodes, &all).await;
    Ok(())
}

/// A member on every node (added twice); then the last node's member is
/// discarded (twice, and from a group it never joined): it gets nothing
/// more, the others still do.
///
/// # Errors
/// A frame was missed, repeated, or reached a discarded member, or
/// `group_add`/`group_discard` failed.
pub async fn group_add_and_discard<L: ChannelLayer>(nodes: &[L]) -> Result<(), ConformanceError> {
    const CHECK: &str = "group_add_and_discard";
    const GROUP: &str = "conformance:group";
    let mut members = Vec::new();
    for (i, layer) in nodes.iter().enumerate() {
        let probe = Probe::attach(layer);
        join(CHECK, layer, GROUP, &probe).await?;
        join(CHECK, layer, GROUP, &probe).await?; // twice: still one membership
        members.push((i, probe));
    }
    let sender = &nodes[0];
    let first = frame(CHECK, "first", 0, 1);
    group_send(CHECK, sender, GROUP, &first).await?;
    for (_, member) in &mut members {
        member.expect(CHECK, &first).await?;
        member
            .expect_silence(CHECK, QUIET, "a member added twice gets a frame once")
            .await?;
    }
    let last = nodes.len() - 1;
    let (_, gone) = &members[last];
    let gone_id = gone.id;
    for _ in 0..2 {
        nodes[last]
            .group_discard(GROUP, gone_id)
            .await
            .map_err(|e| unexpected(CHECK, "group_discard", &e))?;
    }
    nodes[last]
        .group_discard("conformance:never-joined", gone_id)
        .await
        .map_err(|e| unexpected(CHECK, "group_discard of a group never joined", &e))?;
    let second = frame(CHECK, "second", 0, 2);
    group_send(CHECK, sender, GROUP, &second).await?;
    for (i, member) in &mut members {
        if *i == last && member.id == gone_id {
            member
                .expect_silence(CHECK, QUIET, "it was discarded from the group")
                .await?;
        } else {
            member.expect(CHECK, &second).await?;
        }
    }
    let all: Vec<(usize, &Probe)> = members.iter().map(|(i, p)| (*i, p)).collect();
    detach_all(nodes, &all).await;
    Ok(())
}

/// A connection of the last node in two groups is detached, then attached
/// again under the same id: messages to both groups (from the first node)
/// reach the other members but not it, and `local_connections` follows.
///
/// # Errors
/// The detached connection still got a group's frames, or a remaining
/// member missed them.
pub async fn detach_leaves_all_groups<L: ChannelLayer>(
    nodes: &[L],
) -> Result<(), ConformanceError> {
    const CHECK: &str = "detach_leaves_all_groups";
    const G1: &str = "conformance:one";
    const G2: &str = "conformance:two";
    let last = &nodes[nodes.len() - 1];
    let before = last.local_connections();
    let leaving = Probe::attach(last);
    join(CHECK, last, G1, &leaving).await?;
    join(CHECK, last, G2, &leaving).await?;
    let mut keeper = Probe::attach(last);
    join(CHECK, last, G1, &keeper).await?;
    let mut remote = Probe::attach(&nodes[0]);
    join(CHECK, &nodes[0], G2, &remote).await?;
    if last.local_connections() != before + 2 + usize::from(nodes.len() == 1) {
        return Err(fail(
            CHECK,
            format!(
                "local_connections() is {} after attaching, expected {}",
                last.local_connections(),
                before + 2 + usize::from(nodes.len() == 1)
            ),
        ));
    }
    let id = leaving.id;
    last.detach(id).await;
    drop(leaving);
    if last.local_connections() != before + 1 + usize::from(nodes.len() == 1) {
        return Err(fail(
            CHECK,
            format!(
                "local_connections() is {} after a detach, expected {}",
                last.local_connections(),
                before + 1 + usize::from(nodes.len() == 1)
            ),
        ));
    }
    let mut again = Probe::attach_as(last, id);
    let one = frame(CHECK, "one", 0, 1);
    let two = frame(CHECK, "two", 0, 2);
    group_send(CHECK, &nodes[0], G1, &one).await?;
    group_send(CHECK, &nodes[0], G2, &two).await?;
    keeper.expect(CHECK, &one).await?;
    remote.expect(CHECK, &two).await?;
    again
        .expect_silence(CHECK, QUIET, "a detached connection leaves all its groups")
        .await?;
    detach_all(
        nodes,
        &[
            (nodes.len() - 1, &again),
            (nodes.len() - 1, &keeper),
            (0, &remote),
        ],
    )
    .await;
    Ok(())
}

/// Sending to a group that never had a member, and to one whose members
/// all left, is `Ok` on every node.
///
/// # Errors
/// A `group_send` failed.
pub async fn empty_group_is_not_an_error<L: ChannelLayer>(
    nodes: &[L],
) -> Result<(), ConformanceError> {
    const CHECK: &str = "empty_group_is_not_an_error";
    for (i, layer) in nodes.iter().enumerate() {
        group_send(
            CHECK,
            layer,
            "conformance:nobody",
            &frame(CHECK, "nobody", i, 0),
        )
        .await?;
        let probe = Probe::attach(layer);
        join(CHECK, layer, "conformance:left", &probe).await?;
        layer
            .group_discard("conformance:left", probe.id)
            .await
            .map_err(|e| unexpected(CHECK, "group_discard", &e))?;
        layer.detach(probe.id).await;
        group_send(
            CHECK,
            layer,
            "conformance:left",
            &frame(CHECK, "left", i, 0),
        )
        .await?;
    }
    Ok(())
}

/// A node sends to one of its own connections: it alone gets the frame.
///
/// # Errors
/// The frame was missed, or reached another connection.
pub async fn direct_send_reaches_a_local_connection<L: ChannelLayer>(
    nodes: &[L],
) -> Result<(), ConformanceError> {
    const CHECK: &str = "direct_send_reaches_a_local_connection";
    for (i, layer) in nodes.iter().enumerate() {
        let mut target = Probe::attach(layer);
        let mut neighbour = Probe::attach(layer);
        let message = frame(CHECK, "direct", i, 0);
        layer
            .send(target.id, message.clone())
            .await
            .map_err(|e| unexpected(CHECK, "send", &e))?;
        target.expect(CHECK, &message).await?;
        neighbour
            .expect_silence(CHECK, QUIET, "the frame was sent to another connection")
            .await?;
        detach_all(nodes, &[(i, &target), (i, &neighbour)]).await;
    }
    Ok(())
}

/// The first node sends to one connection on each other node: each gets
/// its frame, its neighbours nothing. Needs two nodes or more.
///
/// # Errors
/// Fewer than two nodes, or a frame was missed or misdelivered.
pub async fn direct_send_reaches_another_node<L: ChannelLayer>(
    nodes: &[L],
) -> Result<(), ConformanceError> {
    const CHECK: &str = "direct_send_reaches_another_node";
    if nodes.len() < 2 {
        return Err(fail(CHECK, "needs at least two nodes"));
    }
    let mut targets = Vec::new();
    for (i, layer) in nodes.iter().enumerate().skip(1) {
        targets.push((i, Probe::attach(layer), Probe::attach(layer)));
    }
    for (i, target, _) in &targets {
        nodes[0]
            .send(target.id, frame(CHECK, "direct", 0, *i as u64))
            .await
            .map_err(|e| unexpected(CHECK, "send to another node", &e))?;
    }
    for (i, target, neighbour) in &mut targets {
        target
            .expect(CHECK, &frame(CHECK, "direct", 0, *i as u64))
            .await?;
        neighbour
            .expect_silence(CHECK, QUIET, "the frame was sent to another connection")
            .await?;
    }
    for (i, target, neighbour) in &targets {
        detach_all(nodes, &[(*i, target), (*i, neighbour)]).await;
    }
    Ok(())
}

/// On every node, `send` to a connection of that node that was detached,
/// and to one that was never attached, is [`SendError::Closed`].
///
/// # Errors
/// `send` returned `Ok` or another error.
pub async fn send_to_a_gone_connection_is_closed<L: ChannelLayer>(
    nodes: &[L],
) -> Result<(), ConformanceError> {
    const CHECK: &str = "send_to_a_gone_connection_is_closed";
    for (i, layer) in nodes.iter().enumerate() {
        let probe = Probe::attach(layer);
        let gone = probe.id;
        layer.detach(gone).await;
        let never = ConnId::next(layer.node());
        for (id, what) in [
            (gone, "a detached connection"),
            (never, "a connection never attached"),
        ] {
            match layer.send(id, frame(CHECK, "gone", i, 0)).await {
                Err(SendError::Closed) => {}
                Ok(()) => {
                    return Err(fail(
                        CHECK,
                        format!("send to {what} of this node ({id}) returned Ok, expected Closed"),
                    ));
                }
                Err(err) => {
                    return Err(fail(
                        CHECK,
                        format!(
                            "send to {what} of this node ({id}) failed with {err:?}, expected Closed"
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Every node sends 200 numbered frames to a group with a member on
/// every node, interleaved with the others, and the first node sends as
/// many direct frames to a connection of the last node: every receiver gets
/// each sender's frames complete and in order.
///
/// # Errors
/// A frame is missing, repeated or out of order.
pub async fn frames_arrive_in_order_per_sender<L: ChannelLayer>(
    nodes: &[L],
) -> Result<(), ConformanceError> {
    const CHECK: &str = "frames_arrive_in_order_per_sender";
    const GROUP: &str = "conformance:order";
    let mut members = Vec::new();
    for (i, layer) in nodes.iter().enumerate() {
        let probe = Probe::attach(layer);
        join(CHECK, layer, GROUP, &probe).await?;
        members.push((i, probe));
    }
    let last = nodes.len() - 1;
    let mut direct = Probe::attach(&nodes[last]);
    for n in 0..BURST {
        for (from, layer) in nodes.iter().enumerate() {
            group_send(CHECK, layer, GROUP, &frame(CHECK, "group", from, n)).await?;
        }
        nodes[0]
            .send(direct.id, frame(CHECK, "direct", 0, n))
            .await
            .map_err(|e| unexpected(CHECK, "send", &e))?;
    }
    for (_, member) in &mut members {
        let mut next = vec![0u64; nodes.len()];
        for _ in 0..BURST * nodes.len() as u64 {
            let text = member.next(CHECK, "the next frame of the burst").await?;
            let (from, n) = parse_numbered(CHECK, &text)?;
            let expected = next.get(from).copied().ok_or_else(|| {
                fail(CHECK, format!("a frame from unknown sender {from}: {text}"))
            })?;
            if n != expected {
                return Err(fail(
                    CHECK,
                    format!(
                        "connection {} got frame {n} from node {from} when frame {expected} was due",
                        member.id
                    ),
                ));
            }
            next[from] += 1;
        }
        member
            .expect_silence(CHECK, QUIET, "the burst was complete")
            .await?;
    }
    for n in 0..BURST {
        let text = direct.next(CHECK, "the next direct frame").await?;
        let (_, got) = parse_numbered(CHECK, &text)?;
        if got != n {
            return Err(fail(
                CHECK,
                format!("direct frame {got} arrived when frame {n} was due"),
            ));
        }
    }
    let mut all: Vec<(usize, &Probe)> = members.iter().map(|(i, p)| (*i, p)).collect();
    all.push((last, &direct));
    detach_all(nodes, &all).await;
    Ok(())
}

fn parse_numbered(check: &'static str, text: &str) -> Result<(usize, u64), ConformanceError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        fail(
            check,
            format!("a frame that is not the suite's JSON ({e}): {text}"),
        )
    })?;
    let from = value["from"].as_u64().and_then(|f| usize::try_from(f).ok());
    match (from, value["n"].as_u64()) {
        (Some(from), Some(n)) if value["check"] == check => Ok((from, n)),
        _ => Err(fail(
            check,
            format!("a frame that is not this check's: {text}"),
        )),
    }
}
