//! Managed certificates from an ACME CA (Let's Encrypt, or any directory given by
//! `--acme-directory`), one attempt at a time for the [`Runner`](crate::Runner).
//!
//! An attempt: the pre-flight ([`crate::preflight`]) checks the customer's records first,
//! so no validation is spent on a record that is not there yet; then the job's order is
//! resumed (its URL is in the row) or a new one placed and its URL written before anything
//! else, each authorization's challenge published in the row (and DNS-01 values in the
//! store's DNS challenges) and served before the CA is told it is ready, and the order
//! finalized with a key made here. What was published is withdrawn whatever the outcome.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferry_store::{AgentIngress, CertJob, ReservedDomain, Store};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, BodyWrapper, ChallengeType, Identifier,
    NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use time::OffsetDateTime;

use crate::challenge::{self, Kind, Owner, Published, SingleNames};
use crate::preflight::{self, Preflight};
use crate::runner::{parse, rfc3339, Issued, Issuer};
use crate::schedule::{self, Attempt};

/// Makes the edge serve what the store now holds (challenge answers, DNS-01 records), and
/// returns once it does: the CA may look the moment it is told a challenge is ready.
pub type Publish = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// How an installation talks to its ACME CA.
#[derive(Clone, Debug, Default)]
pub struct AcmeConfig {
    /// The directory URL (`--acme-directory`).
    pub directory: String,
    /// PEM roots to trust for the directory's own HTTPS (`--acme-root`), instead of the
    /// system's.
    pub roots: Option<PathBuf>,
    /// The account's contact (`--acme-email`).
    pub email: Option<String>,
    /// How single names are validated (`--acme-challenge`).
    pub single_names: SingleNames,
    /// The name servers an agent ingress must be delegated to (the pre-flight's NS check).
    pub ns_targets: Vec<String>,
    /// The resolver the pre-flight asks (`--dns-check-resolver`).
    pub dns_check_resolver: Option<SocketAddr>,
}

/// The ACME issuer.
pub struct AcmeIssuer {
    store: Store,
    config: AcmeConfig,
    preflight: Preflight,
    account: tokio::sync::Mutex<Option<Account>>,
    publish: Publish,
}

/// How long one attempt waits for the CA to validate, then to issue.
const VALIDATION_WAIT: Duration = Duration::from_secs(90);

impl AcmeIssuer {
    /// An issuer for `config`; `publish` makes the edge serve what a job published.
    pub fn new(store: Store, config: AcmeConfig, publish: Publish) -> Self {
        let preflight = Preflight::new(config.dns_check_resolver);
        Self {
            store,
            config,
            preflight,
            account: tokio::sync::Mutex::new(None),
            publish,
        }
    }

    /// The installation's account with the directory: the stored one, else a new one,
    /// stored (sealed) for every later start and every node.
    async fn account(&self) -> Result<Account, Attempt> {
        let mut cached = self.account.lock().await;
        if let Some(a) = cached.as_ref() {
            return Ok(a.clone());
        }
        let key = format!("acme_account:{}", self.config.directory);
        let stored = self
            .store
            .secret_setting(&key)
            .await
            .map_err(store_failed)?;
        let account = match stored {
            Some(json) => {
                let credentials: AccountCredentials = serde_json::from_str(&json).map_err(|e| {
                    internal(format!("the stored ACME account does not parse: {e}"))
                })?;
                self.builder()?
                    .from_credentials(credentials)
                    .await
                    .map_err(|e| ca("cannot reach the ACME directory", e))?
            }
            None => {
                let contact: Vec<String> = self
                    .config
                    .email
                    .iter()
                    .map(|e| format!("mailto:{e}"))
                    .collect();
                let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
                let (account, credentials) = self
                    .builder()?
                    .create(
                        &NewAccount {
                            contact: &contact,
                            terms_of_service_agreed: true,
                            only_return_existing: false,
                        },
                        self.config.directory.clone(),
                        None,
                    )
                    .await
                    .map_err(|e| ca("cannot create the ACME account", e))?;
                let json = serde_json::to_string(&credentials)
                    .map_err(|e| internal(format!("cannot keep the ACME account: {e}")))?;
                let kept = self
                    .store
                    .secret_setting_or_insert(&key, &json)
                    .await
                    .map_err(store_failed)?;
                if kept == json {
                    tracing::info!(directory = %self.config.directory, account = account.id(), "ACME account created");
                    account
                } else {
                    // Another node stored its account first: use that one.
                    let credentials: AccountCredentials =
                        serde_json::from_str(&kept).map_err(|e| {
                            internal(format!("the stored ACME account does not parse: {e}"))
                        })?;
                    self.builder()?
                        .from_credentials(credentials)
                        .await
                        .map_err(|e| ca("cannot reach the ACME directory", e))?
                }
            }
        };
        *cached = Some(account.clone());
        Ok(account)
    }

