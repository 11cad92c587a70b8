mod agent;
mod api;
mod backup;
mod certs;
mod config;
mod console;
mod edge;
mod edge_config;
mod installation_ca;
mod live;
mod ready;
mod reload;
mod secrets;
mod service;
mod signal;
mod systemd;
mod upgrade;

use clap::{Parser, Subcommand};

/// A usage or configuration error: exit code 2 instead of 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// An argument that starts with a dash look-alike (an en or em dash, a minus sign), as a
/// guide's `ngrok start agent-api –config FILE` reads once a word processor has had it:
/// what was typed and what to type instead. clap would take it for a tunnel name or an
/// unexpected argument and say no more.
pub fn dash_lookalike(args: &[std::ffi::OsString]) -> Option<String> {
    const LOOKALIKES: [(char, &str); 5] = [
        ('\u{2013}', "an en dash"),
        ('\u{2014}', "an em dash"),
        ('\u{2212}', "a minus sign"),
        ('\u{2010}', "a Unicode hyphen"),
        ('\u{2011}', "a non-breaking hyphen"),
    ];
    args.iter().skip(1).find_map(|arg| {
        let arg = arg.to_str()?;
        let first = arg.chars().next()?;
        let (_, what) = LOOKALIKES.iter().find(|(c, _)| *c == first)?;
        let rest = arg.trim_start_matches(|c: char| LOOKALIKES.iter().any(|(l, _)| *l == c) || c == '-');
        let name = rest.split('=').next().unwrap_or(rest);
        let looks_like_flag = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        looks_like_flag.then(|| {
            let dashes = if name.chars().count() == 1 { "-" } else { "--" };
            format!(
                "{arg:?} starts with {what} ({first}), not \"{dashes}\" (a page or word processor changed it): type {dashes}{rest}"
            )
        })
    })
}

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

/// The error and its causes on one line, each said once, ending with the catalogue code when a
/// cause has one. Many errors (sqlx's, and ours that must read well alone in a log line) repeat
/// their source's text in their own message, which `{:#}` would print again for every layer.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for layer in e.chain() {
        let text = layer.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    let code = e
        .chain()
        .filter_map(|layer| layer.downcast_ref::<ferry_store::StoreError>())
        .find_map(|s| s.cause())
        .map(|cause| cause.code());
    if let Some(code) = code {
        line.push_str(&format!(" [{code}]"));
    }
    line
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
    Edge(Box<edge::EdgeArgs>),
    /// Start tunnels defined in config files (ngrok.yml version 2).
    Start(agent::StartArgs),
    /// Check config files, or add an authtoken to Ferry's default one.
    Config {
        #[command(subcommand)]
        command: config::ConfigCommand,
    },
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
    /// Run the agent as a systemd service, like `ngrok service`: install, start, stop,
    /// restart, uninstall.
    Service {
        #[command(subcommand)]
        command: service::ServiceCommand,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let level = cli.log_level.clone();
    if !matches!(
        cli.command,
        Command::Start(_) | Command::Http(_) | Command::Tls(_) | Command::Tcp(_)
    ) {
        init_logging(level.as_deref(), &LogTarget::Stderr, LogFormat::Term)?;
    }
    match cli.command {
        Command::Edge(a) => edge::run(*a).await,
        Command::Start(a) => agent::run_start(a, level).await,
        Command::Config { command } => config::run(command),
        Command::Http(a) => agent::run_http(a, level).await,
        Command::Tls(a) => agent::run_tls(a, level).await,
        Command::Tcp(a) => agent::run_tcp(a, level).await,
        Command::Api(a) => api::run(a).await,
        Command::Certs { command } => certs::run(command),
        Command::Service { command } => service::run_agent(command),
    }
}

/// Where log lines go (ngrok's `log` key): nowhere, a standard stream, or a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogTarget {
    Off,
    Stdout,
    Stderr,
    File(std::path::PathBuf),
}

impl LogTarget {
    pub fn parse(s: &str) -> Self {
        match s {
            "false" => Self::Off,
            "stdout" => Self::Stdout,
            "stderr" => Self::Stderr,
            path => Self::File(path.into()),
        }
    }
}

/// ngrok's `log_format`: `term` and `logfmt` are plain lines, `json` one object per line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Term,
    Json,
}

impl LogFormat {
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        match s {
            "term" | "logfmt" => Ok(Self::Term),
            "json" => Ok(Self::Json),
            other => Err(usage(format!(
                "log_format {other:?}: expected term, logfmt or json"
            ))),
        }
    }
}

/// Whether `level` is one `--log-level` takes: a tracing filter, ngrok's `crit` included.
pub fn valid_level(level: &str) -> bool {
    let l = if level == "crit" { "error" } else { level };
    tracing_subscriber::EnvFilter::try_new(l).is_ok()
}

/// Changes the log level of a running process (the edge's SIGHUP).
pub fn set_log_level(level: &str) {
    if let Some(handle) = LOG_FILTER.get() {
        if let Err(error) = handle.reload(level_filter(Some(level))) {
            tracing::warn!(%error, "cannot change the log level");
        }
    }
}

/// Where the filter of the installed subscriber is swapped.
static LOG_FILTER: std::sync::OnceLock<
    tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, tracing_subscriber::Registry>,
> = std::sync::OnceLock::new();

/// ngrok's log levels (crit, warn, info, debug) mapped onto tracing's.
fn level_filter(level: Option<&str>) -> tracing_subscriber::EnvFilter {
    let l = match level.unwrap_or("info") {
        "crit" => "error",
        other => other,
    };
    // hickory-server logs every DNS query at info; an edge on the internet would log each
    // query anyone sends. Its lines appear only when asked for by name
    // (`FERRY_LOG=info,hickory_server=info`).
    let l = if l.contains("hickory") || matches!(l, "error" | "off") {
        l.to_string()
    } else {
        format!("{l},hickory_server=warn")
    };
    tracing_subscriber::EnvFilter::try_new(&l)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,hickory_server=warn"))
}

pub fn init_logging(
    level: Option<&str>,
    target: &LogTarget,
    format: LogFormat,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let writer = match target {
        LogTarget::Off => return Ok(()),
        LogTarget::Stdout => tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stdout),
        LogTarget::Stderr => tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr),
        LogTarget::File(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| usage(format!("log file {}: {e}", path.display())))?;
            tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::sync::Mutex::new(file))
        }
    };
    let ansi = match target {
        LogTarget::Stdout => std::io::stdout().is_terminal(),
        LogTarget::Stderr => std::io::stderr().is_terminal(),
        _ => false,
    };
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let (filter, handle) = tracing_subscriber::reload::Layer::new(level_filter(level));
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_target(false);
    let installed = match format {
        LogFormat::Json => tracing_subscriber::registry()
            .with(filter)
            .with(lines.json())
            .try_init(),
        LogFormat::Term => tracing_subscriber::registry()
            .with(filter)
            .with(lines.with_ansi(ansi))
            .try_init(),
    };
    if installed.is_ok() {
        let _ = LOG_FILTER.set(handle);
    }
    Ok(())
}
