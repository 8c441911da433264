//! The server over a real WebSocket: replies, errors, limits, groups, state.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use liveview::layer::ConnId;
use liveview::{Ctx, Data, Error, Event, Form, Limits, LiveView, Patch, Reply, Result, State};
use liveview_e2e::ws::{Client, PATIENCE, TestServer};
use serde::Deserialize;
use serde_json::{Value, json};

fn builder() -> liveview::LiveViewBuilder {
    LiveView::builder().auto_register(false).debug(false)
}

async fn echo(Data(data): Data<Value>, Form(form): Form<Value>) -> Patch {
    Patch::html("#out", json!({"data": data, "form": form}).to_string())
}

#[tokio::test]
async fn every_reply_field_reaches_the_client_with_its_ref() {
    let server = TestServer::start(
        builder()
            .handler("full", || async {
                Patch::html("#t", "<b>x</b>")
                    .with_url("/about")
                    .with_title("About")
                    .with_scroll("#top")
                    .with_scroll_top()
            })
            .handler("append", || async { Patch::append("#list", "<li>1</li>") })
            .handler("prepend", || async {
                Patch::prepend("#list", "<li>0</li>")
            })
            .handler("outer", || async {
                Patch::replace("#box", "<div id=\"box\">new</div>")
            })
            .handler("remove", || async { Patch::remove("#gone") }),
    )
    .await;
    let mut client = server.client("room1").await;

    let r = client.event("full", json!({}), json!({})).await;
    assert_eq!(
        client.recv_json().await,
        json!({"target": "#t", "html": "<b>x</b>", "url": "/about", "title": "About",
               "scroll": "#top", "scrollTop": true, "ref": r})
    );
    let r = client.event("append", json!({}), json!({})).await;
    assert_eq!(
        client.recv_json().await,
        json!({"target": "#list", "html": "<li>1</li>", "append": true, "ref": r})
    );
    let r = client.event("prepend", json!({}), json!({})).await;
    assert_eq!(
        client.recv_json().await,
        json!({"target": "#list", "html": "<li>0</li>", "prepend": true, "ref": r})
    );
    let r = client.event("outer", json!({}), json!({})).await;
    assert_eq!(
        client.recv_json().await,
        json!({"target": "#box", "html": "<div id=\"box\">new</div>", "outer": true, "ref": r})
    );
    let r = client.event("remove", json!({}), json!({})).await;
    assert_eq!(
        client.recv_json().await,
        json!({"target": "#gone", "remove": true, "ref": r})
    );
}

