//! Page sessions across processes, on a real redis-server: a server that
//! shuts down (a deploy) leaves its sessions for the next; a node that
//! stops answering leaves the state of its last answered event; a session
//! is resumed once, by one node.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use liveview::protocol::ResumeRefusal;
use liveview::{Ctx, LiveView, LiveViewBuilder, Patch};
use liveview_e2e::redis::RedisServer;
use liveview_e2e::session::SessionClient;
use liveview_e2e::ws::{PATIENCE, TestServer};
use liveview_redis::{RedisLayer, RedisSessions};
use serde_json::json;

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Count(u32);

/// State that cannot travel (not registered as portable).
#[derive(Default)]
struct Local;

async fn incr(ctx: Ctx) -> Patch {
    let n = ctx.with_state(|c: &mut Count| {
        c.0 += 1;
        c.0
    });
    Patch::html("#n", n.to_string())
}

async fn local(ctx: Ctx) -> Patch {
    ctx.with_state(|_: &mut Local| ());
    Patch::html("#local", "yes")
}

/// Runs of `slow` (in this test binary).
static SLOW_RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Takes `ms` milliseconds, then counts.
async fn slow(ctx: Ctx, liveview::Data(d): liveview::Data<serde_json::Value>) -> Patch {
    tokio::time::sleep(Duration::from_millis(d["ms"].as_u64().unwrap_or(0))).await;
    SLOW_RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    incr(ctx).await
}

async fn node(redis: &RedisServer) -> TestServer {
    let layer = RedisLayer::connect(redis.url()).await.unwrap();
    let builder: LiveViewBuilder = LiveView::builder()
        .auto_register(false)
        .debug(false)
        .handler("incr", incr)
        .handler("local", local)
        .handler("slow", slow)
        .session_state::<Count>("count")
        .session_backend(RedisSessions::new(&layer))
        .on_connect(|ctx: Ctx| async move {
            ctx.join("news").await?;
            Ok::<_, liveview::Error>(())
        })
        .layer(layer);
    TestServer::start(builder).await
}

#[tokio::test]
async fn a_deploy_hands_its_sessions_to_the_next_process() {
    let redis = RedisServer::start();
    let old = node(&redis).await;
    let new = node(&redis).await;
    let mut page = SessionClient::connect(old.addr, "r1").await;
    for n in 1..=2 {
        page.event("incr", json!({})).await;
        assert_eq!(page.recv().await.patch.html, Some(n.to_string()));
    }
    // SIGTERM: the old process stores its sessions and closes with 1012.
    old.lv.shutdown();
    assert_eq!(page.raw().recv_close().await, 1012);
    let info = page.resume_at(new.addr).await;
    assert!(info.resumed, "{info:?}");
    assert_eq!(info.received, 2);
    page.event("incr", json!({})).await;
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("3"));
    // Its groups came along.
    new.lv
        .channels()
        .group_send("news", Patch::html("#news", "hi"))
        .await
        .unwrap();
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("hi"));
    page.raw().expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_lost_socket_resumes_on_another_node_with_what_it_missed() {
    let redis = RedisServer::start();
    let a = node(&redis).await;
    let b = node(&redis).await;
    let mut page = SessionClient::connect(a.addr, "r2").await;
    page.event("incr", json!({})).await;
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("1"));
    page.cut();
    liveview_e2e::redis::wait_until(PATIENCE, "parked", || a.lv.parked_sessions() == 1).await;
    // Pushed while parked on A (before the snapshot is taken elsewhere).
    a.lv.channels()
        .group_send("news", Patch::html("#news", "while away"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let info = page.resume_at(b.addr).await;
    assert!(info.resumed, "{info:?}");
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("while away"));
    page.event("incr", json!({})).await;
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("2"));
    page.raw().expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_node_that_stops_answering_leaves_its_last_answered_state() {
    // As after SIGKILL: the client cannot reach node A any more (its socket
    // there is left open, unanswered) and resumes on B from the snapshot
    // written through after its last event.
    let redis = RedisServer::start();
    let a = node(&redis).await;
    let b = node(&redis).await;
    let mut page = SessionClient::connect(a.addr, "r3").await;
    for n in 1..=3 {
        page.event("incr", json!({})).await;
        assert_eq!(page.recv().await.patch.html, Some(n.to_string()));
    }
    // The write-through is batched (50 ms).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _unanswered_socket = page.abandon_socket();
    let info = page.resume_at(b.addr).await;
    assert!(info.resumed, "{info:?}");
    assert_eq!(info.received, 3);
    page.event("incr", json!({})).await;
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("4"));
}

