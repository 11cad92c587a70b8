use std::io::Write;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use ferry_edge::{EdgeConfig, EdgeHandle};
use ferry_pki::DevCa;
use ferry_store::{NewCredential, Store};
use ferry_types::Hostname;

use super::live::EdgeLive;
use super::{ready, signal, systemd, upgrade, usage};

#[derive(Args, Debug)]
pub struct EdgeArgs {
    /// Development mode: embedded defaults, a local CA, any name may bind.
    #[arg(long)]
    dev: bool,
    /// Where the database, the dev CA and dev.json live.
    #[arg(
        long,
        default_value = "ferry-data",
        env = "FERRY_DATA_DIR",
        global = true
    )]
    data_dir: PathBuf,
    /// A YAML file of settings: each flag's long name with _ for - (`api_addr: 127.0.0.1:0`,
    /// `region: [us, eu]`). Flags and their environment variables win over it.
    #[arg(long, global = true)]
    pub(super) config: Option<PathBuf>,
    /// Use this PostgreSQL database (postgres://...) instead of SQLite in the data dir. It
    /// holds a password: prefer FERRY_DATABASE_URL or --database-url-file, which `ps` does
    /// not show.
    #[arg(
        long,
        env = "FERRY_DATABASE_URL",
        hide_env_values = true,
        global = true
    )]
    database_url: Option<String>,
    /// A file holding the database URL (as systemd's LoadCredential= provides one).
    #[arg(long, env = "FERRY_DATABASE_URL_FILE", global = true)]
    database_url_file: Option<PathBuf>,
    /// A file holding the key that seals private keys in the store (64 hex digits), instead of
    /// FERRY_SECRET_KEY or the data dir's secret.key.
    #[arg(long, env = "FERRY_SECRET_KEY_FILE", global = true)]
    secret_key_file: Option<PathBuf>,
    /// The REST API's plain-HTTP listener (keep it on loopback, or put TLS in front).
    #[arg(long, default_value = "127.0.0.1:0")]
    api_addr: SocketAddr,
    /// The API's public base URL, from which `uri` and `next_page_uri` are built (default:
    /// the API listener's own URL).
    #[arg(long)]
    api_public_url: Option<String>,
    /// A name server of this edge, answered as an agent ingress's ns_targets (repeatable;
    /// default ns1 and ns2 under --base-domain).
    #[arg(long = "ns-target")]
    ns_targets: Vec<String>,
    /// A region (or node) name: agent ingresses answer `tunnel.<region>.<domain>` for each
    /// (repeatable).
    #[arg(long = "region", default_value = "local")]
    regions: Vec<String>,
    /// This node's name among the nodes sharing the database, unique there (default: the
    /// host name, else `local`).
    #[arg(long)]
    node_name: Option<String>,
    /// Where other nodes reach this one (port 0: one the system picks; ready-file key
    /// `cluster`).
    #[arg(long)]
    cluster_addr: Option<SocketAddr>,
    /// Serve authoritative DNS on this address, UDP and TCP on one port (port 0: one the
    /// system picks; ready-file key `dns`). Default in --dev: 127.0.0.1:0; otherwise no DNS.
    #[arg(long)]
    dns_addr: Option<SocketAddr>,
    /// Serve Prometheus' `/metrics` here without authentication, for a scraper on a private
    /// network (port 0: one the system picks; ready-file key `metrics`). The API serves the
    /// same at `/metrics` to a holder of an API key.
    #[arg(long)]
    metrics_addr: Option<SocketAddr>,
    /// The TTL of DNS answers, in seconds (negative answers and DNS-01 challenge records
    /// get at most 5).
    #[arg(long, default_value_t = 60)]
    dns_ttl: u32,
    /// An address of this edge that DNS answers for the tunnel names, the CNAME targets and
    /// the name servers (repeatable; default 127.0.0.1 in --dev, else the --https-addr IP
    /// unless it is a wildcard).
    #[arg(long = "public-ip")]
    public_ips: Vec<std::net::IpAddr>,
    /// Write the bound addresses here as JSON once every listener is up.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// The public TLS port (HTTPS and TLS endpoints, and agents unless --agent-addr is set).
    #[arg(long, default_value = "127.0.0.1:0")]
    https_addr: SocketAddr,
    /// The plain-HTTP port.
    #[arg(long, default_value = "127.0.0.1:0")]
    http_addr: SocketAddr,
    /// A separate port for the agent ingress.
    #[arg(long)]
    agent_addr: Option<SocketAddr>,
    /// The range TCP endpoints take their ports from, as LOW-HIGH.
    #[arg(long, default_value = "20000-29999")]
    tcp_ports: String,
    /// A name the agent ingress owns, with every name below it (repeatable).
    #[arg(long = "ingress-domain")]
    ingress_domains: Vec<String>,
    /// Agents that ask for no name get a random one under this domain.
    #[arg(long, default_value = "ferry.localhost")]
    base_domain: String,
    /// Seconds to wait for an upstream's response head before answering 504.
    #[arg(long, default_value_t = 60)]
    upstream_timeout: u64,
    /// Seconds a drain (SIGTERM) waits for open connections.
    #[arg(long, default_value_t = 10)]
    drain_timeout: u64,
    /// Seconds a client may take to send its TLS ClientHello or HTTP request head.
    #[arg(long, default_value_t = 10)]
    handshake_timeout: u64,
    /// Seconds between the edge's heartbeats to each agent.
    #[arg(long, default_value_t = 5)]
    heartbeat_interval: u64,
    /// Seconds without a heartbeat echo before an agent counts as dead.
    #[arg(long, default_value_t = 10)]
    heartbeat_tolerance: u64,
    /// The DNS resolver Check Status asks (HOST:PORT, UDP with TCP fallback; default: the
    /// system's, from /etc/resolv.conf).
    #[arg(long)]
    dns_check_resolver: Option<SocketAddr>,
    /// Serve the REST API on the public TLS port as well, to clients that ask for this name
    /// (SNI), with a managed certificate for it; the loopback --api-addr listener stays.
    #[arg(long)]
    api_domain: Option<String>,
    /// The ACME directory managed certificates come from (default: Let's Encrypt; in --dev
    /// without it, the development CA issues them through the same jobs).
    #[arg(long)]
    acme_directory: Option<String>,
    /// PEM roots to trust for the ACME directory's own HTTPS instead of the system's (a
    /// private CA such as pebble).
    #[arg(long)]
    acme_root: Option<PathBuf>,
    /// The ACME account's contact address.
    #[arg(long)]
    acme_email: Option<String>,
    /// How single names are validated: http-01 on the http port (which must be reachable on
    /// port 80) or tls-alpn-01 on the https port (443). Wildcards and agent ingress domains
    /// always use dns-01 through Ferry's DNS.
    #[arg(long, default_value = "http-01", value_parser = ["http-01", "tls-alpn-01"])]
    acme_challenge: String,
    #[command(subcommand)]
    pub(super) action: Option<EdgeAction>,
}

