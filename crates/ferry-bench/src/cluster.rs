//! Several edge nodes on one PostgreSQL database: what carrying a connection to the node
//! that holds the agent adds (the same requests through the agent's own node and through
//! another), and how long a kill -9 of the agent's node leaves its name unserved before the
//! agent, dialling its next `--server-addr`, serves it through the other node.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use rustls::pki_types::ServerName;

use crate::load;
use crate::procs::Proc;
use crate::setup::{connector, read_json, str_of, HttpTarget, Origin};
use crate::stats::{percentile, Runs};

const DOMAIN: &str = "nodes.bench.example.test";
const SERVER: &str = "postgres://postgres@127.0.0.1:5432";
const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// A sealing key both nodes share, as nodes on one database must.
const SECRET_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const READY: Duration = Duration::from_secs(60);

/// Each run's figures, in milliseconds (failover in seconds).
#[derive(Default)]
pub struct ClusterRuns {
    pub own_p50: Runs,
    pub own_p99: Runs,
    pub hop_p50: Runs,
    pub hop_p99: Runs,
    pub failover_s: Runs,
    /// Seconds from a kill -9 until every agent of a fleet is back (`fleet.rs`).
    pub fleet_s: Runs,
}

/// One run: a fresh database, two nodes, an agent on the first; latency through each node,
/// then kill -9 of the first and the time until the name answers through the second.
pub async fn run(
    dir: &Path,
    ferry: &Path,
    origin: &Origin,
    samples: usize,
    into: &mut ClusterRuns,
) -> anyhow::Result<()> {
    let db = Database::create().await?;
    let mut n1 = node(dir, ferry, &db.url, "n1", "127.0.0.51").await?;
    let n2 = node(dir, ferry, &db.url, "n2", "127.0.0.52").await?;
    let dev = read_json(&n1.data.join("dev.json")).context("n1's dev.json")?;
    let token = str_of(&dev, "authtoken", "dev.json")?.to_string();
    let ca = PathBuf::from(str_of(&dev, "ca_cert", "dev.json")?);

    let config = dir.join("nodes.yml");
    std::fs::write(
        &config,
        format!(
            "version: \"2\"\ntunnels:\n  web:\n    proto: http\n    addr: {}\n    domain: {DOMAIN}\n",
            origin.http
        ),
    )?;
    let ready = dir.join("nodes-agent-ready.json");
    let _ = std::fs::remove_file(&ready);
    let servers = format!("{},{}", n1.agent_addr, n2.agent_addr);
    let mut agent = Proc::spawn(
        "ferry-agent-nodes",
        Command::new(ferry)
            .args(["start", "--all", "--web-addr", "127.0.0.1:0", "--config"])
            .arg(&config)
            .args([
                "--authtoken",
                &token,
                "--server-addr",
                &servers,
                "--root-cas",
            ])
            .arg(&ca)
            .arg("--ready-file")
            .arg(&ready),
        dir,
    )?;
    agent
        .wait_for("ready file", READY, |_| read_json(&ready))
        .await?;

    let connector = connector(&ca)?;
    let target = |https: SocketAddr| -> anyhow::Result<HttpTarget> {
        Ok(HttpTarget {
            addr: https,
            host: DOMAIN.into(),
            tls: Some((connector.clone(), ServerName::try_from(DOMAIN)?)),
        })
    };
    let (own, hop) = (target(n1.https)?, target(n2.https)?);
    let gap = Duration::from_millis(2);
    let mut a = load::low_load(&own, samples, gap).await?;
    let mut b = load::low_load(&hop, samples, gap).await?;
    let ms = |v: Option<u32>| v.map_or(f64::NAN, |us| us as f64 / 1000.0);
    into.own_p50.push(ms(percentile(&mut a.latencies_us, 50.0)));
    into.own_p99.push(ms(percentile(&mut a.latencies_us, 99.0)));
    into.hop_p50.push(ms(percentile(&mut b.latencies_us, 50.0)));
    into.hop_p99.push(ms(percentile(&mut b.latencies_us, 99.0)));

    n1.proc.kill9();
    let killed = Instant::now();
    loop {
        if load::probe(&hop).await {
            break;
        }
        anyhow::ensure!(
            killed.elapsed() < Duration::from_secs(60),
            "the name was not served through n2 within 60 s of n1's kill -9:\n{}",
            agent.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    into.failover_s.push(killed.elapsed().as_secs_f64());
    drop(agent);
    drop(n2);
    drop(n1);
    db.drop().await;
    Ok(())
}

pub(crate) struct Node {
    pub(crate) proc: Proc,
    pub(crate) data: PathBuf,
    /// Its ready file, which a process that took over from it rewrites.
    pub(crate) ready: PathBuf,
    pub(crate) https: SocketAddr,
    pub(crate) agent_addr: String,
}

pub(crate) async fn node(
    dir: &Path,
    ferry: &Path,
    url: &str,
    name: &str,
    ip: &str,
) -> anyhow::Result<Node> {
    let data = dir.join(format!("nodes-{name}"));
    // Each run has a fresh database: a data dir from the run before would keep credentials
    // that database no longer has.
    let _ = std::fs::remove_dir_all(&data);
    let ready = dir.join(format!("nodes-{name}-ready.json"));
    let _ = std::fs::remove_file(&ready);
    let any = format!("{ip}:0");
    let mut proc = Proc::spawn(
        &format!("ferry-{name}"),
        Command::new(ferry)
            .args(["edge", "--dev", "--data-dir"])
            .arg(&data)
            .arg("--ready-file")
            .arg(&ready)
            .args([
                "--database-url",
                url,
                "--node-name",
                name,
                "--public-ip",
                ip,
            ])
            .args([
                "--https-addr",
                &any,
                "--http-addr",
                &any,
                "--cluster-addr",
                &any,
            ])
            .env("FERRY_SECRET_KEY", SECRET_KEY),
        dir,
    )?;
    let ready_file = ready.clone();
    let ready = proc
        .wait_for("ready file", READY, |_| read_json(&ready))
        .await?;
    Ok(Node {
        ready: ready_file,
        https: str_of(&ready, "https", "ready file")?.parse()?,
        agent_addr: str_of(&ready, "agent_ingress", "ready file")?.to_string(),
        proc,
        data,
    })
}

/// A database of its own on the local PostgreSQL server, dropped at the end.
pub(crate) struct Database {
    name: String,
    pub(crate) url: String,
}

impl Database {
    pub(crate) async fn create() -> anyhow::Result<Self> {
        let name = format!("ferry_bench_{}", std::process::id());
        psql(&format!("DROP DATABASE IF EXISTS {name}")).await?;
        psql(&format!("CREATE DATABASE {name}")).await.context(
            "the cluster figures need PostgreSQL on 127.0.0.1:5432 (scripts/test.sh starts one)",
        )?;
        let url = format!("{SERVER}/{name}");
        Ok(Self { name, url })
    }

    pub(crate) async fn drop(self) {
        let _ = psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .await;
    }
}

async fn psql(sql: &str) -> anyhow::Result<()> {
    let out = tokio::process::Command::new("psql")
        .args([ADMIN_URL, "-q", "-c", sql])
        .output()
        .await
        .context("running psql")?;
    anyhow::ensure!(
        out.status.success(),
        "psql {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