#[tokio::test]
async fn a_session_is_taken_once_and_state_that_cannot_travel_is_said_so() {
    let redis = RedisServer::start();
    let a = node(&redis).await;
    let b = node(&redis).await;
    let c = node(&redis).await;
    let mut page = SessionClient::connect(a.addr, "r4").await;
    page.event("incr", json!({})).await;
    page.recv().await;
    page.cut();
    liveview_e2e::redis::wait_until(PATIENCE, "parked", || a.lv.parked_sessions() == 1).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (token, seen) = (page.token.clone(), page.seen);
    assert!(page.resume_at(b.addr).await.resumed);
    // The same (old) token at another node: spent.
    let mut late = liveview_e2e::session::SessionClient::connect(c.addr, "r4").await;
    late.token = token;
    late.seen = seen;
    assert_eq!(late.resume().await.refused, Some(ResumeRefusal::Unknown));
    // A session with node-local state resumes only where it lives.
    let mut local = SessionClient::connect(a.addr, "r5").await;
    local.event("local", json!({})).await;
    local.recv().await;
    local.cut();
    liveview_e2e::redis::wait_until(PATIENCE, "parked", || a.lv.parked_sessions() == 1).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let info = local.resume_at(b.addr).await;
    assert_eq!(info.refused, Some(ResumeRefusal::NotPortable));
}

#[tokio::test]
async fn a_session_resumed_at_home_can_still_move_and_the_old_node_cannot_take_it_back() {
    let redis = RedisServer::start();
    let a = node(&redis).await;
    let b = node(&redis).await;
    let mut page = SessionClient::connect(a.addr, "r6").await;
    page.event("incr", json!({})).await;
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("1"));
    // Resumed on its own node: a new secret, which the backend learns.
    page.cut();
    liveview_e2e::redis::wait_until(PATIENCE, "parked", || a.lv.parked_sessions() == 1).await;
    assert!(page.resume().await.resumed);
    page.cut();
    liveview_e2e::redis::wait_until(PATIENCE, "parked", || a.lv.parked_sessions() == 1).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(
        page.resume_at(b.addr).await.resumed,
        "moved with its newest token"
    );
    // A keeps the parked copy until its window closes, and frames pushed
    // there are saved again: they must not replace B's newer copy.
    a.lv.channels()
        .group_send("news", Patch::html("#news", "late"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    page.event("incr", json!({})).await;
    let frame = page.recv().await;
    let frame = if frame.patch.html.as_deref() == Some("late") {
        // Delivered live through B (the group spans both nodes).
        page.recv().await
    } else {
        frame
    };
    assert_eq!(frame.patch.html.as_deref(), Some("2"));
    tokio::time::sleep(Duration::from_millis(150)).await;
    // B stops answering: a third node resumes from the backend's copy,
    // which must be B's (count 2), not A's stale one.
    let c = node(&redis).await;
    let _socket = page.abandon_socket();
    let info = page.resume_at(c.addr).await;
    assert!(info.resumed, "B's copy, not A's stale one: {info:?}");
    page.event("incr", json!({})).await;
    let mut frame = page.recv().await;
    while frame.patch.html.as_deref() == Some("late") {
        frame = page.recv().await;
    }
    assert_eq!(frame.patch.html.as_deref(), Some("3"));
}

/// Sends `text` to the `news` group from `server`'s node.
async fn news(server: &TestServer, text: &str) {
    server
        .lv
        .channels()
        .group_send("news", Patch::html("#news", text))
        .await
        .unwrap();
}

/// The next frames' HTML until `quiet` passes without one.
async fn htmls(page: &mut SessionClient, quiet: Duration) -> Vec<String> {
    let mut got = Vec::new();
    while let Ok(frame) = tokio::time::timeout(quiet, page.recv()).await {
        got.extend(frame.patch.html);
    }
    got
}

#[tokio::test]
async fn pushes_sent_while_a_session_is_between_processes_arrive_once_after_a_deploy() {
    let redis = RedisServer::start();
    let old = node(&redis).await;
    let other = node(&redis).await;
    let mut page = SessionClient::connect(old.addr, "r7").await;
    news(&other, "before").await;
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("before"));
    old.lv.shutdown();
    assert_eq!(page.raw().recv_close().await, 1012);
    // While the page has no socket and its session no process.
    news(&other, "gap 1").await;
    news(&other, "gap 2").await;
    let new = node(&redis).await;
    let info = page.resume_at(new.addr).await;
    assert!(info.resumed, "{info:?}");
    news(&other, "after").await;
    assert_eq!(
        htmls(&mut page, Duration::from_millis(500)).await,
        ["gap 1", "gap 2", "after"],
        "what it missed, once, in order, and nothing it had"
    );
    // Its cursor went on: a second move replays nothing twice.
    new.lv.shutdown();
    assert_eq!(page.raw().recv_close().await, 1012);
    news(&other, "gap 3").await;
    let newer = node(&redis).await;
    assert!(page.resume_at(newer.addr).await.resumed);
    assert_eq!(
        htmls(&mut page, Duration::from_millis(500)).await,
        ["gap 3"]
    );
}

