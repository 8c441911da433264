//! Command-line interface.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

const LONG_ABOUT: &str = "\
Benchmarks a server speaking the liveview wire protocol (docs/protocol.md) over \
WebSockets, and the same HTML fragment over plain HTTP.

Unless --url is given, the tool starts its own bench server (this binary, hidden \
subcommand `serve`, built on the liveview crate) as a child process on \
127.0.0.1, so that it can read the server's memory from /proc. A server given \
with --url must implement the bench app: handler `echo` (data `n`) answering a \
patch to `#out` whose HTML is the fragment for n (`<p>%08d</p>`), handler \
`bench_broadcast` (data `seq`) broadcasting a patch to `#bcast` with the fragment \
for seq to every connection, and `GET /fragment?n=N` returning the fragment as \
text/html. For `storm`, also: handler `bench_join` (data `group`, a number G) adding the \
connection to group G of its room, handler `bench_publish` (data `groups`, \
`seq`) sending a patch to `#storm-G` with the fragment for seq to each group G \
of its room (G in 0..groups), and `GET /bench/sessions` answering `{\"parked\":P}`, the page \
sessions parked now.

Only loopback addresses (127.0.0.0/8, ::1) are ever targeted. Client connections \
are spread over several 127.0.0.x source addresses so that tens of thousands of \
them do not exhaust one address's ephemeral ports, and both processes raise \
their open-file limit to the hard limit.

Output: a human-readable table, then one line of JSON with the same figures \
(latencies in microseconds). The exit status is 2 when any event, request or \
broadcast went unanswered or was answered wrongly (storm: any frame lost or \
duplicated, any resume refused), 1 on a fatal error.";

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "liveview-bench",
    version,
    about = "Benchmark tool for servers speaking the liveview wire protocol",
    long_about = LONG_ABOUT
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The scenarios.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Event round trip: each client sends `echo` events one at a time, waiting
    /// for each reply; latency percentiles and events per second.
    Rtt(RttArgs),
    /// Throughput: clients keep `--window` events in flight each, sending the
    /// next as soon as a reply comes back, for `--duration`; events per second
    /// and the latency at that load.
    Throughput(ThroughputArgs),
    /// Broadcast fan-out: N clients connected, a control client triggers one
    /// broadcast per round; time until the first, the median and the last
    /// client has it.
    Fanout(FanoutArgs),
    /// Idle connections: opens N connections, holds them, and reports the
    /// server's resident memory per connection (from /proc/PID/status).
    Idle(IdleArgs),
    /// The same fragment over plain HTTP/1.1 (keep-alive), as an htmx page
    /// would fetch it: each client sends `GET /fragment?n=..` in sequence.
    Http(HttpArgs),
    /// Reconnect storm: N version-2 page sessions in groups, every socket
    /// reset at once while numbered frames go on being published to the
    /// groups, then every client resumes at once; time until all are
    /// resumed, frames lost or duplicated (must be none), server memory per
    /// parked session.
    Storm(StormArgs),
    /// Runs the bench server (used by the tool itself).
    #[command(hide = true)]
    Serve(ServeArgs),
}

/// Options shared by every scenario.
#[derive(Debug, Clone, Args)]
pub(crate) struct Common {
    /// Base URL of a running server to benchmark instead of starting one
    /// (e.g. http://127.0.0.1:8000). Must be a loopback address.
    #[arg(long, value_name = "URL")]
    pub(crate) url: Option<String>,

    /// PID of the server given with --url, to read its memory from /proc
    /// (idle scenario) and its open-file limit.
    #[arg(long, value_name = "PID", requires = "url")]
    pub(crate) server_pid: Option<u32>,

    /// Room the clients connect to (`/ws/liveview/{room}/?v=1`).
    #[arg(long, default_value = "bench")]
    pub(crate) room: String,

    /// Connect with protocol version 2 (`?v=2`): every connection is a page
    /// session whose frames the server numbers and keeps for a resume (the
    /// cost of that journal shows in the figures). `storm` always does.
    #[arg(long)]
    pub(crate) v2: bool,

