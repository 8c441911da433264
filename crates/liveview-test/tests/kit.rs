//! The kit against a real app: broadcasts between two pages, pushes,
//! uploads, navigation patches, init events, keyboard maps, debounce, and
//! every failure with the message it prints.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use axum::response::Html;
use liveview::upload::UploadConfig;
use liveview::{Ctx, Event, LiveView, Patch, Uploads};
use liveview_test::{TestApp, TestError, UploadFile};

const BODY: &str = r##"
<div id="map" data-liveview-keyboard-map='{"ctrl+k": "palette"}'></div>
<nav><a id="about" href="#" data-liveview-function="about" data-action="click->page#run">About</a>
     <a id="plain" href="/second">Second page</a></nav>
<main id="content"><p>Home</p></main>
<button id="hello" data-liveview-function="hello" data-action="click->page#run" data-name="Ada">Hello</button>
<button id="say" data-liveview-function="say" data-action="click->page#run">Say</button>
<button id="nothing">Nothing</button>
<button id="no-function" data-action="click->page#run">No function</button>
<button id="typo" data-liveview-function="helo" data-action="click->page#run">Typo</button>
<button id="slow" data-liveview-function="slow" data-action="click->page#run">Slow</button>
<form id="signup" data-liveview-function="fail" data-action="submit->page#run">
  <p id="form-error" data-liveview-error hidden></p><input name="email"><button>Go</button>
</form>
<form id="up" data-liveview-function="upload" data-action="submit->page#run">
  <input type="file" name="file" multiple><button>Send</button>
</form>
<input id="q" name="q" data-liveview-function="count" data-action="input->page#run" data-liveview-debounce="400">
<ul id="log"></ul><div id="lazy" data-liveview-init="lazy"></div><p id="lazy-out"></p>
"##;

async fn hello(Event { data, .. }: Event) -> liveview::Result<Patch> {
    Ok(Patch::html(
        "#content",
        format!("<p>Hello, {}</p>", data["name"].as_str().unwrap_or("?")),
    ))
}

fn router() -> axum::Router {
    let lv = LiveView::builder()
        .auto_register(false)
        .handler("hello", hello)
        .handler("about", || async {
            Ok::<_, liveview::Error>(
                Patch::html("#content", "<h1>About</h1>")
                    .with_url("/about")
                    .with_title("About us"),
            )
        })
        .handler("say", |ctx: Ctx| async move {
            ctx.broadcast(Patch::append("#log", "<li>said</li>"))
                .await?;
            Ok::<_, liveview::Error>(())
        })
        .handler("palette", || async {
            Ok::<_, liveview::Error>(Patch::html("#content", "palette"))
        })
        .handler("slow", || async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok::<_, liveview::Error>(())
        })
        .handler("fail", || async {
            Err::<(), _>(liveview::Error::user("that email is taken"))
        })
        .handler("count", |Event { form, .. }: Event| async move {
            Ok::<_, liveview::Error>(Patch::append(
                "#log",
                format!("<li>{}</li>", form["q"].as_str().unwrap_or("")),
            ))
        })
        .handler("lazy", || async {
            Ok::<_, liveview::Error>(Patch::html("#lazy-out", "loaded"))
        })
        .handler("upload", |files: Uploads| async move {
            let mut html = String::new();
            for file in files.field("file") {
                html += &format!(
                    "<li>{} {} {}</li>",
                    file.name(),
                    file.size(),
                    file.content_type()
                );
            }
            Ok::<_, liveview::Error>(Patch::html("#log", html))
        })
        .uploads("upload", UploadConfig::default())
        .build()
        .unwrap();
    let page = |path: &'static str| {
        move || async move {
            let room = liveview::templates::new_room_id();
            let title = if path == "/" { "Home" } else { "Second" };
            Html(format!(
                r#"<!DOCTYPE html><html lang="en" data-room="{room}"><head><title>{title}</title></head><body>{BODY}</body></html>"#
            ))
        }
    };
    axum::Router::new()
        .route("/", axum::routing::get(page("/")))
        .route("/second", axum::routing::get(page("/second")))
        .merge(lv.router())
}

#[test]
fn pages_and_apps_can_move_between_tasks() {
    fn send<T: Send>() {}
    send::<TestApp>();
    send::<liveview_test::TestPage>();
}

