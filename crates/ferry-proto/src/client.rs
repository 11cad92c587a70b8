//! Which program is on the other end of an agent session. The edge absorbs some ngrok SDK
//! quirks (a bind/proxy race, a stream cap) that Ferry's own agent does not have, and the
//! control plane lists the kind as the agent named it.

use std::fmt;

use crate::msg::Auth;

/// What an agent's Auth says it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClientKind {
    /// Ferry's own agent (`ferry`).
    Ferry,
    /// ngrok's Go SDK or agent: it names itself only in its user agent (`ngrok-go/...`), or
    /// speaks protocol version 2 alone.
    NgrokGo,
    /// ngrok's Rust SDK (`ngrok-rust`).
    NgrokRust,
    /// Any other name a client gave itself; applications built on ngrok's SDKs name themselves
    /// through the SDK's `client_info`.
    Other(String),
    /// A client that said nothing about itself.
    Unknown,
}

impl ClientKind {
    /// The kind an Auth message declares: its `ClientType`, else what its user agent and
    /// protocol versions give away.
    pub fn from_auth(auth: &Auth) -> Self {
        let declared = auth.extra.client_type.as_str();
        if !declared.is_empty() {
            return Self::named(declared);
        }
        if auth.extra.user_agent.starts_with("ngrok-go") || auth.version == ["2"] {
            Self::NgrokGo
        } else {
            Self::Unknown
        }
    }

    /// The kind a client's own name stands for.
    pub fn named(name: &str) -> Self {
        match name {
            "ferry" => Self::Ferry,
            "ngrok-go" => Self::NgrokGo,
            "ngrok-rust" => Self::NgrokRust,
            "unknown" => Self::Unknown,
            other => Self::Other(other.to_string()),
        }
    }

    /// The name as it goes on the wire (`ClientType`) and into the control plane's lists.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Ferry => "ferry",
            Self::NgrokGo => "ngrok-go",
            Self::NgrokRust => "ngrok-rust",
            Self::Other(name) => name,
            Self::Unknown => "unknown",
        }
    }

    /// True for Ferry's agent, which has none of the SDK quirks the edge works around.
    pub fn is_ferry(&self) -> bool {
        *self == Self::Ferry
    }
}

impl fmt::Display for ClientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::AuthExtra;

    fn auth(version: &[&str], client_type: &str, user_agent: &str) -> Auth {
        Auth {
            version: version.iter().map(|v| v.to_string()).collect(),
            client_id: String::new(),
            extra: AuthExtra {
                client_type: client_type.into(),
                user_agent: user_agent.into(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn kind_from_declared_type_user_agent_or_versions() {
        assert_eq!(
            ClientKind::from_auth(&auth(&["3", "2"], "ferry", "")),
            ClientKind::Ferry
        );
        let rust = ClientKind::from_auth(&auth(&["3", "2"], "ngrok-rust", "ngrok-rust/0.19"));
        assert_eq!(rust, ClientKind::NgrokRust);
        let python = ClientKind::from_auth(&auth(&["3", "2"], "ngrok-python", ""));
        assert_eq!(python.as_str(), "ngrok-python");
        let go = ClientKind::from_auth(&auth(&["3", "2"], "", "ngrok-go/1.0"));
        assert_eq!(go, ClientKind::NgrokGo);
        assert_eq!(
            ClientKind::from_auth(&auth(&["2"], "", "")),
            ClientKind::NgrokGo
        );
        assert_eq!(
            ClientKind::from_auth(&auth(&["3"], "", "")).as_str(),
            "unknown"
        );
    }

    #[test]
    fn names_round_trip() {
        for name in ["ferry", "ngrok-go", "ngrok-rust", "ngrok-nodejs", "unknown"] {
            assert_eq!(ClientKind::named(name).as_str(), name);
        }
    }
}
