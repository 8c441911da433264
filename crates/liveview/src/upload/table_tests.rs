//! Unit tests of the upload table.
use super::*;

fn configs(config: UploadConfig) -> HashMap<Box<str>, UploadConfig> {
    HashMap::from([(Box::from("up"), config)])
}

fn start(id: u32, size: u64) -> UploadRequest {
    UploadRequest::Start {
        id,
        function: "up".into(),
        field: "file".into(),
        name: "a.txt".into(),
        content_type: "text/plain".into(),
        size,
    }
}

fn chunk(id: u32, offset: u64, data: &[u8]) -> Vec<u8> {
    Chunk::encode(id, offset, data)
}

#[test]
fn accept_patterns() {
    let config = UploadConfig::default().accept(["image/*", ".pdf", "text/csv"]);
    assert!(config.accepts("a.png", "image/png"));
    assert!(config.accepts("a.pdf", "application/pdf"));
    assert!(config.accepts("data.csv", "text/csv"));
    assert!(!config.accepts("a.txt", "text/plain"));
    assert!(!config.accepts("imagefile", "imagex/png"));
    assert!(UploadConfig::default().accepts("anything", ""));
}

#[tokio::test]
async fn small_uploads_stay_in_memory_and_large_ones_spill_to_disk() {
    let dir =
        std::env::temp_dir().join(format!("lv-upload-test-{}", uuid::Uuid::new_v4().simple()));
    let configs = configs(UploadConfig::default().memory_threshold(8).temp_dir(&dir));
    let mut table = UploadTable::default();
    table.start(start(1, 4), &configs).await.unwrap();
    assert!(matches!(
        table.chunk(&chunk(1, 0, b"abcd")).await,
        Ok((1, ChunkOutcome::Done))
    ));
    table.start(start(2, 12), &configs).await.unwrap();
    assert!(matches!(
        table.chunk(&chunk(2, 0, b"0123456")).await,
        Ok((2, ChunkOutcome::Progress(7)))
    ));
    assert!(matches!(
        table.chunk(&chunk(2, 7, b"789ab")).await,
        Ok((2, ChunkOutcome::Done))
    ));
    let event = Event::from_json(r#"{"function":"up","uploads":{"file":[1,2]}}"#).unwrap();
    let files = table.claim(&event).unwrap();
    assert_eq!(files[0].bytes().await.unwrap(), Bytes::from_static(b"abcd"));
    assert!(files[0].path().is_none());
    let path = files[1].path().unwrap().to_owned();
    assert_eq!(std::fs::read(&path).unwrap(), b"0123456789ab".to_vec());
    drop(files);
    assert!(!path.exists(), "temporary file removed on drop");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn bad_chunks_fail_and_leave_nothing() {
    let dir =
        std::env::temp_dir().join(format!("lv-upload-test-{}", uuid::Uuid::new_v4().simple()));
    let configs = configs(
        UploadConfig::default()
            .memory_threshold(2)
            .temp_dir(&dir)
            .max_files(2),
    );
    let mut table = UploadTable::default();
    assert!(
        table.chunk(&chunk(9, 0, b"x")).await.is_err(),
        "unknown upload"
    );
    assert!(table.chunk(b"short").await.is_err(), "no header");
    table.start(start(1, 10), &configs).await.unwrap();
    table.chunk(&chunk(1, 0, b"abc")).await.unwrap();
    let err = table.chunk(&chunk(1, 5, b"x")).await.err().unwrap();
    assert_eq!(err.1.code(), liveview_protocol::ErrorCode::UploadFailed);
    assert!(
        table.open.is_empty(),
        "an out-of-order chunk drops the upload"
    );
    table.start(start(2, 2), &configs).await.unwrap();
    assert!(
        table.chunk(&chunk(2, 0, b"abc")).await.is_err(),
        "past the announced size"
    );
    assert_eq!(
        std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0),
        0,
        "no temp file left"
    );
    // Limits at start.
    assert!(
        table
            .start(start(3, 11 * 1024 * 1024), &configs)
            .await
            .is_err()
    );
    let mut other = start(4, 1);
    if let UploadRequest::Start { function, .. } = &mut other {
        *function = "nope".into();
    }
    assert!(table.start(other, &configs).await.is_err());
    table.start(start(5, 1), &configs).await.unwrap();
    table.start(start(6, 1), &configs).await.unwrap();
    assert!(
        table.start(start(7, 1), &configs).await.is_err(),
        "max files"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