/// Let's Encrypt's production directory, the default outside --dev.
const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

#[derive(Subcommand, Debug)]
pub(super) enum EdgeAction {
    /// Manage REST API keys offline, straight in the edge's database.
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Check the --config file: print every setting's effective value, or exit 2 naming
    /// the file, line and column of a mistake.
    Config {
        #[command(subcommand)]
        command: EdgeConfigCommand,
    },
    /// Run this edge as a systemd service (install, start, stop, restart, uninstall).
    Service {
        #[command(subcommand)]
        command: super::service::EdgeServiceCommand,
    },
    /// Copy the data dir's SQLite store while the edge runs (PostgreSQL: use pg_dump).
    Backup {
        /// The new file to write; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum EdgeConfigCommand {
    /// Print the merged settings as YAML.
    Check,
}

#[derive(Subcommand, Debug)]
pub(super) enum ApiKeyCommand {
    /// Create an API key and print its token (shown only this once).
    Create {
        /// A note about what the key is for.
        #[arg(long, default_value = "")]
        description: String,
    },
}

pub async fn run(a: EdgeArgs) -> anyhow::Result<()> {
    let merged = super::edge_config::merge(a)?;
    let log_level_from_flags = merged.log_level_from_flags;
    if let Some(level) = &merged.log_level {
        super::set_log_level(level);
    }
    let mut a = merged.args;
    match a.action.take() {
        Some(EdgeAction::ApiKey {
            command: ApiKeyCommand::Create { description },
        }) => {
            let (_, store) = open_store(&a).await?;
            let (key, token) = store.create_api_key(&description, "", "").await?;
            println!(
                "{}",
                serde_json::json!({ "id": key.id.to_string(), "token": token.expose() })
            );
            return Ok(());
        }
        Some(EdgeAction::Config {
            command: EdgeConfigCommand::Check,
        }) => {
            config_from(&a)?;
            super::edge_config::print_merged(&merged.matches);
            return Ok(());
        }
        Some(EdgeAction::Service { command }) => {
            let needs = super::service::EdgeNeeds {
                drain_timeout: a.drain_timeout,
                writes: [
                    Some(a.data_dir.clone()),
                    a.ready_file
                        .clone()
                        .and_then(|f| f.parent().map(Path::to_path_buf)),
                ]
                .into_iter()
                .flatten()
                .filter(|p| p.is_absolute())
                .collect(),
            };
            return super::service::run_edge(command, a.config.as_deref(), needs);
        }
        Some(EdgeAction::Backup { out }) => {
            let url = database_url(&a)?;
            return super::backup::run(
                &a.data_dir,
                url.as_deref(),
                a.secret_key_file.as_deref(),
                &out,
            )
            .await;
        }
        None => {}
    }
    let started_at = std::time::SystemTime::now();
    upgrade::remember_invocation()?;
    let (mut inherited, predecessor) = upgrade::inherited();
    let mut config = config_from(&a)?;
    // The predecessor's agents move here while it drains (up to --drain-timeout), ngrok's
    // SDKs once it has.
    config.predecessor_window = predecessor
        .is_some()
        .then(|| Duration::from_secs(a.drain_timeout.min(30) + 5));
    if config.dns_listen.is_some() && config.public_ips.is_empty() {
        tracing::warn!(
            "DNS answers no address for the tunnel names and CNAME targets: give --public-ip"
        );
    }
    let (data_dir, store) = open_store(&a).await?;
    let installation = super::installation_ca::load(&store, &data_dir).await?;
    let ca = installation.ca;
    let ca_path = ca.cert_path().to_path_buf();
    if installation.joined {
        ensure_ca_file(&data_dir, a.dev, &ca_path)?;
    } else if a.dev {
        ensure_dev_credentials(&store, &data_dir, &ca_path).await?;
    } else {
        ensure_admin_key(&store, &data_dir, &ca_path).await?;
    }

    let api = match inherited.take_tcp(upgrade::API_ROLE) {
        Some(given) => given,
        None => tokio::net::TcpListener::bind(a.api_addr).await,
    }
    .with_context(|| format!("cannot listen on {} for the REST API", a.api_addr))?;
    let api_socket = api.as_fd().try_clone_to_owned()?;
    let api_url = format!("http://{}", api.local_addr()?);
    let tcp_host = config.tcp_public_host.clone();
    let tcp_ports = config.tcp_ports;
    let base_domain = config.base_domain.to_string();
    let dev = config.dev;
    let ns_targets = config.ns_targets.clone();
    let config_api_domain = config.api_domain.as_ref().map(|d| d.to_string());
    let edge = EdgeHandle::start(config, store.clone(), ca, inherited).await?;
    let view = edge.view();
    let jobs = start_certificate_jobs(&a, &store, &view, &data_dir, &ns_targets, dev)?;
    view.set_agent_ingresses(&store.agent_ingress_domains().await?);
    let api_domain = config_api_domain;
    let control = ferry_control::ControlConfig {
        public_base: a
            .api_public_url
            .clone()
            .or_else(|| {
                api_domain
                    .as_ref()
                    .map(|d| https_url(d, edge.addrs.https.port()))
            })
            .unwrap_or_else(|| api_url.clone())
            .trim_end_matches('/')
            .to_string(),
        ns_targets,
        regions: a.regions.clone(),
        base_domain,
        tcp_public_host: tcp_host,
        tcp_ports,
        dns_check_resolver: a.dns_check_resolver,
        version: env!("CARGO_PKG_VERSION").to_string(),
        started_at,
        listeners: listeners(&edge.addrs, &api_url),
    };
    if let Some(domain) = &api_domain {
        // The API domain's certificate is managed like a reserved domain's, by the
        // installation itself.
        store
            .ensure_cert_job(ferry_store::INSTALLATION, vec![domain.clone()], "ecdsa")
            .await?;
        jobs.notify_one();
    }
    let live = std::sync::Arc::new(EdgeLive {
        view: view.clone(),
        jobs,
    });
    let state = ferry_control::AppState::new(store, control, live);
    if api_domain.is_some() {
        let api_state = state.clone();
        view.serve_api(std::sync::Arc::new(move |io, _peer| {
            Box::pin(ferry_control::serve_io(io, api_state.clone()))
        }));
    }
    let (api_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stopped = async move {
        let _ = stopped.await;
    };
    tokio::spawn(async move {
        if let Err(e) = ferry_control::serve(api, state, stopped).await {
            tracing::error!(error = %e, "the REST API stopped");
        }
    });

    let addrs = edge.addrs.clone();
    let dns = addrs.dns.map(|d| format!(" | dns {d}")).unwrap_or_default();
    println!(
        "ferry edge ready: https {} | http {} | agents {} | tcp ports {}-{} | api {api_url}{dns}",
        addrs.https, addrs.http, addrs.agent_ingress, addrs.tcp_ports.0, addrs.tcp_ports.1
    );
    let terminated = signal::terminated();
    let upgrades = signal::upgrade_requests();
    let hangups = signal::hangups();
    if let Some(path) = &a.ready_file {
        let mut ready = serde_json::json!({
            "pid": std::process::id(),
            "agent_ingress": addrs.agent_ingress.to_string(),
            "https": addrs.https.to_string(),
            "http": addrs.http.to_string(),
            "api_url": api_url,
            "tcp_ports": [addrs.tcp_ports.0, addrs.tcp_ports.1],
            "ca_cert": ca_path,
        });
        if let Some(dns) = addrs.dns {
            ready["dns"] = dns.to_string().into();
        }
        if let Some(cluster) = addrs.cluster {
            ready["cluster"] = cluster.to_string().into();
        }
        if let Some(metrics) = addrs.metrics {
            ready["metrics"] = metrics.to_string().into();
        }
        ready::write(path, &ready)?;
    }
    if predecessor.is_some() {
        tracing::info!("took over from the previous process; it drains now");
        systemd::ready_as_main();
    } else {
        systemd::ready();
    }
    upgrade::tell_predecessor(predecessor);
    let drain = Duration::from_secs(a.drain_timeout);
    let reload = super::reload::Reload {
        config: a.config.clone(),
        log_level_from_file: !log_level_from_flags,
        view: edge.view(),
    };
    if upgrade::serve_until_replaced_or_stopped(
        &edge, api_socket, terminated, upgrades, hangups, &reload,
    )
    .await
    {
        let _ = api_stop.send(());
    } else {
        systemd::stopping();
        tracing::info!("signal received: draining");
    }
    edge.drain(drain).await;
    Ok(())
}

/// The listeners the dashboard's edge page lists, by what they serve.
fn listeners(addrs: &ferry_edge::EdgeAddrs, api_url: &str) -> Vec<(String, String)> {
    let mut all = vec![
        ("HTTPS and TLS".to_string(), addrs.https.to_string()),
        ("HTTP".to_string(), addrs.http.to_string()),
        ("Agents".to_string(), addrs.agent_ingress.to_string()),
        (
            "TCP endpoints".to_string(),
            format!("ports {}-{}", addrs.tcp_ports.0, addrs.tcp_ports.1),
        ),
        ("REST API and dashboard".to_string(), api_url.to_string()),
    ];
    if let Some(dns) = addrs.dns {
        all.push(("DNS".to_string(), dns.to_string()));
    }
    all
}

/// Starts the runner of the certificate jobs: ACME from `--acme-directory` (Let's Encrypt
/// by default), or in dev mode without one the installation's CA, through the same jobs and
/// status, so that the guides complete offline. Returns its waker.
fn start_certificate_jobs(
    a: &EdgeArgs,
    store: &Store,
    view: &ferry_edge::EdgeView,
    data_dir: &Path,
    ns_targets: &[String],
    dev: bool,
) -> anyhow::Result<std::sync::Arc<tokio::sync::Notify>> {
    let installed = view.clone();
    let installed = move || installed.certificates_changed();
    let directory = match (&a.acme_directory, dev) {
        (Some(d), _) => d.clone(),
        (None, false) => LETS_ENCRYPT.to_string(),
        (None, true) => {
            let ca = DevCa::load_or_create(data_dir).context("loading the development CA")?;
            let runner =
                ferry_acme::Runner::new(store.clone(), ferry_acme::DevIssuer(ca), installed);
            let waker = runner.waker();
            tokio::spawn(runner.run());
            return Ok(waker);
        }
    };
    let publisher = view.clone();
    let publish: ferry_acme::Publish = std::sync::Arc::new(move || {
        let view = publisher.clone();
        Box::pin(async move {
            if let Err(e) = view.reload_certificates().await {
                tracing::warn!(error = %e, "cannot serve the ACME challenges");
            }
            if let Err(e) = view.refresh_dns().await {
                tracing::warn!(error = %e, "cannot serve the DNS-01 records");
            }
        })
    });
    let config = ferry_acme::AcmeConfig {
        directory,
        roots: a.acme_root.clone(),
        email: a.acme_email.clone(),
        single_names: if a.acme_challenge == "tls-alpn-01" {
            ferry_acme::SingleNames::TlsAlpn01
        } else {
            ferry_acme::SingleNames::Http01
        },
        ns_targets: ns_targets.to_vec(),
        dns_check_resolver: a.dns_check_resolver,
    };
    let issuer = ferry_acme::AcmeIssuer::new(store.clone(), config, publish);
    let runner = ferry_acme::Runner::new(store.clone(), issuer, installed);
    let waker = runner.waker();
    tokio::spawn(runner.run());
    Ok(waker)
}

/// The data dir (created and made absolute) and the store: PostgreSQL when a URL is given,
/// else SQLite in the data dir.
async fn open_store(a: &EdgeArgs) -> anyhow::Result<(PathBuf, Store)> {
    std::fs::create_dir_all(&a.data_dir)
        .with_context(|| format!("cannot create the data directory {}", a.data_dir.display()))?;
    let data_dir = std::fs::canonicalize(&a.data_dir)
        .with_context(|| format!("cannot resolve the data directory {}", a.data_dir.display()))?;
    let store = match &database_url(a)? {
        Some(url) => Store::open(url)
            .await
            .with_context(|| format!("cannot open the store at {}", redacted(url)))?,
        None => {
            let path = data_dir.join("ferry.db");
            Store::open_sqlite(&path)
                .await
                .with_context(|| format!("cannot open the store at {}", path.display()))?
        }
    };
    let key = match (std::env::var("FERRY_SECRET_KEY").ok(), &a.secret_key_file) {
        (Some(_), Some(_)) => {
            return Err(usage(
                "FERRY_SECRET_KEY and --secret-key-file both give the sealing key: keep one",
            ))
        }
        (None, Some(file)) => {
            let hex = super::secrets::read("--secret-key-file", file)?;
            ferry_store::SealingKey::from_hex(&hex, &file.display().to_string())
        }
        (env, None) => ferry_store::SealingKey::load(env.as_deref(), &data_dir),
    }
    .context("loading the key that seals private keys")?;
    let store = store.with_sealing_key(key);
    let sealed = store.seal_plaintext_keys().await?;
    if sealed > 0 {
        tracing::info!(
            sealed,
            "sealed private keys an earlier version stored in plaintext"
        );
    }
    Ok((data_dir, store))
}

/// The PostgreSQL URL from --database-url (or FERRY_DATABASE_URL) or the file named by
/// --database-url-file; `None` for the data dir's SQLite store.
fn database_url(a: &EdgeArgs) -> anyhow::Result<Option<String>> {
    match (&a.database_url, &a.database_url_file) {
        (Some(_), Some(_)) => Err(usage(
            "--database-url (or FERRY_DATABASE_URL) and --database-url-file both give the database: keep one",
        )),
        (Some(url), None) => Ok(Some(url.clone())),
        (None, Some(file)) => super::secrets::read("--database-url-file", file).map(Some),
        (None, None) => Ok(None),
    }
}

/// A database URL fit for an error message: the server and the database, without the user,
/// the password or the parameters (which may hold a password too).
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "the database given by --database-url".into();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}/{path}")
}

