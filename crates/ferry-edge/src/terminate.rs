//! TLS endpoints terminated at the edge (ngrok.yml's `terminate_at: edge`). A `tls` bind whose
//! `Opts` carry `TLSTermination` (the agent's certificate and key, base64 PEM, or an empty
//! object for the name's own certificate) or `MutualTLSAtEdge` (client CAs, which only a
//! terminating edge can check) gets a TLS configuration of its own: `front.rs` completes the
//! client's handshake with it and carries the plaintext to the agent, whose proxy header then
//! says `PassthroughTLS: false`, as ngrok's edge does.
//!
//! The certificate and key are checked when the bind arrives, with the same diagnoses the agent
//! gives for files (a key where the certificate belongs, a key that is not the certificate's,
//! a certificate TLS clients refuse), so a wrong pair is a bind error rather than an endpoint
//! whose every handshake fails. The key is a secret: it is kept masked ([`Secret`]) and never
//! logged; it leaves the edge only in the bind reply to the agent that sent it, which ngrok's
//! agents need to re-bind.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use ferry_types::{ErrorCode, Secret};
use rustls::ServerConfig;
use serde_json::Value;

use crate::client_auth::{self, ClientCaError};
use crate::Shared;

/// What a bind asks of the edge's termination, read from `Opts` but not yet checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Termination {
    /// The endpoint's own certificate chain and private key, base64 PEM as sent; `None` serves
    /// the certificate the edge has for the name (uploaded, managed, or the dev CA's).
    pub identity: Option<(String, Secret)>,
}

