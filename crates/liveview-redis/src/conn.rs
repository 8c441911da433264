//! The command connection of a layer: one Redis, or a Redis Cluster; and
//! how a cluster connection is made.

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, ProtocolVersion, PushInfo, RedisFuture, Value};
use tokio::sync::mpsc;

use crate::config::RedisConfig;

/// Where a layer's commands go: a [`ConnectionManager`] (one Redis,
/// reconnects by itself) or a [`ClusterConnection`] (routes each command,
/// or single-slot pipeline, to the master of its slot). Cheap to clone.
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(conn) => conn.req_packed_command(cmd),
            Conn::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(conn) => conn.req_packed_commands(cmd, offset, count),
            Conn::Cluster(conn) => conn.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(conn) => conn.get_db(),
            Conn::Cluster(conn) => conn.get_db(),
        }
    }
}

/// A cluster connection to `nodes`: with a push sender (RESP3), for the
/// subscriber's sharded subscriptions; without, for commands.
pub(crate) async fn connect(
    nodes: &[String],
    config: &RedisConfig,
    pushes: Option<mpsc::UnboundedSender<PushInfo>>,
) -> redis::RedisResult<ClusterConnection> {
    let mut builder = ClusterClientBuilder::new(nodes.to_vec())
        .connection_timeout(config.op_timeout)
        .response_timeout(config.op_timeout)
        .retries(1);
    if let Some(pushes) = pushes {
        builder = builder
            .use_protocol(ProtocolVersion::RESP3)
            .push_sender(pushes);
    }
    builder.build()?.get_async_connection().await
}
