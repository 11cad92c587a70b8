//! The certificates the edge's TLS ports present. One [`Certs`] holds what the store says
//! (swapped whole on every reload, so a new or renewed certificate is served from the next
//! handshake on, and open connections keep theirs) and the TLS-ALPN-01 answers in flight;
//! two resolvers read it, differing only in what a name Ferry holds nothing for gets.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ferry_pki::DevCa;
use ferry_store::{CertJob, Store, StoreError};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::challenge::{alpn_certificate, Answers};
use crate::dev::OnTheFly;
use crate::load::load_table;
use crate::table::CertTable;

/// ALPN of the TLS-ALPN-01 challenge (RFC 8737): a CA's validation handshake, answered with
/// the challenge certificate instead of the name's own.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// The edge's certificates, shared by its resolvers.
pub struct Certs {
    provider: Arc<CryptoProvider>,
    table: RwLock<Arc<CertTable<Arc<CertifiedKey>>>>,
    alpn_challenges: RwLock<Arc<HashMap<String, AlpnAnswer>>>,
    http_challenges: RwLock<Arc<HashMap<String, String>>>,
    ca: OnTheFly,
    /// Names for clients that send no SNI (an agent dialing an IP address).
    default_names: Vec<String>,
    dev: bool,
}

impl std::fmt::Debug for Certs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certs").field("dev", &self.dev).finish()
    }
}

impl Certs {
    /// No certificate loaded yet; `ca` is the installation's CA, which issues for every name
    /// in `dev` mode and for the agent ingress always.
    pub fn new(
        provider: Arc<CryptoProvider>,
        ca: DevCa,
        default_names: Vec<String>,
        dev: bool,
    ) -> Arc<Self> {
        Arc::new(Self {
            ca: OnTheFly::new(ca, provider.clone()),
            provider,
            table: RwLock::new(Arc::new(CertTable::default())),
            alpn_challenges: RwLock::new(Arc::new(HashMap::new())),
            http_challenges: RwLock::new(Arc::new(HashMap::new())),
            default_names,
            dev,
        })
    }

    /// The resolver of the public port: a name Ferry holds no certificate for gets one from
    /// the CA in dev mode, and none (the handshake fails) otherwise.
    pub fn public_resolver(self: &Arc<Self>) -> Arc<CertResolver> {
        Arc::new(CertResolver {
            certs: self.clone(),
            ca_fallback: self.dev,
        })
    }

    /// The resolver of the agent ingress: a name without a managed certificate gets one
    /// from the installation's CA, which Ferry's agents are told to trust.
    pub fn agent_resolver(self: &Arc<Self>) -> Arc<CertResolver> {
        Arc::new(CertResolver {
            certs: self.clone(),
            ca_fallback: true,
        })
    }

    /// Reads every certificate and pending challenge from the store and serves them from the
    /// next handshake (or request) on; returns how many names are covered.
    pub async fn reload(&self, store: &Store) -> Result<usize, StoreError> {
        let table = load_table(store, &self.provider).await?;
        let n = table.len();
        let jobs = store.all::<CertJob>().await?;
        let answers = Answers::from_rows(jobs.iter().map(|j| &j.challenges));
        *self.table.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(table);
        self.set_challenges(answers);
        Ok(n)
    }

    /// Serves `answers` in place of the previous ones; a TLS-ALPN-01 certificate already made
    /// for the same digest is kept.
    fn set_challenges(&self, answers: Answers) {
        let before = self
            .alpn_challenges
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut alpn = HashMap::new();
        for (name, digest) in answers.tls_alpn01 {
            if let Some(kept) = before.get(&name).filter(|a| a.digest == digest) {
                alpn.insert(name, kept.clone());
                continue;
            }
            match self.alpn_answer(&name, digest) {
                Ok(answer) => {
                    alpn.insert(name, answer);
                }
                Err(e) => {
                    tracing::warn!(name = %name, error = %e, "cannot make a TLS-ALPN-01 certificate")
                }
            }
        }
        *self
            .alpn_challenges
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(alpn);
        *self
            .http_challenges
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(answers.http01);
    }

    fn alpn_answer(&self, name: &str, digest: [u8; 32]) -> Result<AlpnAnswer, String> {
        let (cert, key) = alpn_certificate(name, &digest).map_err(|e| e.to_string())?;
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.into());
        let signer = self
            .provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| e.to_string())?;
        Ok(AlpnAnswer {
            digest,
            key: Arc::new(CertifiedKey::new(vec![cert.into()], signer)),
        })
    }

    /// The key authorization to answer at `/.well-known/acme-challenge/{token}`, while an
    /// HTTP-01 challenge with that token is pending.
    pub fn http_challenge(&self, token: &str) -> Option<String> {
        self.http_challenges
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned()
    }

    /// The crypto provider the edge's TLS configurations are built on.
    pub fn provider(&self) -> &Arc<CryptoProvider> {
        &self.provider
    }

    fn table(&self) -> Arc<CertTable<Arc<CertifiedKey>>> {
        self.table.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A TLS-ALPN-01 certificate and the digest it was made for.
#[derive(Clone)]
struct AlpnAnswer {
    digest: [u8; 32],
    key: Arc<CertifiedKey>,
}

/// A rustls certificate resolver over [`Certs`].
#[derive(Debug)]
pub struct CertResolver {
    certs: Arc<Certs>,
    ca_fallback: bool,
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let certs = &self.certs;
        let Some(name) = hello.server_name().map(str::to_ascii_lowercase) else {
            return self
                .ca_fallback
                .then(|| certs.ca.certified("", &certs.default_names))
                .flatten();
        };
        let validating = hello
            .alpn()
            .is_some_and(|mut offered| offered.any(|p| p == ACME_TLS_ALPN));
        if validating {
            // Only the challenge certificate may answer a validation handshake (RFC 8737).
            return certs
                .alpn_challenges
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(&name)
                .map(|a| a.key.clone());
        }
        if let Some(ck) = certs.table().choose(&name) {
            return Some(ck);
        }
        self.ca_fallback
            .then(|| certs.ca.certified(&name, std::slice::from_ref(&name)))
            .flatten()
    }
}
