//! Certificates the installation's own CA issues on the fly: for every name in dev mode, and
//! for the agent ingress in any mode. ngrok's agents trust ngrok's own CA for their session
//! by default rather than the web's; Ferry's agents are given this CA (`--root-cas`) the
//! same way, so the agent ingress needs no public certificate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ferry_pki::DevCa;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;

/// Bound on cached certificates, so a client cycling through random SNI names cannot grow
/// memory without limit.
const MAX_CACHED: usize = 4096;

pub(crate) struct OnTheFly {
    ca: DevCa,
    provider: Arc<CryptoProvider>,
    cache: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl OnTheFly {
    pub(crate) fn new(ca: DevCa, provider: Arc<CryptoProvider>) -> Self {
        Self {
            ca,
            provider,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// A certificate for `names`, cached under `key`.
    pub(crate) fn certified(&self, key: &str, names: &[String]) -> Option<Arc<CertifiedKey>> {
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

/// The dev-mode issuer of managed certificates: the installation's CA, through the same job
/// and status as ACME, so the guides' certificate steps complete offline.
pub struct DevIssuer(pub DevCa);

impl crate::runner::Issuer for DevIssuer {
    async fn issue(
        &self,
        job: &mut ferry_store::CertJob,
    ) -> Result<crate::runner::Issued, crate::schedule::Attempt> {
        self.0
            .issue_server(&job.names)
            .map(|i| crate::runner::Issued {
                chain_pem: i.cert_pem,
                key_pem: i.key_pem,
                renewal_window: None,
            })
            .map_err(|e| crate::schedule::Attempt::CaFailed {
                msg: format!("the development CA cannot issue: {e}"),
                retry_after: None,
            })
    }
}
