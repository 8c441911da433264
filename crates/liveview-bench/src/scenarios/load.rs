//! `rtt` and `throughput`: clients sending `echo` events and timing the
//! replies. `rtt` sends a fixed number of events per client one at a time;
//! `throughput` keeps a window of events in flight for a fixed duration.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::Barrier;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use super::connect_all;
use super::tally::ClientResult;
use crate::BoxError;
use crate::cli::{RttArgs, ThroughputArgs};
use crate::client::{self, Connector, ECHO_TARGET, Frame, Ws};
use crate::progress::Progress;
use crate::report::{self, Report};
use crate::server::Server;
use crate::stats::{self, CpuMeter};

/// How much a phase sends.
#[derive(Debug, Clone, Copy)]
enum Amount {
    /// This many events per client (bounded by a deadline).
    Events(u64, Duration),
    /// As many as fit in this duration.
    For(Duration),
}

impl Amount {
    fn budget(self) -> (u64, Duration) {
        match self {
            Self::Events(n, max) => (n, max),
            Self::For(d) => (u64::MAX, d),
        }
    }
}

/// What one load run does.
#[derive(Debug, Clone, Copy)]
struct Plan {
    clients: usize,
    warmup: Amount,
    measure: Amount,
    window: usize,
    reply_timeout: Duration,
    /// Paced mode: each client sends one event per this interval.
    pace: Option<Duration>,
}

/// A paced event sent later than this after it was due counts as late.
const LATE: Duration = Duration::from_millis(2);

/// The interval between two events of one client when `clients` clients
/// together send `rate` events per second.
fn pace(clients: usize, rate: f64) -> Duration {
    Duration::from_secs_f64(clients.max(1) as f64 / rate)
}

/// Runs `rtt`.
pub(crate) async fn rtt(args: &RttArgs, server: &Server) -> Result<Report, BoxError> {
    let plan = Plan {
        clients: args.clients,
        warmup: Amount::Events(args.warmup, args.max_duration),
        measure: Amount::Events(args.events, args.max_duration),
        window: 1,
        reply_timeout: args.reply_timeout,
        pace: None,
    };
    let mut report = run(&plan, &args.common, std::slice::from_ref(server), "rtt").await?;
    report.field("events_per_client", args.events);
    report.field("warmup_per_client", args.warmup);
    Ok(report)
}

/// Runs `rtt --nodes K`: the clients spread over the nodes (client i on
/// node i mod K); a CPU row per node.
pub(crate) async fn rtt_nodes(
    args: &RttArgs,
    nodes: &crate::nodes::Nodes,
) -> Result<Report, BoxError> {
    let plan = Plan {
        clients: args.clients,
        warmup: Amount::Events(args.warmup, args.max_duration),
        measure: Amount::Events(args.events, args.max_duration),
        window: 1,
        reply_timeout: args.reply_timeout,
        pace: None,
    };
    let mut report = run(&plan, &args.common, &nodes.servers, "rtt").await?;
    report.field("events_per_client", args.events);
    report.field("warmup_per_client", args.warmup);
    report.field("nodes", nodes.servers.len());
    report.field("redis", &nodes.redis_url);
    Ok(report)
}

/// Runs `throughput`.
pub(crate) async fn throughput(args: &ThroughputArgs, server: &Server) -> Result<Report, BoxError> {
    let plan = Plan {
        clients: args.clients,
        warmup: Amount::For(args.warmup),
        measure: Amount::For(args.duration),
        window: args.window.max(1),
        reply_timeout: args.reply_timeout,
        pace: args.rate.map(|rate| pace(args.clients, rate)),
    };
    let mut report = run(
        &plan,
        &args.common,
        std::slice::from_ref(server),
        "throughput",
    )
    .await?;
    report.field("window", plan.window);
    report.field("target_rate", args.rate);
    report.field("duration_s", args.duration.as_secs_f64());
    Ok(report)
}

