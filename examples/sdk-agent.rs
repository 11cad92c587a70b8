//! ngrok's own SDK (the `ngrok` crate) as the agent of the guides' walkthrough
//! (`examples/guides/walkthrough.sh`): a program built on ngrok's SDK, pointed at a Ferry
//! edge, exposing the sample API on a TLS endpoint that the edge terminates, with client
//! certificates checked there.
//!
//! ```text
//! sdk-agent --server-addr HOST:PORT --ca FILE --authtoken TOKEN --dns HOST:PORT \
//!           --domain NAME --crt FILE --key FILE --mutual-tls-cas FILE --forward-to HOST:PORT
//! ```
//!
//! The SDK resolves `server_addr` with the system's resolver; `--dns` has the region domain
//! resolved through Ferry's own DNS instead (what `dns_resolver_ips` does for Ferry's and
//! ngrok's agents), through the SDK's connector hook. It prints `online URL` once bound and
//! runs until killed; a refused bind exits 1 with the edge's words.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use ngrok::config::ForwarderBuilder;
use ngrok::prelude::*;
use ngrok::session::{ConnectError, IoStream};
use tokio_util::compat::{FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

fn usage() -> ! {
    eprintln!("usage: sdk-agent --server-addr HOST:PORT --ca FILE --authtoken TOKEN --dns HOST:PORT --domain NAME --crt FILE --key FILE --mutual-tls-cas FILE --forward-to HOST:PORT");
    std::process::exit(2)
}

/// Dials `host:port` with its addresses from `dns`, and TLS with `host` as the name.
async fn connect(
    dns: SocketAddr,
    host: String,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Box<dyn IoStream>, ConnectError> {
    let found = ferry_agent::resolve::addresses(&format!("{host}:{port}"), &[dns])
        .await
        .map_err(ConnectError::Tcp)?;
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    for addr in found {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(tcp) => {
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| ConnectError::Tcp(std::io::Error::other(e)))?;
                let tls = futures_rustls::TlsConnector::from(tls)
                    .connect(name, tcp.compat())
                    .await
                    .map_err(ConnectError::Tls)?;
                return Ok(Box::new(tls.compat()));
            }
            Err(e) => last = e,
        }
    }
    Err(ConnectError::Tcp(last))
}

#[tokio::main]
async fn main() {
    let mut args: HashMap<String, String> = HashMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let Some(k) = k.strip_prefix("--") else {
            usage()
        };
        let Some(v) = it.next() else { usage() };
        args.insert(k.to_string(), v);
    }
    let arg = |k: &str| args.get(k).cloned().unwrap_or_else(|| usage());
    let read =
        |k: &str| Bytes::from(std::fs::read(arg(k)).unwrap_or_else(|e| panic!("--{k}: {e}")));
    let dns: SocketAddr = arg("dns").parse().unwrap_or_else(|_| usage());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let session = ngrok::Session::builder()
        .authtoken(arg("authtoken"))
        .server_addr(arg("server-addr"))
        .unwrap_or_else(|e| panic!("--server-addr: {e}"))
        .ca_cert(read("ca"))
        .connector(move |host, port, tls, _err| connect(dns, host, port, tls))
        .connect()
        .await;
    let session = match session {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sdk-agent: cannot connect: {e}");
            std::process::exit(1)
        }
    };
    let forward = format!("tcp://{}", arg("forward-to"))
        .parse()
        .unwrap_or_else(|_| usage());
    let fwd = session
        .tls_endpoint()
        .domain(arg("domain"))
        .termination(read("crt"), read("key"))
        .mutual_tlsca(read("mutual-tls-cas"))
        .listen_and_forward(forward)
        .await;
    let fwd = match fwd {
        Ok(f) => f,
        Err(e) => {
            eprintln!("sdk-agent: the edge refused the endpoint: {e}");
            std::process::exit(1)
        }
    };
    println!("online {}", fwd.url());
    std::future::pending::<()>().await;
}
