//! The wire formats Ferry speaks, as pure functions over bytes: ngrok's agent protocol
//! messages (the JSON that rides on muxado typed streams), the proxy stream header, the
//! TLS ClientHello's server name, and the framing of HTTP/1.1 messages going by. Nothing
//! here opens a socket, so all of it can be tested and fuzzed alone.
#![warn(missing_docs)]

mod bind_proto;
pub mod client;
pub mod data_conn;
pub mod http1_watch;
pub mod msg;
pub mod proxy_header;
pub mod proxy_protocol;
pub mod rpc;
pub mod sni;
mod stream_type;

pub use bind_proto::{BindProto, UnknownProto};
pub use client::ClientKind;
pub use proxy_header::{ProxyHeader, ProxyHeaderError};
pub use proxy_protocol::ProxyVersion;
pub use rpc::{decode_json_prefix, DecodeError, Decoded};
pub use stream_type::StreamType;

/// Protocol versions Ferry speaks, newest first. ngrok's Rust SDK offers `["3", "2"]`, the Go
/// SDK `["2"]`; what "3" changes is not visible in any client code path, so both are served
/// by the same code.
pub const PROTOCOL_VERSIONS: &[&str] = &["3", "2"];

/// Picks the version to answer in `AuthResp`: the newest that both sides speak.
pub fn negotiate_version(offered: &[String]) -> Option<&'static str> {
    PROTOCOL_VERSIONS
        .iter()
        .copied()
        .find(|v| offered.iter().any(|o| o == v))
}

/// Upper bound on one RPC message (Auth, Bind...). A Bind can carry CA certificates for
/// mutual TLS, so this leaves room for a few, and no more.
pub const MAX_RPC_SIZE: usize = 256 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_newest_common_version() {
        assert_eq!(negotiate_version(&["3".into(), "2".into()]), Some("3"));
        assert_eq!(negotiate_version(&["2".into()]), Some("2"));
        assert_eq!(negotiate_version(&["1".into()]), None);
    }
}
