mod agent;
mod api;
mod certs;
mod edge;
mod live;
mod ready;
mod signal;

use clap::{Parser, Subcommand};

/// A usage or configuration error: exit code 2 instead of 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<UsageError>().is_some() {
        2
    } else {
        1
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "ferry",
    version,
    about = "Self-hostable, ngrok-compatible ingress: edge and agent"
)]
pub struct Cli {
    /// Log level: error, warn, info, debug or trace (or a tracing filter).
    #[arg(long, global = true, env = "FERRY_LOG")]
    pub log_level: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run an edge node.
    Edge(edge::EdgeArgs),
    /// Expose a local HTTP service on an HTTPS endpoint.
    Http(agent::HttpArgs),
    /// Expose a local TLS service by SNI, passed through or terminated at this agent.
    Tls(agent::TlsArgs),
    /// Expose a local TCP service on a public port.
    Tcp(agent::TcpArgs),
    /// Call the REST API, like `ngrok api`: `ferry api bot-users create --name x`.
    Api(api::ApiArgs),
    /// Certificate tools.
    Certs {
        #[command(subcommand)]
        command: certs::CertsCommand,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Edge(a) => edge::run(a).await,
        Command::Http(a) => agent::run_http(a).await,
        Command::Tls(a) => agent::run_tls(a).await,
        Command::Tcp(a) => agent::run_tcp(a).await,
        Command::Api(a) => api::run(a).await,
        Command::Certs { command } => certs::run(command),
    }
}

pub fn init_logging(level: Option<&str>) {
    let filter = tracing_subscriber::EnvFilter::try_new(level.unwrap_or("info"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
