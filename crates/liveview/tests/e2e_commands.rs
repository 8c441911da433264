//! Client-side commands (`data-liveview-js`) in a real headless Chromium:
//! each command alone, chained with an event, what stays applied across
//! morphs, attributes a library owns (`data-liveview-ignore-attrs`),
//! `data-liveview-confirm`, `data-liveview-click-away` and
//! `data-liveview-poll` (paused while hidden and while disconnected).
//!
//! One browser runs through every page, to keep the suite fast.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use liveview::Patch;
use liveview_e2e::scripted::{App, PageExt, click_and_apply};
use liveview_e2e::{Browser, Page};
use serde_json::json;

const FUNCTIONS: &[&str] = &[
    "save", "rerender", "danger", "away", "tick", "later", "fails",
];
const SETTLE: Duration = Duration::from_millis(300);

#[tokio::test]
async fn client_commands_in_chromium() {
    let mut app = App::start(FUNCTIONS).await;
    Browser::run("client_commands_in_chromium", |page| async move {
        commands(&app, &page).await;
        after_the_answer(&app, &page).await;
        confirm(&app, &page).await;
        click_away(&app, &page).await;
        poll(&mut app, &page).await;
        page.assert_no_js_errors().await;
    })
    .await;
}

const CLASSES: &str = "return [...document.getElementById('box').classList].join(' ')";

/// Every command, without the server; then a morph of their region keeps
/// what they set, and a library's `style` survives it.
async fn commands(app: &App, page: &Page) {
    let url = app.room_page(
        "/commands",
        r##"
        <button id="t" data-action="page#run" data-liveview-js="toggle #panel">T</button>
        <button id="cls" data-action="page#run"
          data-liveview-js="add-class open,wide #box; set-attr aria-expanded true #box; remove-attr title #box">C</button>
        <button id="cls2" data-action="page#run" data-liveview-js="toggle-class open #box; remove-class wide #box">C2</button>
        <button id="both" data-liveview-function="save" data-action="page#run"
          data-liveview-js="hide #panel; focus #name; dispatch my-event #box">Both</button>
        <button id="tr" data-action="page#run" data-liveview-js="transition flash 400ms #box">Tr</button>
        <button id="self" data-action="page#run" data-liveview-js="add-class pressed">Self</button>
        <button id="bad" data-action="page#run" data-liveview-js="explode #box">Bad</button>
        <button id="nav" data-action="page#run" data-liveview-js="navigate /commands-next">Nav</button>
        <button id="rr" data-liveview-function="rerender" data-action="page#run">Rerender</button>
        <input id="name">
        <div id="region">
          <div id="panel" hidden>panel</div>
          <div id="box" class="server" title="x">box</div>
          <div id="lib" data-liveview-ignore-attrs="style, data-chart" style="color: red" class="a">lib</div>
        </div>
        <script>document.addEventListener('my-event', (e) => { window.__got = e.target.id; });</script>"##,
    );
    app.page("/commands-next", "", "Next", "<p id='next'>next page</p>");
    page.goto(&url).await;

    page.click("#t").await;
    assert!(
        page.eval_bool("return !document.getElementById('panel').hidden")
            .await
    );
    page.click("#t").await;
    assert!(
        page.eval_bool("return document.getElementById('panel').hidden")
            .await
    );
    page.click("#t").await;

    page.click("#cls").await;
    assert_eq!(page.eval_string(CLASSES).await, "server open wide");
    assert_eq!(
        page.eval("const b = document.getElementById('box'); return [b.getAttribute('aria-expanded'), b.getAttribute('title')]")
            .await,
        json!(["true", null])
    );
    page.click("#self").await;
    assert!(
        page.eval_bool("return document.getElementById('self').classList.contains('pressed')")
            .await
    );
    page.eval("document.getElementById('lib').dataset.chart = 'drawn'")
        .await;

    // The server re-renders the region: what the commands set stays, the
    // rest follows the server.
    click_and_apply(
        app,
        page,
        "#rr",
        "rerender",
        vec![Patch::html(
            "#region",
            r#"<div id="panel" hidden>panel 2</div><div id="box" class="server new" title="y">box 2</div>
               <div id="lib" data-liveview-ignore-attrs="style, data-chart" class="b">lib 2</div>"#,
        )],
    )
    .await;
    assert_eq!(page.text("#box").await, "box 2");
    assert_eq!(page.eval_string(CLASSES).await, "server new open wide");
    assert_eq!(
        page.eval("const b = document.getElementById('box'); return [b.getAttribute('aria-expanded'), b.getAttribute('title')]")
            .await,
        json!(["true", null])
    );
    assert_eq!(page.text("#panel").await, "panel 2");
    assert!(
        page.eval_bool("return !document.getElementById('panel').hidden")
            .await,
        "shown by a command, it stays shown"
    );
    assert_eq!(
        page.eval("const l = document.getElementById('lib'); return [l.getAttribute('style'), l.dataset.chart, l.className, l.textContent]")
            .await,
        json!(["color: red", "drawn", "b", "lib 2"])
    );

    page.click("#cls2").await;
    assert_eq!(page.eval_string(CLASSES).await, "server new");

    // Commands run before the event is sent.
    page.click("#both").await;
    app.wait_events("save", 1).await;
    assert_eq!(
        page.eval("return [document.getElementById('panel').hidden, document.activeElement.id, window.__got]")
            .await,
        json!([true, "name", "box"])
    );

    page.click("#tr").await;
    assert!(
        page.eval_bool(&format!("{CLASSES}.includes('flash')"))
            .await
    );
    page.wait_until("return !document.getElementById('box').classList.contains('flash')")
        .await;

    page.click("#bad").await;
    assert!(
        page.eval_bool("return __warnings.some((w) => w.includes('unknown command explode'))")
            .await
    );
    assert!(app.events_of("rerender").len() == 1 && app.events().len() == 2);
    page.assert_no_js_errors().await;

    page.click("#nav").await;
    page.wait_until(
        "return location.pathname === '/commands-next' && !!document.getElementById('next')",
    )
    .await;
    eprintln!("ok: commands");
}

