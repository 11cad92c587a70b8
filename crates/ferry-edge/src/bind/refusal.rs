//! Why a bind was refused. Each refusal carries its cause and maps to one code of the
//! catalogue; its text is what the agent's user reads, so it says what to change.

use std::num::ParseIntError;

use ferry_proto::{BindProto, DecodeError, UnknownProto};
use ferry_store::StoreError;
use ferry_types::{ErrorCode, HostError, HostPattern};

use crate::client_auth::ClientCaError;
use crate::protect::ProtectionError;
use crate::registry::ClaimError;
use crate::terminate::TerminationError;

#[derive(Debug, thiserror::Error)]
pub enum BindRefusal {
    #[error("the authtoken's ACL does not allow binding {what}; its rules are: {rules}")]
    AclDenied { what: String, rules: String },
    #[error("refused by this edge's reserved addresses: {0} is not reserved; reserve one with POST /reserved_addrs first")]
    AddrNotReserved(String),
    #[error(
        "the re-bind of tunnel {0:?} carries no valid bind token for it; start the tunnel anew"
    )]
    BindToken(String),
    #[error(transparent)]
    ClientCa(#[from] ClientCaError),
    #[error("domain {text:?}: {source}")]
    Domain {
        text: String,
        #[source]
        source: HostError,
    },
    #[error("refused by this edge's reserved domains: {pattern} is not reserved (checked {}); reserve it with POST /reserved_domains first", checked.join(", "))]
    DomainNotReserved {
        pattern: HostPattern,
        checked: Vec<String>,
    },
    #[error("mutual_tls_cas needs an https endpoint: a plain-http client presents no certificate")]
    MutualTlsOnHttp,
    #[error("bind options: {0}")]
    Options(#[source] DecodeError),
    #[error(transparent)]
    PortUnavailable(ClaimError),
    #[error(transparent)]
    Protection(#[from] ProtectionError),
    #[error(transparent)]
    Proto(#[from] UnknownProto),
    #[error("proxy_proto {version} applies to tcp and tls endpoints, not to {proto}: an HTTP upstream learns the client's address from X-Forwarded-For")]
    ProxyProto { version: u8, proto: BindProto },
    #[error("cannot check reserved {what} right now ({source}); retry")]
    ReservationUnavailable {
        /// `domains` or `addresses`.
        what: &'static str,
        #[source]
        source: StoreError,
    },
    #[error(transparent)]
    Taken(ClaimError),
    #[error("cannot claim the name among the nodes right now ({0}); retry")]
    ClusterUnavailable(#[source] StoreError),
    #[error("remote_addr {addr:?} is not host:port")]
    TcpAddr {
        addr: String,
        #[source]
        source: ParseIntError,
    },
    #[error("remote_addr {addr:?}: port {port} is outside this edge's TCP range {lo}-{hi}")]
    TcpPortOutOfRange {
        addr: String,
        port: u16,
        lo: u16,
        hi: u16,
    },
    #[error(transparent)]
    Termination(#[from] TerminationError),
    #[error("{option} applies to tls endpoints only, not to {proto}")]
    TlsOnly {
        option: &'static str,
        proto: ferry_proto::BindProto,
    },
    #[error("this session already has {0} tunnels, the most one session may hold")]
    TunnelLimit(usize),
    #[error("this Ferry edge does not enforce {0} yet, so it refuses the bind rather than expose the endpoint without it")]
    Unenforced(&'static str),
}

impl BindRefusal {
    /// The catalogue code the agent is sent with the text.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::AclDenied { .. } => ErrorCode::AclDenied,
            Self::AddrNotReserved(_) => ErrorCode::AddrNotReserved,
            Self::BindToken(_) => ErrorCode::BindTokenInvalid,
            Self::ClientCa(e) => e.code(),
            Self::Domain { .. } => ErrorCode::DomainMalformed,
            Self::DomainNotReserved { pattern, .. } if pattern.is_wildcard() => {
                ErrorCode::WildcardNotReserved
            }
            Self::DomainNotReserved { .. } => ErrorCode::DomainNotReserved,
            Self::MutualTlsOnHttp => ErrorCode::MutualTlsCaInvalid,
            Self::Options(_)
            | Self::Protection(_)
            | Self::ProxyProto { .. }
            | Self::Unenforced(_) => ErrorCode::BindPayloadInvalid,
            Self::PortUnavailable(_) | Self::TcpAddr { .. } | Self::TcpPortOutOfRange { .. } => {
                ErrorCode::TcpAddrUnavailable
            }
            Self::Proto(_) => ErrorCode::ProtoUnknown,
            Self::ReservationUnavailable { .. } => ErrorCode::ReservationCheckFailed,
            Self::Taken(_) => ErrorCode::EndpointTaken,
            Self::ClusterUnavailable(_) => ErrorCode::NameClaimFailed,
            Self::Termination(e) => e.code(),
            Self::TlsOnly { .. } => ErrorCode::BindPayloadInvalid,
            Self::TunnelLimit(_) => ErrorCode::TunnelLimit,
        }
    }
}
