//! "Visitors in real time": the footer of every page says "You are alone"
//! or how many people are here, updated live, on one node or across every
//! node sharing a Redis (`--redis URL`).
//!
//! Grown from the widget of an earlier library test,
//! with one change in how counts are pushed. There, the node where a
//! change happened sent the new count to every page of every node. Two
//! changes on two nodes at nearly the same time could then reach a page in
//! the wrong order: a page of node A got A's newer count locally at once,
//! and B's older count through Redis a moment later, and kept showing the
//! older one until the next arrival or departure. Here each node updates
//! its own pages only, after every change (its own and the other nodes'):
//! all the counts a page receives come from one task, in order, and each
//! was listed after the changes it reports, so the last one is right. The
//! changes are coalesced ([`Presence::subscribe_changes`]): at most one
//! push per [`PUSH_INTERVAL`], so that connection churn is not multiplied
//! by the number of open pages.

use std::time::Duration;

use liveview::presence::Presence;
use liveview::{Channels, Ctx, Patch, Result};
use serde::Serialize;
use tokio::task::JoinHandle;

/// The presence topic every page is tracked in.
pub const VISITORS: &str = "visitors";

/// The widget's text for `count` people (the reader included).
pub fn visitors_html(count: usize) -> String {
    match count {
        0 | 1 => "You are alone".to_owned(),
        n => format!("{n} people here"),
    }
}

/// What is stored about a visitor: the page's room (one per tab). Presence
/// adds the node and since when.
#[derive(Serialize)]
struct Visit<'a> {
    room: &'a str,
}

/// Called when a page's socket opens, and again when it reconnects (from
/// the `LiveViewBuilder::on_connect` hook, so pages need no script), once
/// the connection has joined this node's group of pages: tracks the
/// visitor until the connection closes. The count reaches the page through
/// the node's task, which hears of this arrival like any other.
///
/// # Errors
/// When the metadata cannot be stored (it always can).
pub async fn track(ctx: &Ctx, presence: &Presence) -> Result<()> {
    presence
        .track(ctx, VISITORS, Visit { room: ctx.room() })
        .await?;
    Ok(())
}

/// How many people are here now; a page rendered over HTTP adds its reader
/// (not connected yet) to it.
pub async fn count(presence: &Presence) -> usize {
    presence.list(VISITORS).await.len()
}

/// The most often the count is pushed to the pages: one push per interval
/// however many people arrive and leave (a client connecting and closing
/// 100 times a second costs 2 pushes a second, not 200), the last one
/// listed after the last change.
pub const PUSH_INTERVAL: Duration = Duration::from_millis(500);

/// Pushes the count to this node's pages (the group `pages`) whenever
/// someone arrived or left, on any node, at most once per
/// [`PUSH_INTERVAL`].
pub(crate) fn spawn(presence: Presence, channels: Channels, pages: String) -> JoinHandle<()> {
    // Joins, leaves, resyncs (after a Redis reconnection) and missed
    // events all make a tick: in every case, list again.
    let mut changes = presence.subscribe_changes(VISITORS, PUSH_INTERVAL);
    tokio::spawn(async move {
        while changes.changed().await.is_some() {
            let html = visitors_html(count(&presence).await);
            if let Err(err) = channels
                .group_send(&pages, Patch::html("#visitors", html))
                .await
            {
                tracing::warn!(%err, "visitors: cannot send the count");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wording() {
        assert_eq!(visitors_html(0), "You are alone");
        assert_eq!(visitors_html(1), "You are alone");
        assert_eq!(visitors_html(2), "2 people here");
        assert_eq!(visitors_html(12), "12 people here");
    }
}