    /// Number of 127.0.0.x source addresses the client connections are spread
    /// over (127.0.0.1, 127.0.0.2, ...); IPv6 servers use ::1 only.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u8).range(1..=254))]
    pub(crate) source_addrs: u8,

    /// Maximum number of connection handshakes in flight at once.
    #[arg(long, default_value_t = 128)]
    pub(crate) connect_concurrency: usize,

    /// Worker threads of the spawned server's runtime (default: one per core).
    #[arg(long, value_name = "N")]
    pub(crate) server_threads: Option<usize>,

    /// Initial WebSocket read buffer of the spawned server, per connection
    /// (liveview's `Limits::read_buffer_bytes`; default: liveview's default).
    #[arg(long, value_name = "BYTES")]
    pub(crate) server_read_buffer: Option<usize>,

    /// Install a Prometheus recorder in the spawned server (liveview's
    /// metrics recorded, as an app exporting them would).
    #[arg(long)]
    pub(crate) server_metrics: bool,

    /// Install a `tracing` subscriber in the spawned server with this filter
    /// (e.g. `info`: liveview's event and broadcast spans are created).
    #[arg(long, value_name = "FILTER")]
    pub(crate) server_trace: Option<String>,

    /// Hide the progress bar (it is only drawn when stderr is a terminal).
    #[arg(long)]
    pub(crate) no_progress: bool,

    /// Print only the JSON line, no table.
    #[arg(long)]
    pub(crate) json_only: bool,
}

/// `rtt` options.
#[derive(Debug, Clone, Args)]
pub(crate) struct RttArgs {
    /// Number of concurrent clients (one WebSocket connection each).
    #[arg(short = 'n', long, default_value_t = 1)]
    pub(crate) clients: usize,

    /// Measured events per client.
    #[arg(short, long, default_value_t = 10_000)]
    pub(crate) events: u64,

    /// Unmeasured warm-up events per client, sent before the measurement.
    #[arg(long, default_value_t = 100)]
    pub(crate) warmup: u64,

    /// Stop sending after this long even if not all events were sent
    /// (seconds, or with a unit: 500ms, 20s).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub(crate) max_duration: Duration,

    /// Give up on a reply after this long (counts as an error).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) reply_timeout: Duration,

    /// How the clients reach the server: a WebSocket each, or the
    /// long-poll transport (protocol version 2; a held `GET` and `POST`ed
    /// events on two keep-alive HTTP/1.1 connections per client).
    #[arg(long, value_enum, default_value_t = Transport::Websocket)]
    pub(crate) transport: Transport,

    #[command(flatten)]
    pub(crate) nodes: NodesArgs,

    #[command(flatten)]
    pub(crate) common: Common,
}

/// The transport of `rtt`'s clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Transport {
    /// One WebSocket per client.
    Websocket,
    /// The long-poll transport (docs/protocol.md, "Long-poll transport").
    Longpoll,
}

/// `throughput` options.
#[derive(Debug, Clone, Args)]
pub(crate) struct ThroughputArgs {
    /// Number of concurrent clients (one WebSocket connection each).
    #[arg(short = 'n', long, default_value_t = 100)]
    pub(crate) clients: usize,

    /// How long to measure (seconds, or with a unit: 500ms, 20s).
    #[arg(short, long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) duration: Duration,

    /// Unmeasured warm-up before the measurement.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub(crate) warmup: Duration,

    /// Events each client keeps in flight (1: send the next event when the
    /// reply to the previous one arrives).
    #[arg(short, long, default_value_t = 1)]
    pub(crate) window: usize,

    /// Offer this many events per second in total, spread evenly over the
    /// clients (open loop), instead of sending as fast as replies come back;
    /// shows the latency at a given load. An event a client could not send
    /// on time because its window was full counts its latency from when it
    /// was due.
    #[arg(long, value_name = "EVENTS_PER_S", value_parser = parse_rate)]
    pub(crate) rate: Option<f64>,