#[tokio::test]
async fn several_patches_are_one_frame_for_v1_and_split_for_django_clients() {
    let server = TestServer::start(
        builder()
            .handler("two", || async {
                Reply::none()
                    .and(Patch::html("#a", "1"))
                    .and(Patch::html("#b", "2"))
            })
            .handler("nothing", || async {}),
    )
    .await;
    let mut v1 = server.client("r").await;
    let r = v1.event("two", json!({}), json!({})).await;
    assert_eq!(
        v1.recv_json().await,
        json!({"patches": [{"target": "#a", "html": "1"}, {"target": "#b", "html": "2"}], "ref": r})
    );
    let r = v1.event("nothing", json!({}), json!({})).await;
    assert_eq!(
        v1.recv_json().await,
        json!({"ref": r}),
        "v1 clients get an acknowledgement"
    );

    let mut legacy = server.legacy_client("r").await;
    legacy
        .send_text(r#"{"function":"two","data":{},"form":{},"lang":"en","room":"r"}"#)
        .await;
    assert_eq!(
        legacy.recv_json().await,
        json!({"target": "#a", "html": "1"})
    );
    assert_eq!(
        legacy.recv_json().await,
        json!({"target": "#b", "html": "2"})
    );
    legacy.send_text(r#"{"function":"nothing"}"#).await;
    legacy.send_text(r#"{"function":"two"}"#).await;
    // No acknowledgement for "nothing": the next frame answers "two".
    assert_eq!(
        legacy.recv_json().await,
        json!({"target": "#a", "html": "1"})
    );
}

#[tokio::test]
async fn data_and_form_keys_arrive_in_snake_case() {
    let server = TestServer::start(builder().handler("echo", echo)).await;
    let mut client = server.client("r").await;
    client
        .event(
            "echo",
            json!({"userId": "7", "nestedThing": {"innerKey": 1}}),
            json!({"firstName": "Ada"}),
        )
        .await;
    let frame = client.recv().await;
    let html: Value = serde_json::from_str(frame.patch.html.as_deref().unwrap()).unwrap();
    assert_eq!(
        html,
        json!({"data": {"user_id": "7", "nested_thing": {"inner_key": 1}}, "form": {"first_name": "Ada"}})
    );
}

#[derive(Deserialize)]
struct Signup {
    email: String,
    age: u8,
    #[serde(default)]
    newsletter: bool,
    #[serde(default)]
    topics: Vec<String>,
}

async fn signup(Form(form): Form<Signup>) -> Result<Patch> {
    if !form.email.contains('@') {
        return Err(Error::user("Invalid email"));
    }
    Ok(Patch::html(
        "#result",
        format!(
            "{} {} {} {}",
            form.email,
            form.age,
            form.newsletter,
            form.topics.join("+")
        ),
    ))
}

#[tokio::test]
async fn typed_forms_parse_browser_values_and_reject_wrong_types() {
    let server = TestServer::start(builder().handler("signup", signup)).await;
    let mut client = server.client("r").await;
    client
        .event(
            "signup",
            json!({}),
            json!({"email": "a@b.c", "age": "36", "newsletter": "on", "topics": ["rust", "web"]}),
        )
        .await;
    assert_eq!(
        client.recv().await.patch.html.as_deref(),
        Some("a@b.c 36 true rust+web")
    );

    let r = client
        .event("signup", json!({}), json!({"email": "a@b.c", "age": "old"}))
        .await;
    let error = client.recv_json().await;
    assert_eq!(error["code"], "invalid_data");
    assert_eq!(error["function"], "signup");
    assert_eq!(error["ref"], r);
    assert!(
        error["error"].as_str().unwrap().contains("field `age`"),
        "{error}"
    );

    let error = {
        client.event("signup", json!({}), json!({"age": "3"})).await;
        client.recv_json().await
    };
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("missing field `email`"),
        "{error}"
    );

    // A user-facing error is shown as is, and the connection still works.
    client
        .event("signup", json!({}), json!({"email": "nope", "age": "3"}))
        .await;
    let error = client.recv_json().await;
    assert_eq!(error["error"], "Invalid email");
    assert_eq!(error["code"], "handler_error");
    client
        .event("signup", json!({}), json!({"email": "x@y", "age": 1}))
        .await;
    assert_eq!(
        client.recv().await.patch.html.as_deref(),
        Some("x@y 1 false ")
    );
}

#[tokio::test]
async fn malformed_frames_get_error_frames_and_the_connection_stays_open() {
    let server = TestServer::start(builder().handler("echo", echo)).await;
    let mut client = server.client("r").await;
    for (text, code) in [
        ("{not json", "bad_json"),
        ("", "bad_json"),
        ("[1,2,3]", "bad_event"),
        (r#"{"data":{}}"#, "bad_event"),
        (r#"{"function":42}"#, "bad_event"),
        (r#"{"function":"echo","data":"str"}"#, "bad_event"),
        (r#"{"function":"echo","ref":-1}"#, "bad_event"),
    ] {
        client.send_text(text).await;
        let frame = client.recv_json().await;
        assert_eq!(frame["code"], code, "for {text:?}: {frame}");
        assert!(frame["error"].is_string());
    }
    client.event("echo", json!({"a": 1}), json!({})).await;
    assert!(client.recv().await.patch.html.is_some());
}

#[tokio::test]
async fn unknown_functions_list_handlers_only_in_debug_mode() {
    let server = TestServer::start(builder().handler("secret_admin", echo)).await;
    let mut client = server.client("r").await;
    let r = client.event("serch", json!({}), json!({})).await;
    let frame = client.recv_json().await;
    assert_eq!(
        frame,
        json!({"error": "unknown function 'serch'", "code": "unknown_function", "function": "serch", "ref": r})
    );

    let server = TestServer::start(builder().debug(true).handler("secret_admin", echo)).await;
    let mut client = server.client("r").await;
    client.event("serch", json!({}), json!({})).await;
    let frame = client.recv_json().await;
    assert!(
        frame["error"].as_str().unwrap().contains("secret_admin"),
        "{frame}"
    );
}

#[derive(Debug, thiserror::Error)]
#[error("database password is hunter2")]
struct Internal;

async fn failing() -> Result<Patch> {
    Err(Internal.into())
}

#[tokio::test]
async fn internal_errors_are_hidden_unless_debugging() {
    let server = TestServer::start(builder().handler("failing", failing)).await;
    let mut client = server.client("r").await;
    client.event("failing", json!({}), json!({})).await;
    let frame = client.recv_json().await;
    assert_eq!(frame["error"], "handler 'failing' failed");
    assert_eq!(frame["code"], "handler_error");

    let server = TestServer::start(builder().debug(true).handler("failing", failing)).await;
    let mut client = server.client("r").await;
    client.event("failing", json!({}), json!({})).await;
    let frame = client.recv_json().await;
    assert_eq!(
        frame["error"],
        "handler 'failing' failed: database password is hunter2"
    );
}

async fn panicking(Data(d): Data<Value>) -> Patch {
    if d["boom"] == json!(true) {
        panic!("boom");
    }
    Patch::html("#ok", "fine")
}

#[tokio::test]
async fn a_panicking_handler_does_not_hurt_its_connection_or_neighbours() {
    let server = TestServer::start(builder().handler("maybe_panic", panicking)).await;
    let mut victim = server.client("r").await;
    let mut neighbour = server.client("r").await;
    let r = victim
        .event("maybe_panic", json!({"boom": true}), json!({}))
        .await;
    assert_eq!(
        victim.recv_json().await,
        json!({"error": "handler 'maybe_panic' panicked", "code": "handler_panic", "function": "maybe_panic", "ref": r})
    );
    victim.event("maybe_panic", json!({}), json!({})).await;
    assert_eq!(victim.recv().await.patch.html.as_deref(), Some("fine"));
    neighbour.event("maybe_panic", json!({}), json!({})).await;
    assert_eq!(neighbour.recv().await.patch.html.as_deref(), Some("fine"));
    assert_eq!(server.lv.connection_count(), 2);
}

#[tokio::test]
async fn slow_handlers_time_out() {
    let server = TestServer::start(
        builder()
            .limits(Limits::default().handler_timeout(Duration::from_millis(100)))
            .handler("slow", || async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Patch::html("#never", "")
            })
            .handler("fast", || async { Patch::html("#fast", "yes") }),
    )
    .await;
    let mut client = server.client("r").await;
    let r = client.event("slow", json!({}), json!({})).await;
    let frame = client.recv_json().await;
    assert_eq!(frame["code"], "timeout");
    assert_eq!(frame["ref"], r);
    client.event("fast", json!({}), json!({})).await;
    assert_eq!(client.recv().await.patch.html.as_deref(), Some("yes"));
}

#[tokio::test]
async fn events_over_the_rate_are_dropped_then_floods_are_closed() {
    let server = TestServer::start(
        builder()
            .limits(Limits::default().events_per_second(Some(1)).event_burst(3))
            .handler("echo", echo),
    )
    .await;
    let mut client = server.client("r").await;
    for _ in 0..3 {
        client.event("echo", json!({}), json!({})).await;
        assert!(client.recv().await.patch.html.is_some());
    }
    let r = client.event("echo", json!({}), json!({})).await;
    let frame = client.recv_json().await;
    assert_eq!(frame["code"], "rate_limited");
    assert_eq!(frame["ref"], r);
    // Keep flooding: past ten drops in a row the server closes (1008).
    for _ in 0..9 {
        client.event("echo", json!({}), json!({})).await;
        assert_eq!(client.recv_json().await["code"], "rate_limited");
    }
    client.event("echo", json!({}), json!({})).await;
    assert_eq!(client.recv_close().await, 1008);
    server.wait_connections(0).await;
}

#[tokio::test]
async fn oversized_messages_close_with_1009() {
    let server = TestServer::start(
        builder()
            .limits(Limits::default().max_frame_bytes(1024))
            .handler("echo", echo),
    )
    .await;
    let mut client = server.client("r").await;
    client
        .event("echo", json!({"big": "x".repeat(900)}), json!({}))
        .await;
    assert!(
        client.recv().await.patch.html.is_some(),
        "under the limit works"
    );
    client
        .event("echo", json!({"big": "x".repeat(5000)}), json!({}))
        .await;
    assert_eq!(client.recv_close().await, 1009);
    server.wait_connections(0).await;
}

#[tokio::test]
async fn connections_beyond_the_limit_get_503() {
    let server = TestServer::start(builder().limits(Limits::default().max_connections(2))).await;
    let _a = server.client("r").await;
    let _b = server.client("r").await;
    match Client::connect(&server.url("r"), None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
            assert!(response.headers().contains_key("retry-after"));
        }
        Ok(_) => panic!("third connection was accepted"),
        Err(err) => panic!("unexpected error {err}"),
    }
    drop(_a);
    server.wait_connections(1).await;
    assert!(Client::connect(&server.url("r"), None).await.is_ok());
}

#[tokio::test]
async fn the_upgrade_checks_origin() {
    let server = TestServer::start(builder()).await;
    let url = server.url("r");
    let same = format!("http://{}", server.addr);
    assert!(
        Client::connect(&url, Some(&same)).await.is_ok(),
        "own host is allowed"
    );
    for origin in ["http://evil.example", "null", "http://127.0.0.1:1"] {
        match Client::connect(&url, Some(origin)).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 403)
            }
            Ok(_) => panic!("{origin} was accepted"),
            Err(err) => panic!("unexpected error {err}"),
        }
    }
    let server = TestServer::start(builder().allowed_origins(["https://app.example.com"])).await;
    let url = server.url("r");
    assert!(
        Client::connect(&url, Some("https://app.example.com"))
            .await
            .is_ok()
    );
    assert!(
        Client::connect(&url, Some(&format!("http://{}", server.addr)))
            .await
            .is_err()
    );
    assert!(matches!(
        LiveView::builder()
            .allowed_origins(["not an origin"])
            .build(),
        Err(liveview::BuildError::BadOrigin { .. })
    ));
}

#[tokio::test]
async fn bad_room_ids_are_refused() {
    let server = TestServer::start(builder()).await;
    let (status, _, _) = server.get("/ws/liveview/bad.room/").await;
    assert_eq!(status, 400);
    let long = "a".repeat(129);
    assert!(Client::connect(&server.url(&long), None).await.is_err());
}

#[tokio::test]
async fn silent_connections_are_pinged_then_reaped_and_leave_their_groups() {
    let server = TestServer::start(
        builder().limits(
            Limits::default()
                .ping_interval(Duration::from_millis(50))
                .idle_timeout(Duration::from_millis(200)),
        ),
    )
    .await;
    // This client answers pings (tungstenite does so while it reads).
    let mut alive = server.client("r").await;
    // This one never reads, so it never answers pings.
    let _dead = server.client("r").await;
    server.wait_connections(2).await;
    alive.expect_silence(Duration::from_millis(600)).await;
    server.wait_connections(1).await;
    // The reaped connection left the broadcast group: one delivery only.
    server
        .lv
        .channels()
        .broadcast(Patch::html("#x", "still here"))
        .await
        .unwrap();
    assert_eq!(alive.recv().await.patch.html.as_deref(), Some("still here"));
}

#[tokio::test]
async fn graceful_shutdown_closes_with_1012() {
    let server = TestServer::start(builder()).await;
    let mut a = server.client("r").await;
    let mut b = server.legacy_client("s").await;
    server.wait_connections(2).await;
    server.lv.shutdown();
    assert_eq!(a.recv_close().await, 1012);
    assert_eq!(b.recv_close().await, 1012);
    assert!(server.lv.drain(PATIENCE).await);
    match Client::connect(&server.url("r"), None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503)
        }
        _ => panic!("a shut-down server accepted a connection"),
    }
}

