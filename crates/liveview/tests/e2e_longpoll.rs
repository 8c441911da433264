//! The long-poll transport in a real headless Chromium. The page reaches
//! the server through a proxy that refuses WebSocket upgrades (it drops
//! their `Connection` and `Upgrade` headers, as some corporate proxies do):
//!
//! - the page falls back to long-polling; an event's round trip and a push
//!   work over it;
//! - a WebSocket that hangs (never answered): the page long-polls once the
//!   fallback delay has passed;
//! - forced long-polling (`data-liveview-transport="longpoll"`) never tries
//!   a WebSocket; leaving the page ends its session at once; `websocket`
//!   never falls back;
//! - once the proxy lets upgrades through, the page moves its session to a
//!   WebSocket, while events and pushes keep flowing: none lost, none
//!   doubled, the per-session state goes on;
//! - a held poll cut by the network: the page resumes its session on a new
//!   long-poll socket, and gets what it missed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use liveview::{Ctx, LiveView, Patch};
use liveview_e2e::proxy::TcpProxy;
use liveview_e2e::scripted::{PageExt, document};
use liveview_e2e::{Browser, Page, wait_connections};

const PATIENCE: Duration = Duration::from_secs(10);

/// What the handlers saw.
#[derive(Default)]
struct Runs {
    count: AtomicUsize,
    connects: AtomicUsize,
}

#[derive(Default)]
struct Counter(u32);

