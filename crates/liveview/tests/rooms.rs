//! Rooms: their own namespace of groups, and signed room ids.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use liveview::{Ctx, LiveView, Patch};
use liveview_e2e::ws::{Client, TestServer};
use serde_json::json;

fn builder() -> liveview::LiveViewBuilder {
    LiveView::builder().auto_register(false).debug(false)
}

/// Issue 14, item 7: a client that names its room after an app's group
/// used to receive that group's messages without ever joining it.
#[tokio::test]
async fn a_room_named_like_an_app_group_does_not_receive_it() {
    let server = TestServer::start(builder()).await;
    let mut intruder = server.client("chat_room").await;
    // Answered by the connection's task: it has joined its groups.
    intruder.ping_pong().await.unwrap();
    server
        .lv
        .channels()
        .group_send("chat_room", Patch::html("#messages", "private"))
        .await
        .unwrap();
    intruder.expect_silence(Duration::from_millis(300)).await;
    server
        .lv
        .channels()
        .broadcast(Patch::html("#x", "for everyone"))
        .await
        .unwrap();
    assert_eq!(
        intruder.recv_json().await,
        json!({"target": "#x", "html": "for everyone"})
    );
}

#[tokio::test]
async fn send_room_reaches_the_room_and_only_it() {
    async fn shout(ctx: Ctx) -> liveview::Result<()> {
        ctx.send_room(Patch::html("#x", "from the room")).await?;
        Ok(())
    }
    let server = TestServer::start(builder().handler("shout", shout)).await;
    let mut a = server.client("lobby").await;
    let mut b = server.client("lobby").await;
    let mut other = server.client("elsewhere").await;
    for client in [&mut a, &mut b, &mut other] {
        client.ping_pong().await.unwrap();
    }
    a.event("shout", json!({}), json!({})).await;
    // The caller gets the push and its handler's (empty) answer.
    let frames = [a.recv_json().await, a.recv_json().await];
    assert!(
        frames.iter().any(|f| f["html"] == "from the room"),
        "{frames:?}"
    );
    assert_eq!(b.recv_json().await["html"], "from the room");
    server
        .lv
        .channels()
        .send_room("elsewhere", Patch::html("#x", "to elsewhere"))
        .await
        .unwrap();
    assert_eq!(other.recv_json().await["html"], "to elsewhere");
    a.expect_silence(Duration::from_millis(200)).await;
    b.expect_silence(Duration::from_millis(1)).await;
    server
        .lv
        .channels()
        .group_send("lobby", Patch::html("#x", "app group"))
        .await
        .unwrap();
    a.expect_silence(Duration::from_millis(200)).await;
}

const SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
const OTHER_SECRET: &[u8; 32] = b"fedcba9876543210fedcba9876543210";

async fn claims(ctx: Ctx) -> Patch {
    Patch::html("#claims", format!("{:?}", ctx.room_claims()))
}

fn signed(require: bool) -> liveview::LiveViewBuilder {
    builder()
        .room_secret(*SECRET)
        .require_signed_rooms(require)
        .handler("claims", claims)
}

/// The status of a refused upgrade (panics when it is accepted).
async fn refusal(server: &TestServer, room: &str) -> u16 {
    match Client::connect(&server.url(room), None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Ok(_) => panic!("room {room} was accepted"),
        Err(err) => panic!("unexpected error {err}"),
    }
}

async fn claims_of(server: &TestServer, room: &str) -> String {
    let mut client = server.client(room).await;
    client.event("claims", json!({}), json!({})).await;
    let html = client.recv().await.patch.html.unwrap_or_default();
    client.close().await;
    html
}

#[tokio::test]
async fn a_signed_room_verifies_and_its_claims_reach_the_handler() {
    let server = TestServer::start(signed(true)).await;
    let room = server.lv.sign_room(Some("user:42")).unwrap();
    assert!(room.len() <= 128 && room.starts_with("lvs_"), "{room}");
    assert_eq!(claims_of(&server, &room).await, r#"Some("user:42")"#);
    // From the template helper, with and without claims.
    let html = server
        .lv
        .templates()
        .render_str(r#"{{ liveview_room("7") }} {{ liveview_room() }}"#, ())
        .unwrap();
    let (with, without) = html.split_once(' ').unwrap();
    assert_eq!(claims_of(&server, with).await, r#"Some("7")"#);
    assert_eq!(claims_of(&server, without).await, r#"Some("")"#);
}

#[tokio::test]
async fn tampered_expired_and_foreign_rooms_are_refused_with_403() {
    let server = TestServer::start(signed(false).room_ttl(Duration::ZERO)).await;
    let room = server.lv.sign_room(Some("42")).unwrap();
    let mut tampered = room.clone().into_bytes();
    let last = tampered.len() - 10;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(refusal(&server, &tampered).await, 403, "tampered");
    let foreign = LiveView::builder()
        .room_secret(*OTHER_SECRET)
        .build()
        .unwrap()
        .sign_room(Some("42"))
        .unwrap();
    assert_eq!(refusal(&server, &foreign).await, 403, "another key");
    // Issued with a lifetime of zero: expired once the second turns.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(refusal(&server, &room).await, 403, "expired");

    // Rotation: the old secret still verifies while listed second.
    let rotated = TestServer::start(
        builder()
            .room_secrets([*OTHER_SECRET, *SECRET])
            .handler("claims", claims),
    )
    .await;
    let old = LiveView::builder()
        .room_secret(*SECRET)
        .build()
        .unwrap()
        .sign_room(Some("old"))
        .unwrap();
    assert_eq!(claims_of(&rotated, &old).await, r#"Some("old")"#);
    assert_eq!(claims_of(&rotated, &foreign).await, r#"Some("42")"#);
}

#[tokio::test]
async fn with_signatures_required_an_unsigned_room_is_refused() {
    let server = TestServer::start(signed(true)).await;
    assert_eq!(refusal(&server, "4f2c0d1e9a7b").await, 403);
    assert_eq!(refusal(&server, "chat_room").await, 403);
    let room = server.lv.sign_room(None).unwrap();
    assert_eq!(claims_of(&server, &room).await, r#"Some("")"#);
    assert!(
        LiveView::builder()
            .require_signed_rooms(true)
            .build()
            .is_err(),
        "required without a secret"
    );
}

#[tokio::test]
async fn unsigned_rooms_still_work_when_signatures_are_not_required() {
    for server in [
        TestServer::start(builder().handler("claims", claims)).await,
        TestServer::start(signed(false)).await,
    ] {
        let room = liveview::templates::new_room_id();
        assert_eq!(claims_of(&server, &room).await, "None");
        let mut legacy = server.legacy_client("e4b6-django-uuid").await;
        // Answered by the connection's task: it has joined its groups.
        legacy.ping_pong().await.unwrap();
        server
            .lv
            .channels()
            .send_room("e4b6-django-uuid", Patch::html("#x", "hi"))
            .await
            .unwrap();
        assert!(legacy.recv_text().await.contains("hi"));
    }
}