fn config_from(a: &EdgeArgs) -> anyhow::Result<EdgeConfig> {
    let mut c = EdgeConfig::dev_defaults();
    c.dev = a.dev;
    c.https_listen = a.https_addr;
    c.http_listen = a.http_addr;
    c.agent_listen = a.agent_addr;
    c.tcp_ip = a.https_addr.ip();
    c.tcp_public_host = a.https_addr.ip().to_string();
    c.tcp_ports = parse_range(&a.tcp_ports)?;
    c.ingress_domains = a
        .ingress_domains
        .iter()
        .map(|d| Hostname::parse(d).map_err(|e| usage(format!("--ingress-domain {d:?}: {e}"))))
        .collect::<anyhow::Result<_>>()?;
    c.api_domain = a
        .api_domain
        .as_deref()
        .map(|d| Hostname::parse(d).map_err(|e| usage(format!("--api-domain {d:?}: {e}"))))
        .transpose()?;
    c.base_domain = Hostname::parse(&a.base_domain)
        .map_err(|e| usage(format!("--base-domain {:?}: {e}", a.base_domain)))?;
    let base = c.base_domain.to_string();
    c.ns_targets = if a.ns_targets.is_empty() {
        vec![format!("ns1.{base}"), format!("ns2.{base}")]
    } else {
        a.ns_targets.clone()
    };
    c.regions = a.regions.clone();
    c.node_name = match &a.node_name {
        Some(name) if name.trim().is_empty() => {
            return Err(usage("--node-name must not be empty".to_string()))
        }
        Some(name) => name.trim().to_string(),
        None => host_name().unwrap_or_else(|| "local".into()),
    };
    c.cluster_listen = a.cluster_addr;
    c.dns_listen = a
        .dns_addr
        .or_else(|| a.dev.then(|| SocketAddr::from(([127, 0, 0, 1], 0))));
    c.dns_ttl = a.dns_ttl;
    c.metrics_listen = a.metrics_addr;
    c.public_ips = if !a.public_ips.is_empty() {
        a.public_ips.clone()
    } else if a.dev {
        vec![std::net::IpAddr::from([127, 0, 0, 1])]
    } else if a.https_addr.ip().is_unspecified() {
        Vec::new()
    } else {
        vec![a.https_addr.ip()]
    };
    c.upstream_timeout = Duration::from_secs(a.upstream_timeout.max(1));
    c.handshake_timeout = Duration::from_secs(a.handshake_timeout.max(1));
    c.heartbeat_interval = Duration::from_secs(a.heartbeat_interval.max(1));
    c.heartbeat_tolerance = Duration::from_secs(a.heartbeat_tolerance.max(1));
    Ok(c)
}

