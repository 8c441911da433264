//! Broadcast, group, direct-send and presence scenarios, written once and
//! run on every channel layer: `in_memory` (one node, `InMemoryLayer` and
//! `Presence::in_memory`), `on_redis` (two `RedisLayer` nodes sharing one
//! real redis-server, with `RedisPresence`) and `on_redis_cluster` (the
//! same on a real 3-master Redis Cluster).
//!
//! Clients are placed with `Cluster::node(i)` (node `i % n`), so on the
//! in-memory layer every client is on its one node and on Redis they
//! alternate. Redis-only assertions (subscriptions, pub/sub connections)
//! run when the cluster has a Redis; steps that need two nodes say so.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

mod scenario_app;
mod support;

use std::time::{Duration, Instant};

use liveview::presence::{Presence, PresenceEvent};
use liveview::{LiveView, Patch};
use liveview_e2e::cluster::RedisCluster;
use liveview_e2e::redis::{RedisServer, wait_until};
use liveview_e2e::ws::{Client, TestServer};
use liveview_redis::{RedisConfig, RedisLayer, RedisPresence};
use scenario_app::app;
use serde_json::json;
use support::{next_event, wait_names};

/// Long enough for a message to cross Redis if it were going to.
const QUIET: Duration = Duration::from_millis(300);

/// The node heartbeat's TTL of the Redis presence.
const TTL: Duration = Duration::from_millis(900);

/// The key prefix of the Redis cluster.
const PREFIX: &str = "sc";

// ---- clusters ----

struct Node {
    server: TestServer,
    presence: Presence,
    layer: Option<RedisLayer>,
}

struct Cluster {
    nodes: Vec<Node>,
    redis: Option<RedisServer>,
    /// A Redis Cluster's processes, kept alive with the nodes.
    _shards: Option<RedisCluster>,
}

impl Cluster {
    /// Node `i % n`: where the `i`-th client of a scenario goes.
    fn node(&self, i: usize) -> &Node {
        &self.nodes[i % self.nodes.len()]
    }

    fn first(&self) -> &Node {
        &self.nodes[0]
    }

    fn last(&self) -> &Node {
        &self.nodes[self.nodes.len() - 1]
    }

    /// A Redis channel name of this cluster.
    fn channel(&self, rest: &str) -> String {
        format!("{PREFIX}:0:{rest}")
    }
}

/// One node on the in-memory layer.
async fn in_memory() -> Cluster {
    let presence = Presence::in_memory();
    let server = TestServer::start(app(LiveView::builder(), &presence)).await;
    Cluster {
        nodes: vec![Node {
            server,
            presence,
            layer: None,
        }],
        redis: None,
        _shards: None,
    }
}

/// `n` nodes on one real redis-server.
async fn on_redis(n: usize) -> Cluster {
    let redis = RedisServer::start();
    Cluster {
        nodes: redis_nodes(&redis.url(), n).await,
        redis: Some(redis),
        _shards: None,
    }
}

/// `n` nodes on a real Redis Cluster (3 masters, 3 replicas).
async fn on_cluster(n: usize) -> Cluster {
    let shards = RedisCluster::start();
    Cluster {
        nodes: redis_nodes(&shards.url(), n).await,
        redis: None,
        _shards: Some(shards),
    }
}

async fn redis_nodes(url: &str, n: usize) -> Vec<Node> {
    let mut nodes = Vec::new();
    for _ in 0..n {
        let layer = RedisConfig::new(url)
            .prefix(PREFIX)
            .reconnect_max(Duration::from_millis(200))
            .op_timeout(Duration::from_millis(500))
            .connect()
            .await
            .expect("connect to redis");
        let presence = RedisPresence::new(&layer).ttl(TTL).build().unwrap();
        let server =
            TestServer::start(app(LiveView::builder().layer(layer.clone()), &presence)).await;
        nodes.push(Node {
            server,
            presence,
            layer: Some(layer),
        });
    }
    nodes
}

/// One `#[tokio::test]` per layer for each scenario.
macro_rules! on_every_layer {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test]
                async fn in_memory() {
                    super::$scenario(&super::in_memory().await).await;
                }

                #[tokio::test]
                async fn on_redis() {
                    super::$scenario(&super::on_redis(2).await).await;
                }

                #[tokio::test]
                async fn on_redis_cluster() {
                    super::$scenario(&super::on_cluster(2).await).await;
                }
            }
        )*
    };
}

on_every_layer!(
    a_broadcast_reaches_every_client_exactly_once,
    group_messages_reach_their_members_only,
    direct_messages_reach_a_connection_on_any_node,
    presence_joins_and_leaves_show_on_every_node,
);

// ---- helpers ----

