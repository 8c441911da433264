//! In Chromium, on the demo: a page goes on after the server it talks to is
//! restarted (shut down, a new process in its place behind the same
//! address), without a reload. With Redis its session resumes (the click
//! counter continues); without, the page is fetched again and morphed in,
//! and a half-typed form keeps what was typed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use liveview_demo::Config;
use liveview_e2e::Browser;
use liveview_e2e::proxy::TcpProxy;
use liveview_e2e::redis::RedisServer;
use support::Demo;

async fn node(db: &std::path::Path, redis: &RedisServer) -> Demo {
    let mut config = Config::new(db);
    config.redis = Some(redis.url());
    Demo::start_with(config).await
}

#[tokio::test]
async fn the_click_counter_goes_on_after_a_server_restart() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.sqlite3");
    let old = node(&db, &redis).await;
    // The page's address stays; the process behind it changes.
    let proxy = TcpProxy::start(old.addr.port()).await;
    let (proxy, old, redis, db) = (&proxy, &old, &redis, &db);
    Browser::run("demo_counter_after_restart", |page| async move {
        page.goto(&format!("http://{}/click", proxy.addr())).await;
        page.wait_until("return !!window.liveview && window.liveview.connected")
            .await;
        page.click("#update").await;
        page.wait_for_text("#content", "Clicked 1 time on this page")
            .await;
        page.click("#update").await;
        page.wait_for_text("#content", "Clicked 2 times").await;
        page.eval("window.__same_page = true; return true;").await;
        // A deploy: the old process stores its sessions and closes (1012).
        old.lv.shutdown();
        page.wait_until("return !window.liveview.connected").await;
        let new = node(db, redis).await;
        proxy.retarget(new.addr.port());
        proxy.cut();
        page.wait_until("return window.liveview.connected").await;
        page.click("#update").await;
        page.wait_for_text("#content", "Clicked 3 times").await;
        assert_eq!(
            page.eval("return window.__same_page === true").await,
            serde_json::json!(true),
            "no reload"
        );
    })
    .await;
}

/// Without a session backend, the process that takes over knows nothing of
/// the page's session: the resume is refused, the page fetches itself from
/// the new process and morphs it in, and what the user was typing stays
/// (values, focus, caret), without a reload; the fresh session works.
#[tokio::test]
async fn a_half_typed_form_survives_a_restart_that_cannot_resume() {
    let old = Demo::start().await;
    let new = Demo::start().await;
    let proxy = TcpProxy::start(old.addr.port()).await;
    let (proxy, old, new) = (&proxy, &old, &new);
    Browser::run("demo_form_after_refused_resume", |page| async move {
        page.goto(&format!("http://{}/form", proxy.addr())).await;
        page.eval(
            "window.__same_page = true; window.__refreshed = [];
             document.addEventListener('liveview:refreshed', (e) => __refreshed.push(e.detail));
             return true;",
        )
        .await;
        page.type_into("#signup-email", "ada@exa").await;
        page.click("#signup-terms").await;
        page.click("#signup input[name=topics]").await;
        page.eval(
            "const plan = document.getElementById('signup-plan');
             plan.selectedIndex = 2; plan.dispatchEvent(new Event('change', { bubbles: true }));
             window.__plan = plan.value; return true;",
        )
        .await;
        page.type_into("#signup-name", "Ada Love").await;
        page.eval("document.getElementById('signup-name').setSelectionRange(3, 3); return true;")
            .await;
        // New connections go to the new process; the old one shuts down
        // (no backend: its sessions end) and closes the page's socket.
        proxy.retarget(new.addr.port());
        old.lv.shutdown();
        page.wait_until("return __refreshed.length === 1").await;
        page.wait_until("return window.liveview.connected").await;
        assert_eq!(
            page.eval(
                "const name = document.getElementById('signup-name');
                 return [name.value, document.getElementById('signup-email').value,
                         document.getElementById('signup-terms').checked,
                         document.querySelector('#signup input[name=topics]').checked,
                         window.__plan !== '' && document.getElementById('signup-plan').value === window.__plan,
                         document.activeElement === name, name.selectionStart,
                         window.__same_page === true, __refreshed];"
            )
            .await,
            serde_json::json!([
                "Ada Love", "ada@exa", true, true, true, true, 3, true,
                [{"refused": "unknown"}]
            ])
        );
        // The fresh session on the new process validates the form.
        page.click("#signup button[type=submit]").await;
        page.wait_for_text("#signup-result", "fix the").await;
        assert_eq!(new.lv.connection_count(), 1);
    })
    .await;
    old.assert_no_csp_violations().await;
    new.assert_no_csp_violations().await;
}
