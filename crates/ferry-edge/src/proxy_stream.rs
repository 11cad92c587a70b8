//! Opening a proxy stream to the agent that serves a tunnel: the stream cap, the SDK settle
//! delay, and the ProxyHeader.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use ferry_metrics::edge::edge;
use ferry_metrics::{Counted, IN, OUT};
use ferry_proto::{BindProto, ProxyHeader, StreamType};
use ferry_transport::{open_typed, RpcError, Stream};
use ferry_types::ErrorCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;

use crate::data_conn::DataIo;
use crate::registry::Tunnel;

/// A stream to an agent that holds one of its session's stream slots until dropped. Every
/// public connection's bytes pass here, so this is where they are counted
/// (`ferry_edge_bytes_total`), with the streams open and opened.
pub struct ProxyStream {
    stream: Counted<Carrier>,
    on_session: bool,
    _permit: OwnedSemaphorePermit,
}

impl ProxyStream {
    /// Whether the stream rides the agent's session (muxado) rather than a data connection of
    /// its own.
    pub fn on_session(&self) -> bool {
        self.on_session
    }
}

/// Why no proxy stream could be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Every stream slot of the agent's session stayed taken for the whole wait.
    #[error("every stream slot of the agent's session stayed taken for {waited:?}")]
    StreamLimit {
        /// How long the connection waited for one.
        waited: Duration,
    },
    /// The session ended while the connection waited for a slot.
    #[error("the agent's session ended")]
    SessionGone,
    /// muxado could not open the stream or send the header: the session is closing.
    #[error("opening the stream failed: {0}")]
    Open(#[source] RpcError),
}

impl OpenError {
    /// The catalogue code a public client is shown.
    pub fn code(&self) -> ErrorCode {
        match self {
            OpenError::StreamLimit { .. } => ErrorCode::StreamLimit,
            OpenError::SessionGone | OpenError::Open(_) => ErrorCode::AgentOffline,
        }
    }
}

/// Opens a proxy stream for `client`'s connection, waiting up to `wait` for a stream slot.
pub async fn open(
    tunnel: &Tunnel,
    client: SocketAddr,
    wait: Duration,
) -> Result<ProxyStream, OpenError> {
    open_with(tunnel, client, wait, &[]).await
}

/// [`open`] for a TCP or TLS connection that arrived at `local`: when the tunnel was bound
/// with `proxy_proto`, the PROXY protocol header goes first, in the same write as the proxy
/// header, so the upstream reads it before the client's first byte.
pub async fn open_for_connection(
    tunnel: &Tunnel,
    client: SocketAddr,
    local: SocketAddr,
    wait: Duration,
) -> Result<ProxyStream, OpenError> {
    let prefix = tunnel
        .proxy_proto
        .map(|v| ferry_proto::proxy_protocol::header(v, client, local))
        .unwrap_or_default();
    open_with(tunnel, client, wait, &prefix).await
}

/// Carries a TCP or TLS connection that arrived at `local` from `client` to the tunnel's
/// agent, both ways until either side ends; `what` names the kind in the log.
pub async fn carry_connection<C>(
    tunnel: &Tunnel,
    client: SocketAddr,
    local: SocketAddr,
    conn: C,
    config: &crate::EdgeConfig,
    what: &'static str,
) where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let stream = match open_for_connection(tunnel, client, local, config.stream_wait).await {
        Ok(s) => s,
        Err(e) => {
            tracing::info!(%client, code = %e.code(), error = %e, "cannot reach the agent for a {what} connection");
            return;
        }
    };
    match ferry_transport::splice(conn, stream, config.idle_timeout).await {
        Ok(moved) => tracing::debug!(%client, ?moved, "{what} connection done"),
        Err(e) => tracing::debug!(%client, error = %e, "{what} connection ended"),
    }
}

async fn open_with(
    tunnel: &Tunnel,
    client: SocketAddr,
    wait: Duration,
    prefix: &[u8],
) -> Result<ProxyStream, OpenError> {
    let now = tokio::time::Instant::now();
    let ready = tokio::time::Instant::from_std(tunnel.ready_at);
    if ready > now {
        tokio::time::sleep_until(ready).await;
    }
    let permit = tokio::time::timeout(wait, tunnel.session.streams.clone().acquire_owned())
        .await
        .map_err(|_| OpenError::StreamLimit { waited: wait })?
        .map_err(|_| OpenError::SessionGone)?;
    let header = ProxyHeader {
        id: tunnel.id.to_string(),
        client_addr: client.to_string(),
        proto: tunnel.proto.to_string(),
        edge_type: String::new(),
        // What the agent reads: the client's TLS, or the plaintext of a TLS endpoint the edge
        // terminated.
        passthrough_tls: tunnel.proto == BindProto::Tls && tunnel.tls_termination.is_none(),
    };
    let mut first = header.encode();
    first.extend_from_slice(prefix);
    let metrics = edge();
    let proto = header.proto.as_str();
    // Flushed at once on a data connection: a server-first upstream (SSH, SMTP) speaks
    // before the client does.
    let stream = match tunnel
        .session
        .data
        .start(&[&StreamType::PROXY.to_bytes(), &first])
        .await
    {
        Some(conn) => {
            metrics.data_streams.with_label_values(&[proto]).inc();
            Carrier::Data(conn)
        }
        None => Carrier::Mux(
            open_typed(&tunnel.session.open, StreamType::PROXY, &first)
                .await
                .map_err(OpenError::Open)?,
        ),
    };
    metrics
        .proxy_streams_opened
        .with_label_values(&[proto])
        .inc();
    let on_session = matches!(stream, Carrier::Mux(_));
    Ok(ProxyStream {
        stream: Counted::new(
            stream,
            metrics.bytes.with_label_values(&[proto, OUT]),
            metrics.bytes.with_label_values(&[proto, IN]),
            metrics.proxy_streams_open.clone(),
        ),
        on_session,
        _permit: permit,
    })
}

/// What a proxy stream rides on: a muxado stream of the session, or a data connection of its
/// own (`data_conn.rs`).
enum Carrier {
    Mux(Stream),
    Data(DataIo),
}

impl AsyncRead for Carrier {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Carrier::Mux(s) => Pin::new(s).poll_read(cx, buf),
            Carrier::Data(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Carrier {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Carrier::Mux(s) => Pin::new(s).poll_write(cx, buf),
            Carrier::Data(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Carrier::Mux(s) => Pin::new(s).poll_flush(cx),
            Carrier::Data(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Carrier::Mux(s) => Pin::new(s).poll_shutdown(cx),
            Carrier::Data(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

impl AsyncRead for ProxyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ProxyStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
