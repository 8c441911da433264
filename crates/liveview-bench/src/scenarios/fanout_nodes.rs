//! `fanout --nodes K`: K bench servers on one Redis, the receiving clients
//! spread over them (client i on node i mod K), the control client on node
//! 0. Each round, per node: when its first, median and last client got the
//! broadcast; around the measured rounds: each node's CPU, Redis's CPU,
//! and the messages through Redis per broadcast (publishes, and deliveries
//! to nodes: one per node with members, however many clients it has).

use std::time::Instant;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::connect_all;
use super::fanout::{Arrival, Counts, broadcast_round, receive};
use crate::BoxError;
use crate::cli::FanoutArgs;
use crate::client::Connector;
use crate::nodes::Nodes;
use crate::progress::Progress;
use crate::report::{self, Report};
use crate::stats::{self, CpuMeter, Latency, Percentiles};

/// One node's figures over the measured rounds.
#[derive(Default)]
struct PerNode {
    first: Latency,
    median: Latency,
    last: Latency,
    clients: usize,
}

/// Runs `fanout --nodes K`.
pub(crate) async fn run(args: &FanoutArgs, nodes: &Nodes) -> Result<Report, BoxError> {
    let common = &args.common;
    let show = !common.no_progress;
    let k = nodes.servers.len();
    let n = args.clients;
    // Receivers, then the control client: indices 0..n, n.
    let mut node_of = Vec::with_capacity(n);
    let mut conns = Vec::with_capacity(n);
    let mut errors = 0u64;
    let mut samples = super::Samples::default();
    for (node, server) in nodes.servers.iter().enumerate() {
        let connector = Connector::new(server.addr, common);
        let count = (0..n).filter(|i| i % k == node).count();
        let first = conns.len();
        let connected = connect_all(&connector, first, count, show).await;
        errors += connected.failed;
        samples.extend(connected.samples);
        for (_, ws) in connected.conns {
            node_of.push(node);
            conns.push(ws);
        }
    }
    let receivers = conns.len();
    let mut control = Connector::new(nodes.servers[0].addr, common)
        .ws(n)
        .await
        .map_err(|e| format!("control connection: {e}"))?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Arrival>();
    let mut set = JoinSet::new();
    for (slot, ws) in conns.into_iter().enumerate() {
        set.spawn(receive(slot, ws, tx.clone()));
    }
    drop(tx);

    let mut per_node: Vec<PerNode> = (0..k).map(|_| PerNode::default()).collect();
    for node in &node_of {
        per_node[*node].clients += 1;
    }
    let (mut first, mut median, mut last) = (Latency::new(), Latency::new(), Latency::new());
    let (mut delivered, mut expected) = (0u64, 0u64);
    let mut counts = Counts::default();
    let mut seen = vec![0u64; receivers];
    let mut arrivals: Vec<(usize, u64)> = Vec::with_capacity(receivers);
    let mut lat: Vec<(usize, u64)> = Vec::with_capacity(receivers);
    let total_rounds = args.warmup + args.rounds;
    let bar = Progress::new(show && total_rounds > 1, total_rounds, "broadcasts");
    let mut meters: Vec<CpuMeter> = Vec::new();
    let (mut redis_before, mut received_before) = (None, Vec::new());
    let start = Instant::now();
    for seq in 1..=total_rounds {
        let measured = seq > args.warmup;
        if seq == args.warmup + 1 {
            redis_before = Some(nodes.redis_counters().await?);
            received_before = nodes.received().await?;
            meters = nodes
                .servers
                .iter()
                .map(|s| CpuMeter::start(s.pid))
                .collect();
        }
        let missed = broadcast_round(
            &mut control,
            &mut rx,
            &mut seen,
            seq,
            args.round_timeout,
            &mut arrivals,
            &mut counts,
        )
        .await?;
        if let Some(e) = missed.ack {
            errors += 1;
            samples.add(e);
        }
        if let Some(note) = missed.receivers {
            samples.add(note);
        }
        lat.clear();
        lat.extend(arrivals.iter().map(|(slot, us)| (node_of[*slot], *us)));
        let got = lat.len() as u64;
        if measured {
            expected += receivers as u64;
            delivered += got;
            let mut all: Vec<u64> = lat.iter().map(|(_, us)| *us).collect();
            record(&mut all, &mut first, &mut median, &mut last);
            for (node, figures) in per_node.iter_mut().enumerate() {
                let mut mine: Vec<u64> = lat
                    .iter()
                    .filter(|(n, _)| *n == node)
                    .map(|(_, us)| *us)
                    .collect();
                record(
                    &mut mine,
                    &mut figures.first,
                    &mut figures.median,
                    &mut figures.last,
                );
            }
        } else if got < receivers as u64 {
            errors += receivers as u64 - got;
        }
        bar.inc();
        tokio::time::sleep(args.interval).await;
    }
    let elapsed = start.elapsed();
    let cpu: Vec<_> = meters.iter().map(CpuMeter::stop).collect();
    let redis_after = nodes.redis_counters().await?;
    let received_after = nodes.received().await?;
    let rss_kib: Vec<Option<u64>> = nodes.servers.iter().map(|s| s.rss_kib()).collect();
    bar.finish();
    while let Some(done) = set.try_join_next() {
        errors += 1;
        match done {
            Ok(msg) => samples.add(msg),
            Err(e) => samples.add(format!("receiver task: {e}")),
        }
    }
    set.abort_all();
    let _ = control.close(None).await;

    let missing = expected - delivered;
    let Counts { late, duplicates } = counts;
    errors += missing + duplicates;
    let rounds = args.rounds.max(1) as f64;
    let redis_before = redis_before.unwrap_or_default();
    let redis_cpu_s = redis_after.cpu_s - redis_before.cpu_s;
    let publishes = (redis_after.publishes - redis_before.publishes) as f64 / rounds;
    let received: Vec<f64> = received_after
        .iter()
        .zip(received_before.iter().chain(std::iter::repeat(&0)))
        .map(|(a, b)| a.saturating_sub(*b) as f64 / rounds)
        .collect();
    let through_redis: f64 = received.iter().sum();

    let mut r = Report::new(
        "fanout",
        format!(
            "liveview-bench fanout --nodes {k}: {n} client(s), {} broadcast(s), Redis {}",
            args.rounds, nodes.redis_url
        ),
    );
    r.row(
        "connected",
        format!("{receivers} of {n} (+1 control, on node 0)"),
    );
    r.row(
        "deliveries",
        format!(
            "{delivered} of {expected}, {missing} missing, {late} late, {duplicates} duplicated"
        ),
    );
    let p50 = |p: &Percentiles| report::ms(p.p50_us);
    for (node, figures) in per_node.iter().enumerate() {
        let (f, m, l) = (
            figures.first.percentiles(),
            figures.median.percentiles(),
            figures.last.percentiles(),
        );
        r.row(
            &format!("node {node}"),
            format!(
                "{} clients; first {}  median {}  last {} (p50 of rounds; last max {}); cpu {:.2} s; rss {}; {:.2} messages from Redis per broadcast",
                figures.clients,
                p50(&f),
                p50(&m),
                p50(&l),
                report::ms(l.max_us),
                cpu.get(node).and_then(|c| c.server_s).unwrap_or(0.0),
                rss_kib
                    .get(node)
                    .copied()
                    .flatten()
                    .map_or_else(|| "unknown".to_owned(), |kib| format!("{:.0} MiB", kib as f64 / 1024.0)),
                received.get(node).copied().unwrap_or(0.0)
            ),
        );
    }
    let (pf, pm, pl) = (
        first.percentiles(),
        median.percentiles(),
        last.percentiles(),
    );
    r.row(
        "all clients",
        format!(
            "first {}  median {}  last {} (p50 of rounds; last p90 {}, max {})",
            p50(&pf),
            p50(&pm),
            p50(&pl),
            report::ms(pl.p90_us),
            report::ms(pl.max_us)
        ),
    );
    r.row("redis cpu (measured)", format!("{redis_cpu_s:.2} s"));
    r.row(
        "through redis",
        format!(
            "{publishes:.2} publish(es) and {through_redis:.2} deliveries to nodes per broadcast (one per node with members, the sender's own echo included)"
        ),
    );
    if !samples.is_empty() {
        r.row("error samples", samples.joined());
    }
    r.field("nodes", k);
    r.field("redis", &nodes.redis_url);
    r.field("clients", n);
    r.field("connected", receivers);
    r.field("rounds", args.rounds);
    r.field("expected", expected);
    r.field("delivered", delivered);
    r.field("missing", missing);
    r.field("late", late);
    r.field("duplicates", duplicates);
    r.field("errors", errors);
    r.field("elapsed_s", elapsed.as_secs_f64());
    r.field("first_us", pf);
    r.field("median_us", pm);
    r.field("last_us", pl);
    r.field(
        "per_node",
        per_node
            .iter()
            .enumerate()
            .map(|(node, f)| {
                serde_json::json!({
                    "clients": f.clients,
                    "first_us": f.first.percentiles(),
                    "median_us": f.median.percentiles(),
                    "last_us": f.last.percentiles(),
                    "cpu": cpu.get(node),
                    "rss_kib": rss_kib.get(node).copied().flatten(),
                    "received_per_broadcast": received.get(node),
                })
            })
            .collect::<Vec<_>>(),
    );
    r.field("redis_cpu_s", redis_cpu_s);
    r.field("publishes_per_broadcast", publishes);
    r.field("deliveries_to_nodes_per_broadcast", through_redis);
    r.field("error_samples", samples.into_vec());
    Ok(r)
}

/// Records a round's first, median and last arrival.
fn record(lat: &mut [u64], first: &mut Latency, median: &mut Latency, last: &mut Latency) {
    lat.sort_unstable();
    if let (Some(f), Some(m), Some(l)) = (lat.first(), stats::nearest_rank(lat, 0.5), lat.last()) {
        first.record_us(*f);
        median.record_us(m);
        last.record_us(*l);
    }
}