#[derive(Default)]
struct Counter(u32);

async fn increment(ctx: Ctx) -> Patch {
    let n = ctx.with_state(|c: &mut Counter| {
        c.0 += 1;
        c.0
    });
    Patch::html("#count", n.to_string())
}

#[tokio::test]
async fn per_connection_state_lives_across_events() {
    let server = TestServer::start(builder().handler("increment", increment)).await;
    let mut a = server.client("r").await;
    let mut b = server.client("r").await;
    for expected in ["1", "2", "3"] {
        a.event("increment", json!({}), json!({})).await;
        assert_eq!(a.recv().await.patch.html.as_deref(), Some(expected));
    }
    b.event("increment", json!({}), json!({})).await;
    assert_eq!(
        b.recv().await.patch.html.as_deref(),
        Some("1"),
        "state is per connection"
    );
}

#[tokio::test]
async fn handlers_see_the_upgrade_request_and_app_state() {
    #[derive(Clone)]
    struct Greeting(&'static str);
    async fn who(ctx: Ctx, State(greeting): State<Greeting>, event: Event) -> Patch {
        let user = ctx.cookie("user").unwrap_or("anonymous").to_owned();
        let agent = ctx
            .headers()
            .get("x-test")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Patch::html(
            "#who",
            format!(
                "{} {user} {agent} {} {}",
                greeting.0,
                ctx.room(),
                event.lang.unwrap_or_default()
            ),
        )
    }
    let server = TestServer::start(builder().state(Greeting("hello")).handler("who", who)).await;
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            server.url("lobby"),
        )
        .unwrap();
    request
        .headers_mut()
        .insert("cookie", "theme=dark; user=ada".parse().unwrap());
    request
        .headers_mut()
        .insert("x-test", "yes".parse().unwrap());
    let mut client = Client::connect_request(request).await.unwrap();
    client.event("who", json!({}), json!({})).await;
    assert_eq!(
        client.recv().await.patch.html.as_deref(),
        Some("hello ada yes lobby en")
    );
}

