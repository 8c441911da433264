//! A real liveview server on a free loopback port, and a real WebSocket
//! client that speaks the wire protocol: the harness of the integration
//! tests.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use liveview::protocol::{Chunk, ServerMessage};
use liveview::{LiveView, LiveViewBuilder};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a frame that should come.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// A `LiveView` served on a free loopback port.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The service, to look at its connections and channels.
    pub lv: LiveView,
}

impl TestServer {
    /// Builds the LiveView (without `#[handler]` functions unless the
    /// builder says otherwise) and serves it on 127.0.0.1:0.
    pub async fn start(builder: LiveViewBuilder) -> TestServer {
        let lv = builder.build().expect("build");
        let app: axum::Router = axum::Router::new().merge(lv.router());
        let addr = crate::serve(app).await;
        TestServer { addr, lv }
    }

    /// The WebSocket URL of `room`, for a version-1 client.
    pub fn url(&self, room: &str) -> String {
        format!("ws://{}/ws/liveview/{room}/?v=1", self.addr)
    }

    /// A protocol-version-1 client in `room`.
    pub async fn client(&self, room: &str) -> Client {
        Client::connect(&self.url(room), None)
            .await
            .expect("connect")
    }

    /// A Django LiveView (legacy) client in `room`.
    pub async fn legacy_client(&self, room: &str) -> Client {
        let url = format!("ws://{}/ws/liveview/{room}/", self.addr);
        Client::connect(&url, None).await.expect("connect")
    }

    /// A plain HTTP GET; returns the status, the head and the body.
    pub async fn get(&self, path: &str) -> (u16, String, String) {
        crate::http_get(self.addr, path).await
    }

    /// Waits until the server counts `n` connections.
    pub async fn wait_connections(&self, n: usize) {
        crate::wait_connections(&self.lv, n, PATIENCE).await;
    }
}

/// A WebSocket client that speaks the protocol, one frame at a time.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_ref: u64,
}

