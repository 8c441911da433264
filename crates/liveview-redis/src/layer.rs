//! The Redis channel layer: several nodes, one Redis.
//!
//! Each node keeps its connections in its own [`LocalHub`] and talks to
//! Redis over two connections:
//!
//! - a [`ConnectionManager`](redis::aio::ConnectionManager) (multiplexed, reconnects by itself) on which a
//!   background *publisher* task sends messages, and presence commands;
//! - one dedicated pub/sub connection, owned by a background *subscriber*
//!   task ([`crate::subscriber`]), subscribed to exactly the groups that
//!   local connections are in, plus this node's channel (direct sends) and,
//!   when presence is used, the presence channel.
//!
//! A group message is delivered to the local members at once, then queued
//! for the *publisher* task ([`crate::publisher`]), tagged with the layer's
//! node id so that the origin skips its own echo. A Lua script appends it to a short, capped Redis stream per
//! group and publishes it with the stream entry id, once per message id
//! (the node id and the publisher's counter), so that a retry never runs a
//! message twice. Subscribers remember the
//! last id they saw per channel; after a reconnect they read what they
//! missed from the stream (`XRANGE`), so group and direct messages survive a
//! short outage. See `docs/redis.md` for what can still be lost.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use liveview::layer::{
    ChannelLayer, ConnId, Control as LiveControl, Frame, GroupCursor, LocalHub, Mailbox, Mark,
    NodeId, SendError,
};
use redis::IntoConnectionInfo;
use redis::aio::ConnectionManagerConfig;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::{Instant, timeout};

use crate::config::{RedisConfig, RedisLayerError, redacted};
use crate::conn::Conn;
use crate::feed::Source;
use crate::link::PresenceHook;
use crate::names::Names;
use crate::publisher::publisher;
use crate::shared::{Control, Outbound, Shared};
use crate::subscriber::Subscriber;

/// How long a join waits for its subscription before going on (the
/// subscription is then made in the background and replays from the join).
pub(crate) const JOIN_WAIT: Duration = Duration::from_millis(200);

/// A channel layer on Redis pub/sub, for several nodes.
///
/// Select it with one line: `LiveView::builder().layer(RedisLayer::connect(url).await?)`.
/// Handler code does not change. Cheap to clone (keep a clone to build a
/// [`Presence`](liveview::presence::Presence) on it with `liveview_redis::presence`).
///
/// Each layer is one node: [`ChannelLayer::node`] is a random [`NodeId`]
/// taken when it connects, the node of its connections' ids and the origin
/// tag of its messages.
///
/// While Redis is away, local delivery keeps working, outgoing messages for
/// other nodes wait in a bounded buffer, and the layer reconnects with
/// backoff and resubscribes; see `docs/redis.md`.
#[derive(Clone)]
pub struct RedisLayer {
    handle: Arc<Handle>,
}

/// Owns the background tasks: dropping the last clone of the layer stops
/// them (without any goodbye to Redis: to other nodes, the node died).
struct Handle {
    shared: Arc<Shared>,
    tasks: Vec<AbortHandle>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl RedisConfig {
    /// Connects to Redis and starts the layer's tasks (needs a tokio runtime).
    ///
    /// # Errors
    /// When the URL is invalid or Redis does not answer within the
    /// operation timeout. Once started, the layer survives Redis outages.
    pub async fn connect(self) -> Result<RedisLayer, RedisLayerError> {
        RedisLayer::start(self).await
    }
}

impl RedisLayer {
    /// Connects to the Redis at `url` with the default [`RedisConfig`].
    ///
    /// # Errors
    /// When the URL is invalid or Redis does not answer.
    pub async fn connect(url: impl Into<String>) -> Result<RedisLayer, RedisLayerError> {
        RedisConfig::new(url).connect().await
    }

