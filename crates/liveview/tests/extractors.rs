//! Async extractors and hooks, files that travel with their event, and the
//! start-up check of upload settings.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use liveview::extract::{EventParts, FromEvent, Rejection};
use liveview::upload::UploadConfig;
use liveview::{BuildError, Ctx, Error, LiveView, Patch, Uploads};
use liveview_e2e::ws::TestServer;
use serde_json::json;

/// A session store that answers after a while, as a database would.
#[derive(Clone)]
struct Sessions;

impl Sessions {
    async fn user(&self, token: &str) -> Option<String> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        (token == "s3cret").then(|| "ada".to_owned())
    }
}

struct User(String);

impl FromEvent for User {
    async fn from_event(ctx: &Ctx, parts: &mut EventParts) -> Result<Self, Rejection> {
        let sessions = ctx
            .app_state::<Sessions>()
            .ok_or_else(|| Rejection::server("no session store"))?;
        let token = parts.event().data["token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        sessions
            .user(&token)
            .await
            .map(User)
            .ok_or_else(|| Rejection::invalid_data("please sign in"))
    }
}

async fn whoami(User(name): User) -> Patch {
    Patch::html("#me", name)
}

#[tokio::test]
async fn an_extractor_can_await_a_store_before_the_handler_runs() {
    let server = TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .state(Sessions)
            .handler("whoami", whoami),
    )
    .await;
    let mut client = server.client("r").await;
    let r = client
        .event("whoami", json!({"token": "s3cret"}), json!({}))
        .await;
    assert_eq!(
        client.recv_json().await,
        json!({"target": "#me", "html": "ada", "ref": r})
    );
    let r = client
        .event("whoami", json!({"token": "nope"}), json!({}))
        .await;
    let frame = client.recv_json().await;
    assert_eq!(frame["code"], "invalid_data", "{frame}");
    assert_eq!(frame["ref"], r);
    assert!(
        frame["error"].as_str().unwrap().contains("please sign in"),
        "{frame}"
    );
}

#[tokio::test]
async fn a_before_event_hook_can_await_and_refuse() {
    let server = TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .before_event(|_ctx, event| {
                let token = event.data.get("token").and_then(|t| t.as_str());
                let token = token.unwrap_or_default().to_owned();
                async move {
                    match Sessions.user(&token).await {
                        Some(_) => Ok(()),
                        None => Err(Error::user("Sign in first")),
                    }
                }
            })
            .handler("ping", || async { Patch::html("#x", "pong") }),
    )
    .await;
    let mut client = server.client("r").await;
    let r = client
        .event("ping", json!({"token": "s3cret"}), json!({}))
        .await;
    assert_eq!(
        client.recv_json().await,
        json!({"target": "#x", "html": "pong", "ref": r})
    );
    let r = client.event("ping", json!({}), json!({})).await;
    assert_eq!(
        client.recv_json().await,
        json!({"error": "Sign in first", "code": "refused", "function": "ping", "ref": r})
    );
}

async fn twice(first: Uploads, _second: Uploads) -> Patch {
    Patch::html("#x", first.len().to_string())
}

#[tokio::test]
async fn a_second_uploads_argument_is_an_error_not_an_empty_list() {
    let server = TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .debug(true)
            .handler("upload_file", twice)
            .uploads("upload_file", UploadConfig::default()),
    )
    .await;
    let mut client = server.client("r").await;
    client
        .send_text(
            json!({"upload": {"op": "start", "id": 1, "function": "upload_file", "field": "file",
                   "name": "a.txt", "type": "text/plain", "size": 2}})
            .to_string(),
        )
        .await;
    assert_eq!(client.recv_json().await["upload"]["status"], "ready");
    client.send_chunk(1, 0, b"hi").await;
    assert_eq!(client.recv_json().await["upload"]["status"], "done");
    client
        .send_text(
            json!({"function": "upload_file", "uploads": {"file": [1]}, "ref": 9}).to_string(),
        )
        .await;
    let frame = client.recv_json().await;
    assert_eq!(frame["code"], "handler_error", "{frame}");
    assert_eq!(frame["ref"], 9);
    assert!(
        frame["error"].as_str().unwrap().contains("only once"),
        "{frame}"
    );
}

#[test]
fn uploads_for_a_function_without_a_handler_fail_the_build() {
    let result = LiveView::builder()
        .auto_register(false)
        .handler("upload_file", twice)
        .uploads("upload_fiel", UploadConfig::default())
        .build();
    match result {
        Err(BuildError::UploadsWithoutHandler { function }) => assert_eq!(function, "upload_fiel"),
        other => panic!("expected UploadsWithoutHandler, got {other:?}"),
    }
}
