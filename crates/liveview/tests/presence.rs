//! Presence on one node (in memory), through real WebSocket connections.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use liveview::{Ctx, Data, LiveView, Patch, Presence, PresenceEvent, Result, State};
use liveview_e2e::ws::TestServer;
use serde_json::{Value, json};

async fn visit(ctx: Ctx, State(presence): State<Presence>, Data(d): Data<Value>) -> Result<Patch> {
    let name = d["name"].as_str().unwrap_or("anonymous").to_owned();
    presence.track(&ctx, "lobby", json!({"name": name})).await?;
    let here = presence.list("lobby").await.len();
    Ok(Patch::html("#visitors", here.to_string()))
}

async fn bye(ctx: Ctx, State(presence): State<Presence>) {
    presence.untrack(&ctx, "lobby");
}

#[tokio::test]
async fn connections_join_and_leave_a_topic() {
    let presence = Presence::in_memory();
    let server = TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .state(presence.clone())
            .handler("visit", visit)
            .handler("bye", bye),
    )
    .await;
    let mut events = presence.subscribe("lobby");
    let mut ann = server.client("r").await;
    ann.event("visit", json!({"name": "ann"}), json!({})).await;
    assert_eq!(ann.recv().await.patch.html.as_deref(), Some("1"));
    let mut bob = server.client("r").await;
    bob.event("visit", json!({"name": "bob"}), json!({})).await;
    assert_eq!(bob.recv().await.patch.html.as_deref(), Some("2"));
    // Visiting again updates the entry instead of adding one.
    bob.event("visit", json!({"name": "bobby"}), json!({}))
        .await;
    assert_eq!(bob.recv().await.patch.html.as_deref(), Some("2"));

    let list = presence.list("lobby").await;
    let names: Vec<&str> = list
        .iter()
        .map(|e| e.meta["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ann", "bobby"]);
    assert!(
        list.iter()
            .all(|e| e.since > 0 && e.node == presence.node_id())
    );

    ann.close().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while presence.list("lobby").await.len() != 1 {
        assert!(tokio::time::Instant::now() < deadline, "ann did not leave");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let r = bob.event("bye", json!({}), json!({})).await;
    assert_eq!(bob.recv_json().await, json!({"ref": r}));
    assert!(presence.list("lobby").await.is_empty());

    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        match event {
            PresenceEvent::Join { entry, here, .. } => {
                assert!(here);
                seen.push(format!("+{}", entry.meta["name"].as_str().unwrap()));
            }
            PresenceEvent::Leave { entry, here, .. } => {
                assert!(here);
                seen.push(format!("-{}", entry.meta["name"].as_str().unwrap()));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, ["+ann", "+bob", "+bobby", "-ann", "-bobby"]);
}