/// Why a bind's TLS termination cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TerminationError {
    #[error("TLSTermination: {0} is not base64")]
    NotBase64(&'static str, #[source] base64::DecodeError),
    #[error("TLSTermination has a {given} but no {missing}; send both, or neither to serve the domain's own certificate")]
    Half {
        given: &'static str,
        missing: &'static str,
    },
    #[error("TLSTermination carries a sealed_key, which only ngrok's cloud can unseal; send the key itself (key)")]
    Sealed,
    #[error("TLSTermination and MutualTLSAtAgent together: TLS cannot end both at the edge and at the agent; choose terminate_at: edge or agent")]
    AlsoAtAgent,
    #[error("TLSTermination is not an object")]
    NotObject,
    /// The certificate or key is not what it should be; the source names which and why.
    #[error("{0}")]
    Identity(#[source] ferry_pki::LoadError),
    #[error("TLSTermination: TLS settings: {0}")]
    Tls(#[source] rustls::Error),
    #[error(transparent)]
    ClientCa(#[from] ClientCaError),
}

impl TerminationError {
    /// The catalogue code: the file diagnoses keep theirs (wrong kind, key mismatch, defective
    /// certificate), client CAs theirs, the rest is an unusable `TLSTermination`.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Identity(e) => e.code(),
            Self::ClientCa(e) => e.code(),
            Self::Half { .. } => ErrorCode::TerminationNeedsCertificate,
            Self::NotBase64(..)
            | Self::Sealed
            | Self::AlsoAtAgent
            | Self::NotObject
            | Self::Tls(_) => ErrorCode::EdgeTerminationInvalid,
        }
    }
}

/// What a `tls` bind's `TLSTermination` asks for: `None` when it is absent or `null` and no
/// client CAs are asked for (the client's TLS passes through to the agent). Client CAs alone
/// mean termination with the name's certificate, as in ngrok's SDK, where `mutual_tlsca`
/// needs no `termination`.
pub fn requested(
    tls_termination: Option<&Value>,
    client_cas: bool,
    mutual_tls_at_agent: bool,
) -> Result<Option<Termination>, TerminationError> {
    let termination = match tls_termination {
        None | Some(Value::Null) if client_cas => Termination { identity: None },
        None | Some(Value::Null) => return Ok(None),
        Some(v @ Value::Object(_)) => Termination {
            identity: identity(&ferry_proto::rpc::fold_keys(v))?,
        },
        Some(_) => return Err(TerminationError::NotObject),
    };
    if mutual_tls_at_agent {
        return Err(TerminationError::AlsoAtAgent);
    }
    Ok(Some(termination))
}

/// The certificate and key of a folded `TLSTermination` object, if it carries them.
fn identity(folded: &Value) -> Result<Option<(String, Secret)>, TerminationError> {
    let text = |key: &str| {
        folded
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default()
    };
    let (cert, key, sealed) = (text("cert"), text("key"), text("sealedkey"));
    match (cert.is_empty(), key.is_empty()) {
        (true, true) if !sealed.is_empty() => Err(TerminationError::Sealed),
        (true, true) => Ok(None),
        (false, false) => Ok(Some((cert.to_string(), Secret::new(key)))),
        (false, true) if !sealed.is_empty() => Err(TerminationError::Sealed),
        (false, true) => Err(TerminationError::Half {
            given: "cert",
            missing: "key",
        }),
        (true, false) => Err(TerminationError::Half {
            given: "key",
            missing: "cert",
        }),
    }
}

/// The configuration the edge accepts the endpoint's connections with: the bind's own
/// certificate or the name's, client certificates required when `client_ca` (base64, as
/// `MutualTLSAtEdge` carries it) is given. It offers no ALPN: the agent's upstream gets the
/// bytes of whatever protocol the client chose, and h2 offered to an HTTP/1.1 upstream would
/// break it (DESIGN trap 7).
pub async fn config_for(
    shared: &Shared,
    termination: &Termination,
    client_ca: Option<&str>,
) -> Result<Arc<ServerConfig>, TerminationError> {
    // Checked before the CAs, which may need the store: a wrong pair is the likelier mistake.
    let identity = match &termination.identity {
        Some((cert, key)) => Some(decode_identity(cert, key)?),
        None => None,
    };
    let builder = ServerConfig::builder_with_provider(shared.https_tls.crypto_provider().clone())
        .with_safe_default_protocol_versions()
        .map_err(TerminationError::Tls)?;
    let builder = match client_ca {
        Some(ca) => builder.with_client_cert_verifier(client_auth::verifier(shared, ca).await?),
        None => builder.with_no_client_auth(),
    };
    let cfg = match identity {
        Some(id) => builder
            .with_single_cert(id.chain, id.key)
            .map_err(TerminationError::Tls)?,
        None => builder.with_cert_resolver(shared.https_tls.cert_resolver.clone()),
    };
    Ok(Arc::new(cfg))
}

/// Decodes and checks the bind's certificate chain and key, named as ngrok's fields.
fn decode_identity(
    cert: &str,
    key: &Secret,
) -> Result<ferry_pki::ServerIdentity, TerminationError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let cert_pem = b64
        .decode(cert)
        .map_err(|e| TerminationError::NotBase64("cert", e))?;
    let key_pem = b64
        .decode(key.expose())
        .map_err(|e| TerminationError::NotBase64("key", e))?;
    ferry_pki::server_identity_from_pem(
        Path::new("TLSTermination.cert (the tunnel's crt)"),
        &cert_pem,
        Path::new("TLSTermination.key (the tunnel's key)"),
        &key_pem,
    )
    .map_err(TerminationError::Identity)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn what_a_bind_asks_for() {
        assert_eq!(requested(None, false, false).unwrap(), None);
        assert_eq!(requested(Some(&Value::Null), false, false).unwrap(), None);
        let own_name = Some(Termination { identity: None });
        assert_eq!(requested(Some(&json!({})), false, false).unwrap(), own_name);
        // Client CAs alone: the edge must terminate to check them.
        assert_eq!(requested(None, true, false).unwrap(), own_name);
        let t = requested(
            Some(&json!({"Cert": "Y2VydA==", "key": "a2V5"})),
            false,
            false,
        )
        .unwrap()
        .unwrap();
        let (cert, key) = t.identity.unwrap();
        assert_eq!((cert.as_str(), key.expose()), ("Y2VydA==", "a2V5"));
        assert_eq!(format!("{key:?}"), "Secret(***)");
    }

    #[test]
    fn what_cannot_be_served_is_named() {
        let err = |v: Value| requested(Some(&v), false, false).unwrap_err();
        assert!(matches!(
            err(json!({"cert": "eA=="})),
            TerminationError::Half { given: "cert", .. }
        ));
        assert!(matches!(
            err(json!({"key": "eA=="})),
            TerminationError::Half { given: "key", .. }
        ));
        assert!(matches!(
            err(json!({"cert": "eA==", "sealed_key": "eA=="})),
            TerminationError::Sealed
        ));
        assert!(matches!(err(json!("x")), TerminationError::NotObject));
        assert!(matches!(
            requested(Some(&json!({})), false, true).unwrap_err(),
            TerminationError::AlsoAtAgent
        ));
        assert_eq!(
            err(json!({"key": "eA=="})).code(),
            ErrorCode::TerminationNeedsCertificate
        );
    }

    #[test]
    fn a_key_sent_as_the_certificate_is_named() {
        let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let e = decode_identity(&b64(key), &Secret::new(b64(key))).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("cert") && msg.contains("private key"), "{msg}");
        assert_eq!(e.code(), ErrorCode::FileWrongKind);
        let e = decode_identity("%%", &Secret::new("")).unwrap_err();
        assert!(matches!(e, TerminationError::NotBase64("cert", _)), "{e}");
    }
}
