//! Bulk TCP throughput measured by iperf3's client, read from its JSON report.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::Value;

/// What one iperf3 run moved.
pub struct Bulk {
    /// Gigabits per second received by the server, the first second left out.
    pub gbps: f64,
    /// Every byte moved, the first second's too (for CPU per byte over the whole run).
    pub bytes: f64,
}

/// Bulk throughput with `streams` parallel streams.
pub async fn throughput(
    iperf3: &str,
    to: SocketAddr,
    streams: usize,
    duration: Duration,
) -> anyhow::Result<Bulk> {
    let mut cmd = Command::new(iperf3);
    cmd.args([
        "-c",
        &to.ip().to_string(),
        "-p",
        &to.port().to_string(),
        "-J",
    ])
    .args(["-P", &streams.to_string()])
    .args(["-t", &duration.as_secs().max(1).to_string()])
    // The first second (slow start, window growth) is not counted.
    .args(["-O", "1"]);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await?
        .context("running iperf3")?;
    let report: Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "iperf3 printed no JSON: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    if let Some(e) = report["error"].as_str() {
        bail!("iperf3 to {to}: {e}");
    }
    let bps = report["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .with_context(|| format!("iperf3 report without end.sum_received: {report}"))?;
    let intervals = report["intervals"].as_array().map(Vec::as_slice);
    let bytes = intervals
        .unwrap_or_default()
        .iter()
        .filter_map(|i| i["sum"]["bytes"].as_f64())
        .sum();
    Ok(Bulk {
        gbps: bps / 1e9,
        bytes,
    })
}
