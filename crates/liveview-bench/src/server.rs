//! The server under test: either one given with `--url`, or the bench
//! server started as a child process (this binary's hidden `serve`
//! subcommand), whose memory can then be read from /proc.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::BoxError;
use crate::cli::Common;
use crate::stats;
use crate::target;

/// Open files a process needs besides its connections (stdio, epoll, event
/// fds, the listener, pipes to the child, /proc reads).
pub(crate) const FD_RESERVE: u64 = 20;

/// How long the spawned server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The server under test.
pub(crate) struct Server {
    /// Its address.
    pub(crate) addr: SocketAddr,
    /// Its process id, when known.
    pub(crate) pid: Option<u32>,
    child: Option<Spawned>,
}

struct Spawned {
    child: Child,
    stdin: Option<ChildStdin>,
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl Server {
    /// The server of `--url`, or a freshly spawned bench server.
    pub(crate) async fn start(common: &Common) -> Result<Self, BoxError> {
        match &common.url {
            Some(url) => Ok(Self {
                addr: target::parse_loopback_url(url)?,
                pid: common.server_pid,
                child: None,
            }),
            None => Self::spawn(common, None).await,
        }
    }

    /// A bench server on the Redis at `redis`: one node of several.
    pub(crate) async fn start_node(common: &Common, redis: &str) -> Result<Self, BoxError> {
        Self::spawn(common, Some(redis)).await
    }

    async fn spawn(common: &Common, redis: Option<&str>) -> Result<Self, BoxError> {
        let exe = std::env::current_exe()?;
        let mut cmd = Command::new(exe);
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--print-addr"]);
        if let Some(url) = redis {
            cmd.args(["--redis", url]);
        }
        if let Some(t) = common.server_threads {
            cmd.args(["--threads", &t.to_string()]);
        }
        if let Some(b) = common.server_read_buffer {
            cmd.args(["--read-buffer-bytes", &b.to_string()]);
        }
        if common.server_metrics {
            cmd.arg("--metrics");
        }
        if let Some(filter) = &common.server_trace {
            cmd.args(["--trace", filter]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id();
        let stdout = child
            .stdout
            .take()
            .ok_or("the bench server's stdout is not piped")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = match tokio::time::timeout(START_TIMEOUT, lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => {
                let status = child.wait().await?;
                return Err(format!("the bench server exited before listening ({status})").into());
            }
            Ok(Err(e)) => return Err(format!("reading the bench server's address: {e}").into()),
            Err(_) => {
                return Err(format!(
                    "the bench server did not print its address within {START_TIMEOUT:?}"
                )
                .into());
            }
        };
        let addr: SocketAddr = line
            .trim()
            .parse()
            .map_err(|e| format!("the bench server printed {line:?}, not an address: {e}"))?;
        target::check_loopback(addr.ip())?;
        let stdin = child.stdin.take();
        Ok(Self {
            addr,
            pid,
            child: Some(Spawned {
                child,
                stdin,
                _stdout: lines,
            }),
        })
    }

    /// Whether the tool started this server itself.
    pub(crate) fn spawned(&self) -> bool {
        self.child.is_some()
    }

    /// `ADDR (spawned, pid N)` or `ADDR (--url)`.
    pub(crate) fn describe(&self) -> String {
        match (self.spawned(), self.pid) {
            (true, Some(pid)) => format!("{} (bench server, pid {pid})", self.addr),
            (true, None) => format!("{} (bench server)", self.addr),
            (false, Some(pid)) => format!("{} (--url, pid {pid})", self.addr),
            (false, None) => format!("{} (--url)", self.addr),
        }
    }

    /// The server's resident memory in KiB, when its pid is known.
    pub(crate) fn rss_kib(&self) -> Option<u64> {
        stats::read_vm_rss_kib(self.pid?).ok()
    }

    /// Refuses runs that need more connections than either process may
    /// hold open files.
    pub(crate) fn check_fd_budget(&self, connections: usize) -> Result<(), BoxError> {
        let need = u64::try_from(connections)?;
        let own = rlimit::Resource::NOFILE.get_soft().unwrap_or(u64::MAX);
        if need.saturating_add(FD_RESERVE) > own {
            return Err(format!(
                "{connections} connections need about {} open files in this process, but its limit is {own} \
                 (the hard RLIMIT_NOFILE caps it): use at most {} connections or raise the hard limit",
                need + FD_RESERVE,
                own.saturating_sub(FD_RESERVE)
            )
            .into());
        }
        if let Some(limit) = self.pid.and_then(stats::read_max_open_files)
            && need.saturating_add(FD_RESERVE) > limit
        {
            return Err(format!(
                "{connections} connections need about {} open files in the server (pid {:?}), but its limit is {limit}: \
                 use at most {} connections or raise its hard RLIMIT_NOFILE",
                need + FD_RESERVE,
                self.pid,
                limit.saturating_sub(FD_RESERVE)
            )
            .into());
        }
        Ok(())
    }

    /// Stops a spawned server: closes its stdin (it exits on EOF), then
    /// kills it if it is still there after a grace period.
    pub(crate) async fn stop(mut self) {
        if let Some(mut spawned) = self.child.take() {
            drop(spawned.stdin.take());
            if tokio::time::timeout(Duration::from_secs(3), spawned.child.wait())
                .await
                .is_err()
            {
                let _ = spawned.child.kill().await;
            }
        }
    }
}

/// Raises this process's open-file limit to its hard limit; returns the new
/// soft limit.
pub(crate) fn raise_nofile_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX)
        .unwrap_or_else(|_| rlimit::Resource::NOFILE.get_soft().unwrap_or(0))
}
