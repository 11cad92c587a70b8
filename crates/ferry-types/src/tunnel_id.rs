use std::fmt;

use crate::id::ResourceId;

/// The longest tunnel ID accepted, in bytes. Ferry's edge issues 30-byte IDs; the cap bounds
/// what an ID sent by an agent costs the edge to keep, sign, log and quote back.
pub const MAX_TUNNEL_ID_LEN: usize = 256;

/// A tunnel's ID in ngrok's agent protocol: given out in the bind reply, named by every proxy
/// stream's header, sent back by the agent on re-bind and unbind.
///
/// Not a [`ResourceId`]: Ferry's edge issues `tn_` IDs ([`TunnelId::generate`]), but an agent
/// keeps whatever its edge gave it and sends it back as it is, so any text is taken that is
/// safe to keep, sign, log and quote: not empty, at most [`MAX_TUNNEL_ID_LEN`] bytes, and
/// without control characters. Whether the ID is the agent's to use is the bind token's
/// business, not this type's.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TunnelId(String);

/// Why a text cannot be a tunnel ID.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TunnelIdError {
    /// An empty ID, which ngrok's Bind uses to mean "a new tunnel", names none.
    #[error("tunnel ID is empty")]
    Empty,
    /// Longer than [`MAX_TUNNEL_ID_LEN`] bytes; the length is given, not the text.
    #[error("tunnel ID is {0} bytes long, over the {MAX_TUNNEL_ID_LEN} allowed")]
    TooLong(usize),
    /// A control character (a newline, an escape...) that would garble a log line.
    #[error("tunnel ID {0:?} holds a control character")]
    NotPrintable(String),
}

impl TunnelId {
    /// A fresh `tn_` ID, for a tunnel the edge binds for the first time.
    pub fn generate() -> Self {
        Self(ResourceId::generate("tn").to_string())
    }

    /// Takes `s` as it was sent, when it is safe to hold (see [`TunnelId`]).
    pub fn parse(s: &str) -> Result<Self, TunnelIdError> {
        if s.is_empty() {
            return Err(TunnelIdError::Empty);
        }
        if s.len() > MAX_TUNNEL_ID_LEN {
            return Err(TunnelIdError::TooLong(s.len()));
        }
        if s.chars().any(char::is_control) {
            return Err(TunnelIdError::NotPrintable(s.to_string()));
        }
        Ok(Self(s.to_string()))
    }

    /// The ID as the wire carries it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TunnelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Quoted, as an agent's ID may hold spaces or quotes.
impl fmt::Debug for TunnelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_edge_resource_ids() {
        let id = TunnelId::generate();
        assert!(ResourceId::parse(id.as_str(), "tn").is_ok());
        assert_eq!(TunnelId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn any_printable_text_within_the_cap_is_an_id() {
        for ok in [
            "tn_x",
            "ep_2esRk",
            "a tunnel \"id\"",
            "ünïcode",
            &"x".repeat(256),
        ] {
            assert_eq!(TunnelId::parse(ok).unwrap().as_str(), ok);
        }
        assert_eq!(TunnelId::parse(""), Err(TunnelIdError::Empty));
        assert_eq!(
            TunnelId::parse(&"x".repeat(257)),
            Err(TunnelIdError::TooLong(257))
        );
        assert!(matches!(
            TunnelId::parse("tn_a\nforged log line"),
            Err(TunnelIdError::NotPrintable(_))
        ));
        assert!(matches!(
            TunnelId::parse("tn_\u{1b}[31m"),
            Err(TunnelIdError::NotPrintable(_))
        ));
    }
}
