//! The PROXY protocol header (HAProxy's, versions 1 and 2) that a TCP or TLS endpoint bound
//! with ngrok's `proxy_proto` gets in front of each connection's bytes, so that the upstream
//! learns the public client's address through any number of hops. The edge writes it into
//! the proxy stream ahead of the client's first byte; agents pass it on untouched, as
//! ngrok's do.

use std::net::SocketAddr;

/// Which version of the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyVersion {
    /// One text line: `PROXY TCP4 <src> <dst> <sport> <dport>\r\n`.
    V1,
    /// The binary form.
    V2,
}

impl ProxyVersion {
    /// The version a bind's `ProxyProto` names: 1 or 2; 0 is none.
    pub fn from_bind(n: u8) -> Option<Self> {
        match n {
            1 => Some(Self::V1),
            2 => Some(Self::V2),
            _ => None,
        }
    }

    /// The number ngrok's bind options use.
    pub fn number(self) -> u8 {
        match self {
            Self::V1 => 1,
            Self::V2 => 2,
        }
    }
}

/// The v2 signature every binary header starts with.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// The header for a connection from `client` to `local` (the edge's listening address). An
/// IPv4 client seen on an IPv6 socket (a mapped address) is written as IPv4; a pair of
/// different families, which no real connection has, falls back to the family of `client`
/// with an unspecified destination.
pub fn header(version: ProxyVersion, client: SocketAddr, local: SocketAddr) -> Vec<u8> {
    let client = canonical(client);
    let local = match (client, canonical(local)) {
        (SocketAddr::V4(_), l @ SocketAddr::V4(_)) | (SocketAddr::V6(_), l @ SocketAddr::V6(_)) => {
            l
        }
        (SocketAddr::V4(_), l) => SocketAddr::from(([0, 0, 0, 0], l.port())),
        (SocketAddr::V6(_), l) => SocketAddr::from(([0u16; 8], l.port())),
    };
    match version {
        ProxyVersion::V1 => {
            let family = if client.is_ipv4() { "TCP4" } else { "TCP6" };
            format!(
                "PROXY {family} {} {} {} {}\r\n",
                client.ip(),
                local.ip(),
                client.port(),
                local.port()
            )
            .into_bytes()
        }
        ProxyVersion::V2 => {
            let mut out = V2_SIGNATURE.to_vec();
            // Version 2, command PROXY.
            out.push(0x21);
            let mut addrs = Vec::with_capacity(36);
            match (client, local) {
                (SocketAddr::V4(c), SocketAddr::V4(l)) => {
                    out.push(0x11); // TCP over IPv4
                    addrs.extend_from_slice(&c.ip().octets());
                    addrs.extend_from_slice(&l.ip().octets());
                }
                (c, l) => {
                    out.push(0x21); // TCP over IPv6
                    addrs.extend_from_slice(&v6(c.ip()).octets());
                    addrs.extend_from_slice(&v6(l.ip()).octets());
                }
            }
            addrs.extend_from_slice(&client.port().to_be_bytes());
            addrs.extend_from_slice(&local.port().to_be_bytes());
            out.extend_from_slice(&(addrs.len() as u16).to_be_bytes());
            out.extend_from_slice(&addrs);
            out
        }
    }
}

fn canonical(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::from((v4, v6.port())),
            None => a,
        },
        v4 => v4,
    }
}

fn v6(ip: std::net::IpAddr) -> std::net::Ipv6Addr {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        std::net::IpAddr::V6(v6) => v6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_one_is_the_text_line() {
        let h = header(
            ProxyVersion::V1,
            "203.0.113.7:51000".parse().unwrap(),
            "198.51.100.1:443".parse().unwrap(),
        );
        assert_eq!(h, b"PROXY TCP4 203.0.113.7 198.51.100.1 51000 443\r\n");
        let h = header(
            ProxyVersion::V1,
            "[2001:db8::7]:51000".parse().unwrap(),
            "[2001:db8::1]:443".parse().unwrap(),
        );
        assert_eq!(h, b"PROXY TCP6 2001:db8::7 2001:db8::1 51000 443\r\n");
    }

    #[test]
    fn version_two_is_binary_with_a_mapped_client_written_as_ipv4() {
        let h = header(
            ProxyVersion::V2,
            "[::ffff:203.0.113.7]:51000".parse().unwrap(),
            "198.51.100.1:443".parse().unwrap(),
        );
        let mut want = V2_SIGNATURE.to_vec();
        want.extend_from_slice(&[0x21, 0x11, 0, 12, 203, 0, 113, 7, 198, 51, 100, 1]);
        want.extend_from_slice(&51000u16.to_be_bytes());
        want.extend_from_slice(&443u16.to_be_bytes());
        assert_eq!(h, want);
        let h6 = header(
            ProxyVersion::V2,
            "[2001:db8::7]:1".parse().unwrap(),
            "[2001:db8::1]:2".parse().unwrap(),
        );
        assert_eq!(h6[13], 0x21);
        assert_eq!(u16::from_be_bytes([h6[14], h6[15]]), 36);
        assert_eq!(h6.len(), 16 + 36);
    }
}