async fn run(
    plan: &Plan,
    common: &crate::cli::Common,
    servers: &[Server],
    scenario: &str,
) -> Result<Report, BoxError> {
    let server = servers.first().ok_or("no server")?;
    let addrs: Vec<_> = servers.iter().map(|s| s.addr).collect();
    let connector = Connector::spread(&addrs, common);
    let show = !common.no_progress;
    let connected = connect_all(&connector, 0, plan.clients, show).await;
    let n = connected.conns.len();

    // Warm-up runs before the barrier, the measurement after it.
    let barrier = Arc::new(Barrier::new(n + 1));
    let bar = match plan.measure {
        Amount::Events(e, _) => Progress::new(show, e.saturating_mul(n as u64), "events"),
        Amount::For(d) => Progress::new(show, d.as_secs(), "seconds"),
    };
    let counter = bar.counter();
    let mut set = JoinSet::new();
    for (slot, (_, ws)) in connected.conns.into_iter().enumerate() {
        let (barrier, counter, plan) = (Arc::clone(&barrier), Arc::clone(&counter), *plan);
        let count_events = matches!(plan.measure, Amount::Events(..));
        let offset = plan
            .pace
            .map_or(Duration::ZERO, |p| p.mul_f64(slot as f64 / n.max(1) as f64));
        set.spawn(drive(
            ws,
            plan,
            offset,
            barrier,
            count_events.then_some(counter),
        ));
    }
    barrier.wait().await;
    let start = Instant::now();
    let cpu = CpuMeter::start(server.pid);
    let others: Vec<CpuMeter> = servers[1..]
        .iter()
        .map(|s| CpuMeter::start(s.pid))
        .collect();
    let seconds_ticker = matches!(plan.measure, Amount::For(_)).then(|| {
        let counter = Arc::clone(&counter);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                counter.fetch_add(1, Ordering::Relaxed);
            }
        })
    });
    let mut total = ClientResult {
        errors: connected.failed,
        samples: connected.samples,
        ..ClientResult::default()
    };
    total.collect(&mut set).await;
    let elapsed = start.elapsed();
    let cpu = cpu.stop();
    let others: Vec<_> = others.iter().map(CpuMeter::stop).collect();
    if let Some(t) = seconds_ticker {
        t.abort();
    }
    bar.finish();

    let p = total.latency.percentiles();
    let eps = stats::rate(total.latency.len(), elapsed);
    let mut r = Report::new(
        scenario,
        format!(
            "liveview-bench {scenario}: {} client(s), window {}, server {}",
            plan.clients,
            plan.window,
            server.describe()
        ),
    );
    r.row("connected", format!("{n} of {}", plan.clients));
    r.row(
        "events",
        format!(
            "{} sent, {} replies, {} errors (warm-up included)",
            total.sent, total.received, total.errors
        ),
    );
    r.row(
        "measured",
        format!("{} events in {:.3} s", p.count, elapsed.as_secs_f64()),
    );
    r.row("events/s", report::thousands(eps));
    if let Some(pace) = plan.pace {
        r.row(
            "paced",
            format!(
                "one event per {:.3} ms per client ({} events/s offered), {} sent more than {LATE:?} late",
                pace.as_secs_f64() * 1000.0,
                report::thousands(plan.clients as f64 / pace.as_secs_f64()),
                total.late
            ),
        );
    }
    r.row("latency", report::latency(&p));
    if others.is_empty() {
        r.row("cpu (measured)", cpu.describe());
    } else {
        r.row("cpu (measured)", format!("node 0: {}", cpu.describe()));
        for (i, other) in others.iter().enumerate() {
            let server_s = other.server_s.unwrap_or(0.0);
            r.row(&format!("node {} cpu", i + 1), format!("{server_s:.2} s"));
        }
        r.field("other_nodes_cpu", &others);
    }
    if !total.samples.is_empty() {
        r.row("error samples", total.samples.joined());
    }
    r.field("clients", plan.clients);
    r.field("connected", n);
    r.field("server", server.addr.to_string());
    r.field("server_spawned", server.spawned());
    r.field("sent", total.sent);
    r.field("received", total.received);
    r.field("errors", total.errors);
    r.field("measured_events", p.count);
    r.field("elapsed_s", elapsed.as_secs_f64());
    r.field("events_per_s", (eps * 10.0).round() / 10.0);
    r.field("latency_us", p);
    r.field("late", total.late);
    r.field("cpu", cpu);
    r.field("error_samples", total.samples.into_vec());
    Ok(r)
}

/// One client: warm-up, barrier, measurement. `offset` spreads paced
/// clients over the pacing interval.
async fn drive(
    mut ws: Ws,
    plan: Plan,
    offset: Duration,
    barrier: Arc<Barrier>,
    progress: Option<Arc<AtomicU64>>,
) -> ClientResult {
    let mut st = ClientState {
        result: ClientResult::default(),
        next_ref: 1,
        alive: true,
    };
    st.phase(&mut ws, plan, plan.warmup, offset, false, None)
        .await;
    barrier.wait().await;
    st.phase(
        &mut ws,
        plan,
        plan.measure,
        offset,
        true,
        progress.as_deref(),
    )
    .await;
    let _ = ws.close(None).await;
    st.result
}

struct ClientState {
    result: ClientResult,
    next_ref: u64,
    alive: bool,
}

/// What woke a client up.
enum Wake {
    Message(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
    TimedOut,
    Due,
}

impl ClientState {
    fn fail(&mut self, lost: usize, msg: String) {
        self.result.errors += lost as u64;
        self.result.samples.add(msg);
        self.alive = false;
    }

