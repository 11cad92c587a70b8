//! The public TLS port. It reads the ClientHello without terminating TLS and decides by SNI:
//! names the agent ingress owns go to the ingress, TLS endpoints get the raw bytes (or, when
//! the edge terminates them, the plaintext after a handshake with the endpoint's own
//! configuration), and everything else is terminated here and served as HTTPS.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use ferry_proto::sni::{parse_client_hello_sni, ClientHelloSni};
use ferry_proto::BindProto;
use ferry_types::{ErrorCode, Hostname, TunnelId};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::task_tracker::TaskTrackerToken;

use crate::api_port::ApiService;
use crate::registry::{Route, Tunnel};
use crate::rewind::Rewind;
use crate::{data_conn, http_relay, proxy_stream, Shared};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PortRole {
    /// Agents and public endpoints share the port, told apart by SNI.
    Shared,
    /// A dedicated agent ingress port.
    AgentsOnly,
}

pub async fn serve_tls_port(shared: Arc<Shared>, listener: TcpListener, role: PortRole) {
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let (conn, peer) = match accepted {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                continue;
            }
        };
        let _ = conn.set_nodelay(true);
        let Ok(local) = conn.local_addr() else {
            continue;
        };
        let s = shared.clone();
        // Counted by the drain from the moment it is accepted, so that a drain (or an
        // upgrade's hand-over) never drops a connection still in its handshake.
        let pending = shared.tracker.token();
        tokio::spawn(async move {
            route_tls(s, conn, peer, local, role, Origin::Public, pending).await
        });
    }
}

/// Serves a connection another node accepted and carried here (`cluster.rs`), as if this
/// node's own socket had accepted it from `client`.
pub(crate) async fn route_carried<IO>(
    shared: Arc<Shared>,
    io: IO,
    client: SocketAddr,
    local: SocketAddr,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let pending = shared.tracker.token();
    route_tls(
        shared,
        io,
        client,
        local,
        PortRole::Shared,
        Origin::Carried,
        pending,
    )
    .await;
}

/// Where a connection on the TLS port came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// This node's own listener.
    Public,
    /// Another node, which found this node holds its tunnel: it is never carried further,
    /// so two nodes whose views of the cluster disagree cannot pass it back and forth.
    Carried,
}

pub async fn serve_http_port(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let Ok((conn, peer)) = accepted else { continue };
        let _ = conn.set_nodelay(true);
        let s = shared.clone();
        shared
            .tracker
            .spawn(async move { http_relay::serve_conn(s, conn, peer, false, None).await });
    }
}

enum Target {
    Agent,
    /// The REST API, on its own domain.
    Api(ApiService),
    Passthrough(Arc<Tunnel>),
    /// A TLS endpoint the edge terminates, with its own configuration.
    Terminated(Arc<Tunnel>, Arc<rustls::ServerConfig>),
    /// Terminated here; with the endpoint's own configuration (and its ID) when it requires
    /// client certificates.
    Https(Option<(Arc<rustls::ServerConfig>, TunnelId)>),
    /// Another node holds the tunnel: carried there whole, at this node-to-node address.
    Carry(Hostname, String),
}

