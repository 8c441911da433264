//! The demo's pages keep their session across processes on one Redis: a
//! deploy (SIGTERM, then a new process on the same port) and a node killed
//! without warning (SIGKILL; the page's socket comes back through a TCP
//! proxy to the other node). Spoken at the protocol level, as the browser
//! client speaks it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use liveview_e2e::proxy::TcpProxy;
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

async fn signal(child: &Child, name: &str) {
    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args([name, &pid])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// The count a click's answer rendered ("Clicked N time(s) on this page").
fn clicked(html: &str) -> u32 {
    let at = html.find("Clicked ").expect("the click count") + "Clicked ".len();
    html[at..].split(' ').next().unwrap().parse().unwrap()
}

/// Reads the page's frames until the answer to event `r`; its count, or
/// the close code if the socket closes first. Pushes (the visitors widget,
/// the figures) come and go meanwhile; an answer to another event is a
/// failure: every event is answered once, in order.
async fn answer(page: &mut SessionClient, r: u64) -> Result<u32, u16> {
    loop {
        let frame = page.recv_or_close().await?;
        match frame.reference {
            Some(reference) if reference == r => {
                return Ok(clicked(&frame.patch.html.unwrap_or_default()));
            }
            Some(other) => panic!("an answer to event {other} while waiting for {r}"),
            None => {}
        }
    }
}

/// Reads the page's frames until every event of `wanted` has its answer in
/// `answers` (`None`), or the socket closes first (its code). A second
/// answer to an event, or one to an event not wanted, is a failure.
async fn read_answers(
    page: &mut SessionClient,
    answers: &mut BTreeMap<u64, u32>,
    wanted: &[u64],
) -> Option<u16> {
    while !wanted.iter().all(|r| answers.contains_key(r)) {
        let frame = match page.recv_or_close().await {
            Ok(frame) => frame,
            Err(code) => return Some(code),
        };
        let Some(reference) = frame.reference else {
            continue;
        };
        assert!(
            wanted.contains(&reference),
            "an answer to event {reference}"
        );
        let count = clicked(&frame.patch.html.unwrap_or_default());
        let earlier = answers.insert(reference, count);
        assert!(earlier.is_none(), "event {reference} answered twice");
    }
    None
}

/// Clicks the first case's button; returns the count the server rendered.
async fn click(page: &mut SessionClient) -> u32 {
    let r = page.event("update_content", json!({})).await;
    answer(page, r).await.expect("the socket stays open")
}

/// Two processes on one Redis; one is deployed anew (SIGTERM, then a new
/// process on its port) while one of its pages has events in flight. Its
/// pages resume on the new process with their counts, each event is
/// answered once, and the other process's page never notices.
#[tokio::test]
async fn a_deploy_keeps_every_page_s_state() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.sqlite3");
    // A port outside the kernel's ephemeral range, so that no other test's
    // socket takes it while no process listens there.
    let port = liveview_e2e::free_port();
    let ((mut old, addr), (_other, other_addr)) =
        tokio::join!(demo(&redis, &db, port), demo(&redis, &db, 0));
    let mut busy = SessionClient::connect(addr, "deploy-busy").await;
    let mut quiet = SessionClient::connect(addr, "deploy-quiet").await;
    let mut elsewhere = SessionClient::connect(other_addr, "deploy-elsewhere").await;
    assert_eq!(click(&mut busy).await, 1);
    assert_eq!(click(&mut busy).await, 2);
    assert_eq!(click(&mut quiet).await, 1);
    assert_eq!(click(&mut elsewhere).await, 1);

    // Mid-use: one click sent just before the SIGTERM, one just after;
    // neither answer read yet.
    let third = busy.event("update_content", json!({})).await;
    signal(&old, "-TERM").await;
    let fourth = busy.event("update_content", json!({})).await;
    // Each is answered once: by the old process before it closes the
    // socket (1012: it restarts), or after the resume, from the session or
    // by the new process.
    let mut answers = BTreeMap::new();
    let wanted = [third, fourth];
    if read_answers(&mut busy, &mut answers, &wanted)
        .await
        .is_none()
    {
        // Both answered: the next thing is the close (an answer to either,
        // again, fails in `answer`).
        assert_eq!(answer(&mut busy, u64::MAX).await, Err(1012));
    }
    let before_close = answers.len();
    assert_eq!(quiet.raw().recv_close().await, 1012);
    // The other process's page goes on meanwhile.
    assert_eq!(click(&mut elsewhere).await, 2);
    let status = tokio::time::timeout(Duration::from_secs(10), old.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");

    let (_new, same) = demo(&redis, &db, port).await;
    assert_eq!(same, addr);
    for page in [&mut busy, &mut quiet] {
        let info = page.resume().await;
        assert!(info.resumed, "{info:?}");
    }
    assert_eq!(read_answers(&mut busy, &mut answers, &wanted).await, None);
    eprintln!("{before_close} of the 2 clicks in flight answered before the close");
    assert_eq!(answers, BTreeMap::from([(third, 3), (fourth, 4)]));
    assert_eq!(click(&mut busy).await, 5);
    assert_eq!(click(&mut quiet).await, 2);
    assert_eq!(click(&mut elsewhere).await, 3);
}

/// A node dies without warning (SIGKILL): the page's socket comes back
/// through the same address (a TCP proxy in front, as a load balancer
/// would be) to the other node, which resumes it from Redis with the state
/// of its last answered event.
#[tokio::test]
async fn a_killed_node_s_pages_resume_on_the_other_with_their_last_answered_state() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.sqlite3");
    let ((mut a, a_addr), (_b, b_addr)) = tokio::join!(demo(&redis, &db, 0), demo(&redis, &db, 0));
    let proxy = TcpProxy::start(a_addr.port()).await;
    let mut page = SessionClient::connect(proxy.addr(), "killed-page").await;
    for n in 1..=3 {
        assert_eq!(click(&mut page).await, n);
    }
    // Written through within 50 ms of each answer.
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&a, "-KILL").await;
    a.wait().await.unwrap();
    // The balancer sends new connections to the node that is left.
    proxy.retarget(b_addr.port());
    let info = page.resume().await;
    assert!(info.resumed, "{info:?}");
    assert_eq!(click(&mut page).await, 4);
}
