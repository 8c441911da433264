//! A real `redis-server` on a free loopback port, killed on drop.
//!
//! Tests that use it fail (never skip) when `redis-server` is missing:
//! `scripts/test.sh` installs Debian's package.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// A `redis-server` child process on a free loopback port.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts `redis-server` without persistence on a free port and waits
    /// until it answers PING.
    pub fn start() -> RedisServer {
        let mut server = RedisServer {
            port: free_port(),
            child: None,
        };
        for _attempt in 0..4 {
            match server.spawn() {
                Ok(()) => return server,
                Err(why) => {
                    eprintln!("{why}; starting it again on another port");
                    server.kill();
                    server.port = free_port();
                }
            }
        }
        panic!("redis-server would not start (4 tries on free loopback ports)");
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:{port}/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts `redis-server` on `self.port` and waits until it answers:
    /// an error when it exits first, or when another process answers there.
    fn spawn(&mut self) -> Result<(), String> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot start redis-server ({err}): the Redis tests need Debian's \
                     redis-server; run ./scripts/test.sh, which installs it, or \
                     `apt-get install redis-server`"
                )
            });
        let pid = child.id();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.ping() {
                // The one that answers must be ours, not another test's.
                let info = self.command("INFO server\r\n").unwrap_or_default();
                if info.contains(&format!("process_id:{pid}\r\n")) {
                    return Ok(());
                }
                return Err(format!(
                    "another redis-server answers on port {} (not process {pid})",
                    self.port
                ));
            }
            if let Some(child) = &mut self.child {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "redis-server exited at start ({status}) on port {}",
                        self.port
                    ));
                }
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING on port {} within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True when the server answers PING.
    pub fn ping(&self) -> bool {
        self.command("PING\r\n")
            .is_some_and(|r| r.starts_with("+PONG"))
    }

    /// Sends one inline command and returns the first reply chunk.
    pub fn command(&self, line: &str) -> Option<String> {
        let mut stream =
            TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), Duration::from_secs(1))
                .ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        stream.write_all(line.as_bytes()).ok()?;
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// The number of subscribers of a channel (`PUBSUB NUMSUB`).
    pub fn subscribers(&self, channel: &str) -> u64 {
        let reply = self
            .command(&format!("PUBSUB NUMSUB {channel}\r\n"))
            .expect("PUBSUB NUMSUB");
        // *2\r\n$len\r\nchannel\r\n:N\r\n
        reply
            .lines()
            .find_map(|line| line.strip_prefix(':'))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected PUBSUB reply {reply:?}"))
    }

    /// Kills the server (SIGKILL: no goodbye, data lost).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (SIGSTOP): it keeps its connections and data, the
    /// kernel still accepts bytes on its sockets, but nothing is answered
    /// until [`thaw`](Self::thaw). What a hung or overloaded Redis looks
    /// like to its clients.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Resumes a frozen server (SIGCONT): it then runs, in order, every
    /// command its clients sent while it was frozen.
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("redis-server is running").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid} failed: {status}");
    }

    /// Starts a new, empty server on the same port.
    pub fn restart(&mut self) {
        self.kill();
        if let Err(why) = self.spawn() {
            panic!("cannot restart redis-server: {why}");
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `condition` every 10 ms until it holds, for at most `limit`.
pub async fn wait_until(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A TCP proxy in front of a Redis (a [`TcpProxy`](crate::proxy::TcpProxy))
/// that can lose the answers on the connections open at a given moment:
/// Redis still runs what those connections send, their client never hears
/// back (a reply lost on the network, a connection broken one way).
/// Connections opened later work.
pub struct RedisProxy(crate::proxy::TcpProxy);

impl RedisProxy {
    /// Listens on a free loopback port and forwards to `redis`.
    pub async fn start(redis: &RedisServer) -> RedisProxy {
        RedisProxy(crate::proxy::TcpProxy::start(redis.port()).await)
    }

    /// `redis://127.0.0.1:{port}/`: the proxy's URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.0.port())
    }

    /// From now on, the connections open now lose every answer.
    pub fn lose_answers(&self) {
        self.0.lose_answers();
    }
}
