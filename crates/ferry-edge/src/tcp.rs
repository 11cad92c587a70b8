//! TCP endpoints: one listener per bound port, from the configured range or the
//! `remote_addr` the agent asked for.

use std::net::SocketAddr;
use std::sync::Arc;

use ferry_types::TunnelId;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::registry::{ClaimError, Route};
use crate::{proxy_stream, Shared};

/// Claims a port for tunnel `id` and starts its listener if it has none yet.
pub fn claim(shared: &Arc<Shared>, wanted: Option<u16>, id: &TunnelId) -> Result<u16, ClaimError> {
    let ip = shared.config.tcp_ip;
    let (port, fresh) = shared
        .registry
        .claim_port(wanted, shared.config.tcp_ports, id, |p| {
            // The process this one took over from listened here: its socket, with the
            // connections queued since, rather than a refusal while binding afresh.
            let inherited = lock(&shared.inherited_tcp).remove(&p);
            inherited.or_else(|| std::net::TcpListener::bind(SocketAddr::new(ip, p)).ok())
        })?;
    if let Some((closer, std_listener)) = fresh {
        match std::os::fd::AsFd::as_fd(&std_listener).try_clone_to_owned() {
            Ok(fd) => {
                lock(&shared.tcp_listeners).insert(port, fd);
            }
            Err(error) => {
                tracing::warn!(port, %error, "cannot keep this TCP endpoint's socket for an upgrade in place")
            }
        }
        let listener = std_listener
            .set_nonblocking(true)
            .and_then(|()| TcpListener::from_std(std_listener));
        match listener {
            Ok(l) => {
                tokio::spawn(accept_loop(shared.clone(), l, port, closer));
            }
            Err(e) => {
                shared.registry.release_port(port);
                tracing::warn!(port, error = %e, "cannot listen on TCP port");
                return Err(ClaimError::PortInUse(port));
            }
        }
    }
    Ok(port)
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    port: u16,
    closer: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = closer.cancelled() => break,
            _ = shared.shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let (conn, peer) = match accepted {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(port, error = %e, "accept failed");
                continue;
            }
        };
        let shared2 = shared.clone();
        shared
            .tracker
            .spawn(async move { serve(shared2, conn, peer, port).await });
    }
    lock(&shared.tcp_listeners).remove(&port);
    tracing::debug!(port, "TCP endpoint closed");
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn serve(shared: Arc<Shared>, conn: TcpStream, peer: SocketAddr, port: u16) {
    let _ = conn.set_nodelay(true);
    let tunnel = match shared.registry.route_port_when_bound(port).await {
        Route::Live(t) => t,
        // The agent is gone: a clean close is all a TCP client can be told.
        Route::Offline | Route::Unknown => return,
    };
    let local = conn
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], port)));
    proxy_stream::carry_connection(&tunnel, peer, local, conn, &shared.config, "TCP").await;
}
