//! Page sessions that outlive their socket (protocol version 2), over real
//! sockets cut with a TCP reset: the state, the groups, the frames pushed
//! meanwhile and the answers in flight all survive, exactly once; and every
//! way a resume is refused says so in one frame and starts afresh.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use liveview::protocol::ResumeRefusal;
use liveview::{Ctx, Limits, LiveView, LiveViewBuilder, Patch};
use liveview_e2e::session::SessionClient;
use liveview_e2e::ws::{Client, PATIENCE, TestServer};
use serde_json::json;

#[derive(Default)]
struct Count(u32);

async fn incr(ctx: Ctx) -> Patch {
    let n = ctx.with_state(|c: &mut Count| {
        c.0 += 1;
        c.0
    });
    Patch::html("#n", n.to_string())
}

fn builder() -> LiveViewBuilder {
    LiveView::builder()
        .auto_register(false)
        .debug(false)
        .handler("incr", incr)
        .on_connect(|ctx: Ctx| async move {
            ctx.join("news").await?;
            Ok::<_, liveview::Error>(())
        })
}

/// Waits until `f` holds, for at most PATIENCE.
async fn until(what: &str, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_cut_socket_resumes_with_its_state_groups_and_missed_pushes() {
    let server = TestServer::start(builder()).await;
    let mut page = SessionClient::connect(server.addr, "r1").await;
    page.event("incr", json!({})).await;
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("1"));
    page.cut();
    until("parked", || server.lv.parked_sessions() == 1).await;
    assert_eq!(
        server.lv.connection_count(),
        0,
        "a parked session holds no slot"
    );
    // Pushed while the page has no socket: to its group, to everyone.
    let channels = server.lv.channels();
    channels
        .group_send("news", Patch::append("#log", "<li>a</li>"))
        .await
        .unwrap();
    channels
        .broadcast(Patch::append("#log", "<li>b</li>"))
        .await
        .unwrap();
    let info = page.resume().await;
    assert!(info.resumed, "{info:?}");
    assert_eq!(info.received, 1);
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("<li>a</li>"));
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("<li>b</li>"));
    // Same state, same groups.
    page.event("incr", json!({})).await;
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("2"));
    channels
        .group_send("news", Patch::append("#log", "<li>c</li>"))
        .await
        .unwrap();
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("<li>c</li>"));
    page.raw().expect_silence(Duration::from_millis(200)).await;
    assert_eq!(server.lv.parked_sessions(), 0);
    assert_eq!(page.seen, 5);
}

#[tokio::test]
async fn frames_lost_in_flight_on_the_old_socket_are_replayed_once() {
    // The client saw none of the three frames (they were in the socket's
    // buffers when it died): it presents seen = 0 and gets all three.
    let server = TestServer::start(builder()).await;
    let mut page = SessionClient::connect(server.addr, "r2").await;
    let channels = server.lv.channels();
    for n in 0..3 {
        channels
            .group_send("news", Patch::html("#x", n.to_string()))
            .await
            .unwrap();
    }
    page.cut();
    let info = page.resume().await;
    assert!(info.resumed);
    for n in 0..3 {
        assert_eq!(page.recv().await.patch.html, Some(n.to_string()));
    }
    page.raw().expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn an_event_in_flight_when_the_socket_dies_runs_once_and_is_answered_once() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let server = TestServer::start(builder().handler("slow", move || {
        let runs = Arc::clone(&counted);
        async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            runs.fetch_add(1, Ordering::SeqCst);
            Patch::html("#slow", "done")
        }
    }))
    .await;
    let mut page = SessionClient::connect(server.addr, "r3").await;
    let r = page.event("slow", json!({})).await;
    // The server has it (its handler runs) when the socket dies.
    tokio::time::sleep(Duration::from_millis(50)).await;
    page.cut();
    // While offline, the user clicks again: sent after the resume.
    page.event("incr", json!({})).await;
    let info = page.resume().await;
    assert!(info.resumed);
    assert_eq!(
        info.received, r,
        "the slow event was received; incr was not"
    );
    let answer = page.recv().await;
    assert_eq!(
        (answer.reference, answer.patch.html.as_deref()),
        (Some(r), Some("done"))
    );
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("1"));
    page.raw().expect_silence(Duration::from_millis(400)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(page.unanswered().is_empty());
}

#[tokio::test]
async fn an_event_received_before_is_not_run_again() {
    let server = TestServer::start(builder()).await;
    let mut page = SessionClient::connect(server.addr, "r4").await;
    page.event("incr", json!({})).await;
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("1"));
    // A client that re-sends it anyway (ref 1 again): dropped, not run.
    page.raw()
        .send_text(json!({"function": "incr", "data": {}, "form": {}, "ref": 1}).to_string())
        .await;
    page.raw().expect_silence(Duration::from_millis(200)).await;
    page.event("incr", json!({})).await;
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("2"));
}