    /// Give up on a reply after this long (counts as an error).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) reply_timeout: Duration,

    #[command(flatten)]
    pub(crate) common: Common,
}

/// `fanout` options.
#[derive(Debug, Clone, Args)]
pub(crate) struct FanoutArgs {
    /// Number of receiving clients (a control client is added).
    #[arg(short = 'n', long, default_value_t = 1000)]
    pub(crate) clients: usize,

    /// Measured broadcasts.
    #[arg(short, long, default_value_t = 20)]
    pub(crate) rounds: u64,

    /// Unmeasured warm-up broadcasts before the measured ones.
    #[arg(long, default_value_t = 1)]
    pub(crate) warmup: u64,

    /// Pause between two broadcasts, after every client got the previous one.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub(crate) interval: Duration,

    /// Give up waiting for a broadcast's deliveries after this long (the
    /// missing ones count as errors).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) round_timeout: Duration,

    #[command(flatten)]
    pub(crate) nodes: NodesArgs,

    #[command(flatten)]
    pub(crate) common: Common,
}

/// Several bench servers on one Redis (`fanout` and `rtt`).
#[derive(Debug, Clone, Args)]
pub(crate) struct NodesArgs {
    /// Start this many bench servers sharing one Redis, spread the clients
    /// over them (client i on node i mod K) and send from node 0; the
    /// report has a row per node, Redis's CPU and the messages through
    /// Redis per broadcast. 1: one server, no Redis.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64), conflicts_with = "url")]
    pub(crate) nodes: u16,

    /// The Redis the nodes share (loopback only): `redis://127.0.0.1:PORT`
    /// or `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,...`. Default: a
    /// `redis-server` the tool starts on a free loopback port.
    #[arg(long, value_name = "URL", requires = "nodes")]
    pub(crate) redis: Option<String>,

    /// Start a Redis Cluster for the nodes instead of one `redis-server`:
    /// this many masters (3 to 16), each with one replica, on free loopback
    /// ports (Debian's `redis-server` and `redis-cli`).
    #[arg(long, value_name = "MASTERS", value_parser = clap::value_parser!(u16).range(3..=16), conflicts_with = "redis", requires = "nodes")]
    pub(crate) cluster: Option<u16>,
}

/// `idle` options.
#[derive(Debug, Clone, Args)]
pub(crate) struct IdleArgs {
    /// Number of idle connections to open.
    #[arg(short = 'n', long, default_value_t = 1000)]
    pub(crate) clients: usize,

    /// How long to hold the connections before reading the server's memory.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub(crate) settle: Duration,

    /// Skip the final check that every connection still answers an event.
    #[arg(long)]
    pub(crate) no_verify: bool,

    /// Give up on a verification reply after this long (counts as an error).
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub(crate) reply_timeout: Duration,

    #[command(flatten)]
    pub(crate) common: Common,
}

/// `http` options.
#[derive(Debug, Clone, Args)]
pub(crate) struct HttpArgs {
    /// Number of concurrent clients (one keep-alive HTTP/1.1 connection each).
    #[arg(short = 'n', long, default_value_t = 1)]
    pub(crate) clients: usize,

    /// Measured requests per client.
    #[arg(short, long, default_value_t = 10_000)]
    pub(crate) requests: u64,

    /// Unmeasured warm-up requests per client.
    #[arg(long, default_value_t = 100)]
    pub(crate) warmup: u64,

    /// Stop sending after this long even if not all requests were sent.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub(crate) max_duration: Duration,

    /// Give up on a response after this long (counts as an error).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) reply_timeout: Duration,

    #[command(flatten)]
    pub(crate) common: Common,
}

/// `storm` options.
#[derive(Debug, Clone, Args)]
pub(crate) struct StormArgs {
    /// Number of page sessions (one version-2 client each).
    #[arg(short = 'n', long, default_value_t = 10_000)]
    pub(crate) clients: usize,

