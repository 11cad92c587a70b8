//! `ferry service` and `ferry edge service`, as ngrok's `ngrok service`: a systemd unit that
//! runs this very binary (its absolute path) with absolute config paths, so the service keeps
//! working whatever directory it was installed from, and `start`/`stop`/`restart`/`uninstall`
//! through systemctl.
//!
//! Both units are hardened the way cloudflared's and a careful operator's are: a dynamic user
//! (or the static user of the same name, when the operator made one so that it can own the
//! config files), no new privileges, a read-only system, no /tmp or home of others, and
//! restart on failure with back-off. The edge's unit is `Type=notify`: the edge says READY=1
//! once every listener is bound, and a SIGUSR2 upgrade hands the main PID to its successor
//! (`NotifyAccess=all`). The agent's is `Type=simple`: an agent retries an edge it cannot
//! reach forever, so "ready" would leave `systemctl start` (and every unit ordered after it)
//! waiting for the network instead of for the agent.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use clap::Subcommand;

use super::usage;

/// Where units go unless `--unit-dir` says otherwise: the administrator's own units.
pub const DEFAULT_UNIT_DIR: &str = "/etc/systemd/system";

/// Which program the unit runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Agent,
    Edge,
}

impl Kind {
    /// The unit's name; also its dynamic user's and its state directory's.
    fn name(self) -> &'static str {
        match self {
            Self::Agent => "ferry-agent",
            Self::Edge => "ferry-edge",
        }
    }

    fn unit_file(self) -> String {
        format!("{}.service", self.name())
    }
}

#[derive(Subcommand, Debug)]
pub enum ServiceCommand {
    /// Write a systemd unit that starts every tunnel of these config files at boot.
    Install {
        /// ngrok.yml-style config files (repeatable), as `ferry start --config` takes them.
        #[arg(long = "config", required = true)]
        config: Vec<PathBuf>,
        #[command(flatten)]
        dir: UnitDir,
    },
    /// Start the installed service (systemctl start).
    Start(UnitDir),
    /// Stop the service (systemctl stop).
    Stop(UnitDir),
    /// Restart the service (systemctl restart).
    Restart(UnitDir),
    /// Stop and disable the service and remove its unit file.
    Uninstall(UnitDir),
}

/// The edge's verbs: the same, with the edge's own `--config`.
#[derive(Subcommand, Debug)]
pub enum EdgeServiceCommand {
    /// Write a systemd unit that runs this edge with its --config file.
    Install(UnitDir),
    /// Start the installed service (systemctl start).
    Start(UnitDir),
    /// Stop the service (systemctl stop).
    Stop(UnitDir),
    /// Restart the service (systemctl restart).
    Restart(UnitDir),
    /// Stop and disable the service and remove its unit file.
    Uninstall(UnitDir),
}

#[derive(clap::Args, Debug)]
pub struct UnitDir {
    /// The directory the unit file is written to and removed from.
    #[arg(long, default_value = DEFAULT_UNIT_DIR)]
    unit_dir: PathBuf,
}

/// `ferry service ...`.
pub fn run_agent(cmd: ServiceCommand) -> anyhow::Result<()> {
    match cmd {
        ServiceCommand::Install { config, dir } => {
            let configs = absolute_all(&config)?;
            let mut exec = vec![executable()?, "start".into(), "--all".into()];
            for c in &configs {
                exec.push("--config".into());
                exec.push(c.display().to_string());
            }
            let unit = unit(Kind::Agent, &exec, &configs, &EdgeNeeds::default());
            install(Kind::Agent, &dir.unit_dir, &unit, &configs)
        }
        ServiceCommand::Start(d) => systemctl(Kind::Agent, &d.unit_dir, "start"),
        ServiceCommand::Stop(d) => systemctl(Kind::Agent, &d.unit_dir, "stop"),
        ServiceCommand::Restart(d) => systemctl(Kind::Agent, &d.unit_dir, "restart"),
        ServiceCommand::Uninstall(d) => uninstall(Kind::Agent, &d.unit_dir),
    }
}

