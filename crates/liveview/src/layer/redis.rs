//! The Redis channel layer: several nodes, one Redis.
//!
//! Each node keeps its connections in its own [`LocalHub`] and talks to
//! Redis over two connections:
//!
//! - a [`ConnectionManager`] (multiplexed, reconnects by itself) on which a
//!   background *publisher* task sends messages, and presence commands;
//! - one dedicated pub/sub connection, owned by a background *subscriber*
//!   task, subscribed to exactly the groups that local connections are in,
//!   plus this process's node channel (direct sends) and, when presence is
//!   used, the presence channel.
//!
//! A group message is delivered to the local members at once, then queued
//! for Redis, tagged with the layer's origin id so that the origin skips its
//! own echo. A Lua script appends it to a short, capped Redis stream per
//! group and publishes it with the stream entry id. Subscribers remember the
//! last id they saw per channel; after a reconnect they read what they
//! missed from the stream (`XRANGE`), so group and direct messages survive a
//! short outage. See `docs/redis.md` for what can still be lost.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink};
use redis::{IntoConnectionInfo, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::{Instant, timeout};

use super::{ChannelLayer, ConnId, Frame, LocalHub, Mailbox};
use crate::error::SendError;

/// Channels subscribed or unsubscribed per command.
const SUBSCRIBE_CHUNK: usize = 512;

/// Messages sent to Redis per pipeline.
const PUBLISH_BATCH: usize = 256;

/// How often the subscriber checks that its connection is alive.
const SUBSCRIBER_PING: Duration = Duration::from_secs(5);

/// Redis layers alive in this process (usually one).
static LIVE_LAYERS: AtomicUsize = AtomicUsize::new(0);

/// Appends a message to its channel's stream and publishes it with the
/// entry id, atomically, so that the live path and the replay path agree.
///
/// KEYS[1] stream; ARGV: channel, origin, target, frame, max length, ttl (ms).
const PUBLISH_SCRIPT: &str = r"
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', 'o', ARGV[2], 't', ARGV[3], 'f', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PUBLISH', ARGV[1], id .. ' ' .. ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4])
return id
";

/// Why a Redis layer could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisLayerError {
    /// The URL is not a Redis URL.
    #[error("invalid Redis URL: {0}")]
    Url(String),
    /// Redis did not answer.
    #[error("cannot reach Redis: {0}")]
    Connect(String),
}

/// How a [`RedisLayer`] talks to Redis.
///
/// ```no_run
/// use std::time::Duration;
/// use liveview::{LiveView, layer::RedisConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let layer = RedisConfig::new("redis://127.0.0.1:6379")
///     .prefix("shop")          // several apps can share one Redis
///     .db(2)
///     .replay(1000, Duration::from_secs(60))
///     .connect()
///     .await?;
/// let lv = LiveView::builder().layer(layer).build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisConfig {
    url: String,
    prefix: String,
    db: Option<i64>,
    replay_len: usize,
    replay_ttl: Duration,
    outage_buffer: usize,
    outage_max_age: Duration,
    reconnect_max: Duration,
    op_timeout: Duration,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redacted(&self.url))
            .field("prefix", &self.prefix)
            .field("db", &self.db)
            .field("replay_len", &self.replay_len)
            .field("replay_ttl", &self.replay_ttl)
            .field("outage_buffer", &self.outage_buffer)
            .field("outage_max_age", &self.outage_max_age)
            .field("reconnect_max", &self.reconnect_max)
            .field("op_timeout", &self.op_timeout)
            .finish()
    }
}

/// The URL with its password (if any) replaced by `***`, for logs and errors.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at]
                .split_once(':')
                .map_or(&rest[..at], |(user, _)| user);
            format!("{scheme}://{user}:***{}", &rest[at..])
        }
        None => url.to_owned(),
    }
}

