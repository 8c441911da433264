//! `storm`: N version-2 page sessions, spread over groups, get every
//! numbered frame published to their group while their sockets are reset
//! all at once and come back all at once.
//!
//! 1. Every client opens `?v=2`, joins group `i % G` of its room and reads the
//!    `--before` frames published while all are connected (server RSS:
//!    "connected").
//! 2. Every client resets its socket (zero linger: a TCP reset, no close
//!    frame). Once the server reports every session parked, its RSS is
//!    read ("parked"), then again with N plain connections open
//!    ("fillers", closed before going on): they reuse the memory the cut
//!    sockets freed, so what they add over "connected" is what the parked
//!    sessions hold. Then a control client (version 1) publishes numbered
//!    frames to every group, one per `--interval`, for `--cut`.
//! 3. After `--cut`, every client reconnects with `resume=1` and presents
//!    its token and frame count; the publisher is still going (with
//!    `--replay-only` it has finished: every frame comes in the replay).
//!    Each client checks that the replay and the live frames after it
//!    continue its group's sequence up to the last frame: no gap, no
//!    duplicate.

mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use self::session::{Note, Outcome, Phase, Plan, Stage};
use super::{Samples, connect_all};
use crate::BoxError;
use crate::cli::StormArgs;
use crate::client::{Connector, Frame, Ws};
use crate::report::{self, Report};
use crate::server::Server;
use crate::stats::{self, CpuMeter, Latency};
use crate::target;

/// The name of group G of a room on the bench server (client i joins
/// G = i % groups): rooms keep runs on one server apart.
pub(crate) fn group_name(room: &str, group: u32) -> String {
    format!("storm:{room}:{group}")
}

/// The CSS target of the frames published to a group.
pub(crate) fn group_target(group: u32) -> String {
    format!("#storm-{group}")
}

/// How long the fillers stay open before the server's RSS is read.
const FILL_SETTLE: Duration = Duration::from_millis(500);

/// How often the server's RSS is sampled during the storm.
const RSS_SAMPLE: Duration = Duration::from_millis(10);

