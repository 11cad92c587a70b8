//! The header at the start of every proxy stream (type 3): an i64 little-endian length (the
//! only little-endian field in ngrok's protocol), then that many bytes of JSON. The raw
//! connection bytes follow in both directions.

use serde::{Deserialize, Serialize};

use crate::rpc::{from_value_folded, DecodeError};

/// Bound on the header JSON; a real one is under 200 bytes.
pub const MAX_PROXY_HEADER: usize = 16 * 1024;

/// What the edge tells the agent about one public connection before its bytes; every key is
/// required by ngrok's agents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProxyHeader {
    /// The tunnel ID the connection belongs to; agents route by it.
    #[serde(rename = "Id")]
    pub id: String,
    /// The public client's `ip:port`; ngrok's agents read an unparsable one as `0.0.0.0:0`.
    #[serde(rename = "ClientAddr")]
    pub client_addr: String,
    /// The tunnel's protocol (`http`, `https`, `tcp`, `tls`); for `http` and `https`
    /// ngrok's agents serve their own 502 page when the upstream fails.
    #[serde(rename = "Proto")]
    pub proto: String,
    /// A string in ngrok's protocol: "0" undefined, "1" tcp, "2" tls, "3" https. Endpoints
    /// (what Ferry serves) use "".
    #[serde(rename = "EdgeType")]
    pub edge_type: String,
    /// True when the payload is the client's raw TLS, which the agent or its upstream must
    /// terminate.
    #[serde(rename = "PassthroughTLS")]
    pub passthrough_tls: bool,
}

/// Why a proxy stream's header cannot be read; either way the stream is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyHeaderError {
    /// Negative, or over [`MAX_PROXY_HEADER`]: not a header, or not one worth buffering.
    #[error("proxy header length {0} is out of range (0..={MAX_PROXY_HEADER})")]
    BadLength(i64),
    /// The JSON is malformed or lacks `Id`.
    #[error("proxy header JSON: {0}")]
    Json(#[from] DecodeError),
}

#[derive(Deserialize)]
struct Folded {
    id: String,
    #[serde(default)]
    clientaddr: String,
    #[serde(default)]
    proto: String,
    #[serde(default)]
    edgetype: serde_json::Value,
    #[serde(default)]
    passthroughtls: bool,
}

impl ProxyHeader {
    /// The length prefix and the JSON, ready to write right after the stream type.
    pub fn encode(&self) -> Vec<u8> {
        // Serialising a struct of strings and a bool cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        let mut out = Vec::with_capacity(8 + json.len());
        out.extend_from_slice(&(json.len() as i64).to_le_bytes());
        out.extend_from_slice(&json);
        out
    }

    /// `Ok(None)` while the header is incomplete; otherwise the header and the bytes it used.
    pub fn decode(buf: &[u8]) -> Result<Option<(Self, usize)>, ProxyHeaderError> {
        let Some(len_bytes) = buf.get(..8) else {
            return Ok(None);
        };
        let mut b = [0u8; 8];
        b.copy_from_slice(len_bytes);
        let len = i64::from_le_bytes(b);
        if !(0..=MAX_PROXY_HEADER as i64).contains(&len) {
            return Err(ProxyHeaderError::BadLength(len));
        }
        let end = 8 + len as usize;
        let Some(json) = buf.get(8..end) else {
            return Ok(None);
        };
        let value: serde_json::Value =
            serde_json::from_slice(json).map_err(|e| DecodeError::Malformed {
                line: e.line(),
                column: e.column(),
                cause: e.to_string(),
            })?;
        let f: Folded = from_value_folded(&value)?;
        let edge_type = match f.edgetype {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        Ok(Some((
            Self {
                id: f.id,
                client_addr: f.clientaddr,
                proto: f.proto,
                edge_type,
                passthrough_tls: f.passthroughtls,
            },
            end,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ProxyHeader {
        ProxyHeader {
            id: "tn_x".into(),
            client_addr: "127.0.0.1:5000".into(),
            proto: "https".into(),
            edge_type: String::new(),
            passthrough_tls: false,
        }
    }

    #[test]
    fn round_trips_and_reports_incomplete() {
        let mut bytes = sample().encode();
        bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
        for n in 0..bytes.len() - 16 {
            assert!(ProxyHeader::decode(&bytes[..n]).unwrap().is_none(), "{n}");
        }
        let (h, used) = ProxyHeader::decode(&bytes).unwrap().unwrap();
        assert_eq!(h, sample());
        assert_eq!(&bytes[used..], b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn length_is_little_endian() {
        let bytes = sample().encode();
        let len = u16::from_le_bytes([bytes[0], bytes[1]]) as usize;
        assert_eq!(len, bytes.len() - 8);
    }

    #[test]
    fn rejects_negative_and_huge_lengths() {
        let mut b = (-1i64).to_le_bytes().to_vec();
        assert!(matches!(
            ProxyHeader::decode(&b),
            Err(ProxyHeaderError::BadLength(-1))
        ));
        b = (1i64 << 40).to_le_bytes().to_vec();
        assert!(ProxyHeader::decode(&b).is_err());
    }
}
