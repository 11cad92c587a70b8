//! A fleet of Ferry agents (in this process, one HTTPS tunnel each) on node 1 of two, and
//! how long after a kill -9 of node 1 every one of them has re-bound through node 2. What
//! keeps that from being a stampede: the edge admits at most 64 connections per address
//! waiting to authenticate (all of these come from 127.0.0.1) and refuses the rest at
//! once, and the agents back off with jitter before they try again.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ferry_agent::{Agent, AgentConfig, AgentEvent, RootCas, TunnelProto, TunnelSpec, Upstream};
use ferry_types::Secret;

use crate::cluster::{node, Database};
use crate::setup::{read_json, str_of, Origin};

/// Seconds from the kill until the last agent of `count` is online again.
pub async fn run(dir: &Path, ferry: &Path, origin: &Origin, count: usize) -> anyhow::Result<f64> {
    let db = Database::create().await?;
    let mut n1 = node(dir, ferry, &db.url, "n1", "127.0.0.61").await?;
    let n2 = node(dir, ferry, &db.url, "n2", "127.0.0.62").await?;
    let dev = read_json(&n1.data.join("dev.json")).context("n1's dev.json")?;
    let token = str_of(&dev, "authtoken", "dev.json")?.to_string();
    let ca = PathBuf::from(str_of(&dev, "ca_cert", "dev.json")?);

    let (agents, online) = start(
        count,
        &token,
        &n1.agent_addr,
        vec![n2.agent_addr.clone()],
        &ca,
        origin,
    )?;
    wait_for(
        &online,
        count,
        Duration::from_secs(120),
        "the fleet online on node 1",
    )
    .await?;

    n1.proc.kill9();
    let killed = Instant::now();
    // Every agent online, and through node 2 (a few may have started there, when node 1's
    // admission control turned them away at first).
    loop {
        let mut back = 0;
        for a in &agents {
            if a.server_addr() == n2.agent_addr && a.is_online().await {
                back += 1;
            }
        }
        if back == count {
            break;
        }
        anyhow::ensure!(
            killed.elapsed() < Duration::from_secs(300),
            "{back} of {count} agents online through node 2 after 300 s; node 2's log ends:\n{}",
            tail(&n2.proc.log(), 40)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = killed.elapsed().as_secs_f64();
    drop(agents);
    drop(n2);
    drop(n1);
    db.drop().await;
    Ok(took)
}

/// Starts `count` agents, one HTTPS tunnel each, dialling `server` (then `more`), and a
/// count of every time one of them comes online.
pub(crate) fn start(
    count: usize,
    token: &str,
    server: &str,
    more: Vec<String>,
    ca: &Path,
    origin: &Origin,
) -> anyhow::Result<(Vec<Agent>, Arc<AtomicUsize>)> {
    let online = Arc::new(AtomicUsize::new(0));
    let mut agents = Vec::with_capacity(count);
    for i in 0..count {
        let mut config = AgentConfig::new(
            Secret::new(token.to_string()),
            server.to_string(),
            RootCas::File(ca.to_path_buf()),
        );
        config.more_server_addrs = more.clone();
        config.inspect_db_size = None;
        let agent = Agent::new(config, vec![spec(i, &origin.http.to_string())?])?;
        let mut events = agent.subscribe();
        let seen = online.clone();
        tokio::spawn(async move {
            while let Ok(e) = events.recv().await {
                if matches!(e, AgentEvent::Online) {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        let runner = agent.clone();
        tokio::spawn(async move { runner.run().await });
        agents.push(agent);
    }
    Ok((agents, online))
}

fn tail(log: &str, lines: usize) -> String {
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn spec(i: usize, upstream: &str) -> anyhow::Result<TunnelSpec> {
    Ok(TunnelSpec {
        domain: Some(format!("a{i}.fleet.bench.example.test")),
        inspect: false,
        ..TunnelSpec::new(
            format!("a{i}"),
            TunnelProto::Http,
            Upstream::parse(upstream)?,
        )
    })
}

pub(crate) async fn wait_for(
    online: &AtomicUsize,
    count: usize,
    limit: Duration,
    what: &str,
) -> anyhow::Result<()> {
    let started = Instant::now();
    while online.load(Ordering::SeqCst) < count {
        anyhow::ensure!(
            started.elapsed() < limit,
            "{what}: {} of {count} after {limit:?}",
            online.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
