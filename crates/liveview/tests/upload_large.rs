//! A 50 MB upload streams to disk: the server's memory stays far below the
//! file's size. Alone in its test binary so the process's memory is its own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use liveview::protocol::MAX_CHUNK_BYTES;
use liveview::upload::UploadConfig;
use liveview::{LiveView, Patch, Result, Uploads};
use liveview_e2e::ws::TestServer;
use serde_json::json;
use tokio::io::AsyncReadExt;

const SIZE: u64 = 50 * 1024 * 1024;

fn byte_at(offset: u64) -> u8 {
    (offset % 251) as u8
}

/// Reads the file back in small pieces and checks every byte.
async fn verify(files: Uploads) -> Result<Patch> {
    let file = files
        .iter()
        .next()
        .ok_or_else(|| liveview::Error::user("no file"))?;
    let path = file
        .path()
        .ok_or_else(|| liveview::Error::user("not on disk"))?;
    let mut reader = tokio::fs::File::open(path).await?;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut offset = 0u64;
    let mut mismatches = 0u64;
    loop {
        let n = reader.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        for byte in &buffer[..n] {
            if *byte != byte_at(offset) {
                mismatches += 1;
            }
            offset += 1;
        }
    }
    Ok(Patch::html(
        "#result",
        format!("{} {offset} {mismatches}", file.size()),
    ))
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_50_mb_upload_streams_to_disk() {
    let dir = std::env::temp_dir().join(format!(
        "lv-uploads-large-{}",
        liveview::templates::new_room_id()
    ));
    let server = TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .handler("verify", verify)
            .uploads(
                "verify",
                UploadConfig::default().max_file_size(SIZE).temp_dir(&dir),
            ),
    )
    .await;
    let mut client = server.client("r").await;
    let before = peak_rss_kib();

    client
        .send_text(json!({"upload": {"op": "start", "id": 1, "function": "verify", "field": "file",
                                     "name": "big.bin", "type": "application/octet-stream", "size": SIZE}})
            .to_string())
        .await;
    assert_eq!(client.recv_json().await["upload"]["status"], "ready");

    // Keep four chunks in flight, as the browser client does.
    let chunk = MAX_CHUNK_BYTES as u64;
    let mut sent = 0u64;
    let mut acknowledged = 0u64;
    let mut data = vec![0u8; MAX_CHUNK_BYTES];
    let mut last = serde_json::Value::Null;
    while acknowledged < SIZE {
        while sent < SIZE && sent - acknowledged < 4 * chunk {
            let len = chunk.min(SIZE - sent) as usize;
            for (i, byte) in data[..len].iter_mut().enumerate() {
                *byte = byte_at(sent + i as u64);
            }
            client.send_chunk(1, sent, &data[..len]).await;
            sent += len as u64;
        }
        last = client.recv_json().await;
        assert!(last.get("error").is_none(), "{last}");
        acknowledged = last["upload"]["received"].as_u64().unwrap_or(SIZE);
    }
    assert_eq!(last["upload"]["status"], "done");

    client
        .send_text(r#"{"function":"verify","uploads":{"file":[1]},"ref":1}"#)
        .await;
    let reply = client.recv_json().await;
    assert_eq!(
        reply["html"],
        format!("{SIZE} {SIZE} 0"),
        "every byte arrived, in order"
    );

    let growth_mib = (peak_rss_kib() - before) as f64 / 1024.0;
    eprintln!("peak resident memory grew by {growth_mib:.1} MiB during a 50 MiB upload");
    assert!(
        growth_mib < 16.0,
        "memory grew by {growth_mib:.1} MiB: the upload was held in memory"
    );
    assert_eq!(
        std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0),
        0,
        "temporary file removed"
    );
}
