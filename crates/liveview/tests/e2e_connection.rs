//! The life of the browser client's connection, in a real headless
//! Chromium against a real server: the loading state while an event awaits
//! its answer, error frames, events queued while disconnected, reconnecting
//! after the server restarts on the same port, and going quiet while the
//! tab is hidden.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use liveview::Patch;
use liveview_e2e::scripted::{App, PageExt};
use liveview_e2e::{Browser, Page};
use serde_json::json;

const FUNCTIONS: &[&str] = &["slow", "relabel", "slow_form", "save", "queued", "ping"];

/// Django LiveView's indicator, with a stylesheet that sets `display` (which
/// beats the `hidden` attribute alone).
const NO_CONNECTION: &str = r#"<style>#no-connection { display: flex }</style>
<div id="no-connection" hidden>Reconnecting…</div>"#;

#[tokio::test]
async fn busy_state_and_errors_in_chromium() {
    let app = App::start(FUNCTIONS).await;
    Browser::run("busy_state_and_errors_in_chromium", |page| async move {
        busy_state(&app, &page).await;
        errors(&app, &page).await;
        page.assert_no_js_errors().await;
    })
    .await;
}

#[tokio::test]
async fn reconnect_queue_and_hidden_tab_in_chromium() {
    let mut app = App::start(FUNCTIONS).await;
    Browser::run(
        "reconnect_queue_and_hidden_tab_in_chromium",
        |page| async move {
            socket_url_override(&app, &page).await;
            restart_with_queued_events(&mut app, &page).await;
            hidden_tab_goes_quiet(&app, &page).await;
            page.assert_no_js_errors().await;
        },
    )
    .await;
}

/// `aria-busy="true"` and `lv-busy` from the click until the answer (the
/// handler waits for the test), `data-liveview-disable-with` on a button
/// and on a submitted form's buttons; a label a patch changed meanwhile is
/// not restored over.
async fn busy_state(app: &App, page: &Page) {
    let url = app.room_page(
        "/busy",
        r#"
        <button id="slow" data-liveview-function="slow" data-action="click->page#run"
                data-liveview-disable-with="Saving…">Save</button>
        <button id="relabel" data-liveview-function="relabel" data-action="click->page#run"
                data-liveview-disable-with="Wait…">Go</button>
        <form id="sf" data-liveview-function="slow_form" data-action="submit->page#run">
          <input id="x" name="x" value="1">
          <input id="sfb" type="submit" value="Send" data-liveview-disable-with="Sending…">
        </form>"#,
    );
    app.hold("slow");
    app.hold("relabel");
    app.hold("slow_form");
    app.reply("relabel", vec![Patch::html("#relabel", "Done")]);
    page.goto(&url).await;

    let state = |sel: &str| {
        format!(
            "const b = document.querySelector('{sel}');
             return [b.getAttribute('aria-busy'), b.classList.contains('lv-busy'),
                     b.tagName === 'INPUT' ? b.value : b.textContent, b.disabled]"
        )
    };
    page.click("#slow").await;
    app.wait_events("slow", 1).await;
    assert_eq!(
        page.eval(&state("#slow")).await,
        json!(["true", true, "Saving…", true])
    );
    // Still busy a while later: only the answer ends it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        page.eval(&state("#slow")).await,
        json!(["true", true, "Saving…", true])
    );
    app.release();
    page.wait_until("return !document.getElementById('slow').hasAttribute('aria-busy')")
        .await;
    assert_eq!(
        page.eval(&state("#slow")).await,
        json!([null, false, "Save", false])
    );

    page.click("#relabel").await;
    app.wait_events("relabel", 1).await;
    assert_eq!(
        page.eval(&state("#relabel")).await,
        json!(["true", true, "Wait…", true])
    );
    app.release();
    page.wait_for_text("#relabel", "Done").await;
    assert_eq!(
        page.eval(&state("#relabel")).await,
        json!([null, false, "Done", false])
    );

    page.click("#sfb").await;
    app.wait_events("slow_form", 1).await;
    let form = page.eval(&state("#sf")).await;
    assert_eq!(
        (&form[0], &form[1]),
        (&json!("true"), &json!(true)),
        "{form}"
    );
    let button = page.eval(&state("#sfb")).await;
    assert_eq!(
        (&button[2], &button[3]),
        (&json!("Sending…"), &json!(true)),
        "{button}"
    );
    app.release();
    page.wait_until("return !document.getElementById('sf').hasAttribute('aria-busy')")
        .await;
    assert_eq!(
        page.eval(&state("#sfb")).await,
        json!([null, false, "Send", false])
    );
    assert!(
        !page
            .eval_bool("return document.getElementById('sf').classList.contains('lv-busy')")
            .await
    );
    eprintln!("ok: busy state and disable-with");
}

