//! Presence across two nodes sharing one real redis-server, and a node
//! process killed with SIGKILL expiring within the documented bound.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use liveview::presence::Presence;
use liveview::{Ctx, Data, LiveView, Patch, Result, State};
use liveview_e2e::redis::{RedisServer, wait_until};
use liveview_e2e::ws::{Client, TestServer};
use liveview_redis::{RedisConfig, RedisLayer, RedisPresence};
use serde_json::{Value, json};
use support::{names, next_event, wait_names};

/// The node heartbeat's TTL in these tests.
const TTL: Duration = Duration::from_millis(900);

async fn visit(ctx: Ctx, State(presence): State<Presence>, Data(d): Data<Value>) -> Result<()> {
    let name = d["name"].as_str().unwrap_or("anonymous").to_owned();
    presence
        .track(&ctx, "lobby", json!({"name": name, "page": "/"}))
        .await?;
    Ok(())
}

async fn who(State(presence): State<Presence>) -> Patch {
    let names: Vec<String> = presence
        .list("lobby")
        .await
        .into_iter()
        .map(|e| e.meta["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    Patch::html("#who", names.join(","))
}

struct Node {
    server: TestServer,
    layer: RedisLayer,
    presence: Presence,
}

async fn node(redis_url: &str) -> Node {
    let layer = RedisConfig::new(redis_url)
        .prefix("pres")
        .reconnect_max(Duration::from_millis(200))
        .op_timeout(Duration::from_millis(500))
        .connect()
        .await
        .expect("connect to redis");
    let presence = RedisPresence::new(&layer).ttl(TTL).build().unwrap();
    let server = TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .debug(true)
            .layer(layer.clone())
            .state(presence.clone())
            .handler("visit", visit)
            .handler("who", who),
    )
    .await;
    Node {
        server,
        layer,
        presence,
    }
}

async fn visit_as(node_server: &TestServer, name: &str) -> Client {
    let mut client = node_server.client("room").await;
    let r = client
        .event("visit", json!({"name": name}), json!({}))
        .await;
    assert_eq!(client.recv_json().await, json!({"ref": r}));
    client
}

#[tokio::test]
async fn presence_comes_back_after_redis_restarts() {
    let mut redis = RedisServer::start();
    let a = node(&redis.url()).await;
    let b = node(&redis.url()).await;
    let _ann = visit_as(&a.server, "ann").await;
    let _bob = visit_as(&b.server, "bob").await;
    wait_names(&b.presence, &["ann", "bob"]).await;

    redis.restart(); // empty: every entry is lost
    wait_until(Duration::from_secs(10), "both nodes reconnect", || {
        a.layer.reconnections() >= 1 && b.layer.reconnections() >= 1
    })
    .await;
    // Each node stores its own entries again.
    wait_names(&a.presence, &["ann", "bob"]).await;
    wait_names(&b.presence, &["ann", "bob"]).await;
    let _ = &a.server;
}

/// Not a test on its own: the node process that
/// `a_killed_node_disappears_within_the_bound` starts and kills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_node_process() {
    let Ok(url) = std::env::var("LIVEVIEW_PRESENCE_CHILD") else {
        return;
    };
    let child = node(&url).await;
    println!("LISTENING {}", child.server.addr);
    std::future::pending::<()>().await;
}

/// Kills the node process on drop, so that a failing test leaves none behind.
struct ChildNode(std::process::Child);

impl Drop for ChildNode {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_killed_node_disappears_within_the_bound() {
    let redis = RedisServer::start();
    let b = node(&redis.url()).await;
    let mut process = ChildNode(
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_node_process", "--nocapture"])
            .env("LIVEVIEW_PRESENCE_CHILD", redis.url())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the node process"),
    );
    let stdout = process.0.stdout.take().unwrap();
    let addr = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(std::result::Result::ok)
            .find_map(|line| line.strip_prefix("LISTENING ").map(str::to_owned))
            .expect("the node process prints its address")
    })
    .await
    .unwrap();

    let mut doomed = Client::connect(&format!("ws://{addr}/ws/liveview/room/?v=1"), None)
        .await
        .unwrap();
    let r = doomed
        .event("visit", json!({"name": "zed"}), json!({}))
        .await;
    assert_eq!(doomed.recv_json().await, json!({"ref": r}));
    let _bob = visit_as(&b.server, "bob").await;
    wait_names(&b.presence, &["bob", "zed"]).await;
    let mut events = b.presence.subscribe("lobby");

    process.0.kill().unwrap(); // SIGKILL: no goodbye
    process.0.wait().unwrap();
    let killed = Instant::now();

    // Listings leave it out once its heartbeat key expired: within TTL.
    while names(&b.presence).await != ["bob"] {
        assert!(
            killed.elapsed() < TTL * 5,
            "the killed node's entry is still listed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let unlisted = killed.elapsed();
    // The surviving node's sweep removes it and tells subscribers: within
    // TTL + TTL / 3.
    assert_eq!(next_event(&mut events).await, ("-zed".into(), true));
    let left = killed.elapsed();
    println!("killed node: unlisted after {unlisted:?}, leave event after {left:?} (ttl {TTL:?})");
    let slack = Duration::from_millis(500);
    assert!(unlisted <= TTL + slack, "unlisted after {unlisted:?}");
    assert!(left <= TTL * 4 / 3 + slack, "leave event after {left:?}");
    wait_names(&b.presence, &["bob"]).await;
}
