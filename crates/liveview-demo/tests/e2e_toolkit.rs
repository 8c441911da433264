//! The client toolkit where the demo uses it, in a real headless Chromium:
//! the collapsible "How it is made" panel (a client command), the top
//! progress bar (a loading element), the chat's optimistic message (a
//! template) and the stats chart (a hook fed by `push_event`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use liveview_e2e::Browser;
use serde_json::json;
use support::Demo;

#[tokio::test]
async fn the_demo_uses_the_client_toolkit() {
    let demo = Demo::start().await;
    let demo = &demo;
    Browser::run("demo_client_toolkit", |page| async move {
        // A command: the panel closes and opens without a round trip.
        page.goto(&demo.url("/click")).await;
        let events = demo.metrics.total_events();
        page.click(".panel-toggle").await;
        assert_eq!(
            page.eval("return [document.getElementById('source-body').hidden, document.querySelector('.panel-toggle').classList.contains('open')]")
                .await,
            json!([true, false])
        );
        page.click(".panel-toggle").await;
        assert_eq!(
            page.eval("return document.getElementById('source-body').hidden").await,
            json!(false)
        );
        assert_eq!(demo.metrics.total_events(), events, "no event sent");

        // The progress bar while an event is on its way.
        page.eval(
            "window.__bar = []; new MutationObserver(() => __bar.push(document.querySelector('.top-progress').classList.contains('on')))
               .observe(document.querySelector('.top-progress'), { attributes: true });",
        )
        .await;
        page.click("#update").await;
        page.wait_until("return __bar.length >= 2").await;
        assert_eq!(page.eval("return __bar.slice(0, 2)").await, json!([true, false]));

        // The chat shows the message at once, until the server's answer.
        page.goto(&demo.url("/chat")).await;
        page.wait_for_text("#chat-presence", "Live").await;
        page.eval("liveview.latency(600)").await;
        page.type_into("#chat-author", "Ann").await;
        page.type_into("#chat-message", "optimistic hello").await;
        page.click("#chat-form button[type=submit]").await;
        assert_eq!(
            page.eval("return Array.from(document.querySelectorAll('#messages .sending'), (m) => m.querySelector('.author').textContent + ': ' + m.querySelector('.body').textContent)")
                .await,
            json!(["Ann: optimistic hello"])
        );
        page.wait_until("return !document.querySelector('#messages .sending')")
            .await;
        page.wait_for_text("#messages > :last-child .body", "optimistic hello")
            .await;
        page.eval("liveview.latency(0)").await;

        // The stats chart: a hook drawing what push_event sends.
        page.goto(&demo.url("/stats")).await;
        page.wait_until(
            "return document.querySelector('#events-chart polyline').getAttribute('points') !== ''",
        )
        .await;
    })
    .await;
    demo.assert_no_csp_violations().await;
}
