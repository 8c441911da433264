//! The subscriber task: one pub/sub connection per node, subscribed to the
//! groups that have a member on this node, to the node's own channel and,
//! with presence, to the presence channel; it replays from the streams what
//! it missed while disconnected.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use liveview::layer::{ConnId, Frame, NodeId};
use redis::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout};

use crate::backoff::Backoff;
use crate::feed::{Feed, Incoming};
use crate::shared::{Control, Shared};
use crate::stream::{StreamId, group_frame, stream_entry};

/// Channels subscribed or unsubscribed per command.
const SUBSCRIBE_CHUNK: usize = 512;

/// How often the subscriber checks that its connection is alive.
const SUBSCRIBER_PING: Duration = Duration::from_secs(5);

/// What the subscriber knows of one subscribed channel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChannelState {
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

pub(crate) struct Subscriber {
    pub(crate) shared: Arc<Shared>,
    pub(crate) control: mpsc::UnboundedReceiver<Control>,
    /// Subscribed channels (kept across reconnections for replay).
    pub(crate) channels: HashMap<String, ChannelState>,
    /// Redis clock minus ours, in ms.
    pub(crate) clock_offset_ms: i64,
    pub(crate) ready: Option<oneshot::Sender<()>>,
    /// Group channels asked for and not subscribed yet, with when the
    /// first join asked: where their replay starts once subscribed.
    pub(crate) pending: HashMap<String, Instant>,
}

/// Why a session with Redis ended.
struct Broken(String);