/// A client whose joins (room, broadcast) are done: its first event is
/// handled only after them.
async fn client(node: &Node, room: &str) -> Client {
    let mut client = node.server.client(room).await;
    let r = client.event("ping", json!({}), json!({})).await;
    assert_eq!(client.recv_json().await, json!({"ref": r}));
    client
}

async fn expect_append(client: &mut Client, text: &str) {
    assert_eq!(
        client.recv_json().await,
        json!({"target": "#messages", "html": text, "append": true})
    );
}

async fn expect_ack(client: &mut Client, r: u64) {
    assert_eq!(client.recv_json().await, json!({"ref": r}));
}

async fn visit_as(node: &Node, name: &str) -> Client {
    let mut client = node.server.client("room").await;
    let r = client
        .event("arrive", json!({"name": name}), json!({}))
        .await;
    assert_eq!(client.recv_json().await, json!({"ref": r}));
    client
}

// ---- the scenarios ----

/// 200 clients in 7 rooms, spread over the nodes, get one broadcast from the
/// server's `Channels`; then a broadcast from a client of the first node
/// and one from a client of the last reach every client exactly once.
async fn a_broadcast_reaches_every_client_exactly_once(cluster: &Cluster) {
    let mut clients = Vec::new();
    for i in 0..200 {
        clients.push(client(cluster.node(i), &format!("room{}", i % 7)).await);
    }
    for node in &cluster.nodes {
        let here = (0..200)
            .filter(|i| std::ptr::eq(cluster.node(*i), node))
            .count();
        node.server.wait_connections(here).await;
    }
    cluster
        .first()
        .server
        .lv
        .channels()
        .broadcast(Patch::html("#stats", "<p>200</p>"))
        .await
        .unwrap();
    for client in &mut clients {
        let frame = client.recv_json().await;
        assert_eq!(frame, json!({"target": "#stats", "html": "<p>200</p>"}));
    }
    for client in &mut clients {
        client.expect_silence(Duration::from_millis(1)).await;
    }

    // From a client of the first node (client 0), then of the last (199).
    let last = clients.len() - 1;
    let r = clients[0]
        .event("say", json!({"text": "hello"}), json!({}))
        .await;
    expect_append(&mut clients[0], "hello").await;
    expect_ack(&mut clients[0], r).await;
    for c in &mut clients[1..] {
        expect_append(c, "hello").await;
    }
    let r = clients[last]
        .event("say", json!({"text": "from b"}), json!({}))
        .await;
    expect_append(&mut clients[last], "from b").await;
    expect_ack(&mut clients[last], r).await;
    for c in &mut clients[..last] {
        expect_append(c, "from b").await;
    }
    for i in [0, 1, 2, last] {
        clients[i].expect_silence(QUIET).await;
    }
    for client in &mut clients {
        client.expect_silence(Duration::from_millis(1)).await;
    }
    if let Some(redis) = &cluster.redis {
        // One pub/sub connection per node, whatever the number of groups.
        let pubsub = redis.command("CLIENT LIST TYPE pubsub\r\n").unwrap();
        assert_eq!(
            pubsub.matches("cmd=").count(),
            cluster.nodes.len(),
            "{pubsub}"
        );
    }
}

