//! `fanout`: N receiving clients and one control client; each round the
//! control client sends `bench_broadcast` with a sequence number and every
//! receiver records when the broadcast patch carrying it arrives.

use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use super::connect_all;
use crate::BoxError;
use crate::cli::FanoutArgs;
use crate::client::{self, BROADCAST_TARGET, Connector, Frame, Ws};
use crate::progress::Progress;
use crate::report::{self, Report};
use crate::server::Server;
use crate::stats::{self, CpuMeter, Latency};

/// An arrival: receiver index, sequence number, when.
pub(crate) type Arrival = (usize, u64, Instant);

/// Runs `fanout`.
pub(crate) async fn run(args: &FanoutArgs, server: &Server) -> Result<Report, BoxError> {
    let common = &args.common;
    let show = !common.no_progress;
    let connector = Connector::new(server.addr, common);
    let n = args.clients;
    let connected = connect_all(&connector, 0, n, show).await;
    let mut samples = connected.samples;
    let mut errors = connected.failed;
    let receivers = connected.conns.len();
    let mut control = connector
        .ws(n)
        .await
        .map_err(|e| format!("control connection: {e}"))?;

    let (tx, mut rx) = mpsc::unbounded_channel::<Arrival>();
    let mut set = JoinSet::new();
    // Receivers are renumbered 0..receivers so that `seen` is dense.
    for (slot, (_, ws)) in connected.conns.into_iter().enumerate() {
        set.spawn(receive(slot, ws, tx.clone()));
    }
    drop(tx);

    let total_rounds = args.warmup + args.rounds;
    let bar = Progress::new(show && total_rounds > 1, total_rounds, "broadcasts");
    let (mut first, mut median, mut last, mut all) = (
        Latency::new(),
        Latency::new(),
        Latency::new(),
        Latency::new(),
    );
    let (mut delivered, mut expected) = (0u64, 0u64);
    let mut counts = Counts::default();
    let mut seen = vec![0u64; receivers];
    let mut arrivals: Vec<(usize, u64)> = Vec::with_capacity(receivers);
    let mut lat: Vec<u64> = Vec::with_capacity(receivers);
    let start = Instant::now();
    let mut cpu = CpuMeter::start(server.pid);
    for seq in 1..=total_rounds {
        let measured = seq > args.warmup;
        if seq == args.warmup + 1 {
            cpu = CpuMeter::start(server.pid);
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
        lat.extend(arrivals.iter().map(|(_, us)| *us));
        let got = lat.len() as u64;
        if measured {
            expected += receivers as u64;
            delivered += got;
            lat.sort_unstable();
            for &us in &lat {
                all.record_us(us);
            }
            if let (Some(f), Some(m), Some(l)) =
                (lat.first(), stats::nearest_rank(&lat, 0.5), lat.last())
            {
                first.record_us(*f);
                median.record_us(m);
                last.record_us(*l);
            }
        } else if got < receivers as u64 {
            errors += receivers as u64 - got;
        }
        bar.inc();
        tokio::time::sleep(args.interval).await;
    }
    let elapsed = start.elapsed();
    let cpu = cpu.stop();
    bar.finish();

    // Receivers that already stopped lost their connection.
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
    let (pf, pm, pl, pa) = (
        first.percentiles(),
        median.percentiles(),
        last.percentiles(),
        all.percentiles(),
    );
    let mut r = Report::new(
        "fanout",
        format!(
            "liveview-bench fanout: {n} client(s), {} broadcast(s), server {}",
            args.rounds,
            server.describe()
        ),
    );
    r.row("connected", format!("{receivers} of {n} (+1 control)"));
    r.row(
        "deliveries",
        format!(
            "{delivered} of {expected}, {missing} missing, {late} late, {duplicates} duplicated"
        ),
    );
    let line = |p: &stats::Percentiles| {
        format!(
            "p50 {}  p90 {}  max {}",
            report::ms(p.p50_us),
            report::ms(p.p90_us),
            report::ms(p.max_us)
        )
    };
    r.row("first client", line(&pf));
    r.row("median client", line(&pm));
    r.row("last client", line(&pl));
    r.row("all deliveries", line(&pa));
    r.row("cpu (measured)", cpu.describe());
    if !samples.is_empty() {
        r.row("error samples", samples.joined());
    }
    r.field("clients", n);
    r.field("connected", receivers);
    r.field("server", server.addr.to_string());
    r.field("server_spawned", server.spawned());
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
    r.field("all_us", pa);
    r.field("cpu", cpu);
    r.field("error_samples", samples.into_vec());
    Ok(r)
}

/// Reads the control connection until the broadcast event's own reply.
/// Late and doubled arrivals over a run.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// Arrivals of an earlier round's broadcast.
    pub(crate) late: u64,
    /// Second arrivals of this round's broadcast at one receiver.
    pub(crate) duplicates: u64,
}