impl Subscriber {
    pub(crate) async fn run(mut self) {
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
        let mut feed = timeout(op, self.shared.source.open(&self.shared.config))
            .await
            .map_err(|_| Broken("connect timed out".to_owned()))?
            .map_err(|e| Broken(e.to_string()))?;

        // Requests that came while disconnected: the hub is the truth, so
        // they only need an answer (and, for a join, where its replay
        // starts).
        let mut acks = Vec::new();
        while let Ok(control) = self.control.try_recv() {
            if let Control::Sync(group, ack, at) = control {
                self.note_pending(&group, at);
                acks.extend(ack);
            }
        }
        self.measure_clock().await?;
        let wanted = self.wanted();
        let list: Vec<String> = wanted.into_iter().collect();
        // The channels' states stay as they are until every subscription
        // is made: a session that fails half-way (a shard still down)
        // must leave the next one replaying from the same places.
        for chunk in list.chunks(SUBSCRIBE_CHUNK) {
            timeout(op, feed.subscribe(chunk))
                .await
                .map_err(|_| Broken("subscribe timed out".to_owned()))?
                .map_err(|e| Broken(e.to_string()))?;
        }
        let previous = std::mem::take(&mut self.channels);
        let now = self.redis_now();
        let mut late = Vec::new();
        for channel in list {
            let state = match previous.get(&channel) {
                Some(state) => *state,
                None => {
                    // Joined while we were away: replay from the join.
                    let since = match self.pending.get(&channel) {
                        Some(at) => {
                            late.push(channel.clone());
                            self.redis_at(*at)
                        }
                        None => now,
                    };
                    ChannelState { last: None, since }
                }
            };
            self.channels.insert(channel, state);
        }
        self.pending.clear();
        let replayed = if sessions > 0 {
            let all: Vec<String> = self.channels.keys().cloned().collect();
            self.replay(all).await?
        } else {
            self.replay(late).await?
        };
        self.shared.stalled.store(false, Ordering::Release);
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

        let mut ping = tokio::time::interval(feed.check_every(SUBSCRIBER_PING));
        ping.reset();
        loop {
            tokio::select! {
                control = self.control.recv() => {
                    let Some(control) = control else { return Ok(()) };
                    let mut batch = vec![control];
                    while let Ok(more) = self.control.try_recv() {
                        batch.push(more);
                    }
                    self.apply(&mut feed, batch).await?;
                }
                incoming = feed.next() => match incoming {
                    Incoming::Message(message) => {
                        self.on_message(message.get_channel_name(), message.get_payload_bytes());
                    }
                    // A shard took this subscription back (a fail-over, a
                    // slot moved): read what it missed in between.
                    Incoming::Subscribed(channel) => {
                        if self.channels.contains_key(&channel) {
                            self.replay(vec![channel]).await?;
                        }
                    }
                    Incoming::Closed => return Err(Broken("connection closed".to_owned())),
                },
                _ = ping.tick() => {
                    timeout(op, feed.check())
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
    async fn apply(&mut self, feed: &mut Feed, batch: Vec<Control>) -> Result<(), Broken> {
        let shared = Arc::clone(&self.shared);
        let names = &shared.names;
        let mut subscribe = Vec::new();
        let mut unsubscribe = Vec::new();
        let mut acks = Vec::new();
        let mut seen = HashSet::new();
        for control in batch {
            let channel = match control {
                Control::Sync(group, ack, at) => {
                    if let Some(ack) = ack {
                        acks.push((Arc::clone(&group), ack));
                    }
                    self.note_pending(&group, at);
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
        let mut late = Vec::new();
        for chunk in subscribe.chunks(SUBSCRIBE_CHUNK) {
            timeout(op, feed.subscribe(chunk))
                .await
                .map_err(|_| Broken("subscribe timed out".to_owned()))?
                .map_err(|e| Broken(e.to_string()))?;
            let now = self.redis_now();
            for channel in chunk {
                let since = match self.pending.remove(channel) {
                    Some(at) => {
                        late.push(channel.clone());
                        self.redis_at(at)
                    }
                    None => now,
                };
                self.channels
                    .insert(channel.clone(), ChannelState { last: None, since });
            }
        }
        // The joins that waited for their subscription have it now; a
        // channel whose join did not wait (or gave up waiting) replays what
        // was published since the join.
        let mut answered = HashSet::new();
        for (group, ack) in acks {
            if ack.send(()).is_ok() {
                answered.insert(names.group_channel(&group));
            }
        }
        late.retain(|channel| !answered.contains(channel));
        if !late.is_empty() {
            self.replay(late).await?;
        }
        for chunk in unsubscribe.chunks(SUBSCRIBE_CHUNK) {
            for channel in chunk {
                self.channels.remove(channel);
                self.pending.remove(channel);
            }
            timeout(op, feed.unsubscribe(chunk))
                .await
                .map_err(|_| Broken("unsubscribe timed out".to_owned()))?
                .map_err(|e| Broken(e.to_string()))?;
        }
        self.shared.stalled.store(false, Ordering::Release);
        Ok(())
    }

    /// Remembers when a join asked for a group not subscribed yet.
    fn note_pending(&mut self, group: &str, at: Instant) {
        if self.shared.hub.group_len(group) == 0 {
            return;
        }
        let channel = self.shared.names.group_channel(group);
        if self.channels.contains_key(&channel) {
            return;
        }
        self.pending
            .entry(channel)
            .and_modify(|first| *first = (*first).min(at))
            .or_insert(at);
    }

    fn kind<'a>(&self, channel: &'a str) -> Option<Kind<'a>> {
        let rest = self.shared.names.rest_of(channel)?;
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
        self.shared.received.fetch_add(1, Ordering::Relaxed);
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
        let id = StreamId::parse(id).filter(|id| id.0 > 0);
        if let Some(id) = id {
            if let Some(state) = self.channels.get_mut(channel) {
                if state.last.is_some_and(|last| id <= last) {
                    return; // already delivered by a replay
                }
                state.last = Some(id);
            }
        }
        self.deliver(&kind, id, origin, target, frame);
    }

    /// Hands a message to the hub; `id`: its stream entry.
    fn deliver(
        &self,
        kind: &Kind<'_>,
        id: Option<StreamId>,
        origin: &str,
        target: &str,
        frame: &str,
    ) {
        if NodeId::parse(origin) == Some(self.shared.node) {
            return; // our own message: delivered locally when sent
        }
        match kind {
            Kind::Group(group) => {
                let frame = group_frame(group, id, origin, target, frame);
                self.shared.hub.deliver_group(group, &frame);
            }
            Kind::Node => {
                if let Some(conn) = ConnId::parse(target) {
                    self.shared.hub.deliver(conn, Frame::from_json_text(frame));
                }
            }
            Kind::Presence => {}
        }
    }

    /// Reads back, from these channels' streams, what was published while
    /// we were not subscribed.
    async fn replay(&mut self, channels: Vec<String>) -> Result<u64, Broken> {
        if self.shared.config.replay_len == 0 || channels.is_empty() {
            return Ok(0);
        }
        let op = self.shared.config.op_timeout;
        let mut todo: Vec<(String, String, StreamId)> = Vec::new();
        for channel in channels {
            let Some(state) = self.channels.get(&channel) else {
                continue;
            };
            let Some(stream) = self.shared.names.stream_of(&channel) else {
                continue;
            };
            if matches!(self.kind(&channel), Some(Kind::Presence) | None) {
                continue;
            }
            let from = state.last.unwrap_or(state.since);
            todo.push((channel, stream, from));
        }
        // One pipeline per slot on a cluster (a pipeline may not cross
        // slots), all at once; on one Redis every stream is in lane 0.
        let names = &self.shared.names;
        todo.sort_by_key(|(_, stream, _)| names.lane(stream));
        let chunks: Vec<&[(String, String, StreamId)]> = todo
            .chunk_by(|a, b| names.lane(&a.1) == names.lane(&b.1))
            .flat_map(|lane| lane.chunks(SUBSCRIBE_CHUNK))
            .collect();
        let queries = chunks.iter().map(|chunk| {
            let mut pipe = redis::pipe();
            for (_, stream, from) in *chunk {
                pipe.cmd("XRANGE")
                    .arg(stream)
                    .arg(format!("({from}"))
                    .arg("+")
                    .arg("COUNT")
                    .arg(self.shared.config.replay_len);
            }
            let mut conn = self.shared.manager.clone();
            async move {
                timeout(op, pipe.query_async::<Vec<Value>>(&mut conn))
                    .await
                    .map_err(|_| Broken("replay timed out".to_owned()))?
                    .map_err(|e| Broken(e.to_string()))
            }
        });
        let results = futures_util::future::try_join_all(queries).await?;
        let mut replayed = 0;
        for (chunk, results) in chunks.iter().zip(results) {
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
                if NodeId::parse(field("o")) != Some(self.shared.node) {
                    delivered += 1;
                }
                self.deliver(&kind, Some(id), field("o"), field("t"), field("f"));
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

    /// A past instant, in Redis time, as a stream id.
    fn redis_at(&self, at: Instant) -> StreamId {
        let ago = u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX);
        StreamId(self.redis_now().0.saturating_sub(ago), 0)
    }
}

fn local_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
