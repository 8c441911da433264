//! `rtt --transport longpoll`: the event round trip over the long-poll
//! transport, as a browser that fell back to it does. Each client holds two
//! keep-alive HTTP/1.1 connections (a held `GET` occupies one): it keeps a
//! `GET` held, `POST`s an `echo` event on the other, and times the event
//! from the `POST` to the `GET` answer that carries its reply.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use http::{Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use super::tally::ClientResult;
use crate::BoxError;
use crate::cli::RttArgs;
use crate::client::{self, Connector, ECHO_TARGET, Frame};
use crate::progress::Progress;
use crate::report::{self, Report};
use crate::server::Server;
use crate::stats::{self, CpuMeter};
use crate::target;

/// One client's virtual socket: its id and its two connections.
struct Poll {
    id: String,
    base: String,
    host: Arc<str>,
    get: SendRequest<Full<Bytes>>,
    post: SendRequest<Full<Bytes>>,
}

/// Runs `rtt --transport longpoll`.
pub(crate) async fn rtt(args: &RttArgs, server: &Server) -> Result<Report, BoxError> {
    let common = &args.common;
    let show = !common.no_progress;
    let connector = Connector::new(server.addr, common);
    let host: Arc<str> = target::host_header(server.addr).into();
    let n = args.clients;
    let mut total = ClientResult::default();
    let mut polls = Vec::with_capacity(n);
    for idx in 0..n {
        match open(&connector, idx, &common.room, Arc::clone(&host)).await {
            Ok(poll) => polls.push(poll),
            Err(e) => {
                total.errors += 1;
                total.samples.add(format!("open: {e}"));
            }
        }
    }
    let connected = polls.len();
    let barrier = Arc::new(Barrier::new(connected + 1));
    let bar = Progress::new(show, args.events.saturating_mul(connected as u64), "events");
    let counter = bar.counter();
    let mut set = JoinSet::new();
    for poll in polls {
        set.spawn(drive(
            poll,
            args.clone(),
            Arc::clone(&barrier),
            Arc::clone(&counter),
        ));
    }
    barrier.wait().await;
    let start = Instant::now();
    let cpu = CpuMeter::start(server.pid);
    total.collect(&mut set).await;
    let elapsed = start.elapsed();
    let cpu = cpu.stop();
    bar.finish();

    let p = total.latency.percentiles();
    let eps = stats::rate(p.count, elapsed);
    let mut r = Report::new(
        "rtt",
        format!(
            "liveview-bench rtt: {n} client(s), long-poll transport, server {}",
            server.describe()
        ),
    );
    r.row("connected", format!("{connected} of {n}"));
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
    r.row("latency", report::latency(&p));
    r.row("cpu (measured)", cpu.describe());
    if !total.samples.is_empty() {
        r.row("error samples", total.samples.joined());
    }
    r.field("transport", "longpoll");
    r.field("clients", n);
    r.field("connected", connected);
    r.field("server", server.addr.to_string());
    r.field("server_spawned", server.spawned());
    r.field("events_per_client", args.events);
    r.field("warmup_per_client", args.warmup);
    r.field("sent", total.sent);
    r.field("received", total.received);
    r.field("errors", total.errors);
    r.field("measured_events", p.count);
    r.field("elapsed_s", elapsed.as_secs_f64());
    r.field("events_per_s", (eps * 10.0).round() / 10.0);
    r.field("latency_us", p);
    r.field("cpu", cpu);
    r.field("error_samples", total.samples.into_vec());
    Ok(r)
}

