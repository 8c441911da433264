//! The smallest end-to-end check: a page, a click, a patch.

#![allow(clippy::unwrap_used, missing_docs)]

use axum::response::Html;
use axum::routing::get;
use liveview::{LiveView, Patch};
use liveview_e2e::Browser;

#[tokio::test]
async fn click_updates_content_in_chromium() {
    let lv = LiveView::builder()
        .auto_register(false)
        .handler("update_content", || async {
            Patch::html("#content", "<p>Updated content</p>")
        })
        .build()
        .unwrap();
    let page = format!(
        r#"<!DOCTYPE html><html data-room="{room}"><head>{script}</head><body>
        <div id="content">Initial content</div>
        <button id="update" data-liveview-function="update_content" data-action="click->page#run">Update</button>
        </body></html>"#,
        room = liveview::templates::new_room_id(),
        script = liveview::client::script_tag()
    );
    let app: axum::Router = axum::Router::new()
        .route("/", get(move || async move { Html(page) }))
        .merge(lv.router());
    let addr = liveview_e2e::serve(app).await;

    Browser::run("click_updates_content_in_chromium", |page| async move {
        page.goto(&format!("http://{addr}/")).await;
        page.click("#update").await;
        page.wait_for_text("#content", "Updated content").await;
    })
    .await;
}
