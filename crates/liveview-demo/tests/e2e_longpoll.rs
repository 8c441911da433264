//! The demo's seven cases in a real headless Chromium, over long-polling:
//! the browser reaches the demo through a proxy that refuses WebSocket
//! upgrades (as some corporate proxies do), so each page falls back. The
//! same steps as over WebSockets (support/cases.rs, run by e2e.rs); every
//! page they open is checked to be long-polling, and the proxy to have
//! refused upgrades.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "support/cases.rs"]
mod cases;
mod support;

use cases::Site;
use liveview_e2e::Browser;
use liveview_e2e::proxy::TcpProxy;
use support::Demo;

/// A fresh demo behind a proxy that refuses upgrades.
async fn behind_a_proxy() -> (Demo, TcpProxy) {
    let demo = Demo::start().await;
    let proxy = TcpProxy::start(demo.addr.port()).await;
    proxy.refuse_upgrades(true);
    (demo, proxy)
}

/// Each page tried two WebSockets before it fell back.
fn refused(proxy: &TcpProxy, pages: u64) {
    assert!(
        proxy.refused_upgrades() >= 2 * pages,
        "{} upgrades refused for {pages} page(s)",
        proxy.refused_upgrades()
    );
}

#[tokio::test]
async fn a_click_updates_content_over_long_polling() {
    let (demo, proxy) = behind_a_proxy().await;
    let site = &Site::long_polling(&demo, proxy.addr());
    Browser::run("demo_longpoll_case1_click", |page| cases::click(site, page)).await;
    refused(&proxy, 2);
    demo.assert_no_csp_violations().await;
}

#[tokio::test]
async fn forms_are_validated_on_the_server_over_long_polling() {
    let (demo, proxy) = behind_a_proxy().await;
    let site = &Site::long_polling(&demo, proxy.addr());
    Browser::run("demo_longpoll_case2_forms", |page| cases::forms(site, page)).await;
    refused(&proxy, 1);
    demo.assert_no_csp_violations().await;
}

#[tokio::test]
async fn search_sends_one_event_after_a_pause_over_long_polling() {
    let (demo, proxy) = behind_a_proxy().await;
    let site = &Site::long_polling(&demo, proxy.addr());
    Browser::run("demo_longpoll_case3_search", |page| {
        cases::search(site, page)
    })
    .await;
    refused(&proxy, 1);
    demo.assert_no_csp_violations().await;
}

#[tokio::test]
async fn stats_are_pushed_to_every_page_over_long_polling() {
    let (demo, proxy) = behind_a_proxy().await;
    let site = &Site::long_polling(&demo, proxy.addr());
    Browser::run("demo_longpoll_case4_stats", |page| cases::stats(site, page)).await;
    refused(&proxy, 2);
    demo.assert_no_csp_violations().await;
}

#[tokio::test]
async fn spa_navigation_and_history_work_over_long_polling() {
    let (demo, proxy) = behind_a_proxy().await;
    let site = &Site::long_polling(&demo, proxy.addr());
    Browser::run("demo_longpoll_case5_spa", |page| {
        cases::navigation(site, page)
    })
    .await;
    refused(&proxy, 2);
    demo.assert_no_csp_violations().await;
}

#[tokio::test]
async fn files_are_uploaded_and_described_over_long_polling() {
    let (demo, proxy) = behind_a_proxy().await;
    let site = &Site::long_polling(&demo, proxy.addr());
    Browser::run("demo_longpoll_case7_upload", |page| {
        cases::upload(site, page)
    })
    .await;
    refused(&proxy, 1);
    demo.assert_no_csp_violations().await;
}

#[tokio::test]
async fn chat_messages_reach_the_other_browser_over_long_polling() {
    let (demo, proxy) = behind_a_proxy().await;
    let site = &Site::long_polling(&demo, proxy.addr());
    Browser::run("demo_longpoll_case6_chat_alice", |alice| async move {
        Browser::run("demo_longpoll_case6_chat_bob", |bob| {
            cases::chat(site, alice, bob)
        })
        .await;
    })
    .await;
    refused(&proxy, 3);
    demo.assert_no_csp_violations().await;
}