/// The system's host name, the default node name: unique enough among a cluster's machines,
/// and what an operator recognises. Read from the kernel, so `None` off Linux.
fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// `https://name`, with the port unless it is 443.
fn https_url(name: &str, port: u16) -> String {
    if port == 443 {
        format!("https://{name}")
    } else {
        format!("https://{name}:{port}")
    }
}

fn parse_range(s: &str) -> anyhow::Result<(u16, u16)> {
    let bad = || {
        usage(format!(
            "--tcp-ports {s:?}: expected LOW-HIGH, such as 20000-29999"
        ))
    };
    let (lo, hi) = s.split_once('-').ok_or_else(bad)?;
    let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
    let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
    if lo == 0 || lo > hi {
        return Err(bad());
    }
    Ok((lo, hi))
}

/// First start in a data dir: one API key and one authtoken, printed once and kept in
/// `dev.json` (mode 0600). Later starts keep the file, and the hashed secrets in the database
/// keep the tokens valid.
async fn ensure_dev_credentials(store: &Store, dir: &Path, ca_path: &Path) -> anyhow::Result<()> {
    let path = dir.join("dev.json");
    if path.exists() {
        println!("dev credentials: {}", path.display());
        return Ok(());
    }
    let (_, api_key) = store.create_api_key("dev", "", "").await?;
    let (_, authtoken) = store
        .create_credential(NewCredential {
            description: "dev".into(),
            ..Default::default()
        })
        .await?;
    let body = serde_json::json!({
        "api_key": api_key.expose(),
        "authtoken": authtoken.expose(),
        "ca_cert": ca_path,
    });
    write_secret_file(&path, &body)?;
    println!("dev credentials (shown once, kept in {}):", path.display());
    println!("  authtoken: {}", authtoken.expose());
    println!("  api key:   {}", api_key.expose());
    println!("  CA:        {}", ca_path.display());
    Ok(())
}

