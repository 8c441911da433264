//! Every case of the demo in a real headless Chromium, used as a person
//! would: click, type, submit, read the page. The seven cases are in
//! support/cases.rs, run here over WebSockets (and over long-polling by
//! e2e_longpoll.rs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "support/cases.rs"]
mod cases;
mod support;

use std::time::Duration;

use cases::{Site, shown};
use liveview_e2e::Browser;
use liveview_e2e::proxy::TcpProxy;
use support::Demo;

#[tokio::test]
async fn index_links_to_every_case_and_a_click_updates_content() {
    let demo = Demo::start().await;
    let site = &Site::direct(&demo);
    Browser::run("demo_case1_click", |page| cases::click(site, page)).await;
    demo.assert_no_csp_violations().await;
}

#[tokio::test]
async fn forms_are_validated_on_the_server_with_errors_per_field() {
    let demo = Demo::start().await;
    let site = &Site::direct(&demo);
    Browser::run("demo_case2_forms", |page| cases::forms(site, page)).await;
    demo.assert_no_csp_violations().await;
}

#[tokio::test]
async fn search_waits_for_a_pause_and_sends_one_event() {
    let demo = Demo::start().await;
    let site = &Site::direct(&demo);
    Browser::run("demo_case3_search", |page| cases::search(site, page)).await;
    demo.assert_no_csp_violations().await;
}

#[tokio::test]
async fn stats_are_pushed_to_every_page_without_polling() {
    let demo = Demo::start().await;
    let site = &Site::direct(&demo);
    Browser::run("demo_case4_stats", |page| cases::stats(site, page)).await;
    demo.assert_no_csp_violations().await;
}

#[tokio::test]
async fn spa_navigation_swaps_content_updates_url_and_title_and_history_works() {
    let demo = Demo::start().await;
    let site = &Site::direct(&demo);
    Browser::run("demo_case5_spa", |page| cases::navigation(site, page)).await;
    demo.assert_no_csp_violations().await;
}

#[tokio::test]
async fn chat_messages_reach_the_other_browser_are_stored_and_bad_input_is_refused() {
    let demo = Demo::start().await;
    let site = &Site::direct(&demo);
    // Two browsers; each run saves its screenshot and quits its browser on failure.
    Browser::run("demo_case6_chat_alice", |alice| async move {
        Browser::run("demo_case6_chat_bob", |bob| cases::chat(site, alice, bob)).await;
    })
    .await;
    demo.assert_no_csp_violations().await;
}

#[tokio::test]
async fn files_are_uploaded_over_the_socket_and_described() {
    let demo = Demo::start().await;
    let site = &Site::direct(&demo);
    Browser::run("demo_case7_upload", |page| cases::upload(site, page)).await;
    demo.assert_no_csp_violations().await;
}

/// A page whose socket drops (cut by a proxy, no close frame) resumes its
/// session when it comes back: a message posted meanwhile by another
/// browser shows up exactly once, with no script of the page's own.
#[tokio::test]
async fn a_chat_message_posted_while_a_page_is_offline_shows_once_after_the_resume() {
    let demo = Demo::start().await;
    let proxy = TcpProxy::start(demo.addr.port()).await;
    let (demo, proxy) = (&demo, &proxy);
    Browser::run("demo_case6_chat_offline_alice", |alice| async move {
        Browser::run("demo_case6_chat_offline_bob", |bob| async move {
            alice.goto(&demo.url("/chat")).await;
            bob.goto(&format!("http://{}/chat", proxy.addr())).await;
            alice.wait_for_text("#chat-presence", "Live").await;
            bob.wait_for_text("#chat-presence", "Live").await;
            bob.eval("window.__resumed = []; window.__marker = 1;
                      document.addEventListener('liveview:resumed', (e) => __resumed.push(e.detail));")
                .await;

            proxy.refuse(true);
            proxy.cut();
            bob.wait_until("return !liveview.connected").await;
            assert!(shown(&bob, ".presence-offline").await);
            assert!(!shown(&bob, "#chat-presence").await);

            alice.type_into("#chat-author", "Alice").await;
            alice.type_into("#chat-message", "said while Bob was away").await;
            alice.click("#chat-form button[type=submit]").await;
            alice.wait_for_text("#messages", "said while Bob was away").await;

            proxy.refuse(false);
            bob.wait_until("return __resumed.length === 1").await;
            bob.wait_for_text("#messages", "said while Bob was away").await;
            // Time for a duplicate to show up.
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(
                bob.eval("return Array.from(document.querySelectorAll('#messages .body'), b => b.textContent)").await,
                serde_json::json!(["said while Bob was away"])
            );
            assert_eq!(
                bob.eval("return [__resumed[0].resumed, __marker]").await,
                serde_json::json!([true, 1])
            );
            assert!(shown(&bob, "#chat-presence").await);
            assert!(!shown(&bob, ".presence-offline").await);

            // Still in the room: Bob's next message reaches Alice.
            bob.type_into("#chat-author", "Bob").await;
            bob.type_into("#chat-message", "back").await;
            bob.click("#chat-form button[type=submit]").await;
            alice.wait_for_text("#messages > :last-child", "back").await;
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn visitors_in_real_time_count_two_browsers_and_one_leaving() {
    let demo = Demo::start().await;
    let demo = &demo;
    Browser::run("demo_visitors_ann", |ann| async move {
        // A page with no script of its own: tracking starts on connecting.
        ann.goto(&demo.url("/click")).await;
        ann.wait_for_text("#visitors", "You are alone").await;
        let ann = &ann;
        Browser::run("demo_visitors_bob", |bob| async move {
            // Rendered with the count, then kept live on both pages.
            bob.goto(&demo.url("/")).await;
            bob.wait_for_text("#visitors", "2 people here").await;
            ann.wait_for_text("#visitors", "2 people here").await;
            assert_eq!(
                ann.eval("return document.getElementById('visitors').getAttribute('aria-live')")
                    .await,
                "polite"
            );
        })
        .await;
        // Bob's browser has quit.
        ann.wait_for_text("#visitors", "You are alone").await;
        assert_eq!(demo.metrics.total_events(), 0, "no page sent an event");
    })
    .await;
}

/// The check the cases end with sees what the policy blocks: an inline
/// script added to a page does not run, and the browser reports it.
#[tokio::test]
async fn the_content_security_policy_blocks_an_inline_script_and_it_is_reported() {
    let demo = Demo::start().await;
    let demo = &demo;
    Browser::run("demo_csp_violation", |page| async move {
        page.goto(&demo.url("/click")).await;
        page.wait_until("return liveview.connected").await;
        page.eval(
            "const s = document.createElement('script'); s.text = 'window.__ran = true';
             document.head.append(s);",
        )
        .await;
        assert_eq!(
            page.eval("return window.__ran === true").await,
            serde_json::json!(false),
            "blocked"
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while demo.metrics.csp_violations() == 0 {
            assert!(tokio::time::Instant::now() < deadline, "no report came");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}
