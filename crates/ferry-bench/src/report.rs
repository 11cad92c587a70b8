//! The table: every figure for every path, the ratios Ferry/direct and Ferry/rathole, and
//! whether the target for that figure was met in this run.

use std::collections::BTreeMap;

use crate::stats::Runs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Figure {
    Bulk1,
    Bulk8,
    HttpRps,
    HttpRpsQuiet,
    HttpP50,
    HttpP99,
    HttpCpuServer,
    HttpCpuClient,
    NewConns,
    LowP50,
    LowP99,
    IdleServer,
    IdleClient,
    HeldServer,
    HeldClient,
    PerConnServer,
    PerConnClient,
    PeakServer,
    PeakClient,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Higher,
    Lower,
}

impl Figure {
    fn label(self) -> &'static str {
        match self {
            Figure::Bulk1 => "TCP throughput, 1 stream (Gbit/s)",
            Figure::Bulk8 => "TCP throughput, 8 streams (Gbit/s)",
            Figure::HttpRps => "HTTP requests/s, 64 keep-alive connections",
            Figure::HttpRpsQuiet => "HTTP requests/s, the same with `inspect: false`",
            Figure::HttpP50 => "HTTP p50 latency at 64 connections (ms)",
            Figure::HttpP99 => "HTTP p99 latency at 64 connections (ms)",
            Figure::HttpCpuServer => "CPU per HTTP request, edge / rathole server (µs)",
            Figure::HttpCpuClient => "CPU per HTTP request, agent / rathole client (µs)",
            Figure::NewConns => "new TCP connections/s (one request each)",
            Figure::LowP50 => "one request at low load, p50 (ms)",
            Figure::LowP99 => "one request at low load, p99 (ms)",
            Figure::IdleServer => "RSS idle, edge / rathole server (MB)",
            Figure::IdleClient => "RSS idle, agent / rathole client (MB)",
            Figure::HeldServer => "RSS with the connections held, edge / server (MB)",
            Figure::HeldClient => "RSS with the connections held, agent / client (MB)",
            Figure::PerConnServer => "memory per open connection, edge / server (KB)",
            Figure::PerConnClient => "memory per open connection, agent / client (KB)",
            Figure::PeakServer => "peak RSS over the run, edge / server (MB)",
            Figure::PeakClient => "peak RSS over the run, agent / client (MB)",
        }
    }

    fn want(self) -> Want {
        match self {
            Figure::Bulk1
            | Figure::Bulk8
            | Figure::HttpRps
            | Figure::HttpRpsQuiet
            | Figure::NewConns => Want::Higher,
            _ => Want::Lower,
        }
    }

    /// The target for this figure, and whether Ferry met it.
    fn target(
        self,
        ferry: f64,
        direct: Option<f64>,
        rathole: Option<f64>,
    ) -> Option<(String, bool)> {
        let vs_rathole = |what: &str| {
            let r = rathole?;
            let ok = match self.want() {
                Want::Higher => ferry >= r,
                Want::Lower => ferry <= r,
            };
            Some((what.to_string(), ok))
        };
        match self {
            Figure::Bulk1 | Figure::Bulk8 => {
                let (d, r) = (direct?, rathole?);
                Some((
                    "≥ rathole, ≥ direct/3".into(),
                    ferry >= r && ferry * 3.0 >= d,
                ))
            }
            Figure::HttpRps | Figure::NewConns => vs_rathole("≥ rathole"),
            Figure::HttpP99 => vs_rathole("≤ rathole"),
            Figure::IdleServer | Figure::IdleClient => Some(("≤ 15 MB".into(), ferry <= 15.0)),
            Figure::PerConnServer | Figure::PerConnClient => {
                Some(("≤ 40 KB".into(), ferry <= 40.0))
            }
            _ => None,
        }
    }
}

pub struct Table {
    paths: Vec<&'static str>,
    values: BTreeMap<Figure, BTreeMap<&'static str, Runs>>,
}

