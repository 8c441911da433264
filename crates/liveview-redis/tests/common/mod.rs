//! A real server on a free loopback port, and a real WebSocket client.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use liveview::protocol::ServerMessage;
use liveview::{LiveView, LiveViewBuilder};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a frame that should come.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub struct TestServer {
    pub addr: SocketAddr,
    pub lv: LiveView,
}

impl TestServer {
    /// Builds the LiveView (without `#[handler]` functions unless the
    /// builder says otherwise) and serves it on 127.0.0.1:0.
    pub async fn start(builder: LiveViewBuilder) -> TestServer {
        let lv = builder.build().expect("build");
        let app: axum::Router = axum::Router::new().merge(lv.router());
        let addr = liveview_e2e::serve(app).await;
        TestServer { addr, lv }
    }

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
        liveview_e2e::http_get(self.addr, path).await
    }

    /// Waits until the server counts `n` connections.
    pub async fn wait_connections(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while self.lv.connection_count() != n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "server has {} connections, expected {n}",
                self.lv.connection_count()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_ref: u64,
}

impl Client {
    pub async fn connect(url: &str, origin: Option<&str>) -> Result<Client, tungstenite::Error> {
        let mut request = url.into_client_request()?;
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", HeaderValue::from_str(origin).unwrap());
        }
        Self::connect_request(request).await
    }

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
        let mut frame = Vec::with_capacity(12 + data.len());
        frame.extend_from_slice(&id.to_be_bytes());
        frame.extend_from_slice(&offset.to_be_bytes());
        frame.extend_from_slice(data);
        self.send_binary(frame).await;
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

    /// Asserts that nothing arrives for `duration`.
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

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
