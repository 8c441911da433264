//! Two demo nodes sharing one real redis-server (`--redis`), each with its
//! own headless Chromium: the chat and the visitors widget work across
//! them, and each node's pushed figures stay on its own pages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod redis_fixture;
mod support;

use std::time::Duration;

use liveview_demo::Config;
use liveview_e2e::{Browser, Page};
use redis_fixture::RedisServer;
use support::Demo;

/// A node of the cluster: the shared database file, the shared Redis; it
/// pushes its figures every `stats` (two rates, so that two nodes' ticks
/// part).
async fn node(db: &std::path::Path, redis: &RedisServer, stats: Duration) -> Demo {
    let mut config = Config::new(db);
    config.redis = Some(redis.url());
    config.stats_interval = stats;
    Demo::start_with(config).await
}

/// Sends a chat message from this page.
async fn say(page: &Page, text: &str) {
    page.type_into("#chat-message", text).await;
    page.click("#chat-form button[type=submit]").await;
}

#[tokio::test]
async fn two_nodes_on_one_redis_share_the_chat_and_the_visitors() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.sqlite3");
    // Started together on one new database file, as `a & b` would.
    let (a, b) = tokio::join!(
        node(&db, &redis, Duration::from_millis(100)),
        node(&db, &redis, Duration::from_millis(170)),
    );
    let (a, b) = (&a, &b);
    Browser::run("demo_cluster_ann_on_a", |ann| async move {
        ann.goto(&a.url("/chat")).await;
        ann.wait_for_text("#chat-presence", "Live").await;
        ann.wait_for_text("#visitors", "You are alone").await;
        // Record the figures this page receives from now on.
        ann.eval(
            "window.__ticks = [];
             new MutationObserver(() => {
               const dl = document.querySelector('#stats dl'), t = window.__ticks;
               if (dl && Number(dl.dataset.tick) !== t[t.length - 1]) t.push(Number(dl.dataset.tick));
             }).observe(document.getElementById('stats'), { childList: true, subtree: true, attributes: true });
             return true;",
        )
        .await;
        let ann = &ann;
        Browser::run("demo_cluster_bob_on_b", |bob| async move {
            bob.goto(&b.url("/chat")).await;
            bob.wait_for_text("#chat-presence", "Live").await;
            // One person on each node.
            bob.wait_for_text("#visitors", "2 people here").await;
            ann.wait_for_text("#visitors", "2 people here").await;

            ann.type_into("#chat-author", "Ann on A").await;
            say(ann, "Hello from node A").await;
            bob.wait_for_text("#messages", "Hello from node A").await;
            bob.wait_for_text("#messages .author", "Ann on A").await;
            say(&bob, "Hi from node B").await;
            ann.wait_for_text("#messages > :last-child", "Hi from node B")
                .await;
            // Each page shows each message once.
            let count = "return document.querySelectorAll('#messages .message').length";
            bob.wait_for_text("#messages > :last-child", "Hi from node B")
                .await;
            assert_eq!(ann.eval(count).await, 2);
            assert_eq!(bob.eval(count).await, 2);
        })
        .await;
        // Bob's browser has quit: node A hears it through Redis.
        ann.wait_for_text("#visitors", "You are alone").await;

        // Node A's figures only, in order: node B's never reached this page.
        ann.wait_until("return window.__ticks.length >= 6").await;
        let ticks = ann.eval("return window.__ticks").await;
        let ticks: Vec<u64> = serde_json::from_value(ticks).unwrap();
        assert!(
            ticks.windows(2).all(|w| w[1] > w[0]),
            "figures from two nodes interleaved: {ticks:?}"
        );
    })
    .await;
}
