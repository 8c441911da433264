//! A TCP proxy on a loopback port, between a client (a browser, a Redis
//! client) and a server, for tests that break the network: cut every open
//! connection at once (no close frame, no goodbye), refuse new ones for a
//! while, lose the answers on the open ones, forward to another port, or
//! refuse WebSocket upgrades as some corporate proxies do.
//!
//! ```no_run
//! # async fn example(server_port: u16) {
//! use liveview_e2e::proxy::TcpProxy;
//!
//! let proxy = TcpProxy::start(server_port).await;
//! // Point the client at `proxy.port()`; later:
//! proxy.refuse(true); // new connections fail
//! proxy.cut(); // the open ones drop
//! proxy.refuse(false); // the client may come back
//! proxy.refuse_upgrades(true); // plain HTTP only from now on
//! # }
//! ```

mod upgrades;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

/// A loopback TCP proxy whose connections a test can break.
pub struct TcpProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

struct Shared {
    /// The port connections are forwarded to.
    target: AtomicU16,
    /// While true, a new connection is closed as soon as it is accepted.
    refusing: AtomicBool,
    /// What becomes of a new connection's first request when it asks for a
    /// WebSocket: [`PASS`], [`REFUSE`] or [`STALL`].
    upgrades: AtomicU8,
    /// How many upgrade requests were refused or stalled.
    refused_upgrades: AtomicU64,
    /// Connections numbered below this one lose their answers.
    mute_below: AtomicU64,
    /// The number the next connection gets.
    next: AtomicU64,
    /// The copying tasks of the open connections.
    links: Mutex<Vec<AbortHandle>>,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:{target}`.
    pub async fn start(target: u16) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            target: AtomicU16::new(target),
            refusing: AtomicBool::new(false),
            upgrades: AtomicU8::new(PASS),
            refused_upgrades: AtomicU64::new(0),
            mute_below: AtomicU64::new(0),
            next: AtomicU64::new(0),
            links: Mutex::default(),
        });
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        TcpProxy {
            addr,
            shared,
            accept,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every open connection, both ways, without a word: the client
    /// sees its connection end (a WebSocket closes with 1006), and so does
    /// the server. New connections still work (see [`refuse`](Self::refuse)).
    pub fn cut(&self) {
        let links = std::mem::take(&mut *self.shared.links.lock().unwrap());
        for link in links {
            link.abort();
        }
    }

    /// While `on`, new connections are accepted and closed at once (the
    /// client cannot connect); the open ones are left alone.
    pub fn refuse(&self, on: bool) {
        self.shared.refusing.store(on, Ordering::SeqCst);
    }

    /// While `on`, WebSocket upgrades do not get through: the first request
    /// of each new connection (a browser opens every WebSocket on a
    /// connection of its own) is forwarded without its `Connection` and
    /// `Upgrade` headers when it asks for a WebSocket, so the server
    /// answers it as a plain request, with an error; plain HTTP passes.
    /// Open connections are left alone.
    pub fn refuse_upgrades(&self, on: bool) {
        let policy = if on { REFUSE } else { PASS };
        self.shared.upgrades.store(policy, Ordering::SeqCst);
    }

    /// While `on`, WebSocket upgrades hang: the first request of a new
    /// connection that asks for one is never forwarded nor answered (as
    /// behind a proxy or an antivirus that holds it), until the connection
    /// is [`cut`](Self::cut) or the client gives up. Plain HTTP passes.
    pub fn stall_upgrades(&self, on: bool) {
        let policy = if on { STALL } else { PASS };
        self.shared.upgrades.store(policy, Ordering::SeqCst);
    }

    /// How many upgrade requests [`refuse_upgrades`](Self::refuse_upgrades)
    /// and [`stall_upgrades`](Self::stall_upgrades) have stopped so far.
    pub fn refused_upgrades(&self) -> u64 {
        self.shared.refused_upgrades.load(Ordering::SeqCst)
    }

    /// Forwards new connections to `127.0.0.1:{target}` from now on.
    pub fn retarget(&self, target: u16) {
        self.shared.target.store(target, Ordering::SeqCst);
    }

    /// From now on, the connections open now lose every answer: the server
    /// still gets what they send, their client never hears back (a reply
    /// lost on the network, a connection broken one way). Connections
    /// opened later work.
    pub fn lose_answers(&self) {
        let next = self.shared.next.load(Ordering::SeqCst);
        self.shared.mute_below.store(next, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// Upgrade requests pass unchanged.
const PASS: u8 = 0;
/// Upgrade requests lose their `Connection` and `Upgrade` headers.
const REFUSE: u8 = 1;
/// Upgrade requests are held, never answered.
const STALL: u8 = 2;

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((client, _)) = listener.accept().await {
        if shared.refusing.load(Ordering::SeqCst) {
            drop(client);
            continue;
        }
        let id = shared.next.fetch_add(1, Ordering::SeqCst);
        // A task per connection: reading a first request must not hold up
        // the next accept. Aborting it drops both of its sockets.
        let link = tokio::spawn(forward(client, id, Arc::clone(&shared)));
        let mut links = shared.links.lock().unwrap();
        links.retain(|link| !link.is_finished());
        links.push(link.abort_handle());
    }
}

async fn forward(client: TcpStream, id: u64, shared: Arc<Shared>) {
    let (mut client_read, mut client_write) = client.into_split();
    let policy = shared.upgrades.load(Ordering::SeqCst);
    let first = if policy == PASS {
        Vec::new()
    } else {
        let (bytes, refused) = upgrades::first_request(&mut client_read).await;
        if refused {
            shared.refused_upgrades.fetch_add(1, Ordering::SeqCst);
            if policy == STALL {
                // Held, with both ends open, until cut or dropped.
                let _held = (client_read, client_write);
                return std::future::pending().await;
            }
        }
        bytes
    };
    let target = shared.target.load(Ordering::SeqCst);
    let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else {
        return; // the client sees its connection close
    };
    let _ = client_write.as_ref().set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut server_read, mut server_write) = server.into_split();
    let up = async move {
        if server_write.write_all(&first).await.is_ok() {
            let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if id < shared.mute_below.load(Ordering::SeqCst) {
                continue; // the answer is lost
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::join!(up, down);
}
