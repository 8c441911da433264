//! Chaos: 200 page sessions on two nodes of one real redis-server chat for
//! 30 s while a server is restarted three times (its process shuts down,
//! storing its sessions, and a new one takes its place; its pages resume
//! there, and what the other node's pages said meanwhile is replayed to
//! them from the group's stream), every socket is cut once (a TCP reset;
//! each page resumes its session) and the Redis subscriber connection is
//! killed once (the layer replays from its streams). Every message sent is
//! received by every page exactly once, in order per sender.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use liveview::{Ctx, Data, LiveView, Patch, Result};
use liveview_e2e::redis::RedisServer;
use liveview_e2e::session::SessionClient;
use liveview_e2e::ws::TestServer;
use liveview_redis::{RedisConfig, RedisSessions};
use serde_json::{Value, json};
use std::sync::Arc;

use tokio::sync::{Barrier, watch};
use tokio::time::{Instant, sleep, timeout};

const PAGES: usize = 200;
const RUN: Duration = Duration::from_secs(30);
/// Each page says something this often (40 messages a second in all, each
/// to 200 pages: 8,000 frames a second through a debug build).
const EVERY: Duration = Duration::from_secs(5);

async fn say(ctx: Ctx, Data(d): Data<Value>) -> Result<()> {
    let line = format!("{}:{}", d["from"], d["n"]);
    ctx.broadcast(Patch::append("#chat", line)).await?;
    Ok(())
}

async fn node(redis: &RedisServer) -> TestServer {
    // Two cores run 200 pages, two servers and Redis here: an answer may
    // take longer than the default 2 s (this test is about what arrives,
    // not how fast).
    let layer = RedisConfig::new(redis.url())
        .op_timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap();
    let builder = LiveView::builder()
        .auto_register(false)
        .debug(false)
        .handler("say", say)
        // 200 pages on one loopback address reconnect at once.
        // A chat this busy keeps more frames for its pages' replays than
        // the default 256 (a page on a loaded machine can be that far behind).
        .limits(
            liveview::Limits::default()
                .connections_per_address(None)
                .replay_buffer(4096, 8 * 1024 * 1024),
        )
        .session_backend(RedisSessions::new(&layer))
        .layer(layer);
    TestServer::start(builder).await
}

/// What one page saw: the last number received from each sender.
type Seen = HashMap<u64, u64>;