impl Table {
    pub fn new(paths: Vec<&'static str>) -> Table {
        Table {
            paths,
            values: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, fig: Figure, path: &'static str, value: f64) {
        self.values
            .entry(fig)
            .or_default()
            .entry(path)
            .or_default()
            .push(value);
    }

    pub fn render(&self, machine: &str) -> String {
        let mut out = format!("Machine: {machine}\n\n");
        out.push_str("| figure |");
        for p in &self.paths {
            out.push_str(&format!(" {p} |"));
        }
        out.push_str(" Ferry/direct | Ferry/rathole | target |\n|---|");
        for _ in &self.paths {
            out.push_str("---:|");
        }
        out.push_str("---:|---:|---|\n");
        for (fig, by_path) in &self.values {
            out.push_str(&format!("| {} |", fig.label()));
            for p in &self.paths {
                out.push_str(&format!(" {} |", cell(by_path.get(p))));
            }
            let median = |p: &str| by_path.get(p).and_then(Runs::median);
            let (f, d, r) = (median("Ferry"), median("direct"), median("rathole"));
            out.push_str(&format!(" {} | {} |", ratio(f, d), ratio(f, r)));
            match f.and_then(|f| fig.target(f, d, r)) {
                Some((what, true)) => out.push_str(&format!(" {what}: met |\n")),
                Some((what, false)) => out.push_str(&format!(" {what}: **not met** |\n")),
                None => out.push_str(" |\n"),
            }
        }
        out
    }
}

fn cell(runs: Option<&Runs>) -> String {
    let Some(runs) = runs else {
        return "–".into();
    };
    match (runs.median(), runs.spread()) {
        (Some(m), Some((lo, hi))) if runs.0.len() > 1 => {
            format!("{} ({}–{})", num(m), num(lo), num(hi))
        }
        (Some(m), _) => num(m),
        _ => "–".into(),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "–".into(),
    }
}

/// Three significant figures, without scientific notation.
fn num(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The several-nodes section: latency through the agent's own node and through another
/// (a carried hop), what the hop adds, and failover after a kill -9.
pub fn cluster(runs: &crate::cluster::ClusterRuns, fleet: usize) -> String {
    let added = |hop: &Runs, own: &Runs| match (hop.median(), own.median()) {
        (Some(h), Some(o)) => num(h - o),
        _ => "–".into(),
    };
    let mut out = String::from(
        "\nSeveral nodes (two edges on one PostgreSQL database, an agent on node 1; one request at a time, 2 ms apart)\n\n| figure | through node 1 (the agent's) | through node 2 (carried) | added by the hop |\n|---|---:|---:|---:|\n",
    );
    for (label, own, hop) in [
        ("HTTPS p50 (ms)", &runs.own_p50, &runs.hop_p50),
        ("HTTPS p99 (ms)", &runs.own_p99, &runs.hop_p99),
    ] {
        out.push_str(&format!(
            "| {label} | {} | {} | {} |\n",
            cell(Some(own)),
            cell(Some(hop)),
            added(hop, own)
        ));
    }
    out.push_str(&format!(
        "\n| failover (s) | |\n|---|---:|\n| kill -9 of node 1 until the name answers through node 2 | {} |\n| kill -9 of node 1 until all {fleet} agents of a fleet are online through node 2 | {} |\n",
        cell(Some(&runs.failover_s)),
        cell(Some(&runs.fleet_s))
    ));
    out
}

/// The upgrade-in-place figures: seconds as a median with the spread, requests as totals
/// over every run.
pub fn upgrade(runs: &[crate::upgrade::UpgradeRun], fleet: usize) -> String {
    let mut back = Runs::default();
    let mut gone = Runs::default();
    let mut slowest = Runs::default();
    for r in runs {
        back.push(r.back_s);
        gone.push(r.old_gone_s);
        slowest.push(r.slowest_s);
    }
    let requests: usize = runs.iter().map(|r| r.requests).sum();
    let failed: usize = runs.iter().map(|r| r.failed).sum();
    format!(
        "\nAn upgrade in place (SIGUSR2 to one edge with {fleet} Ferry agents, each request on a new connection)\n\n| figure | |\n|---|---:|\n| SIGUSR2 until every agent serves through the new process (s) | {} |\n| SIGUSR2 until the old process has exited (s) | {} |\n| the slowest request meanwhile (s) | {} |\n| requests meanwhile, all runs | {requests} |\n| of which failed | {failed} |\n",
        cell(Some(&back)),
        cell(Some(&gone)),
        cell(Some(&slowest)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_compare_in_the_right_direction() {
        assert_eq!(
            Figure::HttpP99.target(9.0, None, Some(10.0)).map(|t| t.1),
            Some(true)
        );
        assert_eq!(
            Figure::HttpRps.target(9.0, None, Some(10.0)).map(|t| t.1),
            Some(false)
        );
        assert_eq!(
            Figure::Bulk1.target(3.0, Some(9.0), Some(2.0)).map(|t| t.1),
            Some(true)
        );
        assert_eq!(
            Figure::Bulk1
                .target(3.0, Some(10.0), Some(3.5))
                .map(|t| t.1),
            Some(false)
        );
        assert_eq!(
            Figure::Bulk8
                .target(3.0, Some(12.0), Some(2.0))
                .map(|t| t.1),
            Some(false)
        );
        assert_eq!(
            Figure::PerConnClient.target(41.0, None, None).map(|t| t.1),
            Some(false)
        );
        assert_eq!(Figure::LowP50.target(1.0, Some(0.5), Some(2.0)), None);
    }

    #[test]
    fn the_table_names_every_path_and_ratio() {
        let mut t = Table::new(vec!["direct", "Ferry", "rathole"]);
        t.add(Figure::Bulk1, "direct", 20.0);
        t.add(Figure::Bulk1, "Ferry", 8.0);
        t.add(Figure::Bulk1, "Ferry", 10.0);
        t.add(Figure::Bulk1, "rathole", 4.0);
        let text = t.render("test machine");
        assert!(text.contains("| TCP throughput, 1 stream (Gbit/s) | 20.0 | 9.00 (8.00–10.0) | 4.00 | 0.45 | 2.25 | ≥ rathole, ≥ direct/3: met |"), "{text}");
    }
}