impl RedisConfig {
    /// A configuration for the Redis at `url` (`redis://[:password@]host[:port][/db]`),
    /// with the defaults below.
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            prefix: "liveview".to_owned(),
            db: None,
            replay_len: 1000,
            replay_ttl: Duration::from_secs(60),
            outage_buffer: 10_000,
            outage_max_age: Duration::from_secs(30),
            reconnect_max: Duration::from_secs(5),
            op_timeout: Duration::from_secs(2),
        }
    }

    /// The prefix of every key and channel (default `liveview`). Apps that
    /// share a Redis need different prefixes (or databases).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The Redis database (default: the URL's, else 0). Pub/sub channels are
    /// not per database in Redis, so the number is part of every channel
    /// name: two apps on two databases never see each other's messages.
    #[must_use]
    pub fn db(mut self, db: i64) -> Self {
        self.db = Some(db);
        self
    }

    /// Keep the last `len` messages of each group (and node) in a Redis
    /// stream for `ttl` after its last message, so that a node that lost its
    /// subscription replays what it missed (default 1000 messages, 60 s).
    /// `len == 0` turns replay off: plain pub/sub, at most once.
    #[must_use]
    pub fn replay(mut self, len: usize, ttl: Duration) -> Self {
        self.replay_len = len;
        self.replay_ttl = ttl.max(Duration::from_millis(1));
        self
    }

    /// While Redis cannot be reached, keep at most `messages` outgoing
    /// messages, none older than `max_age`, and send them when it is back
    /// (default 10,000 and 30 s). Beyond that, messages for other nodes are
    /// dropped (local delivery is not affected).
    #[must_use]
    pub fn outage_buffer(mut self, messages: usize, max_age: Duration) -> Self {
        self.outage_buffer = messages.max(1);
        self.outage_max_age = max_age;
        self
    }

    /// The longest wait between two reconnection attempts (default 5 s; the
    /// first is after 50 ms, doubling, with jitter).
    #[must_use]
    pub fn reconnect_max(mut self, max: Duration) -> Self {
        self.reconnect_max = max.max(Duration::from_millis(50));
        self
    }

    /// How long one Redis operation may take before the connection is
    /// considered broken (default 2 s).
    #[must_use]
    pub fn op_timeout(mut self, limit: Duration) -> Self {
        self.op_timeout = limit.max(Duration::from_millis(10));
        self
    }

    /// Connects to Redis and starts the layer's tasks (needs a tokio runtime).
    ///
    /// # Errors
    /// When the URL is invalid or Redis does not answer within the
    /// operation timeout. Once started, the layer survives Redis outages.
    pub async fn connect(self) -> Result<RedisLayer, RedisLayerError> {
        RedisLayer::start(self).await
    }
}

/// A channel layer on Redis pub/sub, for several nodes.
///
/// Select it with one line: `LiveView::builder().layer(RedisLayer::connect(url).await?)`.
/// Handler code does not change. Cheap to clone (keep a clone to build a
/// [`Presence`](crate::Presence) on it).
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
        LIVE_LAYERS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A hook the presence subsystem installs on the layer.
pub(crate) trait PresenceHook: Send + Sync + 'static {
    /// A message arrived on the presence channel.
    fn message(&self, payload: &[u8]);
    /// The subscriber (re)connected after having been disconnected.
    fn reconnected(&self);
}

/// What the layer's handles and tasks share.
pub(crate) struct Shared {
    hub: LocalHub,
    pub(crate) names: Names,
    /// Tags this layer's messages, so that it skips its own echo.
    pub(crate) instance: u64,
    /// This process's node id, as in its `ConnId`s.
    node: u64,
    pub(crate) manager: ConnectionManager,
    client: redis::Client,
    control: mpsc::UnboundedSender<Control>,
    outbound: mpsc::Sender<Outbound>,
    presence: OnceLock<Arc<dyn PresenceHook>>,
    connected: AtomicBool,
    dropped: AtomicU64,
    replayed: AtomicU64,
    reconnects: AtomicU64,
    pub(crate) config: RedisConfig,
}

impl Shared {
    pub(crate) fn config_op_timeout(&self) -> Duration {
        self.config.op_timeout
    }
}

/// Key and channel names.
pub(crate) struct Names {
    /// `{prefix}:`, for keys.
    pub(crate) key: String,
    /// `{prefix}:{db}:`, for channels.
    pub(crate) channel: String,
}

impl Names {
    fn group_key(&self, group: &str) -> String {
        format!("{}g:{group}", self.key)
    }
    fn group_channel(&self, group: &str) -> String {
        format!("{}g:{group}", self.channel)
    }
    fn node_key(&self, node: u64) -> String {
        format!("{}n:{node:016x}", self.key)
    }
    fn node_channel(&self, node: u64) -> String {
        format!("{}n:{node:016x}", self.channel)
    }
    pub(crate) fn presence_channel(&self) -> String {
        format!("{}presence", self.channel)
    }
    /// The stream key of a channel.
    fn stream_of(&self, channel: &str) -> Option<String> {
        channel
            .strip_prefix(&self.channel)
            .map(|rest| format!("{}{rest}", self.key))
    }
}

