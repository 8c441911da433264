//! What the presence tests of this crate share: the names a topic lists,
//! waiting for them, and the next join or leave.

#![allow(dead_code, clippy::expect_used, clippy::panic, unreachable_pub)]

use std::time::{Duration, Instant};

use liveview::presence::{Presence, PresenceEntry, PresenceEvent};
use tokio::sync::broadcast;

pub async fn names(presence: &Presence) -> Vec<String> {
    let mut names: Vec<String> = presence
        .list("lobby")
        .await
        .into_iter()
        .map(|e| e.meta["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    names.sort();
    names
}

pub async fn wait_names(presence: &Presence, expected: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = names(presence).await;
        if now == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "presence lists {now:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The next join or leave event: ("+name" or "-name", here).
pub async fn next_event(events: &mut broadcast::Receiver<PresenceEvent>) -> (String, bool) {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .expect("timed out waiting for a presence event")
            .expect("event stream");
        let name = |e: &PresenceEntry| e.meta["name"].as_str().unwrap_or("").to_owned();
        match event {
            PresenceEvent::Join { entry, here, .. } => return (format!("+{}", name(&entry)), here),
            PresenceEvent::Leave { entry, here, .. } => {
                return (format!("-{}", name(&entry)), here);
            }
            _ => {}
        }
    }
}
