//! Why a session ended or a bind failed, with the cause kept: the edge's refusals (with the
//! catalogue code they carry) apart from failures of the connection, which retrying may mend.

use ferry_proto::DecodeError;
use ferry_transport::RpcError;
use ferry_types::ErrorCode;
use rustls::pki_types::InvalidDnsNameError;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The edge does not accept the authtoken: revoked, deleted or mistyped. Retrying soon
    /// will not help, so an agent that was online backs off for minutes.
    #[error("{0}")]
    AuthtokenRefused(EdgeRefusal),
    #[error("auth reply: {0}")]
    AuthReply(#[source] DecodeError),
    #[error("tunnel {name:?}: {refusal}")]
    BindRefused { name: String, refusal: EdgeRefusal },
    #[error("bind reply: {0}")]
    BindReply(#[source] DecodeError),
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("connecting to {0} timed out")]
    ConnectTimeout(String),
    #[error("the connection to the edge was lost")]
    Lost,
    #[error("no tunnel named {0:?}")]
    NoSuchTunnel(String),
    /// The edge refused a call other than a bind.
    #[error("{0}")]
    Refused(EdgeRefusal),
    #[error("tunnel {0:?} was removed while binding")]
    RemovedWhileBinding(String),
    /// A call failed for the connection's sake, not by the edge's answer.
    #[error(transparent)]
    Rpc(RpcError),
    #[error("server_addr {addr:?}: {source}")]
    ServerName {
        addr: String,
        #[source]
        source: InvalidDnsNameError,
    },
    #[error("TLS handshake with {addr} failed: {source} (is root_cas the CA that issued the edge's certificate? `ferry edge --dev` writes it to dev.json's ca_cert)")]
    Tls {
        addr: String,
        #[source]
        source: std::io::Error,
    },
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
    pub text: String,
    pub code: Option<ErrorCode>,
}

impl EdgeRefusal {
    pub fn new(wire: &str) -> Self {
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