/// A message for the publisher task.
struct Outbound {
    stream: String,
    channel: String,
    /// `-` for a group, the connection id for a direct send.
    target: String,
    frame: Frame,
    queued: Instant,
}

/// A request to the subscriber task.
enum Control {
    /// Group membership changed on this node: subscribe or unsubscribe as
    /// the hub now says; answer once done.
    Sync(Arc<str>, Option<oneshot::Sender<()>>),
    /// Presence was enabled: subscribe to its channel.
    Presence,
}

impl RedisLayer {
    /// Connects to the Redis at `url` with the default [`RedisConfig`].
    ///
    /// # Errors
    /// When the URL is invalid or Redis does not answer.
    pub async fn connect(url: impl Into<String>) -> Result<RedisLayer, RedisLayerError> {
        RedisConfig::new(url).connect().await
    }

    async fn start(config: RedisConfig) -> Result<RedisLayer, RedisLayerError> {
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
        };
        let (control, control_rx) = mpsc::unbounded_channel();
        let (outbound, outbound_rx) = mpsc::channel(config.outage_buffer);
        let shared = Arc::new(Shared {
            hub: LocalHub::new(),
            names,
            instance: uuid::Uuid::new_v4().as_u64_pair().1,
            // A throwaway id, for the node part every ConnId of this process has.
            node: ConnId::next().node(),
            manager,
            client,
            control,
            outbound,
            presence: OnceLock::new(),
            connected: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            config,
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
        };
        let tasks = vec![
            tokio::spawn(subscriber.run()).abort_handle(),
            tokio::spawn(publisher(Arc::clone(&shared), outbound_rx)).abort_handle(),
        ];
        LIVE_LAYERS.fetch_add(1, Ordering::AcqRel);
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

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// True while the subscriber connection is up (messages from other
    /// nodes are arriving).
    pub fn is_connected(&self) -> bool {
        self.handle.shared.connected.load(Ordering::Acquire)
    }

    /// Messages for other nodes dropped so far because Redis was away
    /// longer than the outage buffer allows.
    pub fn dropped_messages(&self) -> u64 {
        self.handle.shared.dropped.load(Ordering::Relaxed)
    }

    /// Messages read back from the replay streams after reconnections.
    pub fn replayed_messages(&self) -> u64 {
        self.handle.shared.replayed.load(Ordering::Relaxed)
    }

    /// How many times the subscriber connection was re-established.
    pub fn reconnections(&self) -> u64 {
        self.handle.shared.reconnects.load(Ordering::Relaxed)
    }

    /// The id this layer tags its messages with (also its presence node id).
    pub fn instance_id(&self) -> u64 {
        self.handle.shared.instance
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

    fn queue(&self, stream: String, channel: String, target: String, frame: Frame) -> bool {
        let shared = &self.handle.shared;
        let message = Outbound {
            stream,
            channel,
            target,
            frame,
            queued: Instant::now(),
        };
        if shared.outbound.try_send(message).is_ok() {
            return true;
        }
        let dropped = shared.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if dropped.is_power_of_two() {
            tracing::warn!(
                dropped,
                "liveview: redis outage buffer full, dropping messages for other nodes"
            );
        }
        false
    }

    /// Asks the subscriber to follow the hub for `group`; waits for the
    /// subscription when asked to and the subscriber is connected.
    async fn sync(&self, group: &str, wait: bool) {
        let shared = &self.handle.shared;
        if !wait {
            let _ = shared.control.send(Control::Sync(Arc::from(group), None));
            return;
        }
        let (tx, rx) = oneshot::channel();
        if shared
            .control
            .send(Control::Sync(Arc::from(group), Some(tx)))
            .is_err()
        {
            return;
        }
        if self.is_connected() && timeout(shared.config.op_timeout, rx).await.is_err() {
            tracing::warn!(
                group,
                "liveview: redis subscription not confirmed in time; it will be retried"
            );
        }
    }
}

impl fmt::Debug for RedisLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.handle.shared;
        f.debug_struct("RedisLayer")
            .field("prefix", &shared.config.prefix)
            .field("instance", &format_args!("{:016x}", shared.instance))
            .field("connected", &self.is_connected())
            .field("local_connections", &shared.hub.len())
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl ChannelLayer for RedisLayer {
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
        shared.hub.deliver_group(group, &frame);
        let names = &shared.names;
        if self.queue(
            names.group_key(group),
            names.group_channel(group),
            "-".to_owned(),
            frame,
        ) {
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
        // Ours but not in our hub: gone, unless another layer of this
        // process (tests run several nodes in one process) holds it.
        if conn.node() == shared.node && LIVE_LAYERS.load(Ordering::Acquire) <= 1 {
            return Err(SendError::Closed);
        }
        let names = &shared.names;
        if self.queue(
            names.node_key(conn.node()),
            names.node_channel(conn.node()),
            conn.to_string(),
            frame,
        ) {
            Ok(())
        } else {
            Err(SendError::Backend(
                "Redis is unreachable and the outage buffer is full".to_owned(),
            ))
        }
    }

    fn local_connections(&self) -> usize {
        self.handle.shared.hub.len()
    }
}

// ---------------------------------------------------------------- publisher

/// Sends queued messages to Redis in pipelines; while Redis is away, keeps
/// them (the channel is the bounded buffer) and retries with backoff.
async fn publisher(shared: Arc<Shared>, mut rx: mpsc::Receiver<Outbound>) {
    let script = redis::Script::new(PUBLISH_SCRIPT);
    let origin = format!("{:016x}", shared.instance);
    let config = &shared.config;
    let mut batch: Vec<Outbound> = Vec::with_capacity(PUBLISH_BATCH);
    let mut down_since: Option<Instant> = None;
    let mut backoff = Backoff::new(config.reconnect_max);
    loop {
        if batch.is_empty() && rx.recv_many(&mut batch, PUBLISH_BATCH).await == 0 {
            return; // the layer is gone
        }
        let before = batch.len();
        batch.retain(|m| m.queued.elapsed() <= config.outage_max_age);
        let expired = before - batch.len();
        if expired > 0 {
            shared.dropped.fetch_add(expired as u64, Ordering::Relaxed);
            tracing::warn!(
                expired,
                "liveview: dropped messages for other nodes that waited longer than the outage buffer allows"
            );
            if batch.is_empty() {
                continue;
            }
        }
        let mut pipe = redis::pipe();
        for message in &batch {
            if config.replay_len == 0 {
                let payload = format!("0-0 {origin} {} {}", message.target, message.frame.as_str());
                pipe.cmd("PUBLISH")
                    .arg(&message.channel)
                    .arg(payload)
                    .ignore();
            } else {
                pipe.cmd("EVALSHA")
                    .arg(script.get_hash())
                    .arg(1)
                    .arg(&message.stream)
                    .arg(&message.channel)
                    .arg(&origin)
                    .arg(&message.target)
                    .arg(message.frame.as_str())
                    .arg(config.replay_len)
                    .arg(u64::try_from(config.replay_ttl.as_millis()).unwrap_or(u64::MAX))
                    .ignore();
            }
        }
        let mut conn = shared.manager.clone();
        let result = match timeout(config.op_timeout, pipe.exec_async(&mut conn)).await {
            Ok(result) => result,
            Err(_) => Err(redis::RedisError::from((redis::ErrorKind::Io, "timed out"))),
        };
        match result {
            Ok(()) => {
                if let Some(since) = down_since.take() {
                    tracing::info!(
                        outage = ?since.elapsed(),
                        "liveview: redis reachable again; publishing resumed"
                    );
                }
                backoff.reset();
                batch.clear();
            }
            Err(err)
                if err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
            {
                // A fresh Redis (restarted): load the script, send again.
                if let Err(err) = timeout(config.op_timeout, script.load_async(&mut conn))
                    .await
                    .unwrap_or_else(|_| Err((redis::ErrorKind::Io, "timed out").into()))
                {
                    tracing::warn!(%err, "liveview: cannot load the redis publish script");
                    tokio::time::sleep(backoff.next()).await;
                }
            }
            Err(err) => {
                if down_since.is_none() {
                    down_since = Some(Instant::now());
                    tracing::warn!(
                        %err,
                        "liveview: redis publish failed; local delivery continues, messages for other nodes are buffered"
                    );
                }
                tokio::time::sleep(backoff.next()).await;
            }
        }
    }
}

/// Exponential backoff from 50 ms, with jitter.
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    const MIN: Duration = Duration::from_millis(50);

    fn new(max: Duration) -> Self {
        Backoff {
            next: Self::MIN,
            max,
        }
    }

    fn reset(&mut self) {
        self.next = Self::MIN;
    }

    fn next(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        // Jitter: between half and all of the delay.
        let random = uuid::Uuid::new_v4().as_u64_pair().0 % 1000;
        let half = base / 2;
        half + half * u32::try_from(random).unwrap_or(0) / 1000
    }
}

// --------------------------------------------------------------- subscriber

/// A stream entry id, `ms-seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct StreamId(u64, u64);

impl StreamId {
    fn parse(text: &str) -> Option<StreamId> {
        let (ms, seq) = text.split_once('-')?;
        Some(StreamId(ms.parse().ok()?, seq.parse().ok()?))
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

/// What the subscriber knows of one subscribed channel.
#[derive(Debug, Clone, Copy)]
struct ChannelState {
    /// The last entry delivered (dedup, and where replay starts).
    last: Option<StreamId>,
    /// When we subscribed, in Redis time (where replay starts when nothing
    /// was delivered yet).
    since: StreamId,
}

/// What a channel carries.
enum Kind<'a> {
    Group(&'a str),
    Node,
    Presence,
}

struct Subscriber {
    shared: Arc<Shared>,
    control: mpsc::UnboundedReceiver<Control>,
    /// Subscribed channels (kept across reconnections for replay).
    channels: HashMap<String, ChannelState>,
    /// Redis clock minus ours, in ms.
    clock_offset_ms: i64,
    ready: Option<oneshot::Sender<()>>,
}

/// Why a session with Redis ended.
struct Broken(String);

impl Subscriber {
    async fn run(mut self) {
        let mut backoff = Backoff::new(self.shared.config.reconnect_max);
        let mut sessions: u64 = 0;
        let mut down_since: Option<Instant> = None;
        loop {
            let started = Instant::now();
            match self.session(sessions, down_since).await {
                Ok(()) => return, // the layer is gone
                Err(Broken(reason)) => {
                    if self.shared.connected.swap(false, Ordering::AcqRel) {
                        down_since = Some(Instant::now());
                        tracing::warn!(
                            reason,
                            "liveview: lost the redis subscriber connection; local delivery continues; reconnecting"
                        );
                    } else {
                        tracing::debug!(reason, "liveview: redis still unreachable");
                    }
                }
            }
            if started.elapsed() > Duration::from_secs(10) {
                backoff.reset();
            }
            sessions += 1;
            tokio::time::sleep(backoff.next()).await;
        }
    }

    /// One connection's life; `Ok` when the layer is gone.
    async fn session(&mut self, sessions: u64, down_since: Option<Instant>) -> Result<(), Broken> {
        let op = self.shared.config.op_timeout;
        let pubsub = timeout(op, self.shared.client.get_async_pubsub())
            .await
            .map_err(|_| Broken("connect timed out".to_owned()))?
            .map_err(|e| Broken(e.to_string()))?;
        let (mut sink, mut stream) = pubsub.split();

        // Requests that came while disconnected: the hub is the truth, so
        // they only need an answer.
        let mut acks = Vec::new();
        while let Ok(control) = self.control.try_recv() {
            if let Control::Sync(_, Some(ack)) = control {
                acks.push(ack);
            }
        }
        self.measure_clock().await?;
        let wanted = self.wanted();
        let previous = std::mem::take(&mut self.channels);
        let list: Vec<String> = wanted.into_iter().collect();
        for chunk in list.chunks(SUBSCRIBE_CHUNK) {
            timeout(op, sink.subscribe(chunk))
                .await
                .map_err(|_| Broken("subscribe timed out".to_owned()))?
                .map_err(|e| Broken(e.to_string()))?;
        }
        let now = self.redis_now();
        for channel in list {
            let state = previous.get(&channel).copied().unwrap_or(ChannelState {
                last: None,
                since: now,
            });
            self.channels.insert(channel, state);
        }
        let replayed = if sessions > 0 {
            self.replay().await?
        } else {
            0
        };
        self.shared.connected.store(true, Ordering::Release);
        if sessions > 0 {
            self.shared.reconnects.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                channels = self.channels.len(),
                replayed,
                outage = ?down_since.map(|t| t.elapsed()),
                "liveview: redis subscriber reconnected and resubscribed"
            );
            if let Some(hook) = self.shared.presence.get() {
                hook.reconnected();
            }
        } else {
            tracing::debug!(
                channels = self.channels.len(),
                "liveview: redis subscriber connected"
            );
        }
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(());
        }
        for ack in acks {
            let _ = ack.send(());
        }

        let mut ping = tokio::time::interval(SUBSCRIBER_PING);
        ping.reset();
        loop {
            tokio::select! {
                control = self.control.recv() => {
                    let Some(control) = control else { return Ok(()) };
                    let mut batch = vec![control];
                    while let Ok(more) = self.control.try_recv() {
                        batch.push(more);
                    }
                    self.apply(&mut sink, batch).await?;
                }
                message = stream.next() => {
                    let Some(message) = message else {
                        return Err(Broken("connection closed".to_owned()));
                    };
                    self.on_message(message.get_channel_name(), message.get_payload_bytes());
                }
                _ = ping.tick() => {
                    timeout(op, sink.ping::<Value>())
                        .await
                        .map_err(|_| Broken("ping timed out".to_owned()))?
                        .map_err(|e| Broken(e.to_string()))?;
                }
            }
        }
    }