/// Runs `storm`.
pub(crate) async fn run(args: &StormArgs, server: &Server) -> Result<Report, BoxError> {
    let common = &args.common;
    let n = args.clients;
    let last = args.before + args.frames;
    let connector = Connector::new(server.addr, common);
    let mut control = connector
        .ws(n)
        .await
        .map_err(|e| format!("control connection: {e}"))?;
    let mut samples = Samples::default();
    let mut errors = 0u64;
    let rss_before = server.rss_kib();

    let plan = Arc::new(Plan {
        connector,
        url: target::ws_url(server.addr, &common.room, 2),
        groups: args.groups,
        before: args.before,
        last,
        timeout: args.timeout,
        connects: Arc::new(Semaphore::new(common.connect_concurrency.max(1))),
        reconnects: Arc::new(Semaphore::new(
            args.reconnect_concurrency
                .unwrap_or(common.connect_concurrency)
                .max(1),
        )),
    });
    let (phase_tx, phase_rx) = watch::channel(Phase::Connect);
    let (notes_tx, notes_rx) = mpsc::unbounded_channel();
    let mut clients = JoinSet::new();
    for idx in 0..n {
        clients.spawn(session::run(
            idx,
            Arc::clone(&plan),
            phase_rx.clone(),
            notes_tx.clone(),
        ));
    }
    drop(notes_tx);
    let mut tally = Tally::new(n, notes_rx);
    let t_connect = Instant::now();

    // 1. Connected: every client in its group, then the first frames.
    tally.wait(Stage::Joined, args.timeout).await;
    let joined = tally.alive;
    let connect_time = t_connect.elapsed();
    if let Err(e) = publish(&mut control, args, 1, args.before).await {
        errors += 1;
        samples.add(e);
    }
    tally.wait(Stage::Ready, args.timeout).await;
    let rss_connected = server.rss_kib();

    // 2. The cut: every session parked, what a parked session costs, then
    // the publisher goes on while the sockets stay cut.
    phase_tx.send_replace(Phase::Cut);
    tally.wait(Stage::Cut, args.timeout).await;
    let parked = wait_sessions(server.addr, args.timeout, |c| {
        c.parked >= tally.alive as u64
    })
    .await;
    if let Err(e) = &parked {
        samples.add(e.clone());
    }
    let rss_parked = server.rss_kib();
    let filled = if args.no_fill || server.pid.is_none() {
        None
    } else {
        Some(
            fill(
                &plan.connector,
                server,
                n + 1,
                joined,
                args.timeout,
                &mut samples,
            )
            .await,
        )
    };
    let cut_at = Instant::now();
    let mut publisher = {
        let args = args.clone();
        tokio::spawn(async move {
            let result = publish(&mut control, &args, args.before + 1, last).await;
            let _ = control.close(None).await;
            result
        })
    };
    let mut published = None;
    if args.replay_only {
        published = Some((&mut publisher).await);
    }
    tokio::time::sleep_until(tokio::time::Instant::from_std(cut_at + args.cut)).await;

    // 3. Every client resumes at once.
    let t0 = Instant::now();
    let cpu = CpuMeter::start(server.pid);
    let (stop_rss, peak_rss) = sample_rss(server.pid);
    phase_tx.send_replace(Phase::Reconnect(t0));
    tally.wait(Stage::Resumed, args.timeout).await;
    let all_resumed = t0.elapsed();
    let mut outcomes = Vec::with_capacity(n);
    while let Some(done) = clients.join_next().await {
        match done {
            Ok(o) => outcomes.push(o),
            Err(e) => {
                errors += 1;
                samples.add(format!("client task: {e}"));
            }
        }
    }
    let storm_time = t0.elapsed();
    let cpu = cpu.stop();
    let _ = stop_rss.send(());
    let peak_rss = peak_rss.await.ok().flatten();
    let published = match published {
        Some(done) => done,
        None => publisher.await,
    };
    match published {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            errors += 1;
            samples.add(e);
        }
        Err(e) => {
            errors += 1;
            samples.add(format!("publisher task: {e}"));
        }
    }

    let sum = Sums::of(&outcomes, &mut samples);
    errors += sum.failed + sum.refused + sum.lost + sum.duplicated + sum.foreign;
    let (resume, caught_up) = (sum.resume.percentiles(), sum.caught_up.percentiles());
    let per = |after: Option<u64>| match (rss_before, after) {
        (Some(b), Some(a)) => stats::per_connection_bytes(b, a, joined),
        _ => None,
    };
    let per_connected = per(rss_connected);
    // The fillers reuse the memory the cut sockets freed (the allocator
    // keeps it): what they add over the connected figure is what the
    // parked sessions hold.
    let per_parked = match (rss_connected, filled) {
        (
            Some(c),
            Some(Fill {
                rss_kib: Some(f),
                opened,
            }),
        ) => stats::per_connection_bytes(c, f, opened),
        _ => None,
    };

    let mut r = Report::new(
        "storm",
        format!(
            "liveview-bench storm: {n} session(s) in {} group(s), {} frame(s) before the cut, {} from it, server {}",
            args.groups,
            args.before,
            args.frames,
            server.describe()
        ),
    );
    r.row(
        "connected",
        format!("{joined} of {n} in {:.2} s", connect_time.as_secs_f64()),
    );
    r.row(
        "parked",
        match &parked {
            Ok(p) => format!("{p} (server's count, cut held {:?})", args.cut),
            Err(_) => "not all".into(),
        },
    );
    r.row(
        "resumed",
        format!(
            "{} of {joined}, {} refused; all within {:.3} s of the reconnect",
            sum.resumed,
            sum.refused,
            all_resumed.as_secs_f64()
        ),
    );
    r.row(
        "time to resume",
        format!(
            "p50 {}  p99 {}  last {}",
            report::ms(resume.p50_us),
            report::ms(resume.p99_us),
            report::ms(resume.max_us)
        ),
    );
    r.row(
        "time to last frame",
        format!(
            "p50 {}  p99 {}  last {}",
            report::ms(caught_up.p50_us),
            report::ms(caught_up.p99_us),
            report::ms(caught_up.max_us)
        ),
    );
    r.row(
        "frames",
        format!(
            "{} lost, {} duplicated, {} of another group; {} received after the resumes",
            sum.lost, sum.duplicated, sum.foreign, sum.after_resume
        ),
    );
    r.row("cpu (storm)", cpu.describe());
    let kib_opt =
        |v: Option<u64>| v.map_or("unknown (no --server-pid)".into(), |k| format!("{k} KiB"));
    r.row(
        "server RSS",
        format!(
            "before {}, connected {}, parked {}, {}, peak during the storm {}",
            kib_opt(rss_before),
            kib_opt(rss_connected),
            kib_opt(rss_parked),
            match filled {
                Some(f) => format!("parked + {} fillers {}", f.opened, kib_opt(f.rss_kib)),
                None if args.no_fill => "no fillers (--no-fill)".to_owned(),
                None => "no fillers (server pid unknown)".to_owned(),
            },
            kib_opt(peak_rss)
        ),
    );
    r.row(
        "per session",
        format!(
            "connected {}, parked {}",
            per_connected.map_or("unknown".into(), report::kib),
            per_parked.map_or("unknown".into(), report::kib)
        ),
    );
    if !samples.is_empty() {
        r.row("error samples", samples.joined());
    }
    r.field("clients", n);
    r.field("connected", joined);
    r.field("groups", args.groups);
    r.field("frames_before", args.before);
    r.field("frames_from_cut", args.frames);
    r.field("server", server.addr.to_string());
    r.field("server_spawned", server.spawned());
    r.field("connect_s", connect_time.as_secs_f64());
    r.field("parked", parked.ok());
    r.field("resumed", sum.resumed);
    r.field("refused", sum.refused);
    r.field("failed", sum.failed);
    r.field("lost", sum.lost);
    r.field("duplicated", sum.duplicated);
    r.field("foreign", sum.foreign);
    r.field("frames_after_resume", sum.after_resume);
    r.field("all_resumed_s", all_resumed.as_secs_f64());
    r.field("storm_s", storm_time.as_secs_f64());
    r.field("resume_us", resume);
    r.field("caught_up_us", caught_up);
    r.field("cpu", cpu);
    r.field("rss_before_kib", rss_before);
    r.field("rss_connected_kib", rss_connected);
    r.field("rss_parked_kib", rss_parked);
    r.field("rss_parked_filled_kib", filled.and_then(|f| f.rss_kib));
    r.field("fillers", filled.map(|f| f.opened));
    r.field("rss_peak_storm_kib", peak_rss);
    r.field("bytes_per_connected_session", per_connected);
    r.field("bytes_per_parked_session", per_parked);
    r.field("errors", errors);
    r.field("error_samples", samples.into_vec());
    Ok(r)
}