    fn builder(&self) -> Result<instant_acme::AccountBuilder, Attempt> {
        let Some(path) = &self.config.roots else {
            return Account::builder().map_err(|e| ca("no TLS roots for the ACME directory", e));
        };
        let pem = std::fs::read(path)
            .map_err(|e| internal(format!("--acme-root {}: {e}", path.display())))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert =
                cert.map_err(|e| internal(format!("--acme-root {}: {e}", path.display())))?;
            roots
                .add(cert)
                .map_err(|e| internal(format!("--acme-root {}: {e}", path.display())))?;
        }
        if roots.is_empty() {
            return Err(internal(format!(
                "--acme-root {}: no CERTIFICATE block",
                path.display()
            )));
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| internal(format!("TLS for the ACME directory: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build::<_, BodyWrapper<Bytes>>(https);
        Ok(Account::builder_with_http(Box::new(client)))
    }

    /// Who the job's certificate is for, from the owner's row.
    async fn owner(
        &self,
        job: &CertJob,
    ) -> Result<(Owner, Vec<ferry_dnscheck::Expectation>), Attempt> {
        if job.owner_id == ferry_store::INSTALLATION {
            return Ok((Owner::Installation, Vec::new()));
        }
        if job.owner_id.starts_with("agin_") {
            let a = self
                .store
                .get::<AgentIngress>(&job.owner_id)
                .await
                .map_err(store_failed)?
                .ok_or_else(|| internal("the agent ingress is gone".into()))?;
            let expected = preflight::agent_ingress(&a.domain, &self.config.ns_targets);
            return Ok((Owner::AgentIngress, expected));
        }
        let d = self
            .store
            .get::<ReservedDomain>(&job.owner_id)
            .await
            .map_err(store_failed)?
            .ok_or_else(|| internal("the reserved domain is gone".into()))?;
        let expected = preflight::reserved_domain(&d.domain, &d.cname_target, &d.acme_target);
        Ok((
            Owner::ReservedDomain {
                acme_target: d.acme_target,
            },
            expected,
        ))
    }

    async fn attempt(&self, job: &mut CertJob, owner: &Owner) -> Result<Issued, Attempt> {
        let account = self.account().await?;
        let mut order = match self.resume(&account, &job.order_url).await {
            Some(order) => order,
            None => {
                let registered = registered_domain(job.names.first().map_or("", String::as_str));
                self.pace(&registered).await?;
                let identifiers: Vec<Identifier> = job
                    .names
                    .iter()
                    .map(|n| Identifier::Dns(n.clone()))
                    .collect();
                let order = account
                    .new_order(&NewOrder::new(&identifiers))
                    .await
                    .map_err(|e| ca("the CA refused the order", e))?;
                self.store
                    .record_cert_order(&registered, &rfc3339(OffsetDateTime::now_utc()))
                    .await
                    .map_err(store_failed)?;
                job.order_url = order.url().to_string();
                // Written before anything else, so that a restart resumes this order rather
                // than spend a new one.
                self.store.save_cert_job(job).await.map_err(store_failed)?;
                order
            }
        };

        if order.state().status == OrderStatus::Pending {
            let mut published = Vec::new();
            let mut authorizations = order.authorizations();
            while let Some(authz) = authorizations.next().await {
                let mut authz = authz.map_err(|e| ca("cannot read an authorization", e))?;
                let name = match authz.identifier().identifier {
                    Identifier::Dns(name) => name.clone(),
                    other => {
                        return Err(internal(format!(
                            "the CA asks about {other:?}, not a DNS name"
                        )))
                    }
                };
                match authz.status {
                    AuthorizationStatus::Valid => continue,
                    AuthorizationStatus::Pending => {}
                    other => {
                        return Err(internal(format!(
                            "the CA's authorization for {name} is {other:?}"
                        )))
                    }
                }
                let kind = challenge::choose(owner, authz.wildcard, self.config.single_names);
                let wanted = match kind {
                    Kind::Http01 => ChallengeType::Http01,
                    Kind::TlsAlpn01 => ChallengeType::TlsAlpn01,
                    Kind::Dns01 => ChallengeType::Dns01,
                };
                let Some(mut ch) = authz.challenge(wanted.clone()) else {
                    return Err(internal(format!(
                        "the CA offers no {wanted:?} challenge for {name}"
                    )));
                };
                let ka = ch.key_authorization();
                published.push(Published {
                    kind,
                    name: match kind {
                        Kind::Dns01 => challenge::dns_record_name(owner, &name),
                        Kind::Http01 | Kind::TlsAlpn01 => name.clone(),
                    },
                    token: ch.token.clone(),
                    value: match kind {
                        Kind::Dns01 => ka.dns_value(),
                        Kind::Http01 | Kind::TlsAlpn01 => ka.as_str().to_string(),
                    },
                });
                // Served before the CA is told to look.
                self.publish(job, &published).await?;
                ch.set_ready()
                    .await
                    .map_err(|e| ca("the CA refused the challenge", e))?;
            }
            let status = order
                .poll_ready(&RetryPolicy::new().timeout(VALIDATION_WAIT))
                .await
                .map_err(|e| ca("the CA did not validate in time", e))?;
            if status != OrderStatus::Ready {
                let why = validation_errors(&mut order).await;
                // An invalid order is spent: the next attempt places a new one.
                job.order_url.clear();
                return Err(internal(format!("the CA could not validate: {why}")));
            }
        }

        match order.state().status {
            OrderStatus::Ready => {}
            OrderStatus::Processing | OrderStatus::Valid => {
                // Finalized by an attempt whose key died with it: start over.
                job.order_url.clear();
                return Err(internal(
                    "the order was finalized by an earlier attempt that did not finish; placing a new one".into(),
                ));
            }
            other => {
                job.order_url.clear();
                return Err(internal(format!("the order is {other:?}")));
            }
        }
        let (csr, key_pem) = csr(&job.names, &job.key_type).await?;
        order
            .finalize_csr(&csr)
            .await
            .map_err(|e| ca("the CA refused to finalize the order", e))?;
        let chain_pem = order
            .poll_certificate(&RetryPolicy::new().timeout(VALIDATION_WAIT))
            .await
            .map_err(|e| ca("the CA did not issue the certificate", e))?;
        let renewal_window = renewal_window(&account, &chain_pem).await;
        Ok(Issued {
            chain_pem,
            key_pem,
            renewal_window,
        })
    }

    /// Refuses a new order while the CA's limit for `registered` is reached, with the time
    /// the next one may go.
    async fn pace(&self, registered: &str) -> Result<(), Attempt> {
        let now = OffsetDateTime::now_utc();
        let since = rfc3339(now - schedule::ORDER_WINDOW);
        let placed: Vec<OffsetDateTime> = self
            .store
            .cert_orders_since(registered, &since)
            .await
            .map_err(store_failed)?
            .iter()
            .filter_map(|t| parse(t))
            .collect();
        match schedule::paced_until(&placed, now) {
            None => Ok(()),
            Some(until) => Err(Attempt::CaFailed {
                msg: format!(
                    "{} certificates were ordered for {registered} in the last 7 days, Let's Encrypt's limit; the next order waits until {}",
                    schedule::ORDERS_PER_WEEK,
                    rfc3339(until)
                ),
                retry_after: Some(Duration::try_from(until - now).unwrap_or_default()),
            }),
        }
    }

    /// The job's order, if it can still lead to a certificate.
    async fn resume(&self, account: &Account, url: &str) -> Option<instant_acme::Order> {
        if url.is_empty() {
            return None;
        }
        match account.order(url.to_string()).await {
            Ok(mut order) => match order.state().status {
                OrderStatus::Pending | OrderStatus::Ready => Some(order),
                _ => None,
            },
            Err(e) => {
                tracing::info!(order = url, error = %e, "cannot resume the ACME order; placing a new one");
                None
            }
        }
    }

    /// Writes the challenges into the job's row and the DNS-01 values into the store's DNS
    /// challenges, then has the edge serve them.
    async fn publish(&self, job: &mut CertJob, published: &[Published]) -> Result<(), Attempt> {
        for p in published.iter().filter(|p| p.kind == Kind::Dns01) {
            self.store
                .add_dns_challenge(&p.name, &p.value)
                .await
                .map_err(store_failed)?;
        }
        job.challenges = serde_json::to_value(published)
            .map_err(|e| internal(format!("cannot record the challenges: {e}")))?;
        self.store.save_cert_job(job).await.map_err(store_failed)?;
        (self.publish)().await;
        Ok(())
    }

    /// Takes back what the job published.
    async fn withdraw(&self, job: &mut CertJob) {
        let published: Vec<Published> =
            serde_json::from_value(job.challenges.clone()).unwrap_or_default();
        if published.is_empty() {
            return;
        }
        for p in published.iter().filter(|p| p.kind == Kind::Dns01) {
            if let Err(e) = self.store.remove_dns_challenge(&p.name, &p.value).await {
                tracing::warn!(name = %p.name, error = %e, "cannot withdraw a DNS-01 record");
            }
        }
        job.challenges = serde_json::json!([]);
        if let Err(e) = self.store.save_cert_job(job).await {
            tracing::warn!(job = %job.id, error = %e, "cannot withdraw the challenges");
        }
        (self.publish)().await;
    }
}

impl Issuer for AcmeIssuer {
    async fn issue(&self, job: &mut CertJob) -> Result<Issued, Attempt> {
        let (owner, expected) = self.owner(job).await?;
        self.preflight.check(expected).await?;
        let outcome = self.attempt(job, &owner).await;
        self.withdraw(job).await;
        outcome
    }
}

/// The renewal window the CA suggests for the leaf of `chain_pem` (ACME Renewal Information,
/// RFC 9773), or `None` where it offers none or the leaf names no authority key.
async fn renewal_window(
    account: &Account,
    chain_pem: &str,
) -> Option<(OffsetDateTime, OffsetDateTime)> {
    let leaf = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .next()?
        .ok()?;
    let id = ari_identifier(&leaf)?;
    match account.renewal_info(&id).await {
        Ok((info, _)) => Some((info.suggested_window.start, info.suggested_window.end)),
        Err(instant_acme::Error::Unsupported(_)) => None,
        Err(e) => {
            tracing::info!(error = %e, "the CA's renewal information is unavailable; renewing at two thirds of the lifetime");
            None
        }
    }
}

/// A certificate's ARI identifier: its authority key identifier and serial number.
fn ari_identifier(
    leaf: &CertificateDer<'_>,
) -> Option<instant_acme::CertificateIdentifier<'static>> {
    use x509_parser::extensions::ParsedExtension;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).ok()?;
    let aki = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|k| k.0)
            }
            _ => None,
        })?;
    let serial = cert.tbs_certificate.raw_serial();
    Some(
        instant_acme::CertificateIdentifier::new(
            rustls::pki_types::Der::from_slice(aki),
            rustls::pki_types::Der::from_slice(serial),
        )
        .into_owned(),
    )
}

