//! Seed case 7, file handling: the files travel over the socket in chunks
//! (no `multipart/form-data` request), the handler receives them with the
//! submit event, checked against the function's limits.
//! `cargo run -p liveview --example upload`, then open http://127.0.0.1:8000.

use liveview::upload::UploadConfig;
use liveview::{Ctx, LiveView, Patch, Uploads, context};

async fn upload_file(ctx: Ctx, files: Uploads) -> liveview::Result<Patch> {
    let files: Vec<_> = files
        .field("file")
        .map(|file| context! { name => file.name(), size => file.size(), type => file.content_type() })
        .collect();
    Ok(Patch::html(
        "#result",
        ctx.render("result.html", context! { files })?,
    ))
}

fn router() -> Result<axum::Router, liveview::BuildError> {
    let lv = LiveView::builder()
        .handler("upload_file", upload_file)
        // Only functions given a config accept files; the server enforces it.
        .uploads(
            "upload_file",
            UploadConfig::default()
                .max_file_size(1024 * 1024)
                .max_files(3),
        )
        .templates(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/templates/upload"
        ))
        .build()?;
    let templates = lv.templates().clone();
    let page = move || async move { templates.page("page.html", ()) };
    Ok(axum::Router::new()
        .route("/", axum::routing::get(page))
        .merge(lv.router()))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    liveview::serve(listener, router()?).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use liveview_test::{TestApp, TestError, UploadFile};

    #[tokio::test]
    async fn files_are_uploaded_and_limits_enforced() -> Result<(), Box<dyn std::error::Error>> {
        let app = TestApp::new(super::router()?).await?;
        let mut page = app.open("/").await?;
        page.upload(
            "#file-input",
            vec![UploadFile::new("notes.txt", "text/plain", "twelve bytes")],
        )
        .await?;
        page.submit("#upload-form").await?;
        assert_eq!(
            page.text("#result"),
            "File notes.txt uploaded (12 bytes, text/plain)"
        );

        let big = UploadFile::new(
            "big.bin",
            "application/octet-stream",
            vec![0; 2 * 1024 * 1024],
        );
        page.upload("#file-input", vec![big]).await?;
        let refused = page.submit("#upload-form").await;
        assert!(
            matches!(&refused, Err(TestError::Upload { file, .. }) if file == "big.bin"),
            "{refused:?}"
        );
        Ok(())
    }
}