/// What the edge's unit needs from its merged configuration.
#[derive(Debug, Default)]
pub struct EdgeNeeds {
    /// Seconds of `drain_timeout`: the stop timeout must outlast the drain.
    pub drain_timeout: u64,
    /// Paths outside the state directory the edge writes (an absolute data dir, the ready
    /// file's directory), opened in the otherwise read-only system.
    pub writes: Vec<PathBuf>,
}

/// `ferry edge service ...`; `config` is the edge's own `--config`.
pub fn run_edge(
    cmd: EdgeServiceCommand,
    config: Option<&Path>,
    needs: EdgeNeeds,
) -> anyhow::Result<()> {
    match cmd {
        EdgeServiceCommand::Install(d) => {
            let config = config.ok_or_else(|| {
                usage("ferry edge service install needs --config FILE: the unit runs `ferry edge --config FILE`")
            })?;
            let configs = absolute_all(&[config.to_path_buf()])?;
            let mut exec = vec![executable()?, "edge".into()];
            for c in &configs {
                exec.push("--config".into());
                exec.push(c.display().to_string());
            }
            let unit = unit(Kind::Edge, &exec, &configs, &needs);
            install(Kind::Edge, &d.unit_dir, &unit, &configs)
        }
        EdgeServiceCommand::Start(d) => systemctl(Kind::Edge, &d.unit_dir, "start"),
        EdgeServiceCommand::Stop(d) => systemctl(Kind::Edge, &d.unit_dir, "stop"),
        EdgeServiceCommand::Restart(d) => systemctl(Kind::Edge, &d.unit_dir, "restart"),
        EdgeServiceCommand::Uninstall(d) => uninstall(Kind::Edge, &d.unit_dir),
    }
}

/// This binary's absolute path, which the unit runs: not `ferry` looked up in a PATH that
/// systemd's differs from.
fn executable() -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("cannot find this program's own path")?;
    Ok(exe.display().to_string())
}

/// Each config file made absolute; a missing one is refused now rather than at boot.
fn absolute_all(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    paths
        .iter()
        .map(|p| {
            std::fs::canonicalize(p).map_err(|e| usage(format!("--config {}: {e}", p.display())))
        })
        .collect()
}

/// One argument of `ExecStart=`, quoted when systemd would split or expand it.
fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c));
    if plain {
        arg.to_string()
    } else {
        let escaped = arg
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('%', "%%")
            .replace('$', "$$");
        format!("\"{escaped}\"")
    }
}

/// systemd's version from `systemctl --version`, to use only the settings it knows.
fn systemd_version() -> Option<u32> {
    let out = Command::new("systemctl").arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().nth(1)?.parse().ok()
}

/// Whether a path lies in the home directories `ProtectHome=yes` would hide.
fn under_home(p: &Path) -> bool {
    ["/home", "/root", "/run/user"]
        .iter()
        .any(|h| p.starts_with(h))
}