/// What the CA said about each failed challenge.
async fn validation_errors(order: &mut instant_acme::Order) -> String {
    let mut why = Vec::new();
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authz)) = authorizations.next().await {
        let name = authz.identifier().to_string();
        if let Ok(state) = authz.refresh().await {
            for c in &state.challenges {
                if let Some(e) = &c.error {
                    why.push(format!(
                        "{name}: {}",
                        e.detail.as_deref().unwrap_or("invalid")
                    ));
                }
            }
        }
    }
    if why.is_empty() {
        "the order became invalid".into()
    } else {
        why.join("; ")
    }
}

/// A CSR for `names` and its key (PEM): ECDSA P-256, or RSA 2048 when the policy's
/// `private_key_type` is `rsa` (ring signs with RSA keys but cannot make them).
async fn csr(names: &[String], key_type: &str) -> Result<(Vec<u8>, String), Attempt> {
    let key = if key_type == "rsa" {
        tokio::task::spawn_blocking(rsa_key)
            .await
            .map_err(|e| internal(format!("cannot make an RSA key: {e}")))??
    } else {
        rcgen::KeyPair::generate()
            .map_err(|e| internal(format!("cannot make a private key: {e}")))?
    };
    let mut params = rcgen::CertificateParams::new(names.to_vec())
        .map_err(|e| internal(format!("cannot make the certificate request: {e}")))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params
        .serialize_request(&key)
        .map_err(|e| internal(format!("cannot make the certificate request: {e}")))?;
    Ok((csr.der().to_vec(), key.serialize_pem()))
}