/// Rooms and groups are isolated; a group message reaches its members only,
/// on whichever node; a member that leaves gets nothing more; on Redis a
/// node subscribes to the groups it has members in, and only while it has.
async fn group_messages_reach_their_members_only(cluster: &Cluster) {
    // Rooms and groups, with members on both nodes.
    let mut a1 = cluster.first().server.client("alpha").await;
    let mut a2 = cluster.last().server.client("alpha").await;
    let mut b1 = cluster.last().server.client("beta").await;
    let r = a1.event("ping", json!({}), json!({})).await;
    expect_ack(&mut a1, r).await;
    let r = a2.event("ping", json!({}), json!({})).await;
    expect_ack(&mut a2, r).await;
    let r = b1.event("ping", json!({}), json!({})).await;
    expect_ack(&mut b1, r).await;

    let r = a1
        .event("say", json!({"to": "room", "text": "hi alpha"}), json!({}))
        .await;
    assert_eq!(
        a1.recv_json().await["html"],
        "hi alpha",
        "pushed frames come before the answer"
    );
    assert_eq!(a1.recv_json().await, json!({"ref": r}));
    assert_eq!(a2.recv_json().await["html"], "hi alpha");
    b1.expect_silence(Duration::from_millis(100)).await;

    b1.event("join", json!({"group": "chat"}), json!({})).await;
    b1.recv().await; // ack
    a2.event("join", json!({"group": "chat"}), json!({})).await;
    a2.recv().await; // ack
    a1.event("say", json!({"to": "chat", "text": "in chat"}), json!({}))
        .await;
    a1.recv().await; // ack
    assert_eq!(b1.recv_json().await["html"], "in chat");
    assert_eq!(a2.recv_json().await["html"], "in chat");
    a1.expect_silence(Duration::from_millis(100)).await;

    b1.event("join", json!({"group": "chat", "leave": true}), json!({}))
        .await;
    b1.recv().await; // ack
    a1.event("say", json!({"to": "chat", "text": "again"}), json!({}))
        .await;
    a1.recv().await; // ack
    assert_eq!(a2.recv_json().await["html"], "again");
    b1.expect_silence(Duration::from_millis(100)).await;

    a1.event("say", json!({"text": "everyone"}), json!({}))
        .await;
    for client in [&mut a1, &mut a2, &mut b1] {
        assert_eq!(client.recv_json().await["html"], "everyone");
    }
    for client in [a1, a2, b1] {
        client.close().await;
    }

    // Subscriptions follow local membership (checked on Redis).
    let mut a1 = client(cluster.first(), "ra").await;
    let mut b1 = client(cluster.last(), "rb").await;
    let mut b2 = client(cluster.last(), "rc").await;
    let channel = cluster.channel("g:news");
    if let Some(redis) = &cluster.redis {
        assert_eq!(redis.subscribers(&channel), 0);
    }

    let r = b1.event("join", json!({"group": "news"}), json!({})).await;
    expect_ack(&mut b1, r).await;
    if let Some(redis) = &cluster.redis {
        assert_eq!(redis.subscribers(&channel), 1, "node B subscribed");
    }

    let r = a1
        .event("say", json!({"to": "news", "text": "to chat"}), json!({}))
        .await;
    expect_ack(&mut a1, r).await;
    expect_append(&mut b1, "to chat").await;
    // Rooms are groups too (of their own namespace).
    let r = a1
        .event(
            "say",
            json!({"room": "rc", "text": "to room rc"}),
            json!({}),
        )
        .await;
    expect_ack(&mut a1, r).await;
    expect_append(&mut b2, "to room rc").await;
    a1.expect_silence(QUIET).await;
    b1.expect_silence(Duration::from_millis(1)).await;
    b2.expect_silence(Duration::from_millis(1)).await;

    let r = b1
        .event("join", json!({"group": "news", "leave": true}), json!({}))
        .await;
    expect_ack(&mut b1, r).await;
    b2.close().await;
    if let Some(redis) = &cluster.redis {
        wait_until(Duration::from_secs(5), "node B unsubscribes", || {
            redis.subscribers(&channel) == 0
        })
        .await;
        let room = cluster.channel("g:rc");
        wait_until(Duration::from_secs(5), "room rc is unsubscribed", || {
            redis.subscribers(&room) == 0
        })
        .await;
    }
    let r = a1
        .event("say", json!({"to": "news", "text": "nobody"}), json!({}))
        .await;
    expect_ack(&mut a1, r).await;
    b1.expect_silence(QUIET).await;
}

/// A handler sends to its own connection later, and to a connection by id
/// on the other node; sending to a connection that is gone fails.
async fn direct_messages_reach_a_connection_on_any_node(cluster: &Cluster) {
    let mut a = cluster.first().server.client("r").await;
    let mut b = cluster.last().server.client("other").await;
    let mut b2 = cluster.last().server.client("rc").await;
    a.event("later", json!({}), json!({})).await;
    assert_eq!(a.recv().await.patch.html.as_deref(), Some("working"));
    let pushed = a.recv_json().await;
    assert_eq!(
        pushed,
        json!({"target": "#status", "html": "done"}),
        "pushed frames carry no ref"
    );

    b.event("whoami", json!({}), json!({})).await;
    let b_id = b.recv().await.patch.html.unwrap();
    let r = a.event("poke", json!({"id": b_id}), json!({})).await;
    assert_eq!(
        b.recv_json().await,
        json!({"target": "#poke", "html": "poked"})
    );
    expect_ack(&mut a, r).await;
    b.expect_silence(QUIET).await;
    b2.expect_silence(Duration::from_millis(1)).await;
    a.expect_silence(Duration::from_millis(1)).await;

    // A connection of the sender's node that closed: the layer knows.
    let mut gone = cluster.first().server.client("gone").await;
    gone.event("whoami", json!({}), json!({})).await;
    let gone_id = gone.recv().await.patch.html.unwrap();
    gone.close().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        a.event("poke", json!({"id": gone_id}), json!({})).await;
        let frame = a.recv_json().await;
        if frame["code"] == "handler_error" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sending to a closed connection fails: {frame}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if cluster.first().layer.is_none() {
        // On one node, an id of no connection of this node is gone too (on
        // a distributed layer, an unknown node's id goes to that node).
        a.event("poke", json!({"id": "0".repeat(32)}), json!({}))
            .await;
        assert_eq!(
            a.recv_json().await["code"],
            "handler_error",
            "sending to a closed connection fails"
        );
    }
}

