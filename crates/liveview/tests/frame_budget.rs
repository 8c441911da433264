//! Every client frame spends one per-connection budget (`Limits::frame_budget`):
//! floods are closed with 1008 whatever their frames are, legitimate bursts
//! and full-speed uploads are not.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use liveview::protocol::{Chunk, MAX_CHUNK_BYTES};
use liveview::upload::UploadConfig;
use liveview::{Limits, LiveView, LiveViewBuilder, Patch, Uploads};
use liveview_e2e::ws::TestServer;
use serde_json::json;

async fn echo() -> Patch {
    Patch::html("#out", "ok")
}

async fn count(files: Uploads) -> Patch {
    let size: u64 = files.iter().map(|f| f.size()).sum();
    Patch::html("#out", size.to_string())
}

fn builder() -> LiveViewBuilder {
    LiveView::builder()
        .auto_register(false)
        .handler("echo", echo)
}

#[tokio::test]
async fn a_flood_of_malformed_frames_is_closed_with_1008() {
    let server = TestServer::start(builder()).await;
    let mut client = server.client("r").await;
    // 113 KB that are not JSON: each used to cost a parse and an error
    // frame, without limit.
    let garbage = format!("{{{}", "x".repeat(113_000));
    let mut answered = 0;
    let mut code = None;
    for _ in 0..300 {
        if !client.try_send_text(garbage.clone()).await {
            break;
        }
        match client.recv_text_or_close().await {
            Ok(frame) => {
                assert!(frame.contains("bad_json"), "{frame}");
                answered += 1;
            }
            Err(close) => {
                code = Some(close);
                break;
            }
        }
    }
    assert_eq!(
        code,
        Some(1008),
        "still open after {answered} malformed frames"
    );
    assert!(
        answered >= 20,
        "the burst is spent first ({answered} answered)"
    );
    server.wait_connections(0).await;
}

#[tokio::test]
async fn a_flood_of_chunks_for_no_upload_is_closed_with_1008() {
    let server = TestServer::start(builder()).await;
    let mut client = server.client("r").await;
    let mut answered = 0;
    let mut code = None;
    for _ in 0..3000 {
        if !client.try_send_binary(Chunk::encode(9, 0, b"x")).await {
            break;
        }
        match client.recv_text_or_close().await {
            Ok(frame) => {
                assert!(frame.contains("upload_failed"), "{frame}");
                answered += 1;
            }
            Err(close) => {
                code = Some(close);
                break;
            }
        }
    }
    assert_eq!(
        code,
        Some(1008),
        "still open after {answered} chunks for no upload"
    );
    server.wait_connections(0).await;
}

#[tokio::test]
async fn a_ping_flood_is_closed_with_1008() {
    let server = TestServer::start(builder()).await;
    let mut client = server.client("r").await;
    let mut answered = 0;
    let mut code = None;
    for _ in 0..3000 {
        match client.ping_pong().await {
            Ok(()) => answered += 1,
            Err(close) => {
                code = Some(close);
                break;
            }
        }
    }
    assert_eq!(code, Some(1008), "still open after {answered} pings");
    server.wait_connections(0).await;
}

#[tokio::test]
async fn a_steady_event_flood_just_above_the_rate_is_closed() {
    // 25 events a second against a rate of 20: the bucket lets one through
    // at every refill, which used to reset the "dropped in a row" count.
    let server = TestServer::start(
        builder().limits(Limits::default().events_per_second(Some(20)).event_burst(5)),
    )
    .await;
    let mut client = server.client("r").await;
    let mut every = tokio::time::interval(Duration::from_millis(40));
    let mut limited = 0;
    let mut code = None;
    for _ in 0..250 {
        every.tick().await;
        if !client
            .try_send_text(json!({"function": "echo", "ref": 1}).to_string())
            .await
        {
            break;
        }
        match client.recv_text_or_close().await {
            Ok(frame) if frame.contains("rate_limited") => limited += 1,
            Ok(frame) => assert!(frame.contains("ok"), "{frame}"),
            Err(close) => {
                code = Some(close);
                break;
            }
        }
    }
    assert_eq!(
        code,
        Some(1008),
        "10 s of flood above the rate, {limited} dropped, still open"
    );
    server.wait_connections(0).await;
}

#[tokio::test]
async fn a_legitimate_burst_within_the_limit_is_answered() {
    let server = TestServer::start(builder()).await;
    let mut client = server.client("r").await;
    // The default event burst, all at once, with a few pings among them.
    for i in 0..100 {
        client.event("echo", json!({}), json!({})).await;
        if i % 25 == 0 {
            assert!(client.try_ping().await);
        }
    }
    for _ in 0..100 {
        let frame = client
            .recv_text_or_close()
            .await
            .expect("answered, not closed");
        assert!(frame.contains("\"ok\""), "{frame}");
    }
    // The event bucket refills at 50 a second.
    tokio::time::sleep(Duration::from_millis(100)).await;
    client.event("echo", json!({}), json!({})).await;
    assert!(client.recv().await.patch.html.is_some());
}

#[tokio::test]
async fn full_speed_chunk_uploads_within_the_budget_are_not_throttled() {
    const SIZE: u64 = 16 * 1024 * 1024;
    let dir = std::env::temp_dir().join(format!(
        "lv-frame-budget-{}",
        liveview::templates::new_room_id()
    ));
    // A budget of 40 units: 256 full chunks cost 20 of them.
    let server = TestServer::start(
        builder()
            .limits(Limits::default().frame_budget(Some((20, 40))))
            .handler("count", count)
            .uploads(
                "count",
                UploadConfig::default().max_file_size(SIZE).temp_dir(&dir),
            ),
    )
    .await;
    let mut client = server.client("r").await;
    client
        .send_text(json!({"upload": {"op": "start", "id": 1, "function": "count", "field": "file",
                                     "name": "big.bin", "type": "application/octet-stream", "size": SIZE}})
            .to_string())
        .await;
    assert_eq!(client.recv_json().await["upload"]["status"], "ready");
    let chunk = MAX_CHUNK_BYTES as u64;
    let data = vec![7u8; MAX_CHUNK_BYTES];
    let (mut sent, mut acknowledged) = (0u64, 0u64);
    let mut last = serde_json::Value::Null;
    let started = std::time::Instant::now();
    while acknowledged < SIZE {
        while sent < SIZE && sent - acknowledged < 4 * chunk {
            let len = chunk.min(SIZE - sent) as usize;
            client.send_chunk(1, sent, &data[..len]).await;
            sent += len as u64;
        }
        let frame = client.recv_text_or_close().await.expect("not closed");
        last = serde_json::from_str(&frame).unwrap();
        assert!(last.get("error").is_none(), "{last}");
        acknowledged = last["upload"]["received"].as_u64().unwrap_or(SIZE);
    }
    assert_eq!(last["upload"]["status"], "done");
    eprintln!("16 MiB at full speed in {:?}", started.elapsed());
    client
        .send_text(r#"{"function":"count","uploads":{"file":[1]},"ref":1}"#)
        .await;
    assert_eq!(client.recv().await.patch.html.as_deref(), Some("16777216"));
    let _ = std::fs::remove_dir_all(&dir);
}
