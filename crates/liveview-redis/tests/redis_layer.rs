//! Two nodes sharing one real redis-server: broadcasts, groups, direct
//! sends, subscriptions that follow local membership, and outages.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

mod common;

use std::time::Duration;

use common::{Client, TestServer};
use liveview::{ConnId, Ctx, Data, Error, LiveView, Patch, Result};
use liveview_e2e::redis::{RedisServer, wait_until};
use liveview_redis::{RedisConfig, RedisLayer};
use serde_json::{Value, json};

/// Long enough for a message to cross Redis if it were going to.
const QUIET: Duration = Duration::from_millis(300);

async fn say(ctx: Ctx, Data(d): Data<Value>) -> Result<()> {
    let text = d["text"].as_str().unwrap_or_default().to_owned();
    match d["to"].as_str() {
        Some(group) => {
            ctx.group_send(group, Patch::append("#messages", text))
                .await?;
        }
        None => ctx.broadcast(Patch::append("#messages", text)).await?,
    }
    Ok(())
}

async fn join(ctx: Ctx, Data(d): Data<Value>) -> Result<()> {
    let group = d["group"].as_str().unwrap_or_default();
    if d["leave"] == json!(true) {
        ctx.leave(group).await?;
    } else {
        ctx.join(group).await?;
    }
    Ok(())
}

async fn whoami(ctx: Ctx) -> Patch {
    Patch::html("#me", ctx.id().to_string())
}

async fn poke(ctx: Ctx, Data(d): Data<Value>) -> Result<()> {
    let id =
        ConnId::parse(d["id"].as_str().unwrap_or_default()).ok_or_else(|| Error::user("bad id"))?;
    ctx.send_to(id, Patch::html("#poke", "poked")).await?;
    Ok(())
}

struct Node {
    server: TestServer,
    layer: RedisLayer,
}

async fn node(redis: &RedisServer, prefix: &str) -> Node {
    let layer = RedisConfig::new(redis.url())
        .prefix(prefix)
        .reconnect_max(Duration::from_millis(200))
        .op_timeout(Duration::from_millis(500))
        .connect()
        .await
        .expect("connect to redis");
    let server = TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .debug(true)
            .layer(layer.clone())
            .handler("say", say)
            .handler("join", join)
            .handler("whoami", whoami)
            .handler("poke", poke)
            .handler("ping", || async {}),
    )
    .await;
    Node { server, layer }
}

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

#[tokio::test]
async fn a_broadcast_reaches_every_client_of_both_nodes_exactly_once() {
    let redis = RedisServer::start();
    let a = node(&redis, "bc").await;
    let b = node(&redis, "bc").await;
    let mut a1 = client(&a, "r1").await;
    let mut a2 = client(&a, "r2").await;
    let mut b1 = client(&b, "r3").await;
    let mut b2 = client(&b, "r4").await;

    let r = a1.event("say", json!({"text": "hello"}), json!({})).await;
    expect_append(&mut a1, "hello").await;
    expect_ack(&mut a1, r).await;
    for c in [&mut a2, &mut b1, &mut b2] {
        expect_append(c, "hello").await;
    }
    let r = b2.event("say", json!({"text": "from b"}), json!({})).await;
    expect_append(&mut b2, "from b").await;
    expect_ack(&mut b2, r).await;
    for c in [&mut a1, &mut a2, &mut b1] {
        expect_append(c, "from b").await;
    }
    for c in [&mut a1, &mut a2, &mut b1, &mut b2] {
        c.expect_silence(QUIET).await;
    }
    // One pub/sub connection per node, whatever the number of groups.
    let pubsub = redis.command("CLIENT LIST TYPE pubsub\r\n").unwrap();
    assert_eq!(pubsub.matches("cmd=").count(), 2, "{pubsub}");
}

