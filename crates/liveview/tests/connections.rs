//! Connections and frames at their edges, over a real WebSocket: frames
//! larger than usual, clients that break the protocol or stop reading, and
//! the idle reaper's timing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use liveview::layer::{ConnId, SendError};
use liveview::{Ctx, Limits, LiveView, Patch};
use liveview_e2e::ws::{PATIENCE, TestServer};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MIB: usize = 1024 * 1024;

fn builder() -> liveview::LiveViewBuilder {
    LiveView::builder().auto_register(false).debug(false)
}

async fn small() -> Patch {
    Patch::html("#small", "ok")
}

#[tokio::test]
async fn a_5_mib_answer_is_written_whole() {
    // Three ~1 MiB images previewed inline made a 4.3 MiB answer in the demo.
    let server = TestServer::start(
        builder().handler("big", || async { Patch::html("#big", "x".repeat(5 * MIB)) }),
    )
    .await;
    let mut client = server.client("r").await;
    let r = client.event("big", json!({}), json!({})).await;
    let frame = client.recv().await;
    assert_eq!(frame.reference, Some(r));
    assert_eq!(frame.patch.html.map(|h| h.len()), Some(5 * MIB));
}

#[tokio::test]
async fn an_answer_over_the_limit_is_an_error_frame_and_the_connection_stays_usable() {
    let server = TestServer::start(
        builder()
            .handler("huge", || async {
                Patch::html("#big", "x".repeat(17 * MIB))
            })
            .handler("small", small),
    )
    .await;
    let mut client = server.client("r").await;
    let r = client.event("huge", json!({}), json!({})).await;
    let error = client.recv_json().await;
    assert_eq!(error["code"], "reply_too_large", "{error}");
    assert_eq!(error["function"], "huge");
    assert_eq!(error["ref"], r);
    let message = error["error"].as_str().unwrap();
    assert!(message.contains("huge"), "{message}");
    assert!(message.contains(&(16 * MIB).to_string()), "{message}");
    client.event("small", json!({}), json!({})).await;
    assert_eq!(client.recv().await.patch.html.as_deref(), Some("ok"));

    // The limit is configurable, and a legacy client is told the same.
    let server = TestServer::start(
        builder()
            .limits(Limits::default().max_outgoing_frame_bytes(MIB))
            .handler("big", || async { Patch::html("#big", "x".repeat(2 * MIB)) })
            .handler("small", small),
    )
    .await;
    let mut legacy = server.legacy_client("r").await;
    legacy.send_text(r#"{"function":"big"}"#).await;
    assert_eq!(legacy.recv_json().await["code"], "reply_too_large");
    legacy.send_text(r#"{"function":"small"}"#).await;
    assert_eq!(legacy.recv().await.patch.html.as_deref(), Some("ok"));
}

#[tokio::test]
async fn a_push_over_the_limit_is_dropped_and_nobody_is_disconnected() {
    async fn push_huge(ctx: Ctx) -> Patch {
        let sent = ctx.send(Patch::html("#big", "x".repeat(17 * MIB)));
        Patch::html("#sent", format!("{sent:?}"))
    }
    async fn whoami(ctx: Ctx) -> Patch {
        Patch::html("#me", ctx.id().to_string())
    }
    let server = TestServer::start(
        builder()
            .handler("push_huge", push_huge)
            .handler("whoami", whoami),
    )
    .await;
    let mut a = server.client("r").await;
    let mut b = server.client("r").await;
    a.event("push_huge", json!({}), json!({})).await;
    let answer = a.recv().await.patch.html.unwrap();
    assert!(answer.contains("TooLarge"), "ctx.send refused it: {answer}");

    let huge = Patch::html("#big", "x".repeat(17 * MIB));
    let channels = server.lv.channels();
    let err = channels.broadcast(huge.clone()).await.unwrap_err();
    assert!(
        matches!(err, SendError::TooLarge { limit, .. } if limit == 16 * MIB),
        "{err}"
    );
    b.event("whoami", json!({}), json!({})).await;
    let id = ConnId::parse(&b.recv().await.patch.html.unwrap()).unwrap();
    assert!(channels.send_to(id, huge).await.is_err());

    // Both still here, and the next push reaches both.
    channels
        .broadcast(Patch::html("#x", "after"))
        .await
        .unwrap();
    assert_eq!(a.recv().await.patch.html.as_deref(), Some("after"));
    assert_eq!(b.recv().await.patch.html.as_deref(), Some("after"));
    assert_eq!(server.lv.connection_count(), 2);
}

#[tokio::test]
async fn a_client_that_stops_reading_past_the_write_timeout_gets_1013() {
    async fn whoami(ctx: Ctx) -> Patch {
        Patch::html("#me", ctx.id().to_string())
    }
    let write_timeout = Duration::from_millis(400);
    let server = TestServer::start(
        builder()
            .limits(Limits::default().write_timeout(write_timeout))
            .handler("whoami", whoami),
    )
    .await;
    let mut client = server.client("r").await;
    client.event("whoami", json!({}), json!({})).await;
    let id = ConnId::parse(&client.recv().await.patch.html.unwrap()).unwrap();
    // Far more than the socket buffers hold, far less than the queue limit
    // (1,024 frames): the write blocks, it is not the queue that overflows.
    let channels = server.lv.channels();
    let frame = Patch::html("#big", "x".repeat(MIB));
    for _ in 0..40 {
        channels.send_to(id, frame.clone()).await.unwrap();
    }
    // The client reads again after the write timed out, while the server
    // still waits to write its close frame.
    tokio::time::sleep(write_timeout + write_timeout / 2).await;
    assert_eq!(client.recv_close().await, 1013);
    server.wait_connections(0).await;
}

/// A WebSocket client made of bytes, to break the protocol on purpose and
/// to stay silent (it never answers a ping).
struct RawClient {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl RawClient {
    async fn connect(addr: SocketAddr) -> RawClient {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "GET /ws/liveview/raw/?v=1 HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut client = RawClient {
            stream,
            buffer: Vec::new(),
        };
        let head_end = loop {
            if let Some(at) = client.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            client.fill().await;
        };
        let head = String::from_utf8_lossy(&client.buffer[..head_end]).into_owned();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        client.buffer.drain(..head_end);
        client
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(PATIENCE, self.stream.read(&mut chunk))
            .await
            .expect("timed out reading")
            .expect("read");
        assert!(n > 0, "the server closed TCP without a close frame");
        self.buffer.extend_from_slice(&chunk[..n]);
    }

    /// A frame: `fin_opcode` as the first byte, masked when `mask`.
    async fn send_frame(&mut self, fin_opcode: u8, payload: &[u8], mask: bool) {
        assert!(payload.len() < 126);
        let mut frame = vec![
            fin_opcode,
            payload.len() as u8 | if mask { 0x80 } else { 0 },
        ];
        let key = [0x12, 0x34, 0x56, 0x78];
        if mask {
            frame.extend_from_slice(&key);
            frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        } else {
            frame.extend_from_slice(payload);
        }
        self.stream.write_all(&frame).await.unwrap();
    }

    /// The next frame from the server: (opcode, payload).
    async fn recv_frame(&mut self) -> (u8, Vec<u8>) {
        loop {
            if self.buffer.len() >= 2 {
                let (opcode, short) = (self.buffer[0] & 0x0f, usize::from(self.buffer[1] & 0x7f));
                let (start, len) = match short {
                    126 if self.buffer.len() >= 4 => (
                        4,
                        usize::from(u16::from_be_bytes([self.buffer[2], self.buffer[3]])),
                    ),
                    127 if self.buffer.len() >= 10 => {
                        let bytes: [u8; 8] = self.buffer[2..10].try_into().unwrap();
                        (10, usize::try_from(u64::from_be_bytes(bytes)).unwrap())
                    }
                    126 | 127 => (usize::MAX, 0),
                    n => (2, n),
                };
                if start != usize::MAX && self.buffer.len() >= start + len {
                    let payload = self.buffer[start..start + len].to_vec();
                    self.buffer.drain(..start + len);
                    return (opcode, payload);
                }
            }
            self.fill().await;
        }
    }

    /// Waits for the server's close frame (skipping pings); its code.
    async fn recv_close(&mut self) -> u16 {
        loop {
            match self.recv_frame().await {
                (0x8, payload) if payload.len() >= 2 => {
                    return u16::from_be_bytes([payload[0], payload[1]]);
                }
                (0x8, _) => return 1005,
                (0x9, _) => {}
                (opcode, payload) => panic!(
                    "expected a close frame, got opcode {opcode}: {}",
                    String::from_utf8_lossy(&payload)
                ),
            }
        }
    }
}

#[tokio::test]
async fn protocol_violations_close_with_their_rfc_6455_codes() {
    let server = TestServer::start(builder()).await;
    let cases: [(&str, u8, &[u8], bool, u16); 5] = [
        (
            "invalid UTF-8 in a text frame",
            0x81,
            b"{\"a\":\"\xff\xfe\"}",
            true,
            1007,
        ),
        ("an unmasked client frame", 0x81, b"{}", false, 1002),
        ("a reserved data opcode", 0x83, b"x", true, 1002),
        ("a reserved control opcode", 0x8b, b"", true, 1002),
        (
            "a close code not allowed on the wire",
            0x88,
            &[0x03, 0xe7],
            true,
            1002,
        ),
    ];
    for (what, fin_opcode, payload, mask, code) in cases {
        let mut client = RawClient::connect(server.addr).await;
        server.wait_connections(1).await;
        client.send_frame(fin_opcode, payload, mask).await;
        assert_eq!(client.recv_close().await, code, "{what}");
        server.wait_connections(0).await;
    }
    // A well-formed close is answered with the same code.
    let mut client = RawClient::connect(server.addr).await;
    client.send_frame(0x88, &1000u16.to_be_bytes(), true).await;
    assert_eq!(client.recv_close().await, 1000, "the close is echoed");
}

#[tokio::test]
async fn silent_connections_are_reaped_at_the_idle_timeout_not_the_next_tick() {
    let (ping, idle) = (Duration::from_secs(3), Duration::from_millis(250));
    let server = TestServer::start(
        builder().limits(Limits::default().ping_interval(ping).idle_timeout(idle)),
    )
    .await;
    // Reaped on the first ping tick after the idle timeout, this would take
    // 3 s: the bound below leaves a loaded machine more than a second of
    // scheduling delay and still tells the two apart.
    let mut client = RawClient::connect(server.addr).await;
    let opened = Instant::now();
    assert_eq!(client.recv_close().await, 1001);
    let after = opened.elapsed();
    assert!(
        after >= idle - Duration::from_millis(30) && after < ping / 2,
        "reaped after {after:?}, the idle timeout is {idle:?} and pings go every {ping:?}"
    );
}
