//! Page sessions that outlive the socket, in a real headless Chromium: the
//! page reaches the server through a TCP proxy that the test cuts, so the
//! socket drops without a close frame, as when a network goes away.
//!
//! - Resumed: the per-session state goes on, an event clicked while
//!   offline runs once, an answer and a push written while the page was
//!   offline arrive once.
//! - An upload under way goes on after the resume.
//! - Not resumed (a new server behind the proxy): the page fetches itself
//!   again and morphs its body in, keeping the focused field's text, with
//!   no reload, and works on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use liveview::upload::UploadConfig;
use liveview::{Ctx, LiveView, Patch, Result, Uploads};
use liveview_e2e::proxy::TcpProxy;
use liveview_e2e::scripted::{PageExt, document};
use liveview_e2e::{Browser, Page, wait_connections};
use tokio::sync::Semaphore;

const PATIENCE: Duration = Duration::from_secs(10);

/// What the handlers of one server saw.
struct Runs {
    count: AtomicUsize,
    slow: AtomicUsize,
    connects: AtomicUsize,
    /// `init` runs (the page's `data-liveview-init`).
    inits: AtomicUsize,
    /// `slow` waits for a permit.
    gate: Semaphore,
}

#[derive(Default)]
struct Counter(u32);

/// A server named `name` (its page says so): `count` counts per session,
/// `slow` waits for the test; every session joins "news" and is welcomed.
async fn server(name: &'static str) -> (SocketAddr, LiveView, Arc<Runs>) {
    let runs = Arc::new(Runs {
        count: AtomicUsize::new(0),
        slow: AtomicUsize::new(0),
        connects: AtomicUsize::new(0),
        inits: AtomicUsize::new(0),
        gate: Semaphore::new(0),
    });
    let (count_runs, slow_runs, connect_runs, init_runs) =
        (runs.clone(), runs.clone(), runs.clone(), runs.clone());
    let lv = LiveView::builder()
        .auto_register(false)
        .handler("count", move |ctx: Ctx| {
            count_runs.count.fetch_add(1, Ordering::SeqCst);
            async move {
                let n = ctx.with_state(|c: &mut Counter| {
                    c.0 += 1;
                    c.0
                });
                Patch::html("#count", n.to_string())
            }
        })
        .handler("slow", move || {
            let runs = Arc::clone(&slow_runs);
            async move {
                runs.slow.fetch_add(1, Ordering::SeqCst);
                runs.gate.acquire().await.unwrap().forget();
                Patch::html("#slow-out", "slow done")
            }
        })
        .handler("init", move || {
            init_runs.inits.fetch_add(1, Ordering::SeqCst);
            async { Patch::html("#init", "initialised") }
        })
        .on_connect(move |ctx: Ctx| {
            let n = connect_runs.connects.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                ctx.join("news").await.unwrap();
                Patch::html("#hello", format!("welcome {name}{n}"))
            }
        })
        .build()
        .unwrap();
    let html = document(
        r#"lang="en" data-room="resume-1""#,
        name,
        &format!(
            r#"<p id="server">{name}</p><p id="hello">-</p>
            <p id="count">0</p><button id="inc" data-liveview-function="count" data-action="click->page#run">+1</button>
            <button id="slow" data-liveview-function="slow" data-action="click->page#run">slow</button>
            <p id="slow-out"></p><ul id="news"></ul>
            <input id="draft" name="draft" value="">
            <p id="init" data-liveview-init="init"></p>"#
        ),
    );
    let app = axum::Router::new()
        .route("/", get(move || async move { Html(html) }))
        .merge(lv.router());
    (liveview_e2e::serve(app).await, lv, runs)
}

