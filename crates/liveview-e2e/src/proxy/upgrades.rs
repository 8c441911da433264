//! What a proxy that does not pass WebSockets does to an upgrade request:
//! it drops the hop-by-hop `Connection` and `Upgrade` headers, so the
//! server sees a plain `GET` and refuses it (axum answers 400 or 426), and
//! the browser's WebSocket fails as behind such a proxy.

use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;

/// A request head longer than this is forwarded as it is.
const MAX_HEAD: usize = 64 * 1024;

/// Reads the connection's first request head (to its blank line) and
/// returns what to forward in its place: the head without `Connection`
/// and `Upgrade` when it asks for a WebSocket, then whatever was read past
/// it. `refused` tells whether it was rewritten. A connection that closes
/// before its head ends gets what it sent.
pub(super) async fn first_request(client: &mut OwnedReadHalf) -> (Vec<u8>, bool) {
    let mut read = Vec::new();
    let mut buf = [0u8; 4096];
    while read.len() < MAX_HEAD {
        if let Some(end) = head_end(&read) {
            return match refuse_upgrade(&read[..end]) {
                Some(mut head) => {
                    head.extend_from_slice(&read[end..]);
                    (head, true)
                }
                None => (read, false),
            };
        }
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => read.extend_from_slice(&buf[..n]),
        }
    }
    (read, false)
}

/// Where the head ends: just past its `\r\n\r\n`.
fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
}

/// The head without its `Connection` and `Upgrade` lines, if it has an
/// `Upgrade` header naming `websocket`; `None` for any other request.
fn refuse_upgrade(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let header = |line: &str, name: &str| {
        line.split_once(':')
            .filter(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_ascii_lowercase())
    };
    let asks = text
        .split("\r\n")
        .filter_map(|line| header(line, "upgrade"))
        .any(|value| value.contains("websocket"));
    if !asks {
        return None;
    }
    let kept: Vec<&str> = text
        .split("\r\n")
        .filter(|line| header(line, "upgrade").is_none() && header(line, "connection").is_none())
        .collect();
    Some(kept.join("\r\n").into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPGRADE: &str = "GET /ws/liveview/r/?v=2 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\
        Connection: Upgrade\r\nupgrade: WebSocket\r\nSec-WebSocket-Version: 13\r\n\r\n";

    #[test]
    fn an_upgrade_loses_its_hop_by_hop_headers() {
        let head = refuse_upgrade(UPGRADE.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "GET /ws/liveview/r/?v=2 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
    }

    #[test]
    fn other_requests_pass_unchanged() {
        for head in [
            "POST /ws/liveview/r/poll?v=2 HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
        ] {
            assert_eq!(refuse_upgrade(head.as_bytes()), None, "{head}");
        }
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nbody"), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
    }
}
