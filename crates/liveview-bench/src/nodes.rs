//! `--nodes K`: K bench servers sharing one Redis (one the tool starts, a
//! cluster it starts with `--cluster M`, or one given with `--redis`), and
//! the counters read around a measurement: each node's layer
//! (`GET /layer-stats`) and Redis (`INFO cpu`, `INFO commandstats`).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::BoxError;
use crate::cli::{Common, NodesArgs};
use crate::redis_server::{self, REDIS_TIMEOUT, RedisProcesses, bulk};
use crate::server::Server;
use crate::target;

/// K bench servers and their Redis.
pub(crate) struct Nodes {
    pub(crate) servers: Vec<Server>,
    /// The URL the servers were given.
    pub(crate) redis_url: String,
    /// Every Redis process to read counters from (a cluster's masters).
    redis_addrs: Vec<SocketAddr>,
    /// The Redis processes the tool started, if it did.
    redis: Option<RedisProcesses>,
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
        let (redis_url, redis_addrs, redis) = match (&args.redis, args.cluster) {
            (Some(url), _) => (url.clone(), redis_addrs(url)?, None),
            (None, Some(masters)) => {
                let (masters, processes) = redis_server::start_cluster(masters).await?;
                let hosts: Vec<String> = masters.iter().map(ToString::to_string).collect();
                let url = format!("redis+cluster://{}", hosts.join(","));
                (url, masters, Some(processes))
            }
            (None, None) => {
                let (addr, processes) = redis_server::start_one().await?;
                (format!("redis://{addr}/"), vec![addr], Some(processes))
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
            redis,
        })
    }

    /// Stops the servers, then the Redis the tool started.
    pub(crate) async fn stop(mut self) {
        for server in self.servers.drain(..) {
            server.stop().await;
        }
        if let Some(redis) = self.redis.take() {
            redis.stop().await;
        }
    }

    /// Redis's CPU time and publish calls now.
    pub(crate) async fn redis_counters(&self) -> Result<RedisCounters, BoxError> {
        let mut total = RedisCounters::default();
        for addr in &self.redis_addrs {
            let cpu = bulk(*addr, "INFO cpu").await?;
            let stats = bulk(*addr, "INFO commandstats").await?;
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
