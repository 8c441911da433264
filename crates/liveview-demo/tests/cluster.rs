//! Two demo nodes sharing one real redis-server (`--redis`), each with its
//! own headless Chromium: the chat and the visitors widget work across
//! them, and each node's pushed figures stay on its own pages. And a node
//! stopped with Ctrl-C takes its visitors with it at once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use liveview_demo::Config;
use liveview_e2e::redis::RedisServer;
use liveview_e2e::{Browser, Page};
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

/// A raw WebSocket to a node, as a page without a browser.
struct Socket(
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

impl Socket {
    async fn open(addr: &str) -> Socket {
        let url = format!(
            "ws://{addr}/ws/liveview/{}/?v=1",
            liveview::templates::new_room_id()
        );
        Socket(
            tokio_tungstenite::connect_async(url)
                .await
                .expect("connect")
                .0,
        )
    }

    /// Reads frames until a pushed visitors count says `text`.
    async fn visitors(&mut self, text: &str, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.0.next())
                .await
                .unwrap_or_else(|_| panic!("no {text:?} within {within:?}"))
                .expect("open")
                .expect("frame");
            if let Message::Text(text_frame) = frame {
                let value: serde_json::Value = serde_json::from_str(&text_frame).unwrap();
                if value["target"] == "#visitors" && value["html"] == text {
                    return;
                }
            }
        }
    }
}

#[tokio::test]
async fn a_node_stopped_with_ctrl_c_takes_its_visitors_with_it() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.sqlite3");
    let a = node(&db, &redis, Duration::from_secs(2)).await;
    // Node B is the real binary, stopped as a person would.
    let (redis_url, db_path) = (redis.url(), db.display().to_string());
    let (mut b, b_addr) =
        support::binary(&["--port", "0", "--redis", &redis_url, "--db", &db_path]).await;
    let b_addr = b_addr.to_string();

    let mut ann = Socket::open(&a.addr.to_string()).await;
    ann.visitors("You are alone", Duration::from_secs(5)).await;
    let mut bob = Socket::open(&b_addr).await;
    bob.visitors("2 people here", Duration::from_secs(5)).await;
    ann.visitors("2 people here", Duration::from_secs(5)).await;

    let pid = b.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(10), b.wait())
        .await
        .expect("node B stops on Ctrl-C")
        .unwrap();
    assert!(status.success(), "{status}");
    // Said goodbye: gone at once, not when its heartbeat expires (15 s).
    ann.visitors("You are alone", Duration::from_secs(2)).await;
}
