//! Presence: who is in a topic, with what metadata, on every node.
//!
//! A [`Presence`] tracks entries (a key, such as a connection id, with JSON
//! metadata such as a user name and a page) in topics, lists them, and
//! tells subscribers when one joins or leaves. [`Presence::in_memory`]
//! serves one node; a [`PresenceBackend`] shares the lists across nodes:
//! `liveview_redis::presence(&layer)` (crate `liveview-redis`) across every
//! node of a Redis layer, where a node that dies without a goodbye has its
//! entries expire within a bounded time (see `docs/presence.md`).
//!
//! ```
//! use liveview::presence::Presence;
//! use liveview::{Ctx, Patch, Result};
//!
//! // Called by the page when it connects (`data-liveview-init="visit"`).
//! async fn visit(ctx: Ctx) -> Result<Patch> {
//!     let presence: Presence = ctx.app_state().expect("presence in the app state");
//!     presence.track(&ctx, "visitors", serde_json::json!({"name": "Ada"})).await?;
//!     let here = presence.list("visitors").await.len();
//!     Ok(Patch::html("#visitors", format!("{here} here")))
//! }
//!
//! let presence = Presence::in_memory();
//! let lv = liveview::LiveView::builder()
//!     .state(presence.clone())
//!     .handler("visit", visit)
//!     .build()?;
//! # Ok::<(), liveview::BuildError>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::broadcast;

mod backend;
mod changes;
mod entry;

pub use backend::{PresenceBackend, PresenceHub};
pub use changes::PresenceChanges;
pub use entry::{PresenceEntry, PresenceError, PresenceEvent};

use crate::ctx::Ctx;
use crate::layer::NodeId;

/// Events kept for a subscriber that does not keep up; beyond that it gets
/// `RecvError::Lagged` and should [`list`](Presence::list) again.
const EVENT_BUFFER: usize = 256;

/// Who is in which topic, on this node or across nodes. Cheap to clone:
/// put one in the app state (`.state(presence.clone())`).
#[derive(Clone)]
pub struct Presence {
    inner: Arc<Inner>,
}

struct Inner {
    /// This presence node's id.
    node: NodeId,
    /// The entries this node tracks: topic → key → entry.
    local: Mutex<HashMap<String, HashMap<String, Tracked>>>,
    /// Event subscribers per topic.
    subscribers: Mutex<HashMap<String, broadcast::Sender<PresenceEvent>>>,
    generation: AtomicU64,
    /// Where entries are shared with other nodes (none in memory).
    backend: OnceLock<Box<dyn PresenceBackend>>,
}