async fn route_tls<IO>(
    shared: Arc<Shared>,
    mut conn: IO,
    peer: SocketAddr,
    local: SocketAddr,
    role: PortRole,
    origin: Origin,
    pending: TaskTrackerToken,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut buf = BytesMut::with_capacity(2048);
    let read_hello = async {
        loop {
            match parse_client_hello_sni(&buf) {
                Ok(ClientHelloSni::Incomplete) => {}
                Ok(ClientHelloSni::NoSni) => return Ok(None),
                Ok(ClientHelloSni::Name(n)) => return Ok(Some(n)),
                Err(e) => return Err(e.to_string()),
            }
            match conn.read_buf(&mut buf).await {
                Ok(0) => return Err("closed before the ClientHello was complete".to_string()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    };
    let sni = match tokio::time::timeout(shared.config.handshake_timeout, read_hello).await {
        Ok(Ok(sni)) => sni,
        Ok(Err(why)) => {
            tracing::debug!(%peer, "dropping TLS connection: {why}");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "dropping TLS connection: no ClientHello in time");
            return;
        }
    };
    let api = match (&shared.config.api_domain, sni.as_deref(), shared.api.get()) {
        (Some(domain), Some(name), Some(api))
            if role == PortRole::Shared && domain.as_str().eq_ignore_ascii_case(name) =>
        {
            Some(api.clone())
        }
        _ => None,
    };
    let target = if let Some(api) = api {
        Target::Api(api)
    } else if role == PortRole::AgentsOnly || shared.is_ingress_name(sni.as_deref()) {
        if origin == Origin::Carried {
            tracing::debug!(%peer, "dropping a carried connection for the agent ingress");
            return;
        }
        Target::Agent
    } else {
        match sni.as_deref().and_then(|n| Hostname::parse(n).ok()) {
            Some(h) => match shared.registry.route_host_when_bound(&h).await {
                Route::Live(t) if t.proto == BindProto::Tls => match t.tls_termination.clone() {
                    Some(config) => Target::Terminated(t, config),
                    None => Target::Passthrough(t),
                },
                Route::Live(t) => Target::Https(t.client_tls.clone().map(|c| (c, t.id.clone()))),
                _ if origin == Origin::Carried => Target::Https(None),
                _ => match shared.cluster.holder_of(&shared, &h, false).await {
                    Some(addr) => Target::Carry(h, addr),
                    None => Target::Https(None),
                },
            },
            None => Target::Https(None),
        }
    };
    if let Target::Carry(host, addr) = target {
        let tracker = shared.tracker.clone();
        tracker
            .spawn(async move {
                crate::cluster::forward(shared, &host, addr, peer, local, buf.freeze(), conn).await
            })
            .await
            .ok();
        return;
    }
    let io = Rewind::new(buf.freeze(), conn);
    match target {
        Target::Agent => {
            // An agent's session lasts as long as the agent: the drain moves it instead of
            // waiting for it.
            drop(pending);
            // Counted from before the handshake: the handshake's buffers are what an
            // unauthenticated peer costs first.
            let ticket = match shared.pre_auth.admit(peer.ip()) {
                Ok(t) => t,
                Err(why) => {
                    tracing::info!(%peer, code = %ErrorCode::PreAuthLimit, "refusing an agent connection: {why}");
                    return;
                }
            };
            let acceptor = TlsAcceptor::from(shared.agent_tls.clone());
            let accept = acceptor.accept(ferry_transport::session_io(
                io,
                ferry_transport::EDGE_READ_BUFFER,
            ));
            match counted(
                "agent",
                tokio::time::timeout(shared.config.handshake_timeout, accept).await,
            ) {
                Ok(Ok(tls)) => data_conn::serve(shared, tls, peer, ticket).await,
                Ok(Err(e)) => tracing::info!(%peer, error = %e, "agent TLS handshake failed"),
                Err(_) => tracing::info!(%peer, "agent TLS handshake timed out"),
            }
        }
        Target::Api(api) => {
            let accept = TlsAcceptor::from(shared.https_tls.clone()).accept(io);
            match counted(
                "public",
                tokio::time::timeout(shared.config.handshake_timeout, accept).await,
            ) {
                Ok(Ok(tls)) => {
                    shared.tracker.spawn(api(Box::new(tls), peer)).await.ok();
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "API TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "API TLS handshake timed out"),
            }
        }
        Target::Passthrough(tunnel) => {
            let tracker = shared.tracker.clone();
            tracker
                .spawn(carry(shared, tunnel, peer, local, io))
                .await
                .ok();
        }
        Target::Terminated(tunnel, config) => {
            let accept = TlsAcceptor::from(config).accept(io);
            let tls = match counted(
                "public",
                tokio::time::timeout(shared.config.handshake_timeout, accept).await,
            ) {
                Ok(Ok(tls)) => tls,
                // A client without a certificate from the endpoint's CAs ends here, told so by
                // the TLS alert; nothing reaches the agent.
                Ok(Err(e)) => {
                    tracing::debug!(%peer, tunnel = %tunnel.id, error = %e, "TLS handshake for an endpoint terminated at the edge failed");
                    return;
                }
                Err(_) => return,
            };
            let tracker = shared.tracker.clone();
            tracker
                .spawn(carry(shared, tunnel, peer, local, tls))
                .await
                .ok();
        }
        Target::Carry(..) => {}
        Target::Https(client_tls) => {
            let (config, verified_for) = match client_tls {
                Some((config, tunnel)) => (config, Some(tunnel)),
                None => (shared.https_tls.clone(), None),
            };
            let acceptor = TlsAcceptor::from(config);
            let accept = acceptor.accept(io);
            let tls = match counted(
                "public",
                tokio::time::timeout(shared.config.handshake_timeout, accept).await,
            ) {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "public TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let tracker = shared.tracker.clone();
            tracker
                .spawn(http_relay::serve_conn(
                    shared,
                    tls,
                    peer,
                    true,
                    verified_for,
                ))
                .await
                .ok();
        }
    }
}

/// Counts a handshake on `listener` (`public`, `agent`, `node`) that completed, failed or
/// timed out, and hands its outcome on.
pub(crate) fn counted<T, E>(
    listener: &str,
    outcome: Result<Result<T, E>, tokio::time::error::Elapsed>,
) -> Result<Result<T, E>, tokio::time::error::Elapsed> {
    let metrics = ferry_metrics::edge::edge();
    let family = match outcome {
        Ok(Ok(_)) => &metrics.tls_handshakes,
        _ => &metrics.tls_handshake_failures,
    };
    family.with_label_values(&[listener]).inc();
    outcome
}

/// Carries a TLS endpoint's connection to its agent: the client's own TLS bytes, or the
/// plaintext of a handshake the edge completed.
async fn carry<C>(
    shared: Arc<Shared>,
    tunnel: Arc<Tunnel>,
    peer: SocketAddr,
    local: SocketAddr,
    conn: C,
) where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    proxy_stream::carry_connection(&tunnel, peer, local, conn, &shared.config, "TLS").await;
}
