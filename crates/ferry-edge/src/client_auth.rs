//! Mutual TLS at the edge for HTTPS endpoints: a bind whose `MutualTLSCA` carries CA
//! certificates (PEM, as ngrok's agents send the `mutual_tls_cas` file) or names certificate
//! authorities uploaded through the API (`ca_...` IDs) gets a TLS configuration of its own
//! that requires a client certificate from one of them. Connections for that host are
//! accepted with it, and requests for that host on any other connection are refused, so a
//! client cannot skip the check by sending another name in SNI than in `Host`.

use std::sync::Arc;

use base64::Engine;
use ferry_types::ErrorCode;
use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use serde_json::Value;

use crate::bind::BindRefusal;
use crate::Shared;

fn refuse(msg: impl Into<String>) -> BindRefusal {
    BindRefusal {
        code: ErrorCode::MutualTlsCaInvalid,
        msg: msg.into(),
    }
}

/// The TLS configuration that enforces the bind's client CAs, or `None` when it asks for none.
pub async fn config_for(
    shared: &Shared,
    mutual_tls_ca: Option<&Value>,
) -> Result<Option<Arc<ServerConfig>>, BindRefusal> {
    let encoded = match mutual_tls_ca {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => ferry_proto::rpc::fold_keys(v)
            .get("mutualtlsca")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    };
    if encoded.is_empty() {
        return Ok(None);
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| refuse(format!("mutual_tls_cas is not base64: {e}")))?;
    let text = String::from_utf8(raw)
        .map_err(|_| refuse("mutual_tls_cas is neither PEM nor certificate authority IDs"))?;
    let pem = if text.contains("-----BEGIN") {
        text
    } else {
        uploaded(shared, &text).await?
    };
    let ders = certificates(&pem)?;
    let mut roots = RootCertStore::empty();
    for der in ders {
        roots.add(der).map_err(|e| {
            refuse(format!(
                "mutual_tls_cas: a certificate is not usable as a CA: {e}"
            ))
        })?;
    }
    let provider = shared.https_tls.crypto_provider().clone();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| refuse(format!("mutual_tls_cas: {e}")))?;
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| refuse(format!("TLS configuration: {e}")))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(shared.https_tls.cert_resolver.clone());
    cfg.alpn_protocols = shared.https_tls.alpn_protocols.clone();
    Ok(Some(Arc::new(cfg)))
}

/// The PEM of the uploaded certificate authorities named by `ids` (comma or space separated).
async fn uploaded(shared: &Shared, ids: &str) -> Result<String, BindRefusal> {
    let mut pem = String::new();
    for id in ids
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if !id.starts_with("ca_") {
            return Err(refuse(format!(
                "mutual_tls_cas {id:?} is neither PEM nor a certificate authority ID (ca_...)"
            )));
        }
        match shared.store.get::<ferry_store::CertificateAuthority>(id).await {
            Ok(Some(ca)) => pem.push_str(&ca.ca_pem),
            Ok(None) => {
                return Err(refuse(format!(
                    "mutual_tls_cas names {id}, which is not an uploaded certificate authority (POST /certificate_authorities)"
                )))
            }
            Err(e) => {
                return Err(BindRefusal {
                    code: ErrorCode::ReservationCheckFailed,
                    msg: format!("cannot read certificate authorities right now ({e}); retry"),
                })
            }
        }
        pem.push('\n');
    }
    Ok(pem)
}

/// The DER of every CERTIFICATE block; a private key here is the guides' mistake, named.
fn certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, BindRefusal> {
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
            return Err(refuse(format!(
                "mutual_tls_cas: {label} block is not closed"
            )));
        };
        if label.contains("PRIVATE KEY") {
            return Err(refuse(
                "mutual_tls_cas holds a private key; it takes the CA certificate (ca-crt.pem), never a key",
            ));
        }
        if label == "CERTIFICATE" {
            let b64: String = body_start[..body_end]
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| refuse(format!("mutual_tls_cas: a certificate is not base64: {e}")))?;
            out.push(CertificateDer::from(der));
        }
        rest = &body_start[body_end + end_marker.len()..];
    }
    if out.is_empty() {
        return Err(refuse("mutual_tls_cas holds no certificate"));
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
        assert!(e.msg.contains("private key"), "{}", e.msg);
        let cert = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
        assert_eq!(certificates(cert).unwrap()[0].as_ref(), &[0u8, 1, 2]);
        assert!(certificates("nothing").is_err());
    }
}
