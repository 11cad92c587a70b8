//! Why the edge refused an agent's Auth, as a type: each refusal has its catalogue code
//! (and with it ngrok's, which SDKs branch on) and keeps the error that caused it.

use ferry_proto::DecodeError;
use ferry_store::{StoreError, TokenError};
use ferry_transport::RpcError;
use ferry_types::ErrorCode;

/// What an agent whose authtoken the store refused is told. Ferry's agent and ngrok's SDKs
/// recognise the refusal by its codes (ERR_FERRY_103, ERR_NGROK_107), not this text.
const TOKEN_REFUSED: &str =
    "the authtoken is not valid on this edge: it was revoked or deleted, or it is mistyped";

/// A refused Auth, or a bind refused because the session's authtoken went away.
#[derive(Debug, thiserror::Error)]
pub enum AuthRefusal {
    /// The Auth message did not arrive whole, in time or within its size.
    #[error("auth message: {0}")]
    Read(#[source] RpcError),
    /// The Auth message is JSON of the wrong shape.
    #[error("auth message: {0}")]
    Shape(#[source] DecodeError),
    /// No protocol version in common.
    #[error("the agent speaks protocol versions {offered:?}; this edge speaks {ours:?}")]
    Version {
        /// The versions the agent offered.
        offered: Vec<String>,
        /// The versions this edge speaks.
        ours: &'static [&'static str],
    },
    /// A second Auth on a session that already has one.
    #[error("the session is already authenticated")]
    AlreadyAuthenticated,
    /// The Auth carries no authtoken.
    #[error("no authtoken was sent; give the agent one (--authtoken, FERRY_AUTHTOKEN or the authtoken key of its config file; `ferry edge --dev` writes one to dev.json)")]
    Missing,
    /// The store refused this very token moments ago (`auth_limit.rs`).
    #[error("{TOKEN_REFUSED} (refused {0}s ago as well)")]
    RefusedRecently(u64),
    /// The store knows no such token: revoked, deleted, its bot deactivated, or mistyped.
    #[error("{TOKEN_REFUSED}")]
    Refused,
    /// The token is not of the form the edge issues.
    #[error("the authtoken is malformed: {0}")]
    Malformed(#[source] TokenError),
    /// The store could not be asked.
    #[error("the edge cannot check authtokens right now; retry")]
    StoreUnavailable(#[source] StoreError),
    /// A live session's authtoken was revoked before a bind.
    #[error("the session's authtoken was revoked")]
    Revoked,
}

impl AuthRefusal {
    /// The catalogue code sent to the agent with the message.
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthRefusal::Read(_)
            | AuthRefusal::Shape(_)
            | AuthRefusal::AlreadyAuthenticated
            | AuthRefusal::StoreUnavailable(_) => ErrorCode::AuthPayloadInvalid,
            AuthRefusal::Version { .. } => ErrorCode::ProtocolVersionUnsupported,
            AuthRefusal::Missing => ErrorCode::AuthtokenMissing,
            AuthRefusal::RefusedRecently(_) | AuthRefusal::Refused | AuthRefusal::Revoked => {
                ErrorCode::AuthtokenInvalid
            }
            AuthRefusal::Malformed(_) => ErrorCode::AuthtokenMalformed,
        }
    }
}
