//! The certificate table from the store: uploaded certificates attached to reserved domains,
//! and managed certificates under the names they cover.

use std::collections::HashMap;
use std::sync::Arc;

use ferry_store::{ReservedDomain, Store, StoreError, TlsCertificate};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use crate::table::{CertTable, Source};

/// Why a stored certificate cannot be served. The table is built without it, and the reason
/// is logged with the certificate's ID.
#[derive(Debug, thiserror::Error)]
pub enum UnusableCertificate {
    /// `certificate_pem` holds no certificate that parses.
    #[error("certificate_pem holds no readable certificate: {0}")]
    Chain(String),
    /// `private_key_pem` holds no private key that parses.
    #[error("private_key_pem holds no readable private key: {0}")]
    Key(String),
    /// rustls cannot sign with the key (an unsupported algorithm).
    #[error("the private key cannot be used: {0}")]
    Signer(#[source] rustls::Error),
    /// The key is not the one the leaf certificate was issued for.
    #[error("the private key does not belong to the leaf certificate")]
    Mismatch,
    /// The sealed key does not open.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A certificate chain (PEM, leaf first) and its key, ready for a handshake.
pub fn certified_key(
    provider: &CryptoProvider,
    chain_pem: &str,
    key_pem: &str,
) -> Result<Arc<CertifiedKey>, UnusableCertificate> {
    let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| UnusableCertificate::Chain(e.to_string()))?;
    if chain.is_empty() {
        return Err(UnusableCertificate::Chain("no CERTIFICATE block".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| UnusableCertificate::Key(e.to_string()))?;
    let signer = provider
        .key_provider
        .load_private_key(key)
        .map_err(UnusableCertificate::Signer)?;
    let ck = CertifiedKey::new(chain, signer);
    match ck.keys_match() {
        Ok(()) => Ok(Arc::new(ck)),
        Err(rustls::Error::InconsistentKeys(_)) => Err(UnusableCertificate::Mismatch),
        // A key whose public half rustls cannot compute is served as before: the handshake
        // itself fails if it is wrong.
        Err(_) => Ok(Arc::new(ck)),
    }
}

/// Every certificate the edge serves for public names, as the store holds them now.
pub async fn load_table(
    store: &Store,
    provider: &CryptoProvider,
) -> Result<CertTable<Arc<CertifiedKey>>, StoreError> {
    let certs = store.all::<TlsCertificate>().await?;
    let mut ready: HashMap<String, Arc<CertifiedKey>> = HashMap::new();
    let mut table = CertTable::default();
    for c in &certs {
        let id = c.id.to_string();
        let key = match store.unseal(&id, &c.private_key_pem) {
            Ok(k) => k,
            Err(e) => {
                tracing::error!(certificate = %id, error = %e, "cannot serve a certificate");
                continue;
            }
        };
        match certified_key(provider, &c.certificate_pem, &key) {
            Ok(ck) => {
                if !c.managed_by.is_empty() {
                    // Oldest first: a renewed certificate replaces its predecessor.
                    for name in dns_names(c) {
                        table.insert(&name, Source::Managed, ck.clone());
                    }
                }
                ready.insert(id, ck);
            }
            Err(e) => tracing::error!(certificate = %id, error = %e, "cannot serve a certificate"),
        }
    }
    for d in store.all::<ReservedDomain>().await? {
        if d.certificate_id.is_empty() {
            continue;
        }
        if let Some(ck) = ready.get(&d.certificate_id) {
            table.insert(&d.domain, Source::Uploaded, ck.clone());
        }
    }
    Ok(table)
}

/// The DNS names a certificate covers, from what the control plane parsed at upload or
/// issuance.
fn dns_names(c: &TlsCertificate) -> Vec<String> {
    c.parsed["subject_alternative_names"]["dns_names"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use ferry_store::{NewReservedDomain, NewTlsCertificate};
    use rcgen::{CertificateParams, KeyPair};

    use super::*;

    fn provider() -> CryptoProvider {
        rustls::crypto::ring::default_provider()
    }

    fn self_signed(names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cert = CertificateParams::new(names)
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn a_key_that_is_not_the_leafs_is_refused() {
        let (cert, _) = self_signed(&["a.example.com"]);
        let (_, other_key) = self_signed(&["a.example.com"]);
        assert!(matches!(
            certified_key(&provider(), &cert, &other_key),
            Err(UnusableCertificate::Mismatch)
        ));
        assert!(matches!(
            certified_key(&provider(), "", &other_key),
            Err(UnusableCertificate::Chain(_))
        ));
        assert!(matches!(
            certified_key(&provider(), &cert, &cert),
            Err(UnusableCertificate::Key(_))
        ));
    }

    async fn add_cert(
        store: &Store,
        pem: &(String, String),
        managed_by: &str,
        names: &[&str],
    ) -> String {
        store
            .create::<TlsCertificate>(NewTlsCertificate {
                certificate_pem: pem.0.clone(),
                private_key_pem: store.seal(&pem.1).unwrap(),
                parsed: serde_json::json!({"subject_alternative_names": {"dns_names": names}}),
                managed_by: managed_by.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .id
            .to_string()
    }

    #[tokio::test]
    async fn attached_uploads_win_and_unattached_ones_are_not_served() {
        let (_dir, stores) = ferry_store::testing::both().await;
        for store in stores {
            let uploaded = self_signed(&["app.example.com"]);
            let managed = self_signed(&["app.example.com"]);
            let loose = self_signed(&["loose.example.com"]);
            let up_id = add_cert(&store, &uploaded, "", &["app.example.com"]).await;
            add_cert(&store, &managed, "rd_x", &["app.example.com"]).await;
            add_cert(&store, &loose, "", &["loose.example.com"]).await;
            store
                .create::<ReservedDomain>(NewReservedDomain {
                    domain: "app.example.com".into(),
                    certificate_id: up_id,
                    ..Default::default()
                })
                .await
                .unwrap();
            let table = load_table(&store, &provider()).await.unwrap();
            let served = table.choose("app.example.com").unwrap();
            let expected = certified_key(&provider(), &uploaded.0, &uploaded.1).unwrap();
            assert_eq!(served.cert, expected.cert);
            assert!(table.choose("loose.example.com").is_none());
        }
    }
}
