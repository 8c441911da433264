//! The bench server (hidden `serve` subcommand): a minimal app on the
//! liveview crate with the handlers the scenarios use, and the same fragment
//! over plain HTTP for the `http` scenario.
//!
//! - `echo` (data `n`): replies `{"target":"#out","html":"<p>%08d</p>"}`.
//! - `bench_broadcast` (data `{seq}`): broadcasts
//!   `{"target":"#bcast","html":"<p>%08d</p>"}` to every connection; the
//!   event itself gets an acknowledgement.
//! - `GET /fragment?n=N`: the fragment for N as `text/html`.
//! - `bench_join` (data `{group}`, a number G): adds the connection to the
//!   group `storm:ROOM:G` of its room.
//! - `bench_publish` (data `{groups, seq}`): sends
//!   `{"target":"#storm-G","html":"<p>%08d</p>"}` to each group
//!   `storm:ROOM:G` of the connection's room, G in `0..groups`, in that
//!   order.
//! - `GET /bench/sessions`: `{"connections":C,"parked":P}`, the open sockets
//!   and the page sessions parked now (`storm` waits for its cut to show).

use std::sync::Arc;

use axum::Router;
use axum::extract::Query;
use axum::response::Html;
use axum::routing::get;
use liveview::layer::SendError;
use liveview::{Ctx, Data, Limits, LiveView, Patch};
use liveview_redis::RedisLayer;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::BoxError;
use crate::cli::ServeArgs;
use crate::client::{self, BROADCAST_TARGET, ECHO_TARGET};
use crate::scenarios::storm;

/// Most connections the bench server accepts (the file-descriptor limit
/// bounds it first).
const MAX_CONNECTIONS: usize = 200_000;

/// Runs the bench server until stdin closes (with `--print-addr`) or forever.
pub(crate) fn run(args: &ServeArgs) -> Result<(), BoxError> {
    crate::server::raise_nofile_limit();
    crate::target::check_loopback(args.addr.ip())?;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        builder.worker_threads(threads.max(1));
    }
    builder.enable_all().build()?.block_on(serve(args))
}

#[derive(Deserialize)]
struct Echo {
    n: u64,
}

#[derive(Deserialize)]
struct Broadcast {
    seq: u64,
}

#[derive(Deserialize)]
struct Join {
    group: u32,
}

#[derive(Deserialize)]
struct Publish {
    groups: u32,
    seq: u64,
}

#[derive(Deserialize)]
struct FragmentQuery {
    n: u64,
}

async fn echo(Data(d): Data<Echo>) -> Patch {
    Patch::html(ECHO_TARGET, client::fragment(d.n))
}

async fn bench_broadcast(ctx: Ctx, Data(b): Data<Broadcast>) -> Result<(), SendError> {
    ctx.broadcast(Patch::html(BROADCAST_TARGET, client::fragment(b.seq)))
        .await
}

async fn bench_join(ctx: Ctx, Data(j): Data<Join>) -> Result<(), SendError> {
    ctx.join(&storm::group_name(ctx.room(), j.group)).await
}

async fn bench_publish(ctx: Ctx, Data(p): Data<Publish>) -> Result<(), SendError> {
    for g in 0..p.groups {
        ctx.group_send(
            &storm::group_name(ctx.room(), g),
            Patch::html(storm::group_target(g), client::fragment(p.seq)),
        )
        .await?;
    }
    Ok(())
}

async fn fragment(Query(q): Query<FragmentQuery>) -> Html<String> {
    Html(client::fragment(q.n))
}

/// The bench app's routes; with a Redis layer, also `GET /layer-stats`:
/// `{"received": N, "dropped": N}`, the layer's counters.
pub(crate) fn app(
    read_buffer_bytes: Option<usize>,
    layer: Option<RedisLayer>,
) -> Result<Router, BoxError> {
    let mut limits = Limits::default()
        .events_per_second(None)
        // Checked on every frame (its cost is in the figures) but never
        // exhausted: the bench sends as fast as it can.
        .frame_budget(Some((u32::MAX, u32::MAX)))
        .max_connections(MAX_CONNECTIONS)
        .max_parked_sessions(MAX_CONNECTIONS);
    if let Some(bytes) = read_buffer_bytes {
        limits = limits.read_buffer_bytes(bytes);
    }
    let mut builder = LiveView::builder();
    let mut router = Router::new().route("/fragment", get(fragment));
    if let Some(layer) = layer {
        builder = builder.layer(layer.clone());
        router = router.route(
            "/layer-stats",
            get(move || {
                let layer = layer.clone();
                async move {
                    serde_json::json!({
                        "received": layer.received_messages(),
                        "dropped": layer.dropped_messages(),
                    })
                    .to_string()
                }
            }),
        );
    }
    let lv = builder
        .auto_register(false)
        .debug(false)
        .handler("echo", echo)
        .handler("bench_broadcast", bench_broadcast)
        .handler("bench_join", bench_join)
        .handler("bench_publish", bench_publish)
        .limits(limits)
        .allow_any_origin()
        .build()?;
    let lv_router = lv.router();
    let lv = Arc::new(lv);
    let sessions = move || {
        let lv = Arc::clone(&lv);
        async move {
            format!(
                r#"{{"connections":{},"parked":{}}}"#,
                lv.connection_count(),
                lv.parked_sessions()
            )
        }
    };
    Ok(router
        .route("/bench/sessions", get(sessions))
        .merge(lv_router))
}

async fn serve(args: &ServeArgs) -> Result<(), BoxError> {
    if let Some(filter) = &args.trace {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::try_new(filter)?)
            .with_writer(std::io::stderr)
            .try_init()?;
    }
    if args.metrics {
        // Before the app is built: its hot-path handles bind to it.
        let handle = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
            loop {
                every.tick().await;
                handle.run_upkeep();
            }
        });
    }
    let layer = match &args.redis {
        Some(url) => Some(
            liveview_redis::RedisConfig::new(url.clone())
                .connect()
                .await?,
        ),
        None => None,
    };
    let app = app(args.read_buffer_bytes, layer)?;
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    if args.print_addr {
        let mut out = tokio::io::stdout();
        out.write_all(format!("{}\n", listener.local_addr()?).as_bytes())
            .await?;
        out.flush().await?;
        // The parent holds our stdin: exit when it closes it or goes away.
        tokio::spawn(async {
            let mut stdin = tokio::io::stdin();
            let mut buf = [0u8; 64];
            while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
            std::process::exit(0);
        });
    }
    axum::serve(listener, app).await?;
    Ok(())
}
