//! The demo binary stopped as a process manager stops it (systemd, Docker
//! and Kubernetes send SIGTERM): its pages are closed with 1012, so that
//! they reconnect, rather than reset.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::process::Stdio;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn sigterm_closes_the_pages_with_1012_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = tokio::process::Command::new(env!("CARGO_BIN_EXE_liveview-demo"))
        .args(["--host", "127.0.0.1", "--port", "0", "--db"])
        .arg(dir.path().join("demo.sqlite3"))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("LIVEVIEW_REDIS")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the demo binary");
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the demo starts in time")
            .unwrap()
            .expect("the demo logs its address");
        if let Some(at) = line.find("http://") {
            let rest = &line[at + "http://".len()..];
            break rest[..rest.find('/').unwrap()].to_owned();
        }
    };
    // Keep reading its log, so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

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
