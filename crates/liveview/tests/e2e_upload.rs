//! Uploads in a real Chromium: pick files, see progress and the result, and
//! see a refused file's error next to its input.

#![allow(clippy::unwrap_used, missing_docs)]

use axum::response::Html;
use axum::routing::get;
use liveview::upload::UploadConfig;
use liveview::{LiveView, Patch, Result, Uploads};
use liveview_e2e::Browser;

async fn upload_file(files: Uploads) -> Result<Patch> {
    let mut html = String::new();
    for file in files.iter() {
        let bytes = file.bytes().await?;
        let sum: u64 = bytes.iter().map(|b| u64::from(*b)).sum();
        html += &format!(
            "<li>{} {} {} sum={sum}</li>",
            file.name(),
            file.size(),
            file.content_type()
        );
    }
    Ok(Patch::html("#result", html))
}

async fn serve() -> std::net::SocketAddr {
    let lv = LiveView::builder()
        .auto_register(false)
        .handler("upload_file", upload_file)
        .uploads(
            "upload_file",
            UploadConfig::default()
                .max_file_size(1024 * 1024)
                .accept([".txt", ".bin"]),
        )
        .build()
        .unwrap();
    let page = format!(
        r#"<!DOCTYPE html><html data-room="{room}"><head>{script}</head><body>
        <form id="f" data-liveview-function="upload_file" data-action="submit->page#run">
          <input id="file" type="file" name="file" multiple>
          <ul data-liveview-upload-list="file"></ul>
          <p id="error" data-liveview-upload-error="file" hidden></p>
          <button id="send" type="submit">Upload</button>
        </form>
        <ul id="result"></ul>
        </body></html>"#,
        room = liveview::templates::new_room_id(),
        script = liveview::client::script_tag()
    );
    let app: axum::Router = axum::Router::new()
        .route("/", get(move || async move { Html(page) }))
        .merge(lv.router());
    liveview_e2e::serve(app).await
}

#[tokio::test]
async fn chosen_files_upload_and_reach_the_handler() {
    let addr = serve().await;
    let dir = std::env::temp_dir().join(format!(
        "lv-e2e-upload-{}",
        liveview::templates::new_room_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let small = dir.join("hello.txt");
    std::fs::write(&small, b"hello").unwrap();
    let big = dir.join("data.bin");
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let sum: u64 = content.iter().map(|b| u64::from(*b)).sum();
    std::fs::write(&big, &content).unwrap();
    let too_big = dir.join("huge.bin");
    std::fs::write(&too_big, vec![0u8; 2 * 1024 * 1024]).unwrap();

    Browser::run("chosen_files_upload_and_reach_the_handler", |page| async move {
        page.goto(&format!("http://{addr}/")).await;
        let files = format!("{}\n{}", small.display(), big.display());
        page.type_into("#file", &files).await;
        page.click("#send").await;
        page.wait_for_text("#result", "hello.txt 5 text/plain sum=532").await;
        page.wait_for_text("#result", &format!("data.bin 300000 application/octet-stream sum={sum}")).await;
        // Per-file progress reached the end.
        page.wait_until(
            "return [...document.querySelectorAll('.lv-upload progress')].every(p => p.value === p.max) \
             && document.querySelectorAll('.lv-upload-done').length === 2",
        )
        .await;

        page.clear("#file").await;
        page.type_into("#file", &too_big.display().to_string()).await;
        page.click("#send").await;
        page.wait_for_text("#error", "too large").await;
        assert!(!page.eval("return document.getElementById('error').hidden").await.as_bool().unwrap());
    })
    .await;
    std::fs::remove_dir_all(&dir).unwrap();
}
