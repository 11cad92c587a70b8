//! Mutual TLS at the edge for HTTPS endpoints (and, through [`verifier`], for TLS endpoints the
//! edge terminates, `terminate.rs`): a bind whose `MutualTLSCA` carries CA
//! certificates (PEM, as ngrok's agents send the `mutual_tls_cas` file) or names certificate
//! authorities uploaded through the API (`ca_...` IDs) gets a TLS configuration of its own
//! that requires a client certificate from one of them. Connections for that host are
//! accepted with it, and requests for that host on any other connection are refused, so a
//! client cannot skip the check by sending another name in SNI than in `Host`.

use std::string::FromUtf8Error;
use std::sync::Arc;

use base64::Engine;
use ferry_store::StoreError;
use ferry_types::ErrorCode;
use rustls::pki_types::CertificateDer;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{VerifierBuilderError, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig};
use serde_json::Value;

use crate::Shared;

/// Why a bind's client CAs cannot be enforced.
#[derive(Debug, thiserror::Error)]
pub enum ClientCaError {
    #[error("mutual_tls_cas: a certificate is not base64: {0}")]
    CertificateNotBase64(#[source] base64::DecodeError),
    #[error("mutual_tls_cas holds no certificate")]
    Empty,
    #[error("mutual_tls_cas is not base64: {0}")]
    NotBase64(#[source] base64::DecodeError),
    #[error("mutual_tls_cas: a certificate is not usable as a CA: {0}")]
    NotCa(#[source] rustls::Error),
    #[error("mutual_tls_cas {0:?} is neither PEM nor a certificate authority ID (ca_...)")]
    NotAnId(String),
    #[error("mutual_tls_cas is neither PEM nor certificate authority IDs")]
    NotText(#[source] FromUtf8Error),
    #[error("mutual_tls_cas names {0}, which is not an uploaded certificate authority (POST /certificate_authorities)")]
    NotUploaded(String),
    #[error(
        "mutual_tls_cas holds a private key; it takes the CA certificate (ca-crt.pem), never a key"
    )]
    PrivateKey,
    #[error("cannot read certificate authorities right now ({0}); retry")]
    Store(#[source] StoreError),
    #[error("TLS configuration: {0}")]
    Tls(#[source] rustls::Error),
    #[error("mutual_tls_cas: {label} block is not closed")]
    Unclosed { label: String },
    #[error("mutual_tls_cas: {0}")]
    Verifier(#[source] VerifierBuilderError),
}

impl ClientCaError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Store(_) => ErrorCode::ReservationCheckFailed,
            _ => ErrorCode::MutualTlsCaInvalid,
        }
    }
}

/// The base64 client CAs a bind's `MutualTLSCA` asks the edge to require, if any.
pub fn requested(mutual_tls_ca: Option<&Value>) -> Option<String> {
    let encoded = ferry_proto::rpc::fold_keys(mutual_tls_ca?)
        .get("mutualtlsca")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    (!encoded.is_empty()).then_some(encoded)
}

/// The TLS configuration that requires a client certificate from the CAs in `encoded`.
pub async fn config_for(
    shared: &Shared,
    encoded: &str,
) -> Result<Arc<ServerConfig>, ClientCaError> {
    let verifier = verifier(shared, encoded).await?;
    let mut cfg = ServerConfig::builder_with_provider(shared.https_tls.crypto_provider().clone())
        .with_safe_default_protocol_versions()
        .map_err(ClientCaError::Tls)?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(shared.https_tls.cert_resolver.clone());
    cfg.alpn_protocols = shared.https_tls.alpn_protocols.clone();
    Ok(Arc::new(cfg))
}

/// The verifier that accepts only client certificates chaining to the CAs in `encoded`: PEM
/// or uploaded certificate authority IDs, base64 as the bind carries them.
pub async fn verifier(
    shared: &Shared,
    encoded: &str,
) -> Result<Arc<dyn ClientCertVerifier>, ClientCaError> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(ClientCaError::NotBase64)?;
    let text = String::from_utf8(raw).map_err(ClientCaError::NotText)?;
    let pem = if text.contains("-----BEGIN") {
        text
    } else {
        uploaded(shared, &text).await?
    };
    let ders = certificates(&pem)?;
    let mut roots = RootCertStore::empty();
    for der in ders {
        roots.add(der).map_err(ClientCaError::NotCa)?;
    }
    let provider = shared.https_tls.crypto_provider().clone();
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(ClientCaError::Verifier)
}

/// The PEM of the uploaded certificate authorities named by `ids` (comma or space separated).
async fn uploaded(shared: &Shared, ids: &str) -> Result<String, ClientCaError> {
    let mut pem = String::new();
    for id in ids
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if !id.starts_with("ca_") {
            return Err(ClientCaError::NotAnId(id.to_string()));
        }
        match shared
            .store
            .get::<ferry_store::CertificateAuthority>(id)
            .await
        {
            Ok(Some(ca)) => pem.push_str(&ca.ca_pem),
            Ok(None) => return Err(ClientCaError::NotUploaded(id.to_string())),
            Err(e) => return Err(ClientCaError::Store(e)),
        }
        pem.push('\n');
    }
    Ok(pem)
}

/// The DER of every CERTIFICATE block; a private key here is the guides' mistake, named.
fn certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, ClientCaError> {
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = &after[..label_end];
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(body_end) = body_start.find(&end_marker) else {
            return Err(ClientCaError::Unclosed {
                label: label.to_string(),
            });
        };
        if label.contains("PRIVATE KEY") {
            return Err(ClientCaError::PrivateKey);
        }
        if label == "CERTIFICATE" {
            let b64: String = body_start[..body_end]
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(ClientCaError::CertificateNotBase64)?;
            out.push(CertificateDer::from(der));
        }
        rest = &body_start[body_end + end_marker.len()..];
    }
    if out.is_empty() {
        return Err(ClientCaError::Empty);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_named_and_certificates_read() {
        let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let e = certificates(key).unwrap_err();
        assert!(e.to_string().contains("private key"), "{e}");
        let cert = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
        assert_eq!(certificates(cert).unwrap()[0].as_ref(), &[0u8, 1, 2]);
        assert!(certificates("nothing").is_err());
    }
}
