//! Upgrading an edge in place (SIGUSR2), as pingora and nginx do: the running process starts
//! the same executable with the same arguments and hands it every listening socket; the new
//! process serves them from its start, tells the old one when it is ready, and the old one
//! then stops accepting and drains. The sockets never close, so a client or an agent that
//! connects meanwhile waits in the socket's queue and is never refused.
//!
//! The sockets travel as systemd's socket activation passes them (descriptors from 3 on,
//! `LISTEN_FDS`, `LISTEN_FDNAMES`), so a `.socket` unit with `FileDescriptorName=` set to a
//! role works as well. The word "ready" comes back on a socket pair passed the same way
//! (role [`NOTIFY_ROLE`]): nothing another process could write to.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;
use command_fds::{CommandFdExt, FdMapping};
use ferry_edge::{EdgeHandle, Inherited};
use ferry_types::ErrorCode;

/// The role of the socket on which a successor says it is ready.
const NOTIFY_ROLE: &str = "ferry-upgrade";

/// What the successor sends once its ready file is written.
const READY: &[u8] = b"READY=1";

/// How long the old process waits for its successor: opening the store (migrations
/// included) and loading the certificates.
const READY_WAIT: Duration = Duration::from_secs(60);

/// The first descriptor number systemd's protocol passes.
const FIRST_FD: i32 = 3;

/// The executable and arguments this process started with, taken at start: a package
/// upgrade replaces the file, and the new file is the one to run.
static INVOCATION: OnceLock<(PathBuf, Vec<OsString>)> = OnceLock::new();

/// Notes how this process was started, for a later upgrade.
pub fn remember_invocation() -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find this executable's path")?;
    let _ = INVOCATION.set((exe, std::env::args_os().skip(1).collect()));
    Ok(())
}

/// Sockets passed to this process by a predecessor or by systemd, by role, and the socket on
/// which a predecessor waits for the word that this process is ready.
pub fn inherited() -> (Inherited, Option<UnixDatagram>) {
    let mut fds = listenfd::ListenFd::from_env();
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    let names: Vec<&str> = names.split(':').collect();
    let mut inherited = Inherited::default();
    let mut predecessor = None;
    for i in 0..fds.len() {
        let role = match names.get(i) {
            Some(name) if !name.is_empty() => (*name).to_string(),
            _ => format!("fd{}", i + FIRST_FD as usize),
        };
        if role == NOTIFY_ROLE {
            predecessor = fds.take_unix_datagram(i).ok().flatten();
        } else if let Ok(Some(l)) = fds.take_tcp_listener(i) {
            inherited.add_tcp(&role, l);
        } else if let Ok(Some(s)) = fds.take_udp_socket(i) {
            inherited.add_udp(&role, s);
        } else {
            tracing::warn!(%role, "a socket passed in LISTEN_FDS is neither a TCP listener nor a UDP socket; ignored");
        }
    }
    (inherited, predecessor)
}

/// Tells the process this one took over from that it serves now.
pub fn tell_predecessor(predecessor: Option<UnixDatagram>) {
    if let Some(socket) = predecessor {
        if let Err(error) = socket.send(READY) {
            tracing::warn!(%error, "cannot tell the previous process that this one is ready; it drains when its wait ends");
        }
    }
}

/// A new process started with this one's sockets, not yet known to be ready.
pub struct Successor {
    child: Child,
    ready: tokio::net::UnixDatagram,
}

