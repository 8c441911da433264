//! Hooks (`data-liveview-hook`) and events pushed by the server
//! (`ctx.push_event`, `Channels::push_event`) in a real headless Chromium:
//! the hook's life (mounted, beforeUpdate, updated, disconnected,
//! reconnected, destroyed), `this.push` and its promise, `this.handle`, and
//! the `liveview:{name}` DOM event.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use axum::response::Html;
use axum::routing::get;
use liveview::{Ctx, Error, Event, LiveView, Patch};
use liveview_e2e::Browser;
use liveview_e2e::scripted::{PageExt, document};
use serde_json::{Value, json};

const PAGE: &str = r#"
<div id="area"><div id="chart" data-liveview-hook="Chart" data-x="1">chart</div></div>
<p id="status"></p><p id="answer"></p>
<button id="draw" data-liveview-function="draw" data-action="page#run">Draw</button>
<button id="join" data-liveview-function="join" data-action="page#run">Join</button>
<script>
window.__log = [];
document.addEventListener('liveview:chart:data', (e) => __log.push('dom:' + e.detail.points.length));
// Registered before the client mounts the page's hooks (at DOMContentLoaded).
document.addEventListener('DOMContentLoaded', () => {
  liveview.hooks.Chart = {
    mounted() {
      window.__chart = this;
      __log.push('mounted:' + this.el.id);
      this.handle('chart:data', (p) => { __log.push('data:' + p.points.join()); this.el.dataset.drawn = p.points.length; });
      this.handle('tick', (p) => __log.push('tick:' + p.n));
    },
    beforeUpdate() { __log.push('beforeUpdate:' + this.el.dataset.x); },
    updated() { __log.push('updated:' + this.el.dataset.x); },
    destroyed() { __log.push('destroyed:' + this.el.id); },
    disconnected() { __log.push('disconnected'); },
    reconnected() { __log.push('reconnected'); },
  };
});
</script>"#;

async fn server() -> (std::net::SocketAddr, LiveView) {
    let lv = LiveView::builder()
        .auto_register(false)
        .handler("draw", |ctx: Ctx| async move {
            ctx.push_event("chart:data", json!({"points": [1, 2, 3]}))?;
            Ok::<_, Error>(Patch::html("#status", "drawn"))
        })
        .handler("join", |ctx: Ctx| async move {
            ctx.join("stats").await?;
            Ok::<_, Error>(Patch::html("#status", "joined"))
        })
        .handler("ask", |event: Event| async move {
            Patch::html("#answer", format!("answer to {}", event.data["q"]))
        })
        .handler("fail", |_ctx: Ctx| async {
            Err::<(), _>(Error::user("no way"))
        })
        .handler("render", |event: Event| async move {
            Patch::html("#area", event.data["html"].as_str().unwrap_or_default())
        })
        .build()
        .unwrap();
    let html = document(r#"lang="en" data-room="hooks""#, "Hooks", PAGE);
    let app = axum::Router::new()
        .route("/", get(move || async move { Html(html) }))
        .merge(lv.router());
    (liveview_e2e::serve(app).await, lv)
}

fn log_has(entry: &str) -> String {
    format!("return __log.includes({})", json!(entry))
}

#[tokio::test]
async fn hooks_and_pushed_events_in_chromium() {
    let (addr, lv) = server().await;
    Browser::run("hooks_and_pushed_events_in_chromium", |page| async move {
        page.goto(&format!("http://{addr}/")).await;
        page.wait_until(&log_has("mounted:chart")).await;

        // this.push: a promise of the answering frame, or of the error.
        let target = page
            .eval("return __chart.push('ask', { q: 'life' }).then((frame) => frame.target)")
            .await;
        assert_eq!(target, json!("#answer"));
        page.wait_for_text("#answer", "answer to \"life\"").await;
        let error = page
            .eval("return __chart.push('fail').then(() => 'resolved', (frame) => [frame.error, frame.code])")
            .await;
        assert_eq!(error, json!(["no way", "handler_error"]));

        // ctx.push_event: the hook's handler and the DOM event.
        page.click("#draw").await;
        page.wait_for_text("#status", "drawn").await;
        page.wait_until(&log_has("dom:3")).await;
        assert!(page.eval_bool(&log_has("data:1,2,3")).await);
        assert_eq!(
            page.eval("return document.getElementById('chart').dataset.drawn")
                .await,
            json!("3")
        );

        // Channels::push_event reaches the group's members.
        page.click("#join").await;
        page.wait_for_text("#status", "joined").await;
        lv.channels()
            .push_event("stats", "tick", &json!({"n": 7}))
            .await
            .unwrap();
        page.wait_until(&log_has("tick:7")).await;
        lv.channels()
            .push_event("other", "tick", &json!({"n": 8}))
            .await
            .unwrap();

        // A patch that keeps the element: beforeUpdate, then updated.
        let kept = r#"<div id="chart" data-liveview-hook="Chart" data-x="2">chart 2</div>"#;
        page.eval(&format!(
            "return __chart.push('render', {{ html: {} }})",
            json!(kept)
        ))
        .await;
        page.wait_until(&log_has("updated:2")).await;
        assert!(page.eval_bool(&log_has("beforeUpdate:1")).await);
        assert!(!page.eval_bool(&log_has("destroyed:chart")).await);

        // The socket closes (the page is left for the bfcache) and opens again.
        page.eval("dispatchEvent(new PageTransitionEvent('pagehide', { persisted: true }))")
            .await;
        page.wait_until(&log_has("disconnected")).await;
        assert!(!page.eval_bool(&log_has("reconnected")).await);
        page.eval("dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }))")
            .await;
        page.wait_until(&log_has("reconnected")).await;
        page.wait_until("return liveview.connected").await;

        // A patch that removes it: destroyed.
        page.eval("return __chart.push('render', { html: '<p id=\"gone\">gone</p>' })")
            .await;
        page.wait_until(&log_has("destroyed:chart")).await;

        let log: Value = page.eval("return __log").await;
        assert!(!log.to_string().contains("tick:8"), "{log}");
        assert_eq!(
            log.as_array().unwrap().iter().filter(|e| *e == "mounted:chart").count(),
            1,
            "{log}"
        );
        page.assert_no_js_errors().await;
    })
    .await;
}
