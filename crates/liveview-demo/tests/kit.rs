//! The demo's cases through the test kit (in-process, no browser): what
//! each handler answers and how the page changes. The Chromium tests
//! (e2e.rs) keep what only a browser shows: debounce timing, history,
//! focus, presence in two real browsers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use liveview_test::{TestApp, UploadFile};
use support::Demo;

#[tokio::test]
async fn every_function_the_templates_name_has_a_handler() {
    let demo = Demo::start().await;
    assert_eq!(demo.lv.check_templates(), vec![]);
}

#[tokio::test]
async fn click_form_search_navigation_chat_and_upload() {
    let demo = Demo::start().await;
    let app = TestApp::at(demo.addr);

    let mut page = app.open("/click").await.unwrap();
    assert!(page.text("#content").contains("Initial content"));
    page.click("#update").await.unwrap();
    assert!(
        page.text("#content")
            .contains("Clicked 1 time on this page")
    );
    page.click("#update").await.unwrap();
    assert!(page.text("#content").contains("Clicked 2 times"));

    let mut page = app.open("/form").await.unwrap();
    page.fill("#email-input", "nobody").await.unwrap();
    page.submit("#email-form").await.unwrap();
    assert!(page.text("#errors").contains("Invalid email"));
    page.fill("#email-input", "ada@example.com").await.unwrap();
    page.click("#email-form button[type=submit]").await.unwrap();
    assert!(page.text("#errors").contains("Valid email"));
    page.submit("#signup").await.unwrap();
    assert!(
        page.text("#signup-result").contains("fix the 5 fields"),
        "{}",
        page.text("#signup-result")
    );

    let mut page = app.open("/search").await.unwrap();
    assert!(page.text("#results").contains("Type to search"));
    page.fill("#search-input", "sqlite").await.unwrap();
    assert!(
        page.text("#results")
            .contains("120 titles contain “sqlite”"),
        "{}",
        page.text("#results")
    );

    let mut page = app.open("/navigation").await.unwrap();
    page.click("#content a[href='/about']").await.unwrap();
    assert!(
        page.text("#content")
            .contains("liveview is a Rust framework")
    );
    assert_eq!(page.path(), "/about");
    assert!(page.title().contains("About"), "{}", page.title());

    let mut alice = app.open("/chat").await.unwrap();
    let mut bob = app.open("/chat").await.unwrap();
    // The page's script joins the chat on connect; the kit runs no script, so the test sends it.
    for page in [&mut alice, &mut bob] {
        page.send(
            "join_chat",
            serde_json::json!({"after": "0"}),
            serde_json::json!({}),
        )
        .await
        .unwrap();
        assert!(
            page.text("#chat-presence").contains("Live"),
            "{}",
            page.text("#chat-presence")
        );
    }
    alice.fill("#chat-author", "Alice").await.unwrap();
    alice
        .fill("#chat-message", "Hello from Alice")
        .await
        .unwrap();
    alice.submit("#chat-form").await.unwrap();
    bob.wait_for_text("#messages", "Hello from Alice")
        .await
        .unwrap();
    assert!(alice.text("#messages").contains("Hello from Alice"));

    let mut page = app.open("/upload").await.unwrap();
    let input = "form input[type=file]";
    page.upload(
        input,
        vec![UploadFile::new("notes.txt", "text/plain", "some notes")],
    )
    .await
    .unwrap();
    page.submit(input).await.unwrap();
    assert!(page.document().contains("notes.txt"), "{}", page.document());
}
