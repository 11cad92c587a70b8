//! The agent's TLS client settings: whom it trusts as the edge, and how it talks TLS to a
//! local `https://` upstream.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Where the edge's certificate must chain to (`root_cas` in ngrok.yml).
#[derive(Clone, Debug)]
pub enum RootCas {
    /// The operating system's store (`root_cas: host`).
    Host,
    /// A PEM file of CA certificates, such as `dev.json`'s `ca_cert`.
    File(PathBuf),
}

/// Why the agent cannot decide whom to trust as the edge. Found by [`crate::Agent::new`],
/// before the first dial, so it is a start-up error rather than a failed handshake per retry.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// `root_cas` names a file that is missing, unreadable, or holds no CA certificate (a
    /// private key, a leaf); the source names the defect.
    #[error("root_cas: {0}")]
    File(#[from] ferry_pki::LoadError),
    /// `root_cas: host` (the default) on a system whose store yields no certificate, such as a
    /// slim container without its CA bundle; holds the first loading error.
    #[error("root_cas: the operating system's certificate store is empty or unreadable: {0}")]
    Host(String),
    /// rustls will not take a certificate of the `root_cas` file as a trust anchor.
    #[error("TLS settings: {0}")]
    Tls(#[from] rustls::Error),
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client config for the session to the edge. No ALPN, as ngrok's agents send none.
pub fn edge_client_config(roots: &RootCas) -> Result<Arc<ClientConfig>, TrustError> {
    let mut store = RootCertStore::empty();
    match roots {
        RootCas::File(path) => {
            for ca in ferry_pki::load_ca_certs(path)? {
                store.add(ca)?;
            }
        }
        RootCas::Host => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = store.add(cert);
            }
            if store.is_empty() {
                return Err(TrustError::Host(
                    found
                        .errors
                        .first()
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| "no certificates found".into()),
                ));
            }
        }
    }
    let cfg = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// The client config for `https://` upstreams. Like ngrok's agent, it does not verify the
/// upstream's certificate: local services run on self-signed certificates, and the hop is on
/// the agent's own machine or network.
#[allow(clippy::expect_used, reason = "the ring provider supports TLS 1.3")]
pub fn danger_unverified_upstream_config() -> Arc<ClientConfig> {
    let provider = provider();
    let verifier = Arc::new(AcceptAnyUpstream(provider.clone()));
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth()
        });
    match cfg {
        Ok(c) => Arc::new(c),
        Err(_) => Arc::new(
            ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
                .with_protocol_versions(&[&rustls::version::TLS13])
                .expect("ring supports TLS 1.3")
                .with_root_certificates(RootCertStore::empty())
                .with_no_client_auth(),
        ),
    }
}

#[derive(Debug)]
struct AcceptAnyUpstream(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyUpstream {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
