//! The browser client under a strict, nonce-based Content-Security-Policy,
//! in a real headless Chromium: `script-src 'nonce-…'` only (no `'self'`,
//! no `'unsafe-inline'`, no `'unsafe-eval'`), styles and connections from
//! the page's origin only. The client loads through
//! `{{ liveview_script(nonce=…) }}`, connects, morphs patches and runs the
//! inline scripts of a fragment that carry the page's nonce (and not the
//! others); over long-polling too, whose module the client imports under the
//! same nonce. The browser reports nothing else.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use liveview::{LiveView, Patch, context};
use liveview_e2e::{Browser, Page};
use serde_json::json;

/// A fixed nonce: enough for a test (an app makes one per response).
const NONCE: &str = "dGVzdC1ub25jZQ==";

fn policy() -> String {
    format!(
        "default-src 'self'; script-src 'nonce-{NONCE}'; style-src 'self'; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; report-uri /csp-report"
    )
}

/// Serves a page under the policy; `reports` counts what the browser posts
/// to the report URI.
async fn server(transport: &str) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let lv = LiveView::builder()
        .auto_register(false)
        .handler("run", || async {
            Patch::html(
                "#out",
                format!(
                    "<p id=\"patched\">patched</p>\
                     <script nonce=\"{NONCE}\">el.dataset.ran = 'with the nonce';</script>\
                     <script>el.dataset.unsigned = 'ran';</script>"
                ),
            )
        })
        .build()
        .unwrap();
    let page = lv
        .templates()
        .render_str(
            r#"<!DOCTYPE html>
<html lang="en" data-room="csp-1" data-liveview-transport="{{ transport }}">
<head><meta charset="utf-8"><title>csp</title>{{ liveview_script(nonce=nonce) }}</head>
<body>
  <button id="run" data-liveview-function="run" data-action="click->page#run">run</button>
  <div id="out"></div>
</body>
</html>"#,
            context! { nonce => NONCE, transport },
        )
        .unwrap();
    assert!(page.contains(&format!("nonce=\"{NONCE}\"")), "{page}");
    let reports = Arc::new(AtomicUsize::new(0));
    let counted = reports.clone();
    let csp = policy();
    let app = axum::Router::new()
        .route(
            "/",
            get(move || async move {
                (
                    [(header::CONTENT_SECURITY_POLICY, csp)],
                    axum::response::Html(page),
                )
                    .into_response()
            }),
        )
        .route(
            "/csp-report",
            post(move |body: String| async move {
                eprintln!("csp report: {body}");
                counted.fetch_add(1, Ordering::SeqCst);
            }),
        )
        .merge(lv.router());
    (liveview_e2e::serve(app).await, reports)
}

/// Waits until `n` reports came, then a moment more for any other.
async fn reports_settle_at(reports: &AtomicUsize, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while reports.load(Ordering::SeqCst) < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "fewer than {n} reports"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(reports.load(Ordering::SeqCst), n, "reports");
}

async fn round_trip(page: &Page, transport: &str) {
    page.wait_until("return window.liveview && liveview.connected")
        .await;
    assert_eq!(
        page.eval("return liveview.transport").await,
        json!(transport)
    );
    page.click("#run").await;
    page.wait_for_text("#patched", "patched").await;
    page.wait_until("return document.getElementById('out').dataset.ran === 'with the nonce'")
        .await;
    assert_eq!(
        page.eval("return document.getElementById('out').dataset.unsigned ?? null")
            .await,
        json!(null),
        "a fragment's script without the nonce is blocked"
    );
}

#[tokio::test]
async fn the_client_works_under_a_nonce_policy_over_a_websocket() {
    let (addr, reports) = server("websocket").await;
    Browser::run("csp_websocket", |page| async move {
        page.goto(&format!("http://{addr}/")).await;
        round_trip(&page, "websocket").await;
    })
    .await;
    // The one violation: the fragment's script without the nonce.
    reports_settle_at(&reports, 1).await;
}

#[tokio::test]
async fn the_client_works_under_a_nonce_policy_over_long_polling() {
    let (addr, reports) = server("longpoll").await;
    Browser::run("csp_longpoll", |page| async move {
        page.goto(&format!("http://{addr}/")).await;
        round_trip(&page, "longpoll").await;
    })
    .await;
    reports_settle_at(&reports, 1).await;
}