/// The unit's text.
fn unit(kind: Kind, exec: &[String], configs: &[PathBuf], needs: &EdgeNeeds) -> String {
    let name = kind.name();
    let exec: Vec<String> = exec.iter().map(|a| quote(a)).collect();
    let mut u = String::new();
    let what = match kind {
        Kind::Agent => "Ferry agent: the tunnels of its config files",
        Kind::Edge => "Ferry edge",
    };
    let installed_by = match kind {
        Kind::Agent => "ferry service install",
        Kind::Edge => "ferry edge service install",
    };
    u.push_str(&format!(
        "# Written by `{installed_by}`; its `uninstall` removes it.\n\
         [Unit]\n\
         Description={what}\n\
         Wants=network-online.target\n\
         After=network-online.target\n\
         # Keep restarting, with back-off, however often it fails: systemd's default gives up\n\
         # after five starts in ten seconds.\n\
         StartLimitIntervalSec=0\n\
         \n\
         [Service]\n"
    ));
    match kind {
        Kind::Agent => u.push_str("Type=simple\n"),
        Kind::Edge => {
            // The drain (drain_timeout), the words to agents that move (3 s), and a margin
            // before systemd sends SIGKILL.
            let stop = needs.drain_timeout + 3 + 15;
            u.push_str(&format!(
                "Type=notify\n\
                 # A SIGUSR2 upgrade starts the successor, which reports its MAINPID.\n\
                 NotifyAccess=all\n\
                 ExecReload=/bin/kill -HUP $MAINPID\n\
                 KillSignal=SIGTERM\n\
                 TimeoutStopSec={stop}s\n"
            ));
        }
    }
    u.push_str(&format!("ExecStart={}\n", exec.join(" ")));
    u.push_str("Restart=on-failure\nRestartSec=2s\n");
    if systemd_version().is_some_and(|v| v >= 254) {
        u.push_str("RestartSteps=10\nRestartMaxDelaySec=60s\n");
    }
    u.push_str(&format!(
        "# A user of its own, made when the service starts; a static user of this name, if\n\
         # one exists, is used instead (give it the config files when they are not\n\
         # world-readable).\n\
         DynamicUser=yes\n\
         User={name}\n\
         Group={name}\n\
         StateDirectory={name}\n\
         WorkingDirectory=%S/{name}\n\
         NoNewPrivileges=yes\n\
         ProtectSystem=strict\n\
         PrivateTmp=yes\n\
         PrivateDevices=yes\n\
         ProtectKernelTunables=yes\n\
         ProtectKernelModules=yes\n\
         ProtectKernelLogs=yes\n\
         ProtectControlGroups=yes\n\
         ProtectClock=yes\n\
         ProtectHostname=yes\n\
         RestrictNamespaces=yes\n\
         RestrictRealtime=yes\n\
         RestrictSUIDSGID=yes\n\
         LockPersonality=yes\n\
         SystemCallArchitectures=native\n\
         RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK\n"
    ));
    // A config file in a home directory stays readable; nothing there is writable.
    let home = if configs.iter().any(|c| under_home(c)) {
        "read-only"
    } else {
        "yes"
    };
    u.push_str(&format!("ProtectHome={home}\n"));
    match kind {
        Kind::Agent => u.push_str("CapabilityBoundingSet=\n"),
        Kind::Edge => {
            u.push_str(
                "# Ports 80, 443 and 53 without root.\n\
                 AmbientCapabilities=CAP_NET_BIND_SERVICE\n\
                 CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n\
                 # One descriptor per agent session and per public connection.\n\
                 LimitNOFILE=1048576\n",
            );
            // "-": a path that does not exist yet is no reason to refuse to start.
            for p in &needs.writes {
                u.push_str(&format!(
                    "ReadWritePaths={}\n",
                    quote(&format!("-{}", p.display()))
                ));
            }
        }
    }
    u.push_str("\n[Install]\nWantedBy=multi-user.target\n");
    u
}

/// Whether systemd is running here and reads units from `dir`: only then are daemon-reload,
/// enable and disable run. A unit written elsewhere (a test, an image being built) is only
/// written.
fn systemd_reads(dir: &Path) -> bool {
    let running = Path::new("/run/systemd/system").is_dir();
    let known = [
        "/etc/systemd/system",
        "/run/systemd/system",
        "/usr/lib/systemd/system",
        "/lib/systemd/system",
    ]
    .iter()
    .any(|d| std::fs::canonicalize(dir).is_ok_and(|c| c == Path::new(d)));
    running && known
}

