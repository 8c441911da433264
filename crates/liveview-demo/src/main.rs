//! `liveview-demo`: serves the demo gallery (see the library's docs).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use liveview_demo::{Config, build_app};
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
    let (app, lv) = build_app(Config::new(&args.db)).await?;
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(|err| format!("cannot listen on {}:{}: {err}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    tracing::info!(db = %args.db.display(), "liveview demo on http://{addr}/ (Ctrl-C to stop)");
    let shutdown = lv.shutdown_on(async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    });
    axum::serve(liveview::no_delay(listener), app)
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("stopped");
    Ok(())
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
        ]);
        match (defaults, args) {
            (Ok(defaults), Ok(args)) => {
                // The environment may set LIVEVIEW_*; only check what flags override.
                assert!(!defaults.host.is_empty());
                assert_eq!((args.host.as_str(), args.port), ("::1", 9000));
                assert_eq!(args.db, PathBuf::from("/tmp/x.db"));
            }
            other => panic!("cannot parse: {other:?}"),
        }
        let help = Args::command().render_long_help().to_string();
        for documented in [
            "LIVEVIEW_HOST",
            "LIVEVIEW_PORT",
            "LIVEVIEW_DB",
            "127.0.0.1",
            "8000",
            "liveview-demo.sqlite3",
        ] {
            assert!(help.contains(documented), "--help lacks {documented}");
        }
    }
}
