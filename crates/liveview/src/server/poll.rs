//! The long-poll transport's routes: open a virtual socket, hold a `GET`
//! for its frames, `POST` client frames to it, close it. The wire is in
//! `docs/protocol.md`, "Long-poll transport".

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use liveview_protocol::Dialect;
use serde_json::value::RawValue;

use super::Server;
use super::checks::{self, Admitted};
use super::upgrade::owned_parts;
use crate::limits::Limits;
use crate::socket::{self, Accepted};
use crate::transport::{Answer, PollHandle, PollSettings, PollTable, Socket};

/// The virtual sockets of a server built with `limits`.
pub(super) fn table(limits: &Limits) -> Arc<PollTable> {
    PollTable::new(PollSettings {
        hold: limits.poll_hold,
        batch_frames: limits.poll_batch_frames,
        batch_bytes: limits.poll_batch_bytes,
    })
}

/// The largest body a long-poll `POST` may have: a batch, or one frame of
/// the largest size in its array's brackets.
pub(super) fn body_limit(limits: &Limits) -> DefaultBodyLimit {
    DefaultBodyLimit::max(body_limit_bytes(limits))
}

fn body_limit_bytes(limits: &Limits) -> usize {
    limits
        .poll_batch_bytes
        .max(limits.max_frame_bytes.saturating_add(2))
}

/// `POST /ws/liveview/{room}/poll?v=2[&resume=1]`: the checks of a
/// WebSocket upgrade, then a virtual socket and its connection's task.
pub(super) async fn open(
    State(server): State<Arc<Server>>,
    Path(room): Path<String>,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let room_claims = match checks::room_and_origin(&server, &room, &parts) {
        Ok(claims) => claims,
        Err(refusal) => return *refusal,
    };
    let dialect = Dialect::from_query(parts.uri.query());
    if !dialect.has_sessions() {
        return (
            StatusCode::BAD_REQUEST,
            "long-poll speaks protocol version 2 only (v=2)",
        )
            .into_response();
    }
    let resume = checks::asks_to_resume(parts.uri.query());
    let limits = &server.app.limits;
    // A resume request is the first frame the socket would have sent.
    let first = match resume {
        false => None,
        true => match read_body(&parts, body).await {
            Ok(bytes) if bytes.len() > limits.max_frame_bytes => return too_big_status(),
            Ok(bytes) => match String::from_utf8(bytes.to_vec()) {
                Ok(text) if !text.trim().is_empty() => Some(Utf8Bytes::from(text)),
                _ => {
                    return (
                        StatusCode::BAD_REQUEST,
                        "resume=1: the body is the resume frame",
                    )
                        .into_response();
                }
            },
            Err(refusal) => return refusal,
        },
    };
    let Admitted { guard, deadline } = match checks::admit(&server, &mut parts).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal,
    };
    let socket = server.polls.open(&room, first);
    let answer = format!("{{\"poll\":\"{}\"}}", socket.id());
    let accepted = Accepted {
        room: room.into_boxed_str(),
        room_claims,
        dialect,
        resume,
        request: owned_parts(parts),
        shutdown: server.lifecycle.shutdown_signal(),
        deadline,
    };
    let app = Arc::clone(&server.app);
    tokio::spawn(socket::run(
        Socket::Poll(Box::new(socket)),
        app,
        accepted,
        guard,
    ));
    json(answer)
}

/// `GET /ws/liveview/{room}/poll/{id}`: held until frames come, the
/// socket closes, a newer `GET` comes, or the hold time passes.
pub(super) async fn hold(
    State(server): State<Arc<Server>>,
    Path((room, id)): Path<(String, String)>,
    request: Request,
) -> Response {
    let (parts, _body) = request.into_parts();
    if let Some(refusal) = checks::foreign_origin(&server, &parts) {
        return refusal;
    }
    let Some(handle) = server.polls.find(&id, &room) else {
        return unknown();
    };
    // `?ack=N`: the client has the first N frames of this id.
    let ack = parts.uri.query().and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("ack="))
            .and_then(|n| n.parse::<u64>().ok())
    });
    match handle.outbox.take(ack).await {
        Answer::Unknown => {
            server.polls.remove(&id);
            unknown()
        }
        Answer::Body(body, finished) => {
            if finished {
                server.polls.remove(&id);
            }
            json(body)
        }
    }
}