    /// Sends events and reads replies until the phase's budget is spent and
    /// every event sent got its reply (or the connection failed).
    ///
    /// Paced (`--rate`): event k is due at `start + offset + k * pace`. Its
    /// latency counts from when it was due if the client could not send it
    /// then because its window was full (no coordinated omission), else from
    /// when it was sent.
    async fn phase(
        &mut self,
        ws: &mut Ws,
        plan: Plan,
        amount: Amount,
        offset: Duration,
        record: bool,
        progress: Option<&AtomicU64>,
    ) {
        if !self.alive {
            return;
        }
        let (mut to_send, max) = amount.budget();
        let start = Instant::now();
        let deadline = start + max;
        let mut next_due = start + offset;
        // When the window last had a slot freed by a reply.
        let mut freed_at = start;
        let mut in_flight: VecDeque<(u64, Instant)> = VecDeque::with_capacity(plan.window);
        loop {
            let mut fed = false;
            while in_flight.len() < plan.window && to_send > 0 {
                let now = Instant::now();
                if now >= deadline {
                    to_send = 0;
                    break;
                }
                let counted_from = match plan.pace {
                    None => now,
                    Some(pace) => {
                        let due = next_due;
                        if now < due {
                            break;
                        }
                        next_due += pace;
                        if now.saturating_duration_since(due) > LATE {
                            self.result.late += 1;
                        }
                        if due < freed_at { due } else { now }
                    }
                };
                let r = self.next_ref;
                self.next_ref += 1;
                if let Err(e) = ws.feed(Message::text(client::echo_event(r, r))).await {
                    return self.fail(in_flight.len(), format!("send: {e}"));
                }
                in_flight.push_back((r, counted_from));
                self.result.sent += 1;
                to_send -= 1;
                fed = true;
            }
            if fed && let Err(e) = ws.flush().await {
                return self.fail(in_flight.len(), format!("send: {e}"));
            }
            // Paced with a free slot: also wake when the next event is due.
            let wake_at = (plan.pace.is_some() && in_flight.len() < plan.window && to_send > 0)
                .then(|| tokio::time::Instant::from_std(next_due.min(deadline)));
            if in_flight.is_empty() {
                match wake_at {
                    Some(at) => {
                        tokio::time::sleep_until(at).await;
                        continue;
                    }
                    None => return,
                }
            }
            let wake = tokio::select! {
                m = tokio::time::timeout(plan.reply_timeout, ws.next()) => match m {
                    Ok(m) => Wake::Message(m),
                    Err(_) => Wake::TimedOut,
                },
                () = sleep_until_opt(wake_at) => Wake::Due,
            };
            let msg = match wake {
                Wake::Due => continue,
                Wake::Message(Some(Ok(msg))) => msg,
                Wake::Message(Some(Err(e))) => {
                    return self.fail(in_flight.len(), format!("receive: {e}"));
                }
                Wake::Message(None) => {
                    return self.fail(in_flight.len(), "connection closed by the server".into());
                }
                Wake::TimedOut => {
                    return self.fail(
                        in_flight.len(),
                        format!("no reply within {:?}", plan.reply_timeout),
                    );
                }
            };
            let received_at = Instant::now();
            let text = match &msg {
                Message::Text(t) => t.as_str(),
                Message::Close(frame) => {
                    return self.fail(in_flight.len(), format!("closed by the server: {frame:?}"));
                }
                _ => continue,
            };
            let frame = match Frame::parse(text) {
                Ok(f) => f,
                Err(e) => {
                    self.result.errors += 1;
                    self.result.samples.add(format!("unparseable frame: {e}"));
                    continue;
                }
            };
            // Frames without a ref are pushed patches (broadcasts): not ours.
            let Some(r) = frame.reference else { continue };
            let Some(pos) = in_flight.iter().position(|(x, _)| *x == r) else {
                self.result.errors += 1;
                self.result
                    .samples
                    .add(format!("reply with unexpected ref {r}"));
                continue;
            };
            let Some((_, counted_from)) = in_flight.remove(pos) else {
                continue;
            };
            freed_at = received_at;
            self.result.received += 1;
            if let Some(p) = progress {
                p.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(err) = frame.error_text() {
                self.result.errors += 1;
                self.result.samples.add(format!("error frame: {err}"));
            } else if frame.number_for(ECHO_TARGET) != Some(r) {
                self.result.errors += 1;
                self.result.samples.add(format!(
                    "reply to ref {r} does not carry its fragment: {text}"
                ));
            } else if record {
                self.result
                    .latency
                    .record(received_at.saturating_duration_since(counted_from));
            }
        }
    }
}

/// Sleeps until `at`, or forever when `None`.
async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
