use std::path::PathBuf;

use clap::{Args, ValueEnum};
use std::sync::Arc;

use ferry_agent::api::{self, ApiState};
use ferry_agent::config::{default_paths, ferry_default_path, tunnel_spec, Config, RawTunnel};
use ferry_agent::{
    Agent, AgentConfig, AgentError, AgentEvent, RootCas, TerminateAt, TunnelProto, TunnelSpec,
    Upstream,
};
use ferry_types::Secret;

use super::{init_logging, ready, signal, usage, LogFormat, LogTarget};

/// Session flags shared by every agent verb. They mirror ngrok.yml's agent keys.
#[derive(Args, Debug)]
pub struct SessionArgs {
    /// The authtoken (also FERRY_AUTHTOKEN, then NGROK_AUTHTOKEN).
    #[arg(long, env = "FERRY_AUTHTOKEN", hide_env_values = true)]
    authtoken: Option<String>,
    /// The edge's agent ingress, host:port (also FERRY_SERVER_ADDR). Repeatable (or
    /// comma-separated) for the nodes of one installation: tried in order, the next when one
    /// cannot be reached.
    #[arg(long, env = "FERRY_SERVER_ADDR", value_delimiter = ',')]
    server_addr: Vec<String>,
    /// CA certificates (PEM) that the edge's certificate must chain to, or `host` for the
    /// system store (default: the config file's root_cas, else host).
    #[arg(long)]
    root_cas: Option<String>,
    /// ngrok.yml-style config files, merged in order (repeatable; default: ngrok's default
    /// file for this OS, then ~/.config/ferry/ferry.yml, when present).
    #[arg(long = "config")]
    config: Vec<PathBuf>,
    /// Write the agent's tunnels as JSON here once every tunnel is bound.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// The tunnel's name.
    #[arg(long)]
    name: Option<String>,
    /// Where the local agent API and inspector listen (host:port, port 0 picks one, `false`
    /// turns them off; default 127.0.0.1:4040).
    #[arg(long)]
    web_addr: Option<String>,
    /// Keep tunnels started through the agent API across agent restarts.
    #[arg(long)]
    persist_api_tunnels: bool,
    /// Where logs go: false, stdout, stderr or a file path (default: stderr, or nowhere while
    /// the status screen is shown).
    #[arg(long)]
    log: Option<String>,
    /// Log format: term, logfmt or json.
    #[arg(long)]
    log_format: Option<String>,
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Tunnels from the config files to start.
    names: Vec<String>,
    /// Start every tunnel in the config files.
    #[arg(long, conflicts_with = "none")]
    all: bool,
    /// Start no tunnel; the agent comes online for tunnels started later.
    #[arg(long)]
    none: bool,
    #[command(flatten)]
    session: SessionArgs,
}