/// An error frame dispatches `liveview:error` and fills the form's
/// `[data-liveview-error]`, which the next event empties; a listener can
/// prevent that; an unknown function is reported and ends the loading state.
async fn errors(app: &App, page: &Page) {
    app.respond("save", |ev| {
        if ev["form"]["name"].as_str().unwrap_or_default().is_empty() {
            Err("Name is required".into())
        } else {
            Ok(vec![Patch::html("#saved", "saved")])
        }
    });
    let url = app.room_page(
        "/errors",
        r#"
        <form id="f" data-liveview-function="save" data-action="submit->page#run">
          <p id="err" class="error" data-liveview-error hidden></p>
          <input id="name" name="name"><button id="save">Save</button>
        </form>
        <p id="saved"></p>
        <button id="nope" data-liveview-function="nope" data-action="click->page#run">nope</button>"#,
    );
    page.goto(&url).await;

    page.click("#save").await;
    page.wait_for_text("#err", "Name is required").await;
    assert!(
        !page
            .eval_bool("return document.getElementById('err').hidden")
            .await
    );
    let detail = page.eval("return __lvErrors[0]").await;
    assert_eq!(
        (&detail["error"], &detail["code"]),
        (&json!("Name is required"), &json!("handler_error")),
        "{detail}"
    );
    assert!(detail["ref"].is_u64(), "{detail}");
    assert!(
        !page
            .eval_bool("return document.getElementById('f').hasAttribute('aria-busy')")
            .await
    );

    page.type_into("#name", "Ann").await;
    page.click("#save").await;
    page.wait_for_text("#saved", "saved").await;
    assert_eq!(
        page.eval("const e = document.getElementById('err'); return [e.textContent, e.hidden]")
            .await,
        json!(["", true])
    );

    // A listener that prevents the default keeps the box untouched.
    page.eval("document.addEventListener('liveview:error', (e) => e.preventDefault())")
        .await;
    page.clear("#name").await;
    page.click("#save").await;
    page.wait_until("return __lvErrors.length === 2").await;
    assert_eq!(
        page.eval("const e = document.getElementById('err'); return [e.textContent, e.hidden]")
            .await,
        json!(["", true])
    );

    page.click("#nope").await;
    page.wait_until("return __lvErrors.length === 3").await;
    let detail = page.eval("return __lvErrors[2]").await;
    assert_eq!(
        (&detail["code"], &detail["function"]),
        (&json!("unknown_function"), &json!("nope")),
        "{detail}"
    );
    assert!(
        !page
            .eval_bool("return document.getElementById('nope').hasAttribute('aria-busy')")
            .await
    );
    eprintln!("ok: errors");
}

fn indicator_script() -> &'static str {
    "const n = document.getElementById('no-connection');
     return [n.hidden, getComputedStyle(n).display, n.classList.contains('no-connection--show'),
             n.classList.contains('no-connection--hide'),
             document.documentElement.classList.contains('lv-disconnected'), liveview.connected]"
}