/// The clients' notes, counted by stage.
struct Tally {
    notes: mpsc::UnboundedReceiver<Note>,
    reached: [usize; 4],
    /// Clients still going.
    alive: usize,
}

impl Tally {
    fn new(n: usize, notes: mpsc::UnboundedReceiver<Note>) -> Self {
        Self {
            notes,
            reached: [0; 4],
            alive: n,
        }
    }

    /// Waits until every client still going reached `stage` (or `timeout`).
    async fn wait(&mut self, stage: Stage, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.reached[stage as usize] < self.alive {
            match tokio::time::timeout_at(deadline, self.notes.recv()).await {
                Ok(Some(Note::Reached(s))) => self.reached[s as usize] += 1,
                Ok(Some(Note::Gone(reached))) => {
                    self.alive -= 1;
                    if let Some(s) = reached {
                        for count in &mut self.reached[..=s as usize] {
                            *count -= 1;
                        }
                    }
                }
                Ok(None) | Err(_) => return,
            }
        }
    }
}

/// The outcomes of every client, added up.
struct Sums {
    resumed: u64,
    refused: u64,
    failed: u64,
    lost: u64,
    duplicated: u64,
    foreign: u64,
    after_resume: u64,
    resume: Latency,
    caught_up: Latency,
}

impl Sums {
    fn of(outcomes: &[Outcome], samples: &mut Samples) -> Self {
        let mut s = Sums {
            resumed: 0,
            refused: 0,
            failed: 0,
            lost: 0,
            duplicated: 0,
            foreign: 0,
            after_resume: 0,
            resume: Latency::new(),
            caught_up: Latency::new(),
        };
        for o in outcomes {
            s.lost += o.lost;
            s.duplicated += o.duplicated;
            s.foreign += o.foreign;
            s.after_resume += o.after_resume;
            if let Some(d) = o.resumed_after {
                s.resumed += 1;
                s.resume.record(d);
            }
            if let Some(d) = o.caught_up_after {
                s.caught_up.record(d);
            }
            if let Some(why) = &o.refused {
                s.refused += 1;
                samples.add(format!("resume refused: {why}"));
            }
            if let Some(e) = &o.error {
                s.failed += 1;
                samples.add(e.clone());
            }
        }
        s
    }
}