    /// Every channel this node needs now.
    fn wanted(&self) -> HashSet<String> {
        let names = &self.shared.names;
        let mut wanted: HashSet<String> = self
            .shared
            .hub
            .groups()
            .iter()
            .map(|g| names.group_channel(g))
            .collect();
        wanted.insert(names.node_channel(self.shared.node));
        if self.shared.presence.get().is_some() {
            wanted.insert(names.presence_channel());
        }
        wanted
    }

    /// Subscribes and unsubscribes as the hub says, then answers.
    async fn apply(&mut self, sink: &mut PubSubSink, batch: Vec<Control>) -> Result<(), Broken> {
        let names = &self.shared.names;
        let mut subscribe = Vec::new();
        let mut unsubscribe = Vec::new();
        let mut acks = Vec::new();
        let mut seen = HashSet::new();
        for control in batch {
            let channel = match control {
                Control::Sync(group, ack) => {
                    acks.extend(ack);
                    if !seen.insert(Arc::clone(&group)) {
                        continue;
                    }
                    let channel = names.group_channel(&group);
                    let wanted = self.shared.hub.group_len(&group) > 0;
                    let subscribed = self.channels.contains_key(&channel);
                    if wanted && !subscribed {
                        subscribe.push(channel);
                    } else if !wanted && subscribed {
                        unsubscribe.push(channel);
                    }
                    continue;
                }
                Control::Presence => names.presence_channel(),
            };
            if !self.channels.contains_key(&channel) {
                subscribe.push(channel);
            }
        }
        let op = self.shared.config.op_timeout;
        let now = self.redis_now();
        for chunk in subscribe.chunks(SUBSCRIBE_CHUNK) {
            timeout(op, sink.subscribe(chunk))
                .await
                .map_err(|_| Broken("subscribe timed out".to_owned()))?
                .map_err(|e| Broken(e.to_string()))?;
            for channel in chunk {
                self.channels.insert(
                    channel.clone(),
                    ChannelState {
                        last: None,
                        since: now,
                    },
                );
            }
        }
        for chunk in unsubscribe.chunks(SUBSCRIBE_CHUNK) {
            for channel in chunk {
                self.channels.remove(channel);
            }
            timeout(op, sink.unsubscribe(chunk))
                .await
                .map_err(|_| Broken("unsubscribe timed out".to_owned()))?
                .map_err(|e| Broken(e.to_string()))?;
        }
        for ack in acks {
            let _ = ack.send(());
        }
        Ok(())
    }

