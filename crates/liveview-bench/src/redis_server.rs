//! The Redis processes the tool starts itself for `--nodes`: one
//! `redis-server`, or a Redis Cluster (`--cluster M`: M masters with a
//! replica each, joined by `redis-cli --cluster create`), on loopback ports,
//! without persistence; and the one Redis command the tool speaks (`INFO`
//! and `CLUSTER INFO`, whose answers are one bulk string).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::BoxError;

/// How long Redis may take to answer at start, and each command.
pub(crate) const REDIS_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a cluster may take to serve every slot once created.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(30);

/// The `redis-server` processes the tool started; killed by
/// [`stop`](Self::stop), or on drop.
pub(crate) struct RedisProcesses {
    children: Vec<Child>,
    /// A cluster's node configuration files.
    dir: Option<PathBuf>,
}

impl RedisProcesses {
    /// Kills every process and waits for it; the cluster's files go when
    /// `self` is dropped, at the end of this call.
    pub(crate) async fn stop(mut self) {
        for child in &mut self.children {
            let _ = child.kill().await;
        }
    }
}

impl Drop for RedisProcesses {
    fn drop(&mut self) {
        // The children are killed on drop (`kill_on_drop`); their files go.
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// One `redis-server` on a free loopback port.
pub(crate) async fn start_one() -> Result<(SocketAddr, RedisProcesses), BoxError> {
    let (addr, child) = spawn(&[]).await?;
    let processes = RedisProcesses {
        children: vec![child],
        dir: None,
    };
    Ok((addr, processes))
}

/// A Redis Cluster of `masters` masters with one replica each; returns the
/// masters' addresses (the cluster's URL lists them, and the counters are
/// read from them: a replica runs its master's writes again).
pub(crate) async fn start_cluster(
    masters: u16,
) -> Result<(Vec<SocketAddr>, RedisProcesses), BoxError> {
    let dir = std::env::temp_dir().join(format!(
        "liveview-bench-cluster-{}-{}",
        std::process::id(),
        random()
    ));
    std::fs::create_dir_all(&dir)?;
    let mut processes = RedisProcesses {
        children: Vec::new(),
        dir: Some(dir.clone()),
    };
    let mut addrs = Vec::new();
    for index in 0..2 * masters {
        let bus = port_below_ephemeral_range()?.to_string();
        // A directory per node: each keeps its cluster state in `nodes.conf`.
        let dir = dir.join(index.to_string());
        std::fs::create_dir_all(&dir)?;
        let dir = dir.to_string_lossy().into_owned();
        let extra = [
            "--cluster-enabled",
            "yes",
            // Its own free port for the cluster bus: the default, the port
            // + 10,000, may be taken or past 65,535.
            "--cluster-port",
            &bus,
            "--cluster-node-timeout",
            "2000",
            "--dir",
            &dir,
        ];
        let (addr, child) = spawn(&extra).await?;
        processes.children.push(child);
        addrs.push(addr);
    }
    let created = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(addrs.iter().map(ToString::to_string))
        .args(["--cluster-replicas", "1", "--cluster-yes"])
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run redis-cli ({e}): install Debian's redis-server"))?;
    if !created.status.success() {
        processes.stop().await;
        return Err(format!(
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&created.stdout),
            String::from_utf8_lossy(&created.stderr)
        )
        .into());
    }
    let deadline = tokio::time::Instant::now() + CLUSTER_TIMEOUT;
    let mut master_addrs = Vec::new();
    for &addr in &addrs {
        loop {
            let info = bulk(addr, "CLUSTER INFO").await.unwrap_or_default();
            if info.contains("cluster_state:ok") {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                processes.stop().await;
                return Err(format!("the cluster was not ok on {addr} within 30 s").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if bulk(addr, "INFO replication")
            .await?
            .contains("role:master")
        {
            master_addrs.push(addr);
        }
    }
    if master_addrs.len() != usize::from(masters) {
        processes.stop().await;
        return Err(format!(
            "the cluster has {} masters, not {masters}",
            master_addrs.len()
        )
        .into());
    }
    Ok((master_addrs, processes))
}

/// Starts `redis-server` on a free loopback port with `extra` arguments and
/// waits until it answers.
///
/// The port is picked below the kernel's ephemeral range (which every
/// `bind(0)` and outgoing connection draws from, the bench servers' among
/// them), and the server that answers must report the child's own process
/// id; a child that exits at start, or finds its port taken, is started
/// again on another port, a few times.
async fn spawn(extra: &[&str]) -> Result<(SocketAddr, Child), BoxError> {
    let mut last_error = String::new();
    for _attempt in 0..4 {
        let port = port_below_ephemeral_range()?;
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .args(["--maxclients", "1000"])
            .args(extra)
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
            if let Ok(info) = bulk(addr, "INFO server").await {
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

/// A random number from the standard library's per-process hash keys.
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// A loopback port nobody listens on, picked at random below the kernel's
/// ephemeral range (`ip_local_port_range`, 32768 by default).
fn port_below_ephemeral_range() -> Result<u16, BoxError> {
    let first_ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000u16, first_ephemeral.max(10_001));
    for _ in 0..200 {
        let offset = u16::try_from(random() % u64::from(high - low)).unwrap_or(0);
        let port = low + offset;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Sends one inline command whose answer is a bulk string (`INFO cpu`,
/// `CLUSTER INFO`) to the Redis at `addr`, and returns that string.
pub(crate) async fn bulk(addr: SocketAddr, command: &str) -> Result<String, BoxError> {
    let read = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream
            .write_all(format!("{command}\r\n").as_bytes())
            .await?;
        let mut reader = BufReader::new(stream);
        let mut header = String::new();
        reader.read_line(&mut header).await?;
        let len: usize = header
            .trim()
            .strip_prefix('$')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("unexpected reply to {command}: {header:?}"))?;
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).await?;
        Ok::<_, BoxError>(String::from_utf8_lossy(&body).into_owned())
    };
    tokio::time::timeout(REDIS_TIMEOUT, read)
        .await
        .map_err(|_| format!("{command}: no answer from {addr}"))?
}