/// A node joining an installation another node began: the credentials appear only where
/// they were first made, so its `dev.json` (or `admin.json`) names the shared CA alone.
fn ensure_ca_file(dir: &Path, dev: bool, ca_path: &Path) -> anyhow::Result<()> {
    let path = dir.join(if dev { "dev.json" } else { "admin.json" });
    if path.exists() {
        return Ok(());
    }
    write_secret_file(&path, &serde_json::json!({ "ca_cert": ca_path }))
}

/// Outside dev mode the first start makes only an API key (authtokens are then created
/// through the API, with ACLs), printed once and kept in `admin.json` (mode 0600).
async fn ensure_admin_key(store: &Store, dir: &Path, ca_path: &Path) -> anyhow::Result<()> {
    let path = dir.join("admin.json");
    if path.exists() || dir.join("dev.json").exists() {
        return Ok(());
    }
    let (_, api_key) = store.create_api_key("admin", "", "").await?;
    write_secret_file(
        &path,
        &serde_json::json!({ "api_key": api_key.expose(), "ca_cert": ca_path }),
    )?;
    println!("admin API key (shown once, kept in {}):", path.display());
    println!("  api key:   {}", api_key.expose());
    Ok(())
}

fn write_secret_file(path: &Path, body: &serde_json::Value) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(&serde_json::to_vec_pretty(body)?)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
