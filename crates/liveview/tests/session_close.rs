//! How a version-2 socket's close frame decides its session's fate: 1001
//! (going away: a browser unloading the page) ends the session at once;
//! any other close parks it, to be resumed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use liveview::LiveView;
use liveview::protocol::{ResumeRefusal, ServerMessage};
use liveview_e2e::ws::{Client, TestServer};

async fn open(server: &TestServer) -> (Client, String) {
    let url = format!("ws://{}/ws/liveview/r1/?v=2", server.addr);
    let mut client = Client::connect(&url, None).await.unwrap();
    let text = client.recv_text().await;
    let token = ServerMessage::from_json(&text)
        .unwrap()
        .session
        .unwrap()
        .token;
    (client, token)
}

async fn resume(server: &TestServer, token: &str) -> liveview::protocol::SessionInfo {
    let url = format!("ws://{}/ws/liveview/r1/?v=2&resume=1", server.addr);
    let mut client = Client::connect(&url, None).await.unwrap();
    client
        .send_text(serde_json::json!({"resume": {"token": token, "seen": 0}}).to_string())
        .await;
    let text = client.recv_text().await;
    client.close_with(1001).await; // whatever it got ends with it
    ServerMessage::from_json(&text).unwrap().session.unwrap()
}

async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_page_going_away_ends_its_session_and_a_plain_close_parks_it() {
    let server = TestServer::start(LiveView::builder().auto_register(false)).await;

    let (client, token) = open(&server).await;
    client.close_with(1001).await;
    until("closed", || server.lv.connection_count() == 0).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.lv.parked_sessions(), 0, "1001 does not park");
    let info = resume(&server, &token).await;
    assert!(!info.resumed);
    assert_eq!(info.refused, Some(ResumeRefusal::Unknown));

    until("none parked", || server.lv.parked_sessions() == 0).await;
    let (client, token) = open(&server).await;
    client.close_with(1000).await;
    until("parked", || server.lv.parked_sessions() == 1).await;
    let info = resume(&server, &token).await;
    assert!(info.resumed, "{info:?}");
}
