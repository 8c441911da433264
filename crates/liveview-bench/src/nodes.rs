//! `--nodes K`: K bench servers sharing one Redis (one the tool starts on a
//! free loopback port, or one given with `--redis`), and the counters read
//! around a measurement: each node's layer (`GET /layer-stats`) and Redis
//! (`INFO cpu`, `INFO commandstats`).

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::BoxError;
use crate::cli::{Common, NodesArgs};
use crate::server::Server;
use crate::target;

/// How long Redis may take to answer at start, and each counter read.
const REDIS_TIMEOUT: Duration = Duration::from_secs(10);

/// K bench servers and their Redis.
pub(crate) struct Nodes {
    pub(crate) servers: Vec<Server>,
    /// The URL the servers were given.
    pub(crate) redis_url: String,
    /// Every Redis process to read counters from (a cluster's listed nodes).
    redis_addrs: Vec<SocketAddr>,
    /// The redis-server the tool started, if it did.
    redis_child: Option<Child>,
}

/// Redis's counters at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RedisCounters {
    /// CPU seconds (user + system) of every Redis process.
    pub(crate) cpu_s: f64,
    /// `PUBLISH` and `SPUBLISH` calls (inside scripts too).
    pub(crate) publishes: u64,
}

impl Nodes {
    /// Starts Redis (unless given) and `args.nodes` bench servers on it.
    pub(crate) async fn start(args: &NodesArgs, common: &Common) -> Result<Nodes, BoxError> {
        let (redis_url, redis_addrs, redis_child) = match &args.redis {
            Some(url) => (url.clone(), redis_addrs(url)?, None),
            None => {
                let (addr, child) = start_redis().await?;
                (format!("redis://{addr}/"), vec![addr], Some(child))
            }
        };
        let mut servers = Vec::with_capacity(usize::from(args.nodes));
        for _ in 0..args.nodes {
            servers.push(Server::start_node(common, &redis_url).await?);
        }
        Ok(Nodes {
            servers,
            redis_url,
            redis_addrs,
            redis_child,
        })
    }

    /// Stops the servers, then the Redis the tool started.
    pub(crate) async fn stop(mut self) {
        for server in self.servers.drain(..) {
            server.stop().await;
        }
        if let Some(mut child) = self.redis_child.take() {
            let _ = child.kill().await;
        }
    }

    /// Redis's CPU time and publish calls now.
    pub(crate) async fn redis_counters(&self) -> Result<RedisCounters, BoxError> {
        let mut total = RedisCounters::default();
        for addr in &self.redis_addrs {
            let cpu = redis_info(*addr, "cpu").await?;
            let stats = redis_info(*addr, "commandstats").await?;
            total.cpu_s += info_f64(&cpu, "used_cpu_user") + info_f64(&cpu, "used_cpu_sys");
            total.publishes += calls(&stats, "cmdstat_publish") + calls(&stats, "cmdstat_spublish");
        }
        Ok(total)
    }

    /// How many messages each node's layer received from Redis so far.
    pub(crate) async fn received(&self) -> Result<Vec<u64>, BoxError> {
        let mut out = Vec::with_capacity(self.servers.len());
        for server in &self.servers {
            out.push(layer_received(server.addr).await?);
        }
        Ok(out)
    }
}

/// The Redis processes of a `redis://` or `redis+cluster://` URL (loopback
/// only).
fn redis_addrs(url: &str) -> Result<Vec<SocketAddr>, BoxError> {
    let hosts = url
        .strip_prefix("redis+cluster://")
        .or_else(|| url.strip_prefix("redis://"))
        .ok_or_else(|| format!("{url:?}: not a redis:// or redis+cluster:// URL"))?;
    let hosts = hosts.split('/').next().unwrap_or_default();
    let hosts = hosts.rsplit('@').next().unwrap_or_default();
    hosts
        .split(',')
        .map(|host| {
            let addr = target::parse_loopback_url(&format!("http://{host}"))?;
            Ok(addr)
        })
        .collect()
}