    /// Groups the sessions are spread over (client i joins group i % G).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) groups: u32,

    /// Frames published to every group while all sessions are connected,
    /// before the cut.
    #[arg(long, default_value_t = 3)]
    pub(crate) before: u64,

    /// Frames published to every group from the cut on (during the cut and
    /// the reconnect). The server's replay buffer (256 frames by default)
    /// must hold them.
    #[arg(long, default_value_t = 60)]
    pub(crate) frames: u64,

    /// Pause between two published frames.
    #[arg(long, default_value = "10ms", value_parser = parse_duration)]
    pub(crate) interval: Duration,

    /// How long the sockets stay cut before every client reconnects.
    #[arg(long, default_value = "300ms", value_parser = parse_duration)]
    pub(crate) cut: Duration,

    /// Publish every frame before the reconnect (the cut lasts at least
    /// until the last one is acknowledged): the clients get them all as a
    /// replay, none live.
    #[arg(long)]
    pub(crate) replay_only: bool,

    /// Maximum number of reconnect handshakes in flight at once (default:
    /// --connect-concurrency).
    #[arg(long, value_name = "N")]
    pub(crate) reconnect_concurrency: Option<usize>,

    /// Skip the parked-memory reading: while the sessions are parked (and
    /// before the publisher starts), the tool opens as many plain
    /// connections ("fillers", version 1 unless --v2) as there are
    /// sessions, reads the server's RSS and closes them. The fillers reuse
    /// the memory the cut sockets freed, so the RSS they add over the
    /// connected reading, divided by N, is what a parked session holds.
    #[arg(long)]
    pub(crate) no_fill: bool,

    /// Give up on a phase (connecting, a frame, the resume, the replay)
    /// after this long; what is missing then counts as errors.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub(crate) timeout: Duration,

    #[command(flatten)]
    pub(crate) common: Common,
}

/// `serve` options (the bench server).
#[derive(Debug, Clone, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub(crate) addr: SocketAddr,

    /// Print the bound address on stdout once listening, and exit when stdin
    /// closes (how the parent process drives it).
    #[arg(long)]
    pub(crate) print_addr: bool,

    /// Worker threads of the runtime (default: one per core).
    #[arg(long)]
    pub(crate) threads: Option<usize>,

    /// Initial WebSocket read buffer per connection (default: liveview's).
    #[arg(long)]
    pub(crate) read_buffer_bytes: Option<usize>,

    /// Install a Prometheus recorder before building the app.
    #[arg(long)]
    pub(crate) metrics: bool,

    /// Install a `tracing` fmt subscriber (to stderr) with this filter.
    #[arg(long, value_name = "FILTER")]
    pub(crate) trace: Option<String>,

    /// Share this Redis (or `redis+cluster://` Redis Cluster) with other
    /// nodes, through the Redis channel layer; `GET /layer-stats` then
    /// answers the layer's message counters.
    #[arg(long, value_name = "URL")]
    pub(crate) redis: Option<String>,
}

/// Parses a positive rate.
pub(crate) fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().replace('_', "").parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "invalid rate {s:?}: a positive number of events per second"
        )),
    }
}

/// Parses `10`, `1.5`, `500ms`, `20s` or `2m` into a duration.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (examples: 10, 1.5, 500ms, 20s, 2m)"))?;
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("30000"), Ok(30_000.0));
        assert_eq!(parse_rate("30_000"), Ok(30_000.0));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-5").is_err());
        assert!(parse_rate("fast").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn parses_a_scenario() {
        let cli =
            Cli::try_parse_from(["liveview-bench", "rtt", "-n", "3", "--events", "5"]).unwrap();
        match cli.command {
            Command::Rtt(a) => {
                assert_eq!(a.clients, 3);
                assert_eq!(a.events, 5);
                assert!(a.common.url.is_none());
            }
            other => unreachable!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["liveview-bench", "idle", "--server-pid", "1"]).is_err());
    }
}