#[tokio::test]
async fn after_a_node_loss_pushes_since_the_last_answer_come_from_the_stream() {
    // The write-through snapshot's cursors hold when the client saw
    // nothing after its last answer.
    let redis = RedisServer::start();
    let a = node(&redis).await;
    let b = node(&redis).await;
    let mut page = SessionClient::connect(a.addr, "r8").await;
    news(&b, "seen").await;
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("seen"));
    page.event("incr", json!({})).await;
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("1"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A stops answering: what B sends now never reaches the page there.
    let _unanswered_socket = page.abandon_socket();
    news(&b, "lost with A").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let c = node(&redis).await;
    let info = page.resume_at(c.addr).await;
    assert!(info.resumed, "{info:?}");
    assert_eq!(
        htmls(&mut page, Duration::from_millis(500)).await,
        ["lost with A"]
    );
}

#[tokio::test]
async fn a_late_write_through_does_not_replace_a_later_snapshot() {
    use liveview::session::{SessionBackend, Snapshot};
    let redis = RedisServer::start();
    let layer = RedisLayer::connect(redis.url()).await.unwrap();
    let backend = RedisSessions::new(&layer);
    let ttl = Duration::from_secs(60);
    let mut complete = Snapshot::default();
    complete.written = 10;
    complete.complete = true;
    complete.frames = vec!["{}".to_owned()];
    backend.save("s1", "x", &complete, ttl).await.unwrap();
    // Queued before the shutdown snapshot, stored after it.
    let mut through = Snapshot::default();
    through.written = 9;
    backend.save("s1", "x", &through, ttl).await.unwrap();
    through.written = 10;
    backend.save("s1", "x", &through, ttl).await.unwrap();
    assert_eq!(
        backend.take("s1", "x").await.unwrap(),
        Some(complete.clone())
    );
    // A later one of the same epoch does replace it.
    backend.save("s1", "x", &complete, ttl).await.unwrap();
    through.written = 11;
    backend.save("s1", "x", &through, ttl).await.unwrap();
    assert_eq!(backend.take("s1", "x").await.unwrap(), Some(through));
}

#[tokio::test]
async fn an_event_in_flight_at_a_deploy_is_answered_once_by_one_process() {
    let redis = RedisServer::start();
    let old = node(&redis).await;
    let mut page = SessionClient::connect(old.addr, "r9").await;
    let runs = SLOW_RUNS.load(std::sync::atomic::Ordering::SeqCst);
    // Short: it finishes within the shutdown's grace, on the old process.
    page.event("slow", json!({"ms": 300})).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    old.lv.shutdown();
    let new = node(&redis).await;
    let answer = page.recv().await;
    assert_eq!(
        answer.patch.html.as_deref(),
        Some("1"),
        "answered before the close"
    );
    assert_eq!(page.raw().recv_close().await, 1012);
    assert!(page.resume_at(new.addr).await.resumed);
    // Long: still running after the grace, it is left to the new process,
    // which runs the copy the client re-sends.
    page.event("slow", json!({"ms": 3000})).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    new.lv.shutdown();
    assert_eq!(page.raw().recv_close().await, 1012);
    let newer = node(&redis).await;
    let info = page.resume_at(newer.addr).await;
    assert!(info.resumed, "{info:?}");
    assert_eq!(info.received, 1, "the long event counts as not received");
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("2"));
    assert!(page.unanswered().is_empty());
    page.raw().expect_silence(Duration::from_millis(300)).await;
    // Once by the first process, once by the third (the second dropped it
    // half-way, as a shutdown must not wait on a handler for ever).
    let ran = SLOW_RUNS.load(std::sync::atomic::Ordering::SeqCst) - runs;
    assert_eq!(ran, 2);
}
