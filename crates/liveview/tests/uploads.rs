//! File uploads over the socket: limits, errors, clean-up, isolation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use liveview::upload::UploadConfig;
use liveview::{LiveView, Patch, Result, Uploads};
use liveview_e2e::ws::{Client, TestServer};
use serde_json::{Value, json};

fn temp_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "lv-uploads-{name}-{}",
        liveview::templates::new_room_id()
    ))
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

async fn describe(files: Uploads) -> Result<Patch> {
    let mut out = Vec::new();
    for file in files.iter() {
        let bytes = file.bytes().await?;
        out.push(json!({
            "field": file.field(), "name": file.name(), "type": file.content_type(),
            "size": file.size(), "on_disk": file.path().is_some(),
            "text": String::from_utf8_lossy(&bytes[..bytes.len().min(32)]),
        }));
    }
    Ok(Patch::html("#result", Value::Array(out).to_string()))
}

async fn server(dir: &Path, config: UploadConfig) -> TestServer {
    TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .debug(false)
            .handler("upload_file", describe)
            .uploads("upload_file", config.temp_dir(dir).memory_threshold(16)),
    )
    .await
}

async fn start(client: &mut Client, id: u32, name: &str, content_type: &str, size: u64) -> Value {
    client
        .send_text(
            json!({"upload": {"op": "start", "id": id, "function": "upload_file", "field": "file",
                   "name": name, "type": content_type, "size": size}})
            .to_string(),
        )
        .await;
    client.recv_json().await
}

/// Sends `data` in chunks, reading each acknowledgement; returns the last frame.
async fn send_file(client: &mut Client, id: u32, data: &[u8], chunk: usize) -> Value {
    let mut last = Value::Null;
    for (i, piece) in data.chunks(chunk).enumerate() {
        client.send_chunk(id, (i * chunk) as u64, piece).await;
        last = client.recv_json().await;
    }
    last
}

