//! `liveview-demo`: serves the demo gallery (see the library's docs).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use liveview_demo::{App, Config, build};
use tracing_subscriber::EnvFilter;

/// The liveview demo gallery: the seven cases of "From htmx to Django
/// LiveView", live, on an embedded SQLite database.
#[derive(Debug, Parser)]
#[command(name = "liveview-demo", version)]
struct Args {
    /// Address to listen on. Loopback only by default: the demo has no
    /// authentication, so think twice before using 0.0.0.0.
    #[arg(long, env = "LIVEVIEW_HOST", default_value = "127.0.0.1")]
    host: String,

    /// Port to listen on.
    #[arg(long, env = "LIVEVIEW_PORT", default_value_t = 8000)]
    port: u16,

    /// The SQLite database file; created, with its tables and a few thousand
    /// articles, on first start.
    #[arg(
        long,
        value_name = "PATH",
        env = "LIVEVIEW_DB",
        default_value = "liveview-demo.sqlite3"
    )]
    db: PathBuf,

    /// Run as one node of several sharing this Redis (6.2 or later), e.g.
    /// redis://127.0.0.1:6379/: chat messages and the visitors count then
    /// reach the pages of every node (give them one --db file). Default:
    /// none, the in-memory channel layer (one node, nothing else to run).
    #[arg(long, value_name = "URL", env = "LIVEVIEW_REDIS")]
    redis: Option<String>,

    /// Sign room ids with this secret (32 bytes or more; give every node
    /// the same) and refuse WebSockets to any room the server did not
    /// issue. Read from the environment only, to keep it out of `ps`.
    #[arg(skip = std::env::var("LIVEVIEW_ROOM_SECRET").ok())]
    room_secret: Option<String>,

    /// Do not record metrics (no `/metrics`, no live metrics on the stats
    /// page).
    #[arg(long)]
    no_metrics: bool,

    /// Serve `/metrics` to every client, not only to loopback ones.
    #[arg(long, env = "LIVEVIEW_METRICS_PUBLIC")]
    metrics_public: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,liveview=info")),
        )
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = Config::new(&args.db);
    config.redis.clone_from(&args.redis);
    config.room_secret.clone_from(&args.room_secret);
    if !args.no_metrics {
        // Before the demo is built: liveview binds its handles to it.
        config.exporter = Some(liveview_demo::exporter::install()?.public(args.metrics_public));
    }
    let App { router, lv, state } = build(config).await?;
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(|err| format!("cannot listen on {}:{}: {err}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    let layer = match &args.redis {
        Some(url) => format!("redis {}", without_password(url)),
        None => "in-memory".to_owned(),
    };
    // Before the address is logged: whoever reads it may stop us at once.
    let shutdown = lv.shutdown_on(liveview::shutdown_signal());
    tracing::info!(db = %args.db.display(), %layer, "liveview demo on http://{addr}/ (Ctrl-C to stop)");
    liveview::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
    // Goodbye: with Redis, the other nodes drop this node's visitors now,
    // rather than when its heartbeat expires (the leaves of the pages
    // closed by the shutdown may still be on their way).
    state.presence.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The URL with its password, if any, replaced by `***`, for the log.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => {
                format!("{scheme}://{user}:***@{host}{}", &rest[authority_end..])
            }
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn flags_and_defaults() {
        Args::command().debug_assert();
        let defaults = Args::try_parse_from(["liveview-demo"]);
        let args = Args::try_parse_from([
            "liveview-demo",
            "--host",
            "::1",
            "--port",
            "9000",
            "--db",
            "/tmp/x.db",
            "--redis",
            "redis://127.0.0.1:6390/",
        ]);
        match (defaults, args) {
            (Ok(defaults), Ok(args)) => {
                // The environment may set LIVEVIEW_*; only check what flags override.
                assert!(!defaults.host.is_empty());
                assert_eq!((args.host.as_str(), args.port), ("::1", 9000));
                assert_eq!(args.db, PathBuf::from("/tmp/x.db"));
                assert_eq!(args.redis.as_deref(), Some("redis://127.0.0.1:6390/"));
            }
            other => panic!("cannot parse: {other:?}"),
        }
        let help = Args::command().render_long_help().to_string();
        for documented in [
            "LIVEVIEW_HOST",
            "LIVEVIEW_PORT",
            "LIVEVIEW_DB",
            "LIVEVIEW_REDIS",
            "--redis <URL>",
            "in-memory",
            "127.0.0.1",
            "8000",
            "liveview-demo.sqlite3",
        ] {
            assert!(help.contains(documented), "--help lacks {documented}");
        }
    }

    #[test]
    fn passwords_stay_out_of_the_log() {
        assert_eq!(
            without_password("redis://:s3cret@redis.internal:6379/2"),
            "redis://:***@redis.internal:6379/2"
        );
        assert_eq!(
            without_password("redis://app:s3cret@10.0.0.5"),
            "redis://app:***@10.0.0.5"
        );
        for plain in [
            "redis://127.0.0.1:6379/",
            "redis://app@h/",
            "unix:///run/redis.sock",
        ] {
            assert_eq!(without_password(plain), plain);
        }
    }
}
