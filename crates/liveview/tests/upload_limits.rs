//! Uploads cannot pin the server's memory and disk: a budget shared by all
//! connections, timeouts for idle and unclaimed uploads, private temporary
//! files, and the orphans of a killed process removed at the next start.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use liveview::protocol::MAX_CHUNK_BYTES;
use liveview::upload::UploadConfig;
use liveview::{Limits, LiveView, LiveViewBuilder, Patch, Uploads};
use liveview_e2e::ws::{Client, TestServer};
use serde_json::{Value, json};

const KIB: u64 = 1024;

async fn take(files: Uploads) -> Patch {
    let size: u64 = files.iter().map(|f| f.size()).sum();
    Patch::html("#out", size.to_string())
}

fn fresh_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("lv-{name}-{}", liveview::templates::new_room_id()))
}

fn builder(limits: Limits, config: UploadConfig) -> LiveViewBuilder {
    LiveView::builder()
        .auto_register(false)
        .handler("take", take)
        .uploads("take", config.max_file_size(4 * 1024 * KIB))
        .limits(limits)
}

async fn start(client: &mut Client, id: u32, size: u64) -> Value {
    client
        .send_text(
            json!({"upload": {"op": "start", "id": id, "function": "take", "field": "file",
                              "name": format!("f{id}.bin"), "type": "application/octet-stream", "size": size}})
            .to_string(),
        )
        .await;
    client.recv_json().await
}

/// Sends `size` bytes to upload `id`, waiting for each acknowledgement.
async fn send_all(client: &mut Client, id: u32, size: u64) -> Value {
    let data = vec![1u8; MAX_CHUNK_BYTES];
    let mut sent = 0;
    let mut last = Value::Null;
    while sent < size {
        let len = (MAX_CHUNK_BYTES as u64).min(size - sent) as usize;
        client.send_chunk(id, sent, &data[..len]).await;
        sent += len as u64;
        last = client.recv_json().await;
        assert!(last.get("error").is_none(), "{last}");
    }
    last
}

fn upload_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(upload_files(&path));
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("upload-"))
        {
            files.push(path);
        }
    }
    files
}