fn rsa_key() -> Result<rcgen::KeyPair, Attempt> {
    use rsa::pkcs8::EncodePrivateKey;
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
        .map_err(|e| internal(format!("cannot make an RSA key: {e}")))?;
    let der = private
        .to_pkcs8_der()
        .map_err(|e| internal(format!("cannot encode the RSA key: {e}")))?;
    rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &rustls::pki_types::PrivatePkcs8KeyDer::from(der.as_bytes()),
        &rcgen::PKCS_RSA_SHA256,
    )
    .map_err(|e| internal(format!("cannot use the RSA key: {e}")))
}

/// The registered domain of `name` (`example.co.uk` for `*.c1.example.co.uk`), which the
/// CA's limits count by; the name itself where the public suffix list knows no suffix.
fn registered_domain(name: &str) -> String {
    let name = name.trim_start_matches("*.").to_ascii_lowercase();
    psl::domain_str(&name).map_or_else(|| name.clone(), str::to_string)
}

fn internal(msg: String) -> Attempt {
    Attempt::CaFailed {
        msg,
        retry_after: None,
    }
}

fn store_failed(e: ferry_store::StoreError) -> Attempt {
    internal(format!("the store failed: {e}"))
}

/// A CA failure, with the CA's own words when it gave a problem document.
fn ca(context: &str, e: instant_acme::Error) -> Attempt {
    let msg = match &e {
        instant_acme::Error::Api(p) => format!(
            "{context}: {} ({})",
            p.detail.as_deref().unwrap_or("no detail"),
            p.r#type.as_deref().unwrap_or("no type")
        ),
        _ => format!("{context}: {e}"),
    };
    internal(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ari_identifier_is_the_authority_key_id_and_serial() {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.key_identifier_method = rcgen::KeyIdMethod::PreSpecified(vec![0xAB; 20]);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let mut leaf = rcgen::CertificateParams::new(vec!["a.example.com".to_string()]).unwrap();
        leaf.use_authority_key_identifier_extension = true;
        leaf.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x00, 0x87, 0x65]));
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
        let id = ari_identifier(leaf.der()).unwrap();
        assert_eq!(id.authority_key_identifier, "q6urq6urq6urq6urq6urq6urq6s");
        assert_eq!(id.serial, "AIdl");
        // A self-signed certificate without the extension has none.
        let plain = rcgen::CertificateParams::new(vec!["b.example.com".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        assert!(ari_identifier(plain.der()).is_none());
    }

    #[test]
    fn limits_count_by_registered_domain() {
        assert_eq!(registered_domain("*.c1.Example.com"), "example.com");
        assert_eq!(registered_domain("api.c2.example.co.uk"), "example.co.uk");
        assert_eq!(registered_domain("connect.example.test"), "example.test");
    }

    #[tokio::test]
    async fn the_request_carries_the_names_and_the_policy_key_type() {
        for (key_type, oid) in [
            ("ecdsa", "1.2.840.10045.2.1"),
            ("rsa", "1.2.840.113549.1.1.1"),
        ] {
            let names = vec!["*.c1.example.com".to_string()];
            let (der, key_pem) = csr(&names, key_type).await.unwrap();
            let (_, req) = <x509_parser::certification_request::X509CertificationRequest as x509_parser::prelude::FromDer<_>>::from_der(&der).unwrap();
            assert_eq!(
                req.certification_request_info
                    .subject_pki
                    .algorithm
                    .algorithm
                    .to_id_string(),
                oid,
                "{key_type}"
            );
            assert!(
                key_pem.starts_with("-----BEGIN PRIVATE KEY-----"),
                "{key_type}"
            );
        }
    }
}
