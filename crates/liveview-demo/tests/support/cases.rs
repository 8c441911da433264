//! The demo's seven cases as a person uses them, written once and run on
//! both transports: tests/e2e.rs runs them over WebSockets, and
//! tests/e2e_longpoll.rs behind a proxy that refuses WebSocket upgrades,
//! where the client falls back to long-polling.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::net::SocketAddr;
use std::time::Duration;

use liveview_demo::Db;
use liveview_e2e::Page;
use serde_json::Value;

use crate::support::Demo;

/// WebDriver's key code for Backspace.
const BACKSPACE: char = '\u{E003}';

/// Where the browser reaches the demo, and the transport its pages must
/// end up on there.
pub struct Site<'a> {
    pub demo: &'a Demo,
    addr: SocketAddr,
    transport: &'static str,
}

impl<'a> Site<'a> {
    /// The demo itself: pages use WebSockets.
    pub fn direct(demo: &'a Demo) -> Site<'a> {
        Site {
            demo,
            addr: demo.addr,
            transport: "websocket",
        }
    }

    /// The demo behind a proxy at `addr` where pages long-poll.
    pub fn long_polling(demo: &'a Demo, addr: SocketAddr) -> Site<'a> {
        Site {
            demo,
            addr,
            transport: "longpoll",
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Opens `path`, waits until connected, checks the transport.
    pub async fn goto(&self, page: &Page, path: &str) {
        page.goto(&self.url(path)).await;
        self.check_transport(page).await;
    }

    pub async fn check_transport(&self, page: &Page) {
        assert_eq!(
            page.eval("return window.liveview.transport").await,
            self.transport,
            "the page's transport"
        );
    }
}

pub async fn eval_str(page: &Page, script: &str) -> String {
    page.eval(script)
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub async fn value_of(page: &Page, css: &str) -> String {
    eval_str(
        page,
        &format!("return document.querySelector({}).value;", Value::from(css)),
    )
    .await
}

/// Whether the element is displayed (its CSS `display` is not `none`).
pub async fn shown(page: &Page, css: &str) -> bool {
    let script = format!(
        "return getComputedStyle(document.querySelector({})).display !== 'none'",
        Value::from(css)
    );
    page.eval(&script).await.as_bool().unwrap()
}

/// Case 1: the index links to every case; a click updates content; the
/// banner shows when the server goes away.
pub async fn click(site: &Site<'_>, page: Page) {
    site.goto(&page, "/").await;
    let links = page
        .eval("return Array.from(document.querySelectorAll('.cards a'), a => a.getAttribute('href'));")
        .await;
    assert_eq!(
        links,
        serde_json::json!([
            "/click",
            "/form",
            "/search",
            "/stats",
            "/navigation",
            "/chat",
            "/upload"
        ])
    );
    page.click(".cards a[href='/click']").await;
    page.wait_until(
        "return location.pathname === '/click' && !!window.liveview && window.liveview.connected",
    )
    .await;
    site.check_transport(&page).await;
    page.wait_for_text("#content", "Initial content").await;

    page.click("#update").await;
    page.wait_for_text("#content", "Updated content").await;
    page.wait_for_text("#content", "Clicked 1 time on this page")
        .await;
    page.click("#update").await;
    page.wait_for_text("#content", "Clicked 2 times").await;
    assert_eq!(site.demo.metrics.events("update_content"), 2);

    // The server goes away: the banner says so.
    assert!(
        page.eval("return document.getElementById('no-connection').hidden")
            .await
            .as_bool()
            .unwrap()
    );
    site.demo.lv.shutdown();
    page.wait_until("const b = document.getElementById('no-connection'); return !b.hidden && b.offsetHeight > 0;")
        .await;
}

/// Case 2: forms validated on the server, with errors per field.
pub async fn forms(site: &Site<'_>, page: Page) {
    site.goto(&page, "/form").await;
    // The article's form.
    page.type_into("#email-input", "nobody").await;
    page.click("#email-form button[type=submit]").await;
    page.wait_for_text("#errors", "Invalid email").await;
    page.clear("#email-input").await;
    page.type_into("#email-input", "ada@example.com").await;
    page.click("#email-form button[type=submit]").await;
    page.wait_for_text("#errors", "Valid email").await;
    assert!(!page.text("#errors").await.contains("Invalid"));

    // The typed form: everything missing.
    page.click("#signup button[type=submit]").await;
    page.wait_for_text("#signup-result", "fix the 5 fields")
        .await;
    for field in ["name", "email", "age", "plan", "terms"] {
        page.find(&format!("#signup-{field}-error")).await;
    }
    // Some fields right, one wrong: its error stays, typed values are kept.
    page.type_into("#signup-name", "Ada <Lovelace>").await;
    page.type_into("#signup-email", "ada@example.com").await;
    page.type_into("#signup-age", "200").await;
    page.click("#signup button[type=submit]").await;
    page.wait_for_text("#signup-result", "fix the 3 fields")
        .await;
    page.wait_for_text("#signup-age-error", "between 13 and 120")
        .await;
    assert!(
        page.eval("return !document.querySelector('#signup-name-error')")
            .await
            .as_bool()
            .unwrap()
    );
    assert_eq!(value_of(&page, "#signup-name").await, "Ada <Lovelace>");
    assert_eq!(value_of(&page, "#signup-email").await, "ada@example.com");
    assert_eq!(value_of(&page, "#signup-age").await, "200");

    // Put it right.
    page.clear("#signup-age").await;
    page.type_into("#signup-age", "36").await;
    page.eval("const s = document.querySelector('#signup-plan'); s.value = 'pro'; return true;")
        .await;
    page.click("input[name=topics][value=rust]").await;
    page.click("#signup-terms").await;
    page.click("#signup button[type=submit]").await;
    page.wait_for_text(
        "#signup-result",
        "Welcome, Ada <Lovelace>! Plan pro, age 36, interested in rust.",
    )
    .await;
    assert_eq!(value_of(&page, "#signup-plan").await, "pro");
    assert!(
        page.eval("return document.querySelector('#signup-terms').checked")
            .await
            .as_bool()
            .unwrap()
    );
}

/// Case 3: search waits for a pause and sends one event.
pub async fn search(site: &Site<'_>, page: Page) {
    site.goto(&page, "/search").await;
    page.wait_for_text("#results", "Type to search").await;
    // Count the frames the page sends, on the wire.
    page.eval(
        "const ws = window.liveview.socket, send = ws.send.bind(ws);
         window.__sent = [];
         ws.send = (frame) => { window.__sent.push(JSON.parse(frame).function); send(frame); };
         return true;",
    )
    .await;
    // A burst of keystrokes, then a pause.
    page.type_into("#search-input", "sqlite").await;
    page.wait_for_text("#results", "120 titles contain “sqlite”")
        .await;
    assert_eq!(
        page.eval("return document.querySelectorAll('#results li').length")
            .await,
        5
    );
    assert_eq!(
        eval_str(
            &page,
            "return document.querySelector('#results mark').textContent"
        )
        .await,
        "SQLite"
    );
    // Titles come in title order.
    let titles = page
        .eval("return Array.from(document.querySelectorAll('#results .title'), t => t.textContent.toLowerCase())")
        .await;
    let titles: Vec<String> = serde_json::from_value(titles).unwrap();
    let mut sorted = titles.clone();
    sorted.sort();
    assert_eq!(titles, sorted);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        site.demo.metrics.events("search"),
        1,
        "six keystrokes, one search event"
    );
    assert_eq!(
        page.eval("return window.__sent").await,
        serde_json::json!(["search"])
    );

    // Emptying the field is a search for nothing.
    page.type_into("#search-input", &BACKSPACE.to_string().repeat(6))
        .await;
    page.wait_for_text("#results", "Type to search").await;
    assert_eq!(value_of(&page, "#search-input").await, "");
    assert_eq!(site.demo.metrics.events("search"), 2);

    // Markup and wildcards are only text.
    page.type_into("#search-input", "<b>50%").await;
    page.wait_for_text("#results", "No article title contains “<b>50%”")
        .await;
    assert!(
        page.eval("return !document.querySelector('#results b')")
            .await
            .as_bool()
            .unwrap()
    );
    assert_eq!(site.demo.metrics.events("search"), 3);
}

/// Case 4: stats pushed to every page, without polling.
pub async fn stats(site: &Site<'_>, page: Page) {
    site.goto(&page, "/stats").await;
    // The page never sends anything; the server pushes, every 2 s.
    let tick = |page: Page| async move {
        eval_str(
            &page,
            "return document.querySelector('#stats dl').dataset.tick",
        )
        .await
        .parse::<u64>()
        .unwrap()
    };
    let first = tick(page.clone()).await;
    page.wait_until(&format!(
        "return Number(document.querySelector('#stats dl').dataset.tick) > {first}"
    ))
    .await;
    page.wait_for_text("[data-stat=clients]", "1").await;
    assert_eq!(page.text("[data-stat=articles]").await, "3600");
    assert_eq!(site.demo.metrics.total_events(), 0, "no event, no polling");

    // A second page of this browser counts, and its footer receives the same push.
    page.eval("window.open('/click', 'other'); return true;")
        .await;
    page.wait_until("return document.querySelector('[data-stat=clients]').textContent === '2'")
        .await;
    let handles = page.client().windows().await.unwrap();
    assert_eq!(handles.len(), 2);
    page.client()
        .switch_to_window(handles[1].clone())
        .await
        .unwrap();
    page.wait_until("return !!document.querySelector('#stats dl') && Number(document.querySelector('#stats dl').dataset.tick) >= 1").await;
    page.wait_for_text("#stats [data-stat=clients]", "2").await;
    site.check_transport(&page).await;
}

/// Case 5: SPA navigation swaps content, URL and title; history works.
pub async fn navigation(site: &Site<'_>, page: Page) {
    site.goto(&page, "/navigation").await;
    page.eval("window.__sameDocument = true; return true;")
        .await;

    page.click("#content a[href='/about']").await;
    page.wait_for_text("#content", "liveview is a Rust framework")
        .await;
    page.wait_until("return location.pathname === '/about'")
        .await;
    assert_eq!(
        eval_str(&page, "return document.title").await,
        "About us · liveview demo"
    );
    assert_eq!(
        eval_str(
            &page,
            "return document.querySelector('#content [aria-current=page]').textContent"
        )
        .await,
        "About us"
    );

    page.click("#content a[href='/contact']").await;
    page.wait_for_text("#content", "nobody reads messages")
        .await;
    page.wait_until("return location.pathname === '/contact'")
        .await;
    assert_eq!(
        eval_str(&page, "return document.title").await,
        "Contact · liveview demo"
    );

    // Back, back, forward: content, URL and title follow.
    page.client().back().await.unwrap();
    page.wait_until("return location.pathname === '/about'")
        .await;
    page.wait_for_text("#content", "liveview is a Rust framework")
        .await;
    page.wait_until("return document.title === 'About us · liveview demo'")
        .await;
    page.client().back().await.unwrap();
    page.wait_until("return location.pathname === '/navigation'")
        .await;
    page.wait_for_text("#content", "Pick a section above").await;
    page.client().forward().await.unwrap();
    page.wait_until("return location.pathname === '/about'")
        .await;
    page.wait_for_text("#content", "liveview is a Rust framework")
        .await;
    assert_eq!(
        page.eval("return window.__sameDocument === true").await,
        true,
        "no page load"
    );

    // A deep link is a full page over HTTP.
    site.goto(&page, "/contact").await;
    assert_eq!(
        page.eval("return window.__sameDocument === undefined")
            .await,
        true
    );
    page.wait_for_text("#content", "nobody reads messages")
        .await;
    assert_eq!(
        eval_str(&page, "return document.title").await,
        "Contact · liveview demo"
    );
    // And navigation works from there.
    page.click("#content a[href='/about']").await;
    page.wait_until("return location.pathname === '/about'")
        .await;
    page.wait_for_text("#content", "liveview is a Rust framework")
        .await;
}

/// Case 6: chat messages reach the other browser, are stored, and bad
/// input is refused.
pub async fn chat(site: &Site<'_>, alice: Page, bob: Page) {
    site.goto(&alice, "/chat").await;
    site.goto(&bob, "/chat").await;
    alice.wait_for_text("#chat-presence", "Live").await;
    bob.wait_for_text("#chat-presence", "Live").await;

    alice.type_into("#chat-author", "Alice").await;
    alice.type_into("#chat-message", "Hello from Alice").await;
    alice.click("#chat-form button[type=submit]").await;
    bob.wait_for_text("#messages", "Hello from Alice").await;
    bob.wait_for_text("#messages .author", "Alice").await;
    alice.wait_for_text("#messages", "Hello from Alice").await;
    // The sender's field is emptied, the name kept.
    alice
        .wait_until("return document.querySelector('#chat-message').value === ''")
        .await;
    assert_eq!(value_of(&alice, "#chat-author").await, "Alice");

    // HTML is shown as text.
    let html = "<b>bold</b> <img src=x onerror=\"window.__pwned=1\">";
    bob.type_into("#chat-message", html).await;
    bob.click("#chat-form button[type=submit]").await;
    alice.wait_for_text("#messages", html).await;
    assert_eq!(
        alice
            .eval("return document.querySelectorAll('#messages b, #messages img').length")
            .await,
        0
    );
    assert_eq!(
        alice.eval("return window.__pwned === undefined").await,
        true
    );
    bob.wait_for_text("#messages > :last-child .author", "Anonymous")
        .await;

    // An empty message and a 10,000-character one are refused, with a message.
    alice.click("#chat-form button[type=submit]").await;
    alice
        .wait_for_text(
            "#chat-form [data-liveview-error]",
            "Write a message before sending it.",
        )
        .await;
    alice
        .eval("const i = document.querySelector('#chat-message'); i.value = 'x'.repeat(10000); return true;")
        .await;
    alice.click("#chat-form button[type=submit]").await;
    alice
        .wait_for_text(
            "#chat-form [data-liveview-error]",
            "This message is 10000 characters long; the limit is 500.",
        )
        .await;
    assert_eq!(
        value_of(&alice, "#chat-message").await.len(),
        10_000,
        "the text is kept to shorten"
    );
    let db = Db::open(&site.demo.db_path).await.unwrap();
    assert_eq!(db.message_count().await.unwrap(), 2);
    assert_eq!(
        bob.eval("return document.querySelectorAll('#messages .message').length")
            .await,
        2
    );

    // A reload (or a late joiner) sees the history, in order.
    site.goto(&bob, "/chat").await;
    let bodies = bob
        .eval("return Array.from(document.querySelectorAll('#messages .body'), b => b.textContent)")
        .await;
    assert_eq!(bodies, serde_json::json!(["Hello from Alice", html]));
}

/// A valid 1×1 PNG.
const PNG: [u8; 70] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x64, 0x60, 0xf8, 0x5f,
    0x0f, 0x00, 0x02, 0x87, 0x01, 0x80, 0xeb, 0x47, 0xba, 0x92, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// Case 7: files uploaded over the socket and described; a refused type.
pub async fn upload(site: &Site<'_>, page: Page) {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "hello upload\nsecond line\n").unwrap();
    let dot = dir.path().join("dot.png");
    std::fs::write(&dot, PNG).unwrap();
    let tool = dir.path().join("tool.exe");
    std::fs::write(&tool, [0u8; 64]).unwrap();
    site.goto(&page, "/upload").await;
    let both = format!("{}\n{}", notes.display(), dot.display());
    page.type_into("#file-input", &both).await;
    page.click("#upload-form button[type=submit]").await;
    page.wait_for_text("#result", "notes.txt").await;
    page.wait_for_text("#result", "25 bytes · text/plain").await;
    page.wait_for_text("#result", "text, 2 lines: “hello upload”")
        .await;
    page.wait_for_text("#result", "PNG image, 1 × 1 pixels")
        .await;
    // The preview is the image itself, decoded by the browser.
    page.wait_until("const i = document.querySelector('#result img'); return !!i && i.complete && i.naturalWidth === 1;")
        .await;
    // Each file got its progress line.
    assert_eq!(
        page.eval(
            "return document.querySelectorAll('[data-liveview-upload-list=file] progress').length"
        )
        .await,
        2
    );
    assert_eq!(site.demo.metrics.events("upload_file"), 1);

    // A type the server does not accept is refused next to the input.
    page.clear("#file-input").await;
    page.type_into("#file-input", &tool.display().to_string())
        .await;
    page.click("#upload-form button[type=submit]").await;
    page.wait_until("return document.querySelector('[data-liveview-upload-error=file]').textContent.trim() !== ''")
        .await;
    assert_eq!(
        site.demo.metrics.events("upload_file"),
        1,
        "no event for a refused file"
    );
    page.wait_for_text("#result", "notes.txt").await;
}