#[tokio::test]
async fn a_session_survives_a_cut_socket_in_chromium() {
    let (addr, lv, runs) = server("A").await;
    let proxy = TcpProxy::start(addr.port()).await;
    Browser::run(
        "a_session_survives_a_cut_socket_in_chromium",
        |page| async move {
            page.goto(&format!("http://{}/", proxy.addr())).await;
            page.wait_for_text("#hello", "welcome A1").await;
            page.eval(
                "window.__marker = 1; window.__resumed = []; window.__refreshed = [];
             document.addEventListener('liveview:resumed', (e) => __resumed.push(e.detail));
             document.addEventListener('liveview:refreshed', (e) => __refreshed.push(e.detail));",
            )
            .await;
            for n in 1..=2 {
                page.click("#inc").await;
                page.wait_for_text("#count", &n.to_string()).await;
            }
            assert!(
                page.eval_string("return liveview.url")
                    .await
                    .ends_with("?v=2")
            );

            resumed(&page, &proxy, &lv, &runs).await;
            refused(&page, &proxy).await;
            page.assert_no_js_errors().await;
        },
    )
    .await;
}

/// Offline: the page cannot reach the server until `proxy.refuse(false)`.
async fn go_offline(page: &Page, proxy: &TcpProxy) {
    proxy.refuse(true);
    proxy.cut();
    page.wait_until("return !liveview.connected").await;
}

async fn resumed(page: &Page, proxy: &TcpProxy, lv: &LiveView, runs: &Runs) {
    // An event in flight when the socket drops keeps its loading state;
    // its answer, written while the page is offline, comes with the replay.
    page.click("#slow").await;
    wait_for(|| runs.slow.load(Ordering::SeqCst) == 1, "slow ran").await;
    go_offline(page, proxy).await;
    assert!(
        page.eval_bool(
            "return document.getElementById('slow').getAttribute('aria-busy') === 'true'"
        )
        .await,
        "the unanswered event stays pending"
    );
    // The server reads no frame while a handler runs: it notices the lost
    // socket once `slow` is over, and parks the session.
    runs.gate.add_permits(1);
    wait_connections(lv, 0, PATIENCE).await;
    lv.channels()
        .group_send("news", Patch::append("#news", "<li>pushed offline</li>"))
        .await
        .unwrap();
    // Clicked while offline: queued, sent after the resume.
    page.click("#inc").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runs.count.load(Ordering::SeqCst), 2);

    proxy.refuse(false);
    page.wait_for_text("#count", "3").await;
    page.wait_for_text("#slow-out", "slow done").await;
    page.wait_until("return !document.getElementById('slow').hasAttribute('aria-busy')")
        .await;
    wait_connections(lv, 1, PATIENCE).await;
    // Give a duplicate time to show up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        page.eval("return document.querySelectorAll('#news li').length")
            .await,
        serde_json::json!(1),
        "the push arrives once"
    );
    assert_eq!(runs.count.load(Ordering::SeqCst), 3, "count ran once more");
    assert_eq!(runs.slow.load(Ordering::SeqCst), 1, "slow ran once");
    assert_eq!(runs.connects.load(Ordering::SeqCst), 1, "no fresh session");
    assert_eq!(runs.inits.load(Ordering::SeqCst), 1, "initialised once");
    assert_eq!(page.text("#count").await, "3");
    assert_eq!(
        page.eval("return [__resumed, __refreshed, __marker]").await,
        serde_json::json!([[{"resumed": true, "refused": null}], [], 1])
    );

    // Cut again, right away, with nothing pending: resumed again.
    proxy.cut();
    page.wait_until("return __resumed.length === 2").await;
    page.click("#inc").await;
    page.wait_for_text("#count", "4").await;
    eprintln!("ok: resumed twice; offline click, answer and push once each");
}