/// Starts `redis-server` without persistence on a free loopback port.
///
/// The port is picked below the kernel's ephemeral range (which every
/// `bind(0)` and outgoing connection draws from, the bench servers' among
/// them), and the server that answers must report the child's own process
/// id; a child that exits at start, or finds its port taken, is started
/// again on another port, a few times.
async fn start_redis() -> Result<(SocketAddr, Child), BoxError> {
    let mut last_error = String::new();
    for _attempt in 0..4 {
        let port = port_below_ephemeral_range()?;
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .args(["--maxclients", "1000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start redis-server ({e}): install Debian's redis-server, or give --redis"
                )
            })?;
        let pid = child.id();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = tokio::time::Instant::now() + REDIS_TIMEOUT;
        last_error = loop {
            if let Ok(info) = redis_info(addr, "server").await {
                if pid.is_some_and(|pid| info.contains(&format!("process_id:{pid}\r\n"))) {
                    return Ok((addr, child));
                }
                break format!("another process answers on port {port}");
            }
            if let Ok(Some(status)) = child.try_wait() {
                break format!("redis-server exited at start ({status}) on port {port}");
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("redis-server on port {port} did not answer").into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let _ = child.kill().await;
    }
    Err(format!("redis-server would not start (4 tries): {last_error}").into())
}

/// A loopback port nobody listens on, picked at random below the kernel's
/// ephemeral range (`ip_local_port_range`, 32768 by default).
fn port_below_ephemeral_range() -> Result<u16, BoxError> {
    use std::hash::{BuildHasher, Hasher};
    let first_ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000u16, first_ephemeral.max(10_001));
    for _ in 0..200 {
        // A random number from the standard library's per-process keys.
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let port = low + (random % u64::from(high - low)) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `INFO section` of the Redis at `addr`.
async fn redis_info(addr: SocketAddr, section: &str) -> Result<String, BoxError> {
    let read = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream
            .write_all(format!("INFO {section}\r\n").as_bytes())
            .await?;
        let mut reader = BufReader::new(stream);
        let mut header = String::new();
        reader.read_line(&mut header).await?;
        let len: usize = header
            .trim()
            .strip_prefix('$')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("unexpected INFO reply {header:?}"))?;
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).await?;
        Ok::<_, BoxError>(String::from_utf8_lossy(&body).into_owned())
    };
    tokio::time::timeout(REDIS_TIMEOUT, read)
        .await
        .map_err(|_| format!("INFO {section}: no answer from {addr}"))?
}

fn info_f64(info: &str, key: &str) -> f64 {
    info.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// `calls=N` of a `cmdstat_x:calls=N,usec=...` line.
fn calls(stats: &str, command: &str) -> u64 {
    stats
        .lines()
        .find_map(|line| line.strip_prefix(command)?.strip_prefix(":calls="))
        .and_then(|rest| rest.split(',').next()?.parse().ok())
        .unwrap_or(0)
}

/// `received` of a bench server's `GET /layer-stats`.
async fn layer_received(server: SocketAddr) -> Result<u64, BoxError> {
    let read = async {
        let mut stream = TcpStream::connect(server).await?;
        stream
            .write_all(
                format!("GET /layer-stats HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await?;
        let body = reply
            .split_once("\r\n\r\n")
            .map(|(_, body)| body)
            .ok_or("no body in the /layer-stats answer")?;
        let stats: serde_json::Value = serde_json::from_str(body)?;
        stats["received"]
            .as_u64()
            .ok_or_else(|| format!("no counter in /layer-stats: {body}").into())
    };
    tokio::time::timeout(REDIS_TIMEOUT, read)
        .await
        .map_err(|_| format!("/layer-stats: no answer from {server}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_redis_counters() {
        let stats = "# Commandstats\r\ncmdstat_publish:calls=12,usec=5,usec_per_call=0.4\r\ncmdstat_evalsha:calls=3,usec=1\r\n";
        assert_eq!(calls(stats, "cmdstat_publish"), 12);
        assert_eq!(calls(stats, "cmdstat_spublish"), 0);
        let cpu = "# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:0.250000\r\n";
        assert!(
            (info_f64(cpu, "used_cpu_sys") + info_f64(cpu, "used_cpu_user") - 1.75).abs() < 1e-9
        );
    }

    #[test]
    fn redis_urls_name_loopback_processes() {
        assert_eq!(
            redis_addrs("redis+cluster://127.0.0.1:7000,127.0.0.1:7001").unwrap_or_default(),
            vec![
                SocketAddr::from(([127, 0, 0, 1], 7000)),
                SocketAddr::from(([127, 0, 0, 1], 7001))
            ]
        );
        assert!(redis_addrs("redis://10.0.0.1:6379").is_err());
    }
}
