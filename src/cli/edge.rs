use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use ferry_edge::{EdgeConfig, EdgeHandle};
use ferry_pki::DevCa;
use ferry_store::{NewCredential, Store};
use ferry_types::Hostname;

use super::{ready, signal, usage};

#[derive(Args, Debug)]
pub struct EdgeArgs {
    /// Development mode: embedded defaults, a local CA, any name may bind.
    #[arg(long)]
    dev: bool,
    /// Where the database, the dev CA and dev.json live.
    #[arg(long, default_value = "ferry-data", env = "FERRY_DATA_DIR")]
    data_dir: PathBuf,
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
}

pub async fn run(a: EdgeArgs) -> anyhow::Result<()> {
    if !a.dev {
        return Err(usage(
            "outside --dev an edge binds only reserved domains, and reservations arrive with the control plane; run `ferry edge --dev` for now",
        ));
    }
    let config = config_from(&a)?;
    std::fs::create_dir_all(&a.data_dir)
        .with_context(|| format!("creating data dir {}", a.data_dir.display()))?;
    let data_dir = std::fs::canonicalize(&a.data_dir)
        .with_context(|| format!("resolving {}", a.data_dir.display()))?;
    let store = Store::open_sqlite(&data_dir.join("ferry.db"))
        .await
        .context("opening the database")?;
    let ca = DevCa::load_or_create(&data_dir).context("loading the development CA")?;
    let ca_path = ca.cert_path().to_path_buf();
    ensure_dev_credentials(&store, &data_dir, &ca_path).await?;

    let edge = EdgeHandle::start(config, store, ca).await?;
    let addrs = edge.addrs.clone();
    println!(
        "ferry edge ready: https {} | http {} | agents {} | tcp ports {}-{}",
        addrs.https, addrs.http, addrs.agent_ingress, addrs.tcp_ports.0, addrs.tcp_ports.1
    );
    if let Some(path) = &a.ready_file {
        ready::write(
            path,
            &serde_json::json!({
                "agent_ingress": addrs.agent_ingress.to_string(),
                "https": addrs.https.to_string(),
                "http": addrs.http.to_string(),
                "tcp_ports": [addrs.tcp_ports.0, addrs.tcp_ports.1],
                "ca_cert": ca_path,
            }),
        )?;
    }
    signal::terminated().await;
    tracing::info!("signal received: draining");
    edge.drain(Duration::from_secs(a.drain_timeout)).await;
    Ok(())
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
    c.base_domain = Hostname::parse(&a.base_domain)
        .map_err(|e| usage(format!("--base-domain {:?}: {e}", a.base_domain)))?;
    c.upstream_timeout = Duration::from_secs(a.upstream_timeout.max(1));
    c.handshake_timeout = Duration::from_secs(a.handshake_timeout.max(1));
    c.heartbeat_interval = Duration::from_secs(a.heartbeat_interval.max(1));
    c.heartbeat_tolerance = Duration::from_secs(a.heartbeat_tolerance.max(1));
    Ok(c)
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
    let (_, api_key) = store.create_api_key("dev").await?;
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
    let tmp = dir.join("dev.json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(&serde_json::to_vec_pretty(&body)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    println!("dev credentials (shown once, kept in {}):", path.display());
    println!("  authtoken: {}", authtoken.expose());
    println!("  api key:   {}", api_key.expose());
    println!("  CA:        {}", ca_path.display());
    Ok(())
}