#[tokio::test]
async fn missing_app_state_is_a_server_error_not_a_crash() {
    #[derive(Clone)]
    struct Missing;
    async fn needs(State(_): State<Missing>) {}
    let server = TestServer::start(builder().handler("needs", needs)).await;
    let mut client = server.client("r").await;
    client.event("needs", json!({}), json!({})).await;
    let frame = client.recv_json().await;
    assert_eq!(frame["code"], "handler_error");
    assert!(
        frame["error"]
            .as_str()
            .unwrap()
            .contains("no application state"),
        "{frame}"
    );
}

#[tokio::test]
async fn before_hooks_can_refuse_events() {
    let server = TestServer::start(
        builder()
            .before_event(|ctx, event| {
                let refused =
                    event.function.starts_with("admin_") && ctx.cookie("role") != Some("admin");
                async move {
                    if refused {
                        return Err(Error::user("Administrators only"));
                    }
                    Ok(())
                }
            })
            .handler("admin_reset", || async { Patch::html("#x", "reset") })
            .handler("public", || async { Patch::html("#x", "ok") }),
    )
    .await;
    let mut client = server.client("r").await;
    let r = client.event("admin_reset", json!({}), json!({})).await;
    assert_eq!(
        client.recv_json().await,
        json!({"error": "Administrators only", "code": "refused", "function": "admin_reset", "ref": r})
    );
    client.event("public", json!({}), json!({})).await;
    assert_eq!(client.recv().await.patch.html.as_deref(), Some("ok"));
}

