//! The client side of the wire protocol: connecting (from spread-out
//! loopback source addresses), encoding events and decoding server frames.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::cli::Common;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::BoxError;
use crate::target;

/// A client WebSocket connection.
pub(crate) type Ws = WebSocketStream<TcpStream>;

/// How long one TCP connect plus WebSocket handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Opens client connections to one server, spreading them over several
/// loopback source addresses and bounding the handshakes in flight.
#[derive(Clone)]
pub(crate) struct Connector {
    /// The servers and their WebSocket URLs: client `idx` goes to
    /// `targets[idx % len]`.
    targets: Arc<[(SocketAddr, Arc<str>)]>,
    sources: Arc<[IpAddr]>,
    in_flight: Arc<Semaphore>,
}

impl Connector {
    /// A connector for `server`, with the room, source addresses and
    /// handshake concurrency of the scenario's common options.
    pub(crate) fn new(server: SocketAddr, common: &Common) -> Self {
        Self::spread(&[server], common)
    }

    /// A connector that spreads clients over `servers` (client `idx` on
    /// `servers[idx % len]`); at least one.
    pub(crate) fn spread(servers: &[SocketAddr], common: &Common) -> Self {
        let first = servers
            .first()
            .copied()
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)));
        Self {
            targets: servers
                .iter()
                .map(|s| {
                    let url = target::ws_url(*s, &common.room, if common.v2 { 2 } else { 1 });
                    (*s, Arc::from(url))
                })
                .collect(),
            sources: target::source_addrs(first, common.source_addrs).into(),
            in_flight: Arc::new(Semaphore::new(common.connect_concurrency.max(1))),
        }
    }

    fn target(&self, idx: usize) -> &(SocketAddr, Arc<str>) {
        &self.targets[idx % self.targets.len()]
    }

    /// A TCP connection from the source address of client `idx`.
    pub(crate) async fn tcp(&self, idx: usize) -> std::io::Result<TcpStream> {
        let src = self.sources[idx % self.sources.len()];
        let socket = match src {
            IpAddr::V4(_) => TcpSocket::new_v4()?,
            IpAddr::V6(_) => TcpSocket::new_v6()?,
        };
        socket.bind(SocketAddr::new(src, 0))?;
        let stream = socket.connect(self.target(idx).0).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// A WebSocket connection (protocol version 1, or 2 with `--v2`) for
    /// client `idx`.
    pub(crate) async fn ws(&self, idx: usize) -> Result<Ws, BoxError> {
        let _permit = self.in_flight.acquire().await?;
        let attempt = async {
            let stream = self.tcp(idx).await?;
            let request = (*self.target(idx).1).into_client_request()?;
            let (ws, _response) =
                tokio_tungstenite::client_async_with_config(request, stream, Some(ws_config()))
                    .await?;
            Ok::<_, BoxError>(ws)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Ok(result) => result,
            Err(_) => Err(format!("connect timed out after {CONNECT_TIMEOUT:?}").into()),
        }
    }
}

/// Small client buffers: 20,000 connections with tungstenite's default
/// 128 KiB read buffer would cost the bench process 2.5 GiB.
pub(crate) fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

/// The JSON of an `echo` event carrying `n` as its data and `reference` as
/// its `ref`.
pub(crate) fn echo_event(n: u64, reference: u64) -> String {
    format!(r#"{{"function":"echo","data":{{"n":{n}}},"form":{{}},"ref":{reference}}}"#)
}

/// The JSON of the event that asks the bench server to broadcast `seq`.
pub(crate) fn broadcast_event(seq: u64) -> String {
    format!(r#"{{"function":"bench_broadcast","data":{{"seq":{seq}}},"form":{{}},"ref":{seq}}}"#)
}

/// The HTML fragment the bench app renders for `n` (fixed size for
/// n < 10^8): the same bytes over WebSocket and plain HTTP.
pub(crate) fn fragment(n: u64) -> String {
    format!("<p>{n:08}</p>")
}

/// The CSS target of echo replies.
pub(crate) const ECHO_TARGET: &str = "#out";
/// The CSS target of broadcast patches.
pub(crate) const BROADCAST_TARGET: &str = "#bcast";

/// A frame from the server (patch, several patches, acknowledgement or
/// error); only the fields the bench looks at.
#[derive(Debug, Deserialize)]
pub(crate) struct Frame<'a> {
    #[serde(rename = "ref")]
    pub(crate) reference: Option<u64>,
    #[serde(borrow)]
    pub(crate) target: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) html: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) error: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) patches: Option<Vec<Frame<'a>>>,
}

impl Frame<'_> {
    /// Parses one text frame.
    pub(crate) fn parse(text: &str) -> Result<Frame<'_>, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The number in the HTML of the first patch aimed at `target`, looking
    /// into a `patches` list too.
    pub(crate) fn number_for(&self, target: &str) -> Option<u64> {
        if self.target.as_deref() == Some(target) {
            return self.html.as_deref().and_then(html_number);
        }
        self.patches
            .as_deref()?
            .iter()
            .find_map(|p| p.number_for(target))
    }

    /// A short description of an error frame (`code: message`).
    pub(crate) fn error_text(&self) -> Option<String> {
        let error = self.error.as_deref()?;
        Some(match self.code.as_deref() {
            Some(code) => format!("{code}: {error}"),
            None => error.to_owned(),
        })
    }
}

/// The first run of ASCII digits in `html`, as a number.
pub(crate) fn html_number(html: &str) -> Option<u64> {
    let start = html.find(|c: char| c.is_ascii_digit())?;
    let digits = &html[start..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn events_are_valid_json() {
        let e: serde_json::Value = serde_json::from_str(&echo_event(7, 12)).unwrap();
        assert_eq!(e["function"], "echo");
        assert_eq!(e["data"]["n"], 7);
        assert_eq!(e["ref"], 12);
        assert!(e["form"].as_object().unwrap().is_empty());
        let b: serde_json::Value = serde_json::from_str(&broadcast_event(3)).unwrap();
        assert_eq!(b["function"], "bench_broadcast");
        assert_eq!(b["data"]["seq"], 3);
    }

    #[test]
    fn decodes_frames() {
        let f = Frame::parse(r##"{"target":"#out","html":"<p>00000042</p>","ref":42}"##).unwrap();
        assert_eq!(f.reference, Some(42));
        assert_eq!(f.number_for(ECHO_TARGET), Some(42));
        assert_eq!(f.number_for(BROADCAST_TARGET), None);

        let many = Frame::parse(
            r##"{"ref":5,"patches":[{"target":"#a","html":"x"},{"target":"#bcast","html":"<p>9</p>"}]}"##,
        )
        .unwrap();
        assert_eq!(many.number_for(BROADCAST_TARGET), Some(9));

        let ack = Frame::parse(r#"{"ref":3}"#).unwrap();
        assert_eq!(ack.reference, Some(3));
        assert!(ack.error_text().is_none());

        let err = Frame::parse(r#"{"error":"nope","code":"unknown_function","ref":1}"#).unwrap();
        assert_eq!(err.error_text().as_deref(), Some("unknown_function: nope"));

        let escaped = Frame::parse(r##"{"target":"#out","html":"<p>\u0031</p>"}"##).unwrap();
        assert_eq!(escaped.number_for(ECHO_TARGET), Some(1));
    }

    #[test]
    fn fragment_is_fixed_size() {
        assert_eq!(fragment(1), "<p>00000001</p>");
        assert_eq!(fragment(1).len(), fragment(99_999_999).len());
        assert_eq!(html_number(&fragment(123)), Some(123));
        assert_eq!(html_number("none"), None);
    }
}
