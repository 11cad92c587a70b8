//! Node to node. Any node accepts a public TLS connection for any tunnel; when another node
//! holds the tunnel's agent session, the connection is carried there whole, ClientHello
//! included, on one mutually authenticated TLS connection per pair of nodes (certificates of
//! the installation's CA, which every node shares through the database), multiplexed with
//! muxado as agent sessions are. The holding node then serves it as if its own socket had
//! accepted it, with the client's address from the stream's header. Carrying the bytes
//! before any TLS is terminated keeps one code path for HTTPS, TLS pass-through and TLS
//! terminated at the edge, and keeps a `terminate_at: agent` tunnel's plaintext off every
//! node.

mod header;
mod peers;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferry_pki::DevCa;
use ferry_transport::{splice, Accept, SessionBuilder};
use ferry_types::{ErrorCode, Hostname};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use self::header::MAX_FRAME;
pub(crate) use self::header::{Command, Reply, Request};
use self::peers::Peers;
use crate::registry::patterns_for;
use crate::Shared;

/// How long a peer has to finish its handshake, and a stream to send its header.
const HANDSHAKE: Duration = Duration::from_secs(5);
/// The most database lookups a second for names the last renewal's list does not have:
/// a client naming random hosts must not turn into a query per connection.
const LOOKUPS_PER_SECOND: u32 = 100;

/// Why the node-to-node TLS settings could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The node's certificate could not be issued from the installation's CA.
    #[error("cannot issue this node's certificate: {0}")]
    Certificate(#[from] ferry_pki::PkiError),
    /// rustls refused the settings (a bug rather than something to configure).
    #[error("node-to-node TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// The CA certificate is no usable trust anchor.
    #[error("node-to-node TLS: the installation's CA is no usable trust anchor: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// This node's side of the node-to-node sessions.
pub(crate) struct Cluster {
    acceptor: TlsAcceptor,
    peers: Peers,
    lookups: Mutex<(Instant, u32)>,
}

impl Cluster {
    /// Issues this node's certificate from the installation's CA and makes both ends' TLS
    /// settings: TLS 1.3 only, a peer must present a node certificate of the same CA.
    pub(crate) fn new(
        ca: &DevCa,
        node: &str,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, ClusterError> {
        let issued = ca.issue_node(node)?;
        let mut roots = RootCertStore::empty();
        roots.add(ca.cert_der().clone())?;
        let roots = Arc::new(roots);
        let verifier =
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone()).build()?;
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_single_cert(issued.chain.clone(), issued.key.clone_key())?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(roots)
            .with_client_auth_cert(issued.chain, issued.key)?;
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            peers: Peers::new(Arc::new(client)),
            lookups: Mutex::new((Instant::now(), 0)),
        })
    }

    /// The node-to-node address of the other live node that serves `host` now, if any: from
    /// the list the last lease renewal read (at most a second old), else, within
    /// [`LOOKUPS_PER_SECOND`], from the database. `fresh` skips the list (it pointed at a node
    /// that did not answer).
    pub(crate) async fn holder_of(
        &self,
        shared: &Shared,
        host: &Hostname,
        fresh: bool,
    ) -> Option<String> {
        // A node alone (every SQLite edge) has nobody to carry to: a name it does not serve
        // costs it no lookup.
        if !shared.membership.has_peers() {
            return None;
        }
        let patterns: Vec<String> = patterns_for(host).iter().map(|p| p.to_string()).collect();
        let mine = shared.config.node_name.as_str();
        if !fresh {
            if let Some(addr) = shared.membership.cached_holder(&patterns) {
                return addr;
            }
        }
        if !self.may_look_up() {
            return None;
        }
        let held = match shared.store.holders_of(&patterns).await {
            Ok(h) => h,
            Err(error) => {
                tracing::warn!(%error, %host, "cannot ask the database which node serves a name");
                return None;
            }
        };
        patterns
            .iter()
            .find_map(|p| held.iter().find(|n| n.name == *p))
            .filter(|n| n.node != mine && !n.cluster_addr.is_empty())
            .map(|n| n.cluster_addr.clone())
    }

    fn may_look_up(&self) -> bool {
        let mut window = self.lookups.lock().unwrap_or_else(|p| p.into_inner());
        if window.0.elapsed() >= Duration::from_secs(1) {
            *window = (Instant::now(), 0);
        }
        window.1 += 1;
        window.1 <= LOOKUPS_PER_SECOND
    }
}

