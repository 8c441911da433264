//! A simulated connection for the checks: a mailbox attached straight to
//! the layer, and what it may or may not receive.

use std::time::Duration;

use super::{ConformanceError, PATIENCE, QUEUE, fail};
use crate::layer::{
    ChannelLayer, ConnId, Control, Frame, Mailbox, MailboxReceiver, Outgoing, SendError, Signal,
};

/// A simulated connection: a mailbox attached to one node.
pub(super) struct Probe {
    pub(super) id: ConnId,
    rx: MailboxReceiver,
}

impl Probe {
    pub(super) fn attach<L: ChannelLayer>(layer: &L) -> Probe {
        Probe::attach_as(layer, ConnId::next(layer.node()))
    }

    pub(super) fn attach_as<L: ChannelLayer>(layer: &L, id: ConnId) -> Probe {
        let (mailbox, rx) = Mailbox::new(QUEUE);
        layer.attach(id, mailbox);
        Probe { id, rx }
    }

    pub(super) async fn next(
        &mut self,
        check: &'static str,
        waiting_for: &str,
    ) -> Result<String, ConformanceError> {
        match tokio::time::timeout(PATIENCE, self.rx.recv()).await {
            Ok(Outgoing::Frame(frame)) => Ok(frame.json().to_owned()),
            Ok(Outgoing::Signal(signal)) => match *signal {
                Signal::Control(control) => Ok(control_text(&control)),
                Signal::Expire(_) => Ok("expire".to_owned()),
                Signal::Overflow => Err(fail(
                    check,
                    format!(
                        "connection {} overflowed waiting for {waiting_for}",
                        self.id
                    ),
                )),
            },
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

    pub(super) async fn expect(
        &mut self,
        check: &'static str,
        frame: &Frame,
    ) -> Result<(), ConformanceError> {
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

    pub(super) async fn expect_silence(
        &mut self,
        check: &'static str,
        wait: Duration,
        why: &str,
    ) -> Result<(), ConformanceError> {
        match tokio::time::timeout(wait, self.rx.recv()).await {
            Err(_) => Ok(()),
            Ok(Outgoing::Frame(frame)) => Err(fail(
                check,
                format!(
                    "connection {} (node {}) got {} but {why}",
                    self.id,
                    self.id.node(),
                    frame.as_str()
                ),
            )),
            Ok(Outgoing::Signal(signal)) => Err(fail(
                check,
                match *signal {
                    Signal::Overflow => format!("connection {} overflowed but {why}", self.id),
                    Signal::Control(control) => format!(
                        "connection {} got {} but {why}",
                        self.id,
                        control_text(&control)
                    ),
                    Signal::Expire(_) => {
                        format!("connection {} got a deadline but {why}", self.id)
                    }
                },
            )),
        }
    }
}

/// How [`Probe::next`] reports a control message: never a frame's text.
pub(super) fn control_text(control: &Control) -> String {
    format!("control message {control:?}")
}

pub(super) fn frame(check: &str, label: &str, from: usize, n: u64) -> Frame {
    Frame::from_json_text(format!(
        "{{\"check\":\"{check}\",\"label\":\"{label}\",\"from\":{from},\"n\":{n}}}"
    ))
}

pub(super) fn unexpected(check: &'static str, what: &str, err: &SendError) -> ConformanceError {
    fail(check, format!("{what} failed: {err}"))
}

/// Members with and without a group, by node index: on every node,
/// `per_node` members of `group` and one connection in another group only.
pub(super) type Members = Vec<(usize, Probe)>;

pub(super) async fn members_and_outsiders<L: ChannelLayer>(
    check: &'static str,
    nodes: &[L],
    group: &str,
    per_node: usize,
) -> Result<(Members, Members), ConformanceError> {
    let mut members = Vec::new();
    let mut outsiders = Vec::new();
    for (i, layer) in nodes.iter().enumerate() {
        for _ in 0..per_node {
            let member = Probe::attach(layer);
            join(check, layer, group, &member).await?;
            members.push((i, member));
        }
        let outsider = Probe::attach(layer);
        join(check, layer, "conformance:elsewhere", &outsider).await?;
        outsiders.push((i, outsider));
    }
    Ok((members, outsiders))
}

pub(super) async fn join<L: ChannelLayer>(
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

pub(super) async fn group_send<L: ChannelLayer>(
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

pub(super) async fn detach_all<L: ChannelLayer>(nodes: &[L], probes: &[(usize, &Probe)]) {
    for (node, probe) in probes {
        if let Some(layer) = nodes.get(*node) {
            layer.detach(probe.id).await;
        }
    }
}

pub(super) fn parse_numbered(
    check: &'static str,
    text: &str,
) -> Result<(usize, u64), ConformanceError> {
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
