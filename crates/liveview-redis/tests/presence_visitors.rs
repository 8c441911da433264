//! The demo's "Visitors in real time" widget, as the demo wires it, across
//! two nodes sharing one real redis-server: every page shows "You are
//! alone" or how many people are here, updated live on both nodes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{Client, TestServer};
use liveview::{Channels, Ctx, Error, LiveView, Patch, Presence, PresenceEvent, Result};
use liveview_e2e::redis::RedisServer;
use liveview_redis::RedisConfig;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

// ---- the widget, as given to the demo ----

/// The presence topic and the group of the pages that show the widget.
pub const VISITORS: &str = "visitors";

/// The widget's text.
pub fn visitors_html(count: usize) -> String {
    match count {
        0 | 1 => "You are alone".to_owned(),
        n => format!("{n} people here"),
    }
}

/// Runs when a page's socket opens, and again when it reconnects
/// (`LiveViewBuilder::on_connect`): tracks the visitor and shows the count.
pub async fn visitors_on_connect(ctx: Ctx) -> Result<Patch> {
    let presence: Presence = ctx
        .app_state()
        .ok_or_else(|| Error::msg("no Presence in the app state"))?;
    ctx.join(VISITORS).await?;
    presence
        .track(&ctx, VISITORS, json!({ "room": ctx.room() }))
        .await?;
    let count = presence.list(VISITORS).await.len();
    Ok(Patch::html("#visitors", visitors_html(count)))
}

/// Pushes the new count to every page of every node when someone arrives
/// or leaves. Only the node where the change happened sends it (`here`),
/// so each page gets it once.
pub fn spawn_visitors(presence: Presence, channels: Channels) {
    let mut events = presence.subscribe(VISITORS);
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(PresenceEvent::Resync { .. }) | Err(RecvError::Lagged(_)) => {}
                Ok(event) if event.is_here() => {}
                Ok(_) => continue,
                Err(RecvError::Closed) => return,
            }
            let count = presence.list(VISITORS).await.len();
            let patch = Patch::html("#visitors", visitors_html(count));
            let _ = channels.group_send(VISITORS, patch).await;
        }
    });
}

// ---- the test ----

async fn node(redis: &RedisServer) -> TestServer {
    let layer = RedisConfig::new(redis.url())
        .prefix("demo")
        .connect()
        .await
        .unwrap();
    let presence = liveview_redis::presence(&layer).unwrap();
    let server = TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .layer(layer)
            .state(presence.clone())
            .on_connect(visitors_on_connect),
    )
    .await;
    spawn_visitors(presence, server.lv.channels());
    server
}

/// Opens a page; its on-connect push (and the count pushed by its join
/// event, in either order) says `expected`.
async fn open_page(server: &TestServer, expected: &str) -> Client {
    let mut client = server.client(&liveview::new_room_id()).await;
    expect_widget(&mut client, expected).await;
    client
}

/// Reads pushes until one says `text`.
async fn expect_widget(client: &mut Client, text: &str) {
    loop {
        let frame = client.recv_json().await;
        assert_eq!(frame["target"], "#visitors", "{frame}");
        if frame["html"] == text {
            return;
        }
    }
}

#[tokio::test]
async fn the_visitors_widget_counts_people_on_every_node() {
    let redis = RedisServer::start();
    let a = node(&redis).await;
    let b = node(&redis).await;

    let mut ann = open_page(&a, "You are alone").await;
    let mut bob = open_page(&b, "2 people here").await;
    expect_widget(&mut ann, "2 people here").await;
    let cid = open_page(&a, "3 people here").await;
    expect_widget(&mut ann, "3 people here").await;
    expect_widget(&mut bob, "3 people here").await;

    cid.close().await;
    expect_widget(&mut ann, "2 people here").await;
    expect_widget(&mut bob, "2 people here").await;
    ann.close().await;
    expect_widget(&mut bob, "You are alone").await;
}
