//! `liveview::serve`: request heads have a deadline (slowloris), the HTTP
//! phase is bounded, upgraded sockets leave it, and shutdown is graceful.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use liveview::{LiveView, Patch, Serve};
use liveview_e2e::ws::Client;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

struct Running {
    addr: SocketAddr,
    lv: LiveView,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(configure: impl FnOnce(Serve) -> Serve) -> Running {
    let lv = LiveView::builder()
        .auto_register(false)
        .handler("hello", || async { Patch::html("#x", "hi") })
        .build()
        .unwrap();
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "page" }))
        .merge(lv.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = configure(liveview::serve(listener, app)).with_graceful_shutdown(lv.shutdown_on(
        async move {
            let _ = stopped.await;
        },
    ));
    let done = tokio::spawn(server.into_future());
    Running {
        addr,
        lv,
        stop: Some(stop),
        done,
    }
}

/// Reads until the server closes the socket; how long that took.
async fn time_to_close(mut stream: TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("the server kept a silent socket open for {limit:?}"),
        }
    }
}

fn ws_url(addr: SocketAddr) -> String {
    format!("ws://{addr}/ws/liveview/room/?v=1")
}

#[tokio::test]
async fn a_silent_socket_is_closed_after_the_header_timeout() {
    let server = start(|s| s.header_timeout(Duration::from_millis(300))).await;
    let silent = TcpStream::connect(server.addr).await.unwrap();
    let took = time_to_close(silent, Duration::from_secs(3)).await;
    assert!(
        took >= Duration::from_millis(250),
        "closed too early: {took:?}"
    );
}

#[tokio::test]
async fn a_trickled_request_head_is_cut_off() {
    let server = start(|s| s.header_timeout(Duration::from_millis(400))).await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let started = Instant::now();
    // One byte every 100 ms: each byte would reset an idle timer, not this deadline.
    let mut closed = false;
    for byte in b"Host: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if slow.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        let mut probe = [0u8; 256];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(1), slow.read(&mut probe)).await
        {
            if n == 0 || probe[..n].starts_with(b"HTTP/1.1 408") {
                closed = true;
                break;
            }
        }
    }
    assert!(
        closed,
        "a trickled head was still open after {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn pages_and_live_events_are_served() {
    let server = start(|s| s).await;
    let (status, _, body) = liveview_e2e::http_get(server.addr, "/").await;
    assert_eq!((status, body.as_str()), (200, "page"));
    let mut client = Client::connect(&ws_url(server.addr), None).await.unwrap();
    let r = client.event("hello", json!({}), json!({})).await;
    assert_eq!(
        client.recv_json().await,
        json!({"target": "#x", "html": "hi", "ref": r})
    );
}

#[tokio::test]
async fn the_http_phase_is_bounded_and_upgraded_sockets_leave_it() {
    let server = start(|s| s.max_pending(2).header_timeout(Duration::from_secs(30))).await;
    // Upgraded sockets do not hold a slot: many fit through two.
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(Client::connect(&ws_url(server.addr), None).await.unwrap());
    }
    assert_eq!(server.lv.connection_count(), 5);
    // Two silent sockets fill the HTTP phase; a third connection waits.
    let first = TcpStream::connect(server.addr).await.unwrap();
    let _second = TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let waiting = tokio::spawn(async move { Client::connect(&ws_url(server.addr), None).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "a third connection was served past the bound"
    );
    // A slot frees: the waiting one is served.
    drop(first);
    let client = tokio::time::timeout(Duration::from_secs(3), waiting)
        .await
        .expect("served once a slot freed")
        .unwrap()
        .unwrap();
    drop(client);
}

#[tokio::test]
async fn shutdown_closes_pages_with_1012_and_returns() {
    let mut server = start(|s| s).await;
    let mut client = Client::connect(&ws_url(server.addr), None).await.unwrap();
    let idle_http = TcpStream::connect(server.addr).await.unwrap();
    server.stop.take().unwrap().send(()).unwrap();
    assert_eq!(client.recv_close().await, 1012);
    let result = tokio::time::timeout(Duration::from_secs(5), server.done)
        .await
        .expect("serve returns after the shutdown")
        .unwrap();
    assert!(result.is_ok());
    drop(idle_http);
}

/// The upgrade status of a new WebSocket: 101, or the refusal's status and
/// `Retry-After`.
async fn upgrade_status(addr: SocketAddr) -> (u16, Option<String>, Option<Client>) {
    match Client::connect(&ws_url(addr), None).await {
        Ok(client) => (101, None, Some(client)),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => (
            response.status().as_u16(),
            response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            None,
        ),
        Err(err) => panic!("unexpected error {err}"),
    }
}

#[tokio::test]
async fn new_connections_beyond_the_per_address_cap_get_429_until_the_refill() {
    // 4 at once, then 2 a second: a token every 500 ms.
    let lv = LiveView::builder()
        .auto_register(false)
        .limits(liveview::Limits::default().connections_per_address(Some((2, 4))))
        .handler("hello", || async { Patch::html("#x", "hi") })
        .build()
        .unwrap();
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "page" }))
        .merge(lv.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(liveview::serve(listener, app).into_future());

    let started = Instant::now();
    let mut open = Vec::new();
    let mut refused = Vec::new();
    for _ in 0..8 {
        match upgrade_status(addr).await {
            (101, _, Some(client)) => open.push(client),
            (status, retry_after, _) => refused.push((status, retry_after)),
        }
    }
    // However slow this machine, 8 upgrades in under 2 s exceed 4 + 2/s.
    if started.elapsed() < Duration::from_secs(1) {
        assert!(open.len() <= 5, "{} accepted", open.len());
        assert!(refused.len() >= 3, "{refused:?}");
    }
    assert!(!refused.is_empty(), "the burst was refused in part");
    for (status, retry_after) in &refused {
        assert_eq!(*status, 429);
        assert_eq!(retry_after.as_deref(), Some("1"));
    }
    // The connections already open keep working, and so does plain HTTP.
    for client in &mut open {
        let r = client.event("hello", json!({}), json!({})).await;
        assert_eq!(
            client.recv_json().await,
            json!({"target": "#x", "html": "hi", "ref": r})
        );
    }
    let (status, _, body) = liveview_e2e::http_get(addr, "/").await;
    assert_eq!((status, body.as_str()), (200, "page"));
    // After the refill (Retry-After: 1), a new connection is accepted.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _, client) = upgrade_status(addr).await;
    assert_eq!(status, 101);
    let mut client = client.unwrap();
    let r = client.event("hello", json!({}), json!({})).await;
    assert_eq!(
        client.recv_json().await,
        json!({"target": "#x", "html": "hi", "ref": r})
    );
}

#[tokio::test]
async fn handlers_and_routes_see_the_peer_address() {
    let lv = LiveView::builder().auto_register(false).build().unwrap();
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(
                |axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>| async move {
                    peer.ip().to_string()
                },
            ),
        )
        .merge(lv.router());
    let addr = liveview_e2e::serve(app).await;
    let (status, _, body) = liveview_e2e::http_get(addr, "/").await;
    assert_eq!((status, body.as_str()), (200, "127.0.0.1"));
}
