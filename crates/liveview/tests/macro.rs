//! `#[liveview::handler]` registers functions with every builder.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use liveview::{Ctx, Form, LiveView, Patch, Result};
use liveview_e2e::ws::TestServer;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct Query {
    query: String,
}

/// Registered under an explicit name, like Django LiveView's decorator.
#[liveview::handler("search")]
async fn search(ctx: Ctx, Form(q): Form<Query>) -> Result<Patch> {
    let html = ctx.render_str_for_test(&q.query)?;
    Ok(Patch::html("#results", html))
}

trait RenderForTest {
    fn render_str_for_test(&self, query: &str) -> Result<String>;
}

impl RenderForTest for Ctx {
    fn render_str_for_test(&self, query: &str) -> Result<String> {
        let lv = LiveView::builder().auto_register(false).build()?;
        Ok(lv
            .templates()
            .render_str("<li>{{ q }}</li>", liveview::context! { q => query })?)
    }
}

/// Registered under its own name.
#[liveview::handler]
async fn update_content() -> Patch {
    Patch::html("#content", "<p>Updated content</p>")
}

#[tokio::test]
async fn attribute_handlers_register_themselves() {
    let lv = LiveView::builder().build().unwrap();
    assert_eq!(lv.handler_names(), vec!["search", "update_content"]);
    let server = TestServer::start(LiveView::builder()).await;
    let mut client = server.client("r").await;
    client
        .event("search", json!({}), json!({"query": "<rust>"}))
        .await;
    assert_eq!(
        client.recv().await.patch.html.as_deref(),
        Some("<li>&lt;rust&gt;</li>"),
        "rendered through an autoescaping template"
    );
    client.event("update_content", json!({}), json!({})).await;
    assert_eq!(
        client.recv().await.patch.html.as_deref(),
        Some("<p>Updated content</p>")
    );
}

#[tokio::test]
async fn explicit_registration_overrides_and_duplicates_fail() {
    let lv = LiveView::builder()
        .handler("search", || async { Patch::html("#results", "override") })
        .build()
        .unwrap();
    assert_eq!(lv.handler_names(), vec!["search", "update_content"]);
    let twice = LiveView::builder()
        .handler("x", || async {})
        .handler("x", || async {})
        .build();
    assert!(matches!(twice, Err(liveview::BuildError::DuplicateHandler { name }) if name == "x"));
    let bad = LiveView::builder().handler("", || async {}).build();
    assert!(matches!(
        bad,
        Err(liveview::BuildError::BadHandlerName { .. })
    ));
    let missing = LiveView::builder()
        .templates("/definitely/not/here")
        .build();
    assert!(matches!(
        missing,
        Err(liveview::BuildError::TemplatesDir { .. })
    ));
}
