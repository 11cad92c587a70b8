//! The table: every figure for every path, the ratio of Ferry's figure to every other
//! path's, and whether the issues' targets for that figure were met in this run.

use std::collections::BTreeMap;

use crate::stats::Runs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Figure {
    Bulk1,
    Bulk8,
    BulkCpu1,
    BulkCpu8,
    HttpRps,
    HttpRpsQuiet,
    HttpP50,
    HttpP99,
    HttpCpuServer,
    HttpCpuClient,
    HttpCpuProxy,
    HttpCpuTotal,
    HttpCpuServerQuiet,
    HttpCpuClientQuiet,
    HttpRpsBytes,
    HttpCpuServerBytes,
    HttpCpuClientBytes,
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
            Figure::BulkCpu1 => "CPU of the relay's processes per GB moved, 1 stream (s)",
            Figure::BulkCpu8 => "CPU of the relay's processes per GB moved, 8 streams (s)",
            Figure::HttpRps => "HTTP requests/s, 64 keep-alive connections",
            Figure::HttpRpsQuiet => "HTTP requests/s, the same with `inspect: false`",
            Figure::HttpCpuServerQuiet => "CPU per request with `inspect: false`, edge (µs)",
            Figure::HttpCpuClientQuiet => "CPU per request with `inspect: false`, agent (µs)",
            Figure::HttpRpsBytes => {
                "requests/s, the same through a TLS endpoint terminated at the edge (bytes only)"
            }
            Figure::HttpCpuServerBytes => "CPU per request through that TLS endpoint, edge (µs)",
            Figure::HttpCpuClientBytes => "CPU per request through that TLS endpoint, agent (µs)",
            Figure::HttpP50 => "HTTP p50 latency at 64 connections (ms)",
            Figure::HttpP99 => "HTTP p99 latency at 64 connections (ms)",
            Figure::HttpCpuServer => "CPU per HTTP request, edge / rathole server (µs)",
            Figure::HttpCpuClient => "CPU per HTTP request, agent / rathole client (µs)",
            Figure::HttpCpuProxy => "CPU per HTTP request, nginx (µs)",
            Figure::HttpCpuTotal => "CPU per HTTP request, every relay process together (µs)",
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
            | Figure::HttpRpsBytes
            | Figure::NewConns => Want::Higher,
            _ => Want::Lower,
        }
    }

    /// The issues' targets for this figure, each with whether Ferry met it; `median` gives
    /// another path's figure, and a target against a path not measured is left out.
    fn targets(self, ferry: f64, median: impl Fn(&str) -> Option<f64>) -> Vec<(String, bool)> {
        // Ferry against a multiple of another path's figure (issue 6: rathole; issue 17: the
        // HTTPS stacks a self-hoster would build).
        let against: &[(&str, f64)] = match self {
            Figure::HttpRps => &[("rathole", 1.0), ("nginx+rathole", 1.25), ("nginx", 0.6)],
            Figure::HttpRpsQuiet => &[("nginx+rathole", 1.5)],
            Figure::HttpP99 => &[("rathole", 1.0), ("nginx+rathole", 1.0)],
            Figure::NewConns => &[("rathole", 1.0)],
            _ => &[],
        };
        let mut out = Vec::new();
        for &(path, factor) in against {
            let Some(other) = median(path) else {
                continue;
            };
            let (sign, ok) = match self.want() {
                Want::Higher => ("≥", ferry >= factor * other),
                Want::Lower => ("≤", ferry <= factor * other),
            };
            let what = if factor == 1.0 {
                format!("{sign} {path}")
            } else {
                format!("{sign} {factor}× {path}")
            };
            out.push((what, ok));
        }
        match self {
            Figure::Bulk1 | Figure::Bulk8 => {
                if let (Some(d), Some(r)) = (median("direct"), median("rathole")) {
                    out.push((
                        "≥ rathole, ≥ direct/3".into(),
                        ferry >= r && ferry * 3.0 >= d,
                    ));
                }
            }
            Figure::IdleServer | Figure::IdleClient => {
                out.push(("≤ 15 MB".into(), ferry <= 15.0));
            }
            Figure::PerConnServer | Figure::PerConnClient => {
                out.push(("≤ 40 KB".into(), ferry <= 40.0));
            }
            _ => {}
        }
        out
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
        let others: Vec<&str> = self
            .paths
            .iter()
            .copied()
            .filter(|p| *p != "Ferry")
            .collect();
        for p in &others {
            out.push_str(&format!(" Ferry/{p} |"));
        }
        out.push_str(" target |\n|---|");
        for _ in self.paths.iter().chain(&others) {
            out.push_str("---:|");
        }
        out.push_str("---|\n");
        for (fig, by_path) in &self.values {
            out.push_str(&format!("| {} |", fig.label()));
            for p in &self.paths {
                out.push_str(&format!(" {} |", cell(by_path.get(p))));
            }
            let median = |p: &str| by_path.get(p).and_then(Runs::median);
            let ferry = median("Ferry");
            for p in &others {
                out.push_str(&format!(" {} |", ratio(ferry, median(p))));
            }
            let targets = ferry.map(|f| fig.targets(f, median)).unwrap_or_default();
            let verdicts: Vec<String> = targets
                .into_iter()
                .map(|(what, ok)| match ok {
                    true => format!("{what}: met"),
                    false => format!("{what}: **not met**"),
                })
                .collect();
            out.push_str(&format!(" {} |\n", verdicts.join("; ")));
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

    /// Whether Ferry met each target of `fig`, given the other paths' medians.
    fn met(fig: Figure, ferry: f64, others: &[(&str, f64)]) -> Vec<bool> {
        let median = |p: &str| others.iter().find(|(n, _)| *n == p).map(|(_, v)| *v);
        fig.targets(ferry, median)
            .into_iter()
            .map(|t| t.1)
            .collect()
    }

    #[test]
    fn targets_compare_in_the_right_direction() {
        assert_eq!(met(Figure::HttpP99, 9.0, &[("rathole", 10.0)]), [true]);
        assert_eq!(met(Figure::HttpRps, 9.0, &[("rathole", 10.0)]), [false]);
        assert_eq!(
            met(Figure::Bulk1, 3.0, &[("direct", 9.0), ("rathole", 2.0)]),
            [true]
        );
        assert_eq!(
            met(Figure::Bulk1, 3.0, &[("direct", 10.0), ("rathole", 3.5)]),
            [false]
        );
        assert_eq!(
            met(Figure::Bulk8, 3.0, &[("direct", 12.0), ("rathole", 2.0)]),
            [false]
        );
        assert_eq!(met(Figure::PerConnClient, 41.0, &[]), [false]);
        assert!(met(Figure::LowP50, 1.0, &[("direct", 0.5), ("rathole", 2.0)]).is_empty());
    }

    #[test]
    fn targets_against_the_nginx_stacks_scale_their_figures() {
        // 1.25× nginx + rathole and 0.6× nginx alone: 12,000 is met against 9,000 (11,250
        // needed) and 20,000 (12,000 needed), not against 10,000 (12,500 needed).
        let stacks = |stack: f64| [("nginx+rathole", stack), ("nginx", 20_000.0)];
        assert_eq!(
            met(Figure::HttpRps, 12_000.0, &stacks(9_000.0)),
            [true, true]
        );
        assert_eq!(
            met(Figure::HttpRps, 12_000.0, &stacks(10_000.0)),
            [false, true]
        );
        assert_eq!(
            met(Figure::HttpRpsQuiet, 15_000.0, &stacks(10_000.0)),
            [true]
        );
        assert_eq!(
            met(Figure::HttpP99, 5.0, &[("nginx+rathole", 4.0)]),
            [false]
        );
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

    #[test]
    fn the_nginx_paths_get_ratio_columns_and_targets() {
        let mut t = Table::new(vec!["Ferry", "nginx+rathole", "nginx"]);
        t.add(Figure::HttpRps, "Ferry", 12_000.0);
        t.add(Figure::HttpRps, "nginx+rathole", 10_000.0);
        t.add(Figure::HttpRps, "nginx", 20_000.0);
        t.add(Figure::HttpCpuProxy, "nginx", 20.0);
        let text = t.render("test machine");
        assert!(
            text.contains("| Ferry/nginx+rathole | Ferry/nginx | target |"),
            "{text}"
        );
        assert!(text.contains("| HTTP requests/s, 64 keep-alive connections | 12000 | 10000 | 20000 | 1.20 | 0.60 | ≥ 1.25× nginx+rathole: **not met**; ≥ 0.6× nginx: met |"), "{text}");
        assert!(
            text.contains("| CPU per HTTP request, nginx (µs) | – | – | 20.0 | – | – |  |"),
            "{text}"
        );
    }
}
