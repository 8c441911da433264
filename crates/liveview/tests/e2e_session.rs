//! A session ended by the server, in a real headless Chromium: a kick
//! (`Channels::disconnect_tag`) sends the page to the path the server gave,
//! and an expired connection reloads the page, neither reconnecting first.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::response::Html;
use axum::routing::get;
use liveview::{Admission, Ctx, LiveView};
use liveview_e2e::scripted::{PageExt, document};
use liveview_e2e::{Browser, Page};

/// The rooms of the upgrades the guard saw, in order.
type Seen = Arc<Mutex<Vec<String>>>;

fn room_of(path: &str) -> String {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn start() -> (std::net::SocketAddr, LiveView, Seen) {
    let seen = Seen::default();
    let guard_seen = Arc::clone(&seen);
    let lv = LiveView::builder()
        .auto_register(false)
        .authorize(move |request| {
            let room = room_of(request.uri.path());
            let mut seen = guard_seen.lock().unwrap();
            // The first connection to the "expiring" room lives 500 ms.
            let first = !seen.contains(&room);
            seen.push(room.clone());
            async move {
                let admission = Admission::new();
                Ok(if room == "expiring" && first {
                    admission.expire_at(Instant::now() + Duration::from_millis(500))
                } else {
                    admission
                })
            }
        })
        .on_connect(|ctx: Ctx| async move { ctx.tag("user:1").await })
        .build()
        .unwrap();
    let page = |room: &'static str| {
        let html = document(
            &format!(r#"lang="en" data-room="{room}""#),
            "Live",
            r#"<p id="live">live</p>"#,
        );
        get(move || async move { Html(html) })
    };
    let app = axum::Router::new()
        .route("/kicked", page("kicked"))
        .route("/expiring", page("expiring"))
        .route(
            "/login",
            get(|| async { Html(r#"<!DOCTYPE html><p id="login">sign in</p>"#) }),
        )
        .merge(lv.router());
    (liveview_e2e::serve(app).await, lv, seen)
}

async fn wait_connections(lv: &LiveView, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while lv.connection_count() != n {
        assert!(
            Instant::now() < deadline,
            "{} connections, expected {n}",
            lv.connection_count()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn upgrades(seen: &Seen, room: &str) -> usize {
    seen.lock().unwrap().iter().filter(|r| *r == room).count()
}

#[tokio::test]
async fn a_kick_goes_to_the_redirect_and_an_expiry_reloads_in_chromium() {
    let (addr, lv, seen) = start().await;
    Browser::run(
        "a_kick_goes_to_the_redirect_and_an_expiry_reloads_in_chromium",
        |page| async move {
            kicked(addr, &lv, &seen, &page).await;
            expired(addr, &lv, &seen, &page).await;
        },
    )
    .await;
}

async fn kicked(addr: std::net::SocketAddr, lv: &LiveView, seen: &Seen, page: &Page) {
    page.goto(&format!("http://{addr}/kicked")).await;
    wait_connections(lv, 1).await;
    page.assert_no_js_errors().await;
    lv.channels()
        .disconnect_tag("user:1", "/login?from=kick")
        .await
        .unwrap();
    page.wait_until("return location.pathname + location.search === '/login?from=kick'")
        .await;
    page.wait_for_text("#login", "sign in").await;
    wait_connections(lv, 0).await;
    assert_eq!(upgrades(seen, "kicked"), 1, "the kicked page reconnected");
    eprintln!("ok: a kick follows the redirect without reconnecting");
}

async fn expired(addr: std::net::SocketAddr, lv: &LiveView, seen: &Seen, page: &Page) {
    page.goto(&format!("http://{addr}/expiring")).await;
    wait_connections(lv, 1).await;
    page.eval("window.__before_reload = true").await;
    // Reloaded: the marker is gone, and the new page connected again.
    page.wait_until(
        "return window.__before_reload === undefined && !!document.getElementById('live')",
    )
    .await;
    wait_connections(lv, 1).await;
    assert_eq!(upgrades(seen, "expiring"), 2, "one upgrade per page load");
    assert_eq!(
        page.eval_string("return location.pathname").await,
        "/expiring"
    );
    page.assert_no_js_errors().await;
    eprintln!("ok: an expired connection reloads the page");
}
