//! The Redis layer's outage figures under liveview's metric names: while
//! Redis is dead, what waits is the buffer's depth, what does not fit is
//! counted as dropped, the same count as `dropped_messages`.
//!
//! The recorder is process-global, so this binary holds one test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use liveview::layer::{ChannelLayer, Frame};
use liveview::telemetry::names;
use liveview_e2e::redis::{RedisServer, wait_until};
use liveview_redis::RedisConfig;
use metrics_util::MetricKind;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

#[tokio::test]
async fn outage_buffer_depth_and_dropped_messages_are_reported() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let mut redis = RedisServer::start();
    let layer = RedisConfig::new(redis.url())
        .reconnect_max(Duration::from_millis(100))
        .op_timeout(Duration::from_millis(300))
        .outage_buffer(2, Duration::from_secs(60))
        .connect()
        .await
        .unwrap();
    redis.kill();
    wait_until(Duration::from_secs(10), "the layer notices", || {
        !layer.is_connected()
    })
    .await;
    const SENT: u64 = 6;
    for i in 0..SENT {
        // Refused once the buffer is full; delivered locally either way.
        let _ = layer
            .group_send("g", Frame::from_json_text(format!("{{\"n\":{i}}}")))
            .await;
    }
    // The publisher retries every 100 ms at most, setting the depth at each.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let dropped = layer.dropped_messages();
    assert!(dropped > 0, "a buffer of 2 cannot hold {SENT} messages");
    let snapshot = snapshotter.snapshot().into_vec();
    let value = |kind: MetricKind, name: &str| {
        snapshot
            .iter()
            .find(|(k, ..)| k.kind() == kind && k.key().name() == name)
            .map(|(.., v)| v)
    };
    assert_eq!(
        value(MetricKind::Counter, names::OUTAGE_DROPPED),
        Some(&DebugValue::Counter(dropped))
    );
    match value(MetricKind::Gauge, names::OUTAGE_BUFFER_DEPTH) {
        Some(DebugValue::Gauge(depth)) => {
            assert_eq!(
                depth.0,
                (SENT - dropped) as f64,
                "what was not dropped waits"
            );
        }
        other => panic!("no depth gauge: {other:?}"),
    }
}
