//! Seed case 1, update content with a click: a button runs a handler, the
//! handler's patch replaces `#content`.
//! `cargo run -p liveview --example click`, then open http://127.0.0.1:8000.

use liveview::{LiveView, Patch};

/// `@liveview_handler("update_content")`: no route of its own, the socket carries it.
async fn update_content() -> liveview::Result<Patch> {
    Ok(Patch::html("#content", "<p>Updated content</p>"))
}

fn router() -> Result<axum::Router, liveview::BuildError> {
    let lv = LiveView::builder()
        .handler("update_content", update_content)
        .templates(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/templates/click"
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
    use liveview_test::TestApp;

    #[tokio::test]
    async fn a_click_updates_the_content() -> Result<(), Box<dyn std::error::Error>> {
        let app = TestApp::new(super::router()?).await?;
        let mut page = app.open("/").await?;
        assert_eq!(page.text("#content"), "Initial content");
        page.click("#update").await?;
        assert_eq!(page.html("#content"), "<p>Updated content</p>");
        Ok(())
    }
}