/// The server stops (sockets closed with 1012) and a new one binds the
/// same port: `#no-connection` shows while down; events sent meanwhile wait
/// and reach the new server in order (it refuses to resume the session, so
/// the page fetches itself again and morphs in); the indicator hides again
/// and the page works.
async fn restart_with_queued_events(app: &mut App, page: &Page) {
    app.reply("queued", vec![Patch::append("#out", "<i>ok</i>")]);
    let buttons: String = (1..=3)
        .map(|n| format!(r#"<button id="q{n}" data-n="{n}" data-liveview-function="queued" data-action="click->page#run">{n}</button>"#))
        .collect();
    let url = app.room_page(
        "/restart",
        &format!(
            r#"{NO_CONNECTION}{buttons}<div id="out"></div>
            <button id="slow" data-liveview-function="slow" data-action="click->page#run">slow</button>"#
        ),
    );
    app.hold("slow");
    page.goto(&url).await;
    page.eval(
        "window.__conn = []; ['connected', 'disconnected'].forEach((t) =>
           document.addEventListener('liveview:' + t, () => __conn.push(t)));
         // The close code, and the time of every connection attempt.
         window.__codes = []; window.__attempts = [];
         liveview.socket.addEventListener('close', (e) => __codes.push(e.code));
         const W = WebSocket;
         window.WebSocket = function (...a) { __attempts.push(performance.now()); return new W(...a); };
         window.WebSocket.prototype = W.prototype;
         document.addEventListener('liveview:disconnected', () => { window.__down = performance.now() });",
    )
    .await;
    assert_eq!(
        page.eval(indicator_script()).await,
        json!([true, "none", false, true, false, true])
    );

    // An event in flight when the socket closes keeps its loading state
    // while the session may be resumed; the new server knows nothing of
    // it, so it ends when the resume is refused.
    page.click("#slow").await;
    app.wait_events("slow", 1).await;
    assert!(
        page.eval_bool(
            "return document.getElementById('slow').getAttribute('aria-busy') === 'true'"
        )
        .await
    );

    app.stop().await;
    page.wait_until("return !liveview.connected").await;
    assert!(
        page.eval_bool(
            "return document.getElementById('slow').getAttribute('aria-busy') === 'true'"
        )
        .await
    );
    assert_eq!(
        page.eval(indicator_script()).await,
        json!([false, "flex", true, false, true, false])
    );

    for n in 1..=3 {
        page.click(&format!("#q{n}")).await;
    }
    page.eval("liveview.send('queued', {n: 'api'})").await;
    // Let a few reconnection attempts fail.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(page.eval("return __codes").await, json!([1012]));
    // Capped exponential backoff with jitter: the n-th delay is between half
    // and all of 250 ms × 2^n (plus the time a refused attempt takes, and
    // generous slack above: a loaded CI machine fires timers late, never early).
    let times: Vec<f64> =
        serde_json::from_value(page.eval("return [__down, ...__attempts]").await).unwrap();
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    eprintln!("reconnection attempts after {gaps:.0?} ms");
    assert!(gaps.len() >= 3, "attempts: {gaps:?}");
    for (n, gap) in gaps.iter().enumerate() {
        let nominal = 250.0 * 2f64.powi(n as i32);
        assert!(
            *gap >= nominal / 2.0 - 5.0 && *gap <= nominal + 800.0,
            "delay {n} was {gap} ms, nominal {nominal} ms: {gaps:?}"
        );
    }
    assert!(
        page.eval_bool("return document.getElementById('q1').getAttribute('aria-busy') === 'true'")
            .await
    );
    assert!(app.events_of("queued").is_empty());

    let down = Instant::now();
    app.restart().await;
    let events = app.wait_events("queued", 4).await;
    eprintln!(
        "reconnected and flushed the queue {:?} after the restart",
        down.elapsed()
    );
    let order: Vec<&str> = events
        .iter()
        .map(|e| e["data"]["n"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["1", "2", "3", "api"]);
    page.wait_until("return document.querySelectorAll('#out i').length === 4")
        .await;
    assert_eq!(
        page.eval(indicator_script()).await,
        json!([true, "none", false, true, false, true])
    );
    page.wait_until("return !document.querySelector('[aria-busy]')")
        .await;
    assert_eq!(
        page.eval("return __conn").await,
        json!(["disconnected", "connected"])
    );

    page.click("#q2").await;
    page.wait_until("return document.querySelectorAll('#out i').length === 5")
        .await;
    app.wait_connections(1).await;
    eprintln!("ok: restart, queued events");
}

/// A tab hidden long enough closes its socket quietly (no indicator) and
/// reconnects when shown; events sent meanwhile wait. The client's 60 s
/// delay is shortened by wrapping `setTimeout`, and visibility is simulated
/// by overriding `document.hidden` and dispatching `visibilitychange`
/// (headless Chromium has no tab to hide).
async fn hidden_tab_goes_quiet(app: &App, page: &Page) {
    app.reply("ping", vec![Patch::html("#out", "pong")]);
    app.clear_events();
    let url = app.room_page(
        "/hidden",
        &format!(r#"{NO_CONNECTION}<div id="out"></div>"#),
    );
    page.goto(&url).await;
    app.wait_connections(1).await;
    page.eval(
        "const st = window.setTimeout;
         window.setTimeout = (f, ms, ...a) => st(f, ms === 60000 ? 200 : ms, ...a);
         window.__hide = (hidden) => {
           Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
           Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => hidden ? 'hidden' : 'visible' });
           document.dispatchEvent(new Event('visibilitychange'));
         };",
    )
    .await;

    // Hidden briefly: nothing happens.
    page.eval("__hide(true); __hide(false)").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.lv().connection_count(), 1);
    assert!(page.eval_bool("return liveview.connected").await);

    // Hidden for longer than the delay: the socket closes, quietly.
    page.eval("__hide(true)").await;
    app.wait_connections(0).await;
    page.wait_until("return !liveview.connected").await;
    assert_eq!(
        page.eval(indicator_script()).await,
        json!([true, "none", false, true, false, false])
    );
    page.eval("liveview.send('ping')").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.lv().connection_count(), 0, "a hidden tab reconnected");
    app.assert_no_event("ping");

    page.eval("__hide(false)").await;
    app.wait_connections(1).await;
    page.wait_for_text("#out", "pong").await;
    assert_eq!(app.events_of("ping").len(), 1);
    assert_eq!(
        page.eval(indicator_script()).await,
        json!([true, "none", false, true, false, true])
    );
    eprintln!("ok: hidden tab");
}

