//! Child processes the harness starts (edge, agent, rathole, iperf3, the origin): output kept
//! in files for the report when something fails, memory read from `/proc`, and every child
//! killed when its handle drops, so an interrupted run leaves nothing behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub struct Proc {
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command, dir: &Path) -> anyhow::Result<Proc> {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).with_context(|| format!("creating {log:?}"))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {name} ({:?})", cmd.get_program()))?;
        Ok(Proc {
            name: name.to_string(),
            child,
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Fails with the process's output if it has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited ({status}):\n{}", self.name, self.log());
        }
        Ok(())
    }

    /// Resident memory now and at its peak, in bytes.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        let path = format!("/proc/{}/status", self.pid());
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let field = |key: &str| -> anyhow::Result<u64> {
            let line = text
                .lines()
                .find(|l| l.starts_with(key))
                .with_context(|| format!("{path} has no {key}"))?;
            let kb: u64 = line
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("{path}: cannot read {line:?}"))?;
            Ok(kb * 1024)
        };
        Ok(Memory {
            rss: field("VmRSS:")?,
            peak: field("VmHWM:")?,
        })
    }

    /// CPU time used so far, user and system, all threads, with that of its live children:
    /// a relay that works in child processes (nginx's workers) is charged for them.
    pub fn cpu(&self) -> anyhow::Result<Duration> {
        let (_, mut total) = stat(self.pid())?;
        for (_, cpu) in children(self.pid())? {
            total += cpu;
        }
        Ok(total)
    }

    /// Whether the process has exited (and been reaped).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGKILL, and waits for the process to be gone.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Polls `ready` until it yields a value, failing early if the process dies.
    pub async fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut ready: impl FnMut(&Proc) -> Option<T>,
    ) -> anyhow::Result<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = ready(self) {
                return Ok(v);
            }
            self.check_alive()?;
            if Instant::now() > deadline {
                bail!(
                    "{} not ready ({what}) in {timeout:?}:\n{}",
                    self.name,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Proc {
    /// A process with children (nginx's master) is asked to stop first, so that it stops
    /// them: killed, it would leave them running. Then, or at once, SIGKILL.
    fn drop(&mut self) {
        if children(self.pid()).is_ok_and(|c| !c.is_empty()) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.pid().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while !self.exited() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The live children of `parent` and the CPU time of each, from `/proc`.
fn children(parent: u32) -> anyhow::Result<Vec<(u32, Duration)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").context("listing /proc")? {
        let name = entry.context("listing /proc")?.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        // A process that exits between the listing and the read is nobody's child by then.
        if let Ok((p, cpu)) = stat(pid) {
            if p == parent {
                found.push((pid, cpu));
            }
        }
    }
    Ok(found)
}

/// A process's parent and its CPU time so far (user and system, all threads), from
/// `/proc/PID/stat`.
fn stat(pid: u32) -> anyhow::Result<(u32, Duration)> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name (field 2) may hold spaces; the fields after its ')' do not.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .with_context(|| format!("{path}: no command field"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("{path}: cannot read field {}", i + 3))
    };
    // The parent is field 4; utime and stime are fields 14 and 15, in USER_HZ ticks (100 per
    // second on Linux).
    let parent = u32::try_from(field(1)?).with_context(|| format!("{path}: parent pid"))?;
    Ok((
        parent,
        Duration::from_millis((field(11)? + field(12)?) * 10),
    ))
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    pub rss: u64,
    pub peak: u64,
}

/// A loopback port that was free a moment ago, for programs that cannot be told to pick
/// their own (iperf3, rathole).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
