//! Case 4: figures pushed by the server to every open page, with no client
//! polling.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use liveview::templates::Templates;
use liveview::{Channels, Patch, context};
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::AppState;
use crate::db::DbError;

/// The figures shown in `#stats`.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    /// Open WebSocket connections on this server.
    pub clients: usize,
    /// Time since the server started, as `1 h 02 min 05 s`.
    pub uptime: String,
    /// Events handled since the server started, all handlers together.
    pub events: u64,
    /// Chat messages stored.
    pub messages: u64,
    /// Articles in the search table.
    pub articles: u64,
    /// The wall-clock time of this reading, `HH:MM:SS UTC`.
    pub time: String,
    /// Which push this is (0: rendered with the page).
    pub tick: u64,
    /// liveview's own metrics, when a recorder is installed.
    pub live: Option<crate::exporter::Live>,
}

impl AppState {
    /// Reads the figures now.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn figures(&self, clients: usize, tick: u64) -> Result<Figures, DbError> {
        Ok(Figures {
            clients,
            uptime: uptime(self.started.elapsed()),
            events: self.metrics.total_events(),
            messages: self.db.message_count().await?,
            articles: self.db.article_count().await?,
            time: clock(SystemTime::now()),
            tick,
            live: self.exporter.as_ref().map(crate::exporter::Exporter::live),
        })
    }
}

// region: stats_task
/// Every `every`, renders the figures once and pushes them to every page
/// connected to this server (the group `app.pages`, which each page joins
/// on connecting): all its clients receive the same update at the same
/// time. With several nodes, each pushes its own figures to its own pages.
pub(crate) fn spawn(
    channels: Channels,
    templates: Templates,
    app: AppState,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        for tick in 1.. {
            interval.tick().await;
            let figures = match app.figures(channels.local_connections(), tick).await {
                Ok(figures) => figures,
                Err(err) => {
                    tracing::warn!(%err, "stats: cannot read the figures");
                    continue;
                }
            };
            let payload = serde_json::json!({ "events": figures.events });
            let html = match templates.render("partials/stats.html", context! { stats => figures })
            {
                Ok(html) => html,
                Err(err) => {
                    tracing::warn!(%err, "stats: cannot render");
                    continue;
                }
            };
            let patch = Patch::html("#stats", html);
            if let Err(err) = channels.group_send(&app.pages, patch).await {
                tracing::warn!(%err, "stats: push failed");
            }
            // For the chart hook of the stats page.
            if let Err(err) = channels.push_event(&app.pages, "stats", &payload).await {
                tracing::warn!(%err, "stats: event push failed");
            }
        }
    })
}
// endregion

/// `3 s`, `4 min 05 s`, `2 h 00 min 09 s`, `3 d 04 h 00 min`.
fn uptime(elapsed: Duration) -> String {
    let s = elapsed.as_secs();
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) => format!("{m} min {s:02} s"),
        (0, _, _) => format!("{h} h {m:02} min {s:02} s"),
        _ => format!("{d} d {h:02} h {m:02} min"),
    }
}

/// `HH:MM:SS UTC`.
pub(crate) fn clock(at: SystemTime) -> String {
    let s = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) % 86_400;
    format!("{:02}:{:02}:{:02} UTC", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_uptime_and_clock() {
        assert_eq!(uptime(Duration::from_secs(3)), "3 s");
        assert_eq!(uptime(Duration::from_secs(245)), "4 min 05 s");
        assert_eq!(uptime(Duration::from_secs(7209)), "2 h 00 min 09 s");
        assert_eq!(
            uptime(Duration::from_secs(3 * 86_400 + 4 * 3600)),
            "3 d 04 h 00 min"
        );
        assert_eq!(
            clock(UNIX_EPOCH + Duration::from_secs(86_400 + 3723)),
            "01:02:03 UTC"
        );
    }
}