#[tokio::test]
async fn actions_patches_navigation_and_init() {
    let app = TestApp::new(router()).await.unwrap();
    let mut page = app.open("/").await.unwrap();
    assert_eq!(
        page.text("#lazy-out"),
        "loaded",
        "init answered before open returned"
    );
    assert_eq!(page.title(), "Home");
    page.click("#hello").await.unwrap();
    assert_eq!(page.html("#content"), "<p>Hello, Ada</p>");
    page.click("#about").await.unwrap();
    assert_eq!(
        (page.path(), page.title()),
        ("/about".to_owned(), "About us".to_owned())
    );
    assert_eq!(page.url(), app.url("/about"));
    page.press("#content", "ctrl+k").await.unwrap();
    assert_eq!(page.text("#content"), "palette");
    page.click("#plain").await.unwrap();
    assert_eq!(
        (page.path(), page.title()),
        ("/second".to_owned(), "Second".to_owned())
    );
}

#[tokio::test]
async fn broadcasts_reach_the_other_page() {
    let app = TestApp::new(router()).await.unwrap();
    let mut alice = app.open("/").await.unwrap();
    let mut bob = app.open("/").await.unwrap();
    alice.click("#say").await.unwrap();
    assert_eq!(
        alice.text("#log"),
        "said",
        "the sender's own broadcast came before the answer"
    );
    bob.next_push().await.unwrap();
    assert_eq!(bob.text("#log"), "said");
    alice.click("#say").await.unwrap();
    bob.wait_for_text("#log", "saidsaid").await.unwrap();
}

#[tokio::test]
async fn uploads_in_memory_files() {
    let app = TestApp::new(router()).await.unwrap();
    let mut page = app.open("/").await.unwrap();
    let big = vec![7u8; 150_000];
    page.upload(
        "#up input[type=file]",
        vec![
            UploadFile::new("a.txt", "text/plain", "hello"),
            UploadFile::new("big.bin", "application/octet-stream", big),
        ],
    )
    .await
    .unwrap();
    page.submit("#up").await.unwrap();
    assert_eq!(
        page.text("#log"),
        "a.txt 5 text/plainbig.bin 150000 application/octet-stream"
    );
}

#[tokio::test]
async fn debounce_is_skipped_or_honoured() {
    let app = TestApp::new(router()).await.unwrap();
    let mut page = app.open("/").await.unwrap();
    let start = Instant::now();
    page.fill("#q", "a").await.unwrap();
    assert!(
        start.elapsed() < Duration::from_millis(400),
        "skipped by default"
    );
    page.honour_debounce(true);
    let start = Instant::now();
    page.fill("#q", "ab").await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "honoured when asked"
    );
    assert_eq!(page.text("#log"), "aab");
}

#[tokio::test]
async fn every_failure_names_the_element_and_the_function() {
    let app = TestApp::new(router()).await.unwrap();
    let mut page = app.open("/").await.unwrap();

    let err = page.click("#no-function").await.unwrap_err();
    assert!(matches!(err, TestError::NoFunction { .. }));
    assert_eq!(
        err.to_string(),
        r#"<button id="no-function"> has a data-action for "click" but no data-liveview-function"#
    );

    let err = page.click("#nothing").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"click on <button id="nothing"> sends nothing: no data-action of it or its ancestors handles "click""#
    );

    let err = page.click("#missing").await.unwrap_err();
    assert_eq!(err.to_string(), r##"no element matches "#missing""##);
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| page.text("#missing")))
        .unwrap_err();
    assert_eq!(
        panic.downcast_ref::<String>().unwrap(),
        r##"no element matches "#missing""##
    );

    let err = page.click("#typo").await.unwrap_err();
    assert!(
        matches!(&err, TestError::UnknownFunction { function, .. } if function == "helo"),
        "{err}"
    );
    assert!(
        err.to_string().starts_with(r#"<button id="typo" data-liveview-function="helo">: no handler is registered for function "helo""#),
        "{err}"
    );

    let err = page.submit("#signup").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"<form id="signup" data-liveview-function="fail">: function "fail" answered with an error (handler_error): that email is taken"#
    );
    assert_eq!(
        page.text("#form-error"),
        "that email is taken",
        "shown in the form's error box"
    );
    assert_eq!(page.attr("#form-error", "hidden"), None);
    assert_eq!(page.errors().len(), 2, "{:?}", page.errors());
    assert_eq!(page.errors()[1].code, "handler_error");

    page.set_timeout(Duration::from_millis(300));
    let err = page.click("#slow").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"<button id="slow" data-liveview-function="slow">: no answer to function "slow" within 300ms"#
    );

    let err = page.fill("#hello", "x").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"cannot fill <button id="hello" data-liveview-function="hello">: an input of type submit takes no text"#
    );
    let err = page.click("##").await.unwrap_err();
    assert!(matches!(err, TestError::BadSelector { .. }), "{err}");
}
