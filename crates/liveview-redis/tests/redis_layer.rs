//! Two nodes sharing one real redis-server: outages, replay, apps kept
//! apart by prefix or database, latency. Broadcasts, groups, direct sends
//! and the subscriptions that follow local membership are scenarios run on
//! every layer, in `scenarios.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

use std::time::Duration;

use liveview::{Ctx, Data, LiveView, Patch, Result};
use liveview_e2e::redis::{RedisServer, wait_until};
use liveview_e2e::ws::{Client, TestServer};
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

async fn tag(ctx: Ctx, Data(d): Data<Value>) -> Result<()> {
    ctx.tag(d["tag"].as_str().unwrap_or_default()).await?;
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
            .handler("tag", tag)
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

// ---- a frozen Redis: retries, the outage counter, a page opened meanwhile ----

/// A node with a configuration of the test's own, and an `on_connect` hook
/// that joins `lobby`, tracks the visitor (Redis presence) and answers
/// `#hello` (the first answer of a page).
async fn node_with(prefix: &str, config: RedisConfig) -> Node {
    let layer = config
        .prefix(prefix)
        .reconnect_max(Duration::from_millis(200))
        .connect()
        .await
        .expect("connect to redis");
    let presence = liveview_redis::presence(&layer).expect("presence");
    let server = TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .debug(true)
            .layer(layer.clone())
            .on_connect(move |ctx: Ctx| {
                let presence = presence.clone();
                async move {
                    ctx.join("lobby").await?;
                    presence.track(&ctx, "visitors", json!({})).await?;
                    Ok::<_, liveview::Error>(Patch::html("#hello", "hi"))
                }
            })
            .handler("say", say)
            .handler("join", join)
            .handler("tag", tag)
            .handler("ping", || async {}),
    )
    .await;
    Node { server, layer }
}

/// Sends `warm up` from `from` and waits until `to` has it: the publish
/// script is loaded, the path is working.
async fn warm_up(from: &mut Client, to: &mut Client) {
    let r = from
        .event("say", json!({"text": "warm up"}), json!({}))
        .await;
    expect_append(from, "warm up").await;
    expect_ack(from, r).await;
    expect_append(to, "warm up").await;
}

/// A client whose `on_connect` answer has arrived.
async fn greeted(node: &Node, room: &str) -> Client {
    let mut client = node.server.client(room).await;
    assert_eq!(
        client.recv_json().await,
        json!({"target": "#hello", "html": "hi"})
    );
    client
}