#[tokio::test]
async fn the_memory_budget_is_shared_by_all_connections_and_given_back() {
    let server = TestServer::start(builder(
        Limits::default().upload_memory_budget(300 * KIB),
        UploadConfig::default(),
    ))
    .await;
    let mut a = server.client("r").await;
    let mut b = server.client("r").await;
    assert_eq!(
        start(&mut a, 1, 200 * KIB).await["upload"]["status"],
        "ready"
    );
    let refused = start(&mut b, 1, 200 * KIB).await;
    assert_eq!(refused["code"], "upload_rejected", "{refused}");
    assert_eq!(refused["upload"]["id"], 1);
    let message = refused["error"].as_str().unwrap();
    assert!(
        message.contains("in memory are at their limit"),
        "{message}"
    );

    // A's file goes to its handler and is dropped after it: its bytes come back.
    assert_eq!(
        send_all(&mut a, 1, 200 * KIB).await["upload"]["status"],
        "done"
    );
    a.send_text(r#"{"function":"take","uploads":{"file":[1]},"ref":1}"#)
        .await;
    assert_eq!(a.recv().await.patch.html.as_deref(), Some("204800"));
    assert_eq!(
        start(&mut b, 2, 200 * KIB).await["upload"]["status"],
        "ready"
    );

    // B leaves mid-upload: its reservation comes back too.
    assert_eq!(start(&mut a, 3, 200 * KIB).await["code"], "upload_rejected");
    b.close().await;
    server.wait_connections(1).await;
    assert_eq!(
        start(&mut a, 3, 200 * KIB).await["upload"]["status"],
        "ready"
    );
}

#[tokio::test]
async fn the_disk_budget_is_shared_by_all_connections_and_given_back() {
    let dir = fresh_dir("disk-budget");
    let server = TestServer::start(builder(
        Limits::default().upload_disk_budget(1024 * KIB),
        UploadConfig::default().temp_dir(&dir),
    ))
    .await;
    let mut a = server.client("r").await;
    let mut b = server.client("r").await;
    assert_eq!(
        start(&mut a, 1, 800 * KIB).await["upload"]["status"],
        "ready"
    );
    send_all(&mut a, 1, 300 * KIB).await;
    let refused = start(&mut b, 1, 800 * KIB).await;
    assert_eq!(refused["code"], "upload_rejected", "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("on disk are at their limit"),
        "{refused}"
    );
    // A small one still fits in memory.
    assert_eq!(
        start(&mut b, 2, 10 * KIB).await["upload"]["status"],
        "ready"
    );
    a.send_text(r#"{"upload":{"op":"cancel","id":1}}"#).await;
    assert_eq!(a.recv_json().await["upload"]["status"], "cancelled");
    assert_eq!(
        start(&mut b, 3, 800 * KIB).await["upload"]["status"],
        "ready"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_upload_that_stops_sending_is_dropped() {
    let dir = fresh_dir("idle-upload");
    let server = TestServer::start(builder(
        Limits::default()
            .upload_idle_timeout(Duration::from_millis(300))
            .upload_disk_budget(1024 * KIB),
        UploadConfig::default().temp_dir(&dir),
    ))
    .await;
    let mut a = server.client("r").await;
    assert_eq!(
        start(&mut a, 1, 800 * KIB).await["upload"]["status"],
        "ready"
    );
    send_all(&mut a, 1, 300 * KIB).await;
    assert_eq!(upload_files(&dir).len(), 1, "spilled to disk");
    // Silence (pings keep the connection open): the upload is dropped.
    let dropped = a.recv_json().await;
    assert_eq!(dropped["code"], "upload_failed", "{dropped}");
    assert_eq!(dropped["upload"]["id"], 1);
    assert!(
        dropped["error"].as_str().unwrap().contains("no data"),
        "{dropped}"
    );
    assert!(
        upload_files(&dir).is_empty(),
        "its temporary file is deleted"
    );
    let mut b = server.client("r").await;
    assert_eq!(
        start(&mut b, 1, 800 * KIB).await["upload"]["status"],
        "ready",
        "its disk budget came back"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_finished_upload_nobody_claims_is_dropped() {
    let dir = fresh_dir("unclaimed-upload");
    let server = TestServer::start(builder(
        Limits::default().upload_unclaimed_timeout(Duration::from_millis(300)),
        UploadConfig::default().temp_dir(&dir),
    ))
    .await;
    let mut a = server.client("r").await;
    assert_eq!(
        start(&mut a, 1, 300 * KIB).await["upload"]["status"],
        "ready"
    );
    assert_eq!(
        send_all(&mut a, 1, 300 * KIB).await["upload"]["status"],
        "done"
    );
    assert_eq!(upload_files(&dir).len(), 1);
    let dropped = a.recv_json().await;
    assert_eq!(dropped["code"], "upload_failed", "{dropped}");
    assert_eq!(dropped["upload"]["id"], 1);
    assert!(
        dropped["error"].as_str().unwrap().contains("not claimed"),
        "{dropped}"
    );
    assert!(
        upload_files(&dir).is_empty(),
        "its temporary file is deleted"
    );
    a.send_text(r#"{"function":"take","uploads":{"file":[1]},"ref":1}"#)
        .await;
    assert_eq!(a.recv_json().await["code"], "invalid_data");
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[tokio::test]
async fn temporary_files_are_0600_in_a_0700_directory() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    // A directory the app names, made by the server.
    let dir = fresh_dir("private-upload");
    let server = TestServer::start(builder(
        Limits::default(),
        UploadConfig::default().temp_dir(&dir),
    ))
    .await;
    let mut a = server.client("r").await;
    start(&mut a, 1, 300 * KIB).await;
    send_all(&mut a, 1, 300 * KIB).await;
    let files = upload_files(&dir);
    assert_eq!(files.len(), 1);
    assert_eq!(mode(&dir), 0o700, "the directory");
    assert_eq!(mode(&files[0]), 0o600, "the file");
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[tokio::test]
async fn by_default_files_go_to_the_liveviews_own_private_directory() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let parent = fresh_dir("own-upload-dir");
    let server =
        TestServer::start(builder(Limits::default(), UploadConfig::default()).upload_dir(&parent))
            .await;
    let own: Vec<PathBuf> = std::fs::read_dir(&parent)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(own.len(), 1, "{own:?}");
    let own = own[0].clone();
    assert!(
        own.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(&format!("liveview-uploads-{}-", std::process::id())),
        "{own:?}"
    );
    assert_eq!(mode(&own), 0o700);
    let mut a = server.client("r").await;
    start(&mut a, 1, 300 * KIB).await;
    send_all(&mut a, 1, 300 * KIB).await;
    let files = upload_files(&own);
    assert_eq!(files.len(), 1);
    assert_eq!(mode(&files[0]), 0o600);
    a.close().await;
    server.wait_connections(0).await;
    // The directory lives as long as the LiveView.
    drop(server);
    let _ = std::fs::remove_dir_all(&parent);
}

#[tokio::test]
async fn orphans_of_a_killed_process_are_removed_at_the_next_start() {
    // A parent of this test's own: every `build()` sweeps its parent, and
    // the tests running beside this one would sweep the unlocked stand-ins
    // below out of the system's temporary directory before their turn.
    let tmp =
        std::env::temp_dir().join(format!("lv-orphans-{}", liveview::templates::new_room_id()));
    let orphan = tmp.join(format!(
        "liveview-uploads-0-killed-{}",
        liveview::templates::new_room_id()
    ));
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join(".lock"), b"").unwrap();
    std::fs::write(orphan.join("upload-left-behind"), b"someone's file").unwrap();
    // A live process holds the lock of another: it is left alone.
    let alive = tmp.join(format!(
        "liveview-uploads-1-alive-{}",
        liveview::templates::new_room_id()
    ));
    std::fs::create_dir_all(&alive).unwrap();
    std::fs::write(alive.join(".lock"), b"").unwrap();
    // `--no-fork`: the process that holds the lock is the one we kill (the
    // shell, then `sleep`, keeps the locked file open).
    let ready = alive.join("ready");
    let mut holder = std::process::Command::new("flock")
        .arg("--no-fork")
        .arg(alive.join(".lock"))
        .args(["sh", "-c", "touch \"$0\" && exec sleep 60"])
        .arg(&ready)
        .spawn()
        .map(KillOnDrop)
        .expect("flock (util-linux) holds the lock of the live stand-in");
    // Let it take the lock.
    for _ in 0..500 {
        if ready.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(ready.exists(), "flock did not start");

    let lv = builder(Limits::default(), UploadConfig::default())
        .upload_dir(&tmp)
        .build()
        .unwrap();
    assert!(!orphan.exists(), "the orphan is removed at build");
    assert!(alive.exists(), "a live process's directory is kept");
    // Killed: the kernel drops its lock, the next start removes it.
    holder.0.kill().unwrap();
    holder.0.wait().unwrap();
    let next = builder(Limits::default(), UploadConfig::default())
        .upload_dir(&tmp)
        .build()
        .unwrap();
    assert!(!alive.exists(), "removed once its process is gone");
    drop(next);
    drop(lv);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// The lock holder, killed even when an assertion fails first.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
