//! The `liveview.event` and `liveview.broadcast` spans, captured by a
//! subscriber while a real client sends an event over a real WebSocket.
//!
//! The subscriber is process-global, so this binary holds one test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use liveview::layer::SendError;
use liveview::{Ctx, LiveView, Patch};
use liveview_e2e::ws::TestServer;
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

type Fields = BTreeMap<String, String>;

/// What the capture saw: closed spans by name with their fields, and the
/// span each `handler ran` log line was in.
#[derive(Default)]
struct Seen {
    closed: Vec<(String, Fields)>,
    log_parents: Vec<String>,
}

struct Capture(Arc<Mutex<Seen>>);

struct Visitor<'a>(&'a mut Fields);

impl Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut Visitor(&mut fields));
        ctx.span(id).unwrap().extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let span = ctx.span(id).unwrap();
        let mut extensions = span.extensions_mut();
        values.record(&mut Visitor(extensions.get_mut::<Fields>().unwrap()));
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        event.record(&mut Visitor(&mut fields));
        if fields.get("message").is_some_and(|m| m == "handler ran") {
            let parent = ctx.event_span(event).map(|s| s.name().to_owned());
            self.0
                .lock()
                .unwrap()
                .log_parents
                .push(parent.unwrap_or_default());
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let span = ctx.span(&id).unwrap();
        let fields = span
            .extensions()
            .get::<Fields>()
            .cloned()
            .unwrap_or_default();
        self.0
            .lock()
            .unwrap()
            .closed
            .push((span.name().to_owned(), fields));
    }
}

async fn shout(ctx: Ctx) -> Result<Patch, SendError> {
    tracing::info!("handler ran");
    ctx.broadcast(Patch::html("#all", "hi")).await?;
    Ok(Patch::html("#out", "shouted"))
}

#[tokio::test]
async fn an_event_and_its_broadcast_have_spans_with_their_fields() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let subscriber = tracing_subscriber::registry().with(Capture(Arc::clone(&seen)));
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let server = TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .handler("shout", shout),
    )
    .await;
    let mut client = server.client("lobby").await;
    server.wait_connections(1).await;
    let reference = client.event("shout", json!({}), json!({})).await;
    let mut targets = vec![
        client.recv_json().await["target"].clone(),
        client.recv_json().await["target"].clone(),
    ];
    targets.sort_by_key(ToString::to_string);
    assert_eq!(targets, [json!("#all"), json!("#out")]);
    client.event("missing", json!({}), json!({})).await;
    assert_eq!(client.recv_json().await["code"], "unknown_function");
    client.close().await;
    server.wait_connections(0).await;

    let seen = seen.lock().unwrap();
    let events: Vec<&Fields> = seen
        .closed
        .iter()
        .filter(|(name, _)| name == "liveview.event")
        .map(|(_, fields)| fields)
        .collect();
    assert_eq!(events.len(), 2, "{:?}", seen.closed);
    let shout = events[0];
    assert_eq!(shout["function"], "shout");
    assert_eq!(shout["ref"], reference.to_string());
    assert_eq!(shout["room"], "lobby");
    assert_eq!(shout["outcome"], "ok");
    assert_eq!(shout["conn"].len(), 32, "a connection id: {shout:?}");
    let micros: u64 = shout["duration_us"].parse().unwrap();
    assert!(micros < 5_000_000, "{shout:?}");
    // A name no handler has: refused, with its outcome, on its own span.
    assert_eq!(events[1]["function"], "missing");
    assert_eq!(events[1]["outcome"], "unknown_function");
    // The handler's own log lines are inside its event's span.
    assert_eq!(seen.log_parents, ["liveview.event"]);

    let broadcasts: Vec<&Fields> = seen
        .closed
        .iter()
        .filter(|(name, _)| name == "liveview.broadcast")
        .map(|(_, fields)| fields)
        .collect();
    assert_eq!(broadcasts.len(), 1, "{:?}", seen.closed);
    assert_eq!(broadcasts[0]["group"], liveview::protocol::BROADCAST_GROUP);
    assert_eq!(broadcasts[0]["receivers"], "1");
}