/// A keep-alive HTTP/1.1 connection for client `idx`.
async fn connection(
    connector: &Connector,
    idx: usize,
) -> Result<SendRequest<Full<Bytes>>, BoxError> {
    let stream = connector.tcp(idx).await?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Opens a virtual socket (`POST .../poll?v=2`) and reads its session
/// frame.
async fn open(
    connector: &Connector,
    idx: usize,
    room: &str,
    host: Arc<str>,
) -> Result<Poll, BoxError> {
    let mut post = connection(connector, idx).await?;
    let get = connection(connector, idx).await?;
    let base = format!("/ws/liveview/{room}/poll");
    let opened = send(&mut post, &host, Method::POST, &format!("{base}?v=2"), "").await?;
    let opened: serde_json::Value = serde_json::from_slice(&opened)?;
    let id = opened["poll"].as_str().ok_or("no poll id")?.to_owned();
    let mut poll = Poll {
        id,
        base,
        host,
        get,
        post,
    };
    let first = poll.receive().await?;
    if !String::from_utf8_lossy(&first).contains("\"session\"") {
        return Err("the first answer has no session frame".into());
    }
    Ok(poll)
}

/// One request; the body of a `2xx` answer.
async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    host: &str,
    method: Method,
    path: &str,
    body: &str,
) -> Result<Bytes, BoxError> {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, host)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))?;
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        return Err(format!("{path}: {status}").into());
    }
    Ok(body)
}

impl Poll {
    /// One held `GET`'s answer.
    async fn receive(&mut self) -> Result<Bytes, BoxError> {
        let path = format!("{}/{}", self.base, self.id);
        send(&mut self.get, &self.host, Method::GET, &path, "").await
    }

    /// Sends event `n` and waits for its reply through the `GET`s.
    async fn round_trip(&mut self, n: u64) -> Result<(), String> {
        let path = format!("{}/{}", self.base, self.id);
        let event = format!("[{}]", client::echo_event(n, n));
        let (host, get, post) = (&*self.host, &mut self.get, &mut self.post);
        let getting = send(get, host, Method::GET, &path, "");
        let posting = send(post, host, Method::POST, &path, &event);
        let (mut answer, posted) = tokio::join!(getting, posting);
        posted.map_err(|e| format!("POST: {e}"))?;
        loop {
            let body = answer.map_err(|e| format!("GET: {e}"))?;
            if let Some(result) = find_reply(&body, n) {
                return result;
            }
            answer = send(get, host, Method::GET, &path, "").await;
        }
    }
}

/// The reply to event `n` in a `GET` answer, if it is there.
fn find_reply(body: &[u8], n: u64) -> Option<Result<(), String>> {
    #[derive(serde::Deserialize)]
    struct Answer<'a> {
        #[serde(borrow)]
        frames: Vec<&'a serde_json::value::RawValue>,
    }
    let answer: Answer<'_> = match serde_json::from_slice(body) {
        Ok(answer) => answer,
        Err(e) => return Some(Err(format!("bad answer: {e}"))),
    };
    answer.frames.iter().find_map(|raw| {
        let frame = Frame::parse(raw.get()).ok()?;
        if frame.reference != Some(n) {
            return None;
        }
        Some(match (frame.number_for(ECHO_TARGET), frame.error_text()) {
            (Some(got), _) if got == n => Ok(()),
            (_, Some(error)) => Err(error),
            _ => Err(format!("wrong reply to {n}: {}", raw.get())),
        })
    })
}

async fn drive(
    mut poll: Poll,
    args: RttArgs,
    barrier: Arc<Barrier>,
    counter: Arc<AtomicU64>,
) -> ClientResult {
    let mut result = ClientResult::default();
    let mut next = 1u64;
    let mut alive = true;
    for (count, record) in [(args.warmup, false), (args.events, true)] {
        if record {
            barrier.wait().await;
        }
        let deadline = Instant::now() + args.max_duration;
        let mut left = count;
        while alive && left > 0 && Instant::now() < deadline {
            left -= 1;
            let n = next;
            next += 1;
            result.sent += 1;
            let started = Instant::now();
            match tokio::time::timeout(args.reply_timeout, poll.round_trip(n)).await {
                Ok(Ok(())) => {
                    result.received += 1;
                    if record {
                        result.latency.record(started.elapsed());
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(Err(e)) => {
                    result.errors += 1;
                    result.samples.add(e);
                    alive = false;
                }
                Err(_) => {
                    result.errors += 1;
                    result
                        .samples
                        .add(format!("no reply within {:?}", args.reply_timeout));
                    alive = false;
                }
            }
        }
    }
    let path = format!("{}/{}?close=1001", poll.base, poll.id);
    let _ = send(&mut poll.post, &poll.host, Method::POST, &path, "").await;
    result
}