/// What went wrong in a round, as notes for the report's samples.
#[derive(Debug, Default)]
pub(crate) struct Missed {
    /// The control client's acknowledgement failed.
    pub(crate) ack: Option<String>,
    /// Some receivers did not get the broadcast in time.
    pub(crate) receivers: Option<String>,
}

/// One broadcast round, the same for one node and many: sends broadcast
/// `seq` on `control` and collects, until every receiver has it or
/// `timeout` passes, each receiver's first arrival as (receiver, µs since
/// the send) into `arrivals` (cleared first); late and doubled arrivals go
/// to `counts`.
pub(crate) async fn broadcast_round(
    control: &mut Ws,
    rx: &mut mpsc::UnboundedReceiver<Arrival>,
    seen: &mut [u64],
    seq: u64,
    timeout: std::time::Duration,
    arrivals: &mut Vec<(usize, u64)>,
    counts: &mut Counts,
) -> Result<Missed, BoxError> {
    let receivers = seen.len();
    arrivals.clear();
    let t0 = Instant::now();
    control
        .send(Message::text(client::broadcast_event(seq)))
        .await
        .map_err(|e| format!("control send: {e}"))?;
    let deadline = tokio::time::Instant::from_std(t0 + timeout);
    let ack = wait_ack(control, seq, deadline);
    let collect = async {
        while arrivals.len() < receivers {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((slot, s, at))) => {
                    if s != seq {
                        counts.late += 1;
                    } else if seen[slot] == seq {
                        counts.duplicates += 1;
                    } else {
                        seen[slot] = seq;
                        arrivals.push((slot, stats::micros(at.saturating_duration_since(t0))));
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
    };
    let (ack, ()) = tokio::join!(ack, collect);
    let got = arrivals.len();
    Ok(Missed {
        ack: ack.err(),
        receivers: (got < receivers).then(|| {
            format!(
                "broadcast {seq}: {} of {receivers} clients did not get it within {timeout:?}",
                receivers - got,
            )
        }),
    })
}

pub(crate) async fn wait_ack(
    ws: &mut Ws,
    seq: u64,
    deadline: tokio::time::Instant,
) -> Result<(), String> {
    loop {
        let msg = match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => return Err(format!("control receive: {e}")),
            Ok(None) => return Err("control connection closed".into()),
            Err(_) => return Err(format!("broadcast {seq}: no reply to the control event")),
        };
        let Message::Text(text) = msg else { continue };
        let Ok(frame) = Frame::parse(text.as_str()) else {
            return Err(format!("control: unparseable frame {text}"));
        };
        if frame.reference == Some(seq) {
            return match frame.error_text() {
                Some(e) => Err(format!("control event refused: {e}")),
                None => Ok(()),
            };
        }
    }
}

/// A receiver: reports every broadcast it gets until its connection ends.
pub(crate) async fn receive(slot: usize, mut ws: Ws, tx: mpsc::UnboundedSender<Arrival>) -> String {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let at = Instant::now();
                if let Ok(frame) = Frame::parse(text.as_str())
                    && let Some(seq) = frame.number_for(BROADCAST_TARGET)
                    && tx.send((slot, seq, at)).is_err()
                {
                    return String::new();
                }
            }
            Some(Ok(Message::Close(frame))) => {
                return format!("receiver closed by the server: {frame:?}");
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return format!("receiver: {e}"),
            None => return "receiver: connection closed".into(),
        }
    }
}
