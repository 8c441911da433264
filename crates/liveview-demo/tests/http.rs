//! The demo over plain HTTP and a raw WebSocket: every page renders, deep
//! links work, bad input is answered, data survives a restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use futures_util::{SinkExt, StreamExt};
use liveview_demo::Db;
use liveview_demo::db::SEEDED_ARTICLES;
use serde_json::{Value, json};
use support::Demo;
use tokio_tungstenite::tungstenite::Message;

const PAGES: [(&str, &str); 10] = [
    ("/", "From htmx to live views"),
    ("/click", "Update content with a click"),
    ("/form", "Form validation on the server"),
    ("/search", "Search as you type"),
    ("/stats", "Figures pushed by the server"),
    ("/navigation", "SPA navigation"),
    ("/about", "About us"),
    ("/contact", "Contact"),
    ("/chat", "Shared state: a chat room"),
    ("/upload", "File upload"),
];

#[tokio::test]
async fn every_page_renders_with_the_client_and_no_external_resource() {
    let demo = Demo::start().await;
    for (path, text) in PAGES {
        let (status, head, body) = demo.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/html"),
            "{path}"
        );
        assert!(body.contains(text), "{path} lacks {text:?}");
        assert!(
            body.contains(liveview::client::script_tag()),
            "{path} lacks the client"
        );
        assert!(body.contains(r#"href="/static/demo.css""#), "{path}");
        assert!(body.contains(r#"id="no-connection""#), "{path}");
        for external in [
            "src=\"http",
            "href=\"http",
            "src=\"//",
            "href=\"//",
            "@import",
        ] {
            assert!(!body.contains(external), "{path} loads something external");
        }
        assert!(
            body.contains(r#"id="stats""#),
            "{path}: every page receives the pushed stats"
        );
        assert!(
            body.contains(r#"data-tick="0""#),
            "{path}: the figures are rendered with the page"
        );
    }
    let (status, _, body) = demo.get("/no-such-page").await;
    assert_eq!(status, 404);
    assert!(body.contains("Nothing here"));
}

#[tokio::test]
async fn case_pages_show_their_template_and_handler_source() {
    let demo = Demo::start().await;
    for (path, snippets) in [
        (
            "/click",
            &[
                "data-liveview-function=&quot;update_content&quot;",
                "#[liveview::handler(&quot;update_content&quot;)]",
            ][..],
        ),
        (
            "/search",
            &["data-liveview-debounce=&quot;500&quot;", "async fn search("],
        ),
        (
            "/stats",
            &[
                "Patch::html(&quot;#stats&quot;, html)",
                "channels.group_send(&amp;app.pages, patch)",
                "liveview.hooks.EventsChart = {",
            ],
        ),
        ("/navigation", &[".with_url(section.path())", "load_about"]),
        (
            "/chat",
            &["async fn add_message(", "ctx.group_send(CHAT_GROUP"],
        ),
        (
            "/upload",
            &["async fn upload_file(", "data-liveview-upload-list"],
        ),
    ] {
        let (_, _, body) = demo.get(path).await;
        for snippet in snippets {
            assert!(body.contains(snippet), "{path} does not show {snippet:?}");
        }
        assert!(!body.contains("// region:"), "{path} shows region markers");
    }
}

#[tokio::test]
async fn deep_links_render_the_section_over_http() {
    let demo = Demo::start().await;
    let (_, _, about) = demo.get("/about").await;
    assert!(about.contains("<title>About us · liveview demo</title>"));
    assert!(about.contains("section-about"));
    assert!(about.contains("liveview is a Rust framework"));
    assert!(about.contains(r#"<a href="/about" aria-current="page""#));
    let (_, _, contact) = demo.get("/contact").await;
    assert!(contact.contains("<title>Contact · liveview demo</title>"));
    assert!(contact.contains("section-contact"));
    let (_, _, start) = demo.get("/navigation").await;
    assert!(start.contains("section-home"));
}

#[tokio::test]
async fn stylesheet_and_page_script_are_served() {
    let demo = Demo::start().await;
    let (status, head, body) = demo.get("/static/demo.css").await;
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains("content-type: text/css"));
    assert!(body.contains(".lv-busy"));
    assert!(body.contains("#no-connection") || body.contains(".banner"));
    let (status, head, body) = demo.get("/static/demo.js").await;
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/javascript")
    );
    assert!(body.contains("liveview.hooks.EventsChart"));
}

/// The value of a response head's `name` header (lower-case name).
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

#[tokio::test]
async fn every_response_carries_a_strict_content_security_policy_the_pages_keep() {
    let demo = Demo::start().await;
    let client = liveview::client::script_url();
    let others = [
        "/static/demo.css",
        "/static/demo.js",
        "/no-such-page",
        &client,
    ];
    for path in PAGES.iter().map(|(path, _)| *path).chain(others) {
        let (_, head, body) = demo.get(path).await;
        assert_eq!(
            header(&head, "content-security-policy"),
            Some(liveview_demo::csp::POLICY),
            "{path}"
        );
        if !head
            .to_ascii_lowercase()
            .contains("content-type: text/html")
        {
            continue;
        }
        // What the policy would block: an inline script, an inline style.
        for (at, _) in body.match_indices("<script") {
            let tag = &body[at..at + body[at..].find('>').unwrap()];
            assert!(
                tag.contains(" src=\""),
                "{path} has an inline script: {tag}"
            );
        }
        assert!(!body.contains(" style=\""), "{path} has an inline style");
        assert!(!body.contains("<style"), "{path} has a style element");
    }
    let policy = liveview_demo::csp::POLICY;
    for directive in [
        "script-src 'self';",
        "style-src 'self';",
        "connect-src 'self';",
        "object-src 'none';",
        "frame-ancestors 'none';",
    ] {
        assert!(policy.contains(directive), "{directive}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
}

/// A plain HTTP/1.1 `POST` of `body` on its own connection: the status.
async fn post(demo: &Demo, path: &str, content_type: &str, body: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(demo.addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        demo.addr,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) and close before reading it all.
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    response
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn violation_reports_are_counted_and_bounded() {
    let demo = Demo::start().await;
    let report = json!({"csp-report": {
        "document-uri": demo.url("/stats"),
        "violated-directive": "script-src-elem",
        "blocked-uri": "inline",
    }});
    let status = post(
        &demo,
        "/csp-report",
        "application/csp-report",
        report.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(demo.metrics.csp_violations(), 1);
    let huge = vec![b'x'; 64 * 1024];
    let status = post(&demo, "/csp-report", "application/csp-report", &huge).await;
    assert_eq!(status, 413, "a report over 16 KiB is refused");
    assert_eq!(demo.metrics.csp_violations(), 1, "and not counted");
    let (status, _, _) = demo.get("/csp-report").await;
    assert_eq!(status, 405, "reports are POSTed");
}

#[tokio::test]
async fn chat_history_is_rendered_escaped_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.sqlite3");
    {
        let demo = Demo::start_on(&path).await;
        let db = Db::open(&demo.db_path).await.unwrap();
        db.add_message("Ada", "<script>alert(1)</script>")
            .await
            .unwrap();
        let (_, _, body) = demo.get("/chat").await;
        assert!(body.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
        assert!(!body.contains("<script>alert(1)"));
    }
    let again = Demo::start_on(&path).await;
    let (_, _, body) = again.get("/chat").await;
    assert!(
        body.contains("&lt;script&gt;alert(1)"),
        "history survives a restart"
    );
    let db = Db::open(&path).await.unwrap();
    assert_eq!(
        db.article_count().await.unwrap(),
        SEEDED_ARTICLES as u64,
        "seeded once"
    );
}

/// A protocol-version-1 WebSocket client.
struct Socket {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_ref: u64,
}

impl Socket {
    async fn open(demo: &Demo) -> Socket {
        let url = format!(
            "ws://{}/ws/liveview/{}/?v=1",
            demo.addr,
            liveview::templates::new_room_id()
        );
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        Socket { ws, next_ref: 0 }
    }

    async fn send(&mut self, value: Value) {
        self.ws
            .send(Message::text(value.to_string()))
            .await
            .unwrap();
    }

    async fn event(&mut self, function: &str, data: Value, form: Value) -> u64 {
        self.next_ref += 1;
        let r = self.next_ref;
        self.send(json!({"function": function, "data": data, "form": form, "ref": r}))
            .await;
        r
    }

    /// The next text frame.
    async fn next_json(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(std::time::Duration::from_secs(5), self.ws.next())
                .await
                .expect("a frame in time")
                .expect("open")
                .expect("frame");
            if let Message::Text(text) = message {
                return serde_json::from_str(&text).unwrap();
            }
        }
    }

    /// The next text frame that is not a pushed stats or visitors patch.
    async fn recv(&mut self) -> Value {
        loop {
            let value = self.next_json().await;
            if value["target"] != "#stats" && value["target"] != "#visitors" {
                return value;
            }
        }
    }

    /// Reads frames until a pushed visitors count says `text`.
    async fn visitors(&mut self, text: &str) {
        loop {
            let value = self.next_json().await;
            if value["target"] == "#visitors" && value["html"] == text {
                return;
            }
        }
    }

    /// The answer to event `r`: its patches (one frame or a batch), or the error.
    async fn answer(&mut self, r: u64) -> Value {
        loop {
            let frame = self.recv().await;
            if frame["ref"] == r {
                return frame;
            }
        }
    }
}

fn html_of(frame: &Value, target: &str) -> String {
    let patches = frame["patches"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| vec![frame.clone()]);
    patches
        .iter()
        .find(|p| p["target"] == target)
        .and_then(|p| p["html"].as_str())
        .unwrap_or_else(|| panic!("no patch of {target} in {frame}"))
        .to_owned()
}

/// The footer's count as rendered over HTTP.
async fn rendered_visitors(demo: &Demo) -> String {
    let (_, _, body) = demo.get("/click").await;
    let start = body.find(r#"<p id="visitors""#).expect("a visitors widget");
    let text = &body[start..];
    let text = &text[text.find('>').unwrap() + 1..];
    text[..text.find('<').unwrap()].to_owned()
}

#[tokio::test]
async fn visitors_are_counted_from_connecting_with_no_event() {
    let demo = Demo::start().await;
    assert_eq!(rendered_visitors(&demo).await, "You are alone");
    let mut ann = Socket::open(&demo).await;
    ann.visitors("You are alone").await;
    // The page being rendered counts its reader, who is not connected yet.
    assert_eq!(rendered_visitors(&demo).await, "2 people here");
    let mut bob = Socket::open(&demo).await;
    bob.visitors("2 people here").await;
    ann.visitors("2 people here").await;
    bob.ws.close(None).await.unwrap();
    ann.visitors("You are alone").await;
    assert_eq!(demo.metrics.total_events(), 0, "no page sends anything");
}

#[tokio::test]
async fn search_handles_empty_wildcards_and_html() {
    let demo = Demo::start().await;
    let mut s = Socket::open(&demo).await;
    let r = s.event("search", json!({}), json!({"query": "  "})).await;
    assert!(html_of(&s.answer(r).await, "#results").contains("Type to search"));
    let r = s
        .event("search", json!({}), json!({"query": "sqlite"}))
        .await;
    let html = html_of(&s.answer(r).await, "#results");
    assert_eq!(html.matches("<li>").count(), 5, "top 5: {html}");
    assert!(html.contains("120 titles contain"), "{html}");
    assert!(html.contains("<mark>SQLite</mark>"));
    let r = s.event("search", json!({}), json!({"query": "100%"})).await;
    assert!(html_of(&s.answer(r).await, "#results").contains("No article title contains “100%”"));
    let r = s.event("search", json!({}), json!({"query": "<b>x"})).await;
    let html = html_of(&s.answer(r).await, "#results");
    assert!(
        html.contains("&lt;b&gt;x") && !html.contains("<b>"),
        "{html}"
    );
    let r = s
        .event("search", json!({}), json!({"query": "x".repeat(5000)}))
        .await;
    assert!(html_of(&s.answer(r).await, "#results").contains("No article"));
    assert_eq!(demo.metrics.events("search"), 5);
}

#[tokio::test]
async fn chat_rejects_empty_and_oversized_messages_and_escapes_html() {
    let demo = Demo::start().await;
    let mut s = Socket::open(&demo).await;
    let r = s.event("join_chat", json!({"after": "0"}), json!({})).await;
    assert!(html_of(&s.answer(r).await, "#chat-presence").contains("Live"));

    let r = s
        .event(
            "add_message",
            json!({}),
            json!({"author": "Ada", "message": "   "}),
        )
        .await;
    let error = s.answer(r).await;
    assert_eq!(error["code"], "handler_error");
    assert_eq!(error["error"], "Write a message before sending it.");

    let r = s
        .event(
            "add_message",
            json!({}),
            json!({"author": "Ada", "message": "x".repeat(10_000)}),
        )
        .await;
    assert_eq!(
        s.answer(r).await["error"],
        "This message is 10000 characters long; the limit is 500."
    );
    let r = s
        .event(
            "add_message",
            json!({}),
            json!({"author": "A".repeat(41), "message": "hi"}),
        )
        .await;
    assert_eq!(
        s.answer(r).await["error"],
        "Names are limited to 40 characters."
    );

    let r = s
        .event(
            "add_message",
            json!({}),
            json!({"author": "", "message": "<img src=x onerror=alert(1)>"}),
        )
        .await;
    // The room's append reaches this connection before the answer.
    let pushed = s.recv().await;
    assert_eq!(pushed["target"], "#messages");
    assert_eq!(pushed["append"], true);
    let html = pushed["html"].as_str().unwrap();
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    assert!(html.contains("Anonymous"));
    let answer = s.answer(r).await;
    assert!(html_of(&answer, "#chat-form").contains(r#"id="chat-message""#));

    let db = Db::open(&demo.db_path).await.unwrap();
    assert_eq!(
        db.message_count().await.unwrap(),
        1,
        "rejected messages are not stored"
    );
}

#[tokio::test]
async fn a_file_uploaded_over_the_socket_reaches_the_upload_handler() {
    let demo = Demo::start().await;
    let mut s = Socket::open(&demo).await;
    let content = b"hello upload\nsecond line\n";
    s.send(
        json!({"upload": {"op": "start", "id": 1, "function": "upload_file", "field": "file",
                              "name": "notes.txt", "type": "text/plain", "size": content.len()}}),
    )
    .await;
    assert_eq!(
        s.recv().await,
        json!({"upload": {"id": 1, "status": "ready"}})
    );
    let mut chunk = 1u32.to_be_bytes().to_vec();
    chunk.extend_from_slice(&0u64.to_be_bytes());
    chunk.extend_from_slice(content);
    s.ws.send(Message::binary(chunk)).await.unwrap();
    assert_eq!(
        s.recv().await,
        json!({"upload": {"id": 1, "status": "done"}})
    );
    s.send(json!({"function": "upload_file", "form": {}, "uploads": {"file": [1]}, "ref": 9}))
        .await;
    let html = html_of(&s.answer(9).await, "#result");
    assert!(html.contains("notes.txt"), "{html}");
    assert!(html.contains("25 bytes · text&#x2f;plain"), "{html}");
    assert!(html.contains("text, 2 lines: “hello upload”"), "{html}");

    // The server enforces the accepted types.
    s.send(
        json!({"upload": {"op": "start", "id": 2, "function": "upload_file", "field": "file",
                              "name": "tool.exe", "type": "application/octet-stream", "size": 10}}),
    )
    .await;
    let refused = s.recv().await;
    assert_eq!(refused["code"], "upload_rejected", "{refused}");

    // An event without files is answered, not failed.
    let r = s.event("upload_file", json!({}), json!({})).await;
    assert!(html_of(&s.answer(r).await, "#result").contains("No file reached the server"));
}

#[tokio::test]
async fn every_handler_of_the_article_is_registered() {
    let demo = Demo::start().await;
    let names = demo.lv.handler_names();
    for name in [
        "update_content",
        "validate_form",
        "search",
        "load_about",
        "load_contact",
        "add_message",
        "validate_signup",
        "upload_file",
    ] {
        assert!(names.contains(&name), "{name} is missing from {names:?}");
    }
}

#[tokio::test]
async fn with_a_room_secret_pages_get_signed_rooms_and_other_rooms_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = liveview_demo::Config::new(dir.path().join("demo.sqlite3"));
    config.room_secret = Some("a demo secret of thirty-two bytes or more".to_owned());
    let demo = Demo::start_with(config).await;
    let (status, _, body) = demo.get("/").await;
    assert_eq!(status, 200);
    let room = body
        .split_once(r#"data-room=""#)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(room, _)| room.to_owned())
        .unwrap();
    assert!(room.starts_with("lvs_"), "{room}");
    let url = |room: &str| format!("ws://{}/ws/liveview/{room}/?v=1", demo.addr);
    assert!(tokio_tungstenite::connect_async(url(&room)).await.is_ok());
    for forged in [liveview::templates::new_room_id(), "chat_room".to_owned()] {
        match tokio_tungstenite::connect_async(url(&forged)).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 403, "{forged}");
            }
            other => panic!("{forged}: {:?}", other.map(|_| ())),
        }
    }
}
