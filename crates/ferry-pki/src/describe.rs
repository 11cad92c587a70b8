//! A certificate's fields as ngrok's API shows them for a certificate authority or a TLS
//! certificate (subject, names, validity, key type). Computed once, when a certificate is
//! uploaded or issued, and stored beside it, so the API answers without parsing again.

use serde_json::{json, Value};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::pem::Pem;
use x509_parser::public_key::PublicKey;

/// Why a certificate cannot be described.
#[derive(Debug, thiserror::Error)]
pub enum DescribeError {
    /// The PEM text is not readable.
    #[error("not readable PEM: {0}")]
    Pem(String),
    /// The text holds no `CERTIFICATE` block.
    #[error("no -----BEGIN CERTIFICATE----- block found")]
    NoCertificate,
    /// The DER does not parse as X.509.
    #[error("the certificate does not parse: {0}")]
    Parse(String),
}

/// The fields of one certificate (DER), as stored for the API.
pub fn describe_der(der: &[u8]) -> Result<Value, DescribeError> {
    let (_, c) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| DescribeError::Parse(e.to_string()))?;
    Ok(describe(&c))
}

/// The fields of a chain's leaf (the first certificate), with its validity period.
pub fn describe_chain(pem: &str) -> Result<(Value, OffsetDateTime, OffsetDateTime), DescribeError> {
    let mut leaf = None;
    for block in Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| DescribeError::Pem(e.to_string()))?;
        if block.label == "CERTIFICATE" {
            leaf = Some(block.contents);
            break;
        }
    }
    let der = leaf.ok_or(DescribeError::NoCertificate)?;
    let (_, c) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| DescribeError::Parse(e.to_string()))?;
    let validity = c.validity();
    Ok((
        describe(&c),
        validity.not_before.to_datetime(),
        validity.not_after.to_datetime(),
    ))
}

fn time(t: x509_parser::time::ASN1Time) -> String {
    let t = t.to_datetime();
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn first(
    name: &x509_parser::x509::X509Name<'_>,
    oid: &x509_parser::der_parser::oid::Oid<'_>,
) -> String {
    name.iter_by_oid(oid)
        .next()
        .and_then(|a| a.as_str().ok())
        .unwrap_or("")
        .to_string()
}

fn describe(c: &X509Certificate<'_>) -> Value {
    use x509_parser::oid_registry as oids;
    let mut key_usages = Vec::new();
    let mut extended = Vec::new();
    let mut dns_names = Vec::new();
    let mut ips = Vec::new();
    for ext in c.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::KeyUsage(ku) => {
                let flags = [
                    (ku.digital_signature(), "digital_signature"),
                    (ku.non_repudiation(), "content_commitment"),
                    (ku.key_encipherment(), "key_encipherment"),
                    (ku.data_encipherment(), "data_encipherment"),
                    (ku.key_agreement(), "key_agreement"),
                    (ku.key_cert_sign(), "cert_sign"),
                    (ku.crl_sign(), "crl_sign"),
                    (ku.encipher_only(), "encipher_only"),
                    (ku.decipher_only(), "decipher_only"),
                ];
                key_usages.extend(flags.iter().filter(|(on, _)| *on).map(|(_, n)| *n));
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                let flags = [
                    (eku.any, "any"),
                    (eku.server_auth, "server_auth"),
                    (eku.client_auth, "client_auth"),
                    (eku.code_signing, "code_signing"),
                    (eku.email_protection, "email_protection"),
                    (eku.time_stamping, "time_stamping"),
                    (eku.ocsp_signing, "ocsp_signing"),
                ];
                extended.extend(flags.iter().filter(|(on, _)| *on).map(|(_, n)| *n));
            }
            ParsedExtension::SubjectAlternativeName(san) => {
                for n in &san.general_names {
                    match n {
                        x509_parser::extensions::GeneralName::DNSName(d) => {
                            dns_names.push(d.to_string())
                        }
                        x509_parser::extensions::GeneralName::IPAddress(b) => {
                            let ip = match b.len() {
                                4 => <[u8; 4]>::try_from(*b)
                                    .map(|a| std::net::IpAddr::from(a).to_string())
                                    .ok(),
                                16 => <[u8; 16]>::try_from(*b)
                                    .map(|a| std::net::IpAddr::from(a).to_string())
                                    .ok(),
                                _ => None,
                            };
                            ips.extend(ip);
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let key_type = match c.public_key().parsed() {
        Ok(PublicKey::RSA(_)) => "rsa",
        Ok(PublicKey::EC(_)) => "ecdsa",
        _ if c.public_key().algorithm.algorithm == oids::OID_SIG_ED25519 => "ed25519",
        _ => "unknown",
    };
    let subject = c.subject();
    json!({
        "subject_common_name": first(subject, &oids::OID_X509_COMMON_NAME),
        "subject_organization": first(subject, &oids::OID_X509_ORGANIZATION_NAME),
        "subject_organizational_unit": first(subject, &oids::OID_X509_ORGANIZATIONAL_UNIT),
        "subject_locality": first(subject, &oids::OID_X509_LOCALITY_NAME),
        "subject_province": first(subject, &oids::OID_X509_STATE_OR_PROVINCE_NAME),
        "subject_country": first(subject, &oids::OID_X509_COUNTRY_NAME),
        "issuer_common_name": first(c.issuer(), &oids::OID_X509_COMMON_NAME),
        "serial_number": c.raw_serial_as_string().replace(':', ""),
        "not_before": time(c.validity().not_before),
        "not_after": time(c.validity().not_after),
        "key_usages": key_usages,
        "extended_key_usages": extended,
        "subject_alternative_names": { "dns_names": dns_names, "ips": ips },
        "private_key_type": key_type,
    })
}
