//! Events pushed to the page's JavaScript (`ctx.push_event`,
//! `Channels::push_event`) over a real WebSocket: the frame, its order
//! before the reply, legacy clients, groups and the outgoing frame limit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use liveview::layer::SendError;
use liveview::{Ctx, Error, Limits, LiveView, Patch};
use liveview_e2e::ws::TestServer;
use serde_json::json;

async fn server() -> TestServer {
    TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .limits(Limits::default().max_outgoing_frame_bytes(2048))
            .handler("chart", |ctx: Ctx| async move {
                ctx.push_event("chart:data", json!({"points": [1, 2]}))?;
                Ok::<_, Error>(())
            })
            .handler("huge", |ctx: Ctx| async move {
                let refused = ctx.push_event("big", json!({"blob": "x".repeat(4096)}));
                let message = match refused {
                    Err(SendError::TooLarge { size, limit }) => format!("{size} > {limit}"),
                    other => format!("{other:?}"),
                };
                Ok::<_, Error>(Patch::html("#r", message))
            })
            .handler("join", |ctx: Ctx| async move {
                ctx.join("stats").await?;
                Ok::<_, Error>(())
            }),
    )
    .await
}

#[tokio::test]
async fn pushed_events_reach_the_page_before_the_reply() {
    let server = server().await;
    let mut client = server.client("r1").await;
    let reference = client.event("chart", json!({}), json!({})).await;
    assert_eq!(
        client.recv_json().await,
        json!({"event": "chart:data", "payload": {"points": [1, 2]}})
    );
    let ack = client.recv().await;
    assert_eq!(ack.reference, Some(reference));
    assert!(ack.event.is_none());

    // A legacy client gets the same frame (it has no target nor html, so
    // it changes nothing there), and no acknowledgement.
    let mut legacy = server.legacy_client("r2").await;
    legacy.event("chart", json!({}), json!({})).await;
    let frame = legacy.recv().await;
    assert_eq!(frame.event.as_deref(), Some("chart:data"));
    assert!(frame.patch.target.is_none() && frame.patch.html.is_none());
    legacy.expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn pushed_events_respect_the_outgoing_frame_limit() {
    let server = server().await;
    let mut client = server.client("r1").await;
    client.event("huge", json!({}), json!({})).await;
    let reply = client.recv().await;
    let html = reply.patch.html.unwrap_or_default();
    let (size, limit) = html.split_once(" > ").expect(&html);
    assert!(size.parse::<usize>().unwrap() > 4096, "{html}");
    assert_eq!(limit, "2048");

    let refused = server
        .lv
        .channels()
        .push_event("stats", "big", &json!("x".repeat(4096)))
        .await;
    assert!(
        matches!(refused, Err(SendError::TooLarge { .. })),
        "{refused:?}"
    );
}

#[tokio::test]
async fn channels_push_events_to_a_group() {
    let server = server().await;
    let mut member = server.client("r1").await;
    let mut outsider = server.client("r2").await;
    member.event("join", json!({}), json!({})).await;
    member.recv().await; // the acknowledgement
    server
        .lv
        .channels()
        .push_event("stats", "tick", &json!({"n": 1}))
        .await
        .unwrap();
    assert_eq!(
        member.recv_json().await,
        json!({"event": "tick", "payload": {"n": 1}})
    );
    outsider.expect_silence(Duration::from_millis(200)).await;
}
