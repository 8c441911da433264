//! The connections and groups of one node.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

use super::{ConnId, Control, Frame, Mailbox};

/// The connections of this node and the groups they are in.
///
/// Every [`ChannelLayer`](super::ChannelLayer) keeps one: it is where a
/// message, whichever node it came from, is fanned out to local sockets.
/// Methods report whether a group appeared or vanished on this node, which
/// a distributed layer uses to subscribe and unsubscribe.
///
/// Locks are held only for map operations and non-blocking queue pushes,
/// never across an `.await`.
#[derive(Debug, Default)]
pub struct LocalHub {
    inner: RwLock<HubInner>,
}

#[derive(Debug, Default)]
struct HubInner {
    conns: HashMap<ConnId, ConnEntry>,
    groups: HashMap<Arc<str>, HashSet<ConnId>>,
}

#[derive(Debug)]
struct ConnEntry {
    mailbox: Mailbox,
    groups: Vec<Arc<str>>,
}

impl LocalHub {
    /// An empty hub.
    pub fn new() -> Self {
        LocalHub::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HubInner> {
        // Nothing panics while holding the lock; if something ever did, the
        // maps are still consistent, so keep serving.
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HubInner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a connection.
    pub fn attach(&self, conn: ConnId, mailbox: Mailbox) {
        self.write().conns.insert(
            conn,
            ConnEntry {
                mailbox,
                groups: Vec::new(),
            },
        );
    }

    /// Forgets a connection; returns the groups that have no local member left.
    pub fn detach(&self, conn: ConnId) -> Vec<Arc<str>> {
        let mut inner = self.write();
        let Some(entry) = inner.conns.remove(&conn) else {
            return Vec::new();
        };
        let mut emptied = Vec::new();
        for group in entry.groups {
            if let Some(members) = inner.groups.get_mut(&group) {
                members.remove(&conn);
                if members.is_empty() {
                    inner.groups.remove(&group);
                    emptied.push(group);
                }
            }
        }
        emptied
    }

    /// Adds a local connection to a group; returns true when the group had
    /// no local member before. Unknown connections are ignored (false).
    pub fn group_add(&self, group: &str, conn: ConnId) -> bool {
        let mut inner = self.write();
        let inner = &mut *inner;
        let Some(entry) = inner.conns.get_mut(&conn) else {
            return false;
        };
        if let Some(key) = inner
            .groups
            .get_key_value(group)
            .map(|(k, _)| Arc::clone(k))
        {
            let newly_member = inner
                .groups
                .get_mut(&key)
                .is_some_and(|members| members.insert(conn));
            if newly_member {
                entry.groups.push(key);
            }
            return false;
        }
        let key: Arc<str> = Arc::from(group);
        inner.groups.insert(Arc::clone(&key), HashSet::from([conn]));
        entry.groups.push(key);
        true
    }

    /// Removes a local connection from a group; returns true when the group
    /// has no local member left.
    pub fn group_discard(&self, group: &str, conn: ConnId) -> bool {
        let mut inner = self.write();
        let inner = &mut *inner;
        if let Some(entry) = inner.conns.get_mut(&conn) {
            entry.groups.retain(|g| &**g != group);
        }
        let Some(members) = inner.groups.get_mut(group) else {
            return false;
        };
        if !members.remove(&conn) {
            return false;
        }
        if members.is_empty() {
            inner.groups.remove(group);
            return true;
        }
        false
    }

    /// Queues a frame for every local member of a group; returns how many
    /// accepted it. A frame that carries a [`Control`] message (see
    /// [`ChannelLayer::group_control`](super::ChannelLayer::group_control))
    /// goes to the members' socket tasks, not to their browsers.
    pub fn deliver_group(&self, group: &str, frame: &Frame) -> usize {
        let span = crate::telemetry::spans::broadcast(group);
        let receivers = self.deliver_members(group, frame);
        crate::telemetry::spans::finish_broadcast(&span, receivers);
        receivers
    }

    fn deliver_members(&self, group: &str, frame: &Frame) -> usize {
        let inner = self.read();
        let Some(members) = inner.groups.get(group) else {
            return 0;
        };
        // One byte compared per group message, not per member.
        if let Some(control) = Control::from_frame(frame) {
            return members
                .iter()
                .filter_map(|id| inner.conns.get(id))
                .filter(|entry| entry.mailbox.control(control.clone()))
                .count();
        }
        members
            .iter()
            .filter_map(|id| inner.conns.get(id))
            .filter(|entry| entry.mailbox.deliver(frame.clone()))
            .count()
    }

    /// Queues a frame for one local connection; returns false when it is not
    /// here or cannot take it.
    pub fn deliver(&self, conn: ConnId, frame: Frame) -> bool {
        self.read()
            .conns
            .get(&conn)
            .is_some_and(|entry| entry.mailbox.deliver(frame))
    }

    /// True when the connection is attached here.
    pub fn contains(&self, conn: ConnId) -> bool {
        self.read().conns.contains_key(&conn)
    }

    /// The groups that have at least one local member.
    pub fn groups(&self) -> Vec<Arc<str>> {
        self.read().groups.keys().cloned().collect()
    }

    /// The number of local members of a group.
    pub fn group_len(&self, group: &str) -> usize {
        self.read().groups.get(group).map_or(0, HashSet::len)
    }

    /// The number of attached connections.
    pub fn len(&self) -> usize {
        self.read().conns.len()
    }

    /// True when no connection is attached.
    pub fn is_empty(&self) -> bool {
        self.read().conns.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{MailboxReceiver, Outgoing, Signal};

    fn conn(hub: &LocalHub, limit: usize) -> (ConnId, MailboxReceiver) {
        let id = ConnId::next(crate::layer::NodeId::new(1));
        let (mailbox, rx) = Mailbox::new(limit);
        hub.attach(id, mailbox);
        (id, rx)
    }

    fn frames(rx: &mut MailboxReceiver) -> Vec<String> {
        std::iter::from_fn(|| rx.try_recv())
            .map(|item| match item {
                Outgoing::Frame(frame) => frame.as_str().to_owned(),
                Outgoing::Signal(signal) => match *signal {
                    Signal::Overflow => "<overflow>".to_owned(),
                    Signal::Control(control) => format!("<{control:?}>"),
                    Signal::Expire(_) => "<expire>".to_owned(),
                },
            })
            .collect()
    }

    #[test]
    fn groups_appear_and_vanish() {
        let hub = LocalHub::new();
        let (a, _ra) = conn(&hub, 8);
        let (b, _rb) = conn(&hub, 8);
        assert!(hub.group_add("g", a));
        assert!(!hub.group_add("g", b));
        assert!(!hub.group_add("g", b), "adding twice is idempotent");
        assert_eq!(hub.group_len("g"), 2);
        assert!(!hub.group_discard("g", a));
        assert!(hub.group_discard("g", b));
        assert!(!hub.group_discard("g", b));
        assert!(hub.groups().is_empty());
    }

    #[test]
    fn detach_leaves_every_group() {
        let hub = LocalHub::new();
        let (a, _ra) = conn(&hub, 8);
        let (b, _rb) = conn(&hub, 8);
        hub.group_add("x", a);
        hub.group_add("y", a);
        hub.group_add("y", b);
        let mut emptied = hub.detach(a);
        emptied.sort();
        assert_eq!(emptied, vec![Arc::<str>::from("x")]);
        assert_eq!(hub.group_len("y"), 1);
        assert!(!hub.contains(a));
        assert_eq!(hub.len(), 1);
    }

    #[test]
    fn delivers_to_members_only() {
        let hub = LocalHub::new();
        let (a, mut ra) = conn(&hub, 8);
        let (_b, mut rb) = conn(&hub, 8);
        hub.group_add("g", a);
        let frame = Frame::from_json_text("{\"html\":\"x\"}");
        assert_eq!(hub.deliver_group("g", &frame), 1);
        assert_eq!(hub.deliver_group("nobody", &frame), 0);
        assert_eq!(frames(&mut ra), vec!["{\"html\":\"x\"}"]);
        assert!(frames(&mut rb).is_empty());
    }

    #[test]
    fn overflowing_mailbox_asks_to_close_once() {
        let hub = LocalHub::new();
        let (a, mut ra) = conn(&hub, 2);
        let frame = Frame::from_json_text("{}");
        assert!(hub.deliver(a, frame.clone()));
        assert!(hub.deliver(a, frame.clone()));
        assert!(!hub.deliver(a, frame.clone()));
        assert!(!hub.deliver(a, frame));
        assert_eq!(frames(&mut ra), vec!["{}", "{}", "<overflow>"]);
    }
}