/// A server whose page has these `<html>` attributes: `count` counts per
/// session; every session joins "news".
async fn server(html_attrs: &str) -> (SocketAddr, LiveView, Arc<Runs>) {
    let runs = Arc::new(Runs::default());
    let (count_runs, connect_runs) = (runs.clone(), runs.clone());
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
        .on_connect(move |ctx: Ctx| {
            connect_runs.connects.fetch_add(1, Ordering::SeqCst);
            async move {
                ctx.join("news").await.unwrap();
                Patch::html("#hello", "welcome")
            }
        })
        .build()
        .unwrap();
    // Recorded from the start: the first transport event comes before a
    // test could listen.
    let html = document(
        &format!(r#"lang="en" data-room="longpoll-1" {html_attrs}"#),
        "long-poll",
        r#"<script>
        window.__transports = []; window.__resumed = []; window.__connected = 0;
        document.addEventListener('liveview:transport', (e) => {
          __transports.push(e.detail); window.__transportAt = window.__transportAt || performance.now(); });
        document.addEventListener('liveview:resumed', (e) => __resumed.push(e.detail.resumed ? true : e.detail));
        document.addEventListener('liveview:connected', () => __connected++);
        </script>
        <p id="hello">-</p><p id="count">0</p>
        <button id="inc" data-liveview-function="count" data-action="click->page#run">+1</button>
        <ul id="news"></ul>"#,
    );
    let app = axum::Router::new()
        .route("/", get(move || async move { Html(html) }))
        .merge(lv.router());
    (liveview_e2e::serve(app).await, lv, runs)
}

/// A proxy in front of `addr` that refuses WebSocket upgrades.
async fn refusing_proxy(addr: SocketAddr) -> TcpProxy {
    let proxy = TcpProxy::start(addr.port()).await;
    proxy.refuse_upgrades(true);
    proxy
}

async fn push(lv: &LiveView, text: &str) {
    lv.channels()
        .group_send("news", Patch::append("#news", format!("<li>{text}</li>")))
        .await
        .unwrap();
}

async fn news(page: &Page) -> Vec<String> {
    let items = page
        .eval("return Array.from(document.querySelectorAll('#news li'), (li) => li.textContent)")
        .await;
    serde_json::from_value(items).unwrap()
}

/// Opens the page through `proxy` and waits until its session is there,
/// on long-polling.
async fn open_long_polling(page: &Page, proxy: &TcpProxy) {
    page.goto(&format!("http://{}/", proxy.addr())).await;
    page.wait_for_text("#hello", "welcome").await;
    assert_eq!(
        page.eval_string("return liveview.transport").await,
        "longpoll"
    );
}

/// Two clicks, two answers; a push arrives once.
async fn round_trip_and_push(page: &Page, lv: &LiveView, runs: &Runs, text: &str) {
    let before: u32 = page.text("#count").await.parse().unwrap();
    for n in 1..=2 {
        page.click("#inc").await;
        page.wait_for_text("#count", &(before + n).to_string())
            .await;
    }
    assert_eq!(runs.count.load(Ordering::SeqCst), before as usize + 2);
    let seen = news(page).await.len();
    push(lv, text).await;
    page.wait_until(&format!(
        "return document.querySelectorAll('#news li').length === {}",
        seen + 1
    ))
    .await;
    assert_eq!(news(page).await.last().map(String::as_str), Some(text));
}

/// Whether `liveview.debug` logged an event sent since `__debug` was reset.
async fn sent_logged(page: &Page) -> bool {
    page.eval_bool(
        r#"return __debug.some((line) => line.startsWith('liveview →') && line.includes('"function":"count"'))"#,
    )
    .await
}

#[tokio::test]
async fn behind_a_proxy_that_refuses_upgrades_the_page_long_polls_then_upgrades_back() {
    let (addr, lv, runs) = server(r#"data-liveview-upgrade-after="200""#).await;
    let proxy = refusing_proxy(addr).await;
    Browser::run("longpoll_fallback_and_upgrade", |page| async move {
        open_long_polling(&page, &proxy).await;
        assert_eq!(
            page.eval("return __transports").await,
            serde_json::json!(["longpoll"])
        );
        assert!(
            proxy.refused_upgrades() >= 2,
            "two WebSockets were tried first, {} refused",
            proxy.refused_upgrades()
        );
        assert!(
            page.eval_bool("return !(liveview.socket instanceof WebSocket)")
                .await
        );
        wait_connections(&lv, 1, PATIENCE).await;
        // `liveview.debug` logs what every socket sends, the long-poll one
        // and, below, the WebSocket it hands the session to.
        page.eval(
            "window.__debug = []; console.debug = (...args) => __debug.push(args.join(' '));
             liveview.debug(true);",
        )
        .await;
        round_trip_and_push(&page, &lv, &runs, "over long-poll").await;
        assert!(sent_logged(&page).await, "long-poll sends logged");
        let refused = proxy.refused_upgrades();
        // The page keeps trying (after 200 ms, 600 ms, 1.8 s, 5.4 s…).
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while proxy.refused_upgrades() == refused {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no WebSocket tried again"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // Events and pushes keep coming while the session moves.
        page.eval(
            "window.__clicks = 0; window.__clicker = setInterval(() => {
               document.getElementById('inc').click(); __clicks++; }, 40);",
        )
        .await;
        proxy.refuse_upgrades(false);
        let mut pushed = Vec::new();
        // The next try may be 5.4 s away.
        let deadline = tokio::time::Instant::now() + 2 * PATIENCE;
        while page.eval_string("return liveview.transport").await != "websocket" {
            assert!(tokio::time::Instant::now() < deadline, "never upgraded");
            let text = format!("push {}", pushed.len());
            push(&lv, &text).await;
            pushed.push(text);
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        for _ in 0..5 {
            let text = format!("push {}", pushed.len());
            push(&lv, &text).await;
            pushed.push(text);
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        let clicks = page
            .eval("clearInterval(__clicker); return __clicks")
            .await
            .as_u64()
            .unwrap() as usize;
        assert!(clicks > 0);
        page.wait_for_text("#count", &(clicks + 2).to_string())
            .await;
        let last = pushed.last().unwrap().clone();
        page.wait_until(&format!(
            "return [...document.querySelectorAll('#news li')].some((li) => li.textContent === {})",
            serde_json::json!(last)
        ))
        .await;
        // Time for a duplicate to show up.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(page.text("#count").await, (clicks + 2).to_string());
        assert_eq!(
            runs.count.load(Ordering::SeqCst),
            clicks + 2,
            "each click ran once"
        );
        let mut expected = vec!["over long-poll".to_owned()];
        expected.extend(pushed);
        assert_eq!(news(&page).await, expected, "every push once, in order");
        assert_eq!(
            runs.connects.load(Ordering::SeqCst),
            1,
            "one session throughout"
        );
        assert_eq!(
            page.eval("return [__transports, __connected, liveview.socket instanceof WebSocket]")
                .await,
            serde_json::json!([["longpoll", "websocket"], 1, true])
        );
        wait_connections(&lv, 1, PATIENCE).await;
        page.eval("window.__debug = []").await;
        round_trip_and_push(&page, &lv, &runs, "over the WebSocket").await;
        assert!(
            sent_logged(&page).await,
            "the handed-over WebSocket's sends logged"
        );
        page.assert_no_js_errors().await;
        eprintln!(
            "ok: fell back, {clicks} clicks and {} pushes across the upgrade",
            expected.len() - 1
        );
    })
    .await;
}

#[tokio::test]
async fn forced_long_polling_never_tries_a_websocket() {
    let (addr, lv, runs) =
        server(r#"data-liveview-transport="longpoll" data-liveview-upgrade-after="100""#).await;
    // Upgrades would be refused, and counted: none is tried.
    let proxy = refusing_proxy(addr).await;
    Browser::run("longpoll_forced", |page| async move {
        page.goto(&format!("http://{}/", proxy.addr())).await;
        page.wait_for_text("#hello", "welcome").await;
        round_trip_and_push(&page, &lv, &runs, "forced").await;
        // Past several upgrade delays: still long-polling.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        round_trip_and_push(&page, &lv, &runs, "still forced").await;
        assert_eq!(proxy.refused_upgrades(), 0, "no WebSocket was tried");
        assert_eq!(
            page.eval("return [liveview.transport, __transports, __connected]")
                .await,
            serde_json::json!(["longpoll", ["longpoll"], 1])
        );
        wait_connections(&lv, 1, PATIENCE).await;
        page.assert_no_js_errors().await;

        // A page that unloads (its window closed) sends a beacon with
        // 1001: its session ends now, not when the server misses its GET.
        page.eval("window.open(location.href, 'second'); return true;")
            .await;
        let handles = page.client().windows().await.unwrap();
        assert_eq!(handles.len(), 2);
        page.client()
            .switch_to_window(handles[1].clone())
            .await
            .unwrap();
        page.wait_until("return !!window.liveview && liveview.connected")
            .await;
        wait_connections(&lv, 2, PATIENCE).await;
        page.client().close_window().await.unwrap();
        page.client()
            .switch_to_window(handles[0].clone())
            .await
            .unwrap();
        wait_connections(&lv, 1, Duration::from_secs(3)).await;
        assert_eq!(
            lv.parked_sessions(),
            0,
            "the session ended, it was not parked"
        );
        round_trip_and_push(&page, &lv, &runs, "the first page goes on").await;
    })
    .await;
}

#[tokio::test]
async fn a_websocket_that_hangs_is_given_up_after_the_fallback_delay() {
    let (addr, lv, runs) = server(r#"data-liveview-fallback-after="1500""#).await;
    let proxy = TcpProxy::start(addr.port()).await;
    proxy.stall_upgrades(true);
    Browser::run("longpoll_stalled_upgrade", |page| async move {
        page.goto(&format!("http://{}/", proxy.addr())).await;
        page.wait_for_text("#hello", "welcome").await;
        let at = page.eval("return __transportAt").await.as_f64().unwrap();
        assert!(
            at >= 1500.0,
            "fell back {at} ms after the page started, before the delay"
        );
        assert_eq!(proxy.refused_upgrades(), 1, "one WebSocket, waited for");
        assert_eq!(
            page.eval("return [liveview.transport, __transports]").await,
            serde_json::json!(["longpoll", ["longpoll"]])
        );
        round_trip_and_push(&page, &lv, &runs, "after the wait").await;
        page.assert_no_js_errors().await;
    })
    .await;
}

#[tokio::test]
async fn websocket_only_never_falls_back() {
    let (addr, lv, _runs) = server(r#"data-liveview-transport="websocket""#).await;
    let proxy = refusing_proxy(addr).await;
    Browser::run("longpoll_websocket_only", |page| async move {
        let url = format!("http://{}/", proxy.addr());
        page.client().goto(&url).await.unwrap();
        // Several WebSockets refused, and past the fallback delay (3 s).
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while proxy.refused_upgrades() < 4 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the page stopped trying"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(3200)).await;
        assert_eq!(
            page.eval("return [liveview.transport, liveview.connected, __transports]")
                .await,
            serde_json::json!(["websocket", false, []])
        );
        assert_eq!(lv.connection_count(), 0);
    })
    .await;
}

#[tokio::test]
async fn a_lost_poll_resumes_the_session_on_a_new_one() {
    let (addr, lv, runs) = server("").await;
    let proxy = refusing_proxy(addr).await;
    Browser::run("longpoll_lost_poll", |page| async move {
        open_long_polling(&page, &proxy).await;
        round_trip_and_push(&page, &lv, &runs, "before").await;
        wait_connections(&lv, 1, PATIENCE).await;

        // The network goes away for a moment: the held GET drops without a
        // word, and the browser cannot send it again at once. (Were the
        // network back at once, the browser would send the GET again by
        // itself, and the page would not know its poll was lost.)
        proxy.refuse(true);
        proxy.cut();
        push(&lv, "while cut").await;
        page.wait_until("return !liveview.connected").await;
        proxy.refuse(false);
        page.wait_until("return __resumed.length === 1").await;
        page.wait_for_text("#news", "while cut").await;
        round_trip_and_push(&page, &lv, &runs, "after").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(news(&page).await, ["before", "while cut", "after"]);
        assert_eq!(
            page.eval("return [__resumed, liveview.transport, __transports]")
                .await,
            serde_json::json!([[true], "longpoll", ["longpoll"]])
        );
        assert_eq!(runs.connects.load(Ordering::SeqCst), 1, "the same session");
        wait_connections(&lv, 1, PATIENCE).await;
        page.assert_no_js_errors().await;
    })
    .await;
}

#[tokio::test]
async fn a_get_the_browser_sends_again_after_a_cut_loses_nothing() {
    let (addr, lv, runs) = server("").await;
    let proxy = refusing_proxy(addr).await;
    Browser::run("longpoll_get_again", |page| async move {
        open_long_polling(&page, &proxy).await;
        round_trip_and_push(&page, &lv, &runs, "before").await;
        // The held GET's connection drops while the network stays: the
        // browser sends the GET again by itself, and a push made at once
        // may go to the answer that was lost. It comes again.
        for n in 0..3 {
            proxy.cut();
            push(&lv, &format!("cut {n}")).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        page.wait_for_text("#news", "cut 2").await;
        round_trip_and_push(&page, &lv, &runs, "after").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            news(&page).await,
            ["before", "cut 0", "cut 1", "cut 2", "after"]
        );
        assert_eq!(runs.connects.load(Ordering::SeqCst), 1, "the same session");
        page.assert_no_js_errors().await;
    })
    .await;
}

/// `n` clicks one after the other, each waiting for its answer in the
/// page (a `MutationObserver` on `#count`): the round trips, in ms, as the
/// page sees them.
async fn round_trips(page: &Page, n: usize) -> Vec<f64> {
    let script = r#"
        const [n, done] = arguments, count = document.getElementById('count');
        const inc = document.getElementById('inc'), times = [];
        const once = () => new Promise((answered) => {
          const want = String(Number(count.textContent) + 1), start = performance.now();
          const seen = new MutationObserver(() => {
            if (count.textContent === want) { seen.disconnect(); times.push(performance.now() - start); answered(); }
          });
          seen.observe(count, { childList: true, characterData: true, subtree: true });
          inc.click();
        });
        (async () => { for (let i = 0; i < n; i++) await once(); done(times); })();"#;
    let times = page
        .client()
        .execute_async(script, vec![serde_json::json!(n)])
        .await
        .unwrap();
    serde_json::from_value(times).unwrap()
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The same event's round trip over each transport, in the same browser
/// against the same loopback server: printed, for the record; each click
/// is answered once.
#[tokio::test]
async fn an_event_round_trip_over_each_transport() {
    const CLICKS: usize = 30;
    let (ws_addr, ws_lv, ws_runs) = server("").await;
    let (lp_addr, lp_lv, lp_runs) = server(r#"data-liveview-transport="longpoll""#).await;
    Browser::run("longpoll_round_trips", |page| async move {
        let mut medians = Vec::new();
        for (addr, lv, runs, transport) in [
            (ws_addr, &ws_lv, &ws_runs, "websocket"),
            (lp_addr, &lp_lv, &lp_runs, "longpoll"),
        ] {
            page.goto(&format!("http://{addr}/")).await;
            page.wait_for_text("#hello", "welcome").await;
            assert_eq!(page.eval_string("return liveview.transport").await, transport);
            let times = round_trips(&page, CLICKS).await;
            assert_eq!(times.len(), CLICKS);
            assert_eq!(page.text("#count").await, CLICKS.to_string());
            assert_eq!(runs.count.load(Ordering::SeqCst), CLICKS);
            wait_connections(lv, 1, PATIENCE).await;
            medians.push(median(times));
        }
        eprintln!(
            "event round trip in Chromium, median of {CLICKS}: WebSocket {:.1} ms, long-poll {:.1} ms",
            medians[0], medians[1]
        );
    })
    .await;
}