/// `data-liveview-js-after`: once the answer is applied; not after an error.
async fn after_the_answer(app: &App, page: &Page) {
    let url = app.room_page(
        "/after",
        r#"<button id="later" data-liveview-function="later" data-action="page#run"
             data-liveview-js="add-class sending" data-liveview-js-after="remove-class sending; add-class saved">Save</button>
           <button id="fails" data-liveview-function="fails" data-action="page#run"
             data-liveview-js-after="add-class saved">Fail</button>"#,
    );
    page.goto(&url).await;
    app.hold("later");
    app.reply("later", vec![Patch::html("#later", "Saved")]);
    app.respond("fails", |_| Err("no".into()));
    let classes = |id: &str| format!("return document.getElementById('{id}').className");
    page.click("#later").await;
    app.wait_events("later", 1).await;
    assert_eq!(page.eval_string(&classes("later")).await, "sending lv-busy");
    app.release();
    page.wait_for_text("#later", "Saved").await;
    page.wait_until("return document.getElementById('later').className === 'saved'")
        .await;
    page.click("#fails").await;
    page.wait_until("return __lvErrors.length === 1").await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(page.eval_string(&classes("fails")).await, "");
    eprintln!("ok: after the answer");
}

/// `data-liveview-confirm`: the native dialog's answer, then a page's own
/// `liveview.confirm` answering with a promise.
async fn confirm(app: &App, page: &Page) {
    let url = app.room_page(
        "/confirm",
        r#"<button id="del" data-liveview-function="danger" data-action="page#run"
             data-liveview-confirm="Delete it?" data-liveview-js="add-class asked">Delete</button>"#,
    );
    page.goto(&url).await;
    page.eval("window.confirm = (m) => { window.__asked = m; return false; }")
        .await;
    page.click("#del").await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(
        page.eval_string("return window.__asked").await,
        "Delete it?"
    );
    app.assert_no_event("danger");
    assert!(
        !page
            .eval_bool("return document.getElementById('del').classList.contains('asked')")
            .await,
        "commands wait for the answer too"
    );

    page.eval("window.confirm = () => true").await;
    page.click("#del").await;
    app.one_event("danger", Duration::ZERO).await;
    assert!(
        page.eval_bool("return document.getElementById('del').classList.contains('asked')")
            .await
    );

    page.eval(
        "liveview.confirm = (message, el) => new Promise((resolve) => { window.__resolve = resolve; window.__on = el.id; })",
    )
    .await;
    page.click("#del").await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(app.events_of("danger").len(), 1, "waits for the promise");
    assert_eq!(page.eval_string("return window.__on").await, "del");
    page.eval("__resolve(true)").await;
    app.wait_events("danger", 2).await;
    eprintln!("ok: confirm");
}

