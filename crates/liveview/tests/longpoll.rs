//! The long-poll transport over real HTTP: a virtual socket runs the same
//! connection loop as a WebSocket (the same frames, limits, close codes and
//! page session), fed by `POST`s and answered through held `GET`s.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use liveview::protocol::Chunk;
use liveview::upload::UploadConfig;
use liveview::{Ctx, Limits, LiveView, LiveViewBuilder, Patch, Uploads};
use liveview_e2e::poll::{PollClient, request};
use liveview_e2e::ws::{Client, PATIENCE, TestServer};
use serde_json::{Value, json};

#[derive(Default)]
struct Count(u32);

async fn incr(ctx: Ctx) -> Patch {
    let n = ctx.with_state(|c: &mut Count| {
        c.0 += 1;
        c.0
    });
    Patch::html("#n", n.to_string())
}

async fn describe(files: Uploads) -> liveview::Result<Patch> {
    let mut out = Vec::new();
    for file in files.iter() {
        let bytes = file.bytes().await?;
        out.push(json!({"name": file.name(), "size": file.size(),
                        "text": String::from_utf8_lossy(&bytes)}));
    }
    Ok(Patch::html("#result", Value::Array(out).to_string()))
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

fn short_hold() -> Limits {
    Limits::default().poll_hold(Duration::from_millis(300))
}

fn event(reference: u64) -> Value {
    json!({"function": "incr", "data": {}, "form": {}, "ref": reference})
}

/// Opens a virtual socket and reads its session frame; returns the token.
async fn open(server: &TestServer, room: &str) -> (PollClient, String) {
    let mut page = PollClient::open(server.addr, room, None, None)
        .await
        .expect("open");
    let session = page.recv().await;
    assert_eq!(session["session"]["resumed"], false, "{session}");
    let token = session["session"]["token"].as_str().unwrap().to_owned();
    (page, token)
}

fn resume_frame(token: &str, seen: u64) -> String {
    json!({"resume": {"token": token, "seen": seen}}).to_string()
}

async fn until(what: &str, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn an_event_round_trips_through_a_post_and_a_get() {
    let server = TestServer::start(builder()).await;
    let (mut page, token) = open(&server, "r").await;
    assert_eq!(token.len(), 64);
    assert_eq!(page.id.len(), 64, "an id as unguessable as a token");
    assert_eq!(server.lv.connection_count(), 1);
    assert_eq!(page.post(&[event(1), event(2)]).await, 204);
    let first = page.recv().await;
    assert_eq!(
        (first["html"].as_str(), first["ref"].as_u64()),
        (Some("1"), Some(1))
    );
    let second = page.recv().await;
    assert_eq!(
        (second["html"].as_str(), second["ref"].as_u64()),
        (Some("2"), Some(2))
    );
    // The same error frames as over a WebSocket.
    assert_eq!(
        page.post(&[json!({"function": "nope", "ref": 3})]).await,
        204
    );
    assert_eq!(page.recv().await["code"], "unknown_function");
    // Not an array: 400; another media type: 415.
    assert_eq!(page.post_raw("application/json", b"{}").await, 400);
    assert_eq!(page.post_raw("text/plain", b"[]").await, 415);
}

#[tokio::test]
async fn a_push_to_a_group_answers_the_held_get() {
    let server = TestServer::start(builder()).await;
    let (page, _) = open(&server, "r").await;
    let held = tokio::spawn(async move {
        let started = Instant::now();
        let answer = page.get().await;
        (answer, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server
        .lv
        .channels()
        .group_send("news", Patch::append("#log", "<li>a</li>"))
        .await
        .unwrap();
    let (answer, waited) = held.await.unwrap();
    assert_eq!(answer.status, 200);
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["frames"][0]["html"], "<li>a</li>", "{body}");
    assert!(waited >= Duration::from_millis(100), "held until the push");
    assert!(
        waited < Duration::from_secs(5),
        "answered at the push: {waited:?}"
    );
}

#[tokio::test]
async fn a_lost_answer_is_recovered_by_resuming_with_seen() {
    let server = TestServer::start(builder().limits(short_hold())).await;
    let (page, token) = open(&server, "r").await;
    assert_eq!(page.post(&[event(1)]).await, 204);
    // The answer carrying the reply is lost on its way.
    let lost = page.get().await;
    assert!(lost.body.contains("\"ref\":1"), "{}", lost.body);
    // The client resumes, having seen none of the session's frames.
    let mut resumed = PollClient::open(server.addr, "r", Some(&resume_frame(&token, 0)), None)
        .await
        .expect("resume");
    let session = resumed.recv().await;
    assert_eq!(session["session"]["resumed"], true, "{session}");
    assert_eq!(session["session"]["received"], 1);
    let replayed = resumed.recv().await;
    assert_eq!(
        (replayed["html"].as_str(), replayed["ref"].as_u64()),
        (Some("1"), Some(1))
    );
    // Once: the next answer is empty at the end of the hold.
    assert_eq!(resumed.poll_once().await, 0);
    // The old id is gone with its socket.
    assert_eq!(page.get().await.status, 404);
    assert_eq!(server.lv.connection_count(), 1);
    assert_eq!(resumed.post(&[event(2)]).await, 204);
    assert_eq!(resumed.recv().await["html"], "2", "the same state");
}

#[tokio::test]
async fn a_session_moves_to_a_websocket_and_back_by_resuming() {
    let server = TestServer::start(builder().limits(short_hold())).await;
    let (mut page, token) = open(&server, "r").await;
    assert_eq!(page.post(&[event(1)]).await, 204);
    assert_eq!(page.recv().await["html"], "1");
    // Long-poll to WebSocket: the token and the count, on a resume=1 socket.
    let url = format!("ws://{}/ws/liveview/r/?v=2&resume=1", server.addr);
    let mut ws = Client::connect(&url, None).await.unwrap();
    ws.send_text(resume_frame(&token, 1)).await;
    let session = ws.recv_json().await;
    assert_eq!(session["session"]["resumed"], true, "{session}");
    let token = session["session"]["token"].as_str().unwrap().to_owned();
    assert_eq!(
        page.get().await.status,
        404,
        "the virtual socket is replaced"
    );
    // Refs go on from the page's (one at or below the highest is a resend).
    ws.send_text(event(2).to_string()).await;
    assert_eq!(ws.recv_json().await["html"], "2");
    assert_eq!(server.lv.connection_count(), 1);
    // And back: 2 frames seen on the session.
    let mut back = PollClient::open(server.addr, "r", Some(&resume_frame(&token, 2)), None)
        .await
        .unwrap();
    let session = back.recv().await;
    assert_eq!(session["session"]["resumed"], true, "{session}");
    // The stale WebSocket is dropped: it can no longer reach the session.
    let _ = ws.try_send_text(event(8).to_string()).await;
    assert_eq!(back.post(&[event(9)]).await, 204);
    assert_eq!(back.recv().await["html"], "3");
    assert_eq!(server.lv.connection_count(), 1);
}

#[tokio::test]
async fn foreign_origins_unknown_ids_and_old_versions_are_refused() {
    let server = TestServer::start(builder().allowed_origins(["https://app.example"])).await;
    let foreign = PollClient::open(server.addr, "r", None, Some("https://evil.example")).await;
    assert_eq!(foreign.err().map(|a| a.status), Some(403));
    let mut page = PollClient::open(server.addr, "r", None, Some("https://app.example"))
        .await
        .expect("an allowed origin");
    assert!(page.recv().await["session"].is_object());
    // Every request is checked.
    page.origin = Some("https://evil.example".into());
    assert_eq!(page.post(&[event(1)]).await, 403);
    assert_eq!(page.get().await.status, 403);
    assert_eq!(page.close(1001).await, 403);
    // An id is bound to its room; unknown ids are 404.
    page.origin = None;
    let other_room = format!("/ws/liveview/other/poll/{}", page.id);
    let answer = request(server.addr, "GET", &other_room, &[], b"").await;
    assert_eq!(answer.status, 404);
    let unknown = format!("/ws/liveview/r/poll/{}", "0".repeat(64));
    assert_eq!(
        request(server.addr, "GET", &unknown, &[], b"").await.status,
        404
    );
    let headers = [("Content-Type", "application/json")];
    assert_eq!(
        request(server.addr, "POST", &unknown, &headers, b"[]")
            .await
            .status,
        404
    );
    // Version 2 only; a valid room.
    let v1 = request(server.addr, "POST", "/ws/liveview/r/poll?v=1", &[], b"").await;
    assert_eq!(v1.status, 400);
    let bad_room = request(server.addr, "POST", "/ws/liveview/a.b/poll?v=2", &[], b"").await;
    assert_eq!(bad_room.status, 400);
}

#[tokio::test]
async fn a_post_over_the_limits_is_413_and_closes_with_1009() {
    let server = TestServer::start(
        builder().limits(Limits::default().max_frame_bytes(1024).poll_batch(4, 4096)),
    )
    .await;
    // One frame over max_frame_bytes.
    let (mut page, _) = open(&server, "r").await;
    let big = json!({"function": "incr", "data": {"pad": "x".repeat(2000)}});
    assert_eq!(page.post(&[big]).await, 413);
    assert_eq!(page.recv_close().await, 1009);
    assert_eq!(page.get().await.status, 404, "the id is done");
    // More frames than a batch.
    let (mut page, _) = open(&server, "r").await;
    let frames: Vec<Value> = (1..=5).map(event).collect();
    assert_eq!(page.post(&frames).await, 413);
    assert_eq!(page.recv_close().await, 1009);
    // A body over the bound.
    let (mut page, _) = open(&server, "r").await;
    assert_eq!(page.post_raw("application/json", &[b' '; 5000]).await, 413);
    assert_eq!(page.recv_close().await, 1009);
    server.wait_connections(0).await;
}

#[tokio::test]
async fn events_over_the_rate_get_the_websocket_answers() {
    let server = TestServer::start(
        builder().limits(Limits::default().events_per_second(Some(1)).event_burst(2)),
    )
    .await;
    let (mut page, _) = open(&server, "r").await;
    assert_eq!(page.post(&[event(1), event(2), event(3)]).await, 204);
    assert_eq!(page.recv().await["html"], "1");
    assert_eq!(page.recv().await["html"], "2");
    let limited = page.recv().await;
    assert_eq!(
        (limited["code"].as_str(), limited["ref"].as_u64()),
        (Some("rate_limited"), Some(3))
    );
    // Keep flooding: past ten drops in a row, closed with 1008.
    let flood: Vec<Value> = (4..=14).map(event).collect();
    assert_eq!(page.post(&flood).await, 204);
    assert_eq!(page.recv_close().await, 1008);
    server.wait_connections(0).await;
}

#[tokio::test]
async fn close_1001_ends_the_session_and_other_codes_park_it() {
    let server = TestServer::start(builder()).await;
    let (page, token) = open(&server, "r").await;
    assert_eq!(page.close(1001).await, 204);
    until("ended", || server.lv.resumable_sessions() == 0).await;
    assert_eq!(server.lv.parked_sessions(), 0);
    server.wait_connections(0).await;
    // Its token resumes nothing: a fresh session says why.
    let mut again = PollClient::open(server.addr, "r", Some(&resume_frame(&token, 0)), None)
        .await
        .unwrap();
    let session = again.recv().await;
    assert_eq!(session["session"]["resumed"], false, "{session}");
    assert_eq!(session["session"]["refused"], "unknown", "{session}");
    // 1000: the page may come back.
    assert_eq!(again.close(1000).await, 204);
    until("parked", || server.lv.parked_sessions() == 1).await;
    assert_eq!(again.close(1000).await, 404, "the id left with its socket");
}

#[tokio::test]
async fn a_file_uploads_over_long_poll() {
    let dir = std::env::temp_dir().join(format!("lv-lp-upload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = TestServer::start(
        builder()
            .handler("upload_file", describe)
            .uploads("upload_file", UploadConfig::default().temp_dir(&dir)),
    )
    .await;
    let (mut page, _) = open(&server, "r").await;
    let start = json!({"upload": {"op": "start", "id": 1, "function": "upload_file",
                       "field": "file", "name": "a.txt", "type": "text/plain", "size": 10}});
    assert_eq!(page.post(&[start]).await, 204);
    assert_eq!(
        page.recv().await,
        json!({"upload": {"id": 1, "status": "ready"}})
    );
    let octets = "application/octet-stream";
    assert_eq!(
        page.post_raw(octets, &Chunk::encode(1, 0, b"hello")).await,
        204
    );
    assert_eq!(
        page.recv().await,
        json!({"upload": {"id": 1, "received": 5}})
    );
    assert_eq!(
        page.post_raw(octets, &Chunk::encode(1, 5, b"world")).await,
        204
    );
    assert_eq!(
        page.recv().await,
        json!({"upload": {"id": 1, "status": "done"}})
    );
    let claim = json!({"function": "upload_file", "form": {}, "uploads": {"file": [1]}, "ref": 7});
    assert_eq!(page.post(&[claim]).await, 204);
    let reply = page.recv().await;
    assert_eq!(reply["ref"], 7);
    let files: Value = serde_json::from_str(reply["html"].as_str().unwrap()).unwrap();
    assert_eq!(
        files,
        json!([{"name": "a.txt", "size": 10, "text": "helloworld"}])
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn virtual_sockets_count_against_the_connection_limit() {
    let server = TestServer::start(builder().limits(Limits::default().max_connections(1))).await;
    let (page, _) = open(&server, "r").await;
    assert_eq!(server.lv.connection_count(), 1);
    let second = PollClient::open(server.addr, "r", None, None).await;
    assert_eq!(second.err().map(|a| a.status), Some(503));
    let url = format!("ws://{}/ws/liveview/r/?v=2", server.addr);
    assert!(
        Client::connect(&url, None).await.is_err(),
        "no room for a WebSocket"
    );
    assert_eq!(page.close(1001).await, 204);
    server.wait_connections(0).await;
    let (_again, _) = open(&server, "r").await;
}

#[tokio::test]
async fn a_virtual_socket_without_a_get_is_lost_and_its_session_parks() {
    let server = TestServer::start(
        builder().limits(Limits::default().poll_hold(Duration::from_millis(100))),
    )
    .await;
    let (page, token) = open(&server, "r").await;
    let started = Instant::now();
    // No GET from now on: lost after the hold plus 10 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while server.lv.parked_sessions() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "never parked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(9),
        "parked too early: {waited:?}"
    );
    assert_eq!(server.lv.connection_count(), 0);
    assert_eq!(page.get().await.status, 404);
    // The session waits for its client, on any transport.
    let mut back = PollClient::open(server.addr, "r", Some(&resume_frame(&token, 0)), None)
        .await
        .unwrap();
    assert_eq!(back.recv().await["session"]["resumed"], true);
}

#[tokio::test]
async fn gets_keep_a_quiet_socket_alive_past_the_idle_timeout() {
    let limits = Limits::default()
        .poll_hold(Duration::from_millis(100))
        .ping_interval(Duration::from_millis(50))
        .idle_timeout(Duration::from_millis(200));
    let server = TestServer::start(builder().limits(limits)).await;
    let (mut page, _) = open(&server, "r").await;
    // No frame from the client for five idle timeouts, only GETs.
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        assert_eq!(page.poll_once().await, 0);
        assert_eq!(page.closed, None, "closed while GETs came");
    }
    assert_eq!(page.post(&[event(1)]).await, 204);
    assert_eq!(page.recv().await["html"], "1");
}

#[tokio::test]
async fn a_shutdown_closes_virtual_sockets_with_1012() {
    let server = TestServer::start(builder()).await;
    let (mut page, _) = open(&server, "r").await;
    server.lv.shutdown();
    assert_eq!(page.recv_close().await, 1012);
    server.wait_connections(0).await;
    let refused = PollClient::open(server.addr, "r", None, None).await;
    assert_eq!(refused.err().map(|a| a.status), Some(503));
}

#[tokio::test]
async fn a_second_get_answers_the_held_one_at_once_and_takes_over() {
    let server = TestServer::start(builder()).await;
    let (page, _) = open(&server, "r").await;
    let page = std::sync::Arc::new(page);
    let older = tokio::spawn({
        let page = std::sync::Arc::clone(&page);
        async move {
            let started = Instant::now();
            (page.get().await, started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let newer = tokio::spawn({
        let page = std::sync::Arc::clone(&page);
        async move { page.get().await }
    });
    let (answer, waited) = older.await.unwrap();
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, r#"{"frames":[]}"#)
    );
    assert!(
        waited < Duration::from_secs(5),
        "answered at once: {waited:?}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    server
        .lv
        .channels()
        .broadcast(Patch::html("#b", "hi"))
        .await
        .unwrap();
    let answer = newer.await.unwrap();
    assert!(answer.body.contains(r#""html":"hi""#), "{}", answer.body);
}