struct Tracked {
    entry: PresenceEntry,
    /// Tells this entry from a later one of the same key, so that an old
    /// guard does not remove a newer entry.
    generation: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Presence {
    /// Presence for one node: lists and events cover this process only.
    pub fn in_memory() -> Presence {
        Presence {
            inner: Arc::new(Inner::new(NodeId::random())),
        }
    }

    /// Presence whose entries a [`PresenceBackend`] shares with other
    /// nodes, for crates that provide one (`liveview_redis::presence`).
    ///
    /// `node` is this node's id (a distributed layer's
    /// [`ChannelLayer::node`](crate::layer::ChannelLayer::node)); `make` builds the
    /// backend from the [`PresenceHub`] through which it tells this node's
    /// subscribers what happened elsewhere.
    ///
    /// # Errors
    /// Whatever `make` fails with.
    pub fn with_backend<B, E>(
        node: NodeId,
        make: impl FnOnce(PresenceHub) -> Result<B, E>,
    ) -> Result<Presence, E>
    where
        B: PresenceBackend,
    {
        let inner = Arc::new(Inner::new(node));
        let backend = make(PresenceHub::new(node, Arc::downgrade(&inner)))?;
        // A fresh `Inner`: the slot is empty.
        let _ = inner.backend.set(Box::new(backend));
        Ok(Presence { inner })
    }

    /// Tracks a connection in `topic` until it closes (or
    /// [`untrack`](Self::untrack)): its key is the connection id, and its
    /// guard lives in the connection's state. Tracking the same connection
    /// in the same topic again replaces its metadata.
    ///
    /// The entry leaves when the connection's state is dropped, which is
    /// when it closes, unless a task still holds a clone of its `Ctx`.
    ///
    /// # Errors
    /// When `meta` does not serialize to JSON.
    pub async fn track(
        &self,
        ctx: &Ctx,
        topic: &str,
        meta: impl Serialize,
    ) -> Result<(), PresenceError> {
        let guard = self.track_key(topic, ctx.id().to_string(), meta).await?;
        ctx.connection().with_local_state(|guards: &mut Guards| {
            guards.0.retain(|g| g.topic != topic);
            guards.0.push(guard);
        });
        Ok(())
    }

    /// Stops tracking a connection in `topic`.
    pub fn untrack(&self, ctx: &Ctx, topic: &str) {
        let removed: Vec<PresenceGuard> =
            ctx.connection().with_local_state(|guards: &mut Guards| {
                let (gone, kept) = std::mem::take(&mut guards.0)
                    .into_iter()
                    .partition(|g| g.topic == topic);
                guards.0 = kept;
                gone
            });
        drop(removed);
    }

    /// Tracks `key` in `topic` for as long as the returned guard lives.
    ///
    /// With Redis, this waits (up to the layer's operation timeout) until
    /// the entry is stored, so that other nodes list it once this returns;
    /// while Redis is away the entry is kept here and stored when it is
    /// back.
    ///
    /// # Errors
    /// When `meta` does not serialize to JSON.
    pub async fn track_key(
        &self,
        topic: &str,
        key: impl Into<String>,
        meta: impl Serialize,
    ) -> Result<PresenceGuard, PresenceError> {
        let entry = PresenceEntry {
            key: key.into(),
            node: self.inner.node,
            meta: serde_json::to_value(meta)?,
            since: now_ms(),
        };
        let generation = self.inner.generation.fetch_add(1, Ordering::Relaxed);
        let replaced = lock(&self.inner.local)
            .entry(topic.to_owned())
            .or_default()
            .insert(
                entry.key.clone(),
                Tracked {
                    entry: entry.clone(),
                    generation,
                },
            );
        crate::telemetry::presence_entries(if replaced.is_some() { 0.0 } else { 1.0 });
        self.inner.emit(PresenceEvent::Join {
            topic: topic.to_owned(),
            entry: entry.clone(),
            here: true,
        });
        if let Some(backend) = self.inner.backend.get() {
            backend.join(topic, &entry).await;
        }
        Ok(PresenceGuard {
            inner: Arc::clone(&self.inner),
            topic: topic.to_owned(),
            key: entry.key,
            generation,
        })
    }

    /// The entries of a topic, on every node, oldest first.
    ///
    /// With Redis: entries of nodes whose heartbeat expired are left out.
    /// While Redis cannot be reached, only this node's entries are listed.
    pub async fn list(&self, topic: &str) -> Vec<PresenceEntry> {
        if let Some(backend) = self.inner.backend.get() {
            if let Some(mut entries) = backend.list(topic).await {
                // This node's own entries come from its registry, which is
                // ahead of Redis (a leave is written after it is told).
                entries.retain(|e| e.node != self.inner.node);
                entries.extend(self.inner.local_entries(topic));
                sort(&mut entries);
                return entries;
            }
        }
        let mut entries = self.inner.local_entries(topic);
        sort(&mut entries);
        entries
    }

    /// Join and leave events of a topic, from every node, from now on.
    pub fn subscribe(&self, topic: &str) -> broadcast::Receiver<PresenceEvent> {
        lock(&self.inner.subscribers)
            .entry(topic.to_owned())
            .or_insert_with(|| broadcast::channel(EVENT_BUFFER).0)
            .subscribe()
    }

    /// "The topic changed" ticks, at most one per `interval`, from now on:
    /// for a widget that lists the topic and pushes its state (a count)
    /// whatever the events were. A change after a quiet period is reported
    /// at once, the changes of the interval after it in one tick at its
    /// end, and the last change is never lost (see [`PresenceChanges`]).
    /// Under churn (clients connecting and leaving many times a second)
    /// this bounds the pushes to one per interval, where
    /// [`subscribe`](Self::subscribe) gives one event per join and leave.
    ///
    /// ```
    /// # async fn run(presence: liveview::presence::Presence) {
    /// use std::time::Duration;
    ///
    /// let mut changes = presence.subscribe_changes("visitors", Duration::from_millis(500));
    /// while changes.changed().await.is_some() {
    ///     let count = presence.list("visitors").await.len();
    ///     // push `count` to the pages
    /// #   let _ = count;
    /// }
    /// # }
    /// ```
    pub fn subscribe_changes(&self, topic: &str, interval: Duration) -> PresenceChanges {
        PresenceChanges::new(self.subscribe(topic), interval)
    }

    /// This presence node's id (as in [`PresenceEntry::node`]; with a
    /// distributed layer, the layer's [`node`](crate::layer::ChannelLayer::node)).
    pub fn node_id(&self) -> NodeId {
        self.inner.node
    }

    /// Says goodbye: removes this node's entries everywhere at once (other
    /// nodes get leave events), instead of letting them expire. For a
    /// graceful shutdown; entries tracked afterwards are tracked again.
    pub async fn close(&self) {
        let entries: Vec<(String, PresenceEntry)> = {
            let mut local = lock(&self.inner.local);
            local
                .drain()
                .flat_map(|(topic, keys)| {
                    keys.into_values()
                        .map(move |t| (topic.clone(), t.entry))
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        crate::telemetry::presence_entries(-(entries.len() as f64));
        for (topic, entry) in &entries {
            self.inner.emit(PresenceEvent::Leave {
                topic: topic.clone(),
                entry: entry.clone(),
                here: true,
            });
        }
        if let Some(backend) = self.inner.backend.get() {
            backend.close(entries).await;
        }
    }
}

fn sort(entries: &mut [PresenceEntry]) {
    entries.sort_by(|a, b| (a.since, &a.node, &a.key).cmp(&(b.since, &b.node, &b.key)));
}

impl Inner {
    fn new(node: NodeId) -> Inner {
        Inner {
            node,
            local: Mutex::new(HashMap::new()),
            subscribers: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            backend: OnceLock::new(),
        }
    }

    /// Tells the topic's subscribers; forgets topics nobody listens to.
    fn emit(&self, event: PresenceEvent) {
        let mut subscribers = lock(&self.subscribers);
        let topic = event.topic().to_owned();
        if let Some(sender) = subscribers.get(&topic) {
            if sender.send(event).is_err() {
                subscribers.remove(&topic);
            }
        }
    }

    fn subscribed_topics(&self) -> Vec<String> {
        lock(&self.subscribers).keys().cloned().collect()
    }

    fn local_entries(&self, topic: &str) -> Vec<PresenceEntry> {
        lock(&self.local)
            .get(topic)
            .map(|keys| keys.values().map(|t| t.entry.clone()).collect())
            .unwrap_or_default()
    }

    /// Every entry this node tracks, for a resync.
    fn all_local(&self) -> Vec<(String, PresenceEntry)> {
        lock(&self.local)
            .iter()
            .flat_map(|(topic, keys)| keys.values().map(|t| (topic.clone(), t.entry.clone())))
            .collect()
    }

    /// Removes an entry if it is still the one the guard made.
    fn leave(&self, topic: &str, key: &str, generation: u64) {
        let removed = {
            let mut local = lock(&self.local);
            let Some(keys) = local.get_mut(topic) else {
                return;
            };
            if keys.get(key).is_none_or(|t| t.generation != generation) {
                return;
            }
            let removed = keys.remove(key);
            if keys.is_empty() {
                local.remove(topic);
            }
            removed
        };
        let Some(Tracked { entry, .. }) = removed else {
            return;
        };
        crate::telemetry::presence_entries(-1.0);
        if let Some(backend) = self.backend.get() {
            backend.leave(topic, &entry);
        }
        self.emit(PresenceEvent::Leave {
            topic: topic.to_owned(),
            entry,
            here: true,
        });
    }
}

impl fmt::Debug for Presence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let topics = lock(&self.inner.local).len();
        f.debug_struct("Presence")
            .field("node", &self.inner.node)
            .field("backend", &self.inner.backend.get().is_some())
            .field("local_topics", &topics)
            .finish_non_exhaustive()
    }
}

/// Keeps an entry present; dropping it removes the entry (a leave event).
#[must_use = "the entry leaves when the guard is dropped"]
pub struct PresenceGuard {
    inner: Arc<Inner>,
    topic: String,
    key: String,
    generation: u64,
}

impl PresenceGuard {
    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The entry's key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        self.inner.leave(&self.topic, &self.key, self.generation);
    }
}

impl fmt::Debug for PresenceGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresenceGuard")
            .field("topic", &self.topic)
            .field("key", &self.key)
            .finish()
    }
}

