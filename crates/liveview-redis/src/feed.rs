//! The subscriber's pub/sub connection: plain pub/sub on one Redis,
//! sharded pub/sub (`SSUBSCRIBE`, RESP3 pushes) on a Redis Cluster.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::try_join_all;
use redis::aio::{PubSubSink, PubSubStream};
use redis::cluster_async::ClusterConnection;
use redis::{Msg, PushInfo, PushKind, RedisResult, Value};
use tokio::sync::mpsc;

use crate::cluster::slot;
use crate::config::RedisConfig;

/// Where the subscriber connects.
pub(crate) enum Source {
    Single(redis::Client),
    /// The cluster's node URLs.
    Cluster(Vec<String>),
}

/// What arrived on a feed.
pub(crate) enum Incoming {
    Message(Msg),
    /// A shard confirmed a subscription to this channel again (after the
    /// client moved it to a new master, or when first made): what was
    /// published in between is in its stream.
    Subscribed(String),
    /// The connection is gone.
    Closed,
}

/// A live pub/sub connection.
pub(crate) enum Feed {
    Single(PubSubSink, PubSubStream),
    /// The connection, its pushes, and the slot map it subscribed on.
    Cluster(ClusterConnection, mpsc::UnboundedReceiver<PushInfo>, String),
}

/// How often a cluster feed checks that the slot map did not change: a
/// fail-over moves slots to a replica, and the subscriptions that were on
/// the dead master must be made again (and what they missed replayed).
const SLOT_CHECK: Duration = Duration::from_secs(1);

/// The cluster's slot map, as `start-end master` lines in order: what
/// changes when a master fails over or slots move.
async fn slot_map(conn: &mut ClusterConnection) -> RedisResult<String> {
    let ranges: Vec<Value> = redis::cmd("CLUSTER").arg("SLOTS").query_async(conn).await?;
    let mut lines: Vec<String> = ranges
        .iter()
        .filter_map(|range| {
            let Value::Array(parts) = range else {
                return None;
            };
            let (Some(Value::Int(start)), Some(Value::Int(end)), Some(Value::Array(master))) =
                (parts.first(), parts.get(1), parts.get(2))
            else {
                return None;
            };
            let port = master.get(1).and_then(|p| match p {
                Value::Int(port) => Some(*port),
                _ => None,
            });
            let host = master.first().and_then(|h| match h {
                Value::BulkString(host) => Some(String::from_utf8_lossy(host).into_owned()),
                Value::SimpleString(host) => Some(host.clone()),
                _ => None,
            });
            Some(format!("{start}-{end} {}:{}", host?, port?))
        })
        .collect();
    lines.sort();
    Ok(lines.join("\n"))
}

impl Source {
    pub(crate) async fn open(&self, config: &RedisConfig) -> RedisResult<Feed> {
        match self {
            Source::Single(client) => {
                let (sink, stream) = client.get_async_pubsub().await?.split();
                Ok(Feed::Single(sink, stream))
            }
            Source::Cluster(nodes) => {
                let (tx, rx) = mpsc::unbounded_channel();
                let mut conn = crate::conn::connect(nodes, config, Some(tx)).await?;
                let slots = slot_map(&mut conn).await?;
                Ok(Feed::Cluster(conn, rx, slots))
            }
        }
    }
}

/// Channels by slot: one `SSUBSCRIBE` may only name channels of one slot.
fn by_slot(channels: &[String]) -> BTreeMap<u16, Vec<&String>> {
    let mut slots: BTreeMap<u16, Vec<&String>> = BTreeMap::new();
    for channel in channels {
        slots
            .entry(slot(channel.as_bytes()))
            .or_default()
            .push(channel);
    }
    slots
}

impl Feed {
    pub(crate) async fn subscribe(&mut self, channels: &[String]) -> RedisResult<()> {
        match self {
            Feed::Single(sink, _) => sink.subscribe(channels).await,
            Feed::Cluster(conn, _, _) => {
                let calls = by_slot(channels).into_values().map(|group| {
                    let mut conn = conn.clone();
                    async move { conn.ssubscribe(group).await }
                });
                try_join_all(calls).await.map(|_| ())
            }
        }
    }

    pub(crate) async fn unsubscribe(&mut self, channels: &[String]) -> RedisResult<()> {
        match self {
            Feed::Single(sink, _) => sink.unsubscribe(channels).await,
            Feed::Cluster(conn, _, _) => {
                let calls = by_slot(channels).into_values().map(|group| {
                    let mut conn = conn.clone();
                    async move { conn.sunsubscribe(group).await }
                });
                try_join_all(calls).await.map(|_| ())
            }
        }
    }

    /// How often to [`check`](Self::check) the connection.
    pub(crate) fn check_every(&self, single: Duration) -> Duration {
        match self {
            Feed::Single(..) => single,
            Feed::Cluster(..) => SLOT_CHECK,
        }
    }

    /// Checks the connection: a `PING` on one Redis; on a cluster, that
    /// the slot map is the one the subscriptions were made on (an error
    /// when it changed: the caller starts over, and replays).
    pub(crate) async fn check(&mut self) -> RedisResult<()> {
        match self {
            Feed::Single(sink, _) => sink.ping::<Value>().await.map(|_| ()),
            Feed::Cluster(conn, _, slots) => {
                if slot_map(conn).await? == *slots {
                    Ok(())
                } else {
                    Err((redis::ErrorKind::Io, "the cluster's slots moved").into())
                }
            }
        }
    }

    pub(crate) async fn next(&mut self) -> Incoming {
        match self {
            Feed::Single(_, stream) => stream
                .next()
                .await
                .map_or(Incoming::Closed, Incoming::Message),
            Feed::Cluster(_, pushes, _) => loop {
                let Some(push) = pushes.recv().await else {
                    return Incoming::Closed;
                };
                match push.kind {
                    PushKind::SMessage | PushKind::Message => {
                        if let Some(msg) = Msg::from_push_info(push) {
                            return Incoming::Message(msg);
                        }
                    }
                    PushKind::SSubscribe => {
                        if let Some(Value::BulkString(name)) = push.data.first() {
                            if let Ok(name) = String::from_utf8(name.clone()) {
                                return Incoming::Subscribed(name);
                            }
                        }
                    }
                    PushKind::Disconnection => return Incoming::Closed,
                    _ => {}
                }
            },
        }
    }
}
