//! A long-poll client that speaks the transport's wire (docs/protocol.md,
//! "Long-poll transport") over plain HTTP/1.1, one connection per request:
//! open a virtual socket, hold `GET`s for its frames, `POST` frames to it.

use std::collections::VecDeque;
use std::net::SocketAddr;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::ws::PATIENCE;

/// An HTTP answer: its status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body, as text.
    pub body: String,
}

/// Sends one HTTP/1.1 request on its own connection (`Connection: close`)
/// and reads the whole answer. `headers` are added as given.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("send");
    stream.write_all(body).await.expect("send the body");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .expect("read the answer");
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        body: body.to_owned(),
    }
}

/// One virtual socket, as a client holds it.
pub struct PollClient {
    addr: SocketAddr,
    room: String,
    /// The id the server gave it.
    pub id: String,
    /// Sent as `Origin` with every request, when set.
    pub origin: Option<String>,
    /// Frames received and not read yet.
    frames: VecDeque<Value>,
    /// The close the server sent: code and reason.
    pub closed: Option<(u16, String)>,
}

impl PollClient {
    /// Opens a virtual socket in `room` (`POST .../poll?v=2`), with a resume
    /// frame as its body when given (`&resume=1`).
    ///
    /// # Errors
    /// The answer, when it is not `200`.
    pub async fn open(
        addr: SocketAddr,
        room: &str,
        resume: Option<&str>,
        origin: Option<&str>,
    ) -> Result<PollClient, Answer> {
        let path = match resume {
            Some(_) => format!("/ws/liveview/{room}/poll?v=2&resume=1"),
            None => format!("/ws/liveview/{room}/poll?v=2"),
        };
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(origin) = origin {
            headers.push(("Origin", origin));
        }
        let body = resume.unwrap_or("").as_bytes();
        let answer = request(addr, "POST", &path, &headers, body).await;
        if answer.status != 200 {
            return Err(answer);
        }
        let opened: Value = serde_json::from_str(&answer.body).expect("JSON answer");
        let id = opened["poll"].as_str().expect("a poll id").to_owned();
        Ok(PollClient {
            addr,
            room: room.to_owned(),
            id,
            origin: origin.map(str::to_owned),
            frames: VecDeque::new(),
            closed: None,
        })
    }

    fn path(&self, query: &str) -> String {
        format!("/ws/liveview/{}/poll/{}{query}", self.room, self.id)
    }

    fn headers<'a>(&'a self, content_type: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut headers = vec![("Content-Type", content_type)];
        if let Some(origin) = &self.origin {
            headers.push(("Origin", origin));
        }
        headers
    }

    /// One `GET`, as it comes back (held by the server).
    pub async fn get(&self) -> Answer {
        let headers = self.headers("application/json");
        request(self.addr, "GET", &self.path(""), &headers, b"").await
    }

    /// Client text frames in one `POST`; returns the status.
    pub async fn post(&self, frames: &[Value]) -> u16 {
        let body = Value::Array(frames.to_vec()).to_string();
        self.post_raw("application/json", body.as_bytes()).await
    }

    /// A `POST` with this body and content type; returns the status.
    pub async fn post_raw(&self, content_type: &str, body: &[u8]) -> u16 {
        let headers = self.headers(content_type);
        request(self.addr, "POST", &self.path(""), &headers, body)
            .await
            .status
    }

    /// Closes it with `code` (`POST ...?close=CODE`); returns the status.
    pub async fn close(&self, code: u16) -> u16 {
        let headers = self.headers("text/plain");
        let path = self.path(&format!("?close={code}"));
        request(self.addr, "POST", &path, &headers, b"")
            .await
            .status
    }

    /// The next frame the server sent, holding `GET`s until one comes;
    /// fails the test after `PATIENCE`, on an answer other than `200`, or
    /// when the socket was closed (see [`recv_close`](Self::recv_close)).
    pub async fn recv(&mut self) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(frame) = self.frames.pop_front() {
                return frame;
            }
            assert!(self.closed.is_none(), "closed: {:?}", self.closed);
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for a frame"
            );
            self.poll_once().await;
        }
    }

    /// Holds `GET`s until the server closes the socket; returns the code.
    pub async fn recv_close(&mut self) -> u16 {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            self.frames.clear();
            if let Some((code, _)) = &self.closed {
                return *code;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for the close"
            );
            self.poll_once().await;
        }
    }

    /// One `GET`: its frames are queued, its close kept; returns how many
    /// frames it brought.
    pub async fn poll_once(&mut self) -> usize {
        let answer = self.get().await;
        assert_eq!(answer.status, 200, "GET answered {answer:?}");
        let body: Value = serde_json::from_str(&answer.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", answer.body));
        let frames = body["frames"].as_array().expect("frames").clone();
        let count = frames.len();
        self.frames.extend(frames);
        if let Some(close) = body.get("close") {
            let code = close["code"].as_u64().expect("a close code") as u16;
            let reason = close["reason"].as_str().unwrap_or("").to_owned();
            self.closed = Some((code, reason));
        }
        count
    }
}