impl Successor {
    /// Starts this executable again with `sockets`.
    pub fn start(sockets: Vec<(String, OwnedFd)>) -> anyhow::Result<Self> {
        let (exe, args) = INVOCATION
            .get()
            .context("this process did not note how it was started")?;
        let (ours, theirs) =
            UnixDatagram::pair().context("cannot make the upgrade's socket pair")?;
        ours.set_nonblocking(true)?;
        let ready = tokio::net::UnixDatagram::from_std(ours)?;
        let mut names = Vec::with_capacity(sockets.len() + 1);
        let mut mappings = Vec::with_capacity(sockets.len() + 1);
        let all = sockets.into_iter().chain(std::iter::once((
            NOTIFY_ROLE.to_string(),
            OwnedFd::from(theirs),
        )));
        for (child_fd, (role, fd)) in (FIRST_FD..).zip(all) {
            names.push(role);
            mappings.push(FdMapping {
                parent_fd: fd,
                child_fd,
            });
        }
        let mut command = Command::new(exe);
        command
            .args(args)
            .env("LISTEN_FDS", mappings.len().to_string())
            .env("LISTEN_FDNAMES", names.join(":"))
            .env_remove("LISTEN_PID");
        command
            .fd_mappings(mappings)
            .map_err(|_| anyhow::anyhow!("two sockets were given one descriptor number"))?;
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        Ok(Self { child, ready })
    }

    /// The new process's ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the new process says it is ready; an error if it exits first or takes
    /// longer than [`READY_WAIT`].
    pub async fn ready(mut self) -> anyhow::Result<()> {
        let mut buf = [0u8; 64];
        let deadline = tokio::time::Instant::now() + READY_WAIT;
        let mut poll = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                got = self.ready.recv(&mut buf) => match got {
                    Ok(n) if buf[..n] == *READY => return Ok(()),
                    Ok(n) if n > 0 => {}
                    // Its end closed: the new process is gone, or did not keep it.
                    _ => {
                        let _ = self.child.kill();
                        let status = self.child.wait()?;
                        anyhow::bail!("the new process closed the upgrade socket before it was ready ({status})");
                    }
                },
                _ = poll.tick() => {
                    if let Some(status) = self.child.try_wait()? {
                        anyhow::bail!("the new process exited before it was ready ({status})");
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    anyhow::bail!("the new process was not ready within {} s; stopped it", READY_WAIT.as_secs());
                }
            }
        }
    }
}

/// The role under which the REST API's listener is handed over.
pub const API_ROLE: &str = "api";

/// Serves until SIGTERM (false) or until a successor started by SIGUSR2 is ready (true),
/// reloading on SIGHUP. An upgrade that fails leaves this process serving as before.
pub async fn serve_until_replaced_or_stopped(
    edge: &EdgeHandle,
    api: std::os::fd::OwnedFd,
    terminated: impl std::future::Future<Output = ()>,
    mut upgrades: Option<tokio::signal::unix::Signal>,
    mut hangups: Option<tokio::signal::unix::Signal>,
    reload: &super::reload::Reload,
) -> bool {
    tokio::pin!(terminated);
    loop {
        tokio::select! {
            _ = &mut terminated => return false,
            Some(()) = recv(&mut hangups) => {
                reload.run().await;
                continue;
            }
            Some(()) = recv(&mut upgrades) => {}
        }
        tracing::info!("SIGUSR2: starting a new process to take over");
        edge.set_handing_over(true);
        match hand_over(edge, &api).await {
            Ok(pid) => {
                tracing::info!(pid, "the new process is ready; draining this one");
                return true;
            }
            Err(error) => {
                tracing::error!(code = %ErrorCode::UpgradeFailed, "upgrade failed, this process keeps serving: {error:#}");
                edge.set_handing_over(false);
            }
        }
    }
}

/// Starts the successor with every listening socket and waits until it is ready.
async fn hand_over(edge: &EdgeHandle, api: &std::os::fd::OwnedFd) -> anyhow::Result<u32> {
    let mut sockets = edge
        .successor_sockets()
        .context("cannot pass the listening sockets on")?;
    sockets.push((API_ROLE.to_string(), api.try_clone()?));
    let successor = Successor::start(sockets)?;
    let pid = successor.pid();
    successor.ready().await?;
    Ok(pid)
}

/// The next signal of `signals`; never, where its handler could not be installed.
async fn recv(signals: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signals {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}
