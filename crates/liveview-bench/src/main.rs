//! `liveview-bench`: a benchmark tool for servers speaking the liveview wire
//! protocol (see `docs/protocol.md`): event round trip, throughput,
//! broadcast fan-out, idle memory per connection, and the same fragment over
//! plain HTTP. Run `liveview-bench --help`.

mod cli;
mod client;
mod nodes;
mod progress;
mod redis_server;
mod report;
mod scenarios;
mod serve;
mod server;
mod stats;
mod target;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::report::Report;
use crate::server::Server;

/// The error type of fallible operations.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Serve(args) = &cli.command {
        return match serve::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("liveview-bench serve: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("liveview-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench(&cli.command)) {
        Ok(report) => {
            let json_only = common(&cli.command).is_some_and(|c| c.json_only);
            let mut out = std::io::stdout().lock();
            if let Err(e) = report.write(&mut out, json_only) {
                eprintln!("liveview-bench: writing the results: {e}");
                return ExitCode::FAILURE;
            }
            if report.number("errors") > 0 {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("liveview-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn common(command: &Command) -> Option<&cli::Common> {
    Some(match command {
        Command::Rtt(a) => &a.common,
        Command::Throughput(a) => &a.common,
        Command::Fanout(a) => &a.common,
        Command::Idle(a) => &a.common,
        Command::Http(a) => &a.common,
        Command::Storm(a) => &a.common,
        Command::Serve(_) => return None,
    })
}

/// Runs one scenario against its server.
async fn bench(command: &Command) -> Result<Report, BoxError> {
    let Some(common) = common(command) else {
        return Err("not a scenario".into());
    };
    target::check_room(&common.room)?;
    server::raise_nofile_limit();
    let connections = match command {
        Command::Rtt(a) => a.clients,
        Command::Throughput(a) => a.clients,
        Command::Fanout(a) => a.clients + 1,
        Command::Idle(a) => a.clients,
        Command::Http(a) => a.clients,
        Command::Storm(a) => a.clients + 1,
        Command::Serve(_) => 0,
    };
    if let Command::Rtt(a) = command {
        if a.transport == cli::Transport::Longpoll && a.nodes.nodes > 1 {
            return Err("rtt --transport longpoll runs against one server".into());
        }
    }
    let several = match command {
        Command::Fanout(a) => Some(&a.nodes),
        Command::Rtt(a) => Some(&a.nodes),
        _ => None,
    };
    if let Some(spec) = several.filter(|n| n.nodes > 1) {
        let nodes = nodes::Nodes::start(spec, common).await?;
        // This process holds every connection, and two pipes per server
        // besides the first; each server its share.
        let k = nodes.servers.len();
        let share = connections.div_ceil(k);
        for (i, server) in nodes.servers.iter().enumerate() {
            let need = if i == 0 {
                connections + 2 * (k - 1)
            } else {
                share
            };
            if let Err(e) = server.check_fd_budget(need) {
                nodes.stop().await;
                return Err(e);
            }
        }
        let result = match command {
            Command::Fanout(a) => scenarios::fanout_nodes::run(a, &nodes).await,
            Command::Rtt(a) => scenarios::load::rtt_nodes(a, &nodes).await,
            _ => Err("not a multi-node scenario".into()),
        };
        nodes.stop().await;
        return result;
    }
    let server = Server::start(common).await?;
    if let Err(e) = server.check_fd_budget(connections) {
        server.stop().await;
        return Err(e);
    }
    let result = match command {
        Command::Rtt(a) if a.transport == cli::Transport::Longpoll => {
            scenarios::longpoll::rtt(a, &server).await
        }
        Command::Rtt(a) => scenarios::load::rtt(a, &server).await,
        Command::Throughput(a) => scenarios::load::throughput(a, &server).await,
        Command::Fanout(a) => scenarios::fanout::run(a, &server).await,
        Command::Idle(a) => scenarios::idle::run(a, &server).await,
        Command::Http(a) => scenarios::http::run(a, &server).await,
        Command::Storm(a) => scenarios::storm::run(a, &server).await,
        Command::Serve(_) => Err("not a scenario".into()),
    };
    server.stop().await;
    result
}
