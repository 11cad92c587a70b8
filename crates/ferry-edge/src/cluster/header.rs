//! The header that opens every node-to-node stream: what the receiving node needs to serve a
//! public connection another node accepted. Then come the client's bytes, from the first
//! byte of its ClientHello on. A two-byte length, then JSON, so a later field can be added
//! without breaking a node of the version before.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// The most a header may take: a node reads no more before it knows what the stream is.
pub(crate) const MAX_HEADER: usize = 1024;

/// What a forwarded public connection carries ahead of its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Forwarded {
    /// The public client's address, as the accepting node's socket saw it: what
    /// `X-Forwarded-For` and the agent's proxy header say.
    pub(crate) client: SocketAddr,
}

/// Why a stream's header was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// The length says more than [`MAX_HEADER`].
    #[error("a node-to-node stream header of {0} bytes is over the {MAX_HEADER}-byte limit")]
    TooLong(usize),
    /// The JSON does not parse as a header.
    #[error("a node-to-node stream header does not parse: {0}")]
    Malformed(String),
}

impl Forwarded {
    /// The header's bytes, length first.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let len = u16::try_from(json.len()).unwrap_or(u16::MAX);
        let mut out = Vec::with_capacity(2 + json.len());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&json);
        out
    }

    /// The length a header's first two bytes announce, refused above [`MAX_HEADER`].
    pub(crate) fn announced_len(prefix: [u8; 2]) -> Result<usize, HeaderError> {
        let len = usize::from(u16::from_be_bytes(prefix));
        if len > MAX_HEADER {
            return Err(HeaderError::TooLong(len));
        }
        Ok(len)
    }

    /// The header from its JSON (the bytes after the length).
    pub(crate) fn decode(json: &[u8]) -> Result<Self, HeaderError> {
        serde_json::from_slice(json).map_err(|e| HeaderError::Malformed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_round_trips_and_a_long_one_is_refused_by_its_length() {
        let h = Forwarded {
            client: "[2001:db8::7]:4433".parse().unwrap(),
        };
        let bytes = h.encode();
        let len = Forwarded::announced_len([bytes[0], bytes[1]]).unwrap();
        assert_eq!(len, bytes.len() - 2);
        assert_eq!(Forwarded::decode(&bytes[2..]).unwrap(), h);
        assert_eq!(
            Forwarded::announced_len(4096u16.to_be_bytes()),
            Err(HeaderError::TooLong(4096))
        );
        assert!(matches!(
            Forwarded::decode(b"{\"client\":\"nowhere\"}"),
            Err(HeaderError::Malformed(_))
        ));
    }
}