    fn kind<'a>(&self, channel: &'a str) -> Option<Kind<'a>> {
        let rest = channel.strip_prefix(&self.shared.names.channel)?;
        if let Some(group) = rest.strip_prefix("g:") {
            Some(Kind::Group(group))
        } else if rest.starts_with("n:") {
            Some(Kind::Node)
        } else if rest == "presence" {
            Some(Kind::Presence)
        } else {
            None
        }
    }

    fn on_message(&mut self, channel: &str, payload: &[u8]) {
        let Some(kind) = self.kind(channel) else {
            return;
        };
        if let Kind::Presence = kind {
            if let Some(hook) = self.shared.presence.get() {
                hook.message(payload);
            }
            return;
        }
        let Ok(text) = std::str::from_utf8(payload) else {
            tracing::debug!(channel, "liveview: dropped a non-UTF-8 redis message");
            return;
        };
        let mut parts = text.splitn(4, ' ');
        let (Some(id), Some(origin), Some(target), Some(frame)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            tracing::debug!(channel, "liveview: dropped a malformed redis message");
            return;
        };
        if let Some(id) = StreamId::parse(id).filter(|id| id.0 > 0) {
            if let Some(state) = self.channels.get_mut(channel) {
                if state.last.is_some_and(|last| id <= last) {
                    return; // already delivered by a replay
                }
                state.last = Some(id);
            }
        }
        self.deliver(&kind, origin, target, frame);
    }

    fn deliver(&self, kind: &Kind<'_>, origin: &str, target: &str, frame: &str) {
        if u64::from_str_radix(origin, 16).ok() == Some(self.shared.instance) {
            return; // our own message: delivered locally when sent
        }
        let frame = Frame::from_json_text(frame);
        match kind {
            Kind::Group(group) => {
                self.shared.hub.deliver_group(group, &frame);
            }
            Kind::Node => {
                if let Some(conn) = ConnId::parse(target) {
                    self.shared.hub.deliver(conn, frame);
                }
            }
            Kind::Presence => {}
        }
    }

    /// Reads back, from each channel's stream, what was published while we
    /// were not subscribed.
    async fn replay(&mut self) -> Result<u64, Broken> {
        if self.shared.config.replay_len == 0 {
            return Ok(0);
        }
        let op = self.shared.config.op_timeout;
        let mut todo: Vec<(String, String, StreamId)> = Vec::new();
        for (channel, state) in &self.channels {
            let Some(stream) = self.shared.names.stream_of(channel) else {
                continue;
            };
            if matches!(self.kind(channel), Some(Kind::Presence) | None) {
                continue;
            }
            todo.push((channel.clone(), stream, state.last.unwrap_or(state.since)));
        }
        let mut replayed = 0;
        for chunk in todo.chunks(SUBSCRIBE_CHUNK) {
            let mut pipe = redis::pipe();
            for (_, stream, from) in chunk {
                pipe.cmd("XRANGE")
                    .arg(stream)
                    .arg(format!("({from}"))
                    .arg("+")
                    .arg("COUNT")
                    .arg(self.shared.config.replay_len);
            }
            let mut conn = self.shared.manager.clone();
            let results: Vec<Value> = timeout(op, pipe.query_async(&mut conn))
                .await
                .map_err(|_| Broken("replay timed out".to_owned()))?
                .map_err(|e| Broken(e.to_string()))?;
            for ((channel, _, _), entries) in chunk.iter().zip(results) {
                replayed += self.replay_entries(channel, entries);
            }
        }
        self.shared.replayed.fetch_add(replayed, Ordering::Relaxed);
        Ok(replayed)
    }

    fn replay_entries(&mut self, channel: &str, entries: Value) -> u64 {
        let Value::Array(entries) = entries else {
            return 0;
        };
        let mut delivered = 0;
        for entry in entries {
            let Some((id, fields)) = stream_entry(entry) else {
                continue;
            };
            let Some(state) = self.channels.get_mut(channel) else {
                return delivered;
            };
            if state.last.is_some_and(|last| id <= last) {
                continue;
            }
            state.last = Some(id);
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k == name)
                    .map_or("", |(_, v)| v.as_str())
            };
            if let Some(kind) = self.kind(channel) {
                if u64::from_str_radix(field("o"), 16).ok() != Some(self.shared.instance) {
                    delivered += 1;
                }
                self.deliver(&kind, field("o"), field("t"), field("f"));
            }
        }
        delivered
    }

    /// Reads Redis's clock, to know where replay starts for channels
    /// subscribed later.
    async fn measure_clock(&mut self) -> Result<(), Broken> {
        let mut conn = self.shared.manager.clone();
        let (secs, micros): (u64, u64) = timeout(
            self.shared.config.op_timeout,
            redis::cmd("TIME").query_async(&mut conn),
        )
        .await
        .map_err(|_| Broken("TIME timed out".to_owned()))?
        .map_err(|e| Broken(e.to_string()))?;
        let redis_ms = secs.saturating_mul(1000) + micros / 1000;
        self.clock_offset_ms = i64::try_from(redis_ms).unwrap_or(i64::MAX) - local_ms();
        Ok(())
    }

    /// Now, in Redis time, as a stream id.
    fn redis_now(&self) -> StreamId {
        let ms = local_ms().saturating_add(self.clock_offset_ms);
        StreamId(u64::try_from(ms).unwrap_or(0), 0)
    }
}

