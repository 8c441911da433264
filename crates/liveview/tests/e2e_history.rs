//! History, deploy and debug helpers in a real headless Chromium: Back and
//! Forward restore scroll position and field values (not passwords) and
//! replay scripts (not `data-liveview-replay="false"` ones); view
//! transitions for navigation patches (opt-in, with a fallback);
//! `data-liveview-track` reloads after a reconnect when an asset changed;
//! `liveview.debug` and `liveview.latency`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use liveview::Patch;
use liveview_e2e::scripted::{App, PageExt, click_and_apply};
use liveview_e2e::{Browser, Page};
use serde_json::json;

const FUNCTIONS: &[&str] = &["go", "local", "ping"];

#[tokio::test]
async fn history_deploys_and_debugging_in_chromium() {
    let mut app = App::start(FUNCTIONS).await;
    Browser::run(
        "history_deploys_and_debugging_in_chromium",
        |page| async move {
            back_and_forward(&app, &page).await;
            view_transitions(&app, &page).await;
            debug_and_latency(&app, &page).await;
            tracked_assets(&mut app, &page).await;
            page.assert_no_js_errors().await;
        },
    )
    .await;
}

async fn back_and_forward(app: &App, page: &Page) {
    let url = app.room_page(
        "/h1",
        r#"
        <button id="go" data-liveview-function="go" data-action="page#run">Go</button>
        <div id="main">
          <form><input id="q" name="q"><input id="pw" name="pw" type="password"><input id="cb" name="cb" type="checkbox"></form>
          <script>window.__ran = (window.__ran || 0) + 1;</script>
          <script data-liveview-replay="false">window.__once = (window.__once || 0) + 1;</script>
          <div style="height: 4000px">tall</div>
        </div>"#,
    );
    app.reply(
        "go",
        vec![
            Patch::html(
                "#main",
                "<p id='p2'>page 2</p><script>window.__ran2 = (window.__ran2 || 0) + 1;</script>",
            )
            .with_url("/h2"),
        ],
    );
    page.goto(&url).await;
    page.type_into("#q", "hello").await;
    page.type_into("#pw", "secret").await;
    page.click("#cb").await;
    page.eval("scrollTo(0, 1200)").await;
    page.wait_until("return scrollY === 1200").await;
    page.eval("document.getElementById('go').click()").await;
    page.wait_until("return !!document.getElementById('p2') && location.pathname === '/h2'")
        .await;
    assert_eq!(page.eval("return window.__ran2").await, json!(1));

    page.eval("history.back()").await;
    page.wait_until("return !!document.getElementById('q')")
        .await;
    page.wait_until("return scrollY === 1200").await;
    assert_eq!(
        page.eval("return [q.value, pw.value, cb.checked, __ran, __once]")
            .await,
        json!(["hello", "", true, 2, 1])
    );

    page.eval("history.forward()").await;
    page.wait_until("return !!document.getElementById('p2')")
        .await;
    page.wait_until("return window.__ran2 === 2").await;
    eprintln!("ok: back and forward");
}