/// A click outside the element sends its function and runs its commands;
/// clicks inside do not, nor clicks while it is hidden.
async fn click_away(app: &App, page: &Page) {
    let url = app.room_page(
        "/away",
        r#"<div id="menu" data-liveview-click-away="away" data-liveview-click-away-js="hide">
             <button id="inside">in</button></div>
           <button id="outside">out</button>
           <div id="plain" data-liveview-click-away-js="dispatch plain-away"><span id="p">plain</span></div>
           <script>window.__away = 0; document.addEventListener('plain-away', () => __away++);</script>"#,
    );
    page.goto(&url).await;
    page.click("#inside").await;
    tokio::time::sleep(SETTLE).await;
    app.assert_no_event("away");
    assert!(
        page.eval_bool("return !document.getElementById('menu').hidden")
            .await
    );
    assert_eq!(page.eval("return __away").await, json!(1));
    page.click("#outside").await;
    app.one_event("away", SETTLE).await;
    assert!(
        page.eval_bool("return document.getElementById('menu').hidden")
            .await
    );
    page.click("#outside").await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(app.events_of("away").len(), 1, "hidden: no click-away");
    assert_eq!(page.eval("return __away").await, json!(3));
    page.click("#p").await;
    assert_eq!(page.eval("return __away").await, json!(3), "a click inside");
    eprintln!("ok: click-away");
}

/// `data-liveview-poll`: at its interval; not while the tab is hidden, nor
/// while the socket is closed.
async fn poll(app: &mut App, page: &Page) {
    let url = app.room_page(
        "/poll",
        r#"<div id="p" data-liveview-poll="250ms" data-liveview-function="tick"></div>"#,
    );
    page.goto(&url).await;
    let start = std::time::Instant::now();
    app.wait_events("tick", 3).await;
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(600) && elapsed < Duration::from_secs(3),
        "three polls of 250 ms took {elapsed:?}"
    );

    page.eval("Object.defineProperty(document, 'hidden', { configurable: true, get: () => true })")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hidden = app.events_of("tick").len();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(app.events_of("tick").len(), hidden, "polled while hidden");
    page.eval("delete document.hidden").await;
    app.wait_events("tick", hidden + 2).await;

    app.stop().await;
    page.wait_until("return !liveview.connected").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        page.eval_bool(
            "return window.liveview.socket === null || window.liveview.socket.readyState !== 1"
        )
        .await
    );
    let queued = page
        .eval("return document.querySelector('[aria-busy]') ? 1 : 0")
        .await;
    assert_eq!(queued, json!(0), "no poll was queued while disconnected");
    app.restart().await;
    page.wait_until("return liveview.connected").await;
    let before = app.events_of("tick").len();
    app.wait_events("tick", before + 2).await;
    eprintln!("ok: poll");
}
