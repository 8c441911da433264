//! The checks every new connection passes, a WebSocket's upgrade and a
//! long-poll socket's opening alike: its room, its `Origin`, the server's
//! state, the per-address cap, the connect guard and the connection limit.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Server;
use super::connect_rate::ConnectVerdict;
use super::lifecycle::ConnectionGuard;

/// A connection that passed every check.
pub(super) struct Admitted {
    /// Counts it among the open connections.
    pub(super) guard: ConnectionGuard,
    /// When the connect guard's admission expires, if it set a deadline.
    pub(super) deadline: Option<std::time::Instant>,
}

fn valid_room(room: &str) -> bool {
    (1..=128).contains(&room.len())
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The checks that cost nothing: the room id (`400`), the `Origin` and a
/// signed room (`403`), a server shutting down (`503`). Gives the room's
/// claims.
pub(super) fn room_and_origin(
    server: &Server,
    room: &str,
    parts: &http::request::Parts,
) -> Result<Option<Box<str>>, Box<Response>> {
    if !valid_room(room) {
        return Err(Box::new(
            (StatusCode::BAD_REQUEST, "invalid room id").into_response(),
        ));
    }
    if let Some(refusal) = foreign_origin(server, parts) {
        return Err(Box::new(refusal));
    }
    let claims = match server.rooms.check(room) {
        Ok(claims) => claims,
        Err(refusal) => {
            tracing::warn!(%refusal, "liveview: refused a connection to a room");
            return Err(Box::new(
                (StatusCode::FORBIDDEN, "room not allowed").into_response(),
            ));
        }
    };
    if server.lifecycle.is_shutting_down() {
        return Err(Box::new(unavailable("server is shutting down")));
    }
    Ok(claims)
}

/// `403` for a request from an origin the server does not accept (every
/// long-poll request is checked, as the WebSocket's upgrade is).
pub(super) fn foreign_origin(server: &Server, parts: &http::request::Parts) -> Option<Response> {
    if server
        .origins
        .allows(&parts.headers, parts.uri.scheme_str())
    {
        return None;
    }
    tracing::warn!(origin = ?parts.headers.get_all(header::ORIGIN), "liveview: refused a request from a foreign origin");
    Some((StatusCode::FORBIDDEN, "origin not allowed").into_response())
}

/// The checks that count: the per-address cap (`429`), the connect guard
/// (its own answer), the connection limit (`503`).
pub(super) async fn admit(
    server: &Server,
    parts: &mut http::request::Parts,
) -> Result<Admitted, Response> {
    if let Some(refusal) = too_many_from_this_address(server, parts) {
        return Err(refusal);
    }
    // Before the connection counts: a slow guard holds no slot.
    let mut deadline = None;
    if let Some(connect_guard) = &server.guard {
        deadline = connect_guard.check(parts).await?;
    }
    let limits = &server.app.limits;
    let Some(guard) = server.lifecycle.admit(limits.max_connections) else {
        tracing::warn!(
            max = limits.max_connections,
            "liveview: connection limit reached"
        );
        return Err(unavailable("too many connections"));
    };
    Ok(Admitted { guard, deadline })
}

/// `429` when the client's address (`ConnectInfo`, which
/// [`serve`](crate::serve) sets) opens connections faster than
/// `Limits::connections_per_address` allows; `None` to go on (no cap, or
/// no address known).
fn too_many_from_this_address(server: &Server, parts: &http::request::Parts) -> Option<Response> {
    let limiter = server.connect_rate.as_ref()?;
    let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
    match limiter.admit(peer.ip(), std::time::Instant::now()) {
        ConnectVerdict::Accept => None,
        ConnectVerdict::Refuse { retry_after_secs } => Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, HeaderValue::from(retry_after_secs))],
                "too many new connections from this address",
            )
                .into_response(),
        ),
    }
}

/// `resume=1` in the query: the first frame is a resume request.
pub(super) fn asks_to_resume(query: Option<&str>) -> bool {
    query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .any(|pair| pair == "resume=1")
}

fn unavailable(message: &'static str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, HeaderValue::from_static("5"))],
        message,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms() {
        assert!(valid_room("4f2c-abc_DEF"));
        assert!(!valid_room(""));
        assert!(!valid_room("a/b"));
        assert!(!valid_room(&"a".repeat(129)));
        assert!(asks_to_resume(Some("v=2&resume=1")));
        assert!(!asks_to_resume(Some("v=2&resume=10")));
    }
}
