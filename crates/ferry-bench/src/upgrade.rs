//! An edge upgraded in place (SIGUSR2) under a fleet of Ferry agents (in this process, one
//! HTTPS tunnel each) while a client keeps asking for their names, each request on a new
//! connection: how long until every agent serves through the new process, how long the old
//! one takes to drain and exit, how many requests failed meanwhile (the goal: none) and the
//! longest one took.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rustls::pki_types::ServerName;

use crate::cluster::{node, Database};
use crate::fleet::{start, wait_for};
use crate::load;
use crate::setup::{connector, read_json, str_of, HttpTarget, Origin};

/// One run's figures.
pub struct UpgradeRun {
    /// Seconds from SIGUSR2 until every agent has bound again through the new process.
    pub back_s: f64,
    /// Seconds from SIGUSR2 until the old process has exited.
    pub old_gone_s: f64,
    /// Requests sent from the signal until every agent was back.
    pub requests: usize,
    /// Of those, the ones that failed (refused, reset, not the origin's 200, or over the
    /// client's 10 s).
    pub failed: usize,
    /// The longest any of them took: one for a name whose agent was still on its way waits
    /// for it.
    pub slowest_s: f64,
}

pub async fn run(
    dir: &Path,
    ferry: &Path,
    origin: &Origin,
    count: usize,
) -> anyhow::Result<UpgradeRun> {
    let db = Database::create().await?;
    let mut edge = node(dir, ferry, &db.url, "up", "127.0.0.71").await?;
    let dev = read_json(&edge.data.join("dev.json")).context("the edge's dev.json")?;
    let token = str_of(&dev, "authtoken", "dev.json")?.to_string();
    let ca = PathBuf::from(str_of(&dev, "ca_cert", "dev.json")?);

    let (agents, online) = start(count, &token, &edge.agent_addr, Vec::new(), &ca, origin)?;
    wait_for(&online, count, Duration::from_secs(120), "the fleet online").await?;

    // The client: every name in turn, a new connection each time.
    let connector = connector(&ca)?;
    let stop = Arc::new(AtomicBool::new(false));
    let (requests, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let slowest = Arc::new(std::sync::Mutex::new(Duration::ZERO));
    let client = {
        let (stop, requests, failed) = (stop.clone(), requests.clone(), failed.clone());
        let slowest = slowest.clone();
        let https = edge.https;
        tokio::spawn(async move {
            for i in (0..count).cycle() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let host = format!("a{i}.fleet.bench.example.test");
                let Ok(name) = ServerName::try_from(host.clone()) else {
                    break;
                };
                let target = HttpTarget {
                    addr: https,
                    host,
                    tls: Some((connector.clone(), name)),
                };
                requests.fetch_add(1, Ordering::SeqCst);
                match load::timed_request(&target).await {
                    Ok(took) => {
                        let mut longest = slowest.lock().unwrap_or_else(|p| p.into_inner());
                        *longest = (*longest).max(took);
                    }
                    Err(error) => {
                        failed.fetch_add(1, Ordering::SeqCst);
                        eprintln!("a request for {} failed: {error:#}", target.host);
                    }
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;

    *slowest.lock().unwrap_or_else(|p| p.into_inner()) = Duration::ZERO;
    let (before_requests, before_failed) = (
        requests.load(Ordering::SeqCst),
        failed.load(Ordering::SeqCst),
    );
    let status = Command::new("kill")
        .args(["-USR2", &edge.proc.pid().to_string()])
        .status()?;
    anyhow::ensure!(status.success(), "kill -USR2 failed");
    let signalled = Instant::now();
    let mut old_gone = None;
    // Each agent comes online a second time, through the new process.
    while online.load(Ordering::SeqCst) < 2 * count {
        if old_gone.is_none() && edge.proc.exited() {
            old_gone = Some(signalled.elapsed());
        }
        anyhow::ensure!(
            signalled.elapsed() < Duration::from_secs(120),
            "{} of {count} agents back 120 s after SIGUSR2:\n{}",
            online.load(Ordering::SeqCst) - count,
            edge.proc.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let back = signalled.elapsed();
    stop.store(true, Ordering::SeqCst);
    let _ = client.await;
    while old_gone.is_none() {
        if edge.proc.exited() {
            old_gone = Some(signalled.elapsed());
        }
        anyhow::ensure!(
            signalled.elapsed() < Duration::from_secs(60),
            "the old process still runs 60 s after SIGUSR2"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ready = read_json(&edge.ready).context("the new process's ready file")?;
    let successor = ready["pid"].as_u64().context("the ready file's pid")?;
    let _ = Command::new("kill")
        .args(["-9", &successor.to_string()])
        .status();
    drop(agents);
    drop(edge);
    db.drop().await;
    let slowest_s = slowest
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_secs_f64();
    Ok(UpgradeRun {
        back_s: back.as_secs_f64(),
        old_gone_s: old_gone.unwrap_or(back).as_secs_f64(),
        requests: requests.load(Ordering::SeqCst) - before_requests,
        failed: failed.load(Ordering::SeqCst) - before_failed,
        slowest_s,
    })
}
