//! liveview's metrics, read from a recorder while real clients send real
//! events over real WebSockets: names, labels and values.
//!
//! The recorder is process-global, so this binary holds one test, and its
//! servers use distinct function names.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use liveview::presence::Presence;
use liveview::telemetry::{self, names};
use liveview::{Ctx, Error, Limits, LiveView, Patch};
use liveview_e2e::ws::{Client, TestServer};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::{CompositeKey, MetricKind};
use serde_json::json;

async fn echo() -> Patch {
    Patch::html("#out", "ok")
}

async fn boom() -> Result<Patch, Error> {
    Err(Error::user("no"))
}

async fn limited() -> Patch {
    Patch::html("#out", "limited")
}

/// Pushes ten frames to its own connection at once, over a queue of two.
async fn flood(ctx: Ctx) -> Patch {
    for i in 0..10 {
        let _ = ctx.send(Patch::html("#out", i.to_string()));
    }
    Patch::html("#out", "done")
}

/// Every metric recorded so far: (kind, name, labels) → value. The
/// debugging recorder resets what a snapshot reads, so snapshots are added
/// up here.
#[derive(Default)]
struct Metrics(Vec<(CompositeKey, DebugValue)>);

impl Metrics {
    fn update(&mut self, snapshotter: &Snapshotter) -> &Self {
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            match self.0.iter_mut().find(|(k, _)| *k == key) {
                None => self.0.push((key, value)),
                Some((_, total)) => match (total, value) {
                    (DebugValue::Counter(t), DebugValue::Counter(v)) => *t += v,
                    (DebugValue::Gauge(t), DebugValue::Gauge(v)) => t.0 += v.0,
                    (DebugValue::Histogram(t), DebugValue::Histogram(v)) => t.extend(v),
                    (total, value) => panic!("{key:?} changed kind: {total:?}, {value:?}"),
                },
            }
        }
        self
    }

    fn find(&self, kind: MetricKind, name: &str, labels: &[(&str, &str)]) -> Option<&DebugValue> {
        self.0.iter().find_map(|(key, value)| {
            let k = key.key();
            let mut have: Vec<(&str, &str)> = k.labels().map(|l| (l.key(), l.value())).collect();
            have.sort_unstable();
            let mut want = labels.to_vec();
            want.sort_unstable();
            (key.kind() == kind && k.name() == name && have == want).then_some(value)
        })
    }

    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.find(MetricKind::Counter, name, labels) {
            Some(DebugValue::Counter(n)) => *n,
            other => panic!("counter {name} {labels:?}: {other:?}"),
        }
    }

    fn gauge(&self, name: &str) -> f64 {
        match self.find(MetricKind::Gauge, name, &[]) {
            Some(DebugValue::Gauge(v)) => v.0,
            other => panic!("gauge {name}: {other:?}"),
        }
    }

    fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        match self.find(MetricKind::Histogram, name, labels) {
            Some(DebugValue::Histogram(values)) => values.iter().map(|v| v.0).collect(),
            other => panic!("histogram {name} {labels:?}: {other:?}"),
        }
    }

    fn label_values(&self, label: &str) -> Vec<String> {
        self.0
            .iter()
            .flat_map(|(key, _)| key.key().labels())
            .filter(|l| l.key() == label)
            .map(|l| l.value().to_owned())
            .collect()
    }
}

