//! Presence across nodes, stored in Redis.
//!
//! Keys (with the layer's prefix `{p}`):
//!
//! - `{p}:p:{topic}`: a hash, field `{node}:{key}` → the entry as JSON;
//! - `{p}:pn:{node}`: the node's heartbeat, a key with a TTL that the node
//!   refreshes every third of it;
//! - `{p}:pt:{node}`: the topics a node has entries in;
//! - `{p}:pnodes`: the nodes that have entries.
//!
//! A listing leaves out the entries of nodes whose heartbeat expired; every
//! node sweeps such nodes away on each heartbeat (one Lua script: whichever
//! node removes an entry first publishes its leave event). Join and leave
//! events travel on the layer's presence channel, through its one
//! subscriber connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::Value;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::timeout;

use liveview::presence::{
    Presence, PresenceBackend, PresenceEntry, PresenceError, PresenceEvent, PresenceHub,
};

use crate::layer::RedisLayer;
use crate::link::PresenceHook;
use crate::shared::Shared;

/// The default time after which a silent node's entries expire (15 s).
pub const DEFAULT_TTL: Duration = Duration::from_secs(15);

/// Lists a topic's entries whose node is alive.
/// KEYS[1] the topic's hash; ARGV[1] the key prefix.
const LIST_SCRIPT: &str = r"
local alive = {}
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local n = string.match(all[i], '^([^:]*):')
  if n then
    if alive[n] == nil then alive[n] = redis.call('EXISTS', ARGV[1] .. 'pn:' .. n) == 1 end
    if alive[n] then out[#out + 1] = all[i + 1] end
  end
end
return out
";

/// Removes the entries of every node whose heartbeat expired; returns
/// `topic, entry, topic, entry, ...` of what it removed.
/// ARGV[1] the key prefix.
const SWEEP_SCRIPT: &str = r"
local k = ARGV[1]
local out = {}
for _, n in ipairs(redis.call('SMEMBERS', k .. 'pnodes')) do
  if redis.call('EXISTS', k .. 'pn:' .. n) == 0 then
    for _, t in ipairs(redis.call('SMEMBERS', k .. 'pt:' .. n)) do
      local h = k .. 'p:' .. t
      local all = redis.call('HGETALL', h)
      for i = 1, #all, 2 do
        if string.sub(all[i], 1, #n + 1) == n .. ':' then
          redis.call('HDEL', h, all[i])
          out[#out + 1] = t
          out[#out + 1] = all[i + 1]
        end
      end
    end
    redis.call('DEL', k .. 'pt:' .. n)
    redis.call('SREM', k .. 'pnodes', n)
  end
end
return out
";

/// An event on the presence channel.
#[derive(Serialize, Deserialize)]
struct Wire {
    /// The node that sent it.
    o: String,
    /// `join` or `leave`.
    k: String,
    t: String,
    e: PresenceEntry,
}

/// A write for the worker, in order.
enum Command {
    Join(String, PresenceEntry, Option<oneshot::Sender<()>>),
    Leave(String, PresenceEntry),
    Close(Vec<(String, PresenceEntry)>, oneshot::Sender<()>),
}

/// The Redis side of a [`Presence`].
struct Backend {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    /// Keeps the layer (and its subscriber) alive as long as the presence.
    _layer: RedisLayer,
    worker: AbortHandle,
    list: redis::Script,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.worker.abort();
    }
}

/// Builds a [`Presence`] shared by every node of a [`RedisLayer`].
///
/// ```no_run
/// use std::time::Duration;
/// use liveview_redis::{RedisLayer, RedisPresence};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let layer = RedisLayer::connect("redis://127.0.0.1:6379").await?;
/// let presence = RedisPresence::new(&layer).ttl(Duration::from_secs(6)).build()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "call build() to start the presence"]
pub struct RedisPresence {
    layer: RedisLayer,
    ttl: Duration,
}

/// Presence shared by every node of a Redis layer, with entries of a dead
/// node expiring within about 20 s: `RedisPresence::new(layer).build()`.
///
/// # Errors
/// [`PresenceError::AlreadyInstalled`] when the layer already has one.
pub fn presence(layer: &RedisLayer) -> Result<Presence, PresenceError> {
    RedisPresence::new(layer).build()
}

impl RedisPresence {
    /// Presence on `layer`, with the default heartbeat TTL ([`DEFAULT_TTL`], 15 s).
    pub fn new(layer: &RedisLayer) -> Self {
        RedisPresence {
            layer: layer.clone(),
            ttl: DEFAULT_TTL,
        }
    }

    /// The node heartbeat lives `ttl` (at least 30 ms): the node refreshes
    /// it every `ttl / 3`. A node that dies without goodbye drops out of
    /// [`Presence::list`] at most `ttl` after its last heartbeat, and its
    /// leave events fire at most `ttl / 3` later (the next sweep of a
    /// surviving node): within `ttl * 4 / 3` of its death.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Starts the presence: installs it on the layer (whose subscriber then
    /// listens to the presence channel) and starts its heartbeat task
    /// (needs a tokio runtime). Its node id is the layer's.
    ///
    /// # Errors
    /// [`PresenceError::AlreadyInstalled`] when the layer already has one.
    pub fn build(self) -> Result<Presence, PresenceError> {
        let ttl = self.ttl.max(Duration::from_millis(30));
        let layer = self.layer;
        let shared = Arc::clone(layer.shared());
        Presence::with_backend(shared.node, move |hub| {
            let node = hub.node().to_string();
            let hook = Arc::new(Hook {
                hub: hub.clone(),
                node: node.clone(),
                dirty: Arc::new(AtomicBool::new(false)),
                wake: Arc::new(Notify::new()),
            });
            if !layer.set_presence(Arc::clone(&hook) as Arc<dyn PresenceHook>) {
                return Err(PresenceError::AlreadyInstalled);
            }
            let (commands, rx) = mpsc::unbounded_channel();
            let worker = Worker {
                shared: Arc::clone(&shared),
                hub,
                node,
                ttl,
                dirty: Arc::clone(&hook.dirty),
                wake: Arc::clone(&hook.wake),
                sweep: redis::Script::new(SWEEP_SCRIPT),
            };
            let worker = tokio::spawn(worker.run(rx)).abort_handle();
            Ok(Backend {
                shared,
                commands,
                _layer: layer,
                worker,
                list: redis::Script::new(LIST_SCRIPT),
            })
        })
    }
}

impl Backend {
    fn op_timeout(&self) -> Duration {
        self.shared.config_op_timeout()
    }
}

#[async_trait::async_trait]
impl PresenceBackend for Backend {
    /// Waits until Redis has the entry (up to the operation timeout), but
    /// not while the layer's subscriber is disconnected or behind (Redis is
    /// away or frozen: a page's `on_connect` must not wait on it); the entry
    /// is then written when Redis answers, or stored again after the
    /// reconnect (the worker marks a failed write for a resync).
    async fn join(&self, topic: &str, entry: &PresenceEntry) {
        let shared = &self.shared;
        if !shared.connected.load(Ordering::Acquire) || shared.stalled.load(Ordering::Acquire) {
            let _ = self
                .commands
                .send(Command::Join(topic.to_owned(), entry.clone(), None));
            return;
        }
        let (tx, rx) = oneshot::channel();
        if self
            .commands
            .send(Command::Join(topic.to_owned(), entry.clone(), Some(tx)))
            .is_ok()
        {
            let _ = timeout(self.op_timeout(), rx).await;
        }
    }

    fn leave(&self, topic: &str, entry: &PresenceEntry) {
        let _ = self
            .commands
            .send(Command::Leave(topic.to_owned(), entry.clone()));
    }

    async fn close(&self, entries: Vec<(String, PresenceEntry)>) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Close(entries, tx)).is_ok() {
            let _ = timeout(self.op_timeout() * 2, rx).await;
        }
    }

    /// `None` when Redis cannot be reached.
    async fn list(&self, topic: &str) -> Option<Vec<PresenceEntry>> {
        let mut conn = self.shared.manager.clone();
        let mut invocation = self.list.prepare_invoke();
        invocation
            .key(format!("{}p:{topic}", self.shared.names.presence_key()))
            .arg(self.shared.names.presence_key());
        let result: Result<Vec<String>, _> =
            match timeout(self.op_timeout(), invocation.invoke_async(&mut conn)).await {
                Ok(result) => result,
                Err(_) => return None,
            };
        match result {
            Ok(items) => Some(
                items
                    .iter()
                    .filter_map(|json| serde_json::from_str(json).ok())
                    .collect(),
            ),
            Err(err) => {
                tracing::debug!(%err, topic, "liveview: presence list from redis failed; listing this node only");
                None
            }
        }
    }
}

/// Receives presence events from the layer's subscriber.
struct Hook {
    hub: PresenceHub,
    node: String,
    dirty: Arc<AtomicBool>,
    wake: Arc<Notify>,
}

impl PresenceHook for Hook {
    fn message(&self, payload: &[u8]) {
        if self.hub.is_closed() {
            return;
        }
        let Ok(wire) = serde_json::from_slice::<Wire>(payload) else {
            tracing::debug!("liveview: dropped a malformed presence event");
            return;
        };
        if wire.o == self.node {
            return; // ours: already told locally
        }
        let event = match wire.k.as_str() {
            "join" => PresenceEvent::Join {
                topic: wire.t,
                entry: wire.e,
                here: false,
            },
            "leave" => PresenceEvent::Leave {
                topic: wire.t,
                entry: wire.e,
                here: false,
            },
            _ => return,
        };
        self.hub.emit(event);
    }

    fn reconnected(&self) {
        if self.hub.is_closed() {
            return;
        }
        // Our writes may have been lost (a restarted Redis is empty) and
        // events missed: store everything again now, and tell listeners.
        self.dirty.store(true, Ordering::Release);
        self.wake.notify_one();
        self.hub.resync();
    }
}

/// Performs the writes in order, heartbeats, and sweeps dead nodes.
struct Worker {
    shared: Arc<Shared>,
    hub: PresenceHub,
    /// The node id, as the 16 hex digits of keys and fields.
    node: String,
    ttl: Duration,
    /// A write failed, or Redis came back: store every entry again.
    dirty: Arc<AtomicBool>,
    wake: Arc<Notify>,
    sweep: redis::Script,
}

impl Worker {
    async fn run(self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut heartbeat = tokio::time::interval(self.ttl / 3);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = commands.recv() => {
                    let Some(command) = command else { return };
                    self.apply(command).await;
                }
                _ = heartbeat.tick() => self.beat().await,
                () = self.wake.notified() => self.beat().await,
            }
        }
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.shared.names.presence_key())
    }

    fn field(&self, entry: &PresenceEntry) -> String {
        format!("{}:{}", self.node, entry.key)
    }

    fn wire(&self, kind: &str, topic: &str, entry: &PresenceEntry) -> String {
        let wire = Wire {
            o: self.node.clone(),
            k: kind.to_owned(),
            t: topic.to_owned(),
            e: entry.clone(),
        };
        serde_json::to_string(&wire).unwrap_or_default()
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX)
    }

    /// Adds a join (entry, topic index, node index, heartbeat, event) to a pipeline.
    fn add_join(&self, pipe: &mut redis::Pipeline, topic: &str, entry: &PresenceEntry) {
        let json = serde_json::to_string(entry).unwrap_or_default();
        pipe.cmd("HSET")
            .arg(self.key(&format!("p:{topic}")))
            .arg(self.field(entry))
            .arg(json)
            .ignore()
            .cmd("SADD")
            .arg(self.key(&format!("pt:{}", self.node)))
            .arg(topic)
            .ignore()
            .cmd("SADD")
            .arg(self.key("pnodes"))
            .arg(&self.node)
            .ignore()
            .cmd(self.shared.names.publish())
            .arg(self.shared.names.presence_channel())
            .arg(self.wire("join", topic, entry))
            .ignore();
    }

    fn add_heartbeat(&self, pipe: &mut redis::Pipeline) {
        pipe.cmd("SET")
            .arg(self.key(&format!("pn:{}", self.node)))
            .arg(1)
            .arg("PX")
            .arg(self.ttl_ms())
            .ignore();
    }

    async fn exec(&self, pipe: &redis::Pipeline) -> bool {
        let mut conn = self.shared.manager.clone();
        match timeout(self.shared.config_op_timeout(), pipe.exec_async(&mut conn)).await {
            Ok(Ok(())) => true,
            Ok(Err(err)) => {
                tracing::debug!(%err, "liveview: presence write to redis failed; will resync");
                self.dirty.store(true, Ordering::Release);
                false
            }
            Err(_) => {
                tracing::debug!("liveview: presence write to redis timed out; will resync");
                self.dirty.store(true, Ordering::Release);
                false
            }
        }
    }

    async fn apply(&self, command: Command) {
        let mut pipe = redis::pipe();
        match command {
            Command::Join(topic, entry, ack) => {
                self.add_heartbeat(&mut pipe);
                self.add_join(&mut pipe, &topic, &entry);
                self.exec(&pipe).await;
                if let Some(ack) = ack {
                    let _ = ack.send(());
                }
            }
            Command::Leave(topic, entry) => {
                pipe.cmd("HDEL")
                    .arg(self.key(&format!("p:{topic}")))
                    .arg(self.field(&entry))
                    .ignore()
                    .cmd(self.shared.names.publish())
                    .arg(self.shared.names.presence_channel())
                    .arg(self.wire("leave", &topic, &entry))
                    .ignore();
                self.exec(&pipe).await;
            }
            Command::Close(entries, ack) => {
                for (topic, entry) in &entries {
                    pipe.cmd("HDEL")
                        .arg(self.key(&format!("p:{topic}")))
                        .arg(self.field(entry))
                        .ignore()
                        .cmd(self.shared.names.publish())
                        .arg(self.shared.names.presence_channel())
                        .arg(self.wire("leave", topic, entry))
                        .ignore();
                }
                pipe.cmd("DEL")
                    .arg(self.key(&format!("pn:{}", self.node)))
                    .arg(self.key(&format!("pt:{}", self.node)))
                    .ignore()
                    .cmd("SREM")
                    .arg(self.key("pnodes"))
                    .arg(&self.node)
                    .ignore();
                self.exec(&pipe).await;
                let _ = ack.send(());
            }
        }
    }

    /// Refreshes the heartbeat (storing every entry again when Redis lost
    /// them or a write failed), then sweeps dead nodes.
    async fn beat(&self) {
        if self.hub.is_closed() {
            return;
        }
        let op = self.shared.config_op_timeout();
        let mut conn = self.shared.manager.clone();
        let previous: Result<Option<String>, _> = match timeout(
            op,
            redis::cmd("SET")
                .arg(self.key(&format!("pn:{}", self.node)))
                .arg(1)
                .arg("PX")
                .arg(self.ttl_ms())
                .arg("GET")
                .query_async(&mut conn),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => {
                self.dirty.store(true, Ordering::Release);
                return;
            }
        };
        let lost = match previous {
            Ok(previous) => previous.is_none(),
            Err(err) => {
                tracing::debug!(%err, "liveview: presence heartbeat failed");
                self.dirty.store(true, Ordering::Release);
                return;
            }
        };
        let entries = self.hub.local_entries();
        if (lost || self.dirty.swap(false, Ordering::AcqRel)) && !entries.is_empty() {
            let mut pipe = redis::pipe();
            for (topic, entry) in &entries {
                self.add_join(&mut pipe, topic, entry);
            }
            if self.exec(&pipe).await {
                tracing::info!(
                    entries = entries.len(),
                    "liveview: presence entries stored again in redis"
                );
            }
        }
        self.reap(&mut conn).await;
    }

    /// Removes dead nodes' entries; tells local subscribers and the others.
    async fn reap(&self, conn: &mut crate::conn::Conn) {
        let mut invocation = self.sweep.prepare_invoke();
        // The key routes the script to the presence slot on a cluster.
        invocation
            .key(self.key("pnodes"))
            .arg(self.shared.names.presence_key());
        let reaped: Vec<Value> = match timeout(
            self.shared.config_op_timeout(),
            invocation.invoke_async(conn),
        )
        .await
        {
            Ok(Ok(reaped)) => reaped,
            Ok(Err(err)) => {
                tracing::debug!(%err, "liveview: presence sweep failed");
                return;
            }
            Err(_) => return,
        };
        let strings: Vec<String> = reaped
            .into_iter()
            .filter_map(|v| match v {
                Value::BulkString(bytes) => String::from_utf8(bytes).ok(),
                _ => None,
            })
            .collect();
        if strings.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        let mut count = 0;
        for pair in strings.chunks_exact(2) {
            let (topic, json) = (&pair[0], &pair[1]);
            let Ok(entry) = serde_json::from_str::<PresenceEntry>(json) else {
                continue;
            };
            count += 1;
            pipe.cmd(self.shared.names.publish())
                .arg(self.shared.names.presence_channel())
                .arg(self.wire("leave", topic, &entry))
                .ignore();
            self.hub.emit(PresenceEvent::Leave {
                topic: topic.clone(),
                entry,
                here: true,
            });
        }
        tracing::info!(
            entries = count,
            "liveview: presence entries of dead nodes expired"
        );
        self.exec(&pipe).await;
    }
}
