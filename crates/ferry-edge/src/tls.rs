//! The edge's TLS configurations. Which certificate a name gets is `ferry_acme`'s to say;
//! what differs between the ports is the ALPN they offer.

use std::sync::Arc;

use ferry_acme::CertResolver;
use rustls::crypto::CryptoProvider;
use rustls::ServerConfig;

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server config on `resolver`. HTTPS endpoints offer h2 and http/1.1 (and `acme-tls/1`,
/// which only a CA validating a TLS-ALPN-01 challenge asks for); the agent ingress offers
/// nothing, as ngrok's agents send no ALPN.
pub fn server_config(
    provider: Arc<CryptoProvider>,
    resolver: Arc<CertResolver>,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(cfg))
}
