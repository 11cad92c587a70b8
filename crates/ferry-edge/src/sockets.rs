//! The listening sockets of an edge, by role, so that they can outlive the process that bound
//! them: an upgrade in place (SIGUSR2) hands them to the new process, and systemd's socket
//! activation passes them in the same way. Connections that arrive meanwhile wait in the
//! socket's queue, which belongs to the socket and not to either process, so none is refused.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};

use tokio::net::TcpListener;

use crate::EdgeError;

/// The role names, as `LISTEN_FDNAMES` carries them (systemd's `FileDescriptorName=`).
pub mod role {
    /// The public TLS port.
    pub const HTTPS: &str = "https";
    /// The plain-HTTP port.
    pub const HTTP: &str = "http";
    /// A separate agent ingress port (`--agent-addr`).
    pub const AGENTS: &str = "agents";
    /// The node-to-node port.
    pub const CLUSTER: &str = "cluster";
    /// Prometheus' port (`--metrics-addr`).
    pub const METRICS: &str = "metrics";
    /// The DNS server's UDP socket.
    pub const DNS_UDP: &str = "dns-udp";
    /// The DNS server's TCP listener.
    pub const DNS_TCP: &str = "dns-tcp";
}

/// The role prefix of a TCP endpoint's listener, followed by its port.
pub const TCP_ENDPOINT: &str = "tcp-";

/// Sockets a process was given, taken by role as the listeners are set up; a role given none
/// is bound afresh.
#[derive(Debug, Default)]
pub struct Inherited {
    tcp: HashMap<String, std::net::TcpListener>,
    udp: HashMap<String, std::net::UdpSocket>,
}

impl Inherited {
    /// Adds a listening TCP socket for `role`.
    pub fn add_tcp(&mut self, role: &str, listener: std::net::TcpListener) {
        self.tcp.insert(role.to_string(), listener);
    }

    /// Adds a UDP socket for `role`.
    pub fn add_udp(&mut self, role: &str, socket: std::net::UdpSocket) {
        self.udp.insert(role.to_string(), socket);
    }

    /// The TCP listener given for `role`, made ready for tokio.
    pub fn take_tcp(&mut self, role: &str) -> Option<std::io::Result<TcpListener>> {
        let l = self.tcp.remove(role)?;
        Some(
            l.set_nonblocking(true)
                .and_then(|()| TcpListener::from_std(l)),
        )
    }

    /// The UDP socket given for `role`.
    pub fn take_udp(&mut self, role: &str) -> Option<std::net::UdpSocket> {
        self.udp.remove(role)
    }

    /// The TCP endpoints' listeners given (role `tcp-<port>`), by port: each waits for the
    /// agent that binds its port again.
    pub fn take_tcp_endpoints(&mut self) -> HashMap<u16, std::net::TcpListener> {
        let ports: Vec<(String, u16)> = self
            .tcp
            .keys()
            .filter_map(|role| Some((role.clone(), role.strip_prefix(TCP_ENDPOINT)?.parse().ok()?)))
            .collect();
        ports
            .into_iter()
            .filter_map(|(role, port)| Some((port, self.tcp.remove(&role)?)))
            .collect()
    }

    /// The roles given and not taken, for a warning: a socket nobody serves only queues.
    pub fn left(&self) -> Vec<String> {
        self.tcp.keys().chain(self.udp.keys()).cloned().collect()
    }
}

/// Second handles on every listening socket, kept for a successor. They must go as soon as
/// the edge stops for good, or the kernel would keep queueing connections nobody accepts.
#[derive(Debug, Default)]
pub struct Handover {
    sockets: Vec<(String, OwnedFd)>,
}

impl Handover {
    /// Keeps a duplicate of `socket`'s descriptor under `role`.
    pub fn keep(&mut self, role: &str, socket: &impl AsFd) -> std::io::Result<()> {
        let fd = socket.as_fd().try_clone_to_owned()?;
        self.sockets.push((role.to_string(), fd));
        Ok(())
    }

    /// New handles on every socket kept, by role, in the order they were bound.
    pub fn duplicate(&self) -> std::io::Result<Vec<(String, OwnedFd)>> {
        self.sockets
            .iter()
            .map(|(role, fd)| Ok((role.clone(), fd.try_clone()?)))
            .collect()
    }
}

/// The listener for `role`: the inherited one, else a fresh one on `addr`; its duplicate goes
/// into `handover`.
pub(crate) async fn listen(
    role: &str,
    addr: SocketAddr,
    inherited: &mut Inherited,
    handover: &mut Handover,
) -> Result<TcpListener, EdgeError> {
    let listener = match inherited.take_tcp(role) {
        Some(l) => l,
        None => TcpListener::bind(addr).await,
    }
    .map_err(|source| EdgeError::Listen { addr, source })?;
    handover
        .keep(role, &listener)
        .map_err(|source| EdgeError::Listen { addr, source })?;
    Ok(listener)
}
