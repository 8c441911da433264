//! The demo's "Visitors in real time" widget, the demo's own code, across
//! two in-process nodes sharing one real redis-server: every page shows
//! "You are alone" or how many people are here, updated live on both nodes.
//! (The demo binary with Chromium is in `cluster.rs`; this covers three
//! visitors and two departures, over plain WebSockets.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::path::Path;

use liveview_demo::Config;
use liveview_e2e::redis::RedisServer;
use liveview_e2e::ws::Client;
use support::Demo;

async fn node(redis: &RedisServer, dir: &Path, name: &str) -> Demo {
    let mut config = Config::new(dir.join(format!("{name}.sqlite3")));
    config.redis = Some(redis.url());
    Demo::start_with(config).await
}

/// Opens a page's socket; the widget's first count says `expected`.
async fn open_page(demo: &Demo, expected: &str) -> Client {
    let url = format!(
        "ws://{}/ws/liveview/{}/?v=1",
        demo.addr,
        liveview::templates::new_room_id()
    );
    let mut client = Client::connect(&url, None).await.unwrap();
    expect_widget(&mut client, expected).await;
    client
}

/// Reads pushes until the widget says `text` (other pushes, such as the
/// figures of case 4, pass by).
async fn expect_widget(client: &mut Client, text: &str) {
    loop {
        let frame = client.recv_json().await;
        if frame["target"] == "#visitors" && frame["html"] == text {
            return;
        }
    }
}

#[tokio::test]
async fn the_visitors_widget_counts_people_on_every_node() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let a = node(&redis, dir.path(), "a").await;
    let b = node(&redis, dir.path(), "b").await;

    let mut ann = open_page(&a, "You are alone").await;
    let mut bob = open_page(&b, "2 people here").await;
    expect_widget(&mut ann, "2 people here").await;
    let cid = open_page(&a, "3 people here").await;
    expect_widget(&mut ann, "3 people here").await;
    expect_widget(&mut bob, "3 people here").await;

    cid.close().await;
    expect_widget(&mut ann, "2 people here").await;
    expect_widget(&mut bob, "2 people here").await;
    ann.close().await;
    expect_widget(&mut bob, "You are alone").await;
}