/// Connections join and leave a topic (visiting again updates the entry);
/// with two nodes, joins and leaves on either node show on both, with
/// `here` true on the node of the change only.
async fn presence_joins_and_leaves_show_on_every_node(cluster: &Cluster) {
    // On one node: counts, updates and the events of that node.
    let node = cluster.first();
    let presence = &node.presence;
    let mut events = presence.subscribe("lobby");
    let mut ann = node.server.client("r").await;
    ann.event("visit", json!({"name": "ann"}), json!({})).await;
    assert_eq!(ann.recv().await.patch.html.as_deref(), Some("1"));
    let mut bob = node.server.client("r").await;
    bob.event("visit", json!({"name": "bob"}), json!({})).await;
    assert_eq!(bob.recv().await.patch.html.as_deref(), Some("2"));
    // Visiting again updates the entry instead of adding one.
    bob.event("visit", json!({"name": "bobby"}), json!({}))
        .await;
    assert_eq!(bob.recv().await.patch.html.as_deref(), Some("2"));

    let list = presence.list("lobby").await;
    let names_now: Vec<&str> = list
        .iter()
        .map(|e| e.meta["name"].as_str().unwrap())
        .collect();
    assert_eq!(names_now, ["ann", "bobby"]);
    assert!(
        list.iter()
            .all(|e| e.since > 0 && e.node == presence.node_id())
    );
    if let Some(layer) = &node.layer {
        assert_eq!(presence.node_id(), layer.node_id(), "one node id");
    }

    ann.close().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while presence.list("lobby").await.len() != 1 {
        assert!(tokio::time::Instant::now() < deadline, "ann did not leave");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let r = bob.event("bye", json!({}), json!({})).await;
    assert_eq!(bob.recv_json().await, json!({"ref": r}));
    assert!(presence.list("lobby").await.is_empty());

    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        match event {
            PresenceEvent::Join { entry, here, .. } => {
                assert!(here);
                seen.push(format!("+{}", entry.meta["name"].as_str().unwrap()));
            }
            PresenceEvent::Leave { entry, here, .. } => {
                assert!(here);
                seen.push(format!("-{}", entry.meta["name"].as_str().unwrap()));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, ["+ann", "+bob", "+bobby", "-ann", "-bobby"]);
    bob.close().await;

    // Across two nodes (needs a second node: not on the in-memory layer).
    if cluster.nodes.len() < 2 {
        return;
    }
    let (a, b) = (cluster.first(), cluster.last());
    wait_names(&a.presence, &[]).await;
    let mut events_a = a.presence.subscribe("lobby");
    let mut events_b = b.presence.subscribe("lobby");

    let ann = visit_as(a, "ann").await;
    assert_eq!(next_event(&mut events_a).await, ("+ann".into(), true));
    assert_eq!(next_event(&mut events_b).await, ("+ann".into(), false));
    let mut bob = visit_as(b, "bob").await;
    let _cid = visit_as(b, "cid").await;
    assert_eq!(next_event(&mut events_b).await, ("+bob".into(), true));
    assert_eq!(next_event(&mut events_b).await, ("+cid".into(), true));
    assert_eq!(next_event(&mut events_a).await, ("+bob".into(), false));
    assert_eq!(next_event(&mut events_a).await, ("+cid".into(), false));
    wait_names(&a.presence, &["ann", "bob", "cid"]).await;
    wait_names(&b.presence, &["ann", "bob", "cid"]).await;

    // A handler on node B lists the whole cluster.
    bob.event("who", json!({}), json!({})).await;
    let listed = bob.recv().await.patch.html.unwrap();
    let mut listed: Vec<&str> = listed.split(',').collect();
    listed.sort_unstable();
    assert_eq!(listed, ["ann", "bob", "cid"]);

    // Closing a connection is leaving.
    ann.close().await;
    assert_eq!(next_event(&mut events_a).await, ("-ann".into(), true));
    assert_eq!(next_event(&mut events_b).await, ("-ann".into(), false));
    wait_names(&b.presence, &["bob", "cid"]).await;
    bob.close().await;
    assert_eq!(next_event(&mut events_a).await, ("-bob".into(), false));
    wait_names(&a.presence, &["cid"]).await;
    wait_names(&b.presence, &["cid"]).await;
    let (Some(layer_a), Some(layer_b)) = (&a.layer, &b.layer) else {
        panic!("two nodes are Redis nodes");
    };
    assert!(layer_a.is_connected() && layer_b.is_connected());
}
