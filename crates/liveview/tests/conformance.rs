//! The channel layer conformance suite on the in-memory layer.
//!
//! `InMemoryLayer` is a cluster of one node: every check runs on that one
//! node, except `direct_send_reaches_another_node`, which needs a second
//! node and is skipped (the report says so, and this test checks that it
//! is the only one). The multi-node run is `RedisLayer`'s, in
//! `crates/liveview-redis/tests/conformance.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use liveview::layer::{InMemoryLayer, conformance};

#[tokio::test]
async fn the_in_memory_layer_passes_the_conformance_suite() {
    let report = conformance::run(1, |n| async move {
        (0..n).map(|_| InMemoryLayer::new()).collect::<Vec<_>>()
    })
    .await
    .unwrap_or_else(|err| panic!("{err}"));
    let skipped: Vec<&str> = report.skipped.iter().map(|(check, _)| *check).collect();
    assert_eq!(skipped, ["direct_send_reaches_another_node"]);
    assert_eq!(report.passed.len(), conformance::CHECKS.len() - 1);
}