async fn page(
    mut server: watch::Receiver<SocketAddr>,
    me: u64,
    mut cuts: watch::Receiver<u32>,
    ready: Arc<Barrier>,
) -> (Seen, u64) {
    let mut at = *server.borrow_and_update();
    let mut client = SessionClient::connect(at, &format!("page-{me}")).await;
    // Everyone is in before anyone speaks.
    ready.wait().await;
    let stop_sending = Instant::now() + RUN;
    let mut seen: Seen = HashMap::new();
    let mut sent = 0;
    // Spread the senders over the interval.
    let mut next_send = Instant::now() + EVERY.mul_f64((me as f64) / (PAGES as f64));
    // Done when, after the last send, its answers are in and the chat has
    // been silent for two seconds (a loaded machine is slow, not lossy).
    let give_up = stop_sending + Duration::from_secs(60);
    let mut silent_since: Option<Instant> = None;
    loop {
        tokio::select! {
            changed = cuts.changed(), if client.is_connected() => {
                if changed.is_err() { continue; }
                client.cut();
                sleep(Duration::from_millis(me % 200)).await;
                let info = client.resume().await;
                assert!(info.resumed, "page {me} not resumed: {info:?}");
            }
            () = tokio::time::sleep_until(next_send), if next_send < stop_sending => {
                sent += 1;
                client.event("say", json!({"from": me, "n": sent})).await;
                next_send += EVERY;
            }
            // Its server restarted: it resumes on the process that
            // replaced it.
            moved = async { server.wait_for(|addr| *addr != at).await.map(|addr| *addr) }, if !client.is_connected() => {
                at = moved.unwrap();
                sleep(Duration::from_millis(me % 200)).await;
                let info = client.resume_at(at).await;
                assert!(info.resumed, "page {me} not resumed after a restart: {info:?}");
            }
            frame = timeout(Duration::from_millis(500), client.recv_or_close()), if client.is_connected() => {
                let frame = match frame {
                    Ok(Err(code)) => {
                        assert_eq!(code, 1012, "page {me}: closed");
                        continue;
                    }
                    Ok(Ok(frame)) => Ok(frame),
                    Err(elapsed) => Err(elapsed),
                };
                let Ok(frame) = frame else {
                    let now = Instant::now();
                    let since = *silent_since.get_or_insert(now);
                    let settled = now > stop_sending && client.unanswered().is_empty();
                    if (settled && now - since >= Duration::from_secs(2)) || now > give_up {
                        break;
                    }
                    continue;
                };
                silent_since = None;
                let Some(line) = frame.patch.html else { continue };
                let (from, n) = line.split_once(':').unwrap();
                let (from, n): (u64, u64) = (from.parse().unwrap(), n.parse().unwrap());
                let last = seen.entry(from).or_insert(0);
                assert_eq!(n, *last + 1, "page {me}: from {from}, got {n} after {last}");
                *last = n;
            }
        }
    }
    assert!(
        client.unanswered().is_empty(),
        "page {me}: unanswered {:?}",
        client.unanswered()
    );
    (seen, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_pages_chat_through_restarts_cuts_and_a_lost_subscriber_exactly_once() {
    let redis = RedisServer::start();
    let mut servers = [node(&redis).await, node(&redis).await];
    let addrs = [
        watch::channel(servers[0].addr).0,
        watch::channel(servers[1].addr).0,
    ];
    let (cut, cuts) = watch::channel(0u32);
    let ready = Arc::new(Barrier::new(PAGES + 1));
    let pages: Vec<_> = (0..PAGES as u64)
        .map(|me| {
            let server = addrs[(me % 2) as usize].subscribe();
            tokio::spawn(page(server, me, cuts.clone(), Arc::clone(&ready)))
        })
        .collect();
    ready.wait().await;
    let start = Instant::now();
    let mut retired = Vec::new();
    let events = [
        (5, "restart 0"),
        (10, "kill"),
        (14, "restart 1"),
        (19, "cut"),
        (23, "restart 0"),
    ];
    for (at, what) in events {
        tokio::time::sleep_until(start + Duration::from_secs(at)).await;
        match what {
            "cut" => cut.send_modify(|n| *n += 1),
            "kill" => {
                let killed = redis.command("CLIENT KILL TYPE pubsub\r\n");
                assert!(killed.is_some(), "CLIENT KILL answered");
            }
            restart => {
                // SIGTERM: the process stores its sessions and closes its
                // sockets with 1012; a new process takes its place.
                let n: usize = restart["restart ".len()..].parse().unwrap();
                servers[n].lv.shutdown();
                let next = node(&redis).await;
                addrs[n].send_replace(next.addr);
                // The old one stays up (its listener refuses new sockets
                // with 503) until the test ends, as a process that is
                // draining.
                retired.push(std::mem::replace(&mut servers[n], next));
            }
        }
    }
    let mut sent_by = HashMap::new();
    let mut results = Vec::new();
    for (me, page) in pages.into_iter().enumerate() {
        let (seen, sent) = page.await.unwrap();
        sent_by.insert(me as u64, sent);
        results.push((me, seen));
    }
    let total: u64 = sent_by.values().sum();
    assert!(total >= (PAGES as u64) * 5, "{total} messages sent");
    for (me, seen) in results {
        for (from, sent) in &sent_by {
            assert_eq!(
                seen.get(from).copied().unwrap_or(0),
                *sent,
                "page {me} from {from}"
            );
        }
    }
}
