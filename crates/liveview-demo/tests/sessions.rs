//! The demo's pages keep their session across processes on one Redis: a
//! deploy (SIGTERM, then a new process on the same port) and a node killed
//! without warning (SIGKILL; the page's socket comes back to the other
//! node). Spoken at the protocol level, as the browser client speaks it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::time::Duration;

use liveview_e2e::redis::RedisServer;
use liveview_e2e::session::SessionClient;
use serde_json::json;
use tokio::process::Child;

/// The demo binary on `port` (0: any), on `redis` and the database `db`;
/// returns the process and its address.
async fn demo(
    redis: &RedisServer,
    db: &std::path::Path,
    port: u16,
) -> (Child, std::net::SocketAddr) {
    let (port, redis, db) = (port.to_string(), redis.url(), db.display().to_string());
    support::binary(&["--port", &port, "--redis", &redis, "--db", &db]).await
}

/// Clicks the first case's button; returns the count the server rendered.
async fn click(page: &mut SessionClient) -> u32 {
    let r = page.event("update_content", json!({})).await;
    // Pushes (the visitors widget, figures) come and go meanwhile.
    let html = loop {
        let frame = page.recv().await;
        if frame.reference == Some(r) {
            break frame.patch.html.unwrap_or_default();
        }
    };
    let at = html.find("Clicked ").expect("the click count") + "Clicked ".len();
    html[at..].split(' ').next().unwrap().parse().unwrap()
}

async fn signal(child: &Child, name: &str) {
    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args([name, &pid])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[tokio::test]
async fn a_deploy_keeps_every_page_s_state() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.sqlite3");
    // A port outside the kernel's ephemeral range, so that no other test's
    // socket takes it while no process listens there.
    let port = liveview_e2e::free_port();
    let (mut old, addr) = demo(&redis, &db, port).await;
    let mut page = SessionClient::connect(addr, "deploy-page").await;
    assert_eq!(click(&mut page).await, 1);
    assert_eq!(click(&mut page).await, 2);
    signal(&old, "-TERM").await;
    assert_eq!(
        page.raw().recv_close().await,
        1012,
        "the old process says it restarts"
    );
    let status = tokio::time::timeout(Duration::from_secs(10), old.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    let (_new, same) = demo(&redis, &db, addr.port()).await;
    assert_eq!(same, addr);
    let info = page.resume().await;
    assert!(info.resumed, "{info:?}");
    assert_eq!(click(&mut page).await, 3);
}

#[tokio::test]
async fn a_killed_node_s_pages_resume_on_the_other_with_their_last_answered_state() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.sqlite3");
    let ((mut a, a_addr), (_b, b_addr)) = tokio::join!(demo(&redis, &db, 0), demo(&redis, &db, 0));
    let mut page = SessionClient::connect(a_addr, "killed-page").await;
    for n in 1..=3 {
        assert_eq!(click(&mut page).await, n);
    }
    // Written through within 50 ms of each answer.
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&a, "-KILL").await;
    a.wait().await.unwrap();
    let info = page.resume_at(b_addr).await;
    assert!(info.resumed, "{info:?}");
    assert_eq!(click(&mut page).await, 4);
}
