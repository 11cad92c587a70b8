//! `ferry-bench`: one run on loopback that does the same work directly, through Ferry,
//! through rathole with TLS and through the HTTPS stacks a self-hoster would build instead
//! (nginx in front of rathole, nginx alone), and prints every figure with its median, spread
//! and ratios.
//! `bench/run.sh` installs the tools and builds the binaries; this program only measures.

mod cluster;
mod fleet;
mod iperf;
mod load;
mod origin;
mod procs;
mod report;
mod setup;
mod stats;
mod upgrade;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::report::{Figure, Table};
use crate::setup::{PathUnderTest, Role};
use crate::stats::percentile;

#[derive(Parser)]
#[command(
    about = "Ferry against a direct connection, rathole (TLS), nginx + rathole and nginx, side by side"
)]
struct Args {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// The `ferry` binary to measure (a release build).
    #[arg(long, default_value = "target/release/ferry")]
    ferry: PathBuf,
    /// The `rathole` binary (built with its `tls` feature).
    #[arg(long, default_value = "target/bench-tools/bin/rathole")]
    rathole: PathBuf,
    #[arg(long, default_value = "iperf3")]
    iperf3: String,
    /// Debian's nginx, for the nginx + rathole and nginx paths.
    #[arg(long, default_value = "nginx")]
    nginx: PathBuf,
    /// About one minute: one run of each figure, shorter durations.
    #[arg(long)]
    quick: bool,
    /// Runs of each figure (default 5, 1 with --quick).
    #[arg(long)]
    runs: Option<usize>,
    /// Agents in the fleet figure.
    #[arg(long, default_value_t = 1000)]
    fleet: usize,
    /// Connections held open to measure memory per connection.
    #[arg(long, default_value_t = 1000)]
    hold: usize,
    /// Measure only these parts (default: all), to iterate on one figure while tuning.
    #[arg(long, value_delimiter = ',')]
    only: Vec<Part>,
    /// Measure only these paths (default: all).
    #[arg(long, value_delimiter = ',')]
    paths: Vec<Way>,
    /// Also write the table (Markdown) to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// `data_connections` in the Ferry agent's ngrok.yml (default: the agent's own), to
    /// measure with and without them in turn.
    #[arg(long)]
    data_connections: Option<u8>,
    /// Seconds each keep-alive connection of the HTTP runs sends requests before the measured
    /// part (its requests and the relays' CPU not counted; the connections' handshakes are
    /// then not counted either). 0: measured from the first handshake.
    #[arg(long, default_value_t = 0)]
    warmup: u64,
}