#[derive(Args, Debug)]
pub struct HttpArgs {
    /// The local service: a port (8080), host:port, or a URL (https://localhost:8443).
    addr: String,
    /// The public host name.
    #[arg(long, alias = "hostname")]
    domain: Option<String>,
    #[arg(long)]
    subdomain: Option<String>,
    /// Bind a plain-HTTP endpoint instead of HTTPS.
    #[arg(long, value_enum, default_value_t = Scheme::Https)]
    scheme: Scheme,
    /// Require a user and password at the edge, as "user:password" (repeatable).
    #[arg(long)]
    basic_auth: Vec<String>,
    /// Require client certificates from these CAs (PEM) at the edge.
    #[arg(long)]
    mutual_tls_cas: Option<PathBuf>,
    /// What the upstream sees as Host: preserve (default), rewrite, or a literal value.
    #[arg(long)]
    host_header: Option<String>,
    #[command(flatten)]
    session: SessionArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Scheme {
    Http,
    Https,
}

#[derive(Args, Debug)]
pub struct TlsArgs {
    /// The local service: a port, host:port, or a URL.
    addr: String,
    /// The public host name (SNI).
    #[arg(long, alias = "hostname")]
    domain: Option<String>,
    #[arg(long)]
    subdomain: Option<String>,
    /// Where TLS ends: `edge` (the edge terminates, with --crt/--key or the domain's own
    /// certificate), `agent` (terminates here with --crt/--key), `upstream` (passed through).
    /// Default: `edge` with --crt, --key or --mutual-tls-cas, else `upstream`, as in ngrok.
    #[arg(long, value_enum)]
    terminate_at: Option<Terminate>,
    /// Server certificate (PEM), presented where TLS ends.
    #[arg(long)]
    crt: Option<PathBuf>,
    /// Server private key (PEM) of --crt.
    #[arg(long)]
    key: Option<PathBuf>,
    /// CA certificates that client certificates must chain to, checked where TLS ends.
    #[arg(long)]
    mutual_tls_cas: Option<PathBuf>,
    /// ALPN protocols to offer when terminating (http/1.1, h2); none by default.
    #[arg(long)]
    alpn: Vec<String>,
    /// Start each connection with a PROXY protocol header of this version (1 or 2), written
    /// by the edge with the public client's address.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    proxy_proto: Option<u8>,
    #[command(flatten)]
    session: SessionArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Terminate {
    Agent,
    Edge,
    Upstream,
}

#[derive(Args, Debug)]
pub struct TcpArgs {
    /// The local service: a port or host:port.
    addr: String,
    /// A public host:port to ask for.
    #[arg(long)]
    remote_addr: Option<String>,
    /// Start each connection with a PROXY protocol header of this version (1 or 2), written
    /// by the edge with the public client's address.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    proxy_proto: Option<u8>,
    #[command(flatten)]
    session: SessionArgs,
}

fn base_spec(name: String, proto: TunnelProto, addr: &str) -> anyhow::Result<TunnelSpec> {
    let addr = Upstream::parse(addr).map_err(|e| usage(e.to_string()))?;
    Ok(TunnelSpec::new(name, proto, addr))
}

pub async fn run_http(a: HttpArgs, level: Option<String>) -> anyhow::Result<()> {
    let name = a
        .session
        .name
        .clone()
        .unwrap_or_else(|| "command_line".into());
    let mut spec = base_spec(name, TunnelProto::Http, &a.addr)?;
    spec.domain = a.domain;
    spec.subdomain = a.subdomain;
    spec.http_scheme = matches!(a.scheme, Scheme::Http);
    // The same checks as ngrok.yml's keys, through the same conversion.
    let raw = RawTunnel {
        proto: Some("http".into()),
        addr: Some(ferry_agent::config::ScalarOut::Str(a.addr.clone())),
        basic_auth: (!a.basic_auth.is_empty()).then(|| a.basic_auth.clone()),
        host_header: a.host_header.clone(),
        ..Default::default()
    };
    let (checked, _) = tunnel_spec(&spec.name, &raw).map_err(usage)?;
    spec.basic_auth = checked.basic_auth;
    spec.host_header = checked.host_header;
    spec.mutual_tls_cas = a.mutual_tls_cas;
    run_agent(a.session, vec![spec], level).await
}

pub async fn run_tls(a: TlsArgs, level: Option<String>) -> anyhow::Result<()> {
    let name = a
        .session
        .name
        .clone()
        .unwrap_or_else(|| "command_line".into());
    let mut spec = base_spec(name, TunnelProto::Tls, &a.addr)?;
    spec.domain = a.domain;
    spec.subdomain = a.subdomain;
    spec.terminate_at = match a.terminate_at {
        Some(Terminate::Agent) => TerminateAt::Agent,
        Some(Terminate::Edge) => TerminateAt::Edge,
        Some(Terminate::Upstream) => TerminateAt::Upstream,
        None => TerminateAt::default_for(
            a.crt.is_some() || a.key.is_some() || a.mutual_tls_cas.is_some(),
        ),
    };
    spec.crt = a.crt;
    spec.key = a.key;
    spec.mutual_tls_cas = a.mutual_tls_cas;
    spec.alpn = a.alpn;
    spec.proxy_proto = a.proxy_proto.unwrap_or(0);
    if spec.proxy_proto != 0 && spec.terminate_at == TerminateAt::Agent {
        return Err(usage("--proxy-proto with --terminate-at agent: the header would come before the TLS the agent terminates; let TLS end at the edge or the upstream"));
    }
    run_agent(a.session, vec![spec], level).await
}

pub async fn run_tcp(a: TcpArgs, level: Option<String>) -> anyhow::Result<()> {
    let name = a
        .session
        .name
        .clone()
        .unwrap_or_else(|| "command_line".into());
    let mut spec = base_spec(name, TunnelProto::Tcp, &a.addr)?;
    spec.remote_addr = a.remote_addr;
    spec.proxy_proto = a.proxy_proto.unwrap_or(0);
    run_agent(a.session, vec![spec], level).await
}

pub async fn run_start(a: StartArgs, level: Option<String>) -> anyhow::Result<()> {
    let file = load_files(&a.session.config)?;
    let names: Vec<String> = if a.all {
        file.tunnels.keys().cloned().collect()
    } else if a.none {
        Vec::new()
    } else if a.names.is_empty() {
        return Err(usage("name the tunnels to start, or pass --all or --none"));
    } else {
        a.names.clone()
    };
    let defs = file.select(&names).map_err(|e| usage(e.to_string()))?;
    let mut specs = Vec::new();
    for (name, def) in defs {
        let (spec, warnings) = tunnel_spec(&name, &def.raw)
            .map_err(|msg| usage(format!("{}: tunnel {name:?}: {msg}", def.origin)))?;
        for w in warnings {
            tracing::warn!("{}: {w}", def.origin);
        }
        specs.push(spec);
    }
    run_agent_with(a.session, file, specs, level).await
}

/// The config files named with --config, or the default ones that exist.
pub fn load_files(paths: &[PathBuf]) -> anyhow::Result<Config> {
    let paths: Vec<PathBuf> = if paths.is_empty() {
        default_paths().into_iter().filter(|p| p.exists()).collect()
    } else {
        paths.to_vec()
    };
    let config = ferry_agent::config::load(&paths).map_err(|e| usage(e.to_string()))?;
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    Ok(config)
}

async fn run_agent(
    s: SessionArgs,
    specs: Vec<TunnelSpec>,
    level: Option<String>,
) -> anyhow::Result<()> {
    let file = load_files(&s.config)?;
    run_agent_with(s, file, specs, level).await
}

/// Flags win over the environment (clap reads FERRY_* into the flags), which wins over the
/// config files, which win over defaults.
fn agent_config(s: &SessionArgs, file: &Config) -> anyhow::Result<AgentConfig> {
    let authtoken = s
        .authtoken
        .clone()
        .or_else(|| std::env::var("NGROK_AUTHTOKEN").ok())
        .or_else(|| file.agent.authtoken.clone())
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| usage("no authtoken: pass --authtoken, set FERRY_AUTHTOKEN, or add one with `ferry config add-authtoken` (`ferry edge --dev` writes one to dev.json)"))?;
    let mut server_addrs = s.server_addr.clone();
    if server_addrs.is_empty() {
        server_addrs.extend(file.agent.server_addr.clone());
    }
    let more_server_addrs = server_addrs.split_off(1.min(server_addrs.len()));
    let server_addr = server_addrs
        .pop()
        .ok_or_else(|| usage("no server address: pass --server-addr HOST:PORT, set FERRY_SERVER_ADDR, or set server_addr in the config file"))?;
    let root_cas = match s
        .root_cas
        .clone()
        .or_else(|| file.agent.root_cas.clone())
        .as_deref()
    {
        None | Some("host") | Some("trusted") => RootCas::Host,
        Some(path) => RootCas::File(PathBuf::from(path)),
    };
    let mut config = AgentConfig::new(Secret::new(authtoken), server_addr, root_cas);
    config.more_server_addrs = more_server_addrs;
    let bad = |e: ferry_agent::config::ConfigError| usage(e.to_string());
    if let Some(d) = file
        .duration("heartbeat_interval", &file.agent.heartbeat_interval)
        .map_err(bad)?
    {
        config.heartbeat_interval = d;
    }
    if let Some(d) = file
        .duration("heartbeat_tolerance", &file.agent.heartbeat_tolerance)
        .map_err(bad)?
    {
        config.heartbeat_tolerance = d;
    }
    if let Some(d) = file
        .duration("connect_timeout", &file.agent.connect_timeout)
        .map_err(bad)?
    {
        config.connect_timeout = d;
    }
    if let Some(m) = &file.agent.metadata {
        config.metadata = m.clone();
    }
    config.dns_resolvers = file.dns_resolvers().map_err(bad)?;
    config.data_connections = file.data_connections().map_err(bad)?;
    Ok(config)
}

async fn run_agent_with(
    s: SessionArgs,
    file: Config,
    specs: Vec<TunnelSpec>,
    level: Option<String>,
) -> anyhow::Result<()> {
    let console = start_logging(&s, &file, level)?;
    let mut config = agent_config(&s, &file)?;
    config.inspect_db_size = file.inspect_db_size().map_err(|e| usage(e.to_string()))?;
    let agent = Agent::new(config, specs).map_err(|e| match e {
        AgentError::Tunnel(_) | AgentError::Trust(_) | AgentError::DuplicateName(_) => {
            usage(e.to_string())
        }
        other => other.into(),
    })?;

    let web = match s.web_addr.clone().or_else(|| file.web_addr()) {
        Some(addr) if addr != "false" => {
            let is_default = s.web_addr.is_none() && file.agent.web_addr.is_none();
            let listener = api::bind(&addr, is_default)
                .await
                .map_err(|e| usage(format!("web_addr {addr}: cannot listen: {e}")))?;
            let local = listener.local_addr()?;
            let persist = (s.persist_api_tunnels || file.agent.persist_api_tunnels == Some(true))
                .then(api_tunnels_path)
                .flatten();
            let state = ApiState {
                agent: agent.clone(),
                web_port: local.port(),
                allow_hosts: Arc::new(file.agent.web_allow_hosts.clone().unwrap_or_default()),
                persist,
            };
            tokio::spawn(api::serve(listener, state.clone()));
            if !console {
                println!("Web Interface http://{local}");
            }
            Some(state)
        }
        _ => None,
    };

    if console {
        let web_addr = web.as_ref().map(|w| format!("127.0.0.1:{}", w.web_port));
        tokio::spawn(super::console::run(agent.clone(), web_addr));
    }
    let mut events = agent.subscribe();
    let reporter = agent.clone();
    let ready_file = s.ready_file.clone();
    let web_state = web.clone();
    tokio::spawn(async move {
        let mut ready_written = false;
        while let Ok(ev) = events.recv().await {
            match ev {
                AgentEvent::TunnelStarted {
                    name, public_url, ..
                } => {
                    let status = reporter.tunnel(&name).await;
                    let to = status.as_ref().map(|t| t.addr.clone()).unwrap_or_default();
                    if !console {
                        println!("Forwarding {public_url} -> {to}  ({name})");
                    }
                    if let (Some(w), Some(t)) = (&web_state, &status) {
                        api::warn_if_exposed(w, t);
                    }
                }
                AgentEvent::Online => {
                    if !console {
                        println!("Session online");
                    }
                    if !ready_written {
                        ready_written = true;
                        super::systemd::ready();
                        if let Some(w) = &web_state {
                            restore_api_tunnels(w).await;
                        }
                        if let Some(path) = &ready_file {
                            write_ready(path, &reporter, web_state.as_ref()).await;
                        }
                    }
                }
                AgentEvent::Offline { reason } => {
                    if !console {
                        println!("Session offline: {reason}");
                    }
                }
            }
        }
    });

    tokio::select! {
        res = agent.run() => res.map_err(anyhow::Error::from),
        _ = signal::terminated() => {
            super::systemd::stopping();
            Ok(())
        }
    }
}

async fn write_ready(path: &std::path::Path, agent: &Agent, web: Option<&ApiState>) {
    let tunnels: Vec<_> = agent
        .tunnels()
        .await
        .into_iter()
        .map(|t| serde_json::json!({"name": t.name, "proto": t.proto, "public_url": t.public_url}))
        .collect();
    let web_addr = web.map(|w| format!("127.0.0.1:{}", w.web_port));
    let body = serde_json::json!({"web_addr": web_addr, "tunnels": tunnels});
    if let Err(e) = ready::write(path, &body) {
        tracing::error!("{e:#}");
    }
}

/// Sets up logging from the flags and the config file, and says whether the status screen
/// takes the terminal: stdout is a terminal, `console_ui` is not false, and logs do not go to
/// stdout. While it does, logs go nowhere unless `--log` names a place.
fn start_logging(s: &SessionArgs, file: &Config, level: Option<String>) -> anyhow::Result<bool> {
    use std::io::IsTerminal;
    let log = s.log.clone().or_else(|| {
        file.agent.log.as_ref().map(|l| match l {
            ferry_agent::config::Scalar::Bool(false) => "false".to_string(),
            other => other.text(),
        })
    });
    let target = log.as_deref().map(LogTarget::parse);
    let console_setting = file.agent.console_ui.as_ref().map(|v| v.text());
    let console = std::io::stdout().is_terminal()
        && console_setting.as_deref() != Some("false")
        && target != Some(LogTarget::Stdout);
    let target = target.unwrap_or(if console {
        LogTarget::Off
    } else {
        LogTarget::Stderr
    });
    let format = LogFormat::parse(
        s.log_format
            .as_deref()
            .or(file.agent.log_format.as_deref())
            .unwrap_or("term"),
    )?;
    let level = level.or_else(|| file.agent.log_level.clone());
    init_logging(level.as_deref(), &target, format)?;
    Ok(console)
}

/// Where `--persist-api-tunnels` keeps API-started tunnels: beside Ferry's config file.
fn api_tunnels_path() -> Option<PathBuf> {
    ferry_default_path().and_then(|p| p.parent().map(|d| d.join("api-tunnels.json")))
}

/// Starts again the tunnels the agent API had started before the agent restarted.
async fn restore_api_tunnels(state: &ApiState) {
    let Some(path) = &state.persist else { return };
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let bodies: Vec<serde_json::Value> = match serde_json::from_str(&text) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(
                "{}: not a list of tunnels ({e}); ignoring it",
                path.display()
            );
            return;
        }
    };
    for body in bodies {
        let parsed = serde_json::from_value::<RawTunnel>(body.clone())
            .map_err(|e| e.to_string())
            .and_then(|raw| {
                let name = raw.name.clone().unwrap_or_default();
                tunnel_spec(&name, &raw).map(|(spec, _)| spec)
            });
        match parsed {
            Ok(spec) => {
                let name = spec.name.clone();
                if let Err(e) = state.agent.add_tunnel(spec, Some(body)).await {
                    tracing::warn!(tunnel = %name, "cannot restore API tunnel: {e}");
                }
            }
            Err(e) => tracing::warn!("{}: skipping a saved tunnel: {e}", path.display()),
        }
    }
}
