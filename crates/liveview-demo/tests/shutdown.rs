//! The demo binary stopped as a process manager stops it (systemd, Docker
//! and Kubernetes send SIGTERM): its pages are closed with 1012, so that
//! they reconnect, rather than reset.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn sigterm_closes_the_pages_with_1012_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.sqlite3").display().to_string();
    let (mut demo, addr) = support::binary(&["--port", "0", "--db", &db]).await;

    let url = format!("ws://{addr}/ws/liveview/sigterm-test/?v=1");
    let (mut page, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");

    let pid = demo.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());

    let code = loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), page.next())
            .await
            .expect("a close frame in time");
        match frame {
            Some(Ok(Message::Close(Some(close)))) => break u16::from(close.code),
            Some(Ok(Message::Close(None))) => panic!("a close frame without a code"),
            Some(Ok(_)) => {}
            Some(Err(err)) => panic!("the page was dropped without a close frame: {err}"),
            None => panic!("the page was dropped without a close frame"),
        }
    };
    assert_eq!(code, 1012, "service restart: reconnect");
    let status = tokio::time::timeout(Duration::from_secs(10), demo.wait())
        .await
        .expect("the demo stops on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}
