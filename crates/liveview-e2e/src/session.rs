//! A protocol-version-2 client that keeps its page session across sockets
//! the way the browser client does: it counts the frames it receives,
//! remembers the events not yet answered, and on a new socket presents its
//! token and count, then re-sends the events the server has not received.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use liveview::protocol::{ServerMessage, SessionInfo};

use crate::ws::{Client, PATIENCE};

/// A page's session as its client sees it.
pub struct SessionClient {
    addr: SocketAddr,
    room: String,
    socket: Option<Client>,
    /// The token of the last session frame.
    pub token: String,
    /// Frames of the session received so far.
    pub seen: u64,
    next_ref: u64,
    /// Events sent and not answered yet, by ref (their text, to re-send).
    unanswered: BTreeMap<u64, String>,
}

impl SessionClient {
    /// Opens a version-2 socket to `room` and reads its session frame.
    pub async fn connect(addr: SocketAddr, room: &str) -> SessionClient {
        let url = format!("ws://{addr}/ws/liveview/{room}/?v=2");
        let mut socket = Client::connect(&url, None).await.expect("connect");
        let info = session_frame(&mut socket).await;
        assert!(!info.resumed, "a new socket starts a session: {info:?}");
        SessionClient {
            addr,
            room: room.to_owned(),
            socket: Some(socket),
            token: info.token,
            seen: 0,
            next_ref: 0,
            unanswered: BTreeMap::new(),
        }
    }

    fn socket(&mut self) -> &mut Client {
        self.socket
            .as_mut()
            .expect("no socket: call resume() first")
    }

    /// Sends an event; returns its ref. It counts as unanswered until a
    /// frame with its ref arrives.
    pub async fn event(&mut self, function: &str, data: serde_json::Value) -> u64 {
        self.next_ref += 1;
        let reference = self.next_ref;
        let text = serde_json::json!({
            "function": function, "data": data, "form": {}, "ref": reference,
        })
        .to_string();
        self.unanswered.insert(reference, text.clone());
        if let Some(socket) = self.socket.as_mut() {
            // A socket the server is closing: the event waits, unanswered,
            // for the next one.
            let _ = socket.try_send_text(text).await;
        }
        reference
    }

    /// The next frame of the session (counted; an answer settles its event).
    pub async fn recv(&mut self) -> ServerMessage {
        match self.recv_or_close().await {
            Ok(frame) => frame,
            Err(code) => panic!("the server closed the socket ({code})"),
        }
    }

    /// As [`recv`](Self::recv), or the close code when the server closes
    /// the socket (which is then dropped: [`resume`](Self::resume) opens
    /// another).
    pub async fn recv_or_close(&mut self) -> Result<ServerMessage, u16> {
        let text = match self.socket().recv_text_or_close().await {
            Ok(text) => text,
            Err(code) => {
                self.socket = None;
                return Err(code);
            }
        };
        let frame = ServerMessage::from_json(&text)
            .unwrap_or_else(|err| panic!("bad frame ({err}): {text}"));
        assert!(
            frame.session.is_none(),
            "a session frame mid-stream: {text}"
        );
        self.seen += 1;
        if let Some(reference) = frame.reference {
            self.unanswered.remove(&reference);
        }
        Ok(frame)
    }

    /// Whether it has a socket (none after a close or a cut).
    pub fn is_connected(&self) -> bool {
        self.socket.is_some()
    }

    /// Refs of the events not answered yet.
    pub fn unanswered(&self) -> Vec<u64> {
        self.unanswered.keys().copied().collect()
    }

    /// Drops the socket abruptly (a reset, no close frame); the session
    /// lives on in this client.
    pub fn cut(&mut self) {
        if let Some(socket) = self.socket.take() {
            socket.cut();
        }
    }

    /// Opens a new socket and asks for the session; when resumed, re-sends
    /// the unanswered events the server has not received. Returns the
    /// server's session frame. Refused, the client starts over (count 0,
    /// nothing unanswered: a fresh session).
    pub async fn resume(&mut self) -> SessionInfo {
        self.cut();
        let url = format!("ws://{}/ws/liveview/{}/?v=2&resume=1", self.addr, self.room);
        let mut socket = Client::connect(&url, None).await.expect("connect");
        let request = serde_json::json!({"resume": {"token": self.token, "seen": self.seen}});
        socket.send_text(request.to_string()).await;
        let info = session_frame(&mut socket).await;
        self.token.clone_from(&info.token);
        if info.resumed {
            for (_, text) in self.unanswered.range(info.received + 1..) {
                socket.send_text(text.clone()).await;
            }
        } else {
            self.seen = 0;
            self.unanswered.clear();
        }
        self.socket = Some(socket);
        info
    }

    /// Takes the socket away from the session without closing it (the
    /// server sees nothing: as when a node stops answering); hold it for as
    /// long as the server must not notice.
    pub fn abandon_socket(&mut self) -> Option<Client> {
        self.socket.take()
    }

    /// Resumes on another server (a node, or the process that replaced
    /// this one): as [`resume`](Self::resume), at `addr`.
    pub async fn resume_at(&mut self, addr: SocketAddr) -> SessionInfo {
        self.addr = addr;
        self.resume().await
    }

    /// The underlying socket, for raw frames.
    pub fn raw(&mut self) -> &mut Client {
        self.socket()
    }
}

async fn session_frame(socket: &mut Client) -> SessionInfo {
    // A server that resumes many sessions at once may take longer than
    // one frame's patience.
    let text = tokio::time::timeout(6 * PATIENCE, socket.recv_text_patiently())
        .await
        .expect("timed out waiting for the session frame");
    ServerMessage::from_json(&text)
        .ok()
        .and_then(|frame| frame.session)
        .unwrap_or_else(|| panic!("expected a session frame, got {text}"))
}
