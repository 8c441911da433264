//! Connection churn against a running demo (issue 14, item 5): `N` open
//! pages, and one client that connects and closes as fast as it can for
//! `SECS` seconds, from 127.0.0.1. Prints the server's CPU (from
//! `/proc/PID/stat`) and the frames the pages received per second.
//!
//! ```sh
//! liveview-demo --port 8011 --db /tmp/churn.sqlite3 &
//! cargo run -p liveview-demo --example churn -- 127.0.0.1:8011 $! 1000 10 [polite]
//! ```
//!
//! The pages connect from 127.0.1.1 to 127.0.1.250 (4 each), so that they
//! stay within the per-address cap; the churning client is refused (429)
//! beyond it and tries again at once (with `polite`: after its
//! `Retry-After`). A load tool, not a test: it asserts
//! nothing.

// A command-line tool: its result is its output.
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::net::TcpSocket;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// Clock ticks per second of `/proc/PID/stat` (`USER_HZ`, 100 on Linux).
const TICKS: f64 = 100.0;

fn server_cpu_secs(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or("bad stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11).ok_or("no utime")?.parse()?;
    let stime: f64 = fields.get(12).ok_or("no stime")?.parse()?;
    Ok((utime + stime) / TICKS)
}

async fn connect(
    server: SocketAddr,
    from: Ipv4Addr,
) -> std::result::Result<
    tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    Box<dyn Error + Send + Sync>,
> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::V4(from), 0))?;
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    let room = format!("churn{}", rand_suffix());
    let url = format!("ws://{server}/ws/liveview/{room}/?v=1");
    let (ws, _) = tokio_tungstenite::client_async(url, stream).await?;
    Ok(ws)
}

fn rand_suffix() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: churn ADDR SERVER_PID [PAGES] [SECS]";
    let server: SocketAddr = args.get(1).ok_or(usage)?.parse()?;
    let pid: u32 = args.get(2).ok_or(usage)?.parse()?;
    let pages: usize = args.get(3).map_or(Ok(1000), |a| a.parse())?;
    let secs: u64 = args.get(4).map_or(Ok(10), |a| a.parse())?;
    // `polite`: after a 429, wait for its Retry-After (as fast as the cap
    // allows); otherwise try again at once.
    let polite = args.get(5).is_some_and(|a| a == "polite");

    let frames = Arc::new(AtomicU64::new(0));
    let opening = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..pages {
        let last = u8::try_from(i / 4 % 250 + 1)?;
        let ws = connect(server, Ipv4Addr::new(127, 0, 1, last)).await?;
        let frames = Arc::clone(&frames);
        tasks.push(tokio::spawn(async move {
            let (_write, mut read) = ws.split();
            while let Some(Ok(_)) = read.next().await {
                frames.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let opened = opening.elapsed();
    // Let the pushes of the opening settle.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let cpu_before = server_cpu_secs(pid)?;
    let frames_before = frames.load(Ordering::Relaxed);
    let start = Instant::now();
    let (mut accepted, mut refused, mut failed) = (0u64, 0u64, 0u64);
    while start.elapsed() < Duration::from_secs(secs) {
        match connect(server, Ipv4Addr::LOCALHOST).await {
            Ok(mut ws) => {
                accepted += 1;
                let _ = ws.close(None).await;
            }
            Err(err) => match err.downcast_ref::<tokio_tungstenite::tungstenite::Error>() {
                Some(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 429 => {
                    refused += 1;
                    if polite {
                        let wait = r
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse::<u64>().ok())
                            .unwrap_or(1);
                        tokio::time::sleep(Duration::from_secs(wait)).await;
                    }
                }
                _ => failed += 1,
            },
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = server_cpu_secs(pid)? - cpu_before;
    let received = frames.load(Ordering::Relaxed) - frames_before;
    println!(
        "{{\"pages\":{pages},\"opened_s\":{:.2},\"secs\":{elapsed:.2},\"accepted_per_s\":{:.1},\"refused_per_s\":{:.1},\"failed\":{failed},\"server_cpu_percent\":{:.1},\"frames_per_s\":{:.0}}}",
        opened.as_secs_f64(),
        accepted as f64 / elapsed,
        refused as f64 / elapsed,
        100.0 * cpu / elapsed,
        received as f64 / elapsed,
    );
    for task in tasks {
        task.abort();
    }
    Ok(())
}
