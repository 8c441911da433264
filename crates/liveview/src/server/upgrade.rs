//! The WebSocket upgrade: checks, then the connection's task.

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::serve::{ListenerExt, TapIo};
use liveview_protocol::Dialect;

use super::Server;
use super::checks::{self, Admitted};
use crate::socket::{self, Accepted};
use crate::transport::Socket;

pub(super) async fn upgrade(
    State(server): State<Arc<Server>>,
    Path(room): Path<String>,
    request: Request,
) -> Response {
    let (mut parts, _body) = request.into_parts();
    let room_claims = match checks::room_and_origin(&server, &room, &parts) {
        Ok(claims) => claims,
        Err(refusal) => return *refusal,
    };
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let Admitted { guard, deadline } = match checks::admit(&server, &mut parts).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal,
    };
    let limits = &server.app.limits;
    let accepted = Accepted {
        room: room.into_boxed_str(),
        room_claims,
        dialect: Dialect::from_query(parts.uri.query()),
        resume: checks::asks_to_resume(parts.uri.query()),
        request: owned_parts(parts),
        shutdown: server.lifecycle.shutdown_signal(),
        deadline,
    };
    let app = Arc::clone(&server.app);
    ws.read_buffer_size(limits.read_buffer_bytes)
        // Frames are buffered until the socket task flushes a batch: one
        // write (and one TCP segment) for an answer and what preceded it.
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(max_write_buffer(limits))
        .max_message_size(limits.max_frame_bytes)
        .max_frame_size(limits.max_frame_bytes)
        .on_upgrade(move |socket| socket::run(Socket::WebSocket(socket), app, accepted, guard))
}

/// Turns off Nagle's algorithm (sets `TCP_NODELAY`) on every connection a
/// listener accepts. Serve liveview with it:
///
/// ```no_run
/// # async fn run(app: axum::Router) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// axum::serve(liveview::no_delay(listener), app).await
/// # }
/// ```
///
/// Live pages send small frames; without it, a frame written right after
/// another waits for the peer's (delayed) acknowledgement of the first, up
/// to 40 ms on Linux. axum leaves the option off, and once a connection is
/// upgraded the library can no longer reach its socket to set it.
pub fn no_delay(
    listener: tokio::net::TcpListener,
) -> TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)> {
    fn set(stream: &mut tokio::net::TcpStream) {
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, "liveview: cannot set TCP_NODELAY");
        }
    }
    listener.tap_io(set as fn(&mut tokio::net::TcpStream))
}

/// Frames written before a flush forces them out; the socket task flushes
/// after every batch, so this only bounds how much a batch holds.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// The most tungstenite may buffer before it refuses a write
/// (`WriteBufferFull`): room for the largest frame the server sends (its
/// header included) on top of a batch of smaller ones, so that any frame
/// within `Limits::max_outgoing_frame_bytes` is written. The buffer only
/// grows this far while such a frame is written.
fn max_write_buffer(limits: &crate::limits::Limits) -> usize {
    /// A frame header is at most 14 bytes; a close frame at most 127.
    const OVERHEAD: usize = 1024;
    limits
        .max_outgoing_frame_bytes
        .saturating_add(WRITE_BUFFER_BYTES * 2)
        .saturating_add(OVERHEAD)
}

/// The request head, copied out of hyper's read buffer.
///
/// Header values, custom header names and the URI of a parsed request are
/// slices of the connection's read buffer (8 to 16 KiB). A connection keeps
/// its request head for its whole life (handlers read cookies and headers),
/// and holding those slices would hold the whole buffer: most of what an
/// idle connection costs. Copies cost a few hundred bytes.
pub(super) fn owned_parts(mut parts: http::request::Parts) -> http::request::Parts {
    let mut headers = HeaderMap::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        let name = http::HeaderName::from_bytes(name.as_str().as_bytes());
        let copy = HeaderValue::from_bytes(value.as_bytes());
        if let (Ok(name), Ok(mut copy)) = (name, copy) {
            copy.set_sensitive(value.is_sensitive());
            headers.append(name, copy);
        }
    }
    parts.headers = headers;
    if let Ok(uri) = http::Uri::try_from(parts.uri.to_string()) {
        parts.uri = uri;
    }
    if let Some(original) = parts.extensions.remove::<axum::extract::OriginalUri>() {
        let uri = http::Uri::try_from(original.0.to_string()).unwrap_or_else(|_| parts.uri.clone());
        parts.extensions.insert(axum::extract::OriginalUri(uri));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

    #[test]
    fn owned_parts_no_longer_point_into_the_read_buffer() {
        let buffer = bytes::Bytes::from_static(
            b"GET /ws/liveview/r/?v=1 HTTP/1.1 x-custom: value; session=abc",
        );
        let range = buffer.as_ptr() as usize..buffer.as_ptr() as usize + buffer.len();
        let value = HeaderValue::from_maybe_shared(buffer.slice(43..48)).unwrap();
        assert!(
            range.contains(&(value.as_bytes().as_ptr() as usize)),
            "the test value is a slice"
        );
        let (mut parts, ()) = http::Request::builder()
            .uri("/ws/liveview/r/?v=1")
            .body(())
            .unwrap()
            .into_parts();
        parts.headers.insert("x-custom", value);
        let mut sensitive = HeaderValue::from_static("session=abc");
        sensitive.set_sensitive(true);
        parts.headers.insert(header::COOKIE, sensitive);
        let owned = owned_parts(parts);
        let copied = &owned.headers["x-custom"];
        assert_eq!(copied, "value");
        assert!(
            !range.contains(&(copied.as_bytes().as_ptr() as usize)),
            "copied out of the buffer"
        );
        assert!(owned.headers[header::COOKIE].is_sensitive());
        assert_eq!(owned.uri, "/ws/liveview/r/?v=1");
    }
}