/// Every `#messages` append that reaches `client` until it has been quiet
/// for `quiet`, counted by text.
async fn count_appends(
    client: &mut Client,
    quiet: Duration,
) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    while let Ok(frame) = tokio::time::timeout(quiet, client.recv_json()).await {
        let text = frame["html"].as_str().unwrap_or_default().to_owned();
        assert_eq!(frame["target"], "#messages", "{frame}");
        *counts.entry(text).or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn messages_sent_while_redis_is_frozen_arrive_exactly_once_on_each_node() {
    let redis = RedisServer::start();
    // The default operation timeout (2 s).
    let a = node_with("frozen", RedisConfig::new(redis.url())).await;
    let b = node_with("frozen", RedisConfig::new(redis.url())).await;
    let mut a1 = greeted(&a, "ra").await;
    let mut b1 = greeted(&b, "rb").await;
    warm_up(&mut a1, &mut b1).await;

    // Frozen, not dead: connections stay open, the kernel takes the bytes,
    // Redis runs them all when it resumes, retries included.
    redis.freeze();
    let frozen = std::time::Instant::now();
    for i in 0..5 {
        let text = format!("frozen {i}");
        let r = a1.event("say", json!({"text": text}), json!({})).await;
        expect_append(&mut a1, &text).await; // local delivery does not wait
        expect_ack(&mut a1, r).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(frozen.elapsed())).await;
    redis.thaw();

    let counts = count_appends(&mut b1, Duration::from_secs(2)).await;
    println!("arrivals on node B after a 5 s freeze: {counts:?}");
    for i in 0..5 {
        assert_eq!(
            counts.get(&format!("frozen {i}")).copied(),
            Some(1),
            "each message exactly once on node B: {counts:?}"
        );
    }
    assert_eq!(counts.len(), 5, "{counts:?}");
    a1.expect_silence(Duration::from_millis(1)).await; // its own echo skipped
    assert_eq!(a.layer.dropped_messages(), 0);

    // And afterwards, as before.
    let r = a1.event("say", json!({"text": "after"}), json!({})).await;
    expect_append(&mut a1, "after").await;
    expect_ack(&mut a1, r).await;
    expect_append(&mut b1, "after").await;
    b1.expect_silence(QUIET).await;
}

#[tokio::test]
async fn dropped_messages_counts_only_messages_that_never_arrive() {
    let mut redis = RedisServer::start();
    // Messages may wait 1 s for Redis.
    let url = redis.url();
    let config = || {
        RedisConfig::new(url.clone())
            .op_timeout(Duration::from_millis(500))
            .outage_buffer(10_000, Duration::from_secs(1))
    };
    let a = node_with("count", config()).await;
    let b = node_with("count", config()).await;
    let mut a1 = greeted(&a, "ra").await;
    let mut b1 = greeted(&b, "rb").await;
    warm_up(&mut a1, &mut b1).await;

    // Frozen for 3 s: the messages outlive the buffer's 1 s, but they had
    // been handed to Redis, which runs them when it resumes.
    redis.freeze();
    for i in 0..3 {
        let text = format!("late {i}");
        let r = a1.event("say", json!({"text": text}), json!({})).await;
        expect_append(&mut a1, &text).await;
        expect_ack(&mut a1, r).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    redis.thaw();
    let counts = count_appends(&mut b1, Duration::from_secs(2)).await;
    let dropped = a.layer.dropped_messages();
    println!("after a 3 s freeze: arrivals on node B {counts:?}, dropped_messages {dropped}");
    let arrived = (0..3)
        .filter(|i| counts.get(&format!("late {i}")).copied().unwrap_or(0) > 0)
        .count() as u64;
    assert!(counts.values().all(|&n| n == 1), "at most once: {counts:?}");
    assert_eq!(
        dropped,
        3 - arrived,
        "dropped_messages counts the messages that did not arrive, and only them"
    );

    // Dead for 2 s: a message never reaches Redis; it is given up, counted.
    redis.kill();
    wait_until(Duration::from_secs(10), "node A notices", || {
        !a.layer.is_connected()
    })
    .await;
    let r = a1.event("say", json!({"text": "lost"}), json!({})).await;
    expect_append(&mut a1, "lost").await;
    expect_ack(&mut a1, r).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis.restart();
    wait_until(Duration::from_secs(10), "both nodes reconnect", || {
        a.layer.is_connected() && b.layer.is_connected()
    })
    .await;
    b1.expect_silence(Duration::from_secs(1)).await;
    assert_eq!(a.layer.dropped_messages(), dropped + 1);
}

#[tokio::test]
async fn a_page_opened_while_redis_is_frozen_gets_its_first_answer_at_once() {
    let redis = RedisServer::start();
    // The default operation timeout (2 s): how long a frozen Redis is
    // waited for before the connection counts as broken.
    let a = node_with("fresh", RedisConfig::new(redis.url())).await;
    let b = node_with("fresh", RedisConfig::new(redis.url())).await;
    let mut a1 = greeted(&a, "ra").await;

    redis.freeze();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A new page on node B, which has no page yet: its room, `broadcast`
    // and `lobby` (joined by on_connect) are new groups on B, and
    // on_connect tracks it in the Redis presence.
    let opened = std::time::Instant::now();
    let mut b1 = b.server.client("fresh-room").await;
    assert_eq!(
        b1.recv_json().await,
        json!({"target": "#hello", "html": "hi"})
    );
    let first = opened.elapsed();
    let r = b1.event("ping", json!({}), json!({})).await;
    expect_ack(&mut b1, r).await;
    let answered = opened.elapsed();
    println!(
        "a page opened while Redis is frozen: on_connect answer in {first:?}, first event answered in {answered:?}"
    );
    assert!(
        answered < Duration::from_secs(1),
        "first answer in {answered:?}"
    );

    // What other nodes send it meanwhile arrives when Redis is back, once.
    let r = a1
        .event(
            "say",
            json!({"text": "to the room", "to": liveview::room_group("fresh-room")}),
            json!({}),
        )
        .await;
    expect_ack(&mut a1, r).await;
    let r = a1
        .event(
            "say",
            json!({"text": "to the lobby", "to": "lobby"}),
            json!({}),
        )
        .await;
    expect_append(&mut a1, "to the lobby").await;
    expect_ack(&mut a1, r).await;
    let r = a1.event("say", json!({"text": "to all"}), json!({})).await;
    expect_append(&mut a1, "to all").await;
    expect_ack(&mut a1, r).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    redis.thaw();
    let counts = count_appends(&mut b1, Duration::from_secs(3)).await;
    println!("arrivals on the new page after the freeze: {counts:?}");
    let expected: std::collections::BTreeMap<String, usize> =
        [("to the room", 1), ("to the lobby", 1), ("to all", 1)]
            .into_iter()
            .map(|(text, n)| (text.to_owned(), n))
            .collect();
    assert_eq!(counts, expected);
    assert_eq!(a.layer.dropped_messages(), 0);
}

#[tokio::test]
async fn a_publish_whose_answer_was_lost_runs_once() {
    use liveview_e2e::redis::RedisProxy;
    let redis = RedisServer::start();
    let proxy = RedisProxy::start(&redis).await;
    // Node A talks to Redis through the proxy, node B directly.
    let config = |url: String| RedisConfig::new(url).op_timeout(Duration::from_millis(500));
    let a = node_with("lost", config(proxy.url())).await;
    let b = node_with("lost", config(redis.url())).await;
    let mut a1 = greeted(&a, "ra").await;
    let mut b1 = greeted(&b, "rb").await;
    warm_up(&mut a1, &mut b1).await;

    // Redis runs what node A sends, but A never hears back: A times out
    // and sends the message again, on a new connection.
    proxy.lose_answers();
    let r = a1.event("say", json!({"text": "once"}), json!({})).await;
    expect_append(&mut a1, "once").await;
    expect_ack(&mut a1, r).await;
    let counts = count_appends(&mut b1, Duration::from_secs(3)).await;
    println!("arrivals on node B of a message whose first answer was lost: {counts:?}");
    assert_eq!(counts.get("once").copied(), Some(1), "{counts:?}");
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert_eq!(a.layer.dropped_messages(), 0);
}

/// A kick is a control message that travels like a group message: tagged
/// connections on both nodes close with 4001 and the redirect, once, and
/// the others stay open.
#[tokio::test]
async fn disconnect_tag_closes_tagged_connections_on_every_node() {
    let redis = RedisServer::start();
    let a = node(&redis, "kick").await;
    let b = node(&redis, "kick").await;
    let mut a1 = client(&a, "ka").await;
    let mut b1 = client(&b, "kb").await;
    let mut b2 = client(&b, "kc").await;
    for (c, t) in [
        (&mut a1, "user:42"),
        (&mut b1, "user:42"),
        (&mut b2, "user:7"),
    ] {
        let r = c.event("tag", json!({"tag": t}), json!({})).await;
        expect_ack(c, r).await;
    }
    a.server
        .lv
        .channels()
        .disconnect_tag("user:42", "/login")
        .await
        .unwrap();
    assert_eq!(a1.recv_close_frame().await, (4001, "/login".to_owned()));
    assert_eq!(b1.recv_close_frame().await, (4001, "/login".to_owned()));
    b2.expect_silence(QUIET).await;
    let r = b2.event("ping", json!({}), json!({})).await;
    expect_ack(&mut b2, r).await;
    a.server.wait_connections(0).await;
    b.server.wait_connections(1).await;
}

#[tokio::test]
async fn a_drained_server_has_sent_everything_before_its_process_goes() {
    let redis = RedisServer::start();
    let b = node(&redis, "flush").await;
    let mut b1 = client(&b, "rb").await;
    let layer = RedisConfig::new(redis.url())
        .prefix("flush")
        .connect()
        .await
        .expect("connect to redis");
    let lv = LiveView::builder()
        .auto_register(false)
        .layer(layer.clone())
        .build()
        .unwrap();
    let channels = lv.channels();
    for n in 0..500 {
        channels
            .broadcast(Patch::append("#messages", format!("m{n}")))
            .await
            .unwrap();
    }
    // As a process's shutdown does: drain, then exit (the layer's tasks
    // are dropped with it).
    lv.shutdown();
    assert!(lv.drain(Duration::from_secs(5)).await);
    drop((lv, channels, layer));
    for n in 0..500 {
        expect_append(&mut b1, &format!("m{n}")).await;
    }
}
