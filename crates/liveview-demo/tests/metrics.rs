//! The demo's `/metrics`: Prometheus text on loopback, with liveview's
//! names and the events a real WebSocket sent; and the stats page showing
//! a few of them.
//!
//! The recorder is process-global, so this binary holds one test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use futures_util::{SinkExt, StreamExt};
use liveview::telemetry::names;
use liveview_demo::{Config, exporter};
use serde_json::{Value, json};
use support::Demo;
use tokio_tungstenite::tungstenite::Message;

/// The value of the series `name{labels}` in Prometheus text.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_answer_on_loopback_with_liveview_names_and_the_stats_page_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("demo.sqlite3"));
    config.exporter = Some(exporter::install().unwrap());
    let demo = Demo::start_with(config).await;

    let url = format!(
        "ws://{}/ws/liveview/{}/?v=1",
        demo.addr,
        liveview::templates::new_room_id()
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    for r in 1..=2 {
        let event = json!({"function": "update_content", "data": {}, "form": {}, "ref": r});
        ws.send(Message::text(event.to_string())).await.unwrap();
        loop {
            let message = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
                .await
                .expect("a frame in time")
                .unwrap()
                .unwrap();
            if let Message::Text(text) = message {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["ref"] == r {
                    break;
                }
            }
        }
    }

    let (status, head, body) = demo.get("/metrics").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain"),
        "{head}"
    );
    for name in [
        names::CONNECTIONS_OPEN,
        names::EVENTS,
        names::EVENT_DURATION,
        names::FRAMES_OUT,
        names::BYTES_OUT,
        names::PRESENCE_ENTRIES,
    ] {
        assert!(
            body.contains(&format!("# TYPE {name} ")),
            "{name} missing:\n{body}"
        );
    }
    assert_eq!(
        value(
            &body,
            r#"liveview_events_total{function="update_content",outcome="ok"}"#
        ),
        Some(2.0),
        "{body}"
    );
    assert_eq!(
        value(&body, "liveview_connections_open"),
        Some(1.0),
        "{body}"
    );
    assert!(
        body.contains(
            r#"liveview_event_duration_seconds_bucket{function="update_content",le="0.0001"}"#
        ),
        "handler time as a histogram with buckets:\n{body}"
    );
    assert_eq!(
        value(
            &body,
            r#"liveview_event_duration_seconds_count{function="update_content"}"#
        ),
        Some(2.0),
        "{body}"
    );

    let (status, _, page) = demo.get("/stats").await;
    assert_eq!(status, 200);
    assert!(
        page.contains(r#"data-stat="metric-connections">1<"#),
        "{page}"
    );
    assert!(page.contains(r#"data-stat="metric-events">2<"#), "{page}");
    assert!(page.contains(r#"data-stat="metric-frames">"#), "{page}");
}