#[tokio::test]
async fn stray_binary_frames_are_answered_with_upload_failed() {
    use futures_util::SinkExt;
    let server = TestServer::start(builder()).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(server.url("r"))
        .await
        .unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::binary(vec![
        1u8, 2, 3,
    ]))
    .await
    .unwrap();
    use futures_util::StreamExt;
    let frame = tokio::time::timeout(PATIENCE, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let frame: Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    assert_eq!(
        frame["code"],
        liveview::protocol::ErrorCode::UploadFailed.as_str()
    );
}

#[tokio::test]
async fn a_client_that_cannot_keep_up_is_closed_with_1013() {
    async fn whoami(ctx: Ctx) -> Patch {
        Patch::html("#me", ctx.id().to_string())
    }
    let server = TestServer::start(
        builder()
            .limits(
                Limits::default()
                    .outgoing_queue(4)
                    .write_timeout(Duration::from_millis(200)),
            )
            .handler("whoami", whoami),
    )
    .await;
    let mut client = server.client("r").await;
    client.event("whoami", json!({}), json!({})).await;
    let id = ConnId::parse(&client.recv().await.patch.html.unwrap()).unwrap();
    // The client stops reading; the server pushes far more than socket
    // buffers hold. Its queue fills and the server closes it.
    let big = "x".repeat(256 * 1024);
    let channels = server.lv.channels();
    for _ in 0..400 {
        if channels
            .send_to(id, Patch::html("#big", big.clone()))
            .await
            .is_err()
        {
            break;
        }
        tokio::task::yield_now().await;
    }
    server.wait_connections(0).await;
}

