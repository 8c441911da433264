//! A real Redis Cluster on loopback: masters and replicas, each a
//! `redis-server` child process on a free port, joined by
//! `redis-cli --cluster create`; killed on drop.
//!
//! Tests that use it fail (never skip) when `redis-server` or `redis-cli`
//! is missing (Debian's `redis-server` package has both).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// How long a master may be silent before the others fail it over, in ms:
/// short, so that a test's fail-over takes a second or two.
pub const NODE_TIMEOUT_MS: u64 = 1000;

/// One `redis-server` of the cluster.
struct Node {
    port: u16,
    child: Option<Child>,
}

/// A Redis Cluster of `masters` masters with `replicas` replicas each.
pub struct RedisCluster {
    nodes: Vec<Node>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts 3 masters with one replica each, and waits until the
    /// cluster is up (every slot served).
    pub fn start() -> RedisCluster {
        RedisCluster::start_with(3, 1)
    }

    /// Starts `masters` masters (at least 3) with `replicas` replicas each.
    pub fn start_with(masters: usize, replicas: usize) -> RedisCluster {
        let dir = std::env::temp_dir().join(format!(
            "liveview-cluster-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("create the cluster's directory");
        let mut cluster = RedisCluster {
            nodes: Vec::new(),
            dir,
        };
        for _ in 0..masters * (1 + replicas) {
            let port = free_port();
            let child = cluster.spawn(port);
            cluster.nodes.push(Node {
                port,
                child: Some(child),
            });
        }
        for index in 0..cluster.nodes.len() {
            cluster.wait_up(index);
        }
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for node in &cluster.nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        let output = create
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot run redis-cli ({err}): the Redis Cluster tests need Debian's \
                     redis-server package (redis-server and redis-cli)"
                )
            });
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        cluster.wait_ok(Duration::from_secs(20));
        // Every replica in sync with its master, so that it can take over.
        let replicas: Vec<u16> = cluster
            .nodes
            .iter()
            .map(|n| n.port)
            .filter(|port| !cluster.masters().contains(port))
            .collect();
        for port in replicas {
            wait_for(Duration::from_secs(20), "a replica is in sync", || {
                command(port, "INFO replication")
                    .is_some_and(|i| i.contains("master_link_status:up"))
            });
        }
        cluster
    }

    /// Waits until node `index` answers PING. A node that exits first
    /// (another test took its port, or its bus port, between the pick and
    /// its bind: ports are picked free, then given to redis-server) starts
    /// again on new ports, a few times.
    fn wait_up(&mut self, index: usize) {
        for _attempt in 0..4 {
            let port = self.nodes[index].port;
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if command(port, "PING").is_some_and(|r| r.starts_with("+PONG")) {
                    return;
                }
                let exited = self.nodes[index]
                    .child
                    .as_mut()
                    .is_some_and(|child| child.try_wait().ok().flatten().is_some());
                if exited {
                    eprintln!(
                        "redis-server on port {port} exited before answering; starting it again on other ports"
                    );
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "timed out after 10s waiting until redis-server on port {port} answers PING"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            let port = free_port();
            let child = self.spawn(port);
            self.nodes[index] = Node {
                port,
                child: Some(child),
            };
        }
        panic!("redis-server would not start (4 tries on free loopback ports)");
    }

    fn spawn(&self, port: u16) -> Child {
        Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                // Its own free port for the cluster bus: the default, the
                // port + 10,000, may be taken or past 65,535 (redis-server
                // then does not start).
                "--cluster-port",
                &free_port().to_string(),
                "--cluster-config-file",
                &self
                    .dir
                    .join(format!("nodes-{port}.conf"))
                    .to_string_lossy(),
                "--cluster-node-timeout",
                &NODE_TIMEOUT_MS.to_string(),
                // A replica takes over however long ago it heard its master.
                "--cluster-replica-validity-factor",
                "0",
                "--dir",
                &self.dir.to_string_lossy(),
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
                    "cannot start redis-server ({err}): the Redis Cluster tests need Debian's \
                     redis-server package (`apt-get install redis-server`)"
                )
            })
    }

    /// `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,...` (every node).
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", hosts.join(","))
    }

    /// `redis://127.0.0.1:{port}` of every node.
    pub fn node_urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("redis://127.0.0.1:{}", n.port))
            .collect()
    }

    /// The ports of the live masters, as the cluster sees them now.
    pub fn masters(&self) -> Vec<u16> {
        let Some(nodes) = self.alive().find_map(|port| command(port, "CLUSTER NODES")) else {
            return Vec::new();
        };
        nodes
            .lines()
            .filter(|line| line.contains("master") && !line.contains("fail"))
            .filter_map(|line| {
                let addr = line.split(' ').nth(1)?;
                let port = addr.split('@').next()?.rsplit(':').next()?;
                port.parse().ok()
            })
            .collect()
    }

    /// The port of the master that serves `slot` now.
    pub fn master_of(&self, slot: u16) -> Option<u16> {
        let reply = self
            .alive()
            .find_map(|port| command(port, "CLUSTER SLOTS"))?;
        // Each range: *N, :start, :end, then the master's [ip, port, id].
        let lines: Vec<&str> = reply.lines().collect();
        let mut i = 0;
        while i + 6 < lines.len() {
            if let (Some(start), Some(end)) = (
                lines[i]
                    .strip_prefix(':')
                    .and_then(|n| n.parse::<u16>().ok()),
                lines[i + 1]
                    .strip_prefix(':')
                    .and_then(|n| n.parse::<u16>().ok()),
            ) {
                if (start..=end).contains(&slot) {
                    return lines[i + 2..]
                        .iter()
                        .find_map(|l| l.strip_prefix(':').and_then(|n| n.parse().ok()));
                }
                i += 2;
            } else {
                i += 1;
            }
        }
        None
    }

    fn alive(&self) -> impl Iterator<Item = u16> + '_ {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| n.port)
    }

    /// Kills (SIGKILL) the node on `port`: no goodbye, what it had not
    /// replicated yet is lost.
    pub fn kill(&mut self, port: u16) {
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.port == port)
            .expect("a node of this cluster");
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits until every live node says `cluster_state:ok` and every slot
    /// has a live master: after a kill, until a replica took over.
    pub fn wait_ok(&self, limit: Duration) {
        let state = || {
            self.alive()
                .map(|port| {
                    format!(
                        "{port}: {}\n{}",
                        command(port, "CLUSTER INFO").unwrap_or_default(),
                        command(port, "CLUSTER NODES").unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let what = || format!("the cluster is ok; now:\n{}", state());
        wait_for_with(limit, what, || {
            self.alive().all(|port| {
                command(port, "CLUSTER INFO").is_some_and(|info| {
                    info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384")
                })
            }) && self
                .masters()
                .iter()
                .all(|port| self.alive().any(|p| p == *port))
        });
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sends one inline command to the node on `port` and reads its reply
/// (until the socket is quiet for a moment).
pub fn command(port: u16, line: &str) -> Option<String> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    stream.write_all(format!("{line}\r\n").as_bytes()).ok()?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let read = stream.read(&mut buf);
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .ok()?;
        match read {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            Err(_) if !reply.is_empty() => break,
            Err(_) => return None,
        }
    }
    Some(String::from_utf8_lossy(&reply).into_owned())
}

fn wait_for(limit: Duration, what: &str, condition: impl FnMut() -> bool) {
    wait_for_with(limit, || what.to_owned(), condition);
}

fn wait_for_with(limit: Duration, what: impl Fn() -> String, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting until {}",
            what()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