impl Client {
    /// Connects to `url`, with an `Origin` header when given.
    ///
    /// # Errors
    /// When the upgrade is refused or the connection fails.
    pub async fn connect(url: &str, origin: Option<&str>) -> Result<Client, tungstenite::Error> {
        let mut request = url.into_client_request()?;
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", HeaderValue::from_str(origin).unwrap());
        }
        Self::connect_request(request).await
    }

    /// Connects with a request the test built (headers, cookies).
    ///
    /// # Errors
    /// When the upgrade is refused or the connection fails.
    pub async fn connect_request(
        request: tungstenite::handshake::client::Request,
    ) -> Result<Client, tungstenite::Error> {
        let (ws, _response) = tokio_tungstenite::connect_async(request).await?;
        Ok(Client { ws, next_ref: 0 })
    }

    /// Sends a raw text frame.
    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.ws
            .send(Message::text(text.into()))
            .await
            .expect("send");
    }

    /// Sends a binary frame.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.ws.send(Message::binary(bytes)).await.expect("send");
    }

    /// Sends an upload chunk: id and offset header, then the data.
    pub async fn send_chunk(&mut self, id: u32, offset: u64, data: &[u8]) {
        self.send_binary(Chunk::encode(id, offset, data)).await;
    }

    /// Sends an event `{"function", "data", "form", "ref"}`; returns its ref.
    pub async fn event(
        &mut self,
        function: &str,
        data: serde_json::Value,
        form: serde_json::Value,
    ) -> u64 {
        self.next_ref += 1;
        let event = serde_json::json!({
            "function": function, "data": data, "form": form,
            "lang": "en", "room": "ignored", "ref": self.next_ref,
        });
        self.send_text(event.to_string()).await;
        self.next_ref
    }

    /// The next text frame, as JSON.
    pub async fn recv_json(&mut self) -> serde_json::Value {
        let text = self.recv_text().await;
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
    }

    /// The next text frame, decoded.
    pub async fn recv(&mut self) -> ServerMessage {
        let text = self.recv_text().await;
        ServerMessage::from_json(&text).unwrap_or_else(|err| panic!("bad frame ({err}): {text}"))
    }

    /// The next text frame (pings are skipped).
    pub async fn recv_text(&mut self) -> String {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("timed out waiting for a frame")
                .expect("stream ended")
                .expect("socket error");
            match message {
                Message::Text(text) => return text.as_str().to_owned(),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next text frame, however long it takes (pings are skipped).
    pub async fn recv_text_patiently(&mut self) -> String {
        loop {
            match self
                .ws
                .next()
                .await
                .expect("stream ended")
                .expect("socket error")
            {
                Message::Text(text) => return text.as_str().to_owned(),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Waits for the server to close; returns the close code.
    pub async fn recv_close(&mut self) -> u16 {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("timed out waiting for close");
            match message {
                Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                Some(Ok(Message::Close(None))) => return 1005,
                Some(Ok(_)) => {}
                Some(Err(err)) => panic!("socket error before close: {err}"),
                None => panic!("stream ended without a close frame"),
            }
        }
    }

    /// Waits for the server to close; returns the close code and reason.
    pub async fn recv_close_frame(&mut self) -> (u16, String) {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("timed out waiting for close");
            match message {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (u16::from(frame.code), frame.reason.as_str().to_owned());
                }
                Some(Ok(Message::Close(None))) => return (1005, String::new()),
                Some(Ok(_)) => {}
                Some(Err(err)) => panic!("socket error before close: {err}"),
                None => panic!("stream ended without a close frame"),
            }
        }
    }

    /// The next text frame, or the close code when the server closes
    /// instead (for floods that must end in a close). A send that fails
    /// because the server already closed is not an error here: see
    /// [`try_send_text`](Self::try_send_text).
    pub async fn recv_text_or_close(&mut self) -> Result<String, u16> {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("timed out waiting for a frame or a close");
            match message {
                Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
                Some(Ok(Message::Close(Some(frame)))) => return Err(u16::from(frame.code)),
                Some(Ok(Message::Close(None))) => return Err(1005),
                Some(Ok(_)) => {}
                Some(Err(err)) => panic!("socket error before close: {err}"),
                None => panic!("stream ended without a close frame"),
            }
        }
    }

    /// Sends a text frame; false when the socket is already closed.
    pub async fn try_send_text(&mut self, text: impl Into<String>) -> bool {
        self.ws.send(Message::text(text.into())).await.is_ok()
    }

    /// Sends a binary frame; false when the socket is already closed.
    pub async fn try_send_binary(&mut self, bytes: Vec<u8>) -> bool {
        self.ws.send(Message::binary(bytes)).await.is_ok()
    }

    /// Sends a ping; false when the socket is already closed.
    pub async fn try_ping(&mut self) -> bool {
        self.ws.send(Message::Ping(Vec::new().into())).await.is_ok()
    }

    /// Sends a ping and waits for its pong; the close code when the server
    /// closes instead.
    pub async fn ping_pong(&mut self) -> Result<(), u16> {
        if !self.try_ping().await {
            return Err(1006);
        }
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("timed out waiting for a pong or a close");
            match message {
                Some(Ok(Message::Pong(_))) => return Ok(()),
                Some(Ok(Message::Close(Some(frame)))) => return Err(u16::from(frame.code)),
                Some(Ok(Message::Close(None))) => return Err(1005),
                Some(Ok(_)) => {}
                Some(Err(err)) => panic!("socket error before close: {err}"),
                None => panic!("stream ended without a close frame"),
            }
        }
    }

    /// Asserts that no text, binary or close frame arrives for `duration`
    /// (pings are answered and ignored).
    pub async fn expect_silence(&mut self, duration: Duration) {
        let deadline = tokio::time::Instant::now() + duration;
        while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
                panic!("expected silence, got {message:?}");
            }
        }
    }

    /// Drops the TCP connection at once, with no close frame and a reset
    /// (`SO_LINGER` 0): a phone that loses its network, a killed tab.
    pub fn cut(self) {
        if let MaybeTlsStream::Plain(tcp) = self.ws.get_ref() {
            // Deprecated because a non-zero linger blocks the dropping
            // thread; a zero linger does not: the kernel sends a reset.
            #[allow(deprecated)]
            let _ = tcp.set_linger(Some(Duration::ZERO));
        }
        drop(self);
    }

    /// Closes the socket from the client side.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }

    /// Closes the socket from the client side with `code` (1001: the page
    /// went away, as a browser says when a page unloads).
    pub async fn close_with(mut self, code: u16) {
        let frame = tungstenite::protocol::CloseFrame {
            code: code.into(),
            reason: "".into(),
        };
        let _ = self.ws.close(Some(frame)).await;
    }
}