#[tokio::test]
async fn the_browser_client_is_served_with_long_cache_headers() {
    let server = TestServer::start(builder()).await;
    let (status, head, body) = server.get(&liveview::client::script_url()).await;
    assert_eq!(status, 200);
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("cache-control: public, max-age=31536000, immutable"),
        "{head}"
    );
    assert!(head.contains("content-type: text/javascript"), "{head}");
    assert!(!body.is_empty());
    let (status, head, _) = server.get("/liveview/liveview.js").await;
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("cache-control: no-cache")
    );
    let (status, _, _) = server.get("/liveview/other.js").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn tower_middleware_authenticates_the_upgrade_and_handlers_see_its_result() {
    use axum::extract::Request;
    use axum::middleware::{Next, from_fn};
    use axum::response::{IntoResponse, Response};

    #[derive(Clone)]
    struct User(String);

    async fn authenticate(mut request: Request, next: Next) -> Response {
        let user = request
            .headers()
            .get("cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|c| c.strip_prefix("session="))
            .map(str::to_owned);
        match user {
            Some(name) => {
                request.extensions_mut().insert(User(name));
                next.run(request).await
            }
            None => axum::http::StatusCode::UNAUTHORIZED.into_response(),
        }
    }
    async fn me(ctx: Ctx) -> Result<Patch> {
        let user = ctx
            .request()
            .extensions
            .get::<User>()
            .ok_or_else(|| Error::user("not signed in"))?;
        Ok(Patch::html("#me", user.0.clone()))
    }

    let lv = builder().handler("me", me).build().unwrap();
    let app: axum::Router = axum::Router::new().merge(lv.router().layer(from_fn(authenticate)));
    let addr = liveview_e2e::serve(app).await;
    let url = format!("ws://{addr}/ws/liveview/r/?v=1");

    match Client::connect(&url, None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401)
        }
        _ => panic!("an anonymous upgrade was accepted"),
    }
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
            .unwrap();
    request
        .headers_mut()
        .insert("cookie", "session=ada".parse().unwrap());
    let mut client = Client::connect_request(request).await.unwrap();
    client.event("me", json!({}), json!({})).await;
    assert_eq!(client.recv().await.patch.html.as_deref(), Some("ada"));
}

#[tokio::test]
async fn on_connect_joins_groups_and_pushes_its_reply() {
    let server = TestServer::start(builder().on_connect(|ctx: Ctx| async move {
        if ctx.room() == "boom" {
            panic!("on_connect failed");
        }
        ctx.join("lobby").await?;
        Ok::<_, Error>(Patch::html("#status", format!("hello {}", ctx.room())))
    }))
    .await;
    let mut client = server.client("r1").await;
    assert_eq!(
        client.recv_json().await,
        json!({"target": "#status", "html": "hello r1"})
    );
    server
        .lv
        .channels()
        .group_send("lobby", Patch::html("#x", "lobby news"))
        .await
        .unwrap();
    assert_eq!(client.recv_json().await["html"], "lobby news");

    let mut unlucky = server.client("boom").await;
    let frame = unlucky.recv_json().await;
    assert_eq!(frame["code"], "handler_panic");
    assert_eq!(frame["function"], "on_connect");
    server
        .lv
        .channels()
        .broadcast(Patch::html("#y", "still open"))
        .await
        .unwrap();
    assert_eq!(unlucky.recv_json().await["html"], "still open");
}