#[tokio::test]
async fn files_reach_the_handler_with_name_type_size_and_content() {
    let dir = temp_dir("ok");
    let server = server(&dir, UploadConfig::default()).await;
    let mut client = server.client("r").await;
    assert_eq!(
        start(&mut client, 1, "small.txt", "text/plain", 5).await,
        json!({"upload": {"id": 1, "status": "ready"}})
    );
    assert_eq!(
        send_file(&mut client, 1, b"hello", 64).await,
        json!({"upload": {"id": 1, "status": "done"}})
    );
    start(&mut client, 2, "big.txt", "text/plain", 40).await;
    let big = b"0123456789012345678901234567890123456789";
    client.send_chunk(2, 0, &big[..10]).await;
    assert_eq!(
        client.recv_json().await,
        json!({"upload": {"id": 2, "received": 10}})
    );
    assert_eq!(
        send_file_from(&mut client, 2, big, 10, 10).await,
        json!({"upload": {"id": 2, "status": "done"}})
    );
    assert_eq!(files_in(&dir), 1, "the large file spilled to disk");

    client
        .send_text(r#"{"function":"upload_file","form":{},"uploads":{"file":[1,2]},"ref":5}"#)
        .await;
    let reply = client.recv_json().await;
    assert_eq!(reply["ref"], 5);
    let files: Value = serde_json::from_str(reply["html"].as_str().unwrap()).unwrap();
    assert_eq!(
        files,
        json!([
            {"field": "file", "name": "small.txt", "type": "text/plain", "size": 5, "on_disk": false, "text": "hello"},
            {"field": "file", "name": "big.txt", "type": "text/plain", "size": 40, "on_disk": true,
             "text": "01234567890123456789012345678901"}
        ])
    );
    assert_eq!(
        files_in(&dir),
        0,
        "temporary files are removed when the handler is done"
    );
    // A file can only be claimed once.
    client
        .send_text(r#"{"function":"upload_file","uploads":{"file":[1]}}"#)
        .await;
    assert_eq!(client.recv_json().await["code"], "invalid_data");
}

async fn send_file_from(
    client: &mut Client,
    id: u32,
    data: &[u8],
    from: usize,
    chunk: usize,
) -> Value {
    let mut last = Value::Null;
    let mut offset = from;
    while offset < data.len() {
        let end = (offset + chunk).min(data.len());
        client
            .send_chunk(id, offset as u64, &data[offset..end])
            .await;
        last = client.recv_json().await;
        offset = end;
    }
    last
}

#[tokio::test]
async fn limits_are_checked_by_the_server() {
    let dir = temp_dir("limits");
    let config = UploadConfig::default()
        .max_file_size(100)
        .max_files(2)
        .accept(["image/*", ".pdf"]);
    let server = server(&dir, config).await;
    let mut client = server.client("r").await;

    let too_big = start(&mut client, 1, "huge.png", "image/png", 101).await;
    assert_eq!(too_big["code"], "upload_rejected");
    assert_eq!(too_big["upload"]["id"], 1);
    assert!(
        too_big["error"].as_str().unwrap().contains("too large"),
        "{too_big}"
    );

    let wrong_type = start(&mut client, 2, "run.exe", "application/octet-stream", 10).await;
    assert_eq!(wrong_type["code"], "upload_rejected");
    assert!(
        wrong_type["error"]
            .as_str()
            .unwrap()
            .contains("not accepted"),
        "{wrong_type}"
    );

    assert_eq!(
        start(&mut client, 3, "a.png", "image/png", 1).await["upload"]["status"],
        "ready"
    );
    assert_eq!(
        start(&mut client, 4, "b.PDF", "", 1).await["upload"]["status"],
        "ready"
    );
    let third = start(&mut client, 5, "c.png", "image/png", 1).await;
    assert_eq!(third["code"], "upload_rejected");
    assert!(
        third["error"].as_str().unwrap().contains("too many files"),
        "{third}"
    );

    let server2 = TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .handler("plain", || async {}),
    )
    .await;
    let mut other = server2.client("r").await;
    other
        .send_text(r#"{"upload":{"op":"start","id":1,"function":"plain","field":"f","name":"a","type":"","size":1}}"#)
        .await;
    let refused = other.recv_json().await;
    assert_eq!(refused["code"], "upload_rejected");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("does not accept files")
    );
    assert_eq!(files_in(&dir), 0);
}

#[tokio::test]
async fn bad_chunks_get_clear_errors_and_leave_no_temporary_file() {
    let dir = temp_dir("bad");
    let server = server(&dir, UploadConfig::default()).await;
    let mut client = server.client("r").await;

    client.send_chunk(42, 0, b"data").await;
    let unknown = client.recv_json().await;
    assert_eq!(unknown["code"], "upload_failed");
    assert_eq!(unknown["upload"]["id"], 42);

    start(&mut client, 1, "a.txt", "text/plain", 100).await;
    client.send_chunk(1, 0, &[b'x'; 20]).await;
    client.recv_json().await;
    assert_eq!(files_in(&dir), 1);
    client.send_chunk(1, 50, &[b'y'; 20]).await;
    let out_of_order = client.recv_json().await;
    assert_eq!(out_of_order["code"], "upload_failed");
    assert!(
        out_of_order["error"]
            .as_str()
            .unwrap()
            .contains("out of order"),
        "{out_of_order}"
    );
    assert_eq!(
        files_in(&dir),
        0,
        "the failed upload's temporary file is gone"
    );

    start(&mut client, 2, "b.txt", "text/plain", 10).await;
    client.send_chunk(2, 0, &[b'z'; 30]).await;
    assert!(
        client.recv_json().await["error"]
            .as_str()
            .unwrap()
            .contains("larger than announced")
    );

    // An event naming an upload that never finished.
    start(&mut client, 3, "c.txt", "text/plain", 10).await;
    client
        .send_text(r#"{"function":"upload_file","uploads":{"file":[3]}}"#)
        .await;
    assert_eq!(client.recv_json().await["code"], "invalid_data");

    // Cancel removes it.
    client.send_chunk(3, 0, &[b'c'; 5]).await;
    client.recv_json().await;
    client
        .send_text(r#"{"upload":{"op":"cancel","id":3}}"#)
        .await;
    assert_eq!(
        client.recv_json().await,
        json!({"upload": {"id": 3, "status": "cancelled"}})
    );
    client.send_chunk(3, 5, &[b'c'; 5]).await;
    assert_eq!(client.recv_json().await["code"], "upload_failed");
    assert_eq!(files_in(&dir), 0);
}

#[tokio::test]
async fn a_connection_dropped_mid_upload_leaves_no_temporary_file() {
    let dir = temp_dir("drop");
    let server = server(&dir, UploadConfig::default()).await;
    let mut client = server.client("r").await;
    start(&mut client, 1, "a.bin", "", 1000).await;
    client.send_chunk(1, 0, &[7u8; 500]).await;
    client.recv_json().await;
    assert_eq!(files_in(&dir), 1);
    drop(client);
    server.wait_connections(0).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while files_in(&dir) != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "temporary file still there"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn uploads_on_two_connections_at_once_do_not_mix() {
    let dir = temp_dir("mix");
    let server = server(&dir, UploadConfig::default()).await;
    let mut a = server.client("r").await;
    let mut b = server.client("r").await;
    // Same upload id on both connections, chunks interleaved.
    start(&mut a, 1, "a.txt", "text/plain", 40).await;
    start(&mut b, 1, "b.txt", "text/plain", 40).await;
    for i in 0..4u64 {
        a.send_chunk(1, i * 10, &[b'a'; 10]).await;
        b.send_chunk(1, i * 10, &[b'b'; 10]).await;
        a.recv_json().await;
        b.recv_json().await;
    }
    for (client, letter) in [(&mut a, "a"), (&mut b, "b")] {
        client
            .send_text(r#"{"function":"upload_file","uploads":{"file":[1]}}"#)
            .await;
        let reply = client.recv_json().await;
        let files: Value = serde_json::from_str(reply["html"].as_str().unwrap()).unwrap();
        assert_eq!(files[0]["name"], format!("{letter}.txt"));
        assert_eq!(files[0]["text"], letter.repeat(32));
    }
}

#[tokio::test]
async fn handlers_see_the_progress_of_open_uploads() {
    let dir = temp_dir("progress");
    let server = TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .handler("upload_file", describe)
            .handler("progress", |ctx: liveview::Ctx| async move {
                let list: Vec<Value> = ctx
                    .upload_progress()
                    .into_iter()
                    .map(|p| json!({"id": p.id, "field": p.field, "name": p.name, "received": p.received, "size": p.size}))
                    .collect();
                Patch::html("#progress", Value::Array(list).to_string())
            })
            .uploads("upload_file", UploadConfig::default().temp_dir(&dir)),
    )
    .await;
    let mut client = server.client("r").await;
    start(&mut client, 4, "half.txt", "text/plain", 100).await;
    client.send_chunk(4, 0, &[b'h'; 50]).await;
    client.recv_json().await;
    client.event("progress", json!({}), json!({})).await;
    let reply = client.recv_json().await;
    let progress: Value = serde_json::from_str(reply["html"].as_str().unwrap()).unwrap();
    assert_eq!(
        progress,
        json!([{"id": 4, "field": "file", "name": "half.txt", "received": 50, "size": 100}])
    );
    client.send_chunk(4, 50, &[b'h'; 50]).await;
    assert_eq!(client.recv_json().await["upload"]["status"], "done");
    client.event("progress", json!({}), json!({})).await;
    assert_eq!(
        client.recv_json().await["html"],
        "[]",
        "finished uploads are no longer in progress"
    );
}
