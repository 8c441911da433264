//! The checks, one public function each.

use std::collections::HashSet;

use super::probe::{
    Probe, control_text, detach_all, frame, group_send, join, members_and_outsiders,
    parse_numbered, unexpected,
};
use super::{BURST, ConformanceError, QUIET, fail};
use crate::layer::{ChannelLayer, ConnId, Control, NodeId, SendError};

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
    let (mut members, mut outsiders) = members_and_outsiders(CHECK, nodes, GROUP, 2).await?;
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

/// A member on every node and a non-member: a control message
/// ([`ChannelLayer::group_control`]) sent from each node in turn reaches
/// every member's socket task once, as a control message (not a frame for
/// the browser), and not the non-member; a frame sent to the group after it
/// still arrives as a frame.
///
/// # Errors
/// A member missed the control message, got it twice or as a frame, or a
/// non-member got it.
pub async fn group_control_reaches_every_member<L: ChannelLayer>(
    nodes: &[L],
) -> Result<(), ConformanceError> {
    const CHECK: &str = "group_control_reaches_every_member";
    const GROUP: &str = "conformance:kick";
    let (mut members, mut outsiders) = members_and_outsiders(CHECK, nodes, GROUP, 1).await?;
    for (from, layer) in nodes.iter().enumerate() {
        let control = Control::Disconnect {
            redirect: format!("/from/{from}").into(),
        };
        layer
            .group_control(GROUP, control.clone())
            .await
            .map_err(|e| unexpected(CHECK, "group_control", &e))?;
        let expected = control_text(&control);
        for (i, member) in &mut members {
            let got = member.next(CHECK, &expected).await?;
            if got != expected {
                return Err(fail(
                    CHECK,
                    format!("a member on node {i} got {got} instead of {expected}"),
                ));
            }
        }
    }
    let after = frame(CHECK, "after", 0, 0);
    group_send(CHECK, &nodes[0], GROUP, &after).await?;
    for (_, member) in &mut members {
        member.expect(CHECK, &after).await?;
        member
            .expect_silence(CHECK, QUIET, "every message was already delivered once")
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