/// Receives one text frame and adds it to what was received.
async fn recv(client: &mut Client, received: &mut (u64, u64)) -> serde_json::Value {
    let text = client.recv_text().await;
    received.0 += 1;
    received.1 += text.len() as u64;
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn events_frames_and_connections_are_counted_under_their_names() {
    // Installed before any LiveView is built: its handles bind to it.
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();
    let mut received = (0u64, 0u64);

    let server = TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .handler("echo", echo)
            .handler("boom", boom),
    )
    .await;
    let mut client = server.client("r").await;
    server.wait_connections(1).await;
    let mut recorded = Metrics::default();
    assert_eq!(
        recorded.update(&snapshotter).gauge(names::CONNECTIONS_OPEN),
        1.0
    );
    for _ in 0..3 {
        client.event("echo", json!({}), json!({})).await;
        let reply = recv(&mut client, &mut received).await;
        assert_eq!(reply["html"], "ok", "{reply}");
    }
    client.event("boom", json!({}), json!({})).await;
    let reply = recv(&mut client, &mut received).await;
    assert_eq!(reply["code"], "handler_error", "{reply}");
    client.event("no_such_handler", json!({}), json!({})).await;
    let reply = recv(&mut client, &mut received).await;
    assert_eq!(reply["code"], "unknown_function", "{reply}");
    client.close().await;
    server.wait_connections(0).await;

    // One event a second, a burst of one: the next two are dropped.
    let strict = TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .handler("limited", limited)
            .limits(Limits::default().events_per_second(Some(1)).event_burst(1)),
    )
    .await;
    let mut client = strict.client("r").await;
    let mut codes = Vec::new();
    for _ in 0..3 {
        client.event("limited", json!({}), json!({})).await;
        let reply = recv(&mut client, &mut received).await;
        codes.push(reply["code"].as_str().unwrap_or("ok").to_owned());
    }
    assert_eq!(codes, ["ok", "rate_limited", "rate_limited"]);
    client.close().await;
    strict.wait_connections(0).await;

    // A queue of two frames, ten pushed at once: closed with 1013.
    let small = TestServer::start(
        LiveView::builder()
            .auto_register(false)
            .handler("flood", flood)
            .limits(Limits::default().outgoing_queue(2)),
    )
    .await;
    let mut client = small.client("r").await;
    client.event("flood", json!({}), json!({})).await;
    let code = loop {
        match client.recv_text_or_close().await {
            Ok(text) => {
                received.0 += 1;
                received.1 += text.len() as u64;
            }
            Err(code) => break code,
        }
    };
    assert_eq!(code, 1013);
    small.wait_connections(0).await;

    let presence = Presence::in_memory();
    let kept = presence.track_key("t", "a", json!({})).await.unwrap();
    let gone = presence.track_key("t", "b", json!({})).await.unwrap();
    drop(gone);
    telemetry::sessions_parked(2);
    telemetry::sessions_parked(-1);

    let m = recorded.update(&snapshotter);
    let events = names::EVENTS;
    assert_eq!(
        m.counter(events, &[("function", "echo"), ("outcome", "ok")]),
        3
    );
    assert_eq!(
        m.counter(
            events,
            &[("function", "boom"), ("outcome", "handler_error")]
        ),
        1
    );
    assert_eq!(
        m.counter(
            events,
            &[("function", "unknown"), ("outcome", "unknown_function")]
        ),
        1
    );
    assert_eq!(
        m.counter(events, &[("function", "limited"), ("outcome", "ok")]),
        1
    );
    assert_eq!(
        m.counter(
            events,
            &[("function", "limited"), ("outcome", "rate_limited")]
        ),
        2
    );
    // What a client sends never becomes a label.
    assert!(
        !m.label_values("function")
            .contains(&"no_such_handler".to_owned())
    );

    let durations = m.histogram(names::EVENT_DURATION, &[("function", "echo")]);
    assert_eq!(durations.len(), 3, "{durations:?}");
    assert!(
        durations.iter().all(|s| (0.0..5.0).contains(s)),
        "{durations:?}"
    );
    assert_eq!(
        m.histogram(names::EVENT_DURATION, &[("function", "boom")])
            .len(),
        1
    );

    // Every text frame the clients read, and its bytes, were counted (the
    // flood's unsent frames were not).
    assert_eq!(m.counter(names::FRAMES_OUT, &[]), received.0);
    assert_eq!(m.counter(names::BYTES_OUT, &[]), received.1);

    assert_eq!(m.counter(names::MAILBOX_OVERFLOWS, &[]), 1);
    assert_eq!(m.counter(names::CONNECTIONS_CLOSED, &[("code", "1013")]), 1);
    assert_eq!(m.counter(names::CONNECTIONS_CLOSED, &[("code", "gone")]), 2);
    assert_eq!(m.gauge(names::CONNECTIONS_OPEN), 0.0);
    assert_eq!(m.gauge(names::PRESENCE_ENTRIES), 1.0);
    assert_eq!(m.gauge(names::SESSIONS_PARKED), 1.0);
    drop(kept);
}
