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

use super::{Samples, connect_all};
use crate::BoxError;
use crate::cli::{RttArgs, ThroughputArgs};
use crate::client::{self, Connector, ECHO_TARGET, Frame, Ws};
use crate::progress::Progress;
use crate::report::{self, Report};
use crate::server::Server;
use crate::stats::{self, Latency};

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
}

/// What one client did.
#[derive(Debug, Default)]
struct ClientResult {
    latency: Latency,
    sent: u64,
    received: u64,
    errors: u64,
    samples: Samples,
}

/// Runs `rtt`.
pub(crate) async fn rtt(args: &RttArgs, server: &Server) -> Result<Report, BoxError> {
    let plan = Plan {
        clients: args.clients,
        warmup: Amount::Events(args.warmup, args.max_duration),
        measure: Amount::Events(args.events, args.max_duration),
        window: 1,
        reply_timeout: args.reply_timeout,
    };
    let mut report = run(&plan, &args.common, server, "rtt").await?;
    report.field("events_per_client", args.events);
    report.field("warmup_per_client", args.warmup);
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
    };
    let mut report = run(&plan, &args.common, server, "throughput").await?;
    report.field("window", plan.window);
    report.field("duration_s", args.duration.as_secs_f64());
    Ok(report)
}

async fn run(
    plan: &Plan,
    common: &crate::cli::Common,
    server: &Server,
    scenario: &str,
) -> Result<Report, BoxError> {
    let connector = Connector::new(
        server.addr,
        &common.room,
        common.source_addrs,
        common.connect_concurrency,
    );
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
    for (_, ws) in connected.conns {
        let (barrier, counter, plan) = (Arc::clone(&barrier), Arc::clone(&counter), *plan);
        let count_events = matches!(plan.measure, Amount::Events(..));
        set.spawn(drive(ws, plan, barrier, count_events.then_some(counter)));
    }
    barrier.wait().await;
    let start = Instant::now();
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
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(r) => {
                total.latency.merge(&r.latency);
                total.sent += r.sent;
                total.received += r.received;
                total.errors += r.errors;
                total.samples.extend(r.samples);
            }
            Err(e) => {
                total.errors += 1;
                total.samples.add(format!("client task: {e}"));
            }
        }
    }
    let elapsed = start.elapsed();
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
    r.row(
        "latency",
        format!(
            "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
            report::ms(p.p50_us),
            report::ms(p.p90_us),
            report::ms(p.p99_us),
            report::ms(p.p999_us),
            report::ms(p.max_us)
        ),
    );
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
    r.field("error_samples", total.samples.into_vec());
    Ok(r)
}

/// One client: warm-up, barrier, measurement.
async fn drive(
    mut ws: Ws,
    plan: Plan,
    barrier: Arc<Barrier>,
    progress: Option<Arc<AtomicU64>>,
) -> ClientResult {
    let mut st = ClientState {
        result: ClientResult::default(),
        next_ref: 1,
        alive: true,
    };
    st.phase(&mut ws, plan, plan.warmup, false, None).await;
    barrier.wait().await;
    st.phase(&mut ws, plan, plan.measure, true, progress.as_deref())
        .await;
    let _ = ws.close(None).await;
    st.result
}

struct ClientState {
    result: ClientResult,
    next_ref: u64,
    alive: bool,
}

impl ClientState {
    fn fail(&mut self, lost: usize, msg: String) {
        self.result.errors += lost as u64;
        self.result.samples.add(msg);
        self.alive = false;
    }

    /// Sends events and reads replies until the phase's budget is spent and
    /// every event sent got its reply (or the connection failed).
    async fn phase(
        &mut self,
        ws: &mut Ws,
        plan: Plan,
        amount: Amount,
        record: bool,
        progress: Option<&AtomicU64>,
    ) {
        if !self.alive {
            return;
        }
        let (mut to_send, max) = amount.budget();
        let deadline = Instant::now() + max;
        let mut in_flight: VecDeque<(u64, Instant)> = VecDeque::with_capacity(plan.window);
        loop {
            let mut fed = false;
            while in_flight.len() < plan.window && to_send > 0 && Instant::now() < deadline {
                let r = self.next_ref;
                self.next_ref += 1;
                let sent_at = Instant::now();
                if let Err(e) = ws.feed(Message::text(client::echo_event(r, r))).await {
                    return self.fail(in_flight.len(), format!("send: {e}"));
                }
                in_flight.push_back((r, sent_at));
                self.result.sent += 1;
                to_send -= 1;
                fed = true;
            }
            if fed && let Err(e) = ws.flush().await {
                return self.fail(in_flight.len(), format!("send: {e}"));
            }
            if in_flight.is_empty() {
                return;
            }
            let msg = match tokio::time::timeout(plan.reply_timeout, ws.next()).await {
                Ok(Some(Ok(msg))) => msg,
                Ok(Some(Err(e))) => return self.fail(in_flight.len(), format!("receive: {e}")),
                Ok(None) => {
                    return self.fail(in_flight.len(), "connection closed by the server".into());
                }
                Err(_) => {
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
            let Some((_, sent_at)) = in_flight.remove(pos) else {
                continue;
            };
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
                self.result.latency.record(received_at - sent_at);
            }
        }
    }
}