#[tokio::test]
async fn a_group_message_reaches_its_members_only_and_nodes_subscribe_to_their_groups_only() {
    let redis = RedisServer::start();
    let a = node(&redis, "grp").await;
    let b = node(&redis, "grp").await;
    let mut a1 = client(&a, "ra").await;
    let mut b1 = client(&b, "rb").await;
    let mut b2 = client(&b, "rc").await;
    let channel = "grp:0:g:chat";
    assert_eq!(redis.subscribers(channel), 0);

    let r = b1.event("join", json!({"group": "chat"}), json!({})).await;
    expect_ack(&mut b1, r).await;
    assert_eq!(redis.subscribers(channel), 1, "node B subscribed");

    let r = a1
        .event("say", json!({"to": "chat", "text": "to chat"}), json!({}))
        .await;
    expect_ack(&mut a1, r).await;
    expect_append(&mut b1, "to chat").await;
    // Rooms are groups too.
    let r = a1
        .event("say", json!({"to": "rc", "text": "to room rc"}), json!({}))
        .await;
    expect_ack(&mut a1, r).await;
    expect_append(&mut b2, "to room rc").await;
    a1.expect_silence(QUIET).await;
    b1.expect_silence(Duration::from_millis(1)).await;
    b2.expect_silence(Duration::from_millis(1)).await;

    let r = b1
        .event("join", json!({"group": "chat", "leave": true}), json!({}))
        .await;
    expect_ack(&mut b1, r).await;
    wait_until(Duration::from_secs(5), "node B unsubscribes", || {
        redis.subscribers(channel) == 0
    })
    .await;
    b2.close().await;
    wait_until(Duration::from_secs(5), "room rc is unsubscribed", || {
        redis.subscribers("grp:0:g:rc") == 0
    })
    .await;
    let r = a1
        .event("say", json!({"to": "chat", "text": "nobody"}), json!({}))
        .await;
    expect_ack(&mut a1, r).await;
    b1.expect_silence(QUIET).await;
}

#[tokio::test]
async fn a_direct_message_reaches_a_connection_on_the_other_node() {
    let redis = RedisServer::start();
    let a = node(&redis, "dm").await;
    let b = node(&redis, "dm").await;
    let mut a1 = client(&a, "ra").await;
    let mut b1 = client(&b, "rb").await;
    let mut b2 = client(&b, "rc").await;
    b1.event("whoami", json!({}), json!({})).await;
    let id = b1.recv().await.patch.html.unwrap();

    let r = a1.event("poke", json!({"id": id}), json!({})).await;
    expect_ack(&mut a1, r).await;
    assert_eq!(
        b1.recv_json().await,
        json!({"target": "#poke", "html": "poked"})
    );
    b1.expect_silence(QUIET).await;
    b2.expect_silence(Duration::from_millis(1)).await;
    a1.expect_silence(Duration::from_millis(1)).await;
}

#[tokio::test]
async fn delivery_resumes_after_redis_is_killed_and_restarted() {
    let mut redis = RedisServer::start();
    let a = node(&redis, "outage").await;
    let b = node(&redis, "outage").await;
    let mut a1 = client(&a, "ra").await;
    let mut b1 = client(&b, "rb").await;

    redis.kill();
    wait_until(Duration::from_secs(10), "both nodes notice", || {
        !a.layer.is_connected() && !b.layer.is_connected()
    })
    .await;

    // Local delivery keeps working while Redis is away.
    let r = a1.event("say", json!({"text": "during"}), json!({})).await;
    expect_append(&mut a1, "during").await;
    expect_ack(&mut a1, r).await;
    let r = b1
        .event("say", json!({"text": "b during"}), json!({}))
        .await;
    expect_append(&mut b1, "b during").await;
    expect_ack(&mut b1, r).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    redis.restart();
    wait_until(Duration::from_secs(10), "both nodes reconnect", || {
        a.layer.is_connected() && b.layer.is_connected()
    })
    .await;
    assert!(a.layer.reconnections() >= 1 && b.layer.reconnections() >= 1);

    // What was sent during the outage arrives once Redis is back, once.
    expect_append(&mut b1, "during").await;
    expect_append(&mut a1, "b during").await;

    let r = a1.event("say", json!({"text": "after"}), json!({})).await;
    expect_append(&mut a1, "after").await;
    expect_ack(&mut a1, r).await;
    expect_append(&mut b1, "after").await;
    a1.expect_silence(QUIET).await;
    b1.expect_silence(Duration::from_millis(1)).await;
    assert_eq!(a.layer.dropped_messages() + b.layer.dropped_messages(), 0);
}