    pub(crate) async fn start(config: RedisConfig) -> Result<RedisLayer, RedisLayerError> {
        let (manager, source, names) = match &config.cluster {
            Some(nodes) => connect_cluster(&config, nodes).await?,
            None => connect_single(&config).await?,
        };
        let (control, control_rx) = mpsc::unbounded_channel();
        let (outbound, outbound_rx) = mpsc::channel(config.outage_buffer);
        let shared = Arc::new(Shared {
            hub: LocalHub::new(),
            names,
            node: NodeId::random(),
            manager,
            source,
            control,
            outbound,
            presence: OnceLock::new(),
            connected: AtomicBool::new(false),
            stalled: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            received: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            config,
            numbered: std::sync::Mutex::new(0),
            settled: AtomicU64::new(0),
            pending: std::sync::atomic::AtomicUsize::new(0),
        });
        // The subscriber connects before `connect` returns, so that the
        // first group_add does not race with it.
        let (ready_tx, ready_rx) = oneshot::channel();
        let subscriber = Subscriber {
            shared: Arc::clone(&shared),
            control: control_rx,
            channels: HashMap::new(),
            clock_offset_ms: 0,
            ready: Some(ready_tx),
            pending: HashMap::new(),
        };
        let tasks = vec![
            tokio::spawn(subscriber.run()).abort_handle(),
            tokio::spawn(publisher(Arc::clone(&shared), outbound_rx)).abort_handle(),
        ];
        let layer = RedisLayer {
            handle: Arc::new(Handle { shared, tasks }),
        };
        let op_timeout = layer.handle.shared.config.op_timeout;
        match timeout(op_timeout * 2, ready_rx).await {
            Ok(Ok(())) => Ok(layer),
            _ => Err(RedisLayerError::Connect(
                "the pub/sub connection did not start".to_owned(),
            )),
        }
    }

    /// True when this layer runs on a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.handle.shared.names.cluster
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// True while the subscriber connection is up (messages from other
    /// nodes are arriving).
    pub fn is_connected(&self) -> bool {
        self.handle.shared.connected.load(Ordering::Acquire)
    }

    /// Messages for other nodes given up so far: refused by a full outage
    /// buffer, or older than its age limit and never run by Redis. A message
    /// that outlived the age limit is counted once Redis is reachable again
    /// and says it never ran it (an attempt may have reached Redis before
    /// the message expired: it then arrived, and is not counted).
    pub fn dropped_messages(&self) -> u64 {
        self.handle.shared.dropped.load(Ordering::Relaxed)
    }

    /// Group and direct messages that arrived on this node's subscriber
    /// connection, live (its own echoes included): one per message and
    /// subscribed node, however many of its clients get it.
    pub fn received_messages(&self) -> u64 {
        self.handle.shared.received.load(Ordering::Relaxed)
    }

    /// Messages read back from the replay streams after reconnections.
    pub fn replayed_messages(&self) -> u64 {
        self.handle.shared.replayed.load(Ordering::Relaxed)
    }

    /// How many times the subscriber connection was re-established.
    pub fn reconnections(&self) -> u64 {
        self.handle.shared.reconnects.load(Ordering::Relaxed)
    }

    /// This layer's node id (as [`ChannelLayer::node`]): the node of its
    /// connections' ids, the tag of its messages, its presence node.
    pub fn node_id(&self) -> NodeId {
        self.handle.shared.node
    }

    /// Installs the presence hook and subscribes to the presence channel.
    /// Only one presence per layer: a second call returns false.
    pub(crate) fn set_presence(&self, hook: Arc<dyn PresenceHook>) -> bool {
        let shared = &self.handle.shared;
        if shared.presence.set(hook).is_err() {
            return false;
        }
        let _ = shared.control.send(Control::Presence);
        true
    }

    fn queue(
        &self,
        stream: String,
        channel: String,
        target: String,
        frame: Frame,
        mark: u64,
    ) -> bool {
        let shared = &self.handle.shared;
        let message = Outbound {
            stream,
            channel,
            target,
            frame,
            queued: Instant::now(),
            seq: 0,
            mark,
        };
        // Counted first: the publisher may settle it at once.
        shared.pending.fetch_add(1, Ordering::AcqRel);
        if shared.outbound.try_send(message).is_ok() {
            return true;
        }
        shared.pending.fetch_sub(1, Ordering::AcqRel);
        let dropped = shared.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        liveview::telemetry::outage_dropped(1);
        if dropped.is_power_of_two() {
            tracing::warn!(
                dropped,
                "liveview: redis outage buffer full, dropping messages for other nodes"
            );
        }
        false
    }