#[derive(Subcommand)]
enum Cmd {
    /// The origin servers (started by the harness itself).
    Origin,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Part {
    Memory,
    Bulk,
    Http,
    Fresh,
    Low,
    /// Two Ferry nodes on one PostgreSQL database: a forwarded hop, and failover.
    Cluster,
    /// A fleet of agents on a node that dies, back through the other.
    Fleet,
    /// A fleet of agents on an edge upgraded in place (SIGUSR2) under requests.
    Upgrade,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Way {
    Direct,
    Ferry,
    Rathole,
    /// nginx terminating TLS in front of a rathole server (TLS transport).
    NginxRathole,
    /// nginx alone terminating TLS in front of the origin.
    Nginx,
}

struct Plan {
    only: Vec<Part>,
    runs: usize,
    bulk: Duration,
    http: Duration,
    /// How long the keep-alive connections send requests before the measured part.
    warmup: Duration,
    fresh: Duration,
    samples: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Runtime::new()?;
    match args.cmd {
        Some(Cmd::Origin) => rt.block_on(origin::run()),
        None => rt.block_on(bench(args)),
    }
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let plan = if args.quick {
        Plan {
            only: args.only.clone(),
            runs: args.runs.unwrap_or(1),
            bulk: Duration::from_secs(3),
            http: Duration::from_secs(3),
            warmup: Duration::from_secs(args.warmup),
            fresh: Duration::from_secs(2),
            samples: 100,
        }
    } else {
        Plan {
            only: args.only.clone(),
            runs: args.runs.unwrap_or(5),
            bulk: Duration::from_secs(6),
            http: Duration::from_secs(5),
            warmup: Duration::from_secs(args.warmup),
            fresh: Duration::from_secs(3),
            samples: 300,
        }
    };
    let dir = tempfile::tempdir()?;
    eprintln!(
        "starting the origin, iperf3 and the relays in {:?}",
        dir.path()
    );
    let origin = setup::origin(dir.path(), &args.iperf3).await?;
    let wanted = |w: Way| args.paths.is_empty() || args.paths.contains(&w);
    let mut paths = Vec::new();
    if wanted(Way::Direct) {
        paths.push(setup::direct(&origin));
    }
    if wanted(Way::Ferry) {
        let ferry = setup::ferry(dir.path(), &args.ferry, &origin, args.data_connections).await;
        paths.push(ferry.context("starting Ferry")?);
    }
    if wanted(Way::Rathole) {
        let rathole = setup::rathole(dir.path(), &args.rathole, &args.ferry, &origin).await;
        paths.push(rathole.context("starting rathole")?);
    }
    if wanted(Way::NginxRathole) {
        let stack =
            setup::nginx_rathole(dir.path(), &args.nginx, &args.rathole, &args.ferry, &origin);
        paths.push(stack.await.context("starting nginx + rathole")?);
    }
    if wanted(Way::Nginx) {
        let nginx = setup::nginx_alone(dir.path(), &args.nginx, &args.ferry, &origin).await;
        paths.push(nginx.context("starting nginx")?);
    }
    let mut table = Table::new(paths.iter().map(|p| p.name).collect());

    if plan.wants(Part::Memory) {
        memory(&mut table, &mut paths, args.hold).await?;
    }
    for run in 1..=plan.runs {
        eprintln!("run {run}/{}", plan.runs);
        for p in paths.iter_mut() {
            measure(&mut table, p, &plan, &args.iperf3)
                .await
                .with_context(|| format!("measuring {}", p.name))?;
            for (_, relay) in p.relay.iter_mut() {
                relay.check_alive()?;
            }
        }
    }
    for p in &paths {
        if let [(Role::Server, server), (Role::Client, client)] = &p.relay[..] {
            let (s, c) = (server.memory()?, client.memory()?);
            table.add(Figure::PeakServer, p.name, mb(s.peak));
            table.add(Figure::PeakClient, p.name, mb(c.peak));
        }
    }

    let mut text = table.render(&machine(&args));
    if plan.wants(Part::Cluster) || plan.wants(Part::Fleet) {
        let mut runs = cluster::ClusterRuns::default();
        for run in (1..=plan.runs).filter(|_| plan.wants(Part::Cluster)) {
            eprintln!("several nodes: run {run}/{}", plan.runs);
            cluster::run(dir.path(), &args.ferry, &origin, plan.samples, &mut runs)
                .await
                .context("measuring several nodes")?;
        }
        if plan.wants(Part::Fleet) {
            for run in 1..=plan.runs {
                eprintln!("a fleet of {} agents: run {run}/{}", args.fleet, plan.runs);
                let took = fleet::run(dir.path(), &args.ferry, &origin, args.fleet)
                    .await
                    .context("measuring the fleet")?;
                runs.fleet_s.push(took);
            }
        }
        text.push_str(&report::cluster(&runs, args.fleet));
    }
    if plan.wants(Part::Upgrade) {
        let mut runs = Vec::new();
        for run in 1..=plan.runs {
            eprintln!(
                "an upgrade in place under {} agents: run {run}/{}",
                args.fleet, plan.runs
            );
            runs.push(
                upgrade::run(dir.path(), &args.ferry, &origin, args.fleet)
                    .await
                    .context("measuring an upgrade in place")?,
            );
        }
        text.push_str(&report::upgrade(&runs, args.fleet));
    }
    println!("{text}");
    if let Some(out) = &args.out {
        std::fs::write(out, &text).with_context(|| format!("writing {out:?}"))?;
    }
    Ok(())
}

/// Memory first, on relays that have carried nothing yet: idle, then with `hold`
/// connections open end to end. Only for paths of a server and a client with a TCP relay
/// (Ferry, rathole); the nginx paths have no TCP relay to hold connections on.
async fn memory(table: &mut Table, paths: &mut [PathUnderTest], hold: usize) -> anyhow::Result<()> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    for p in paths.iter() {
        let ([(Role::Server, server), (Role::Client, client)], Some(echo)) = (&p.relay[..], p.echo)
        else {
            continue;
        };
        let (s0, c0) = (server.memory()?, client.memory()?);
        eprintln!("{}: holding {hold} connections", p.name);
        let conns = load::hold(echo, hold)
            .await
            .with_context(|| format!("{}: holding {hold} connections", p.name))?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (s1, c1) = (server.memory()?, client.memory()?);
        drop(conns);
        table.add(Figure::IdleServer, p.name, mb(s0.rss));
        table.add(Figure::IdleClient, p.name, mb(c0.rss));
        table.add(Figure::HeldServer, p.name, mb(s1.rss));
        table.add(Figure::HeldClient, p.name, mb(c1.rss));
        let per = |a: u64, b: u64| b.saturating_sub(a) as f64 / hold as f64 / 1000.0;
        table.add(Figure::PerConnServer, p.name, per(s0.rss, s1.rss));
        table.add(Figure::PerConnClient, p.name, per(c0.rss, c1.rss));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(())
}

async fn measure(
    table: &mut Table,
    p: &mut PathUnderTest,
    plan: &Plan,
    iperf3: &str,
) -> anyhow::Result<()> {
    if let (true, Some(target)) = (plan.wants(Part::Bulk), p.iperf) {
        let runs = [
            (1, Figure::Bulk1, Figure::BulkCpu1),
            (8, Figure::Bulk8, Figure::BulkCpu8),
        ];
        for (streams, fig, cpu_fig) in runs {
            let before = cpu(&p.relay)?;
            let bulk = iperf::throughput(iperf3, target, streams, plan.bulk).await?;
            let after = cpu(&p.relay)?;
            table.add(fig, p.name, bulk.gbps);
            if !p.relay.is_empty() && bulk.bytes > 0.0 {
                let used: Duration = after
                    .iter()
                    .zip(&before)
                    .map(|(a, b)| a.saturating_sub(*b))
                    .sum();
                table.add(cpu_fig, p.name, used.as_secs_f64() / (bulk.bytes / 1e9));
            }
        }
    }
    if plan.wants(Part::Http) {
        let (mut run, used) = timed_load(&p.http, &p.relay, plan).await?;
        let per = |d: Duration| run.cpu_per_request(d);
        for ((role, _), used) in p.relay.iter().zip(&used) {
            let fig = match role {
                Role::Server => Figure::HttpCpuServer,
                Role::Client => Figure::HttpCpuClient,
                Role::Proxy => Figure::HttpCpuProxy,
            };
            table.add(fig, p.name, per(*used));
        }
        if !p.relay.is_empty() {
            table.add(Figure::HttpCpuTotal, p.name, per(used.iter().sum()));
        }
        table.add(Figure::HttpRps, p.name, run.per_second());
        // The other paths have no inspector to turn off: their figure stands for both rows.
        let quiet = match &p.http_quiet {
            Some(target) => {
                let (quiet, used) = timed_load(target, &p.relay, plan).await?;
                let figs = [Figure::HttpCpuServerQuiet, Figure::HttpCpuClientQuiet];
                for (fig, used) in figs.into_iter().zip(&used) {
                    table.add(fig, p.name, quiet.cpu_per_request(*used));
                }
                quiet.per_second()
            }
            None => run.per_second(),
        };
        table.add(Figure::HttpRpsQuiet, p.name, quiet);
        if let Some(target) = &p.http_bytes {
            let (bytes, used) = timed_load(target, &p.relay, plan).await?;
            let figs = [Figure::HttpCpuServerBytes, Figure::HttpCpuClientBytes];
            for (fig, used) in figs.into_iter().zip(&used) {
                table.add(fig, p.name, bytes.cpu_per_request(*used));
            }
            table.add(Figure::HttpRpsBytes, p.name, bytes.per_second());
        }
        percentiles(table, (Figure::HttpP50, Figure::HttpP99), p.name, &mut run);
    }
    if let (true, Some(target)) = (plan.wants(Part::Fresh), p.http_tcp) {
        let run = load::new_connections(target, 16, plan.fresh).await?;
        table.add(Figure::NewConns, p.name, run.per_second());
    }
    if plan.wants(Part::Low) {
        let mut run = load::low_load(&p.http, plan.samples, Duration::from_millis(2)).await?;
        percentiles(table, (Figure::LowP50, Figure::LowP99), p.name, &mut run);
    }
    Ok(())
}

/// The keep-alive load at `target`, with the CPU each relay process used meanwhile.
async fn timed_load(
    target: &setup::HttpTarget,
    relay: &[(Role, procs::Proc)],
    plan: &Plan,
) -> anyhow::Result<(load::HttpRun, Vec<Duration>)> {
    let mut before = cpu(relay)?;
    let mut clients = load::clients(target, 64).await?;
    if !plan.warmup.is_zero() {
        load::keepalive(&mut clients, plan.warmup).await?;
        before = cpu(relay)?;
    }
    let run = load::keepalive(&mut clients, plan.http).await?;
    let after = cpu(relay)?;
    let used = after.iter().zip(&before).map(|(a, b)| a.saturating_sub(*b));
    Ok((run, used.collect()))
}

/// Records a run's p50 and p99 latency, in milliseconds.
fn percentiles(
    table: &mut Table,
    (p50, p99): (Figure, Figure),
    path: &'static str,
    run: &mut load::HttpRun,
) {
    table.add(p50, path, ms(percentile(&mut run.latencies_us, 50.0)));
    table.add(p99, path, ms(percentile(&mut run.latencies_us, 99.0)));
}

fn cpu(relay: &[(Role, procs::Proc)]) -> anyhow::Result<Vec<Duration>> {
    relay.iter().map(|(_, p)| p.cpu()).collect()
}

impl Plan {
    fn wants(&self, part: Part) -> bool {
        self.only.is_empty() || self.only.contains(&part)
    }
}

fn ms(us: Option<u32>) -> f64 {
    us.map_or(f64::NAN, |v| v as f64 / 1000.0)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// What the figures were measured on, for the record in BENCHMARKS.md.
fn machine(args: &Args) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let version = |cmd: &std::path::Path, arg: &str| {
        std::process::Command::new(cmd)
            .arg(arg)
            .output()
            .ok()
            .and_then(|o| {
                // rathole prints its name and version first in --help, nginx in -v; both
                // on stderr.
                let text = [o.stdout, o.stderr].concat();
                String::from_utf8_lossy(&text)
                    .lines()
                    .next()
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "?".into())
    };
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpu}, {cores} cores, Linux {}; {}; {}; {}; {}",
        kernel.trim(),
        version(&args.ferry, "--version"),
        version(&args.rathole, "--help"),
        version(&args.nginx, "-v"),
        version(std::path::Path::new(&args.iperf3), "--version"),
    )
}