async fn view_transitions(app: &App, page: &Page) {
    let room = liveview::templates::new_room_id();
    app.page(
        "/vt",
        &format!(r#"lang="en" data-room="{room}" data-liveview-view-transition"#),
        "VT",
        r#"<button id="go" data-liveview-function="go" data-action="page#run">Go</button>
           <button id="local" data-liveview-function="local" data-action="page#run">Local</button>
           <div id="main"><p>one</p></div><p id="side"></p>"#,
    );
    app.reply(
        "go",
        vec![Patch::html("#main", "<p id='two'>two</p>").with_url("/vt-2")],
    );
    page.goto(&app.url("/vt")).await;
    page.eval(
        "window.__vt = 0; const start = document.startViewTransition.bind(document);
         document.startViewTransition = (update) => { __vt++; return start(update); };",
    )
    .await;
    click_and_apply(
        app,
        page,
        "#local",
        "local",
        vec![Patch::html("#side", "side")],
    )
    .await;
    assert_eq!(page.eval("return __vt").await, json!(0), "not a navigation");
    page.click("#go").await;
    page.wait_until("return !!document.getElementById('two')")
        .await;
    assert_eq!(
        page.eval("return [__vt, location.pathname]").await,
        json!([1, "/vt-2"])
    );

    // Without the API: the same patch, applied at once.
    app.reply(
        "go",
        vec![Patch::html("#main", "<p id='three'>three</p>").with_url("/vt-3")],
    );
    page.eval("document.startViewTransition = undefined").await;
    page.click("#go").await;
    page.wait_until("return !!document.getElementById('three') && location.pathname === '/vt-3'")
        .await;
    eprintln!("ok: view transitions");
}

async fn debug_and_latency(app: &App, page: &Page) {
    let url = app.room_page(
        "/debug",
        r#"<button id="ping" data-liveview-function="ping" data-action="page#run">Ping</button><p id="out"></p>"#,
    );
    app.respond("ping", |event| {
        Ok(vec![Patch::html(
            "#out",
            format!("pong {}", event["data"]["n"]),
        )])
    });
    page.goto(&url).await;
    page.eval(
        "window.__debug = []; console.debug = (...args) => __debug.push(args.join(' '));
         liveview.debug(true); liveview.latency(500);",
    )
    .await;
    let start = Instant::now();
    page.eval("liveview.send('ping', { n: 1 })").await;
    page.wait_for_text("#out", "pong 1").await;
    let slow = start.elapsed();
    assert!(slow >= Duration::from_millis(500), "answer after {slow:?}");
    let logged = page.eval("return __debug").await.to_string();
    assert!(
        logged.contains("liveview →") && logged.contains("\\\"function\\\":\\\"ping\\\""),
        "{logged}"
    );
    assert!(
        logged.contains("liveview ←") && logged.contains("pong"),
        "{logged}"
    );

    // Kept for the tab, across a reload.
    page.goto(&url).await;
    assert_eq!(
        page.eval("return [sessionStorage.getItem('liveview-debug'), sessionStorage.getItem('liveview-latency')]")
            .await,
        json!(["true", "500"])
    );
    let start = Instant::now();
    page.eval("liveview.send('ping', { n: 2 })").await;
    page.wait_for_text("#out", "pong 2").await;
    assert!(start.elapsed() >= Duration::from_millis(500));

    page.eval("liveview.debug(false); liveview.latency(0); window.__debug = []")
        .await;
    let start = Instant::now();
    page.eval("liveview.send('ping', { n: 3 })").await;
    page.wait_for_text("#out", "pong 3").await;
    assert!(start.elapsed() < Duration::from_millis(500));
    assert_eq!(page.eval("return __debug.length").await, json!(0));
    eprintln!("ok: debug and latency");
}

/// A reconnect with the same asset URLs keeps the page; one after a deploy
/// that changed them reloads it.
async fn tracked_assets(app: &mut App, page: &Page) {
    let room = liveview::templates::new_room_id();
    let body = |version: u32| {
        format!(
            r#"<link data-liveview-track rel="stylesheet" href="/app.css?v={version}"><p id="v">{version}</p>"#
        )
    };
    let attrs = format!(r#"lang="en" data-room="{room}""#);
    app.page("/tracked", &attrs, "Tracked", &body(1));
    page.goto(&app.url("/tracked")).await;
    page.eval("window.__kept = true").await;

    let hits = |app: &App| app.hits().iter().filter(|h| *h == "/tracked").count();
    let before = hits(app);
    app.stop().await;
    page.wait_until("return !liveview.connected").await;
    app.restart().await;
    page.wait_until("return liveview.connected").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while hits(app) == before {
        assert!(Instant::now() < deadline, "the page was not fetched again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        page.eval_bool("return window.__kept === true").await,
        "same assets: kept"
    );

    // The assets' check fetches the page when the socket opens, the refused
    // resume's refetch just after: held back 500 ms, the check's answer
    // comes after the refetch has morphed the new URLs in, and must still
    // see that they are not those the page was loaded with.
    page.eval(
        "const real = window.fetch; let calls = 0;
         window.fetch = (...args) => calls++ === 0
           ? new Promise((done) => setTimeout(done, 500)).then(() => real(...args))
           : real(...args);",
    )
    .await;
    app.stop().await;
    page.wait_until("return !liveview.connected").await;
    app.page("/tracked", &attrs, "Tracked", &body(2));
    app.restart().await;
    page.wait_until("return document.getElementById('v')?.textContent === '2' && !window.__kept")
        .await;
    eprintln!("ok: tracked assets");
}