fn install(kind: Kind, dir: &Path, unit: &str, configs: &[PathBuf]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir =
        std::fs::canonicalize(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    let dir = dir.as_path();
    let path = dir.join(kind.unit_file());
    std::fs::write(&path, unit).with_context(|| format!("cannot write {}", path.display()))?;
    println!("{}", path.display());
    for c in configs {
        if !world_readable(c) {
            eprintln!(
                "note: {} is not readable by other users; the service runs as user {name}: \
                 create it as a system user (useradd --system {name}) and give it the file \
                 (chown {name} {}), which systemd then uses instead of a dynamic user",
                c.display(),
                c.display(),
                name = kind.name()
            );
        }
    }
    if systemd_reads(dir) {
        run_systemctl(&["daemon-reload"])?;
        run_systemctl(&["enable", &kind.unit_file()])?;
        eprintln!(
            "enabled {}; start it with systemctl start {}",
            kind.unit_file(),
            kind.unit_file()
        );
    } else {
        eprintln!(
            "written only: systemd does not read units from {} here (run systemctl daemon-reload where it does)",
            dir.display()
        );
    }
    Ok(())
}

/// Whether others can read the file and reach it (every directory above it searchable).
fn world_readable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode())
            .unwrap_or(0)
    };
    mode(path) & 0o004 != 0
        && path
            .ancestors()
            .skip(1)
            .all(|dir| dir.as_os_str().is_empty() || mode(dir) & 0o001 != 0)
}

fn uninstall(kind: Kind, dir: &Path) -> anyhow::Result<()> {
    let path = dir.join(kind.unit_file());
    if !path.exists() {
        return Err(usage(format!(
            "{} is not installed: no {}",
            kind.unit_file(),
            path.display()
        )));
    }
    if systemd_reads(dir) {
        // A service already stopped or disabled is fine here.
        let _ = run_systemctl(&["disable", "--now", &kind.unit_file()]);
    }
    std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    if systemd_reads(dir) {
        run_systemctl(&["daemon-reload"])?;
    }
    println!("removed {}", path.display());
    Ok(())
}

fn systemctl(kind: Kind, dir: &Path, verb: &str) -> anyhow::Result<()> {
    let path = dir.join(kind.unit_file());
    if !path.exists() {
        return Err(usage(format!(
            "{} is not installed: no {} (run the install command first)",
            kind.unit_file(),
            path.display()
        )));
    }
    run_systemctl(&[verb, &kind.unit_file()])
}

fn run_systemctl(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("systemctl")
        .args(args)
        .status()
        .context("cannot run systemctl")?;
    if !status.success() {
        anyhow::bail!("systemctl {} failed ({status})", args.join(" "));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn exec_arguments_are_quoted_for_systemd() {
        assert_eq!(quote("/usr/bin/ferry"), "/usr/bin/ferry");
        assert_eq!(quote("/etc/my ferry/a.yml"), "\"/etc/my ferry/a.yml\"");
        assert_eq!(quote("/x/100%$HOME"), "\"/x/100%%$$HOME\"");
    }

    #[test]
    fn the_edge_unit_outlasts_its_drain_and_binds_low_ports() {
        let needs = EdgeNeeds {
            drain_timeout: 30,
            writes: vec![PathBuf::from("/srv/ferry")],
        };
        let u = unit(
            Kind::Edge,
            &["/usr/bin/ferry".into(), "edge".into()],
            &[PathBuf::from("/etc/ferry/edge.yml")],
            &needs,
        );
        for line in [
            "Type=notify",
            "NotifyAccess=all",
            "TimeoutStopSec=48s",
            "AmbientCapabilities=CAP_NET_BIND_SERVICE",
            "ReadWritePaths=-/srv/ferry",
            "ProtectHome=yes",
            "ExecStart=/usr/bin/ferry edge",
        ] {
            assert!(u.lines().any(|l| l == line), "{line} in\n{u}");
        }
    }

    #[test]
    fn a_config_in_a_home_directory_stays_readable() {
        let u = unit(
            Kind::Agent,
            &["/usr/bin/ferry".into()],
            &[PathBuf::from("/home/pi/.config/ngrok/ngrok.yml")],
            &EdgeNeeds::default(),
        );
        assert!(u.contains("ProtectHome=read-only\n"), "{u}");
        assert!(u.contains("Type=simple\n"), "{u}");
    }
}
