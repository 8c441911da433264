//! `http`: the same fragment over plain HTTP/1.1, as an htmx page fetches
//! it: each client holds one keep-alive connection and sends
//! `GET /fragment?n=..` requests in sequence.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use http::{Request, header};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::sync::{Barrier, Semaphore};
use tokio::task::JoinSet;

use super::tally::ClientResult;
use crate::BoxError;
use crate::cli::HttpArgs;
use crate::client::{Connector, html_number};
use crate::progress::Progress;
use crate::report::{self, Report};
use crate::server::Server;
use crate::stats::{self, CpuMeter};
use crate::target;

/// Runs `http`.
pub(crate) async fn run(args: &HttpArgs, server: &Server) -> Result<Report, BoxError> {
    let common = &args.common;
    let show = !common.no_progress;
    let connector = Connector::new(server.addr, common);
    let n = args.clients;
    let host: Arc<str> = target::host_header(server.addr).into();

    // Connect everyone first.
    let connect_bar = Progress::new(show && n >= 100, n as u64, "connecting");
    let limit = Arc::new(Semaphore::new(common.connect_concurrency.max(1)));
    let mut connecting = JoinSet::new();
    for idx in 0..n {
        let (connector, limit) = (connector.clone(), Arc::clone(&limit));
        connecting.spawn(async move {
            let _permit = limit.acquire_owned().await?;
            let stream = connector.tcp(idx).await?;
            let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            Ok::<_, BoxError>(sender)
        });
    }
    let mut senders = Vec::with_capacity(n);
    let mut total = ClientResult::default();
    while let Some(joined) = connecting.join_next().await {
        connect_bar.inc();
        match joined {
            Ok(Ok(s)) => senders.push(s),
            Ok(Err(e)) => {
                total.errors += 1;
                total.samples.add(format!("connect: {e}"));
            }
            Err(e) => {
                total.errors += 1;
                total.samples.add(format!("connect task: {e}"));
            }
        }
    }
    connect_bar.finish();
    let connected = senders.len();

    let barrier = Arc::new(Barrier::new(connected + 1));
    let bar = Progress::new(
        show,
        args.requests.saturating_mul(connected as u64),
        "requests",
    );
    let counter = bar.counter();
    let mut set = JoinSet::new();
    for sender in senders {
        set.spawn(drive(
            sender,
            Arc::clone(&host),
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
    let rps = stats::rate(p.count, elapsed);
    let mut r = Report::new(
        "http",
        format!(
            "liveview-bench http: {n} client(s), keep-alive HTTP/1.1, server {}",
            server.describe()
        ),
    );
    r.row("connected", format!("{connected} of {n}"));
    r.row(
        "requests",
        format!(
            "{} sent, {} responses, {} errors (warm-up included)",
            total.sent, total.received, total.errors
        ),
    );
    r.row(
        "measured",
        format!("{} requests in {:.3} s", p.count, elapsed.as_secs_f64()),
    );
    r.row("requests/s", report::thousands(rps));
    r.row("latency", report::latency(&p));
    r.row("cpu (measured)", cpu.describe());
    if !total.samples.is_empty() {
        r.row("error samples", total.samples.joined());
    }
    r.field("clients", n);
    r.field("connected", connected);
    r.field("server", server.addr.to_string());
    r.field("server_spawned", server.spawned());
    r.field("requests_per_client", args.requests);
    r.field("sent", total.sent);
    r.field("received", total.received);
    r.field("errors", total.errors);
    r.field("measured_requests", p.count);
    r.field("elapsed_s", elapsed.as_secs_f64());
    r.field("requests_per_s", (rps * 10.0).round() / 10.0);
    r.field("latency_us", p);
    r.field("cpu", cpu);
    r.field("error_samples", total.samples.into_vec());
    Ok(r)
}

async fn drive(
    mut sender: SendRequest<Empty<Bytes>>,
    host: Arc<str>,
    args: HttpArgs,
    barrier: Arc<Barrier>,
    counter: Arc<AtomicU64>,
) -> ClientResult {
    let mut result = ClientResult::default();
    let mut next = 1u64;
    let mut alive = true;
    for (count, record) in [(args.warmup, false), (args.requests, true)] {
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
            match tokio::time::timeout(args.reply_timeout, fetch(&mut sender, &host, n)).await {
                Ok(Ok(())) => {
                    result.received += 1;
                    if record {
                        result.latency.record(started.elapsed());
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(Err(Failure::Wrong(e))) => {
                    result.received += 1;
                    result.errors += 1;
                    result.samples.add(e);
                }
                Ok(Err(Failure::Broken(e))) => {
                    result.errors += 1;
                    result.samples.add(e);
                    alive = false;
                }
                Err(_) => {
                    result.errors += 1;
                    result
                        .samples
                        .add(format!("no response within {:?}", args.reply_timeout));
                    alive = false;
                }
            }
        }
    }
    result
}

enum Failure {
    /// A response, but not the expected one.
    Wrong(String),
    /// The connection is unusable.
    Broken(String),
}

async fn fetch(sender: &mut SendRequest<Empty<Bytes>>, host: &str, n: u64) -> Result<(), Failure> {
    let request = Request::get(format!("/fragment?n={n}"))
        .header(header::HOST, host)
        .header(header::ACCEPT, "text/html")
        .header("HX-Request", "true")
        .body(Empty::new())
        .map_err(|e| Failure::Broken(format!("request: {e}")))?;
    sender
        .ready()
        .await
        .map_err(|e| Failure::Broken(format!("connection: {e}")))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| Failure::Broken(format!("request: {e}")))?;
    let status = response.status();
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| Failure::Broken(format!("body: {e}")))?
        .to_bytes();
    if !status.is_success() {
        return Err(Failure::Wrong(format!("HTTP {status}")));
    }
    if !html {
        return Err(Failure::Wrong("response is not text/html".into()));
    }
    let text = std::str::from_utf8(&body).unwrap_or("");
    if html_number(text) == Some(n) {
        Ok(())
    } else {
        Err(Failure::Wrong(format!(
            "wrong fragment for n={n}: {text:?}"
        )))
    }
}