    /// Asks the subscriber to follow the hub for `group`; when asked to,
    /// waits for the subscription, but at most [`JOIN_WAIT`], and not at all
    /// while the subscriber is disconnected or behind: a page's setup never
    /// waits on a slow Redis. A subscription made later replays, from the
    /// stream, what was published since the join.
    async fn sync(&self, group: &str, wait: bool) {
        let shared = &self.handle.shared;
        let now = Instant::now();
        if !wait || !self.is_connected() || shared.stalled.load(Ordering::Acquire) {
            let _ = shared
                .control
                .send(Control::Sync(Arc::from(group), None, now));
            return;
        }
        let (tx, rx) = oneshot::channel();
        if shared
            .control
            .send(Control::Sync(Arc::from(group), Some(tx), now))
            .is_err()
        {
            return;
        }
        let limit = JOIN_WAIT.min(shared.config.op_timeout);
        if timeout(limit, rx).await.is_err() {
            shared.stalled.store(true, Ordering::Release);
            tracing::debug!(
                group,
                "liveview: redis subscription not confirmed in time; it replays from the join when made"
            );
        }
    }
}

/// The command connection, the subscriber's source and the names, on one Redis.
async fn connect_single(config: &RedisConfig) -> Result<(Conn, Source, Names), RedisLayerError> {
    let mut info = config
        .url
        .as_str()
        .into_connection_info()
        .map_err(|e| RedisLayerError::Url(e.to_string()))?;
    if let Some(db) = config.db {
        let settings = info.redis_settings().clone().set_db(db);
        info = info.set_redis_settings(settings);
    }
    let db = info.redis_settings().db();
    let client = redis::Client::open(info).map_err(|e| RedisLayerError::Url(e.to_string()))?;
    let manager_config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.op_timeout))
        .set_response_timeout(Some(config.op_timeout))
        .set_number_of_retries(1)
        .set_max_delay(config.reconnect_max);
    let manager = timeout(
        config.op_timeout,
        client.get_connection_manager_with_config(manager_config),
    )
    .await
    .map_err(|_| RedisLayerError::Connect(format!("no answer from {}", redacted(&config.url))))?
    .map_err(|e| RedisLayerError::Connect(e.to_string()))?;
    let names = Names {
        key: format!("{}:", config.prefix),
        channel: format!("{}:{db}:", config.prefix),
        cluster: false,
    };
    Ok((Conn::Single(manager), Source::Single(client), names))
}

/// The same on a Redis Cluster (database 0; names with hash tags).
async fn connect_cluster(
    config: &RedisConfig,
    nodes: &[String],
) -> Result<(Conn, Source, Names), RedisLayerError> {
    if nodes.is_empty() {
        return Err(RedisLayerError::Url(
            "a Redis Cluster needs at least one node".to_owned(),
        ));
    }
    if config.prefix.contains(['{', '}']) {
        return Err(RedisLayerError::Url(
            "on a Redis Cluster the prefix may not contain braces (they are hash tags)".to_owned(),
        ));
    }
    if config.db.is_some_and(|db| db != 0) {
        return Err(RedisLayerError::Url(
            "a Redis Cluster has only database 0".to_owned(),
        ));
    }
    let conn = timeout(
        config.op_timeout * 2,
        crate::conn::connect(nodes, config, None),
    )
    .await
    .map_err(|_| {
        RedisLayerError::Connect(format!("no answer from {}", redacted(&nodes.join(","))))
    })?
    .map_err(|e| RedisLayerError::Connect(e.to_string()))?;
    let names = Names {
        key: format!("{}:", config.prefix),
        channel: format!("{}:0:", config.prefix),
        cluster: true,
    };
    Ok((Conn::Cluster(conn), Source::Cluster(nodes.to_vec()), names))
}