#[tokio::test]
async fn a_node_that_lost_its_subscription_replays_what_it_missed() {
    let redis = RedisServer::start();
    let a = node(&redis, "replay").await;
    let b = node(&redis, "replay").await;
    let mut a1 = client(&a, "ra").await;
    let mut b1 = client(&b, "rb").await;

    // Cut the pub/sub connections only: publishing keeps working, so
    // messages sent now reach Redis while node B is not subscribed.
    let killed = redis.command("CLIENT KILL TYPE pubsub\r\n").unwrap();
    assert!(killed.starts_with(':'), "{killed}");
    let mut refs = Vec::new();
    for i in 0..20 {
        refs.push(
            a1.event("say", json!({"text": format!("m{i}")}), json!({}))
                .await,
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for (i, r) in refs.into_iter().enumerate() {
        expect_append(&mut a1, &format!("m{i}")).await;
        expect_ack(&mut a1, r).await;
    }
    for i in 0..20 {
        expect_append(&mut b1, &format!("m{i}")).await;
    }
    b1.expect_silence(QUIET).await;
    a1.expect_silence(Duration::from_millis(1)).await;
    assert!(b.layer.reconnections() >= 1);
    assert!(
        b.layer.replayed_messages() >= 1,
        "messages published while B was away came from its replay"
    );
}

#[tokio::test]
async fn apps_with_different_prefixes_or_databases_do_not_hear_each_other() {
    let redis = RedisServer::start();
    let a = node(&redis, "app1").await;
    let b = node(&redis, "app2").await;
    let layer_db = RedisConfig::new(redis.url())
        .prefix("app1")
        .db(3)
        .connect()
        .await
        .unwrap();
    let c = TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .layer(layer_db)
            .handler("ping", || async {}),
    )
    .await;
    let mut a1 = client(&a, "ra").await;
    let mut b1 = client(&b, "rb").await;
    let mut c1 = c.client("rc").await;
    let r = c1.event("ping", json!({}), json!({})).await;
    expect_ack(&mut c1, r).await;
    let r = a1
        .event("say", json!({"text": "app1 only"}), json!({}))
        .await;
    expect_append(&mut a1, "app1 only").await;
    expect_ack(&mut a1, r).await;
    b1.expect_silence(QUIET).await;
    c1.expect_silence(Duration::from_millis(1)).await;
}

#[tokio::test]
async fn cross_node_latency_and_a_burst_arrive_in_order() {
    use std::time::Instant;
    let redis = RedisServer::start();
    let a = node(&redis, "perf").await;
    let b = node(&redis, "perf").await;
    let mut a1 = client(&a, "ra").await;
    let mut b1 = client(&b, "rb").await;

    // One at a time: a broadcast sent on node A, until a client of B has it.
    let channels = a.server.lv.channels();
    let mut latencies = Vec::new();
    for i in 0..200 {
        let text = format!("ping {i}");
        let start = Instant::now();
        channels
            .broadcast(Patch::append("#messages", text.clone()))
            .await
            .unwrap();
        expect_append(&mut b1, &text).await;
        latencies.push(start.elapsed());
        expect_append(&mut a1, &text).await; // the local copy
    }
    latencies.sort();
    // A burst: 2000 messages from a background task, in order on node B.
    let start = Instant::now();
    tokio::spawn(async move {
        for i in 0..2000 {
            channels
                .broadcast(Patch::append("#messages", format!("burst {i}")))
                .await
                .unwrap();
        }
    });
    for i in 0..2000 {
        expect_append(&mut b1, &format!("burst {i}")).await;
    }
    let burst = start.elapsed();
    println!(
        "cross-node broadcast: p50 {:?}, p99 {:?}, max {:?}; 2000-message burst in {burst:?} ({:.0} msg/s)",
        latencies[100],
        latencies[197],
        latencies[199],
        2000.0 / burst.as_secs_f64()
    );
    b1.expect_silence(QUIET).await;
}