/// Carries a public connection to the node at `addr`: the header, the ClientHello already
/// read (`hello`), then both directions until either side ends. If that node cannot be
/// reached, the database is asked again once (the agent may have moved).
pub(crate) async fn forward<IO>(
    shared: Arc<Shared>,
    host: &Hostname,
    mut addr: String,
    client: SocketAddr,
    local: SocketAddr,
    hello: Bytes,
    conn: IO,
) where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let cluster = shared.cluster.clone();
    let mut tried_again = false;
    let mut stream = loop {
        match cluster.peers.open(&addr).await {
            Ok(s) => break s,
            Err(error) if tried_again => {
                tracing::info!(%client, %host, node = %addr, code = %ErrorCode::NodeUnreachable, %error, "cannot carry a connection to the node serving it");
                return;
            }
            Err(error) => {
                tracing::debug!(node = %addr, %error, "a node did not answer; asking the database again");
                tried_again = true;
                match cluster.holder_of(&shared, host, true).await {
                    Some(a) => addr = a,
                    None => {
                        tracing::info!(%client, %host, code = %ErrorCode::NodeUnreachable, %error, "the node that served this name is gone and no other serves it");
                        return;
                    }
                }
            }
        }
    };
    let mut head = header::encode(&Request::Connection { client, local });
    head.extend_from_slice(&hello);
    if let Err(error) = stream.write_all(&head).await {
        tracing::info!(%client, node = %addr, code = %ErrorCode::NodeUnreachable, %error, "cannot carry a connection to the node serving it");
        return;
    }
    ferry_metrics::edge::edge()
        .carried_streams
        .with_label_values(&[ferry_metrics::OUT])
        .inc();
    if let Err(error) = splice(conn, stream, shared.config.idle_timeout).await {
        tracing::debug!(%client, node = %addr, %error, "a carried connection ended");
    }
}

/// Accepts other nodes' sessions until the drain, and serves the connections they carry.
pub(crate) async fn serve(shared: Arc<Shared>, cluster: Arc<Cluster>, listener: TcpListener) {
    loop {
        let (tcp, from) = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(error) => {
                    tracing::debug!(%error, "cluster accept failed");
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let (shared, acceptor) = (shared.clone(), cluster.acceptor.clone());
        tokio::spawn(async move {
            let accept = tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await;
            let tls = match crate::front::counted("node", accept) {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    tracing::warn!(%from, %error, "refused a node-to-node connection: its TLS handshake failed (not a node of this installation?)");
                    return;
                }
                Err(_) => return,
            };
            let session = SessionBuilder::new(ferry_transport::session_io(
                tls,
                ferry_transport::EDGE_READ_BUFFER,
            ))
            .server()
            .start();
            let (_open, mut accept) = ferry_transport::Session::split(session);
            while let Some(stream) = accept.accept().await {
                tokio::spawn(serve_stream(shared.clone(), stream, from));
            }
        });
    }
}

/// Reads one frame (a request or a reply) within `wait`.
async fn read_frame<T, S>(stream: &mut S, wait: Duration) -> Result<T, String>
where
    T: serde::de::DeserializeOwned,
    S: AsyncRead + Unpin,
{
    let read = async {
        let mut prefix = [0u8; 2];
        stream
            .read_exact(&mut prefix)
            .await
            .map_err(|e| e.to_string())?;
        let len = header::announced_len(prefix).map_err(|e| e.to_string())?;
        let mut json = vec![0u8; len.min(MAX_FRAME)];
        stream
            .read_exact(&mut json)
            .await
            .map_err(|e| e.to_string())?;
        header::decode(&json).map_err(|e| e.to_string())
    };
    tokio::time::timeout(wait, read)
        .await
        .map_err(|_| format!("no answer within {} s", wait.as_secs()))?
}

/// One stream from a peer: a carried connection is routed as this node's own listener would
/// (and never carried further); a command or a revocation is carried out on this node's own
/// sessions and answered.
async fn serve_stream(shared: Arc<Shared>, mut stream: ferry_transport::Stream, from: SocketAddr) {
    let request: Request = match read_frame(&mut stream, HANDSHAKE).await {
        Ok(r) => r,
        Err(why) => {
            tracing::warn!(%from, "dropping a node-to-node stream: {why}");
            return;
        }
    };
    let reply = match request {
        Request::Connection { client, local } => {
            ferry_metrics::edge::edge()
                .carried_streams
                .with_label_values(&[ferry_metrics::IN])
                .inc();
            crate::front::route_carried(shared, stream, client, local).await;
            return;
        }
        Request::Command { session, command } => {
            let view = crate::EdgeView::new(shared);
            match view.command_here(&session, command.into()).await {
                Ok(()) => Reply::Done,
                Err(e) => Reply::from(e),
            }
        }
        Request::CloseSessionsOf { credentials } => Reply::Closed {
            count: crate::EdgeView::new(shared).close_sessions_here(&credentials),
        },
    };
    if let Err(error) = stream.write_all(&header::encode(&reply)).await {
        tracing::debug!(%from, %error, "could not answer a node-to-node request");
    }
    let _ = stream.shutdown().await;
}

/// Asks the node at `addr` for `request` and waits up to `wait` for its reply.
pub(crate) async fn ask(
    cluster: &Cluster,
    addr: &str,
    request: &Request,
    wait: Duration,
) -> Result<Reply, String> {
    let mut stream = cluster.peers.open(addr).await.map_err(|e| e.to_string())?;
    stream
        .write_all(&header::encode(request))
        .await
        .map_err(|e| e.to_string())?;
    read_frame(&mut stream, wait)
        .await
        .map_err(|e| format!("{addr}: {e}"))
}