/// Publishes frames `from..=to` to every group, one per `--interval`, each
/// after the previous one was acknowledged (so each group gets them in
/// order).
async fn publish(control: &mut Ws, args: &StormArgs, from: u64, to: u64) -> Result<(), String> {
    for seq in from..=to {
        let event = format!(
            r#"{{"function":"bench_publish","data":{{"groups":{},"seq":{seq}}},"form":{{}},"ref":{seq}}}"#,
            args.groups
        );
        control
            .send(Message::text(event))
            .await
            .map_err(|e| format!("publisher send: {e}"))?;
        let deadline = tokio::time::Instant::now() + args.timeout;
        loop {
            let msg = match tokio::time::timeout_at(deadline, control.next()).await {
                Ok(Some(Ok(m))) => m,
                Ok(Some(Err(e))) => return Err(format!("publisher receive: {e}")),
                Ok(None) => return Err("publisher connection closed".into()),
                Err(_) => return Err(format!("frame {seq}: no acknowledgement")),
            };
            let Message::Text(text) = msg else { continue };
            let frame = Frame::parse(text.as_str())
                .map_err(|e| format!("publisher: unparseable frame ({e}): {text}"))?;
            if frame.reference == Some(seq) {
                if let Some(e) = frame.error_text() {
                    return Err(format!("publishing frame {seq} refused: {e}"));
                }
                break;
            }
        }
        tokio::time::sleep(args.interval).await;
    }
    Ok(())
}

/// The bench server's `GET /bench/sessions`.
#[derive(Debug, Clone, Copy)]
struct Sessions {
    connections: u64,
    parked: u64,
}

/// Polls the bench server's `GET /bench/sessions` until `done`; returns the
/// parked count.
async fn wait_sessions(
    addr: SocketAddr,
    timeout: Duration,
    done: impl Fn(Sessions) -> bool,
) -> Result<u64, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let now = sessions(addr).await?;
        if done(now) {
            return Ok(now.parked);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "after {timeout:?}, the server still has {} connection(s) and {} parked session(s)",
                now.connections, now.parked
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `GET /bench/sessions`.
async fn sessions(addr: SocketAddr) -> Result<Sessions, String> {
    let fail = |e: std::io::Error| format!("GET /bench/sessions: {e}");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.map_err(fail)?;
    let request =
        format!("GET /bench/sessions HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.map_err(fail)?;
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.map_err(fail)?;
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    match (v["connections"].as_u64(), v["parked"].as_u64()) {
        (Some(connections), Some(parked)) => Ok(Sessions {
            connections,
            parked,
        }),
        _ => Err(format!(
            "GET /bench/sessions: no counts in {:?}",
            response.lines().next().unwrap_or_default()
        )),
    }
}

/// What the fillers showed.
#[derive(Debug, Clone, Copy)]
struct Fill {
    /// Server RSS with the parked sessions and the fillers open.
    rss_kib: Option<u64>,
    opened: usize,
}

/// Opens `count` plain connections (client indices from `first`) while
/// the sessions are parked, reads the server's RSS, closes them and waits
/// until the server has let them go.
async fn fill(
    connector: &Connector,
    server: &Server,
    first: usize,
    count: usize,
    timeout: Duration,
    samples: &mut Samples,
) -> Fill {
    let before = sessions(server.addr).await.map_or(1, |s| s.connections);
    let fillers = connect_all(connector, first, count, false).await;
    samples.extend(fillers.samples);
    tokio::time::sleep(FILL_SETTLE).await;
    let rss_kib = server.rss_kib();
    let opened = fillers.conns.len();
    drop(fillers.conns);
    if let Err(e) = wait_sessions(server.addr, timeout, |c| c.connections <= before).await {
        samples.add(format!("closing the fillers: {e}"));
    }
    Fill { rss_kib, opened }
}

/// Samples the server's RSS until told to stop; the task's result is the
/// highest reading.
fn sample_rss(pid: Option<u32>) -> (oneshot::Sender<()>, tokio::task::JoinHandle<Option<u64>>) {
    let (stop, mut stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let pid = pid?;
        let mut peak = stats::read_vm_rss_kib(pid).ok();
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                () = tokio::time::sleep(RSS_SAMPLE) => {}
            }
            if let Ok(kib) = stats::read_vm_rss_kib(pid) {
                peak = peak.max(Some(kib));
            }
        }
        peak
    });
    (stop, task)
}