/// `POST /ws/liveview/{room}/poll/{id}[?close=CODE]`: client frames (a
/// JSON array of text frames, or one binary frame), or the close.
pub(super) async fn send(
    State(server): State<Arc<Server>>,
    Path((room, id)): Path<(String, String)>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    if let Some(refusal) = checks::foreign_origin(&server, &parts) {
        return refusal;
    }
    let Some(handle) = server.polls.find(&id, &room) else {
        return unknown();
    };
    if let Some(code) = close_code(parts.uri.query()) {
        let Some(code) = code else {
            return (StatusCode::BAD_REQUEST, "invalid close code").into_response();
        };
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(""),
        };
        return deliver(&handle, vec![Message::Close(Some(frame))]).await;
    }
    let binary = match content_type(&parts) {
        Some("application/json") => false,
        Some("application/octet-stream") => true,
        _ => {
            return (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "application/json or application/octet-stream",
            )
                .into_response();
        }
    };
    let limits = &server.app.limits;
    let bytes = match read_body(&parts, body).await {
        Ok(bytes) => bytes,
        Err(refusal) if refusal.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            // Only the bound is known: the body was not read past it.
            let bound = body_limit_bytes(limits);
            return too_big(&handle, bound.saturating_add(1), bound).await;
        }
        Err(refusal) => return refusal,
    };
    if binary {
        if bytes.len() > limits.max_frame_bytes {
            return too_big(&handle, bytes.len(), limits.max_frame_bytes).await;
        }
        return deliver(&handle, vec![Message::Binary(bytes)]).await;
    }
    let Ok(frames) = serde_json::from_slice::<Vec<&RawValue>>(&bytes) else {
        return (StatusCode::BAD_REQUEST, "a JSON array of frames").into_response();
    };
    if frames.len() > limits.poll_batch_frames {
        return too_big(&handle, frames.len(), limits.poll_batch_frames).await;
    }
    if let Some(frame) = frames
        .iter()
        .find(|f| f.get().len() > limits.max_frame_bytes)
    {
        return too_big(&handle, frame.get().len(), limits.max_frame_bytes).await;
    }
    // Each frame as the client wrote it, as the WebSocket would carry it.
    let messages = frames
        .iter()
        .map(|f| Message::Text(Utf8Bytes::from(f.get())))
        .collect();
    deliver(&handle, messages).await
}

/// Queues the messages for the connection, waiting for room (which pushes
/// back on the client as TCP does): `204`, or `404` when the socket went
/// away meanwhile.
async fn deliver(handle: &PollHandle, messages: Vec<Message>) -> Response {
    for message in messages {
        if handle.inbox.send(Ok(message)).await.is_err() {
            return unknown();
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

/// A `POST` over its bounds: `413`, and the socket closes with 1009 as a
/// WebSocket does on a message over `max_frame_bytes` (the same read error
/// reaches the same loop).
async fn too_big(handle: &PollHandle, size: usize, max_size: usize) -> Response {
    let error = tungstenite::Error::Capacity(tungstenite::error::CapacityError::MessageTooLong {
        size,
        max_size,
    });
    let _ = handle.inbox.send(Err(axum::Error::new(error))).await;
    too_big_status()
}

fn too_big_status() -> Response {
    (StatusCode::PAYLOAD_TOO_LARGE, "message too big").into_response()
}

/// The body, within the route's limit (`413` past it).
async fn read_body(parts: &http::request::Parts, body: Body) -> Result<Bytes, Response> {
    // The limit travels in the extensions (`DefaultBodyLimit`).
    let request = Request::from_parts(parts.clone(), body);
    match Bytes::from_request(request, &()).await {
        Ok(bytes) => Ok(bytes),
        Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_))) => {
            Err(too_big_status())
        }
        Err(rejection) => Err(rejection.into_response()),
    }
}

/// The media type of the body, without its parameters.
fn content_type(parts: &http::request::Parts) -> Option<&str> {
    let value = parts.headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or(value).trim())
}

/// `close=CODE` in the query: `Some(None)` for a code a client may not
/// send (RFC 6455: 1000 to 1003, 1007 to 1014, 3000 to 4999).
fn close_code(query: Option<&str>) -> Option<Option<u16>> {
    let value = query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("close="))?;
    let code = value.parse::<u16>().ok();
    Some(code.filter(|c| matches!(c, 1000..=1003 | 1007..=1014 | 3000..=4999)))
}

fn json(body: String) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

fn unknown() -> Response {
    (StatusCode::NOT_FOUND, "unknown long-poll id").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes() {
        assert_eq!(close_code(Some("close=1001")), Some(Some(1001)));
        assert_eq!(close_code(Some("v=2&close=4001")), Some(Some(4001)));
        assert_eq!(close_code(Some("close=1005")), Some(None));
        assert_eq!(close_code(Some("close=x")), Some(None));
        assert_eq!(close_code(Some("v=2")), None);
        assert_eq!(close_code(None), None);
    }
}
