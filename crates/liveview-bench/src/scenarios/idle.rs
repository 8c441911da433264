//! `idle`: opens N connections that send nothing, holds them, and reads the
//! server's resident memory before and after; then checks that every
//! connection still answers an event, and reads the memory once more.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use super::{Samples, connect_all};
use crate::BoxError;
use crate::cli::IdleArgs;
use crate::client::{self, Connector, ECHO_TARGET, Frame, Ws};
use crate::progress::Progress;
use crate::report::{self, Report};
use crate::server::Server;
use crate::stats::{self, CpuMeter};

/// Connections opened, used and closed before the "before" reading, so that
/// one-time allocations of the first connections are not counted.
const WARMUP_CONNECTIONS: usize = 16;

/// Runs `idle`.
pub(crate) async fn run(args: &IdleArgs, server: &Server) -> Result<Report, BoxError> {
    let common = &args.common;
    let show = !common.no_progress;
    let connector = Connector::new(server.addr, common);
    let n = args.clients;
    let mut samples = Samples::default();
    let mut errors = 0u64;

    // Warm-up: a few connections that each answer one event, then close.
    let warm = connect_all(&connector, n + 1, WARMUP_CONNECTIONS, false).await;
    let (_, warm_errors) = verify(warm.conns, args.reply_timeout, &mut samples, None).await;
    errors += warm.failed + warm_errors;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let server_before = server.rss_kib();
    let own_before = stats::read_vm_rss_kib(std::process::id()).ok();
    let started = Instant::now();
    let connected = connect_all(&connector, 0, n, show).await;
    let connect_time = started.elapsed();
    let open = connected.conns.len();
    errors += connected.failed;
    samples.extend(connected.samples);
    let cpu = CpuMeter::start(server.pid);
    tokio::time::sleep(args.settle).await;
    let cpu = cpu.stop();
    let server_idle = server.rss_kib();
    let own_idle = stats::read_vm_rss_kib(std::process::id()).ok();

    let (alive, after_event) = if args.no_verify {
        (None, None)
    } else {
        let bar = Progress::new(show && n >= 100, open as u64, "verifying");
        let (alive, verify_errors) = verify(
            connected.conns,
            args.reply_timeout,
            &mut samples,
            Some(&bar),
        )
        .await;
        bar.finish();
        errors += verify_errors;
        (Some(alive), server.rss_kib())
    };

    let per_conn = |after: Option<u64>| match (server_before, after) {
        (Some(b), Some(a)) => stats::per_connection_bytes(b, a, open),
        _ => None,
    };
    let idle_per_conn = per_conn(server_idle);
    let used_per_conn = per_conn(after_event);
    let own_per_conn = match (own_before, own_idle) {
        (Some(b), Some(a)) => stats::per_connection_bytes(b, a, open),
        _ => None,
    };

    let mut r = Report::new(
        "idle",
        format!(
            "liveview-bench idle: {n} connection(s), server {}",
            server.describe()
        ),
    );
    r.row(
        "connected",
        format!("{open} of {n} in {:.2} s", connect_time.as_secs_f64()),
    );
    let kib_opt =
        |v: Option<u64>| v.map_or("unknown (no --server-pid)".into(), |k| format!("{k} KiB"));
    r.row("server RSS before", kib_opt(server_before));
    r.row(
        "server RSS idle",
        format!("{} (after holding {:?})", kib_opt(server_idle), args.settle),
    );
    r.row(
        "per idle connection",
        idle_per_conn.map_or("unknown".into(), report::kib),
    );
    if let Some(alive) = alive {
        r.row("answered an event", format!("{alive} of {open}"));
        r.row("server RSS after", kib_opt(after_event));
        r.row(
            "per used connection",
            used_per_conn.map_or("unknown".into(), report::kib),
        );
    }
    r.row("cpu while idle", cpu.describe());
    r.row(
        "bench client per conn",
        own_per_conn.map_or("unknown".into(), report::kib),
    );
    if !samples.is_empty() {
        r.row("error samples", samples.joined());
    }
    r.field("clients", n);
    r.field("connected", open);
    r.field("server", server.addr.to_string());
    r.field("server_spawned", server.spawned());
    r.field("server_pid", server.pid);
    r.field("connect_s", connect_time.as_secs_f64());
    r.field("settle_s", args.settle.as_secs_f64());
    r.field("rss_before_kib", server_before);
    r.field("rss_idle_kib", server_idle);
    r.field("rss_after_event_kib", after_event);
    r.field("bytes_per_idle_connection", idle_per_conn);
    r.field("bytes_per_used_connection", used_per_conn);
    r.field("client_bytes_per_connection", own_per_conn);
    r.field("alive", alive);
    r.field("cpu_while_idle", cpu);
    r.field("errors", errors);
    r.field("error_samples", samples.into_vec());
    Ok(r)
}

/// Sends one `echo` event on each connection and checks the reply; returns
/// (connections that answered correctly, errors). The connections stay open
/// until every one has answered, then close.
async fn verify(
    conns: Vec<(usize, Ws)>,
    timeout: Duration,
    samples: &mut Samples,
    bar: Option<&Progress>,
) -> (u64, u64) {
    let total = conns.len() as u64;
    let mut set = JoinSet::new();
    for (idx, ws) in conns {
        set.spawn(check_one(idx as u64 + 1, ws, timeout));
    }
    let mut done = Vec::with_capacity(set.len());
    let mut alive = 0u64;
    while let Some(joined) = set.join_next().await {
        if let Some(b) = bar {
            b.inc();
        }
        match joined {
            Ok((ws, Ok(()))) => {
                alive += 1;
                done.push(ws);
            }
            Ok((ws, Err(e))) => {
                samples.add(e);
                done.push(ws);
            }
            Err(e) => samples.add(format!("verify task: {e}")),
        }
    }
    drop(done);
    (alive, total - alive)
}

async fn check_one(n: u64, mut ws: Ws, timeout: Duration) -> (Ws, Result<(), String>) {
    let result = async {
        ws.send(Message::text(client::echo_event(n, 1)))
            .await
            .map_err(|e| format!("verify send: {e}"))?;
        loop {
            let msg = match tokio::time::timeout(timeout, ws.next()).await {
                Ok(Some(Ok(m))) => m,
                Ok(Some(Err(e))) => return Err(format!("verify receive: {e}")),
                Ok(None) => return Err("verify: connection closed".to_owned()),
                Err(_) => return Err(format!("verify: no reply within {timeout:?}")),
            };
            let Message::Text(text) = msg else { continue };
            let frame = Frame::parse(text.as_str()).map_err(|e| format!("verify: {e}"))?;
            if frame.reference != Some(1) {
                continue;
            }
            if let Some(e) = frame.error_text() {
                return Err(format!("verify: error frame: {e}"));
            }
            return if frame.number_for(ECHO_TARGET) == Some(n) {
                Ok(())
            } else {
                Err(format!("verify: wrong reply {text}"))
            };
        }
    }
    .await;
    (ws, result)
}
