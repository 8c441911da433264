//! Authentication on long-lived sockets: the connect guard that sees the
//! upgrade request, tags and `disconnect_tag`, and per-connection expiry,
//! against a real server over real sockets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use liveview::layer::SendError;
use liveview::{Admission, Ctx, Data, LiveView, LiveViewBuilder, Patch, Refusal, Result};
use liveview_e2e::ws::{Client, TestServer};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// What the guard attaches to an admitted connection.
#[derive(Clone, Debug)]
struct UserId(u64);

/// Long enough for a close that is not coming.
const QUIET: Duration = Duration::from_millis(300);

async fn whoami(ctx: Ctx) -> Patch {
    let user = ctx.request().extensions.get::<UserId>().map(|u| u.0);
    Patch::html("#me", format!("{user:?}"))
}

async fn tag(ctx: Ctx, Data(d): Data<Value>) -> Result<()> {
    for tag in d["tags"].as_array().into_iter().flatten() {
        ctx.tag(tag.as_str().unwrap_or_default()).await?;
    }
    Ok(())
}

async fn expire(ctx: Ctx, Data(d): Data<Value>) {
    let ms = d["ms"].as_u64().unwrap_or_default();
    ctx.expire_at(Instant::now() + Duration::from_millis(ms));
}

/// Admits `session=<user id>` cookies; a session of user 9 ends 300 ms
/// after it connects. Counts the upgrades it saw.
fn guarded(seen: Arc<AtomicUsize>) -> LiveViewBuilder {
    LiveView::builder()
        .auto_register(false)
        .handler("whoami", whoami)
        .handler("tag", tag)
        .handler("expire", expire)
        .authorize(move |request| {
            seen.fetch_add(1, Ordering::SeqCst);
            let user = request
                .headers
                .get("cookie")
                .and_then(|c| c.to_str().ok())
                .and_then(|c| c.strip_prefix("session="))
                .and_then(|id| id.parse::<u64>().ok());
            async move {
                match user {
                    Some(9) => Ok(Admission::new()
                        .insert(UserId(9))
                        .expire_at(Instant::now() + Duration::from_millis(300))),
                    Some(id) => Ok(Admission::new().insert(UserId(id))),
                    None => Err(Refusal::forbidden("sign in first")),
                }
            }
        })
}

async fn connect_as(
    server: &TestServer,
    room: &str,
    cookie: Option<&str>,
) -> Result<Client, String> {
    let mut request = server.url(room).into_client_request().unwrap();
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", HeaderValue::from_str(cookie).unwrap());
    }
    Client::connect_request(request)
        .await
        .map_err(|err| match err {
            tokio_tungstenite::tungstenite::Error::Http(response) => format!(
                "{} {}",
                response.status().as_u16(),
                String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
            ),
            other => other.to_string(),
        })
}

async fn signed_in(server: &TestServer, room: &str, user: u64) -> Client {
    connect_as(server, room, Some(&format!("session={user}")))
        .await
        .expect("admitted")
}

async fn call(client: &mut Client, function: &str, data: Value) {
    let r = client.event(function, data, json!({})).await;
    assert_eq!(client.recv_json().await, json!({"ref": r}));
}

#[tokio::test]
async fn the_connect_guard_refuses_before_the_socket_opens_and_attaches_to_the_admitted() {
    let seen = Arc::new(AtomicUsize::new(0));
    let server = TestServer::start(guarded(Arc::clone(&seen))).await;

    let refused = connect_as(&server, "r1", None).await.err();
    assert_eq!(refused.as_deref(), Some("403 sign in first"));
    assert_eq!(server.lv.connection_count(), 0);

    let mut client = signed_in(&server, "r1", 42).await;
    server.wait_connections(1).await;
    let r = client.event("whoami", json!({}), json!({})).await;
    assert_eq!(
        client.recv_json().await,
        json!({"target": "#me", "html": "Some(42)", "ref": r})
    );
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_slow_guard_is_refused_with_503_at_its_timeout() {
    let server = TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .authorize(|_| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(Admission::new())
            })
            .authorize_timeout(Duration::from_millis(100)),
    )
    .await;
    let started = Instant::now();
    let refused = connect_as(&server, "r", None).await.err();
    assert_eq!(refused.as_deref(), Some("503 authorization timed out"));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(server.lv.connection_count(), 0);
}

#[tokio::test]
async fn disconnect_tag_closes_every_tagged_connection_with_4001_and_the_redirect() {
    let server = TestServer::start(guarded(Arc::default())).await;
    let mut phone = signed_in(&server, "a", 42).await;
    let mut laptop = signed_in(&server, "b", 42).await;
    let mut other = signed_in(&server, "c", 7).await;
    call(
        &mut phone,
        "tag",
        json!({"tags": ["user:42", "device:phone"]}),
    )
    .await;
    call(&mut laptop, "tag", json!({"tags": ["user:42"]})).await;
    call(&mut other, "tag", json!({"tags": ["user:7"]})).await;

    let channels = server.lv.channels();
    channels
        .disconnect_tag("user:42", "/login?next=%2F")
        .await
        .unwrap();
    for client in [&mut phone, &mut laptop] {
        assert_eq!(
            client.recv_close_frame().await,
            (4001, "/login?next=%2F".to_owned())
        );
    }
    other.expect_silence(QUIET).await;
    let r = other.event("whoami", json!({}), json!({})).await;
    assert_eq!(
        other.recv_json().await,
        json!({"target": "#me", "html": "Some(7)", "ref": r})
    );
    server.wait_connections(1).await;

    // Only paths on this site, that fit a close reason.
    for bad in ["https://evil.example/", "//evil.example", "login"] {
        assert!(matches!(
            channels.disconnect_tag("user:7", bad).await,
            Err(SendError::BadRedirect { .. })
        ));
    }
    // A tag nobody carries is not an error.
    channels.disconnect_tag("user:404", "").await.unwrap();
    other.expect_silence(QUIET).await;
}

#[tokio::test]
async fn a_connection_expires_at_the_deadline_the_guard_or_a_handler_set() {
    let server = TestServer::start(guarded(Arc::default())).await;

    // Set by the guard: user 9's session ends 300 ms after the upgrade.
    let started = Instant::now();
    let mut short = signed_in(&server, "s", 9).await;
    assert_eq!(short.recv_close_frame().await, (4001, String::new()));
    let lived = started.elapsed();
    assert!(
        lived >= Duration::from_millis(250) && lived < Duration::from_secs(3),
        "closed after {lived:?}"
    );

    // Set by a handler, and moved: the later deadline wins.
    let mut client = signed_in(&server, "t", 5).await;
    call(&mut client, "expire", json!({"ms": 100})).await;
    call(&mut client, "expire", json!({"ms": 400})).await;
    let set = Instant::now();
    assert_eq!(client.recv_close_frame().await, (4001, String::new()));
    assert!(
        set.elapsed() >= Duration::from_millis(300),
        "closed after {:?}",
        set.elapsed()
    );
    server.wait_connections(0).await;
}
