//! Coalesced change notifications: "this topic changed", at most once per
//! interval, for widgets that show a topic's state rather than its events.

use std::time::Duration;

use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::time::Instant;

#[cfg(doc)]
use super::Presence;
use super::PresenceEvent;

/// The change ticks of one topic, from [`Presence::subscribe_changes`].
///
/// [`changed`](Self::changed) resolves once something happened in the topic
/// (a join, a leave, a resync, or events missed), and at most once per
/// interval: a change after a quiet period is reported at once; changes
/// during the interval that follows are gathered into one tick at its end.
/// The last change is never lost: a change that happens after a tick (even
/// while its owner lists the topic) makes another tick. So a widget that
/// lists the topic on each tick pushes one state per interval however many
/// joins and leaves happened, and its last push is listed after the last
/// change.
///
/// `changed` is cancel-safe (use it in `tokio::select!`): a tick that was
/// due stays due.
#[derive(Debug)]
pub struct PresenceChanges {
    events: broadcast::Receiver<PresenceEvent>,
    interval: Duration,
    /// When the next tick may be delivered (one interval after the last).
    next: Option<Instant>,
    /// A change was seen and not yet reported.
    pending: bool,
}

impl PresenceChanges {
    pub(super) fn new(events: broadcast::Receiver<PresenceEvent>, interval: Duration) -> Self {
        PresenceChanges {
            events,
            interval,
            next: None,
            pending: false,
        }
    }

    /// The interval between two ticks at most.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Waits until the topic changed (see the type's docs); `None` once the
    /// presence is gone.
    pub async fn changed(&mut self) -> Option<()> {
        if !self.pending {
            match self.events.recv().await {
                Ok(_) | Err(RecvError::Lagged(_)) => self.pending = true,
                Err(RecvError::Closed) => return None,
            }
        }
        if let Some(next) = self.next {
            tokio::time::sleep_until(next).await;
        }
        // Everything that happened until now is in this tick (reported even
        // if the presence has just gone; the next call says so).
        while let Ok(_) | Err(TryRecvError::Lagged(_)) = self.events.try_recv() {}
        self.pending = false;
        self.next = Some(Instant::now() + self.interval);
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Presence;
    use super::*;

    const INTERVAL: Duration = Duration::from_millis(500);

    /// Resolves `changed` if it is ready within `within` (paused time).
    async fn tick_within(changes: &mut PresenceChanges, within: Duration) -> bool {
        tokio::time::timeout(within, changes.changed())
            .await
            .is_ok_and(|tick| tick.is_some())
    }

    #[tokio::test(start_paused = true)]
    async fn many_changes_in_one_interval_make_one_tick() {
        let presence = Presence::in_memory();
        let mut changes = presence.subscribe_changes("t", INTERVAL);
        let first = presence.track_key("t", "first", ()).await.unwrap();
        assert!(
            tick_within(&mut changes, Duration::ZERO).await,
            "the first change at once"
        );
        // 1,000 joins and leaves (more than the event buffer) in the next 100 ms.
        for i in 0..1000 {
            let guard = presence.track_key("t", format!("k{i}"), ()).await.unwrap();
            drop(guard);
            if i % 100 == 0 {
                tokio::time::advance(Duration::from_millis(10)).await;
            }
        }
        let start = Instant::now();
        assert!(
            tick_within(&mut changes, INTERVAL).await,
            "one tick for them"
        );
        assert_eq!(
            Instant::now() - start + Duration::from_millis(100),
            INTERVAL
        );
        assert!(
            !tick_within(&mut changes, 10 * INTERVAL).await,
            "and no other: {:?}",
            presence.list("t").await
        );
        drop(first);
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_after_a_quiet_period_is_reported_at_once() {
        let presence = Presence::in_memory();
        let mut changes = presence.subscribe_changes("t", INTERVAL);
        let _a = presence.track_key("t", "a", ()).await.unwrap();
        assert!(tick_within(&mut changes, Duration::ZERO).await);
        tokio::time::advance(3 * INTERVAL).await;
        let _b = presence.track_key("t", "b", ()).await.unwrap();
        let start = Instant::now();
        assert!(tick_within(&mut changes, Duration::ZERO).await);
        assert_eq!(Instant::now(), start, "no delay after a quiet period");
    }

    #[tokio::test(start_paused = true)]
    async fn the_last_change_is_never_lost() {
        let presence = Presence::in_memory();
        let mut changes = presence.subscribe_changes("t", INTERVAL);
        let a = presence.track_key("t", "a", ()).await.unwrap();
        assert!(tick_within(&mut changes, Duration::ZERO).await);
        // A change right after a tick (while its owner lists the topic)...
        drop(a);
        // ... is reported at the end of the interval, and the list then
        // shows it.
        assert!(tick_within(&mut changes, INTERVAL).await);
        assert!(presence.list("t").await.is_empty());
        // Same when the tick is waited for in a select that gives up
        // (cancel safety): the change stays due.
        let _b = presence.track_key("t", "b", ()).await.unwrap();
        assert!(
            !tick_within(&mut changes, INTERVAL / 2).await,
            "still in the interval"
        );
        assert!(
            tick_within(&mut changes, INTERVAL).await,
            "not lost by the cancel"
        );
        assert_eq!(presence.list("t").await.len(), 1);
        assert!(!tick_within(&mut changes, 10 * INTERVAL).await);
    }

    #[tokio::test(start_paused = true)]
    async fn ends_when_the_presence_is_gone() {
        let presence = Presence::in_memory();
        let mut changes = presence.subscribe_changes("t", INTERVAL);
        drop(presence);
        assert_eq!(changes.changed().await, None);
    }
}
