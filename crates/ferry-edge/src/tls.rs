//! The edge's certificates. Until managed certificates exist, the dev CA issues one on the fly
//! for whatever name a client asks for, cached per name.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ferry_pki::DevCa;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

pub struct CertResolver {
    ca: DevCa,
    provider: Arc<CryptoProvider>,
    /// Names for clients that send no SNI (an agent dialing an IP address).
    default_names: Vec<String>,
    cache: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CertResolver")
    }
}

/// Bound on cached certificates, so a client cycling through random SNI names cannot grow
/// memory without limit.
const MAX_CACHED: usize = 4096;

impl CertResolver {
    pub fn new(ca: DevCa, provider: Arc<CryptoProvider>, default_names: Vec<String>) -> Self {
        Self {
            ca,
            provider,
            default_names,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn certified(&self, key: &str, names: &[String]) -> Option<Arc<CertifiedKey>> {
        if let Some(c) = self.lock().get(key) {
            return Some(c.clone());
        }
        // Issue without holding the lock, so a handshake for a new name does not stall every
        // other handshake; two racing issuances for one name are harmless.
        let issued = match self.ca.issue_server(names) {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(name = key, error = %e, "cannot issue a certificate");
                return None;
            }
        };
        let signer = match self.provider.key_provider.load_private_key(issued.key) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(name = key, error = %e, "cannot load an issued key");
                return None;
            }
        };
        let ck = Arc::new(CertifiedKey::new(issued.chain, signer));
        let mut cache = self.lock();
        if cache.len() >= MAX_CACHED {
            // Evict one entry rather than the whole cache.
            if let Some(victim) = cache.keys().next().cloned() {
                cache.remove(&victim);
            }
        }
        cache.insert(key.to_string(), ck.clone());
        Some(ck)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<CertifiedKey>>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match hello.server_name() {
            Some(name) => {
                let name = name.to_ascii_lowercase();
                self.certified(&name, std::slice::from_ref(&name))
            }
            None => self.certified("", &self.default_names),
        }
    }
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server config on `resolver`. HTTPS endpoints offer h2 and http/1.1; the agent ingress
/// offers nothing, as ngrok's agents send no ALPN.
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
