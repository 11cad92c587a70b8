//! Why a session ended or a bind failed, with the cause kept: the edge's refusals (with the
//! catalogue code they carry) apart from failures of the connection, which retrying may mend.

use ferry_proto::DecodeError;
use ferry_transport::RpcError;
use ferry_types::{ErrorCode, TunnelIdError};
use rustls::pki_types::InvalidDnsNameError;

/// Why one session attempt ended or one bind failed. Before the agent has been online a
/// refusal ([`SessionError::is_refusal`]) stops it, since the command itself is wrong; every
/// other failure, and every failure afterwards, is retried with back-off.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The edge does not accept the authtoken: revoked, deleted or mistyped. Retrying soon
    /// will not help, so an agent that was online backs off for minutes.
    #[error("{0}")]
    AuthtokenRefused(EdgeRefusal),
    /// The server at `server_addr` took the Auth but answered with something that is not an
    /// ngrok Auth reply: not an ngrok-compatible edge, or another version of the protocol.
    #[error("auth reply: {0}")]
    AuthReply(#[source] DecodeError),
    /// The edge will not bind a tunnel: a name outside the authtoken's ACL, a domain or
    /// address not reserved, a name another agent holds.
    #[error("tunnel {name:?}: {refusal}")]
    BindRefused {
        /// The tunnel, as configured.
        name: String,
        /// The edge's answer and its code.
        refusal: EdgeRefusal,
    },
    /// The edge answered a bind with something that is not a bind reply.
    #[error("bind reply: {0}")]
    BindReply(#[source] DecodeError),
    /// The edge's bind reply gave the tunnel an ID no agent can keep: empty, too long, or
    /// with a control character. Not Ferry's edge, or a broken one.
    #[error("bind reply: {0}")]
    BindReplyId(#[source] TunnelIdError),
    /// No TCP connection to `server_addr`: the name does not resolve, nothing listens there,
    /// or a firewall refuses.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// `server_addr` as configured.
        addr: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// No TCP connection to `server_addr` (held here) within `connect_timeout`: often a
    /// firewall that drops rather than refuses.
    #[error("connecting to {0} timed out")]
    ConnectTimeout(String),
    /// A session that was up ended: the edge closed it or restarted, the network dropped, or
    /// heartbeats went unanswered.
    #[error("the connection to the edge was lost")]
    Lost,
    /// The edge is draining and asked the agent to move to another node; the old session
    /// keeps serving its streams until that node closes it.
    #[error("the edge is draining; moving to the next server_addr")]
    Moved,
    /// A bind for a tunnel the agent no longer holds: it was stopped in the meantime.
    #[error("no tunnel named {0:?}")]
    NoSuchTunnel(String),
    /// The edge refused a call other than a bind.
    #[error("{0}")]
    Refused(EdgeRefusal),
    /// The tunnel was stopped through the agent API while the edge was answering its bind.
    #[error("tunnel {0:?} was removed while binding")]
    RemovedWhileBinding(String),
    /// A call failed for the connection's sake, not by the edge's answer.
    #[error(transparent)]
    Rpc(RpcError),
    /// `server_addr`'s host cannot be a TLS server name (SNI): a stray scheme
    /// (`https://edge:443`) or an empty host. Retrying cannot mend it, so it counts as a
    /// refusal.
    #[error("server_addr {addr:?}: {source}")]
    ServerName {
        /// `server_addr` as configured.
        addr: String,
        /// rustls's reason.
        #[source]
        source: InvalidDnsNameError,
    },
    /// The TLS handshake with the edge failed, most often because `root_cas` is not the CA
    /// that issued the edge's certificate; the message says where `ferry edge --dev` keeps it.
    #[error("TLS handshake with {addr} failed: {source} (is root_cas the CA that issued the edge's certificate? `ferry edge --dev` writes it to dev.json's ca_cert)")]
    Tls {
        /// `server_addr` as configured.
        addr: String,
        /// rustls's reason, wrapped by the TLS stream.
        #[source]
        source: std::io::Error,
    },
    /// The TCP connection was made but the TLS handshake did not finish within
    /// `connect_timeout`: often something other than an edge listening on that port.
    #[error("TLS handshake with the edge timed out")]
    TlsTimeout,
}

impl SessionError {
    /// True when the edge or the configuration refused something that retrying will not
    /// change (a bad authtoken, a bind outside the ACL): fatal at start-up, retried after the
    /// agent has been online.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::AuthtokenRefused(_)
                | Self::BindRefused { .. }
                | Self::NoSuchTunnel(_)
                | Self::Refused(_)
                | Self::RemovedWhileBinding(_)
                | Self::ServerName { .. }
        )
    }

    /// The catalogue code the edge's refusal carried.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::AuthtokenRefused(r) | Self::BindRefused { refusal: r, .. } | Self::Refused(r) => {
                r.code
            }
            _ => None,
        }
    }

    /// An RPC failure: the edge's `{"Error": ...}` answer is a refusal, anything else the
    /// connection's fault.
    pub(crate) fn from_rpc(e: RpcError) -> Self {
        match e {
            RpcError::Remote(text) => {
                let refusal = EdgeRefusal::new(&text);
                if refusal.code == Some(ErrorCode::AuthtokenInvalid) {
                    Self::AuthtokenRefused(refusal)
                } else {
                    Self::Refused(refusal)
                }
            }
            other => Self::Rpc(other),
        }
    }
}

/// An error answer from the edge: its text on one line, and the Ferry code at its end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct EdgeRefusal {
    /// The edge's message, its lines joined with spaces so that a log line stays one line.
    pub text: String,
    /// `None` when the answer ends with no Ferry code: an older Ferry edge, or ngrok's.
    pub code: Option<ErrorCode>,
}

impl EdgeRefusal {
    /// Reads the text of an edge's `{"Error": ...}` answer.
    pub(crate) fn new(wire: &str) -> Self {
        // The code closes the answer (`ErrorCode::wire_error`).
        let code = wire
            .split_whitespace()
            .rev()
            .find_map(|word| ErrorCode::ALL.iter().find(|c| c.to_string() == word))
            .copied();
        let text = wire
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        Self { text, code }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edge_answer_is_one_line_with_its_code() {
        let wire = ErrorCode::AclDenied.wire_error("the authtoken's ACL does not allow binding x");
        let e = SessionError::from_rpc(RpcError::Remote(wire));
        assert!(e.is_refusal());
        assert_eq!(e.code(), Some(ErrorCode::AclDenied));
        let text = e.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.starts_with("the authtoken's ACL does not allow binding x ERR_FERRY_"));
        let token = SessionError::from_rpc(RpcError::Remote(
            ErrorCode::AuthtokenInvalid.wire_error("no"),
        ));
        assert!(matches!(token, SessionError::AuthtokenRefused(_)));
        let lost = SessionError::from_rpc(RpcError::SessionClosed);
        assert!(!lost.is_refusal());
        assert_eq!(lost.code(), None);
    }
}
