//! The demo's Content-Security-Policy: every response says that scripts,
//! styles, images and connections (the WebSocket and the long-poll
//! requests) come from the demo's own origin only, with no inline script,
//! no inline style and no `eval`, and where the browser reports what it
//! blocked (`POST /csp-report`: logged and counted in [`Metrics`]). The
//! demo's Chromium tests run every case under it and check that nothing
//! was reported (docs/security.md, "Content Security Policy").

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;

use crate::Metrics;

/// The policy. `'self'` in `connect-src` covers `ws:`/`wss:` to the same
/// host and port (CSP level 3). The client needs nothing more: its code
/// is one script file (plus `longpoll.{hash}.js`, imported from the same
/// origin), it sets styles through the CSSOM only, and it never evaluates
/// a string.
pub const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'; report-uri /csp-report";

/// Where the browser posts its violation reports.
pub const REPORT_PATH: &str = "/csp-report";

/// A report is a small JSON document; anything larger is refused (413)
/// before it is read.
const MAX_REPORT_BYTES: usize = 16 * 1024;

/// `router` with the policy on every response and the report route.
pub(crate) fn protect(router: Router, metrics: Metrics) -> Router {
    let reports = Router::new()
        .route(REPORT_PATH, post(report))
        .layer(DefaultBodyLimit::max(MAX_REPORT_BYTES))
        .with_state(metrics);
    router
        .merge(reports)
        .layer(axum::middleware::map_response(with_policy))
}

async fn with_policy(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    response
}

/// What of a report is logged: enough for the directive and the blocked
/// URL, escaped (`{:?}`), so a report cannot forge log lines.
const LOGGED_CHARS: usize = 1024;

/// A violation the browser reports: something on a page did not load or
/// run. Counted, and logged with the browser's own words.
async fn report(State(metrics): State<Metrics>, body: String) -> StatusCode {
    metrics.csp_violation();
    let report: String = body.chars().take(LOGGED_CHARS).collect();
    tracing::warn!(?report, "content security policy violation");
    StatusCode::NO_CONTENT
}
