//! liveview's metrics in Prometheus text format, at `/metrics`, and the few
//! of them the stats page shows live.
//!
//! The recorder is process-wide: `main` installs it with [`install`] before
//! the demo is built (liveview registers its hot-path handles at build
//! time) and hands the [`Exporter`] to [`Config::exporter`](crate::Config).
//! `/metrics` answers only to clients on the loopback interface unless the
//! exporter is made [`public`](Exporter::public): a scrape target is for the
//! machine's own Prometheus (or an SSH tunnel), not for every visitor.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use liveview::telemetry::names;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use serde::Serialize;

/// Upper bounds of the handler-time buckets, in seconds (100 µs to 10 s).
const HANDLER_BUCKETS: [f64; 10] = [
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 10.0,
];

/// How often the recorder's histograms are compacted.
const UPKEEP: Duration = Duration::from_secs(5);

/// The installed recorder and who may read it.
#[derive(Debug, Clone)]
pub struct Exporter {
    handle: PrometheusHandle,
    public: bool,
}

/// Installs the Prometheus recorder as the process's global recorder.
///
/// # Errors
/// When a recorder is already installed.
pub fn install() -> Result<Exporter, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(names::EVENT_DURATION.to_owned()),
            &HANDLER_BUCKETS,
        )?
        .install_recorder()?;
    Ok(Exporter {
        handle,
        public: false,
    })
}

impl Exporter {
    /// Serve `/metrics` to any client, not only loopback ones.
    #[must_use]
    pub fn public(mut self, public: bool) -> Self {
        self.public = public;
        self
    }

    /// The metrics, as Prometheus text.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// The figures the stats page shows, read from the recorder.
    pub fn live(&self) -> Live {
        let text = self.render();
        Live {
            connections: whole(sum(&text, names::CONNECTIONS_OPEN)),
            events: whole(sum(&text, names::EVENTS)),
            frames_out: whole(sum(&text, names::FRAMES_OUT)),
            bytes_out: whole(sum(&text, names::BYTES_OUT)),
        }
    }

    /// The `/metrics` route, and the recorder's upkeep task (on the
    /// current runtime).
    pub(crate) fn router(self) -> Router {
        let handle = self.handle.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(UPKEEP);
            loop {
                every.tick().await;
                handle.run_upkeep();
            }
        });
        Router::new()
            .route("/metrics", get(scrape))
            .with_state(self)
    }
}

/// A few of liveview's metrics, as the stats page shows them.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Live {
    /// `liveview_connections_open`.
    pub connections: u64,
    /// `liveview_events_total`, every function and outcome together.
    pub events: u64,
    /// `liveview_frames_out_total`.
    pub frames_out: u64,
    /// `liveview_bytes_out_total`.
    pub bytes_out: u64,
}

async fn scrape(State(exporter): State<Exporter>, request: Request) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    if !allowed(peer, exporter.public) {
        return StatusCode::NOT_FOUND.into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        exporter.render(),
    )
        .into_response()
}

/// Loopback peers always; others only when the exporter is public. A
/// request whose peer is unknown is not served unless it is public.
fn allowed(peer: Option<SocketAddr>, public: bool) -> bool {
    public || peer.is_some_and(|addr| addr.ip().to_canonical().is_loopback())
}

/// A count read as a float, as a whole number (0 if negative).
fn whole(value: f64) -> u64 {
    // `as` saturates: NaN and negatives become 0.
    value.round() as u64
}

/// The sum of every series of `name` in Prometheus text.
fn sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_peers_unless_public() {
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap_or_else(|_| unreachable!());
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000"
            .parse()
            .unwrap_or_else(|_| unreachable!());
        let remote: SocketAddr = "10.1.2.3:5000".parse().unwrap_or_else(|_| unreachable!());
        assert!(allowed(Some(local), false));
        assert!(allowed(Some(mapped), false));
        assert!(!allowed(Some(remote), false));
        assert!(!allowed(None, false));
        assert!(allowed(Some(remote), true));
    }

    #[test]
    fn sums_every_series_of_a_name_and_no_other() {
        let text = "# TYPE liveview_events_total counter\n\
            liveview_events_total{function=\"a\",outcome=\"ok\"} 3\n\
            liveview_events_total{function=\"b\",outcome=\"ok\"} 4\n\
            liveview_events_total_other 100\n\
            liveview_connections_open 2\n";
        assert_eq!(sum(text, names::EVENTS), 7.0);
        assert_eq!(sum(text, names::CONNECTIONS_OPEN), 2.0);
        assert_eq!(sum(text, names::FRAMES_OUT), 0.0);
    }
}