#[tokio::test]
async fn on_resume_runs_instead_of_on_connect() {
    let connects = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&connects);
    let server = TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .on_connect(move |_ctx: Ctx| {
                seen.fetch_add(1, Ordering::SeqCst);
                async { Patch::html("#status", "hello") }
            })
            .on_resume(|_ctx: Ctx| async { Patch::html("#status", "welcome back") }),
    )
    .await;
    let mut page = SessionClient::connect(server.addr, "r5").await;
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("hello"));
    page.cut();
    assert!(page.resume().await.resumed);
    assert_eq!(
        page.recv().await.patch.html.as_deref(),
        Some("welcome back")
    );
    assert_eq!(connects.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_token_resumes_once_and_only_in_its_room() {
    let server = TestServer::start(builder()).await;
    let mut page = SessionClient::connect(server.addr, "room-a").await;
    let first = page.token.clone();
    // Presented on another room's socket: refused there, and kept.
    let mut other = Client::connect(
        &format!("ws://{}/ws/liveview/room-b/?v=2&resume=1", server.addr),
        None,
    )
    .await
    .unwrap();
    other
        .send_text(json!({"resume": {"token": first, "seen": 0}}).to_string())
        .await;
    let refused = other.recv().await.session.unwrap();
    assert!(!refused.resumed);
    assert_eq!(refused.refused, Some(ResumeRefusal::OtherRoom));
    assert_ne!(refused.token, first, "a fresh session with its own token");
    page.cut();
    assert!(page.resume().await.resumed);
    assert_ne!(page.token, first, "every resume issues a new token");
    // The old token is spent.
    let mut late = Client::connect(
        &format!("ws://{}/ws/liveview/room-a/?v=2&resume=1", server.addr),
        None,
    )
    .await
    .unwrap();
    late.send_text(json!({"resume": {"token": first, "seen": 0}}).to_string())
        .await;
    assert_eq!(
        late.recv().await.session.unwrap().refused,
        Some(ResumeRefusal::Unknown)
    );
}

#[tokio::test]
async fn two_sockets_presenting_one_token_at_once_resume_it_once() {
    let server = TestServer::start(builder()).await;
    let page = SessionClient::connect(server.addr, "r6").await;
    let request = json!({"resume": {"token": page.token, "seen": 0}}).to_string();
    let url = format!("ws://{}/ws/liveview/r6/?v=2&resume=1", server.addr);
    let (mut a, mut b) = (
        Client::connect(&url, None).await.unwrap(),
        Client::connect(&url, None).await.unwrap(),
    );
    tokio::join!(a.send_text(request.clone()), b.send_text(request));
    let (a, b) = tokio::join!(a.recv(), b.recv());
    let (a, b) = (a.session.unwrap(), b.session.unwrap());
    assert!(a.resumed ^ b.resumed, "exactly one resumed: {a:?} {b:?}");
    let loser = if a.resumed { b } else { a };
    assert_eq!(loser.refused, Some(ResumeRefusal::Unknown));
}

#[tokio::test]
async fn a_session_not_resumed_within_its_window_ends() {
    let server = TestServer::start(
        builder().limits(Limits::default().resume_window(Duration::from_millis(200))),
    )
    .await;
    let mut page = SessionClient::connect(server.addr, "r7").await;
    page.cut();
    until("parked", || server.lv.parked_sessions() == 1).await;
    until("window closed", || server.lv.parked_sessions() == 0).await;
    assert_eq!(server.lv.resumable_sessions(), 0);
    let info = page.resume().await;
    assert_eq!(
        (info.resumed, info.refused),
        (false, Some(ResumeRefusal::Unknown))
    );
    // The fresh session works, from a count of zero.
    page.event("incr", json!({})).await;
    assert_eq!(page.recv().await.patch.html.as_deref(), Some("1"));
}

#[tokio::test]
async fn a_parked_session_past_its_replay_bound_ends_instead_of_growing() {
    let server =
        TestServer::start(builder().limits(Limits::default().replay_buffer(4, 1024 * 1024))).await;
    let mut page = SessionClient::connect(server.addr, "r8").await;
    page.cut();
    until("parked", || server.lv.parked_sessions() == 1).await;
    let channels = server.lv.channels();
    for n in 0..5 {
        channels
            .group_send("news", Patch::html("#x", n.to_string()))
            .await
            .unwrap();
    }
    until("session ended", || server.lv.resumable_sessions() == 0).await;
    assert_eq!(server.lv.parked_sessions(), 0);
    let info = page.resume().await;
    assert_eq!(info.refused, Some(ResumeRefusal::Unknown));
}

#[tokio::test]
async fn a_client_that_saw_less_than_the_replay_keeps_is_refused() {
    let server =
        TestServer::start(builder().limits(Limits::default().replay_buffer(2, 1024 * 1024))).await;
    let mut page = SessionClient::connect(server.addr, "r9").await;
    let channels = server.lv.channels();
    for n in 0..4 {
        channels
            .group_send("news", Patch::html("#x", n.to_string()))
            .await
            .unwrap();
    }
    page.recv().await; // saw 1 of 4; the server keeps only the last 2
    let info = page.resume().await;
    assert_eq!(
        (info.resumed, info.refused),
        (false, Some(ResumeRefusal::ReplayLost))
    );
}

#[tokio::test]
async fn a_resuming_socket_must_ask_first() {
    let server = TestServer::start(builder()).await;
    let url = format!("ws://{}/ws/liveview/r10/?v=2&resume=1", server.addr);
    let mut socket = Client::connect(&url, None).await.unwrap();
    socket
        .send_text(json!({"function": "incr", "ref": 1}).to_string())
        .await;
    let info = socket.recv().await.session.unwrap();
    assert_eq!(info.refused, Some(ResumeRefusal::BadRequest));
    // A resume request later on is not one.
    socket
        .send_text(json!({"resume": {"token": info.token, "seen": 0}}).to_string())
        .await;
    let error = socket.recv().await;
    assert_eq!(error.code, Some(liveview::protocol::ErrorCode::BadEvent));
    assert!(error.error.unwrap().contains("first frame"));
}

#[tokio::test]
async fn version_1_clients_have_no_session() {
    let server = TestServer::start(builder()).await;
    let mut client = server.client("r11").await;
    client.event("incr", json!({}), json!({})).await;
    let frame = client.recv().await;
    assert!(frame.session.is_none());
    assert_eq!(frame.patch.html.as_deref(), Some("1"));
    client.cut();
    until("closed", || server.lv.connection_count() == 0).await;
    assert_eq!(server.lv.parked_sessions(), 0);
    assert_eq!(server.lv.resumable_sessions(), 0);
}
