//! A real `redis-server` on a free loopback port, killed on drop (adapted
//! from `crates/liveview/tests/redis_fixture`).
//!
//! Tests that use it fail, never skip, when `redis-server` is missing:
//! `scripts/test.sh` installs Debian's package.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    port: u16,
    child: Child,
}

impl RedisServer {
    /// Starts `redis-server` without persistence on a free port and waits
    /// until it answers PING.
    pub fn start() -> RedisServer {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
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
                    "cannot start redis-server ({err}): the demo's cross-node tests need \
                     Debian's redis-server; run ./scripts/test.sh, which installs it, or \
                     `apt-get install redis-server`"
                )
            });
        let mut server = RedisServer { port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !server.ping() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("redis-server exited at start ({status}) on port {port}");
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING on port {port} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// True when the server answers PING.
    pub fn ping(&self) -> bool {
        let Ok(mut stream) =
            TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), Duration::from_secs(1))
        else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut buf = [0u8; 64];
        stream.write_all(b"PING\r\n").is_ok()
            && stream
                .read(&mut buf)
                .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}