/// The guards of one connection, in its state.
#[derive(Default)]
struct Guards(Vec<PresenceGuard>);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tracks_lists_and_tells_subscribers() {
        let presence = Presence::in_memory();
        let mut events = presence.subscribe("room");
        let ada = presence
            .track_key("room", "ada", serde_json::json!({"name": "Ada"}))
            .await
            .unwrap();
        let bob = presence
            .track_key("room", "bob", serde_json::json!({"name": "Bob"}))
            .await
            .unwrap();
        let list = presence.list("room").await;
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].meta["name"], "Ada");
        assert_eq!(list[0].node, presence.node_id());
        assert!(presence.list("elsewhere").await.is_empty());
        drop(ada);
        assert_eq!(presence.list("room").await.len(), 1);
        let kinds: Vec<(String, bool)> = std::iter::from_fn(|| events.try_recv().ok())
            .map(|e| match e {
                PresenceEvent::Join { entry, here, .. } => (format!("+{}", entry.key), here),
                PresenceEvent::Leave { entry, here, .. } => (format!("-{}", entry.key), here),
                PresenceEvent::Resync { .. } => ("resync".into(), false),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("+ada".to_owned(), true),
                ("+bob".to_owned(), true),
                ("-ada".to_owned(), true)
            ]
        );
        drop(bob);
        assert!(presence.list("room").await.is_empty());
    }

    #[test]
    fn entries_keep_their_json() {
        let entry = PresenceEntry {
            key: "k".to_owned(),
            node: NodeId::new(0xff),
            meta: serde_json::json!({"name": "Ada"}),
            since: 5,
        };
        let json = r#"{"key":"k","node":"00000000000000ff","meta":{"name":"Ada"},"since":5}"#;
        assert_eq!(serde_json::to_string(&entry).unwrap(), json);
        assert_eq!(serde_json::from_str::<PresenceEntry>(json).unwrap(), entry);
    }

    #[tokio::test]
    async fn an_old_guard_does_not_remove_a_newer_entry() {
        let presence = Presence::in_memory();
        let first = presence.track_key("t", "k", 1).await.unwrap();
        let second = presence.track_key("t", "k", 2).await.unwrap();
        drop(first);
        let list = presence.list("t").await;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].meta, 2);
        drop(second);
        assert!(presence.list("t").await.is_empty());
    }

    #[tokio::test]
    async fn close_says_goodbye() {
        let presence = Presence::in_memory();
        let mut events = presence.subscribe("t");
        let _guard = presence.track_key("t", "k", ()).await.unwrap();
        presence.close().await;
        assert!(presence.list("t").await.is_empty());
        assert!(matches!(events.try_recv(), Ok(PresenceEvent::Join { .. })));
        assert!(matches!(events.try_recv(), Ok(PresenceEvent::Leave { .. })));
    }
}
