//! The sockets: hickory-server's UDP and TCP loops on one address, with a request handler
//! that answers from whatever [`ZoneSet`] is current. The zones are swapped whole behind an
//! atomic pointer, so a change is served from the next query on, without a restart and
//! without a lock on the query path.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use hickory_server::Server;
use tokio::net::{TcpListener, UdpSocket};

use crate::respond::respond;
use crate::zones::ZoneSet;

/// How long a TCP client may stay connected without sending a query.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// Responses queued per TCP connection before the connection's reader waits.
const TCP_RESPONSE_QUEUE: usize = 32;

/// How many times a port picked by the system for UDP is tried for TCP as well.
const PORT_TRIES: usize = 16;

/// The zones being served; cheap to clone, shared by the server and whoever rebuilds them.
#[derive(Clone, Default)]
pub struct Zones(Arc<ArcSwap<ZoneSet>>);

impl Zones {
    /// Zones served from now on (empty ones refuse every query).
    pub fn new(set: ZoneSet) -> Self {
        Self(Arc::new(ArcSwap::from_pointee(set)))
    }

    /// The zones queries are answered from now.
    pub fn current(&self) -> Arc<ZoneSet> {
        self.0.load_full()
    }

    /// Serves `set` from the next query on; queries being answered finish with the old one.
    pub fn replace(&self, set: ZoneSet) {
        self.0.store(Arc::new(set));
    }
}

/// Why the DNS server did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// A socket could not be bound: another process holds the port (a local resolver on
    /// port 53, often), a port below 1024 without the privilege, or an address this host
    /// does not have.
    #[error("cannot listen for DNS over {transport} on {addr}: {source}")]
    Listen {
        /// `UDP` or `TCP`.
        transport: &'static str,
        /// The address as configured (port 0 included).
        addr: SocketAddr,
        /// The system's reason.
        #[source]
        source: std::io::Error,
    },
}

/// A running DNS server; it stops when dropped or [`DnsServer::stop`]ped.
pub struct DnsServer {
    addr: SocketAddr,
    server: Server<Handler>,
}

impl DnsServer {
    /// Binds UDP and TCP on `listen` (with port 0, one port the system picks for both) and
    /// answers from `zones`.
    pub async fn start(listen: SocketAddr, zones: Zones) -> Result<Self, DnsError> {
        let (udp, tcp) = bind_pair(listen).await?;
        Self::serve(udp, tcp, listen, zones)
    }

    /// Binds the pair of sockets [`DnsServer::start`] would, without serving them yet: the
    /// edge keeps a second handle on each for the process that may take over from it.
    pub async fn bind(
        listen: SocketAddr,
    ) -> Result<(std::net::UdpSocket, std::net::TcpListener), DnsError> {
        let (udp, tcp) = bind_pair(listen).await?;
        Ok((
            udp.into_std().map_err(listen_error("UDP", listen))?,
            tcp.into_std().map_err(listen_error("TCP", listen))?,
        ))
    }

    /// Answers from `zones` on sockets bound elsewhere: by [`DnsServer::bind`], or by the
    /// process this one took over from. `listen` names them in errors.
    pub fn serve_sockets(
        udp: std::net::UdpSocket,
        tcp: std::net::TcpListener,
        listen: SocketAddr,
        zones: Zones,
    ) -> Result<Self, DnsError> {
        let (udp_err, tcp_err) = (listen_error("UDP", listen), listen_error("TCP", listen));
        udp.set_nonblocking(true).map_err(udp_err)?;
        tcp.set_nonblocking(true).map_err(tcp_err)?;
        let udp = UdpSocket::from_std(udp).map_err(udp_err)?;
        let tcp = TcpListener::from_std(tcp).map_err(tcp_err)?;
        Self::serve(udp, tcp, listen, zones)
    }

    fn serve(
        udp: UdpSocket,
        tcp: TcpListener,
        listen: SocketAddr,
        zones: Zones,
    ) -> Result<Self, DnsError> {
        let addr = udp.local_addr().map_err(listen_error("UDP", listen))?;
        let mut server = Server::new(Handler { zones });
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE, TCP_RESPONSE_QUEUE);
        Ok(Self { addr, server })
    }

    /// The address both sockets are bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops answering: the sockets close and open TCP connections end.
    pub fn stop(&self) {
        self.server.shutdown_token().cancel();
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The error of a socket for `transport` on `listen` (as configured, port 0 included).
fn listen_error(
    transport: &'static str,
    listen: SocketAddr,
) -> impl Fn(std::io::Error) -> DnsError + Copy {
    move |source| DnsError::Listen {
        transport,
        addr: listen,
        source,
    }
}

/// UDP first, then TCP on the port UDP got. With port 0 another process may hold that port
/// for TCP; then another port is tried, keeping the rejected UDP sockets until the end so
/// the system does not hand the same port back.
async fn bind_pair(listen: SocketAddr) -> Result<(UdpSocket, TcpListener), DnsError> {
    let (udp_err, tcp_err) = (listen_error("UDP", listen), listen_error("TCP", listen));
    let mut rejected = Vec::new();
    let mut tries = 0;
    loop {
        let udp = UdpSocket::bind(listen).await.map_err(udp_err)?;
        let port = udp.local_addr().map_err(udp_err)?.port();
        match TcpListener::bind(SocketAddr::new(listen.ip(), port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e)
                if listen.port() == 0
                    && e.kind() == std::io::ErrorKind::AddrInUse
                    && tries + 1 < PORT_TRIES =>
            {
                tries += 1;
                rejected.push(udp);
            }
            Err(e) => return Err(tcp_err(e)),
        }
    }
}

/// Answers each request from the zones current when it arrived.
struct Handler {
    zones: Zones,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let zones = self.zones.current();
        let reply = respond(&zones, request, request.src().ip());
        let metadata = reply.metadata(&request.metadata);
        ferry_metrics::dns::query_answered(mnemonic(metadata.response_code));
        let response = MessageResponseBuilder::new(&request.queries, reply.edns.as_ref()).build(
            metadata,
            reply.answer.answers.iter(),
            reply.answer.authority.iter(),
            std::iter::empty(),
            reply.answer.additional.iter(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(error) => {
                // The client is gone or the socket failed; nothing to tell anyone but a
                // debugging operator.
                tracing::debug!(%error, src = %request.src(), "could not send a DNS response");
                let mut failed = Metadata::response_from_request(&request.metadata);
                failed.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata: failed,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}

/// A response code as DNS tools print it (`NOERROR`, `NXDOMAIN`): the label of
/// `ferry_dns_queries_total`. The codes this server never sends are `OTHER`.
fn mnemonic(code: ResponseCode) -> &'static str {
    match code {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::BADVERS => "BADVERS",
        _ => "OTHER",
    }
}
