//! Where a tunnel's traffic goes on the agent's side: `3000`, `host:port`, or a URL whose
//! scheme says whether the upstream speaks TLS.

use std::fmt;
use std::time::Duration;

use tokio::net::TcpStream;

/// A tunnel's local service (ngrok's `addr`), parsed once so a typo is reported at start
/// rather than at the first connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    /// `localhost` for a bare port; an IPv6 address without its brackets.
    pub host: String,
    /// Never 0; 443 or 80 when an `https://` or `http://` URL leaves it out.
    pub port: u16,
    /// `https://` or `tls://`: the agent opens TLS to the upstream.
    pub tls: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "addr {addr:?}: {why}; expected a port (3000), host:port, or a URL (https://localhost:8443)"
)]
/// An `addr` the agent could not dial; the message ends with the forms it takes.
pub struct UpstreamError {
    /// As the user wrote it.
    pub addr: String,
    /// What is wrong with it (`it has no port`, `the port is not a number`).
    pub why: &'static str,
}

impl Upstream {
    /// Reads ngrok's forms: `3000`, `host:port`, `[::1]:80`, or a URL with `http`, `https`,
    /// `tcp` or `tls`. A URL's path is dropped: the agent forwards to a service, not a prefix.
    pub fn parse(addr: &str) -> Result<Self, UpstreamError> {
        let err = |why| UpstreamError {
            addr: addr.to_string(),
            why,
        };
        let a = addr.trim();
        if a.is_empty() {
            return Err(err("it is empty"));
        }
        let (tls, rest, default_port) = if let Some(r) = a.strip_prefix("https://") {
            (true, r, Some(443))
        } else if let Some(r) = a.strip_prefix("tls://") {
            (true, r, None)
        } else if let Some(r) = a.strip_prefix("http://") {
            (false, r, Some(80))
        } else if let Some(r) = a.strip_prefix("tcp://") {
            (false, r, None)
        } else if a.contains("://") {
            return Err(err("the scheme is not http, https, tcp or tls"));
        } else {
            (false, a, None)
        };
        let rest = rest.split('/').next().unwrap_or(rest);
        if let Ok(port) = rest.parse::<u16>() {
            if port == 0 {
                return Err(err("port 0 is not a port"));
            }
            return Ok(Self {
                host: "localhost".into(),
                port,
                tls,
            });
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') || h.starts_with('[') => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| err("the port is not a number"))?;
                (h.trim_start_matches('[').trim_end_matches(']'), port)
            }
            _ => match default_port {
                Some(p) => (rest, p),
                None => return Err(err("it has no port")),
            },
        };
        if host.is_empty() {
            return Err(err("the host is empty"));
        }
        if port == 0 {
            return Err(err("port 0 is not a port"));
        }
        Ok(Self {
            host: host.to_string(),
            port,
            tls,
        })
    }

    /// Dials the upstream. `localhost` is tried on 127.0.0.1 and then ::1, since local
    /// services often listen on only one of them.
    pub async fn connect(&self, timeout: Duration) -> std::io::Result<TcpStream> {
        let targets: Vec<String> = if self.host == "localhost" {
            vec![
                format!("127.0.0.1:{}", self.port),
                format!("[::1]:{}", self.port),
            ]
        } else if self.host.contains(':') {
            vec![format!("[{}]:{}", self.host, self.port)]
        } else {
            vec![format!("{}:{}", self.host, self.port)]
        };
        let mut last = std::io::Error::other("no address to dial");
        for t in targets {
            match tokio::time::timeout(timeout, TcpStream::connect(&t)).await {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Ok(Err(e)) => last = e,
                Err(_) => {
                    last = std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("dialing {t} timed out"),
                    )
                }
            }
        }
        Err(last)
    }
}

impl Upstream {
    /// `host:port` as a `Host` header names it.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https://" } else { "" };
        if self.host.contains(':') {
            write!(f, "{scheme}[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_ngrok_accepts() {
        assert_eq!(
            Upstream::parse("3000").unwrap(),
            Upstream {
                host: "localhost".into(),
                port: 3000,
                tls: false
            }
        );
        assert_eq!(Upstream::parse("10.0.0.5:22").unwrap().host, "10.0.0.5");
        let u = Upstream::parse("https://localhost:8443").unwrap();
        assert!(u.tls && u.port == 8443);
        assert_eq!(Upstream::parse("https://api.local").unwrap().port, 443);
        assert_eq!(Upstream::parse("[::1]:80").unwrap().host, "::1");
        assert_eq!(
            Upstream::parse("http://localhost:8080/").unwrap().port,
            8080
        );
    }

    #[test]
    fn rejects_bad_addrs_with_the_reason() {
        assert!(Upstream::parse("")
            .unwrap_err()
            .to_string()
            .contains("empty"));
        assert!(Upstream::parse("localhost")
            .unwrap_err()
            .to_string()
            .contains("no port"));
        assert!(Upstream::parse("ftp://x:1")
            .unwrap_err()
            .to_string()
            .contains("scheme"));
        assert!(Upstream::parse("host:http")
            .unwrap_err()
            .to_string()
            .contains("not a number"));
        assert!(Upstream::parse("0").is_err());
    }
}