impl fmt::Debug for RedisLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.handle.shared;
        f.debug_struct("RedisLayer")
            .field("prefix", &shared.config.prefix)
            .field("node", &shared.node)
            .field("connected", &self.is_connected())
            .field("local_connections", &shared.hub.len())
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl ChannelLayer for RedisLayer {
    fn node(&self) -> NodeId {
        self.handle.shared.node
    }

    fn attach(&self, conn: ConnId, mailbox: Mailbox) {
        self.handle.shared.hub.attach(conn, mailbox);
    }

    async fn detach(&self, conn: ConnId) {
        for group in self.handle.shared.hub.detach(conn) {
            self.sync(&group, false).await;
        }
    }

    async fn group_add(&self, group: &str, conn: ConnId) -> Result<(), SendError> {
        if self.handle.shared.hub.group_add(group, conn) {
            self.sync(group, true).await;
        }
        Ok(())
    }

    async fn group_discard(&self, group: &str, conn: ConnId) -> Result<(), SendError> {
        if self.handle.shared.hub.group_discard(group, conn) {
            self.sync(group, false).await;
        }
        Ok(())
    }

    async fn group_send(&self, group: &str, frame: Frame) -> Result<(), SendError> {
        let shared = &self.handle.shared;
        let names = &shared.names;
        let queued = if LiveControl::from_frame(&frame).is_some() {
            shared.hub.deliver_group(group, &frame);
            self.queue(
                names.group_key(group),
                names.group_channel(group),
                "-".to_owned(),
                frame,
                0,
            )
        } else {
            // Numbered, delivered here and queued in one step: see
            // `Shared::numbered`.
            let mut numbered = shared
                .numbered
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *numbered += 1;
            // Not logged yet: its stream entry is made by the publisher.
            let mark = Mark {
                origin: shared.node,
                seq: *numbered,
                logged: None,
            };
            shared.hub.deliver_group(group, &frame.marked(group, mark));
            self.queue(
                names.group_key(group),
                names.group_channel(group),
                mark.seq.to_string(),
                frame,
                mark.seq,
            )
        };
        if queued {
            Ok(())
        } else {
            Err(SendError::Backend(
                "Redis is unreachable and the outage buffer is full: delivered on this node only"
                    .to_owned(),
            ))
        }
    }

    async fn send(&self, conn: ConnId, frame: Frame) -> Result<(), SendError> {
        let shared = &self.handle.shared;
        if shared.hub.contains(conn) {
            return if shared.hub.deliver(conn, frame) {
                Ok(())
            } else {
                Err(SendError::Closed)
            };
        }
        // Ours but not in our hub: gone. (Every layer instance is a node
        // of its own, so no other layer attaches connections of this node.)
        if conn.node() == shared.node {
            return Err(SendError::Closed);
        }
        let names = &shared.names;
        if self.queue(
            names.node_key(conn.node()),
            names.node_channel(conn.node()),
            conn.to_string(),
            frame,
            0,
        ) {
            Ok(())
        } else {
            Err(SendError::Backend(
                "Redis is unreachable and the outage buffer is full".to_owned(),
            ))
        }
    }

    async fn group_missed(
        &self,
        group: &str,
        cursor: &GroupCursor,
    ) -> Result<Vec<Frame>, SendError> {
        crate::missed::group_missed(&self.handle.shared, group, cursor).await
    }

    /// Waits until the publisher has sent (or given up) every message
    /// queued so far.
    async fn flush(&self, timeout: Duration) -> bool {
        let shared = &self.handle.shared;
        let deadline = Instant::now() + timeout;
        while shared.pending.load(Ordering::Acquire) > 0 {
            if Instant::now() >= deadline {
                tracing::warn!(
                    pending = shared.pending.load(Ordering::Acquire),
                    "liveview: messages for other nodes still queued at shutdown"
                );
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    fn local_connections(&self) -> usize {
        self.handle.shared.hub.len()
    }
}