fn local_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `[id, [field, value, ...]]` of an XRANGE reply.
fn stream_entry(entry: Value) -> Option<(StreamId, Vec<(String, String)>)> {
    let Value::Array(mut parts) = entry else {
        return None;
    };
    if parts.len() != 2 {
        return None;
    }
    let fields = parts.pop()?;
    let id = match parts.pop()? {
        Value::BulkString(bytes) => StreamId::parse(std::str::from_utf8(&bytes).ok()?)?,
        Value::SimpleString(text) => StreamId::parse(&text)?,
        _ => return None,
    };
    let Value::Array(fields) = fields else {
        return None;
    };
    let mut pairs = Vec::with_capacity(fields.len() / 2);
    let mut iter = fields.into_iter();
    while let (Some(key), Some(value)) = (iter.next(), iter.next()) {
        if let (Value::BulkString(k), Value::BulkString(v)) = (key, value) {
            pairs.push((String::from_utf8(k).ok()?, String::from_utf8(v).ok()?));
        }
    }
    Some((id, pairs))
}

#[cfg(test)]
mod redaction_tests {
    use super::redacted;

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(
            redacted("redis://:hunter2@cache:6379/1"),
            "redis://:***@cache:6379/1"
        );
        assert_eq!(
            redacted("rediss://app:hunter2@cache"),
            "rediss://app:***@cache"
        );
        assert_eq!(
            redacted("redis://127.0.0.1:6379/"),
            "redis://127.0.0.1:6379/"
        );
        let config = super::RedisConfig::new("redis://:hunter2@cache:6379");
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_order_and_parse() {
        assert_eq!(StreamId::parse("12-3"), Some(StreamId(12, 3)));
        assert!(StreamId(12, 3) < StreamId(12, 4));
        assert!(StreamId(12, 9) < StreamId(13, 0));
        assert_eq!(StreamId::parse("x-1"), None);
        assert_eq!(StreamId::parse("12"), None);
        assert_eq!(StreamId(5, 1).to_string(), "5-1");
    }