/// `data-liveview-url` overrides the socket URL (relative URLs resolve
/// against the page); a socket that cannot connect shows the indicator once
/// the first attempt failed.
async fn socket_url_override(app: &App, page: &Page) {
    app.reply("ping", vec![Patch::html("#out", "pong")]);
    let body = format!(r#"{NO_CONNECTION}<div id="out"></div>"#);
    app.page(
        "/relative",
        r#"data-room="rel-1" data-liveview-url="/ws/liveview/{room}/?v=1&x=1""#,
        "R",
        &body,
    );
    page.goto(&app.url("/relative")).await;
    assert_eq!(
        page.eval_string("return liveview.url").await,
        format!("ws://{}/ws/liveview/rel-1/?v=1&x=1", app.addr)
    );
    page.eval("liveview.send('ping')").await;
    page.wait_for_text("#out", "pong").await;
    assert_eq!(app.events_of("ping")[0]["room"], json!("rel-1"));

    // Nobody listens there: a free port below the kernel's ephemeral range,
    // which no other test's server or client is handed meanwhile.
    let port = liveview_e2e::free_port();
    app.page(
        "/dead",
        &format!(
            r#"data-room="dead-1" data-liveview-url="ws://127.0.0.1:{port}/ws/liveview/{{room}}/""#
        ),
        "D",
        &body,
    );
    page.client().goto(&app.url("/dead")).await.unwrap();
    page.wait_until("return document.documentElement.classList.contains('lv-disconnected')")
        .await;
    assert_eq!(
        page.eval(indicator_script()).await,
        json!([false, "flex", true, false, true, false])
    );
    eprintln!("ok: socket URL override, unreachable socket");
}
