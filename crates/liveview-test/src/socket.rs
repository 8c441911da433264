//! The page's WebSocket: a reader and a writer task, so that the page can
//! send and take what arrived without blocking.

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::error::TestError;

/// What the server sent.
#[derive(Debug)]
pub(crate) enum Incoming {
    Text(String),
    Closed { code: u16, reason: String },
}

/// An open socket.
#[derive(Debug)]
pub(crate) struct Socket {
    pub(crate) url: String,
    tx: mpsc::UnboundedSender<Message>,
    rx: mpsc::UnboundedReceiver<Incoming>,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for Socket {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn header(url: &str, value: &str) -> Result<HeaderValue, TestError> {
    HeaderValue::from_str(value).map_err(|err| TestError::socket(url, err))
}

impl Socket {
    /// Connects to `path` (with query) on `addr`, as the page at `addr` would.
    pub(crate) async fn connect(
        addr: SocketAddr,
        path: &str,
        cookie: Option<String>,
    ) -> Result<Socket, TestError> {
        let url = format!("ws://{addr}{path}");
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|err| TestError::socket(&url, err))?;
        let headers = request.headers_mut();
        headers.insert("origin", header(&url, &format!("http://{addr}"))?);
        if let Some(cookie) = cookie {
            headers.insert("cookie", header(&url, &cookie)?);
        }
        let (stream, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|err| TestError::socket(&url, err))?;
        let (mut sink, mut stream) = stream.split();
        let (tx, mut outgoing) = mpsc::unbounded_channel::<Message>();
        let (incoming, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(async move {
            while let Some(message) = outgoing.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let reader = tokio::spawn(async move {
            while let Some(message) = stream.next().await {
                let forwarded = match message {
                    Ok(Message::Text(text)) => {
                        incoming.send(Incoming::Text(text.as_str().to_owned()))
                    }
                    Ok(Message::Close(frame)) => {
                        let (code, reason) = frame.map_or((1005, String::new()), |frame| {
                            (u16::from(frame.code), frame.reason.as_str().to_owned())
                        });
                        let _ = incoming.send(Incoming::Closed { code, reason });
                        return;
                    }
                    Ok(_) => Ok(()),
                    Err(err) => {
                        let _ = incoming.send(Incoming::Closed {
                            code: 1006,
                            reason: err.to_string(),
                        });
                        return;
                    }
                };
                if forwarded.is_err() {
                    return;
                }
            }
            let _ = incoming.send(Incoming::Closed {
                code: 1006,
                reason: "connection closed".into(),
            });
        });
        Ok(Socket {
            url,
            tx,
            rx,
            tasks: [reader, writer],
        })
    }

    pub(crate) fn send_text(&self, text: String) -> Result<(), TestError> {
        self.tx
            .send(Message::Text(text.into()))
            .map_err(|_| TestError::socket(&self.url, "the socket is closed"))
    }

    pub(crate) fn send_binary(&self, data: Vec<u8>) -> Result<(), TestError> {
        self.tx
            .send(Message::Binary(data.into()))
            .map_err(|_| TestError::socket(&self.url, "the socket is closed"))
    }

    /// What has arrived, without waiting.
    pub(crate) fn try_next(&mut self) -> Option<Incoming> {
        self.rx.try_recv().ok()
    }

    /// The next thing to arrive before `deadline`; `None` on time out.
    pub(crate) async fn next(&mut self, deadline: Instant) -> Option<Incoming> {
        match tokio::time::timeout_at(deadline, self.rx.recv()).await {
            Ok(Some(incoming)) => Some(incoming),
            Ok(None) => Some(Incoming::Closed {
                code: 1006,
                reason: "connection closed".into(),
            }),
            Err(_) => None,
        }
    }

    /// Closes the socket (code 1000).
    pub(crate) fn close(&self) {
        let _ = self.tx.send(Message::Close(None));
    }
}
