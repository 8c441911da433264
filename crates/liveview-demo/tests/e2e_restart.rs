//! In Chromium, on the demo with Redis: the click counter of a page goes on
//! after the server it talks to is restarted (shut down, a new process in
//! its place behind the same address), without a reload.

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
