//! The channel layer conformance suite (`liveview::layer::conformance`) on
//! three `RedisLayer` nodes sharing one real redis-server (started by the
//! test; it fails, never skips, when `redis-server` is missing).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use liveview::layer::conformance;
use liveview_e2e::redis::RedisServer;
use liveview_redis::{RedisConfig, RedisLayer};

/// `n` nodes of a fresh cluster: a prefix of their own, so that checks do
/// not hear each other.
async fn cluster(url: String, prefix: String, n: usize) -> Vec<RedisLayer> {
    let mut nodes = Vec::with_capacity(n);
    for _ in 0..n {
        nodes.push(
            RedisConfig::new(url.clone())
                .prefix(prefix.clone())
                .op_timeout(Duration::from_secs(2))
                .connect()
                .await
                .expect("connect to redis"),
        );
    }
    nodes
}

#[tokio::test]
async fn the_redis_layer_passes_the_conformance_suite_on_three_nodes() {
    let redis = RedisServer::start();
    let clusters = AtomicUsize::new(0);
    let report = conformance::run(3, |n| {
        let prefix = format!("conf{}", clusters.fetch_add(1, Ordering::Relaxed));
        cluster(redis.url(), prefix, n)
    })
    .await
    .unwrap_or_else(|err| panic!("{err}"));
    assert!(report.skipped.is_empty(), "skipped: {:?}", report.skipped);
    assert_eq!(report.passed, conformance::CHECKS);
}