    #[test]
    fn names_keep_apps_and_databases_apart() {
        let names = Names {
            key: "app:".to_owned(),
            channel: "app:3:".to_owned(),
        };
        assert_eq!(names.group_key("room"), "app:g:room");
        assert_eq!(names.group_channel("room"), "app:3:g:room");
        assert_eq!(names.node_channel(255), "app:3:n:00000000000000ff");
        assert_eq!(
            names.stream_of("app:3:n:00000000000000ff").as_deref(),
            Some("app:n:00000000000000ff")
        );
        assert_eq!(names.stream_of("other:3:g:x"), None);
    }

    #[test]
    fn backoff_grows_to_its_cap_with_jitter() {
        let mut backoff = Backoff::new(Duration::from_millis(400));
        let delays: Vec<Duration> = (0..6).map(|_| backoff.next()).collect();
        assert!(delays[0] >= Duration::from_millis(25) && delays[0] <= Duration::from_millis(50));
        assert!(delays[5] >= Duration::from_millis(200) && delays[5] <= Duration::from_millis(400));
        backoff.reset();
        assert!(backoff.next() <= Duration::from_millis(50));
    }

    #[test]
    fn xrange_entries_parse() {
        let entry = Value::Array(vec![
            Value::BulkString(b"17-2".to_vec()),
            Value::Array(vec![
                Value::BulkString(b"o".to_vec()),
                Value::BulkString(b"00000000000000aa".to_vec()),
                Value::BulkString(b"f".to_vec()),
                Value::BulkString(b"{}".to_vec()),
            ]),
        ]);
        let (id, fields) = stream_entry(entry).unwrap();
        assert_eq!(id, StreamId(17, 2));
        assert_eq!(fields[1], ("f".to_owned(), "{}".to_owned()));
    }
}