/// A new server behind the proxy knows nothing of the session: the page
/// fetches itself from it, morphs its body in (the half-typed, focused
/// field keeps its text and caret), applies what the fresh session sent
/// after the morph, initialises the page again for the fresh session
/// (`data-liveview-init`), and works on, without a reload.
async fn refused(page: &Page, proxy: &TcpProxy) {
    let (addr, lv, runs) = server("B").await;
    page.click("#draft").await;
    page.type_into("#draft", "half typ").await;
    page.eval("const d = document.getElementById('draft'); d.setSelectionRange(4, 4)")
        .await;
    proxy.retarget(addr.port());
    proxy.cut();
    page.wait_until("return __refreshed.length === 1").await;
    page.wait_for_text("#server", "B").await;
    // The fresh session's welcome came while the page was being fetched:
    // held, then applied over the fetched page.
    page.wait_for_text("#hello", "welcome B1").await;
    assert_eq!(
        page.eval(
            "const d = document.getElementById('draft');
             return [d.value, document.activeElement === d, d.selectionStart, __marker,
                     __resumed[2], __refreshed[0], document.title]"
        )
        .await,
        serde_json::json!([
            "half typ", true, 4, 1,
            {"resumed": false, "refused": "unknown"}, {"refused": "unknown"}, "B"
        ])
    );
    // A fresh session: the count starts over.
    page.click("#inc").await;
    page.wait_for_text("#count", "1").await;
    assert_eq!(runs.count.load(Ordering::SeqCst), 1);
    assert_eq!(runs.connects.load(Ordering::SeqCst), 1);
    // The page's `data-liveview-init` ran again, for the fresh session.
    wait_for(|| runs.inits.load(Ordering::SeqCst) == 1, "init ran on B").await;
    wait_connections(&lv, 1, PATIENCE).await;
    eprintln!("ok: not resumed, refetched and morphed without a reload");
}

async fn wait_for(mut condition: impl FnMut() -> bool, what: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn upload_file(files: Uploads) -> Result<Patch> {
    let mut html = String::new();
    for file in files.iter() {
        let bytes = file.bytes().await?;
        let sum: u64 = bytes.iter().map(|b| u64::from(*b)).sum();
        html += &format!("<li>{} {} sum={sum}</li>", file.name(), file.size());
    }
    Ok(Patch::html("#result", html))
}

/// An upload under way when the socket drops is not aborted: after the
/// resume, the replayed status frames say where the server is, and the
/// client goes on from there on the new socket. The proxy loses the
/// server's answers first (the upload's "ready" among them), so the upload
/// is pending on the server when the socket is cut.
#[tokio::test]
async fn an_upload_goes_on_after_a_cut_socket_in_chromium() {
    let lv = LiveView::builder()
        .auto_register(false)
        .handler("upload_file", upload_file)
        .uploads(
            "upload_file",
            UploadConfig::default().max_file_size(4 * 1024 * 1024),
        )
        .build()
        .unwrap();
    let html = document(
        r#"data-room="resume-up""#,
        "Upload",
        r#"<form id="f" data-liveview-function="upload_file" data-action="submit->page#run">
          <input id="file" type="file" name="file">
          <ul data-liveview-upload-list="file"></ul>
          <button id="send" type="submit">Upload</button>
        </form><ul id="result"></ul>"#,
    );
    let app = axum::Router::new()
        .route("/", get(move || async move { Html(html) }))
        .merge(lv.router());
    let addr = liveview_e2e::serve(app).await;
    let proxy = TcpProxy::start(addr.port()).await;
    let dir = std::env::temp_dir().join(format!(
        "liveview-resume-{}",
        liveview::templates::new_room_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.bin");
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let sum: u64 = data.iter().map(|b| u64::from(*b)).sum();
    std::fs::write(&path, &data).unwrap();
    Browser::run("an_upload_goes_on_after_a_cut_socket_in_chromium", |page| async move {
        page.goto(&format!("http://{}/", proxy.addr())).await;
        page.eval(
            "window.__resumed = []; window.__uploadErrors = [];
             document.addEventListener('liveview:resumed', (e) => __resumed.push(e.detail));
             document.addEventListener('liveview:upload-error', (e) => __uploadErrors.push(e.detail.message));",
        )
        .await;
        proxy.lose_answers();
        page.type_into("#file", &path.display().to_string()).await;
        page.click("#send").await;
        page.wait_until("return !!document.querySelector('.lv-upload')").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        proxy.cut();
        page.wait_until("return __resumed.length === 1").await;
        page.wait_for_text("#result", &format!("big.bin 1000000 sum={sum}"))
            .await;
        assert_eq!(
            page.eval("return [__resumed[0].resumed, __uploadErrors]").await,
            serde_json::json!([true, []])
        );
        page.assert_no_js_errors().await;
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}
