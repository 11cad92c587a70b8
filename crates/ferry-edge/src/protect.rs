//! Protections an HTTP endpoint's agent asks the edge to enforce: basic authentication and
//! client certificates (`basic_auth` and `mutual_tls_cas` in ngrok.yml). Both are checked at the
//! edge, before any byte reaches the agent.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ferry_proto::msg::BindOptsView;
use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::tls::CertResolver;

/// The protections of one endpoint.
#[derive(Default)]
pub struct Protection {
    /// Users and SHA-256 digests of their passwords.
    basic_auth: Vec<(String, [u8; 32])>,
    /// Set when clients must present a certificate from these CAs: the TLS settings that ask
    /// for one.
    pub client_auth: Option<Arc<ServerConfig>>,
}

impl Protection {
    /// Reads `BasicAuth` and `MutualTLSCA` from a bind's options. An error names what is wrong.
    pub fn from_opts(view: &BindOptsView, resolver: &Arc<CertResolver>) -> Result<Self, String> {
        let mut p = Protection::default();
        if let Some(Value::Object(ba)) = &view.basicauth {
            let creds = ba
                .get("credentials")
                .and_then(Value::as_array)
                .ok_or("BasicAuth has no credentials list")?;
            for c in creds {
                let user = c
                    .get("username")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let pass = c
                    .get("cleartextpassword")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if user.is_empty() || pass.is_empty() {
                    return Err("BasicAuth credentials need a username and a cleartext_password (hashed passwords are not supported)".into());
                }
                p.basic_auth
                    .push((user.to_string(), Sha256::digest(pass.as_bytes()).into()));
            }
        }
        if let Some(Value::Object(m)) = &view.mutualtlsca {
            let b64 = m
                .get("mutualtlsca")
                .and_then(Value::as_str)
                .ok_or("MutualTLSCA has no mutual_tls_ca")?;
            let pem = STANDARD
                .decode(b64.trim())
                .map_err(|e| format!("MutualTLSCA is not base64: {e}"))?;
            p.client_auth = Some(client_auth_config(&pem, resolver)?);
        }
        Ok(p)
    }

    pub fn requires_basic_auth(&self) -> bool {
        !self.basic_auth.is_empty()
    }

    /// Checks an `Authorization` header value; every user's digest is compared so that timing
    /// says nothing about which names exist.
    pub fn basic_auth_ok(&self, header: Option<&str>) -> bool {
        let Some(encoded) = header.and_then(|h| h.strip_prefix("Basic ")) else {
            return false;
        };
        let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Ok(text) = String::from_utf8(decoded) else {
            return false;
        };
        let Some((user, pass)) = text.split_once(':') else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(pass.as_bytes()).into();
        let mut ok = false;
        for (u, d) in &self.basic_auth {
            let same: bool = (u.as_bytes().ct_eq(user.as_bytes()) & d.ct_eq(&digest)).into();
            ok |= same;
        }
        ok
    }
}

fn client_auth_config(
    pem: &[u8],
    resolver: &Arc<CertResolver>,
) -> Result<Arc<ServerConfig>, String> {
    let mut roots = RootCertStore::empty();
    let mut rest = pem;
    let mut found = 0;
    while let Some(block) = next_certificate(&mut rest)? {
        roots
            .add(block)
            .map_err(|e| format!("MutualTLSCA holds a certificate rustls cannot use: {e}"))?;
        found += 1;
    }
    if found == 0 {
        return Err(
            "MutualTLSCA holds no certificate (a private key or another file was sent instead?)"
                .into(),
        );
    }
    let provider = crate::tls::provider();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("MutualTLSCA: {e}"))?;
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(resolver.clone());
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// The next `CERTIFICATE` block of a PEM text, skipping other blocks.
fn next_certificate(rest: &mut &[u8]) -> Result<Option<CertificateDer<'static>>, String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = String::from_utf8_lossy(rest).into_owned();
    let Some(start) = text.find(BEGIN) else {
        *rest = &[];
        return Ok(None);
    };
    let body_start = start + BEGIN.len();
    let end = text[body_start..]
        .find(END)
        .ok_or("MutualTLSCA has an unterminated certificate")?
        + body_start;
    let b64: String = text[body_start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = STANDARD
        .decode(b64)
        .map_err(|e| format!("MutualTLSCA certificate is not valid base64: {e}"))?;
    let consumed = end + END.len();
    *rest = &rest[consumed.min(rest.len())..];
    Ok(Some(CertificateDer::from(der)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_checks_user_and_password() {
        let p = Protection {
            basic_auth: vec![("ops".into(), Sha256::digest(b"longpassword").into())],
            client_auth: None,
        };
        let header = |u: &str, pw: &str| format!("Basic {}", STANDARD.encode(format!("{u}:{pw}")));
        assert!(p.basic_auth_ok(Some(&header("ops", "longpassword"))));
        assert!(!p.basic_auth_ok(Some(&header("ops", "wrong"))));
        assert!(!p.basic_auth_ok(Some(&header("other", "longpassword"))));
        assert!(!p.basic_auth_ok(Some("Bearer x")));
        assert!(!p.basic_auth_ok(None));
    }
}
