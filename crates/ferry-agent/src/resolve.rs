//! Where the agent dials `server_addr`: its host looked up through ngrok.yml's
//! `dns_resolver_ips` when given (a device on a network whose resolver does not know the
//! operator's delegated zone yet, or a test pointing at Ferry's own DNS), else through the
//! system's resolver. Every address found is tried in turn, so a region name that answers
//! several nodes survives one of them being down.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::TokioResolver;

/// The addresses of `server_addr` (`host:port`), in the order to try them.
pub async fn addresses(server_addr: &str, resolvers: &[SocketAddr]) -> io::Result<Vec<SocketAddr>> {
    if let Ok(addr) = server_addr.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    if resolvers.is_empty() {
        return Ok(tokio::net::lookup_host(server_addr).await?.collect());
    }
    let (host, port) = server_addr
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "expected host:port"))?;
    let mut servers = Vec::new();
    for r in resolvers {
        let mut ns = NameServerConfig::udp_and_tcp(r.ip());
        for c in &mut ns.connections {
            c.port = r.port();
        }
        servers.push(ns);
    }
    let mut builder = TokioResolver::builder_with_config(
        ResolverConfig::from_name_servers(servers),
        TokioRuntimeProvider::default(),
    );
    let opts = builder.options_mut();
    opts.timeout = Duration::from_secs(3);
    opts.use_hosts_file = ResolveHosts::Never;
    let resolver = builder
        .build()
        .map_err(|e| io::Error::other(format!("cannot set up the resolver: {e}")))?;
    let found = resolver.lookup_ip(host).await.map_err(|e| {
        let through: Vec<String> = resolvers.iter().map(ToString::to_string).collect();
        io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{host} does not resolve through dns_resolver_ips {}: {e}",
                through.join(", ")
            ),
        )
    })?;
    Ok(found
        .iter()
        .map(|ip: IpAddr| SocketAddr::new(ip, port))
        .collect())
}

/// One `dns_resolver_ips` entry: an address (port 53, as ngrok reads them) or an
/// `address:port`.
pub fn parse_resolver(entry: &str) -> Option<SocketAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .or_else(|_| entry.parse::<SocketAddr>())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolvers_are_addresses_with_port_53_unless_given() {
        assert_eq!(
            parse_resolver("1.1.1.1"),
            Some("1.1.1.1:53".parse().unwrap())
        );
        assert_eq!(
            parse_resolver("127.0.0.1:5353"),
            Some("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(parse_resolver("::1"), Some("[::1]:53".parse().unwrap()));
        assert_eq!(parse_resolver("dns.example.com"), None);
    }

    #[tokio::test]
    async fn an_address_needs_no_lookup() {
        let found = addresses("127.0.0.1:4443", &["127.0.0.1:9".parse().unwrap()])
            .await
            .unwrap();
        assert_eq!(found, ["127.0.0.1:4443".parse().unwrap()]);
    }
}
